"""The one domain action: check for new official releases, and apply them when asked or allowed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from medcode.codebook import update
from medcode.codebook.errors import CodebookError

from .models import UpdateCheck, UpdatePolicy

log = logging.getLogger(__name__)


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def check_for_updates(trigger: str = "scheduled", apply: bool | None = None) -> UpdateCheck:
    """Run `medcode data update` (a dry run unless `apply`, or staff allowed it) and record the result."""
    if apply is None:
        apply = UpdatePolicy.current().apply_automatically
    check = UpdateCheck.objects.create(started_at=timezone.now(), trigger=trigger, apply=apply)
    try:
        if update.offline():
            check.outcome, check.message = UpdateCheck.OFFLINE, f"MEDCODE_OFFLINE is set. {update.OFFLINE_HELP}"
            return check
        report = update.run_update(update.load_registry(), dry_run=not apply, progress=False,
                                   book_path=Path(settings.MEDCODE_CODEBOOK), check_online=not apply)
    except CodebookError as exc:  # a bad settings file, another update running, a damaged record
        check.outcome, check.message = UpdateCheck.ERROR, str(exc)
        return check
    except Exception as exc:  # noqa: BLE001 - a scheduled task must leave a record staff can read
        log.exception("official data check failed")
        check.outcome, check.message = UpdateCheck.ERROR, f"{type(exc).__name__}: {exc}"
        return check
    finally:
        check.finished_at = timezone.now()
        check.save()
    check.missing = _plain(report.to_dict()["missing"])
    check.imported = _plain(report.imported)
    check.failed = _plain(report.failed)
    if report.failed:
        check.outcome = UpdateCheck.FAILED
    elif report.imported:
        check.outcome = UpdateCheck.IMPORTED
    elif report.plan.missing:
        check.outcome = UpdateCheck.MISSING
    else:
        check.outcome = UpdateCheck.UP_TO_DATE
    if report.codebook:
        check.message = f"rebuilt {report.codebook} in {report.build_seconds} s"
    check.save()
    return check
