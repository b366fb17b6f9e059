"""Run one piece of work in many threads released at once: the tests' way to race a limit."""

from __future__ import annotations

import threading

from django.db import connections


def race(n: int, call) -> list:
    """call(i) for i < n in n threads released together (each its own connection, closed after);
    the results in i's order, an exception kept as the result."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = call(i)
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results
