"""Audio for `<Play>`: fetched over HTTP(S), decoded to 8 kHz mono PCM, cached like an HTTP
cache would (RFC 9111, the parts a media server needs).

- The decoded PCM is kept on disk (`<sha256(url)>.json` metadata next to a content-named
  `.pcm` file, both written atomically) and, in front of that, in a small in-memory LRU.
- Freshness comes from `Cache-Control: max-age` (minus `Age`), else `Expires` (against the
  response's `Date`). While fresh, no request is made. Once stale (or with `no-cache`, or with
  only validators and no freshness information) the next play revalidates with
  `If-None-Match` / `If-Modified-Since`; a 304 reuses the cached PCM. There is no heuristic
  freshness: a file changed on the server is heard on the next play.
- `no-store` (and `Vary: *`) responses are never cached, and drop what was cached for the URL.
- Concurrent `get()`s of one URL share one download and one decode.
- Decoding and disk I/O run in threads (`asyncio.to_thread`): the loop may also pace RTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from wirexa.audio.decode import decode_audio
from wirexa.audio.pcm import AudioError
from wirexa.files import write_atomically

CACHE_FORMAT = 1
# Response headers kept with a cache entry; a 304 may update them (RFC 9111 section 4.3.4).
STORED_HEADERS = ("etag", "last-modified", "cache-control", "expires", "content-type")


@dataclass(frozen=True)
class CacheEntry:
    """What is known about one cached URL; `pcm_file` is a file name inside the cache dir."""

    headers: dict[str, str]
    fresh_until: float  # epoch seconds; at or after it the entry must be revalidated
    pcm_file: str
    pcm_bytes: int
    url: str  # without credentials, for people looking at the cache dir

    @property
    def fresh(self) -> bool:
        return time.time() < self.fresh_until

    def conditional_headers(self) -> dict[str, str]:
        headers = {}
        if "etag" in self.headers:
            headers["If-None-Match"] = self.headers["etag"]
        if "last-modified" in self.headers:
            headers["If-Modified-Since"] = self.headers["last-modified"]
        return headers


class AudioFetcher:
    """`await fetcher.get(url)` → 8 kHz 16-bit mono PCM of the audio file at `url`, or
    AudioError with a message naming the URL. One instance per process and event loop."""

    def __init__(self, cache_dir: Path, http: httpx.AsyncClient, *, max_bytes: int = 50 * 1024 * 1024,
                 memory_items: int = 64) -> None:
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.cache_dir.glob(".tmp-*"):  # left by a process killed mid-write
            with contextlib.suppress(OSError):
                if tmp.stat().st_mtime < time.time() - 3600:
                    tmp.unlink()
        self.http = http
        self.max_bytes = max_bytes
        self.memory_items = memory_items
        self._memory: OrderedDict[str, tuple[CacheEntry, bytes]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[bytes]] = {}

    async def get(self, url: str) -> bytes:
        url = checked_url(url)
        hit = self._memory.get(url)
        if hit is not None and hit[0].fresh:
            self._memory.move_to_end(url)
            return hit[1]
        task = self._inflight.get(url)
        if task is None:
            task = asyncio.ensure_future(self._load(url))
            self._inflight[url] = task
            task.add_done_callback(functools.partial(self._landed, url))
        # shield: one caller giving up (a hangup) must not cancel the others' download
        return await asyncio.shield(task)

    def _landed(self, url: str, task: asyncio.Future[bytes]) -> None:
        if self._inflight.get(url) is task:
            del self._inflight[url]
        if not task.cancelled():
            task.exception()  # retrieved, even when every waiter has gone

    async def _load(self, url: str) -> bytes:
        cached = self._memory.get(url)
        if cached is None:
            cached = await asyncio.to_thread(self._read_disk, url)
        if cached is not None and cached[0].fresh:
            self._remember(url, *cached)
            return cached[1]
        conditional = cached[0].conditional_headers() if cached is not None else {}
        status, headers, body = await self._download(url, conditional)
        now = time.time()
        if status == 304:
            if cached is None:  # we sent no validators: the server is confused
                raise AudioError(f"GET {redacted(url)} answered 304 Not Modified to an unconditional request")
            entry, pcm = cached
            merged = {**entry.headers, **stored_headers(headers)}
            fresh_until = freshness(merged, headers, now)
            if fresh_until is None or not cacheable(merged, fresh_until, now):
                self._memory.pop(url, None)
                await asyncio.to_thread(self._forget_disk, url)
                return pcm
            if merged != entry.headers or fresh_until > now:  # else the disk copy says the same
                entry = replace(entry, headers=merged, fresh_until=fresh_until)
                await asyncio.to_thread(self._write_meta, url, entry)
            self._remember(url, entry, pcm)
            return pcm
        kept = stored_headers(headers)
        fresh_until = freshness(kept, headers, now)
        if fresh_until is not None and not cacheable(kept, fresh_until, now):
            fresh_until = None
        pcm, stored = await asyncio.to_thread(self._decode_and_store, url, body, kept, fresh_until)
        if stored is None:
            self._memory.pop(url, None)
        else:
            self._remember(url, stored, pcm)
        return pcm

    async def _download(self, url: str, conditional: dict[str, str]) -> tuple[int, httpx.Headers, bytes]:
        shown = redacted(url)
        try:
            async with self.http.stream("GET", url, headers=conditional, follow_redirects=True) as response:
                if response.status_code == 304 and conditional:
                    return 304, response.headers, b""
                if not response.is_success:
                    raise AudioError(f"GET {shown} answered HTTP {response.status_code} "
                                     f"{response.reason_phrase}".rstrip())
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > self.max_bytes:
                    raise AudioError(f"GET {shown}: the file is {int(length)} bytes, over the "
                                     f"{self.max_bytes} byte limit")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise AudioError(f"GET {shown}: the file is over the {self.max_bytes} byte limit")
                return response.status_code, response.headers, bytes(body)
        except httpx.TimeoutException as exc:
            raise AudioError(f"GET {shown} timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise AudioError(f"GET {shown} failed: {type(exc).__name__}: {exc}") from None

    # -- the rest runs in worker threads (blocking CPU and disk work) -----------------------

    def _decode_and_store(self, url: str, body: bytes, headers: dict[str, str],
                          fresh_until: float | None) -> tuple[bytes, CacheEntry | None]:
        try:
            pcm = decode_audio(body)
        except AudioError as exc:
            content_type = headers.get("content-type", "none")
            raise AudioError(f"GET {redacted(url)} (Content-Type: {content_type}, {len(body)} bytes) "
                             f"is not playable audio: {exc}") from None
        if fresh_until is None:
            self._forget_disk(url)
            return pcm, None
        pcm_file = f"{cache_key(url)}-{hashlib.sha256(pcm).hexdigest()[:16]}.pcm"
        entry = CacheEntry(headers, fresh_until, pcm_file, len(pcm), redacted(url))
        previous = self._read_meta(url)
        write_atomically(self.cache_dir / pcm_file, pcm)
        self._write_meta(url, entry)
        if previous is not None and previous.pcm_file != pcm_file:
            (self.cache_dir / previous.pcm_file).unlink(missing_ok=True)
        return pcm, entry

    def _meta_path(self, url: str) -> Path:
        return self.cache_dir / f"{cache_key(url)}.json"

    def _read_meta(self, url: str) -> CacheEntry | None:
        try:
            raw = json.loads(self._meta_path(url).read_bytes())
            if raw.pop("format") != CACHE_FORMAT:
                return None
            entry = CacheEntry(**raw)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None  # missing, damaged, or written by another version: a miss
        valid = (isinstance(entry.headers, dict) and all(isinstance(v, str) for v in entry.headers.values())
                 and isinstance(entry.fresh_until, (int, float)) and isinstance(entry.pcm_bytes, int)
                 and isinstance(entry.pcm_file, str) and Path(entry.pcm_file).name == entry.pcm_file)
        return entry if valid else None

    def _read_disk(self, url: str) -> tuple[CacheEntry, bytes] | None:
        entry = self._read_meta(url)
        if entry is None:
            return None
        try:
            pcm = (self.cache_dir / entry.pcm_file).read_bytes()
        except OSError:
            return None  # replaced by another process between the two reads
        return (entry, pcm) if len(pcm) == entry.pcm_bytes else None

    def _write_meta(self, url: str, entry: CacheEntry) -> None:
        text = json.dumps({"format": CACHE_FORMAT, **asdict(entry)}, indent=1)
        write_atomically(self._meta_path(url), text.encode())

    def _forget_disk(self, url: str) -> None:
        entry = self._read_meta(url)
        self._meta_path(url).unlink(missing_ok=True)
        if entry is not None:
            (self.cache_dir / entry.pcm_file).unlink(missing_ok=True)

    def _remember(self, url: str, entry: CacheEntry, pcm: bytes) -> None:
        if self.memory_items <= 0:
            return
        self._memory[url] = (entry, pcm)
        self._memory.move_to_end(url)
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)


def checked_url(url: str) -> str:
    """`url` without its fragment; AudioError unless it is a valid absolute http(s) URL."""
    url = url.strip().split("#", 1)[0]
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError when out of range)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise AudioError(f"invalid URL {redacted(url)!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AudioError(f"only absolute http:// or https:// URLs can be played, not {redacted(url)!r}")
    return url


def redacted(url: str) -> str:
    """`url` with any user:password@ removed, for messages and the cache's metadata."""
    try:
        parts = urlsplit(url)
        if "@" not in parts.netloc:
            return url
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    except ValueError:
        return url


