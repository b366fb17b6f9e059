"""The periodic scheduler and `medcode worker`: due tasks are enqueued once, and the worker runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from medcode.scheduling.models import PeriodicRun
from medcode.scheduling.periodic import configured, enqueue_due

PRUNE = {"prune": {"task": "medcode.scheduling.tasks.prune_task_results", "every": 3600}}


@pytest.fixture
def db_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MEDCODE_PERIODIC_TASKS = PRUNE


def _queued():
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.filter(task_path="medcode.scheduling.tasks.prune_task_results"))


@pytest.mark.django_db
def test_due_task_is_enqueued_once_per_interval(db_backend):
    now = timezone.now()
    assert enqueue_due(now) == ["prune"]
    assert enqueue_due(now + timedelta(seconds=10)) == []  # not due again yet
    assert len(_queued()) == 1
    run = PeriodicRun.objects.get(name="prune")
    assert run.last_enqueued_at == now and run.last_result_id == str(_queued()[0].id)
    assert enqueue_due(now + timedelta(seconds=3601)) == ["prune"]
    assert len(_queued()) == 2


@pytest.mark.django_db
def test_interval_change_in_settings_is_picked_up(db_backend, settings):
    now = timezone.now()
    enqueue_due(now)
    settings.MEDCODE_PERIODIC_TASKS = {"prune": {**PRUNE["prune"], "every": 60}}
    assert enqueue_due(now + timedelta(seconds=61)) == ["prune"]
    assert PeriodicRun.objects.get(name="prune").every_seconds == 60


@pytest.mark.django_db
def test_a_task_that_cannot_be_imported_is_not_marked_as_run(db_backend, settings):
    settings.MEDCODE_PERIODIC_TASKS = {"broken": {"task": "medcode.scheduling.tasks.no_such_task", "every": 60}}
    assert enqueue_due() == []
    assert PeriodicRun.objects.get(name="broken").last_enqueued_at is None  # retried on the next pass


@pytest.mark.parametrize("entry", [{"every": 60}, {"task": "x.y", "every": 0}, "x.y"])
def test_bad_configuration_is_refused_with_its_name(settings, entry):
    settings.MEDCODE_PERIODIC_TASKS = {"bad": entry}
    with pytest.raises(ValueError, match="'bad'"):
        configured()


@pytest.mark.django_db
def test_prune_removes_only_old_finished_results(db_backend, settings):
    from django_tasks_db.models import DBTaskResult
    from medcode.scheduling.tasks import prune_task_results

    old, fresh = prune_task_results.enqueue(), prune_task_results.enqueue()
    DBTaskResult.objects.filter(id=old.id).update(finished_at=timezone.now() - timedelta(days=31), status="SUCCESSFUL")
    DBTaskResult.objects.filter(id=fresh.id).update(finished_at=timezone.now(), status="SUCCESSFUL")
    assert prune_task_results.call() == 1
    assert [str(i) for i in DBTaskResult.objects.values_list("id", flat=True)] == [str(fresh.id)]


def _medcode(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDCODE_HOME": str(home), "DATABASE_URL": "", "MEDCODE_SCHEDULER_INTERVAL": "0.2",
           "MEDCODE_TASKS_BACKEND": "django_tasks_db.DatabaseBackend"}
    return subprocess.run([sys.executable, "-m", "medcode.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_worker_process_runs_the_scheduled_task(tmp_path):
    """A real `medcode worker`: its scheduler enqueues the due task and its worker runs it, then exits."""
    got = _medcode(tmp_path, "worker", "--max-tasks", "1", "--interval", "0.2")
    assert got.returncode == 0, got.stderr
    check = _medcode(tmp_path, "manage", "shell", "-c",
                     "from django_tasks_db.models import DBTaskResult as R; "
                     "print([(r.task_path, r.status) for r in R.objects.all()])")
    assert check.returncode == 0, check.stderr
    assert "('medcode.scheduling.tasks.prune_task_results', 'SUCCESSFUL')" in check.stdout
