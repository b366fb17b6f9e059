"""The accounts app's periodic task (settings.MEDCODE_PERIODIC_TASKS runs it from `medcode worker`)."""

from __future__ import annotations

from django_tasks import task

from . import metering, quotas


@task()
def prune_usage() -> dict:
    """Daily: code-page unlocks and feature uses (assistant questions, ...) that have left their windows.

    Each consume deletes only its own subjects' old rows, so a guest who never comes back (a new
    cookie per visit) would leave rows forever. The database stores are pruned even when Redis
    is configured: they hold what was counted while Redis was unreachable."""
    return {"meter": metering.prune(backend=metering.DatabaseMeter()),
            "feature_uses": quotas.prune(backend=quotas.DatabaseQuota())}