def cache_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in STORED_HEADERS if name in headers}


def directives(cache_control: str | None) -> dict[str, str | None]:
    """`Cache-Control` → {directive (lower case): argument or None}."""
    out: dict[str, str | None] = {}
    for part in (cache_control or "").split(","):
        name, sep, value = part.strip().partition("=")
        if name:
            out[name.strip().lower()] = value.strip().strip('"') if sep else None
    return out


def freshness(headers: Mapping[str, str], response: Mapping[str, str], now: float) -> float | None:
    """When a response with (stored) `headers` stops being fresh, as epoch seconds; None when it
    must not be stored. `response` is the latest response itself (its `Date` and `Age`)."""
    cc = directives(headers.get("cache-control"))
    if "no-store" in cc or response.get("vary", "").strip() == "*":
        return None
    lifetime = 0.0
    if "no-cache" in cc:
        lifetime = 0.0
    elif "max-age" in cc:
        value = cc["max-age"] or ""
        lifetime = float(value) if value.isdigit() else 0.0
    elif "expires" in headers:
        expires = http_date(headers["expires"])  # an invalid date ("0") means already expired
        date = http_date(response.get("date", "")) or now
        lifetime = expires - date if expires is not None else 0.0
    age = response.get("age", "").strip()
    return now + max(0.0, lifetime - (float(age) if age.isdigit() else 0.0))


def cacheable(headers: Mapping[str, str], fresh_until: float, now: float) -> bool:
    """Worth keeping: fresh for a while, or revalidatable."""
    return fresh_until > now or "etag" in headers or "last-modified" in headers


def http_date(value: str) -> float | None:
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": HTTP dates are GMT anyway
            when = when.replace(tzinfo=timezone.utc)
        return when.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
