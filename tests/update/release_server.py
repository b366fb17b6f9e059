"""A real HTTP server on loopback that plays CMS/CDC for `medcode data update`: it serves files with
Range requests (206, Content-Range, If-Range against an ETag) and can misbehave on cue.

    with ReleaseServer() as srv:
        srv.add("/files/zip/rvu26b.zip", path_or_bytes)
        srv.cut_once("/files/zip/rvu26b.zip", 100_000)   # the first GET stops after 100,000 bytes
        srv.url("/files/zip/rvu26b.zip")
        srv.log                                           # [(method, path, Range header, status), ...]
"""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _serve(self, body: bool):
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        rng = self.headers.get("Range")
        entry = owner.files.get(path)
        if entry is None:
            owner.record(self.command, path, rng, 404)
            payload = b"<html><body>404 Not Found</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)
            return
        data = entry if isinstance(entry, bytes) else Path(entry).read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        start, status = 0, 200
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        if m and self.headers.get("If-Range") in (None, etag):
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else len(data) - 1
            if start >= len(data):
                owner.record(self.command, path, rng, 416)
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data_part, status = data[start:end + 1], 206
        else:
            data_part = data
        owner.record(self.command, path, rng, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/zip" if path.endswith(".zip") else "application/octet-stream")
        self.send_header("Content-Length", str(len(data_part)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{start + len(data_part) - 1}/{len(data)}")
        self.end_headers()
        if not body:
            return
        cut = owner.take_cut(path)
        if cut is not None:  # announce the whole length, send part of it, hang up
            self.wfile.write(data_part[:cut])
            self.wfile.flush()
            self.close_connection = True
            try:
                import socket

                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(data_part)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "ReleaseServer"


class ReleaseServer:
    def __init__(self):
        self.files: dict[str, bytes | Path] = {}
        self.log: list[tuple[str, str, str | None, int]] = []
        self._cuts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="release-server", daemon=True)

    def __enter__(self) -> "ReleaseServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, content: bytes | Path) -> str:
        self.files[path] = content
        return self.url(path)

    def cut_once(self, path: str, after_bytes: int) -> None:
        with self._lock:
            self._cuts[path] = after_bytes

    def take_cut(self, path: str) -> int | None:
        with self._lock:
            return self._cuts.pop(path, None)

    def record(self, method, path, rng, status) -> None:
        with self._lock:
            self.log.append((method, path, rng, status))

    def requests(self, path: str) -> list[tuple[str, str, str | None, int]]:
        with self._lock:
            return [r for r in self.log if r[1] == path]
