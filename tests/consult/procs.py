"""Real `medcode smtpd` and `medcode worker` processes on one app database (a SQLite file, or a fresh
PostgreSQL database when DATABASE_URL points at PostgreSQL), for the process tests and bench/consult.py."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

CONSULT = "consult@medcode.test"


def wait_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"process exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on {port}")
            time.sleep(0.1)


class Site:
    """One installation: its MEDCODE_HOME, its database, and the processes started on it."""

    def __init__(self, home: Path, codebook: Path, relay_port: int, **env: str):
        self.home = home
        self.procs: list[subprocess.Popen] = []
        self.pg_admin = None
        base = os.environ.get("DATABASE_URL", "")
        if base.startswith("postgres"):
            import psycopg

            self.dbname = f"h_consult_proc_{uuid.uuid4().hex[:8]}"
            self.pg_admin = base.rsplit("/", 1)[0] + "/postgres"  # the maintenance database
            base = self.pg_admin
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
            self.url = base.rsplit("/", 1)[0] + "/" + self.dbname
        else:
            self.url = ""
        self.env = {**os.environ, "MEDCODE_HOME": str(home), "DATABASE_URL": self.url,
                    "MEDCODE_CODEBOOK": str(codebook), "MEDCODE_CONSULT_ADDRESS": CONSULT,
                    "SITE_URL": "https://medcode.test", "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(relay_port),
                    "MEDCODE_TASKS_BACKEND": "django_tasks_db.DatabaseBackend", "MEDCODE_SCHEDULER_INTERVAL": "0.5",
                    "MEDCODE_CONSULT_SWEEP_EVERY": "1", "MEDCODE_CONSULT_REVIEW_UNCONFIDENT": "0",
                    "MEDCODE_CONSULT_QUOTA_FREE": "1000", "MEDCODE_CONSULT_MAX_PER_SENDER_PER_HOUR": "1000",
                    "LOG_LEVEL": "WARNING", **env}
        self.run("manage", "migrate", "--noinput", "-v", "0")

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        got = subprocess.run([sys.executable, "-m", "medcode.cli", *args], env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        assert got.returncode == 0, got.stderr[-2000:]
        return got

    def add_user(self, email: str, plan: str = "free") -> None:
        self.run("manage", "shell", "-c",
                 "from medcode.accounts.models import User; "
                 f"User.objects.create_user({email!r}, 'a long password 9', email_verified=True, plan={plan!r})")

    def start(self, *args: str, log: str | None = None) -> subprocess.Popen:
        out = open(self.home / (log or f"{args[0]}-{len(self.procs)}.log"), "wb")
        proc = subprocess.Popen([sys.executable, "-m", "medcode.cli", *args], env=self.env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def smtpd(self, port: int) -> subprocess.Popen:
        proc = self.start("smtpd", "--host", "127.0.0.1", "--port", str(port))
        wait_port(port, proc=proc)
        return proc

    def worker(self, interval: float = 0.2) -> subprocess.Popen:
        return self.start("worker", "--interval", str(interval))

    def query(self, sql: str) -> list[tuple]:
        if self.url:
            import psycopg

            with psycopg.connect(self.url) as conn:
                return [tuple(r) for r in conn.execute(sql).fetchall()]
        conn = sqlite3.connect(self.home / "medcode.db", timeout=30)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def close(self) -> None:
        for proc in self.procs:
            self.stop(proc)
        if self.pg_admin:
            import psycopg

            with psycopg.connect(self.pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.home.glob("*.log"))
