"""Thin job board views: read the request, call actions.py or search.py, answer with a page.

Someone else's job, application or résumé is a 404 (as if it did not exist). Invalid forms and
search parameters answer 400 with the errors on the page; rate limits 429 with Retry-After; an
upload larger than the request cap 413 before its body is read.
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from medcode.accounts.emails import mail_after_response
from medcode.accounts.views import post_only

from . import actions, files, forms, jsonld, storage, vocab
from . import search as job_search
from .models import Application, Employer, Job, JobStatus, SavedSearch
from .query import MULTI, QueryError, parse

POSTED_WITHIN = [(1, "the last day"), (3, "the last 3 days"), (7, "the last week"), (14, "the last 2 weeks"),
                 (30, "the last 30 days")]


def _fail(request, exc: actions.JobsError) -> HttpResponse:
    titles = {403: "Verify your email address", 404: "Not found", 409: "Not possible now",
              429: "Slow down", 400: "Cannot do that"}
    response = render(request, "web/error.html", {"title": titles.get(exc.status, "Cannot do that"),
                                                  "message": str(exc)}, status=exc.status)
    if isinstance(exc, actions.RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def handles_errors(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except actions.JobsError as exc:
            return _fail(request, exc)

    return wrapper


def limit_body(view):
    """Refuses a request body over MEDCODE_JOBS_MAX_REQUEST_BYTES (413) before anything reads it:
    CSRF is checked after this test, so a 20 MB upload is never parsed, not even to a temp file."""
    protected = csrf_protect(view)

    @functools.wraps(view)
    @csrf_exempt
    def wrapper(request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MEDCODE_JOBS_MAX_REQUEST_BYTES:
            return render(request, "web/error.html", {
                "title": "File too large",
                "message": f"The upload is {length / 1048576:.1f} MB; a résumé may be at most "
                           f"{files.MAX_RESUME // 1048576} MB."}, status=413)
        return protected(request, *args, **kwargs)

    return wrapper


def _data(request):
    return request.POST if request.method == "POST" else None


def _raw_params(request) -> dict[str, list[str]]:
    return {k: request.GET.getlist(k) for k in request.GET}


def _owned_job(request, pk: int) -> Job:
    job = Job.objects.select_related("employer__user").filter(pk=pk).first()
    if job is None or not request.user.is_authenticated or job.employer.user_id != request.user.pk:
        raise Http404("There is no such job.")
    return job


# --- seekers --------------------------------------------------------------------------------------

@never_cache
def job_list(request: HttpRequest) -> HttpResponse:
    raw = _raw_params(request)
    try:
        query = parse(raw)
    except QueryError as exc:
        return render(request, "careers/list.html", {**_list_context(request, parse({}), raw), "errors": exc.errors,
                                                     "page": None}, status=400)
    results = job_search.page(job_search.jobs(query), query.page)
    return render(request, "careers/list.html", {**_list_context(request, query, raw), "page": results})


def _list_context(request, query, raw) -> dict:
    def url_for(**override) -> str:
        params = urlencode(query.params(**override))
        return f"?{params}" if params else "?"

    chosen = {name: set(getattr(query, name)) for name in MULTI}
    pending = Job.objects.filter(status=JobStatus.PENDING).count() if request.user.is_staff else 0
    return {
        "pending_count": pending,
        "query": query, "raw": raw, "chosen": chosen,
        "vocab": vocab, "posted_choices": POSTED_WITHIN,
        "prev_url": url_for(page=query.page - 1), "next_url": url_for(page=query.page + 1),
        "feed_params": urlencode(query.params(page=1)),
        "alert_params": query.params(page=1, sort="newest"),
        "has_filters": not query.is_empty(),
    }


@never_cache
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("employer__user"), pk=pk)
    user = request.user
    is_owner = user.is_authenticated and job.employer.user_id == user.pk
    if not job.is_open() and not (is_owner or user.is_staff):
        return render(request, "web/error.html", {"title": "This job is closed",
                                                  "message": "This job is no longer taking applications."},
                      status=404 if job.posted_at is None else 410)
    application = None
    if user.is_authenticated:
        application = Application.objects.filter(job=job, applicant=user).first()
    context = {"job": job, "is_owner": is_owner, "application": application,
               "form": forms.ApplicationForm() if job.apply_mode == "onsite" else None}
    if job.is_open():
        context["json_ld"] = mark_safe(jsonld.script(jsonld.posting(_posting_data(request, job))))
    return render(request, "careers/detail.html", context)


def _posting_data(request, job: Job) -> dict:
    employer = job.employer
    return {
        "id": job.pk, "title": job.title, "description_html": job.description_html, "posted": job.posted_at,
        "expires": job.expires_at, "employment_type": job.employment_type, "company": employer.company_name,
        "company_url": employer.website,
        "logo_url": request.build_absolute_uri(_logo_url(employer)) if employer.logo_path else None,
        "workplace": job.workplace, "city": job.city, "state": job.state, "country": job.country,
        "salary_min": job.salary_min, "salary_max": job.salary_max, "currency": job.salary_currency,
        "period": job.salary_period, "url": request.build_absolute_uri(reverse("jobs:detail", args=[job.pk])),
        "experience_years": job.experience_years, "credentials": job.credential_list,
        "direct_apply": job.apply_mode == "onsite",
    }


def _logo_url(employer: Employer) -> str:
    return reverse("jobs:logo", args=[employer.pk, employer.logo_name])


def logo(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    employer = Employer.objects.filter(pk=pk).first()
    if employer is None or not employer.logo_path or employer.logo_name != name:
        raise Http404("No such logo.")
    try:
        handle = storage.open_file(employer.logo_path)
    except OSError:
        raise Http404("No such logo.") from None
    response = FileResponse(handle, content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=86400"  # the name changes with the logo
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@limit_body
@post_only
@login_required
@mail_after_response
@handles_errors
def apply(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("employer__user"), pk=pk)
    actions.require_verified(request.user)
    form = forms.ApplicationForm(request.POST, request.FILES)
    if not form.is_valid():
        application = Application.objects.filter(job=job, applicant=request.user).first()
        return render(request, "careers/detail.html", {"job": job, "form": form, "application": application,
                                                       "is_owner": False}, status=400)
    upload = form.cleaned_data["resume"]
    actions.apply(job, request.user, cover_note=form.cleaned_data["cover_note"], upload=upload, name=upload.name)
    messages.success(request, f"Your application for {job.title} was sent to {job.employer.company_name}.")
    return redirect("jobs:my_applications")


@login_required
@never_cache
def my_applications(request: HttpRequest) -> HttpResponse:
    applications = Application.objects.filter(applicant=request.user).select_related("job__employer")
    alerts = SavedSearch.objects.filter(user=request.user, active=True).order_by("-created")
    return render(request, "careers/my_applications.html", {"applications": applications, "alerts": alerts})


@login_required
@never_cache
@handles_errors
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    app = actions.visible_application(pk, request.user)
    return _application_page(request, app)


def _application_page(request, app, status=200, **forms_) -> HttpResponse:
    is_employer = app.job.employer.user_id == request.user.pk
    context = {"app": app, "job": app.job, "is_employer": is_employer,
               "messages_sent": app.messages.all()}
    if is_employer:
        context["status_form"] = forms_.get("status_form") or forms.StatusForm(initial={"status": app.status})
        context["message_form"] = forms_.get("message_form") or forms.MessageForm()
    return render(request, "careers/application.html", context, status=status)


@post_only
@login_required
@handles_errors
def application_status(request: HttpRequest, pk: int) -> HttpResponse:
    app = actions.visible_application(pk, request.user)
    form = forms.StatusForm(request.POST)
    if app.job.employer.user_id != request.user.pk:
        raise actions.NotFound("There is no such application.")
    if not form.is_valid():
        return _application_page(request, app, status=400, status_form=form)
    actions.set_status(app, request.user, form.cleaned_data["status"])
    messages.success(request, f"Status set to {app.get_status_display()}.")
    return redirect("jobs:application", pk=app.pk)


@post_only
@login_required
@mail_after_response
@handles_errors
def application_message(request: HttpRequest, pk: int) -> HttpResponse:
    app = actions.visible_application(pk, request.user)
    if app.job.employer.user_id != request.user.pk:
        raise actions.NotFound("There is no such application.")
    form = forms.MessageForm(request.POST)
    if not form.is_valid():
        return _application_page(request, app, status=400, message_form=form)
    actions.message_applicant(app, request.user, form.cleaned_data["body"])
    messages.success(request, f"Your message was emailed to {app.applicant.email}.")
    return redirect("jobs:application", pk=app.pk)


@login_required
@handles_errors
def resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Only to the applicant and the employer of the job; always a download, never rendered inline."""
    app = actions.visible_application(pk, request.user)
    try:
        handle = storage.open_file(app.resume_path)
    except OSError:
        raise Http404("The file is gone.") from None
    response = FileResponse(handle, as_attachment=True, filename=f"resume-{app.pk}.{app.resume_kind}",
                            content_type=files.CONTENT_TYPES[app.resume_kind])
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- employers ------------------------------------------------------------------------------------

