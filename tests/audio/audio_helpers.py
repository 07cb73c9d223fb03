"""Helpers for the audio tests: real audio files in several encodings, and a real HTTP server on
127.0.0.1 that serves them with the caching headers a test sets and records every request.

A plain module rather than a conftest.py (as tests/media/media_helpers.py).
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import lameenc
import numpy as np

from wirexa.audio.fetch import AudioFetcher
from wirexa.media.codecs import PCMA, PCMU

PCM_RATE = 8000  # what decode_audio returns: 8 kHz 16-bit mono


def sine(frequency: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    """A float tone in [-1, 1], with 5 ms ramps so that MP3's edges stay clean."""
    n = int(round(seconds * rate))
    x = np.sin(2 * np.pi * frequency * np.arange(n) / rate) * amplitude
    ramp = min(n // 2, int(rate * 0.005))
    if ramp:
        env = np.linspace(0.0, 1.0, ramp)
        x[:ramp] *= env
        x[-ramp:] *= env[::-1]
    return x


def interleave(*channels: np.ndarray) -> np.ndarray:
    return np.stack(channels, axis=1).reshape(-1)


_FORMAT_TAGS = {"u8": (1, 8), "s16": (1, 16), "s24": (1, 24), "s32": (1, 32), "f32": (3, 32),
                "alaw": (6, 8), "ulaw": (7, 8)}


def wav_file(samples: np.ndarray, rate: int, channels: int = 1, encoding: str = "s16") -> bytes:
    """Interleaved float samples in [-1, 1] → the bytes of a WAV file in `encoding`
    (u8, s16, s24, s32, f32, ulaw, alaw), written by hand to cover what `wave` cannot."""
    x = np.clip(samples, -1.0, 1.0)
    s16 = np.rint(x * 32767).astype("<i2").tobytes()
    if encoding == "u8":
        data = np.rint(x * 127 + 128).astype(np.uint8).tobytes()
    elif encoding == "s16":
        data = s16
    elif encoding == "s24":
        wide = np.rint(x * (2**23 - 1)).astype("<i4")
        data = wide.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    elif encoding == "s32":
        data = np.rint(x * (2**31 - 1)).astype("<i4").tobytes()
    elif encoding == "f32":
        data = x.astype("<f4").tobytes()
    elif encoding == "ulaw":
        data = PCMU.encode(s16)
    elif encoding == "alaw":
        data = PCMA.encode(s16)
    else:
        raise ValueError(encoding)
    tag, bits = _FORMAT_TAGS[encoding]
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if tag != 1:
        fmt += struct.pack("<H", 0)  # cbSize: non-PCM formats carry the extension size
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    if len(data) % 2:
        chunks += b"\x00"
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def mp3_file(samples: np.ndarray, rate: int, channels: int = 1, kbps: int = 128) -> bytes:
    """Interleaved float samples → MP3 made by LAME (lameenc), at the input's own rate."""
    enc = lameenc.Encoder()
    enc.set_bit_rate(kbps)
    enc.set_in_sample_rate(rate)
    enc.set_out_sample_rate(rate)
    enc.set_channels(channels)
    enc.set_quality(2)
    pcm = np.rint(np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return bytes(enc.encode(pcm) + enc.flush())


def sox_convert(wav: bytes, suffix: str, tmp: Path) -> bytes:
    """WAV → FLAC / OGG Vorbis with Debian's sox (callers skip when it is missing)."""
    sox = shutil.which("sox")
    assert sox is not None
    src, dst = tmp / "in.wav", tmp / f"out.{suffix}"
    src.write_bytes(wav)
    subprocess.run([sox, str(src), str(dst)], check=True, capture_output=True, timeout=30)
    return dst.read_bytes()


def seconds(pcm: bytes) -> float:
    return len(pcm) / 2 / PCM_RATE


def sound_span(pcm: bytes, fraction: float = 0.1) -> float:
    """Seconds from the first to the last sample louder than `fraction` of the peak."""
    x = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.nonzero(x > fraction * x.max())[0]
    return (loud[-1] - loud[0] + 1) / PCM_RATE


# -- a real HTTP server ----------------------------------------------------------------------


@dataclass
class Resource:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # sent with 200 and with 304
    status: int = 200
    delay: float = 0.0  # seconds before answering
    content_length: bool = True  # False: no Content-Length, the body ends when the socket closes
    declared_length: int | None = None  # a Content-Length that lies (a truncated transfer)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]  # lower-case names


class AudioServer:
    """ThreadingHTTPServer on 127.0.0.1 serving `resources` by path. It answers conditional
    requests the way real servers do: 304 when If-None-Match matches the ETag (or, without
    If-None-Match, when If-Modified-Since equals Last-Modified)."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def seen(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append(SeenRequest(handler.path, headers))
            res = self.resources.get(handler.path)
        try:
            if res is None:
                body = b"<html><body><h1>404 Not Found</h1></body></html>"
                handler.send_response(404)
                handler.send_header("Content-Type", "text/html")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)
                return
            if res.delay:
                time.sleep(res.delay)
            if res.status == 200 and self._not_modified(res, headers):
                handler.send_response(304)
                for name, value in res.headers.items():
                    if name.lower() != "content-type":
                        handler.send_header(name, value)
                handler.end_headers()
                return
            handler.send_response(res.status)
            for name, value in res.headers.items():
                handler.send_header(name, value)
            if res.declared_length is not None:
                handler.send_header("Content-Length", str(res.declared_length))
            elif res.content_length:
                handler.send_header("Content-Length", str(len(res.body)))
            handler.end_headers()
            handler.wfile.write(res.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout or a size limit test)

    @staticmethod
    def _not_modified(res: Resource, request: dict[str, str]) -> bool:
        etag = next((v for k, v in res.headers.items() if k.lower() == "etag"), None)
        modified = next((v for k, v in res.headers.items() if k.lower() == "last-modified"), None)
        if "if-none-match" in request:
            return etag is not None and request["if-none-match"] == etag
        return modified is not None and request.get("if-modified-since") == modified


_TLS = ssl.create_default_context()  # built once: httpx takes ~0.15 s per client otherwise


@contextlib.asynccontextmanager
async def audio_fetcher(cache_dir: Path, timeout: float = 5.0, **options: int) -> AsyncIterator[AudioFetcher]:
    """An AudioFetcher on a fresh httpx client (open and closed inside the running loop)."""
    async with httpx.AsyncClient(timeout=timeout, verify=_TLS) as http:
        yield AudioFetcher(cache_dir, http, **options)
