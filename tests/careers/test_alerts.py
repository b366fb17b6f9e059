"""Job alerts: a saved search gets one digest with exactly the new matching jobs, never a job twice,
and its unsubscribe link works without logging in. Mail crosses a real SMTP connection (the sink)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobkit import client_for
from medcode.careers import actions
from medcode.careers.models import AlertSent, Job, SavedSearch
from medcode.careers.query import parse

pytestmark = pytest.mark.django_db


def links(message) -> list[str]:
    return re.findall(r"https?://\S+", message.get_content())


def job_ids_in(message) -> set[int]:
    return {int(m) for m in re.findall(r"/jobs/(\d+)/", message.get_content())}


@pytest.fixture
def alert(seeker, employer_user, post_job, mailbox):
    """A seeker's alert for remote CPC jobs, saved through the page, after two jobs that already existed."""
    post_job(employer_user, title="Old remote CPC job")          # existed when the alert was saved: not new
    post_job(employer_user, title="Old onsite job", workplace="onsite", city="Austin", state="TX")
    r = client_for(seeker).post(reverse("jobs:alert_save"), {"credential": "CPC", "workplace": "remote"})
    assert r.status_code == 302
    mailbox.clear()
    return SavedSearch.objects.get(user=seeker)


def test_saving_a_search(alert, seeker):
    assert alert.filters == {"credential": ["CPC"], "workplace": ["remote"]} and alert.active
    assert "CPC" in alert.label and "remote" in alert.label
    assert alert.label.encode() in client_for(seeker).get(reverse("jobs:my_applications")).content
    # the same search again is the same alert
    client_for(seeker).post(reverse("jobs:alert_save"), {"workplace": "remote", "credential": "cpc"})
    assert SavedSearch.objects.filter(user=seeker).count() == 1


def test_saving_needs_a_login_and_valid_filters(seeker):
    r = Client().post(reverse("jobs:alert_save"), {"credential": "CPC"})
    assert r.status_code == 302 and r.url.startswith(reverse("login"))
    r = client_for(seeker).post(reverse("jobs:alert_save"), {"credential": "NOPE"})
    assert r.status_code == 400 and not SavedSearch.objects.exists()


def test_alerts_per_user_are_capped(seeker, settings):
    settings.MEDCODE_JOBS_SAVED_SEARCHES_MAX = 2
    c = client_for(seeker)
    assert [c.post(reverse("jobs:alert_save"), {"q": q}).status_code for q in ("a", "b", "c")] == [302, 302, 409]


def test_one_digest_with_exactly_the_new_matching_jobs(alert, seeker, employer_user, post_job, make_user, mailbox):
    match1 = post_job(employer_user, title="New remote CPC coder")
    match2 = post_job(employer_user, title="Another remote CPC role", credentials=["CPC", "CRC"])
    post_job(employer_user, title="Onsite CPC", workplace="onsite", city="Austin", state="TX")   # not remote
    post_job(employer_user, title="Remote CCS", credentials=["CCS"])                            # not CPC
    closed = post_job(employer_user, title="Closed remote CPC")
    actions.close(closed, employer_user)                                                        # not open
    other = make_user("other.seeker@example.com")
    actions.save_search(other, parse({"credential": ["RHIA"]}))                                 # nothing new for them
    mailbox.clear()

    assert actions.send_alerts() == 1
    digest = mailbox.one(seeker.email)
    assert mailbox.to(other.email) == []
    assert job_ids_in(digest) == {match1.pk, match2.pk}
    body = digest.get_content()
    assert "New remote CPC coder" in body and "Another remote CPC role" in body
    assert "Old remote CPC job" not in body and "Closed" not in body and "Onsite CPC" not in body
    assert digest["Subject"].startswith("2 new jobs for your alert")
    assert digest["List-Unsubscribe"].strip().startswith("<http://testserver/jobs/alerts/unsubscribe/")
    assert set(AlertSent.objects.filter(search=alert).values_list("job_id", flat=True)) == {match1.pk, match2.pk}

    # the next run sends nothing: those jobs were sent
    mailbox.clear()
    assert actions.send_alerts() == 0
    assert mailbox.to(seeker.email) == []

    # a later job comes alone in the next digest
    match3 = post_job(employer_user, title="Third remote CPC")
    assert actions.send_alerts() == 1
    assert job_ids_in(mailbox.one(seeker.email)) == {match3.pk}


def test_a_renewed_job_is_not_sent_again(alert, seeker, employer_user, post_job, mailbox):
    job = post_job(employer_user, title="New remote CPC coder")
    actions.send_alerts()
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(days=1))
    actions.renew(Job.objects.get(pk=job.pk), employer_user)
    mailbox.clear()
    assert actions.send_alerts() == 0


