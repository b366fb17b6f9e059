"""Forms check what was typed and say what is wrong; actions.py does the rest.

No form error ever depends on whether some other person's address has an account.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm
from django.core.validators import MaxLengthValidator

from . import actions, emails
from .models import User

MAX_PASSWORD = 1024  # argon2 takes any length; a form need not


def _email_field(label="Email address", autocomplete="email"):
    return forms.EmailField(label=label, max_length=254,
                            widget=forms.EmailInput(attrs={"autocomplete": autocomplete, "autofocus": True}))


def _cap(form, *names):
    """Django's password fields have no length limit; ours reject oversized input with a form error."""
    for name in names:
        form.fields[name].max_length = MAX_PASSWORD
        form.fields[name].validators.append(MaxLengthValidator(MAX_PASSWORD))


def _password_field(label, autocomplete):
    return forms.CharField(label=label, strip=False, max_length=MAX_PASSWORD,
                           widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}))


class RegisterForm(forms.Form):
    """Deliberately not a ModelForm: its unique check would say "this email is taken"."""

    email = _email_field()
    password1 = _password_field("Password", "new-password")
    password2 = _password_field("Password again", "new-password")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].help_text = password_validation.password_validators_help_text_html()

    def clean_email(self):
        return actions.normalize_email(self.cleaned_data["email"])

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1:
            try:
                password_validation.validate_password(p1, User(email=data.get("email") or ""))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class LoginForm(AuthenticationForm):
    """Email and password; the email is matched case-insensitively (addresses are stored lower case)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email address and password do not match an account.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Email address"
        self.fields["username"].widget.input_type = "email"
        self.fields["username"].widget.attrs["autocomplete"] = "email"
        _cap(self, "password")

    def clean_username(self):
        return actions.normalize_email(self.cleaned_data["username"])


class ResendVerificationForm(forms.Form):
    email = _email_field()


class ChangeEmailForm(forms.Form):
    new_email = _email_field("New email address", "email")
    password = _password_field("Current password", "current-password")

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_new_email(self):
        email = actions.normalize_email(self.cleaned_data["new_email"])
        if email == actions.normalize_email(self.user.email):
            raise forms.ValidationError("That is already this account's address.")
        return email

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your current password.")
        return password


class ChangePasswordForm(PasswordChangeForm):
    """Django's form (current password, new password twice, validators); saving is actions.change_password."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _cap(self, "old_password", "new_password1", "new_password2")


class DeleteAccountForm(forms.Form):
    password = _password_field("Current password", "current-password")

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your current password; the account was not deleted.")
        return password


class ResetPasswordForm(PasswordResetForm):
    """Django's reset form, mailing through emails.send (after the response; capped per recipient)."""

    def get_users(self, email):
        """Unlike Django's, includes accounts without a usable password: an account made by
        `medcode apikey create` has none, and a reset link is how its owner sets one."""
        return User.objects.filter(email__iexact=actions.normalize_email(email), is_active=True)

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        emails.send("password_reset", to_email, uid=context["uid"], token=context["token"])


class ResetSetPasswordForm(SetPasswordForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _cap(self, "new_password1", "new_password2")

    def save(self, commit=True):
        user = super().save(commit)
        actions.password_was_reset(user)
        return user
