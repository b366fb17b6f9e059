"""Thin account views: read the form, call actions.py, answer with a page or a redirect.

Invalid forms answer 400 with the errors on the page; a throttled login 429; a GET where only a
form submission makes sense 405. Views that can mail are wrapped in emails.mail_after_response
(in urls.py), so whether an address has an account never shows in how long a page takes.
"""

from __future__ import annotations

import functools
import math

from django.contrib import messages
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from . import actions, forms, throttle, tokens


def post_only(view):
    """Actions that change or end an account are buttons (POST with a CSRF token), never links."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            body = render_to_string("accounts/method_not_allowed.html", request=request)
            return HttpResponseNotAllowed(["POST"], body)
        return view(request, *args, **kwargs)

    return wrapper


def throttled(request: HttpRequest, wait_seconds: int) -> HttpResponse:
    """The same page, to the minute, whether or not the account exists."""
    minutes = max(1, math.ceil(wait_seconds / 60))
    response = render(request, "accounts/throttled.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


def _data(request):
    """The submitted data for a POST (even an empty one, so it shows "required" errors), else None."""
    return request.POST if request.method == "POST" else None


class InvalidIs400:
    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


# --- log in / out -----------------------------------------------------------------------------

class LoginView(InvalidIs400, auth_views.LoginView):
    """Django's login view, throttled per account (email as typed) and per client address."""

    form_class = forms.LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        guard = throttle.LoginThrottle(request, request.POST.get("username", ""))
        wait = guard.blocked_for()
        if wait:
            return throttled(request, wait)
        form = self.get_form()
        if form.is_valid():
            guard.succeeded()
            return self.form_valid(form)
        guard.failed()
        return self.form_invalid(form)


@post_only
def logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect("home")


# --- registration and verification ------------------------------------------------------------

@sensitive_post_parameters("password1", "password2")
@never_cache
def register(request: HttpRequest) -> HttpResponse:
    """Same redirect whether the address is new or already has an account (its owner is mailed)."""
    if request.user.is_authenticated:
        return redirect("account")
    form = forms.RegisterForm(_data(request))
    if request.method == "POST":
        if form.is_valid():
            actions.register(form.cleaned_data["email"], form.cleaned_data["password1"])
            return redirect("register_done")
        return render(request, "accounts/register.html", {"form": form}, status=400)
    return render(request, "accounts/register.html", {"form": form})


def register_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/check_email.html", {"reason": "register"})


def _link_failed(request, exc: tokens.LinkError, **context) -> HttpResponse:
    return render(request, "accounts/link_failed.html", {"message": str(exc), **context}, status=400)


@never_cache
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = actions.verify_email(token)
    except tokens.LinkError as exc:
        return _link_failed(request, exc, resend=True)
    if request.user.is_authenticated and request.user.pk == user.pk:
        messages.success(request, "Your email address is verified.")
        return redirect("account")
    return render(request, "accounts/verified.html", {"email": user.email})


@never_cache
def resend_verification(request: HttpRequest) -> HttpResponse:
    """Logged in: a button on the account page. Logged out: a form that answers the same for any address."""
    if request.user.is_authenticated:
        if request.method == "POST":
            if actions.send_verification(request.user):
                messages.success(request, f"We sent a new verification link to {request.user.email}.")
            elif request.user.email_verified:
                messages.info(request, "Your email address is already verified.")
            else:
                messages.error(request, "We sent several messages to this address in the last hour; "
                                        "please look for them or try again later.")
        return redirect("account")
    form = forms.ResendVerificationForm(_data(request))
    if request.method == "POST":
        if form.is_valid():
            actions.resend_verification(form.cleaned_data["email"])
            return redirect("register_done")
        return render(request, "accounts/resend.html", {"form": form}, status=400)
    return render(request, "accounts/resend.html", {"form": form})


# --- the account page and its changes ---------------------------------------------------------

def _account_page(request, status=200, **forms_) -> HttpResponse:
    context = {"delete_form": forms.DeleteAccountForm(request.user), **forms_}
    return render(request, "accounts/account.html", context, status=status)


@login_required
@never_cache
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request)


@login_required
@sensitive_post_parameters("password")
@never_cache
def change_email(request: HttpRequest) -> HttpResponse:
    """The old address stays until the new one is proved by following the link mailed to it."""
    form = forms.ChangeEmailForm(request.user, _data(request))
    if request.method == "POST":
        if form.is_valid():
            new = form.cleaned_data["new_email"]
            actions.request_email_change(request.user, new)
            messages.info(request, f"We sent a confirmation link to {new}. Your account keeps the address "
                                   f"{request.user.email} until you follow it.")
            return redirect("account")
        return render(request, "accounts/change_email.html", {"form": form}, status=400)
    return render(request, "accounts/change_email.html", {"form": form})


@never_cache
def confirm_email_change(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = actions.confirm_email_change(token)
    except tokens.LinkError as exc:
        return _link_failed(request, exc)
    if request.user.is_authenticated and request.user.pk == user.pk:
        messages.success(request, f"Your account's address is now {user.email}.")
        return redirect("account")
    return render(request, "accounts/email_changed.html", {"email": user.email})


@login_required
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@never_cache
def change_password(request: HttpRequest) -> HttpResponse:
    """Keeps this session; every other session of the account ends."""
    form = forms.ChangePasswordForm(request.user, _data(request))
    if request.method == "POST":
        if form.is_valid():
            actions.change_password(request.user, form.cleaned_data["new_password1"])
            update_session_auth_hash(request, request.user)
            messages.success(request, "Your password was changed. Other browsers logged in to this account "
                                      "have been logged out.")
            return redirect("account")
        return render(request, "accounts/change_password.html", {"form": form}, status=400)
    return render(request, "accounts/change_password.html", {"form": form})


@post_only
@login_required
@sensitive_post_parameters("password")
def delete_account(request: HttpRequest) -> HttpResponse:
    form = forms.DeleteAccountForm(request.user, request.POST)
    if not form.is_valid():
        return _account_page(request, status=400, delete_form=form)
    actions.delete_account(request.user)
    auth_logout(request)
    return redirect("account_deleted")


def account_deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/deleted.html")


# --- password reset (Django's views, our forms and templates) --------------------------------

class PasswordResetView(InvalidIs400, auth_views.PasswordResetView):
    """Same redirect whether or not the address has an account; only an owner gets mail."""

    form_class = forms.ResetPasswordForm
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/check_email.html"
    extra_context = {"reason": "reset"}


class PasswordResetConfirmView(InvalidIs400, auth_views.PasswordResetConfirmView):
    form_class = forms.ResetSetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def render_to_response(self, context, **response_kwargs):
        if not self.validlink:
            response_kwargs["status"] = 400
        return super().render_to_response(context, **response_kwargs)


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
