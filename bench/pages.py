"""Code page throughput benchmark: cached and uncached code pages against a trivial view.

Serves the site with gunicorn (2 sync workers, the WSGI app `medcode serve` runs) on loopback and
loads it with wrk. Prints requests per second and p99 latency for

  * a trivial Django view (/healthz/ping: the whole middleware stack, no work),
  * a code page served from the page cache (the same code, over and over),
  * the same code page uncached (a second server with CACHE_BACKEND=dummy, measured against its
    own trivial view in the same run),
  * for information: first views of many distinct codes with the normal cache,

each code page figure as a ratio to the trivial view (machines here are shared and noisy; the
ratios are what is comparable). Beside each figure: the server's CPU time per request (its gunicorn
workers' user + system time over the run, from /proc), which other load on a shared machine moves
far less than requests/s; its ratio is the same comparison made on CPU cost. Scenarios are measured in interleaved rounds so that drift hits
them alike.

Metering must not distort the figures, so the headline reader is a guest whose quota is unlimited
(a settings module of the bench's own sets MEDCODE_QUOTAS["guest"] = None, the paid plan's value:
the meter then answers without touching the database). The same pages are also measured for a
logged-in paid account, with a second baseline: the trivial view made to identify the visitor
(/healthz/ping?who=1), since the session and account lookups a logged-in request costs are paid
by any page that knows who is reading, and by no trivial view. Each page is checked to be the
reader's full page first.

Targets (issue 3): cached >= 80%, uncached >= 35% of the trivial view; p99 reported.
Run: .venv/bin/python bench/pages.py [--codebook PATH] [--seconds 5] [--rounds 3]
wrk is Debian's package `wrk` (apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ["icd10cm-2027-addenda", "icd10cm-2025-index-tables", "icd10pcs-2026-tables", "icd10pcs-2025-index",
           "icd10cm-2026-guidelines"]
TARGETS = {"cached": 0.80, "uncached": 0.35}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_codebook(arg: str | None, data: Path) -> Path:
    """--codebook, else MEDCODE_CODEBOOK, else the configured one, else build one in a temp folder."""
    if arg:
        return Path(arg)
    if os.environ.get("MEDCODE_CODEBOOK"):
        return Path(os.environ["MEDCODE_CODEBOOK"])
    from medcode import config

    configured = config.codebook_path()
    if configured.exists():
        return configured
    from medcode.codebook.imports import import_paths

    work = Path(tempfile.mkdtemp(prefix="medcode-bench-book-"))
    print(f"no codebook configured: building one in {work} (packaged defaults + {data}) ...", flush=True)
    import_paths([data / f for f in FOLDERS if (data / f).exists()], work / "sources", work / "codebook.sqlite",
                 progress=False, always_build=True)
    return work / "codebook.sqlite"


BENCH_SETTINGS = """# bench/pages.py's settings: the site's own, with an unlimited guest quota (the paid plan's None)
from medcode.site.settings import *  # noqa: F401,F403

