"""Email consult latency benchmark (issue 8): from the gateway accepting a mail to the reply reaching the relay.

Real processes, as `make run` starts them: `medcode smtpd` and `medcode worker` (default poll interval,
1 s) on a fresh app database (SQLite in a temporary MEDCODE_HOME, or a new PostgreSQL database when
DATABASE_URL points at PostgreSQL), the reply relay an aiosmtpd sink on loopback. A mail is sent with
smtplib; the clock starts when the gateway answers 250 to its DATA and stops when the sink receives
the reply. Target (issue 8): p95 <= 5 s over 50 messages.

Two runs of 50: "paced" (one mail at a time, the next once the previous reply arrived: the latency a
coder sees) and "burst" (50 mails at once: queueing behind one worker included). The baseline,
measured in the same run: one SMTP hand-over to the sink (the transport alone) plus one in-process
assistant answer (the work alone); the ratio says what the gateway, the queue and the worker add.

Run: .venv/bin/python bench/consult.py [--book PATH] [--n 50] [--interval 1.0]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "consult"))

QUESTIONS = [
    "Is E11.9 billable?",
    "Is E11 billable?",
    "Is I10 billable?",
    "What is the code for type 2 diabetes with CKD stage 3?",
    "Can 0DTJ4ZZ be reported for a laparoscopic appendectomy?",
    "Is J45.909 valid for a visit on 2025-03-01?",
    "What are the excludes1 notes of K21.9?",
    "Is Z00.00 billable?",
]
CODER = "bench@client.test"


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class TimingSink:
    """The relay: notes when each reply arrives, by the question's Message-ID it answers."""

    def __init__(self):
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        now = time.perf_counter()
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.cond:
            self.arrived[str(msg["In-Reply-To"])] = now
            self.cond.notify_all()
        return "250 OK"

    def wait(self, ids: list[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(i in self.arrived for i in ids):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


def send(port: int, i: int, tag: str) -> tuple[str, float]:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CODER, "consult@medcode.test", f"bench {tag} {i}"
    msg["Message-ID"] = f"<{tag}-{i}-{time.time_ns()}@client.test>"
    msg.set_content(QUESTIONS[i % len(QUESTIONS)])
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(msg)
        accepted = time.perf_counter()  # send_message returned: the gateway said 250 to the DATA
    return msg["Message-ID"], accepted


def baseline(book_path: Path, sink_port: int, n: int = 20) -> dict:
    from medcode.assistant import ask
    from medcode.codebook import open_book

    book = open_book(book_path)
    ask(book, QUESTIONS[0])
    asks = []
    for i in range(n):
        t = time.perf_counter()
        ask(book, QUESTIONS[i % len(QUESTIONS)])
        asks.append(time.perf_counter() - t)
    hops = []
    for i in range(n):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "x@medcode.test", "hop@client.test", "hop"
        msg.set_content("one SMTP hand-over")
        t = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", sink_port, timeout=30) as smtp:
            smtp.send_message(msg)
        hops.append(time.perf_counter() - t)
    return {"ask_p50": statistics.median(asks), "smtp_p50": statistics.median(hops)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=None, help="codebook file (default: MEDCODE_TEST_CODEBOOK "
                        "or the configured one)")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--interval", type=float, default=1.0, help="the worker's poll interval (as `medcode worker`)")
    args = parser.parse_args()
    from aiosmtpd.controller import Controller
    from mailsink import free_port
    from procs import Site

    from medcode import config

    book = args.book or Path(os.environ.get("MEDCODE_TEST_CODEBOOK") or config.codebook_path())
    if not book.exists():
        print(f"no codebook at {book}: build one (medcode data build) or pass --book", file=sys.stderr)
        return 2
    sink = TimingSink()
    relay = Controller(sink, hostname="127.0.0.1", port=free_port())
    relay.start()
    home = Path(tempfile.mkdtemp(prefix="medcode-bench-consult-"))
    site = Site(home, book, relay.port)
    try:
        site.add_user(CODER, "paid")
        gw = free_port()
        site.smtpd(gw)
        site.worker(interval=args.interval)
        # warm-up: the worker opens the book on its first consult
        mid, _ = send(gw, 0, "warmup")
        if not sink.wait([mid], 120):
            raise SystemExit("no reply to the warm-up mail:\n" + site.logs())

        paced = []
        for i in range(args.n):
            mid, accepted = send(gw, i, "paced")
            if not sink.wait([mid], 60):
                raise SystemExit(f"no reply to paced mail {i}:\n" + site.logs())
            paced.append(sink.arrived[mid] - accepted)

        sent = [send(gw, i, "burst") for i in range(args.n)]
        if not sink.wait([m for m, _ in sent], 300):
            raise SystemExit("not every burst mail was answered:\n" + site.logs())
        burst = [sink.arrived[m] - t for m, t in sent]
        base = baseline(book, relay.port)
    finally:
        site.close()
        relay.stop()

    floor = base["ask_p50"] + base["smtp_p50"]
    db = "PostgreSQL" if site.url else "SQLite"
    print(f"email consult, gateway 250 -> reply at the relay ({db}, worker poll interval {args.interval:g} s, "
          f"{args.n} mails per run)")
    print(f"  baseline: assistant answer p50 {base['ask_p50'] * 1000:.1f} ms + one SMTP hand-over p50 "
          f"{base['smtp_p50'] * 1000:.1f} ms = {floor * 1000:.1f} ms")
    for name, values in (("paced", paced), ("burst", burst)):
        p50, p95, worst = statistics.median(values), percentile(values, 95), max(values)
        print(f"  {name:6} p50 {p50:6.2f} s  p95 {p95:6.2f} s  max {worst:6.2f} s   "
              f"p95 = {p95 / floor:,.0f}x baseline   target p95 <= 5 s: {'met' if p95 <= 5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
