"""Housekeeping the scheduler runs itself."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task


@task()
def prune_task_results() -> int:
    """Finished task rows older than MEDCODE_TASK_RESULTS_KEEP_DAYS go: the queue table stays small."""
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(days=settings.MEDCODE_TASK_RESULTS_KEEP_DAYS)
    deleted, _ = DBTaskResult.objects.filter(finished_at__lt=cutoff).delete()
    return deleted
