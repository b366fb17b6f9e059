"""Applying: cover note and résumé, judged by content; one application per job and person; the employer's
applicant list, statuses and messages; who may read an application and download a résumé."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

import jobfiles
from jobkit import client_for, upload
from medcode.careers import actions, files
from medcode.careers.models import Application, ApplicationMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(employer_user, post_job, mailbox):
    job = post_job(employer_user)
    mailbox.clear()  # the "your job is live" notice
    return job


def apply(user, job, data: bytes = None, name: str = "resume.pdf", note: str = "I hold a CPC. Synthetic note.",
          content_type: str = "application/pdf"):
    data = jobfiles.pdf() if data is None else data
    return client_for(user).post(reverse("jobs:apply", args=[job.pk]),
                                 {"cover_note": note, "resume": upload(name, data, content_type)})


def stored_files(private_root) -> list:
    folder = private_root / "resumes"
    return sorted(folder.iterdir()) if folder.exists() else []


# --- the happy path -----------------------------------------------------------------------------

def test_apply_with_a_pdf_then_the_employer_reviews_and_messages(job, seeker, employer_user, mailbox, private_root):
    r = apply(seeker, job, note="Five years of pro-fee coding.\n<b>CPC</b>")
    assert r.status_code == 302 and r.url == reverse("jobs:my_applications")
    app = Application.objects.get()
    assert (app.job, app.applicant, app.status, app.resume_kind) == (job, seeker, "new", "pdf")
    assert [p.name for p in stored_files(private_root)] == [app.resume_path.split("/")[-1]]
    assert (private_root / app.resume_path).read_bytes() == jobfiles.pdf()

    notice = mailbox.one(employer_user.email)
    assert "New application" in notice["Subject"]
    assert f"http://testserver/jobs/applications/{app.pk}/" in notice.get_content()

    # the applicant sees it, with its status
    mine = client_for(seeker).get(reverse("jobs:my_applications"))
    assert b"Remote Outpatient Coder" in mine.content and b"New" in mine.content
    assert b"You applied on" in client_for(seeker).get(reverse("jobs:detail", args=[job.pk])).content

    # the employer sees the applicant
    boss = client_for(employer_user)
    listing = boss.get(reverse("jobs:applicants", args=[job.pk]))
    assert listing.status_code == 200 and seeker.email.encode() in listing.content
    page = boss.get(reverse("jobs:application", args=[app.pk]))
    assert page.status_code == 200 and b"Five years of pro-fee coding." in page.content
    assert b"&lt;b&gt;CPC&lt;/b&gt;" in page.content  # the note is text

    # downloads: attachment, the proved type, nosniff
    for who in (boss, client_for(seeker)):
        r = who.get(reverse("jobs:resume", args=[app.pk]))
        assert r.status_code == 200
        assert b"".join(r.streaming_content) == jobfiles.pdf()
        assert r["Content-Type"] == "application/pdf"
        assert r["Content-Disposition"] == f'attachment; filename="resume-{app.pk}.pdf"'
        assert r["X-Content-Type-Options"] == "nosniff" and "no-store" in r["Cache-Control"]

    # status
    r = boss.post(reverse("jobs:application_status", args=[app.pk]), {"status": "interview"})
    assert r.status_code == 302
    app.refresh_from_db()
    assert app.status == "interview"
    assert b"Interview" in client_for(seeker).get(reverse("jobs:my_applications")).content
    assert boss.post(reverse("jobs:application_status", args=[app.pk]), {"status": "hired!"}).status_code == 400

    # message by email, Reply-To the employer
    mailbox.clear()
    r = boss.post(reverse("jobs:application_message", args=[app.pk]), {"body": "Can you talk Tuesday at 10?"})
    assert r.status_code == 302
    mail = mailbox.one(seeker.email)
    assert "Acme Health (synthetic)" in mail["Subject"] and mail["Reply-To"] == employer_user.email
    assert "Can you talk Tuesday at 10?" in mail.get_content()
    assert ApplicationMessage.objects.get().body == "Can you talk Tuesday at 10?"
    assert b"Can you talk Tuesday at 10?" in client_for(seeker).get(reverse("jobs:application", args=[app.pk])).content
    assert boss.post(reverse("jobs:application_message", args=[app.pk]), {"body": "   "}).status_code == 400


def test_apply_with_a_docx(job, seeker):
    r = apply(seeker, job, jobfiles.docx(), name="cv.docx",
              content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert r.status_code == 302
    app = Application.objects.get()
    assert app.resume_kind == "docx" and app.resume_name == "cv.docx"
    r = client_for(seeker).get(reverse("jobs:resume", args=[app.pk]))
    assert r["Content-Type"] == files.CONTENT_TYPES["docx"]


def test_the_type_comes_from_the_content_not_the_name(job, seeker):
    r = apply(seeker, job, jobfiles.pdf(), name="cv.docx", content_type="application/msword")
    assert r.status_code == 302
    app = Application.objects.get()
    assert app.resume_kind == "pdf" and app.resume_name == "cv.pdf" and app.resume_path.endswith(".pdf")


# --- refused uploads ----------------------------------------------------------------------------

@pytest.mark.parametrize("data, name, message", [
    (jobfiles.executable_as_pdf(), "resume.pdf", "neither"),
    (jobfiles.zip_bomb_docx(64), "resume.docx", "ZIP bomb"),
    (jobfiles.lying_zip_bomb_docx(), "resume.docx", "damaged|ZIP bomb"),
    (jobfiles.docx(extra={"word/vbaProject.bin": b"x"}), "resume.docx", "macros"),
    (jobfiles.pdf(pad=5 * 1024 * 1024 + 10), "big.pdf", "at most 5 MB"),
    (b"", "empty.pdf", "empty|submitted file is empty"),
])
def test_bad_files_are_refused_and_nothing_is_stored(job, seeker, private_root, mailbox, data, name, message):
    import re

    r = apply(seeker, job, data, name=name)
    assert r.status_code == 400
    errors = " ".join(r.context["form"].errors["resume"])
    assert re.search(message, errors), errors
    assert not Application.objects.exists() and stored_files(private_root) == []
    assert mailbox.to("hiring@acme.example") == []


def test_a_20_mb_upload_is_refused_before_it_is_read(job, seeker, private_root):
    r = apply(seeker, job, b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024) + b"\n%%EOF\n", name="huge.pdf")
    assert r.status_code == 413 and b"at most 5 MB" in r.content
    assert not Application.objects.exists() and stored_files(private_root) == []


def test_cover_note_is_required_and_bounded(job, seeker):
    assert apply(seeker, job, note="").status_code == 400
    assert apply(seeker, job, note="x" * 5001).status_code == 400
    assert not Application.objects.exists()


# --- one application per job and person ------------------------------------------------------------

def test_one_application_per_job_and_person(job, seeker, private_root):
    assert apply(seeker, job).status_code == 302
    r = apply(seeker, job)
    assert r.status_code == 409 and b"already applied" in r.content
    assert Application.objects.count() == 1 and len(stored_files(private_root)) == 1


def test_the_database_refuses_a_second_application(job, seeker):
    Application.objects.create(job=job, applicant=seeker, resume_path="resumes/a.pdf", resume_kind="pdf",
                               resume_size=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.create(job=job, applicant=seeker, resume_path="resumes/b.pdf", resume_kind="pdf",
                                   resume_size=1)


# --- who may apply ------------------------------------------------------------------------------

def test_guests_are_sent_to_log_in(job):
    r = Client().post(reverse("jobs:apply", args=[job.pk]), {"cover_note": "x", "resume": upload("r.pdf", jobfiles.pdf())})
    assert r.status_code == 302 and r.url.startswith(reverse("login"))
    page = Client().get(reverse("jobs:detail", args=[job.pk])).content
    assert b"Log in" in page and b'name="resume"' not in page


def test_an_unverified_account_cannot_apply(job, make_user):
    user = make_user("unverified@example.com", verified=False)
    assert apply(user, job).status_code == 403
    assert not Application.objects.exists()


def test_the_employer_cannot_apply_to_its_own_job(job, employer_user):
    assert apply(employer_user, job).status_code == 409


def test_closed_and_external_jobs_take_no_applications(employer_user, post_job, seeker):
    closed = post_job(employer_user, title="Closed")
    actions.close(closed, employer_user)
    assert apply(seeker, closed).status_code == 404
    external = post_job(employer_user, title="External", apply_mode="external", apply_url="https://acme.example/apply")
    assert apply(seeker, external).status_code == 409
    assert not Application.objects.exists()


def test_applications_per_hour_are_limited(employer_user, post_job, seeker, settings):
    settings.MEDCODE_JOBS_APPLICATIONS_PER_HOUR = 2
    jobs = [post_job(employer_user, title=f"Job {n}") for n in range(3)]
    assert [apply(seeker, j).status_code for j in jobs] == [302, 302, 429]


def test_messages_per_hour_are_limited(job, seeker, employer_user, settings):
    settings.MEDCODE_JOBS_MESSAGES_PER_HOUR = 1
    apply(seeker, job)
    app = Application.objects.get()
    boss = client_for(employer_user)
    assert boss.post(reverse("jobs:application_message", args=[app.pk]), {"body": "one"}).status_code == 302
    r = boss.post(reverse("jobs:application_message", args=[app.pk]), {"body": "two"})
    assert r.status_code == 429 and r["Retry-After"]


# --- other people ---------------------------------------------------------------------------------

def test_another_user_cannot_read_an_application_or_a_resume(job, seeker, make_user, employer_user, post_job):
    apply(seeker, job)
    app = Application.objects.get()
    stranger = make_user("nosy@example.com")
    rival = make_user("rival@other.example")
    actions.save_employer(rival, company_name="Rival Co")
    post_job(rival, title="Rival job")
    for who in (client_for(stranger), client_for(rival)):
        assert who.get(reverse("jobs:resume", args=[app.pk])).status_code == 404
        assert who.get(reverse("jobs:application", args=[app.pk])).status_code == 404
        assert who.get(reverse("jobs:applicants", args=[job.pk])).status_code == 404
        assert who.post(reverse("jobs:application_status", args=[app.pk]), {"status": "offer"}).status_code == 404
        assert who.post(reverse("jobs:application_message", args=[app.pk]), {"body": "hi"}).status_code == 404
        assert seeker.email.encode() not in who.get(reverse("jobs:my_applications")).content
    # the applicant cannot act as the employer
    assert client_for(seeker).post(reverse("jobs:application_status", args=[app.pk]),
                                   {"status": "offer"}).status_code == 404
    anon = Client()
    r = anon.get(reverse("jobs:resume", args=[app.pk]))
    assert r.status_code == 302 and r.url.startswith(reverse("login"))
    app.refresh_from_db()
    assert app.status == "new" and not ApplicationMessage.objects.exists()


def test_resumes_are_not_under_static_files(job, seeker, settings, private_root):
    apply(seeker, job)
    app = Application.objects.get()
    path = (private_root / app.resume_path).resolve()
    assert settings.STATIC_ROOT.resolve() not in path.parents
    assert Client().get(f"/static/{app.resume_path}").status_code == 404
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_deleting_an_account_deletes_its_applications_and_files(job, seeker, employer_user, private_root,
                                                                django_capture_on_commit_callbacks):
    from medcode.accounts import actions as account_actions

    apply(seeker, job)
    assert stored_files(private_root)
    with django_capture_on_commit_callbacks(execute=True):
        account_actions.delete_account(seeker)
    assert not Application.objects.exists() and stored_files(private_root) == []


def test_deleting_an_employer_deletes_its_jobs_applicants_files_and_logo(job, seeker, employer_user, private_root,
                                                                        django_capture_on_commit_callbacks):
    from medcode.accounts import actions as account_actions
    from medcode.careers.models import Job

    actions.save_employer(employer_user, company_name="Acme", logo=jobfiles.png())
    apply(seeker, job)
    with django_capture_on_commit_callbacks(execute=True):
        account_actions.delete_account(employer_user)
    assert not Job.objects.exists() and not Application.objects.exists()
    assert stored_files(private_root) == [] and list((private_root / "logos").iterdir()) == []


def test_deleting_a_job_deletes_its_resumes(job, seeker, private_root, django_capture_on_commit_callbacks):
    apply(seeker, job)
    assert stored_files(private_root)
    with django_capture_on_commit_callbacks(execute=True):
        job.delete()  # as the admin does
    assert not Application.objects.exists() and stored_files(private_root) == []
