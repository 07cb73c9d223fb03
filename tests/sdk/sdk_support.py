"""A real HTTP server on 127.0.0.1 that records every raw request the SDK sends and answers
with canned responses, for comparing the SDK's requests with wire-compat.md."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Credentials for tests against the recording server.
PROJECT = "a1b2c3d4-0000-4000-8000-000000000001"
TOKEN = "PT" + "0123456789abcdef" * 2


@dataclass
class Seen:
    """One request exactly as it arrived."""

    method: str
    target: str  # path and query, as on the request line
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.target).query, keep_blank_values=True)

    @property
    def form(self) -> list[tuple[str, str]]:
        """The urlencoded body as (name, value) pairs, repeated names kept in order."""
        return parse_qsl(self.body.decode(), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)


# (status, body): a dict/list is sent as JSON, a str as text/plain, None as an empty body.
Answer = tuple[int, Any]


class RecordingServer:
    """`server.answer("GET", "/path", (200, {...}))`; unanswered requests get Twilio's 404."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answers: dict[tuple[str, str], Answer | Callable[[Seen], Answer]] = {}
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                got = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                           self.rfile.read(length) if length else b"")
                with recorder._lock:
                    recorder.seen.append(got)
                    answer = recorder.answers.get((got.method, got.path))
                if callable(answer):
                    answer = answer(got)
                if answer is None:
                    answer = (404, {"code": 20404, "message": f"The requested resource {got.path} was not found",
                                    "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404})
                status, body = answer
                if body is None:
                    data, ctype = b"", None
                elif isinstance(body, str):
                    data, ctype = body.encode(), "text/plain"
                else:
                    data, ctype = json.dumps(body).encode(), "application/json"
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def answer(self, method: str, path: str, answer: Answer | Callable[[Seen], Answer]) -> None:
        with self._lock:
            self.answers[(method, path)] = answer

    def last(self) -> Seen:
        with self._lock:
            return self.seen[-1]

    def take(self) -> list[Seen]:
        """The requests seen since the last take()."""
        with self._lock:
            seen, self.seen = self.seen, []
            return seen

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