MEDCODE_QUOTAS = {**MEDCODE_QUOTAS, "guest": None}
"""


def prepare_home(home: Path, codebook: Path) -> str:
    """Migrate the bench's own app database, write its settings module, and log in a paid account;
    returns the paid account's session cookie."""
    (home / "medcode_bench_settings.py").write_text(BENCH_SETTINGS)
    os.environ.update(MEDCODE_HOME=str(home), MEDCODE_CODEBOOK=str(codebook),
                      DJANGO_SETTINGS_MODULE="medcode.site.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from medcode.accounts.models import User

    call_command("migrate", interactive=False, verbosity=0)
    user = User.objects.create_user("bench@example.com", None, plan="paid", email_verified=True)
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def with_csrf_cookie(server: "Server", cookie: str) -> str:
    """Add the CSRF cookie the site sets, as a browser sends it back (else every page mints a new one)."""
    req = urllib.request.Request(server.base + "/", headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=10) as r:
        for header in r.headers.get_all("Set-Cookie") or []:
            if header.startswith("csrftoken="):
                return f"{cookie}; {header.split(';', 1)[0]}" if cookie else header.split(";", 1)[0]
    return cookie


class Server:
    """gunicorn with 2 sync workers on a free loopback port."""

    def __init__(self, home: Path, codebook: Path, extra_env: dict[str, str]):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CACHE_BACKEND"}}
        env.update(MEDCODE_HOME=str(home), MEDCODE_CODEBOOK=str(codebook), DB_CONN_MAX_AGE="60",
                   DJANGO_SETTINGS_MODULE="medcode_bench_settings", **extra_env)
        env["PYTHONPATH"] = os.pathsep.join([str(home), *filter(None, [env.get("PYTHONPATH")])])
        self.log = open(home / f"gunicorn-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "medcode.site.wsgi:application"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=home)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited {self.proc.returncode}: see {self.log.name}")
            try:
                with urllib.request.urlopen(self.base + "/healthz/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer on {self.base}: see {self.log.name}")
            time.sleep(0.2)

    def get(self, path: str, cookie: str) -> tuple[int, str]:
        req = urllib.request.Request(self.base + path, headers={"Cookie": cookie})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()

    def guest_cookie(self, path: str) -> str:
        """The guest cookie the site sets on a first view: later requests are that same guest."""
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            for header in r.headers.get_all("Set-Cookie") or []:
                if header.startswith("medcode_guest="):
                    return header.split(";", 1)[0]
        raise SystemExit("the code page set no guest cookie")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) its worker processes have used so far: what a request costs the
        server, whatever else the shared machine runs (requests/s move with that; this does not)."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:  # a worker: the gunicorn master is its parent
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


