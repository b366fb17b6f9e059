"""Scheduled checks for new official releases (django-tasks), the staff switch that lets them be applied,
and the staff page that shows the last check and its result."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

import ncci_official
from official_packs import SHARED_DATA, zip_members

from medcode.codebook import open_book
from medcode.dataupdates.models import UpdateCheck, UpdatePolicy
from medcode.dataupdates.tasks import check_official_releases

MUE = "MCR_MUE_PractitionerServices_Eff_04-01-2026.csv"


def _release(rid: str, url: str) -> str:
    return f'''
[[release]]
id = "{rid}"
system = "ncci"
title = "Practitioner MUEs April 2026 ({rid})"
effective_from = 2026-04-01
[[release.file]]
url = "{url}"
members = [{{ pattern = "{MUE}", importer = "ncci_mue", system = "ncci-practitioner" }}]
'''


@pytest.fixture
def site_home(tmp_path, monkeypatch, settings, release_server):
    """MEDCODE_HOME, the settings file and the site's codebook in a temp folder; one MUE release served."""
    src = SHARED_DATA / "ncci-2026-derived" / "mue_practitioner.json"
    if not src.exists():
        pytest.skip(f"official data not available: {src}")
    table = ncci_official.write_mue_json(src, tmp_path)
    url = release_server.add("/files/zip/app-mue-2026q2.zip", zip_members(tmp_path / "mue.zip", {MUE: table}))
    home = tmp_path / "home"
    home.mkdir()
    (home / "sources.toml").write_text("[update]\nyears = 30\nuse_packaged = false\n" + _release("t-app-mue", url))
    monkeypatch.setenv("MEDCODE_HOME", str(home))
    monkeypatch.delenv("MEDCODE_SOURCES_FILE", raising=False)
    monkeypatch.delenv("MEDCODE_OFFLINE", raising=False)
    settings.MEDCODE_CODEBOOK = str(home / "codebook.sqlite")
    return home


@pytest.fixture
def staff(django_user_model, client):
    user = django_user_model.objects.create_user("staff@medcode.test", "a long password 5", email_verified=True,
                                                 is_staff=True)
    client.force_login(user)
    return user


@pytest.mark.django_db
def test_a_scheduled_check_reports_new_releases_without_applying_them(site_home, release_server):
    seen = len(release_server.log)
    pk = check_official_releases.call()
    check = UpdateCheck.objects.get(pk=pk)
    assert check.outcome == UpdateCheck.MISSING and check.trigger == "scheduled" and not check.apply
    assert [r["id"] for r in check.missing] == ["t-app-mue"]
    assert check.missing[0]["files"][0]["url"].endswith("/files/zip/app-mue-2026q2.zip")
    assert check.finished_at is not None and check.imported == [] and check.failed == []
    assert check.missing[0]["available"] is True  # published: its address answers
    assert [r[2:] for r in release_server.log[seen:]] == [("bytes=0-0", 206)]  # one byte asked for, no download
    assert not (site_home / "codebook.sqlite").exists() and not (site_home / "downloads").exists()


@pytest.mark.django_db
def test_staff_allow_applying_and_the_next_scheduled_check_imports(site_home, staff, client):
    page = client.post(reverse("data_updates"), {"action": "save", "apply_automatically": "on"}, follow=True)
    assert page.status_code == 200 and "now apply new releases" in page.content.decode()
    policy = UpdatePolicy.current()
    assert policy.apply_automatically and policy.changed_by == staff
    check = UpdateCheck.objects.get(pk=check_official_releases.call())
    assert check.outcome == UpdateCheck.IMPORTED and check.apply, check.message
    assert [r["id"] for r in check.imported] == ["t-app-mue"]
    assert open_book(site_home / "codebook.sqlite").mue("J0585", "practitioner", date(2026, 5, 1)).value == 800
    again = UpdateCheck.objects.get(pk=check_official_releases.call())
    assert again.outcome == UpdateCheck.UP_TO_DATE
    client.post(reverse("data_updates"), {"action": "save"})  # the box unticked: report only again
    assert not UpdatePolicy.current().apply_automatically