def test_the_unsubscribe_link_works_without_logging_in(alert, seeker, employer_user, post_job, mailbox):
    post_job(employer_user, title="New remote CPC coder")
    actions.send_alerts()
    link = next(u for u in links(mailbox.one(seeker.email)) if "/unsubscribe/" in u)
    path = urlsplit(link).path

    guest = Client()  # a mail client's browser: no session, no CSRF cookie
    page = guest.get(path)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    alert.refresh_from_db()
    assert alert.active  # a link scanner opening the link changes nothing

    done = Client(enforce_csrf_checks=True).post(path)  # RFC 8058 one-click: a bare POST
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    alert.refresh_from_db()
    assert not alert.active

    post_job(employer_user, title="Yet another remote CPC")
    mailbox.clear()
    assert actions.send_alerts() == 0 and mailbox.to(seeker.email) == []
    assert Client().post(path).status_code == 200  # again: harmless


@pytest.mark.parametrize("token", ["nonsense", "x" * 400, "eyJzIjoxLCJ1IjoxfQ:1abc:forged"])
def test_a_bad_unsubscribe_link_is_refused(alert, token):
    r = Client().post(reverse("jobs:unsubscribe", args=[token]))
    assert r.status_code == 400 and b"not valid" in r.content
    alert.refresh_from_db()
    assert alert.active


def test_a_token_for_one_alert_cannot_switch_off_another(alert, make_user):
    from django.core import signing

    other = actions.save_search(make_user("b@example.com"), parse({"q": ["x"]}))
    # signed for another purpose
    forged = signing.dumps({"s": other.pk, "u": other.user_id}, salt="something else")
    assert Client().post(reverse("jobs:unsubscribe", args=[forged])).status_code == 400
    # this alert's token with the other alert's ids swapped into its payload
    payload, rest = actions.unsubscribe_token(alert).split(":", 1)
    swapped = signing.b64_encode(json.dumps({"s": other.pk, "u": other.user_id}, separators=(",", ":")).encode())
    assert swapped.decode() != payload
    assert Client().post(reverse("jobs:unsubscribe", args=[f"{swapped.decode()}:{rest}"])).status_code == 400
    # even a validly signed token must name the alert's owner
    mismatched = signing.dumps({"s": other.pk, "u": alert.user_id}, salt=actions.UNSUBSCRIBE_SALT)
    assert Client().post(reverse("jobs:unsubscribe", args=[mismatched])).status_code == 404
    other.refresh_from_db()
    alert.refresh_from_db()
    assert other.active and alert.active


def test_deleting_an_alert(alert, seeker, make_user):
    stranger = make_user("s@example.com")
    assert client_for(stranger).post(reverse("jobs:alert_delete", args=[alert.pk])).status_code == 404
    assert client_for(seeker).post(reverse("jobs:alert_delete", args=[alert.pk])).status_code == 302
    assert not SavedSearch.objects.exists()


def test_a_failed_send_is_retried_next_time(alert, seeker, employer_user, post_job, mailbox, settings):
    post_job(employer_user, title="New remote CPC coder")
    settings.EMAIL_PORT = 1  # nothing listens there
    assert actions.send_alerts() == 0
    assert not AlertSent.objects.exists()
    settings.EMAIL_PORT = mailbox.port
    assert actions.send_alerts() == 1


def test_the_daily_task_is_scheduled_and_runs(alert, seeker, employer_user, post_job, mailbox, settings):
    from django_tasks_db.models import DBTaskResult

    from medcode.careers.tasks import send_job_alerts
    from medcode.scheduling.periodic import configured, enqueue_due
    from medcode.site import settings as site_settings

    entry = site_settings.MEDCODE_PERIODIC_TASKS["job-alerts"]
    assert entry == {"task": "medcode.careers.tasks.send_job_alerts", "every": 24 * 3600}
    settings.MEDCODE_PERIODIC_TASKS = {"job-alerts": entry}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert configured() and enqueue_due() == ["job-alerts"]
    assert DBTaskResult.objects.filter(task_path="medcode.careers.tasks.send_job_alerts").count() == 1
    assert enqueue_due() == []  # once a day

    post_job(employer_user, title="New remote CPC coder")
    mailbox.clear()
    assert send_job_alerts.call() == 1
    assert len(mailbox.to(seeker.email)) == 1


def test_a_stored_search_that_no_longer_parses_does_not_stop_the_others(alert, seeker, employer_user, post_job,
                                                                       make_user, mailbox):
    broken = actions.save_search(make_user("old@example.com"), parse({"q": ["x"]}))
    SavedSearch.objects.filter(pk=broken.pk).update(filters={"credential": ["RETIRED-CREDENTIAL"]})
    post_job(employer_user, title="New remote CPC coder")
    assert actions.send_alerts() == 1
    assert len(mailbox.to(seeker.email)) == 1