@login_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    employer = actions.employer_of(request.user)
    if employer is None:
        return redirect("jobs:employer_profile")
    jobs = employer.jobs.annotate(applicant_count=Count("applications")).order_by("-created")
    return render(request, "careers/dashboard.html", {"employer": employer, "jobs": jobs})


@login_required
@never_cache
@handles_errors
def employer_profile(request: HttpRequest) -> HttpResponse:
    actions.require_verified(request.user)
    employer = actions.employer_of(request.user)
    initial = {"company_name": employer.company_name, "website": employer.website} if employer else None
    form = forms.EmployerForm(_data(request), request.FILES or None, initial=initial,
                              has_logo=bool(employer and employer.logo_path))
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            actions.save_employer(request.user, company_name=data["company_name"], website=data["website"],
                                  logo=data.get("logo"), remove_logo=data.get("remove_logo", False))
            messages.success(request, "Your employer profile is saved.")
            return redirect("jobs:dashboard")
        return render(request, "careers/employer_profile.html", {"form": form, "employer": employer}, status=400)
    return render(request, "careers/employer_profile.html", {"form": form, "employer": employer})


@login_required
@never_cache
@handles_errors
def job_new(request: HttpRequest) -> HttpResponse:
    actions.require_verified(request.user)
    if actions.employer_of(request.user) is None:
        messages.info(request, "Create your employer profile first.")
        return redirect("jobs:employer_profile")
    form = forms.JobForm(_data(request))
    if request.method == "POST":
        if form.is_valid():
            job = actions.create_job(request.user, form.cleaned_data)
            return redirect("jobs:preview", pk=job.pk)
        return render(request, "careers/job_form.html", {"form": form, "job": None}, status=400)
    return render(request, "careers/job_form.html", {"form": form, "job": None})


