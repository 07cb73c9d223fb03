"""A local stand-in for the four cloud TTS vendors: one HTTP server on 127.0.0.1 that speaks
each vendor's protocol, checks its authentication and request body the way the vendor would,
and answers with real audio: a tone whose frequency says which vendor rendered it and whose
length grows with the text.

A plain module rather than a conftest.py: other test folders import their conftest by name.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from defusedxml import ElementTree

from wirexa.audio.pcm import tone, wav_bytes
from wirexa.config import Settings
from wirexa.tts import sigv4

AWS_KEY_ID, AWS_SECRET, AWS_REGION = "AKIDTESTWIREXA", "test/secret+KEY", "eu-west-1"
GOOGLE_KEY = "google-test-key"
ELEVEN_KEY = "eleven-test-key"
AZURE_KEY = "azure-test-key"
# Which vendor spoke is audible: each answers with its own tone.
FREQUENCY = {"polly": 400.0, "google": 600.0, "elevenlabs": 800.0, "azure": 1000.0}


def speech_seconds(text: str) -> float:
    return round(0.2 + 0.01 * len(text), 3)


@dataclass
class Seen:
    vendor: str
    text: str
    voice: str
    body: Any
    done: bool = False


@dataclass
class FakeVendors:
    """`mode[vendor]`: "ok", an HTTP status to fail with, "hang" (answer only after 5 s) or
    "html" (a 200 error page instead of audio). `hold(text)` makes requests whose text
    contains `text` wait until the returned event is set (2 s at most)."""
    mode: dict[str, str | int] = field(default_factory=lambda: {v: "ok" for v in FREQUENCY})
    seen: list[Seen] = field(default_factory=list)
    held: dict[str, threading.Event] = field(default_factory=dict)
    url: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)

    def hold(self, text: str) -> threading.Event:
        self.held[text] = threading.Event()
        return self.held[text]

    def requests(self, vendor: str | None = None) -> list[Seen]:
        return [s for s in self.seen if vendor in (None, s.vendor)]

    def settings(self, data_dir: Path, *vendors: str, **overrides: Any) -> Settings:
        """Settings with credentials for `vendors` (all four when none are named)."""
        vendors = vendors or tuple(FREQUENCY)
        values: dict[str, Any] = dict(
            data_dir=data_dir, tts_timeout=0.5, polly_region=AWS_REGION, polly_endpoint=self.url,
            google_tts_endpoint=self.url, elevenlabs_endpoint=self.url, azure_speech_endpoint=self.url)
        if "polly" in vendors:
            values.update(polly_access_key_id=AWS_KEY_ID, polly_secret_access_key=AWS_SECRET)
        if "google" in vendors:
            values.update(google_tts_api_key=GOOGLE_KEY)
        if "elevenlabs" in vendors:
            values.update(elevenlabs_api_key=ELEVEN_KEY)
        if "azure" in vendors:
            values.update(azure_speech_key=AZURE_KEY)
        return Settings(**{**values, **overrides})

    # -- the server -------------------------------------------------------------------------

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    status, kind, payload = fake._answer(self, body)
                except AssertionError as exc:  # the client broke the vendor's protocol
                    status, kind, payload = 400, "application/json", json.dumps({"error": str(exc)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (timeout, cancelled sentence) closed the socket

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        for event in self.held.values():
            event.set()
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, str, bytes]:
        split = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        headers = {k.lower(): v for k, v in request.headers.items()}
        if split.path == "/v1/speech":
            vendor, auth, text, voice = "polly", *self._polly(request, headers, body)
        elif split.path == "/v1/text:synthesize":
            vendor, auth, text, voice = "google", *self._google(query, body)
        elif split.path.startswith("/v1/text-to-speech/"):
            vendor, auth, text, voice = "elevenlabs", *self._eleven(split.path, query, headers, body)
        elif split.path == "/cognitiveservices/v1":
            vendor, auth, text, voice = "azure", *self._azure(headers, body)
        else:
            return 404, "text/plain", b"no such endpoint"
        seen = Seen(vendor, text, voice, body)
        self.seen.append(seen)
        try:
            if auth is not None:
                return auth
            for held_text, event in list(self.held.items()):
                if held_text in text:
                    event.wait(2.0)
            mode = self.mode[vendor]
            if mode == "hang":
                self._stop.wait(5.0)
            if mode == "html":
                return 200, "text/html", b"<html>Service temporarily unavailable</html>"
            if isinstance(mode, int):
                return mode, "application/json", json.dumps({"message": f"{vendor} says {mode}"}).encode()
            pcm = tone(FREQUENCY[vendor], speech_seconds(text))
            if vendor == "google":  # LINEAR16 arrives as a base64 WAV file
                return 200, "application/json", json.dumps(
                    {"audioContent": base64.b64encode(wav_bytes(pcm)).decode()}).encode()
            return 200, "audio/pcm" if vendor != "azure" else "audio/x-wav", pcm
        finally:
            seen.done = True

    # Each returns (error response or None when authenticated, text, voice).

    @staticmethod
    def _polly(request: BaseHTTPRequestHandler, headers: dict[str, str],
               body: bytes) -> tuple[tuple[int, str, bytes] | None, str, str]:
        data = json.loads(body)
        assert headers.get("content-type") == "application/json"
        assert data["OutputFormat"] == "pcm" and data["SampleRate"] == "8000", data
        assert data["TextType"] == "text" and data["Engine"] in ("standard", "neural"), data
        denied = (403, "application/json", b'{"message": "The request signature we calculated does not match"}')
        match = re.fullmatch(
            r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/polly/aws4_request, "
            r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", headers.get("authorization", ""))
        if not match or match[1] != AWS_KEY_ID or match[3] != AWS_REGION:
            return denied, data["Text"], data["VoiceId"]
        names = match[4].split(";")
        assert {"host", "x-amz-date", "content-type"} <= set(names), names
        amz_date = headers["x-amz-date"]
        skew = datetime.now(timezone.utc) - datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        assert abs(skew.total_seconds()) < 300 and amz_date.startswith(match[2])
        # Recomputed from what arrived, as AWS does: any header or body changed after signing
        # (or signed differently from what was sent) fails here.
        expected = sigv4.signature(
            secret_access_key=AWS_SECRET, region=AWS_REGION, service="polly", amz_date=amz_date,
            method=request.command, url=httpx.URL(f"http://{headers['host']}{request.path}"),
            headers={n: headers[n] for n in names}, body=body)
        if not hmac.compare_digest(expected, match[5]):
            return denied, data["Text"], data["VoiceId"]
        return None, data["Text"], data["VoiceId"]

    @staticmethod
    def _google(query: dict[str, str], body: bytes) -> tuple[tuple[int, str, bytes] | None, str, str]:
        data = json.loads(body)
        assert data["audioConfig"] == {"audioEncoding": "LINEAR16", "sampleRateHertz": 8000}, data
        voice = data["voice"]
        assert voice["name"].startswith(voice["languageCode"] + "-"), voice  # Google insists
        if query.get("key") != GOOGLE_KEY:
            return (403, "application/json", b'{"error": {"code": 403, "message": "API key not valid"}}'), \
                data["input"]["text"], voice["name"]
        return None, data["input"]["text"], voice["name"]

    @staticmethod
    def _eleven(path: str, query: dict[str, str], headers: dict[str, str],
                body: bytes) -> tuple[tuple[int, str, bytes] | None, str, str]:
        data = json.loads(body)
        assert query.get("output_format") == "pcm_8000", query
        assert data["model_id"], data
        voice = path.rsplit("/", 1)[1]
        if headers.get("xi-api-key") != ELEVEN_KEY:
            return (401, "application/json", b'{"detail": {"status": "invalid_api_key"}}'), data["text"], voice
        return None, data["text"], voice

    @staticmethod
    def _azure(headers: dict[str, str], body: bytes) -> tuple[tuple[int, str, bytes] | None, str, str]:
        assert headers.get("content-type") == "application/ssml+xml", headers
        assert headers.get("x-microsoft-outputformat") == "raw-8khz-16bit-mono-pcm", headers
        assert headers.get("user-agent"), headers
        speak = ElementTree.fromstring(body)
        voice = speak.find("{http://www.w3.org/2001/10/synthesis}voice")
        assert voice is not None and speak.get("{http://www.w3.org/XML/1998/namespace}lang"), body
        text, name = voice.text or "", voice.get("name", "")
        if headers.get("ocp-apim-subscription-key") != AZURE_KEY:
            return (401, "application/json", b'{"error": "Access denied due to invalid subscription key"}'), text, name
        return None, text, name


def wait_until(condition: Any, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())
