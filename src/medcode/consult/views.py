"""Thin views: My consults for users; the review queue and the delivery log for staff."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from medcode.accounts.views import post_only

from . import actions
from .models import Consult, DeliveryAttempt, Draft, Inbound, Outbound

PAGE = 25


def staff_only(view):
    @functools.wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            return render(request, "consult/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return never_cache(wrapper)


def _messages_of(consults):
    inbound = Inbound.objects.select_related("reply", "draft").order_by("received_at", "pk")
    return consults.prefetch_related(Prefetch("inbound", queryset=inbound))


@never_cache
@login_required
def mine(request: HttpRequest) -> HttpResponse:
    user = request.user
    consults = _messages_of(Consult.objects.filter(user=user))
    page = Paginator(consults, PAGE).get_page(request.GET.get("page"))
    for c in page.object_list:
        c.mails = list(c.inbound.all())
    context = {"page": page, "address": actions.configured()[0],
               "secret_address": actions.secret_address_for(user) if user.email_verified else None,
               "quota": actions.quota_for(user), "used": actions.used_this_month(user)}
    return render(request, "consult/mine.html", context)


@never_cache
@login_required
def thread(request: HttpRequest, pk: int) -> HttpResponse:
    consult = get_object_or_404(_messages_of(Consult.objects.filter(user=request.user)), pk=pk)
    return render(request, "consult/thread.html", {"consult": consult})


@login_required
@post_only
def new_address(request: HttpRequest) -> HttpResponse:
    if not request.user.email_verified:
        messages.error(request, "Verify your email address first.")
    else:
        actions.new_secret_address(request.user)
        messages.success(request, "Your personal consult address was replaced; the old one no longer works.")
    return redirect("consult:mine")


@staff_only
def review_queue(request: HttpRequest) -> HttpResponse:
    pending = (Draft.objects.filter(decision=Draft.Decision.PENDING)
               .select_related("inbound", "inbound__user", "inbound__consult").order_by("created", "pk"))
    done = (Draft.objects.exclude(decision__in=[Draft.Decision.PENDING, Draft.Decision.AUTO])
            .select_related("inbound", "reviewer").order_by("-reviewed_at", "-pk")[:20])
    page = Paginator(pending, PAGE).get_page(request.GET.get("page"))
    return render(request, "consult/review_queue.html", {"page": page, "done": done})


@staff_only
def review(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(Draft.objects.select_related("inbound", "inbound__user", "inbound__consult",
                                                           "reviewer"), pk=pk)
    earlier = []
    if draft.inbound.consult_id:
        earlier = (Inbound.objects.filter(consult_id=draft.inbound.consult_id, received_at__lt=draft.inbound.received_at)
                   .select_related("reply").order_by("received_at"))
    error, status, text = None, 200, draft.final_markdown or draft.markdown
    if request.method == "POST":
        action = request.POST.get("action", "")
        text = request.POST.get("markdown", "")
        try:
            if action == "approve":
                actions.approve(draft.pk, request.user, text)
                messages.success(request, f"Approved: the answer to consult #{draft.inbound.consult_id} is on its way.")
                return redirect("consult:review_queue")
            if action == "discard":
                actions.discard(draft.pk, request.user, request.POST.get("note", ""))
                messages.success(request, "Discarded: no reply will be sent.")
                return redirect("consult:review_queue")
            error, status = "Choose approve or discard.", 400
        except actions.ConsultError as exc:
            error = str(exc)
            status = 409 if "already reviewed" in error else 400
            draft.refresh_from_db()
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(request, "consult/review.html", {"draft": draft, "text": text, "error": error, "earlier": earlier},
                  status=status)


@staff_only
def deliveries(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    replies = Outbound.objects.defer("text_body", "html_body").order_by("-created", "-pk")  # the log shows neither
    if status in Outbound.Status.values:
        replies = replies.filter(status=status)
    else:
        status = ""
    counts = dict(Outbound.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    failures = DeliveryAttempt.objects.filter(ok=False).select_related("outbound").order_by("-at", "-pk")[:20]
    page = Paginator(replies, PAGE).get_page(request.GET.get("page"))
    return render(request, "consult/deliveries.html", {
        "page": page, "status": status, "failures": failures,
        "statuses": [(value, label, counts.get(value, 0)) for value, label in Outbound.Status.choices],
        "stuck": Inbound.objects.filter(Q(status=Inbound.Status.RECEIVED) | Q(status=Inbound.Status.PROCESSING)).count()})


@staff_only
@post_only
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Outbound, pk=pk)
    try:
        actions.retry_now(pk, request.user)
        messages.success(request, f"Reply #{pk} will be sent again.")
    except actions.ConsultError as exc:
        messages.error(request, str(exc))
    return redirect("consult:deliveries")