LUA_PATHS = """
paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def wrk(url: str, seconds: float, cookie: str, threads: int, connections: int, script: Path | None = None) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-H", f"Cookie: {cookie}"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "requests": requests, "p99_ms": float(p99.group(1)) * scale,
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else ""}


def measure(server: Server, scenarios: dict[str, tuple[str, Path | None, str]], rounds: int, seconds: float,
            threads: int, connections: int) -> dict[str, dict]:
    """Interleaved rounds; requests/s is the mean over rounds, p99 the median round's, server CPU per
    request the total over rounds."""
    runs: dict[str, list[dict]] = {name: [] for name in scenarios}
    for _ in range(rounds):
        for name, (path, script, cookie) in scenarios.items():
            cpu = server.cpu_seconds()
            got = wrk(server.base + path, seconds, cookie, threads, connections, script)
            got["cpu_s"] = server.cpu_seconds() - cpu
            runs[name].append(got)
    out = {}
    for name, rs in runs.items():
        p99s = sorted(r["p99_ms"] for r in rs)
        requests = sum(r["requests"] for r in rs)
        out[name] = {"rps": sum(r["rps"] for r in rs) / len(rs), "p99_ms": p99s[len(p99s) // 2],
                     "cpu_ms": 1000 * sum(r["cpu_s"] for r in rs) / requests if requests else None,
                     "non2xx": sum(r["non2xx"] for r in rs), "socket_errors": "; ".join(
                         r["socket_errors"] for r in rs if r["socket_errors"])}
    return out


def check_full_page(server: Server, path: str, cookie: str) -> None:
    status, body = server.get(path, cookie)
    if status != 200 or "Instructional notes" not in body or "code page view" in body:
        raise SystemExit(f"{path} is not an unlimited reader's full page (status {status}): metering would "
                         "distort the figures")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codebook", help="codebook file (default: MEDCODE_CODEBOOK or the configured one)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="official files, to build one")
    ap.add_argument("--code", default="E11.9")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--distinct", type=int, default=20000, help="codes in the distinct-codes run (0: skip it)")
    args = ap.parse_args()

    if shutil.which("wrk") is None:
        print("bench/pages.py needs wrk, the HTTP load generator: install Debian's package with "
              "`apt-get install -y wrk`, then run it again.", file=sys.stderr)
        return 2

    codebook = find_codebook(args.codebook, Path(args.data))
    home = Path(tempfile.mkdtemp(prefix="medcode-bench-pages-"))
    paid_cookie = prepare_home(home, codebook)

    from medcode.codebook import open_book

    book = open_book(codebook)
    page = f"/codes/icd10cm/{args.code}"
    codes = [c.code for c in book.codes("icd10cm", billable=True)]
    random.Random(7).shuffle(codes)
    paths_file = home / "paths.txt"
    paths_file.write_text("".join(f"/codes/icd10cm/{c}\n" for c in codes[:max(args.distinct, 1)]))
    script = home / "distinct.lua"
    script.write_text(LUA_PATHS % paths_file)

    print(f"medcode code page bench: gunicorn 2 sync workers, wrk -t{args.threads} -c{args.connections}, "
          f"{args.rounds} interleaved rounds of {args.seconds:g} s; codebook {codebook} "
          f"(built {book.meta.get('built_at')})", flush=True)

    def run(dummy: bool) -> dict[str, dict]:
        server = Server(home, codebook, {"CACHE_BACKEND": "dummy"} if dummy else {})
        try:
            guest = server.guest_cookie(page)
            paid = with_csrf_cookie(server, paid_cookie)
            check_full_page(server, page, guest)
            check_full_page(server, page, paid)
            for _ in range(50):  # fill both workers' page caches
                server.get(page, guest)
                server.get(page, paid)
            page_name = "uncached" if dummy else "cached"
            scenarios = {"trivial": ("/healthz/ping", None, guest), page_name: (page, None, guest),
                         f"{page_name}, paid": (page, None, paid), "trivial+visitor, paid": ("/healthz/ping?who=1",
                                                                                             None, paid)}
            got = measure(server, scenarios, args.rounds, args.seconds, args.threads, args.connections)
            if args.distinct and not dummy:
                cpu = server.cpu_seconds()
                got["distinct"] = wrk(server.base + "/", args.seconds, guest, args.threads, args.connections, script)
                got["distinct"]["cpu_ms"] = 1000 * (server.cpu_seconds() - cpu) / max(1, got["distinct"]["requests"])
            return got
        finally:
            server.stop()

    cached, uncached = run(False), run(True)

    def line(label: str, r: dict, base: dict | None = None, target: float | None = None) -> str:
        s = f"  {label:<50} {r['rps']:8.0f} req/s  p99 {r['p99_ms']:7.2f} ms"
        if base:
            ratio = r["rps"] / base["rps"]
            s += f"  {ratio:6.1%}"
            if target is not None:
                s += f"  (target >= {target:.0%}: {'met' if ratio >= target else 'MISSED'})"
        if r.get("cpu_ms"):
            s += f"  | server CPU {r['cpu_ms']:.3f} ms/req"
            if base and base.get("cpu_ms"):
                s += f" ({base['cpu_ms'] / r['cpu_ms']:.1%} of the baseline's requests per CPU second)"
        if r["non2xx"] or r["socket_errors"]:
            s += f"  [non-2xx {r['non2xx']}, socket errors {r['socket_errors'] or 0}]"
        return s

    print("guest reader, quota unlimited (the meter stays out of the way):")
    print(line("trivial view /healthz/ping", cached["trivial"]))
    print(line(f"code page {args.code}, cached", cached["cached"], cached["trivial"], TARGETS["cached"]))
    if "distinct" in cached:
        print(line(f"{args.distinct} distinct code pages, first views", cached["distinct"], cached["trivial"]))
    print(line("trivial view (server with CACHE_BACKEND=dummy)", uncached["trivial"]))
    print(line(f"code page {args.code}, uncached", uncached["uncached"], uncached["trivial"], TARGETS["uncached"]))
    print("logged-in paid reader (ratios to the trivial view that identifies the visitor):")
    for got, name in ((cached, "cached"), (uncached, "uncached")):
        base = got["trivial+visitor, paid"]
        print(line(f"trivial view identifying the visitor ({'dummy cache' if name == 'uncached' else 'cache'})",
                   base, got["trivial"]))
        print(line(f"code page {args.code}, {name}", got[f"{name}, paid"], base))
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
