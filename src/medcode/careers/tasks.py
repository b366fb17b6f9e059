"""The job board's periodic tasks (settings.MEDCODE_PERIODIC_TASKS runs them from `medcode worker`)."""

from __future__ import annotations

from django_tasks import task

from . import actions


@task()
def send_job_alerts() -> int:
    """Daily: one digest per saved search with new matching jobs; returns how many went out."""
    return actions.send_alerts()


@task()
def expire_jobs() -> int:
    """Writes down 'expired' for jobs past their 60 days (listings already hide them at query time)."""
    return actions.expire_due()
