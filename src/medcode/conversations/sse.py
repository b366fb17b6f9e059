"""Server-sent events for the assistant's streams (the API's and the chat page's)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator

log = logging.getLogger(__name__)


def event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def body(events: Iterable[tuple[str, object]], done: Callable[[object], dict]) -> Iterator[bytes]:
    """`delta` events ({"text"}), then `done` (done(result)); `error` when answering fails midway
    (the status line is already sent, so the error goes in the stream)."""
    try:
        for kind, data in events:
            if kind == "delta":
                yield event("delta", {"text": data})
            else:
                yield event("done", done(data))
    except Exception:  # noqa: BLE001 - logged, and told to the client in the stream's own shape
        log.exception("assistant stream failed")
        yield event("error", {"error": {"code": "internal_error",
                                        "message": "something went wrong on our side; the error has been logged"}})
