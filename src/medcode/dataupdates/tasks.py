"""Background tasks (django-tasks): the scheduled check (settings.MEDCODE_PERIODIC_TASKS) and the
staff page's "check now" / "apply now"."""

from __future__ import annotations

from django_tasks import task


@task()
def check_official_releases() -> int:
    """Scheduled: report new releases, and apply them when staff have allowed it."""
    from .actions import check_for_updates

    return check_for_updates("scheduled").pk


@task()
def check_official_releases_now(apply: bool = False) -> int:
    from .actions import check_for_updates

    return check_for_updates("staff", apply=apply).pk