@pytest.mark.django_db
def test_staff_see_the_last_check_and_its_result(site_home, staff, client, release_server, settings):
    gone = release_server.url("/files/zip/app-gone.zip")
    (site_home / "sources.toml").write_text("[update]\nyears = 30\nuse_packaged = false\n" + _release("t-gone", gone))
    from medcode.dataupdates.actions import check_for_updates

    earlier = check_for_updates("scheduled", apply=False)
    UpdateCheck.objects.filter(pk=earlier.pk).update(started_at=timezone.now() - timedelta(days=1))
    check_for_updates("staff", apply=True)
    assert earlier.missing[0]["available"] is False and "404" in earlier.missing[0]["problem"]
    html = client.get(reverse("data_updates")).content.decode()
    assert "Some releases failed" in html and gone in html and "the server answered 404" in html
    assert "Practitioner MUEs April 2026 (t-gone)" in html
    assert "Earlier checks" in html and "New releases found (not applied)" in html


@pytest.mark.django_db
def test_check_now_and_apply_now_queue_a_task(site_home, staff, client, settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    client.post(reverse("data_updates"), {"action": "check"})
    client.post(reverse("data_updates"), {"action": "apply"})
    queued = DBTaskResult.objects.filter(task_path="medcode.dataupdates.tasks.check_official_releases_now")
    assert sorted(r.args_kwargs["kwargs"]["apply"] for r in queued) == [False, True]
    bad = client.post(reverse("data_updates"), {"action": "delete-everything"}, follow=True)
    assert bad.status_code == 200 and "Unknown action." in bad.content.decode()


@pytest.mark.django_db
def test_only_staff_reach_the_page(client, django_user_model, site_home):
    url = reverse("data_updates")
    assert client.get(url).status_code == 302  # to the login page
    user = django_user_model.objects.create_user("coder@medcode.test", "a long password 6", email_verified=True)
    client.force_login(user)
    assert client.get(url).status_code == 302
    assert client.post(url, {"action": "apply"}).status_code == 302
    assert not UpdatePolicy.objects.filter(apply_automatically=True).exists()


@pytest.mark.django_db
def test_offline_and_broken_settings_are_recorded_not_raised(site_home, monkeypatch, release_server):
    monkeypatch.setenv("MEDCODE_OFFLINE", "1")
    seen = len(release_server.log)
    offline = UpdateCheck.objects.get(pk=check_official_releases.call())
    assert offline.outcome == UpdateCheck.OFFLINE and "medcode data import PATH" in offline.message
    assert release_server.log[seen:] == []
    monkeypatch.delenv("MEDCODE_OFFLINE")
    (site_home / "sources.toml").write_text("[update]\nyears = 'x'\n")
    broken = UpdateCheck.objects.get(pk=check_official_releases.call())
    assert broken.outcome == UpdateCheck.ERROR and "'years' must be a whole number" in broken.message


@pytest.mark.django_db
def test_the_check_is_a_periodic_task_the_worker_enqueues(settings):
    from django_tasks_db.models import DBTaskResult

    from medcode.scheduling.periodic import configured, enqueue_due

    entry = configured()["official-data-check"]
    assert entry["task"] == "medcode.dataupdates.tasks.check_official_releases" and entry["every"] == 24 * 3600
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MEDCODE_PERIODIC_TASKS = {"official-data-check": entry}
    assert enqueue_due() == ["official-data-check"]
    assert DBTaskResult.objects.filter(task_path=entry["task"]).count() == 1


def test_the_admin_lists_the_checks():
    from django.contrib import admin

    assert UpdateCheck in admin.site._registry and UpdatePolicy in admin.site._registry


@pytest.mark.django_db
def test_a_check_asks_a_host_that_does_not_answer_only_once(site_home):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed: connections are refused
    releases = "".join(_release(f"t-down-{i}", f"http://127.0.0.1:{port}/files/zip/r{i}.zip")
                       .replace("2026-04-01", f"2026-0{i}-01").replace(f'id = "t-down-{i}"',
                                                                      f'id = "t-down-{i}"\nseries = "s{i}"')
                       for i in (1, 2, 3))
    (site_home / "sources.toml").write_text("[update]\nyears = 30\nuse_packaged = false\n" + releases)
    check = UpdateCheck.objects.get(pk=check_official_releases.call())
    assert check.outcome == UpdateCheck.MISSING
    problems = [r["problem"] for r in check.missing]
    assert sum("ConnectError" in p for p in problems) == 1
    assert sum(p.startswith("not tried: 127.0.0.1 did not answer") for p in problems) == 2
