"""Enqueue the tasks in settings.MEDCODE_PERIODIC_TASKS when they are due.

MEDCODE_PERIODIC_TASKS = {"name": {"task": "dotted.path.to.task", "every": seconds}, ...}
Each entry is a django-tasks Task (a function decorated with @task). Apps add their own entries
in settings; staff see the runs in the admin (Scheduled tasks).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import PeriodicRun

log = logging.getLogger("medcode.scheduling")


def configured() -> dict[str, dict]:
    entries = getattr(settings, "MEDCODE_PERIODIC_TASKS", {}) or {}
    for name, entry in entries.items():
        if not isinstance(entry, dict) or "task" not in entry or int(entry.get("every", 0)) <= 0:
            raise ValueError(f"MEDCODE_PERIODIC_TASKS[{name!r}] needs a 'task' path and a positive 'every' (seconds)")
    return entries


def enqueue_due(now=None) -> list[str]:
    """Enqueue every configured task whose interval has passed; returns the names enqueued."""
    now = now or timezone.now()
    enqueued = []
    for name, entry in configured().items():
        every = int(entry["every"])
        run, _ = PeriodicRun.objects.get_or_create(
            name=name, defaults={"task_path": entry["task"], "every_seconds": every})
        if run.task_path != entry["task"] or run.every_seconds != every:
            PeriodicRun.objects.filter(pk=run.pk).update(task_path=entry["task"], every_seconds=every)
        due = Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lte=now - timedelta(seconds=every))
        # the conditional UPDATE is the claim: with several workers only one wins each run
        claimed = PeriodicRun.objects.filter(due, pk=run.pk).update(last_enqueued_at=now)
        if not claimed:
            continue
        try:
            result = import_string(entry["task"]).enqueue()
        except Exception:
            log.exception("periodic task %s (%s) could not be enqueued", name, entry["task"])
            PeriodicRun.objects.filter(pk=run.pk).update(last_enqueued_at=run.last_enqueued_at)
            continue
        PeriodicRun.objects.filter(pk=run.pk).update(last_result_id=str(result.id))
        enqueued.append(name)
    return enqueued


def run_scheduler(stop: threading.Event, interval: float = 30.0) -> None:
    """The loop `medcode worker` runs in a thread until `stop` is set."""
    while not stop.is_set():
        try:
            enqueue_due()
        except Exception:
            log.exception("periodic scheduler pass failed")
        finally:
            close_old_connections()
        stop.wait(interval)