@login_required
@never_cache
@handles_errors
def job_edit(request: HttpRequest, pk: int) -> HttpResponse:
    job = _owned_job(request, pk)
    form = forms.JobForm(_data(request), initial=forms.JobForm.initial_from(job))
    if request.method == "POST":
        if form.is_valid():
            actions.update_job(job, request.user, form.cleaned_data)
            if job.status == JobStatus.DRAFT:
                return redirect("jobs:preview", pk=job.pk)
            messages.success(request, "Your changes are saved.")
            return redirect("jobs:dashboard")
        return render(request, "careers/job_form.html", {"form": form, "job": job}, status=400)
    return render(request, "careers/job_form.html", {"form": form, "job": job})


@login_required
@never_cache
def job_preview(request: HttpRequest, pk: int) -> HttpResponse:
    job = _owned_job(request, pk)
    return render(request, "careers/preview.html", {"job": job, "is_owner": True})


def _job_action(action, done: str):
    @post_only
    @login_required
    @mail_after_response
    @handles_errors
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        job = _owned_job(request, pk)
        action(job, request.user)
        messages.success(request, done(job))
        return redirect("jobs:dashboard")

    return view


def _published(job: Job) -> str:
    if job.status == JobStatus.PENDING:
        return f"“{job.title}” is waiting for review by our staff; it appears in searches once approved."
    return f"“{job.title}” is live until {job.expires_at:%d %B %Y}."


