"""A small OpenAI-compatible chat-completions server on loopback, for the assistant's model tests.

Real HTTP (http.server in a thread), scripted by the request's `model`:

    script:echo       streams the FACTS back, reworded only by a lead-in (what a faithful model does)
    script:invented   the facts plus invented codes: "K21.99" and "I50.99" (the guard must flag them)
    script:unsourced  the facts plus a real code the sources did not give (E11.9)
    script:slow       the facts, one word every `SLOW_GAP` seconds (a deadline must cut it short)
    script:trickle    the facts, one word every `TRICKLE_GAP` seconds, then a pause (a browser sees it stream in)
    script:hang       says nothing for `HANG` seconds (a read timeout must cut it short)
    script:garbage    200 text/event-stream whose data is not JSON
    script:html       200 text/html (a proxy's error page)
    script:http500    HTTP 500 with an error body
    script:nodone     a stream that breaks off without [DONE]
    script:empty      a well-formed stream with no text
    script:json       ignores stream: true and answers one JSON completion

Every request is kept (`server.requests`) so tests can read the prompt that was sent.
Run it by hand for an evaluation with the scripted model: python tests/scripted_llm.py [PORT]
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SLOW_GAP = 0.25
TRICKLE_GAP = 0.05
TRICKLE_HOLD = 1.5  # before [DONE]: a window in which a browser surely sees the answer half-written
HANG = 5.0


def facts_of(body: dict) -> list[str]:
    """The FACTS lines of the user message (the assistant's llm.messages puts them there)."""
    user = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"), "")
    _, _, facts = user.partition("FACTS:")
    return [line[2:].strip() for line in facts.strip().splitlines() if line.startswith("- ")]


def _strip_refs(fact: str) -> str:
    return re.sub(r"\s*\[[^\]]*\]\s*$", "", fact).strip()


def script_text(script: str, body: dict) -> str:
    facts = [_strip_refs(f) for f in facts_of(body)]
    text = "From the sources: " + " ".join(f if f.endswith((".", "?", "!")) else f + "." for f in facts)
    if script == "invented":
        text += " Related codes: K21.99 and I50.99 are also commonly used."
    elif script == "unsourced":
        text += " You may also want E11.9."
    return text


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def _bits(text: str, n: int = 3) -> list[str]:
    """n characters at a time: codes arrive cut in pieces ("K21", ".99"), as tokens do."""
    return [text[i:i + n] for i in range(0, len(text), n)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "ScriptedServer"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _sse(self, pieces, *, done: bool = True, gap: float = 0.0, hold: float = 0.0) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._chunk(b": scripted\n\n")
            for i, piece in enumerate(pieces):
                doc = {"id": "c1", "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": ({"role": "assistant"} if i == 0 else {}) | {"content": piece},
                                    "finish_reason": None}]}
                self._chunk(f"data: {json.dumps(doc)}\n\n".encode())
                if gap:
                    time.sleep(gap)
            time.sleep(hold)
            if done:
                end = {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self._chunk(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a deadline): what the test wants
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        with self.server.lock:
            self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if not self.path.endswith("/chat/completions"):
            return self._send(404, "application/json", b'{"error": {"message": "no such route"}}')
        script = str(body.get("model", "")).removeprefix("script:")
        if script == "echo":
            return self._sse(_words(script_text(script, body)))
        if script in ("invented", "unsourced"):
            return self._sse(_bits(script_text(script, body)))
        if script == "slow":
            return self._sse(_words(script_text("echo", body)), gap=SLOW_GAP)
        if script == "trickle":
            return self._sse(_words(script_text("echo", body)), gap=TRICKLE_GAP, hold=TRICKLE_HOLD)
        if script == "hang":
            time.sleep(HANG)
            return self._sse(_words(script_text("echo", body)))
        if script == "garbage":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            payload = b"data: this is not json {{{\n\ndata: [DONE]\n\n"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return None
        if script == "html":
            return self._send(200, "text/html", b"<html><body>502 Bad Gateway</body></html>")
        if script == "http500":
            return self._send(500, "application/json", b'{"error": {"message": "model overloaded"}}')
        if script == "nodone":
            return self._sse(_words("Half of an answer that never"), done=False)
        if script == "empty":
            return self._sse([])
        if script == "json":
            doc = {"id": "c1", "object": "chat.completion",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": script_text("echo", body)},
                                "finish_reason": "stop"}]}
            return self._send(200, "application/json", json.dumps(doc).encode())
        return self._send(400, "application/json", json.dumps({"error": {"message": f"unknown script {script}"}}).encode())


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), Handler)
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


@pytest.fixture(scope="session")
def llm_server():
    """The scripted server for the whole session (tests read and clear its requests)."""
    with running_server() as server:
        yield server


@contextmanager
def running_server():
    server = ScriptedServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    srv = ScriptedServer(int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
    print(f"scripted chat-completions server at {srv.base_url} (models script:echo, script:invented, ...)")
    srv.serve_forever()
