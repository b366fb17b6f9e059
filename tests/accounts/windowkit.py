"""Shared by the meter and quota tests: both count per-subject events in a sliding window, on the
app database and on Redis, and both are raced by a subprocess on an SQLite file (threads: tests/threadrace.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip():
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")


def redis_store(make, kind: str):
    """Yield `make(url, prefix=...)` under a prefix of its own; its keys are deleted afterwards."""
    redis_or_skip()
    store = make(REDIS_URL, prefix=f"medcode-test:{uuid.uuid4().hex}:{kind}:")
    yield store
    keys = list(store.client.scan_iter(match=store.prefix + "*"))
    if keys:
        store.client.delete(*keys)


def run_sqlite_race(tmp_path, script: str) -> dict:
    """Run a race script in a fresh process on the embedded default (an SQLite file); its last line."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(MEDCODE_HOME=str(tmp_path), DJANGO_SETTINGS_MODULE="medcode.site.settings")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["vendor"] == "sqlite"
    return doc