job_publish = _job_action(actions.publish, _published)
job_close = _job_action(actions.close, lambda job: f"“{job.title}” is closed; it no longer shows in searches.")
job_renew = _job_action(actions.renew, lambda job: f"“{job.title}” is listed again until {job.expires_at:%d %B %Y}.")


@login_required
@never_cache
def applicants(request: HttpRequest, pk: int) -> HttpResponse:
    job = _owned_job(request, pk)
    apps = job.applications.select_related("applicant").order_by("-created")
    return render(request, "careers/applicants.html", {"job": job, "applications": apps})


# --- staff moderation -----------------------------------------------------------------------------

def _staff(request) -> None:
    if not (request.user.is_authenticated and request.user.is_staff):
        raise Http404("There is no such page.")


@never_cache
def moderation(request: HttpRequest) -> HttpResponse:
    _staff(request)
    pending = Job.objects.filter(status=JobStatus.PENDING).select_related("employer__user").order_by("submitted_at")
    return render(request, "careers/moderation.html", {"pending": pending, "reject_form": forms.RejectForm()})


@post_only
@mail_after_response
@handles_errors
def moderation_approve(request: HttpRequest, pk: int) -> HttpResponse:
    _staff(request)
    job = get_object_or_404(Job, pk=pk)
    actions.approve(job, request.user)
    messages.success(request, f"Approved: {job.title}")
    return redirect("jobs:moderation")


@post_only
@mail_after_response
@handles_errors
def moderation_reject(request: HttpRequest, pk: int) -> HttpResponse:
    _staff(request)
    job = get_object_or_404(Job, pk=pk)
    form = forms.RejectForm(request.POST)
    if not form.is_valid():
        pending = Job.objects.filter(status=JobStatus.PENDING).select_related("employer__user")
        return render(request, "careers/moderation.html", {"pending": pending, "reject_form": form,
                                                           "reject_for": job.pk}, status=400)
    actions.reject(job, request.user, form.cleaned_data["reason"])
    messages.success(request, f"Not approved: {job.title}")
    return redirect("jobs:moderation")


# --- alerts ---------------------------------------------------------------------------------------

@post_only
@login_required
@handles_errors
def alert_save(request: HttpRequest) -> HttpResponse:
    try:
        query = parse({k: request.POST.getlist(k) for k in request.POST if k != "csrfmiddlewaretoken"})
    except QueryError as exc:
        raise actions.JobsError("That search has mistakes: " + str(exc)) from None
    search = actions.save_search(request.user, query)
    messages.success(request, f"Job alert saved: {search.label}. New matches come by email once a day.")
    return redirect("jobs:my_applications")


@post_only
@login_required
@handles_errors
def alert_delete(request: HttpRequest, pk: int) -> HttpResponse:
    search = SavedSearch.objects.filter(pk=pk).first()
    if search is None:
        raise actions.NotFound("There is no such alert.")
    actions.delete_search(search, request.user)
    messages.success(request, "The job alert is deleted.")
    return redirect("jobs:my_applications")


@csrf_exempt  # the signed token is the proof (and mail clients' one-click unsubscribe posts without a cookie)
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (link scanners that prefetch mail links change nothing); POST unsubscribes."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        search = actions.unsubscribe(token) if request.method == "POST" else actions.alert_for_token(token)
    except actions.JobsError as exc:
        return _fail(request, exc)
    return render(request, "careers/unsubscribe.html", {"search": search, "token": token,
                                                        "done": request.method == "POST"})
