"""A user's backend for tests: a real HTTP server on 127.0.0.1 answering LaML requests with
documents the test registers per path, and keeping every request it received."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

Answer = str | tuple[int, str, str | bytes] | Callable[["Received"], "str | tuple[int, str, str | bytes]"]


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    url: str  # as the server was asked for it (for signature checks)
    at: float = field(default_factory=time.monotonic)
    body: str = ""  # the raw request body (JSON callbacks)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def params(self) -> dict[str, str]:
        return self.form if self.method == "POST" else self.query


class Backend:
    """`backend.route("/voice", "<Response>...</Response>")`, or a function of the request
    returning a document or (status, content type, body). Unknown paths answer 404."""

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Answer] = {}
        self.received: list[Received] = []
        self._changed = threading.Condition()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                host = self.headers.get("Host", "")
                got = Received(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                               dict(parse_qsl(body, keep_blank_values=True)), dict(self.headers.items()),
                               f"http://{host}{self.path}", body=body)
                answer = backend.routes.get(parts.path)
                with backend._changed:
                    backend.received.append(got)
                    backend._changed.notify_all()
                if callable(answer):
                    answer = answer(got)
                if answer is None:
                    status, ctype, text = 404, "text/plain", "not found"
                elif isinstance(answer, tuple):
                    status, ctype, text = answer
                else:
                    status, ctype, text = 200, "text/xml", answer
                data = text.encode() if isinstance(text, str) else text
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def route(self, path: str, answer: Answer) -> str:
        self.routes[path] = answer
        return self.url + path

    def requests(self, path: str | None = None, call_sid: str | None = None) -> list[Received]:
        with self._changed:
            return [r for r in self.received
                    if (path is None or r.path == path) and (call_sid is None or r.params.get("CallSid") == call_sid)]

    def wait_for(self, path: str, call_sid: str | None = None, count: int = 1, timeout: float = 15.0) -> list[Received]:
        """The requests to `path` once there are `count` of them (or what came when time ran out)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self.received
                         if r.path == path and (call_sid is None or r.params.get("CallSid") == call_sid)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._changed.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# A document that keeps a call up (for tests about the call, not about LaML).
HOLD = '<Response><Pause length="600"/></Response>'
