"""AudioFetcher against a real HTTP server on 127.0.0.1: decoding, HTTP caching (fresh, stale,
304, no-store), limits and errors, coalescing, and a cache that outlives the process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from audio_helpers import AudioServer, Resource, audio_fetcher, interleave, mp3_file, seconds, sine, wav_file
from wirexa.audio.decode import decode_audio
from wirexa.audio.pcm import AudioError, dominant_frequency, rms

STEREO_WAV = wav_file(interleave(sine(1000, 1.5, 44100), sine(1000, 1.5, 44100)), 44100, 2)
MP3 = mp3_file(sine(440, 1.0, 44100), 44100)
ULAW_WAV = wav_file(sine(600, 1.0, 8000), 8000, 1, "ulaw")
OTHER_WAV = wav_file(sine(2000, 0.5, 16000), 16000)
HIGH_WAV = wav_file(sine(6000, 1.0, 44100), 44100)


@pytest.fixture
def server() -> Iterator[AudioServer]:
    s = AudioServer()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "audio-cache"


def cached_files(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


def test_plays_wav_mp3_and_ulaw_over_http(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/hello.wav"] = Resource(STEREO_WAV, {"Content-Type": "audio/wav"})
    server.resources["/hello.mp3"] = Resource(MP3, {"Content-Type": "audio/mpeg"})
    server.resources["/hello-ulaw.wav"] = Resource(ULAW_WAV, {"Content-Type": "audio/basic"})
    server.resources["/high.wav"] = Resource(HIGH_WAV, {"Content-Type": "audio/x-wav"})

    async def main() -> list[bytes]:
        async with audio_fetcher(cache_dir) as fetcher:
            return [await fetcher.get(server.url(p))
                    for p in ("/hello.wav", "/hello.mp3", "/hello-ulaw.wav", "/high.wav")]

    wav, mp3, ulaw, high = asyncio.run(main())
    assert seconds(wav) == pytest.approx(1.5, abs=0.02) and dominant_frequency(wav) == pytest.approx(1000, abs=3)
    assert dominant_frequency(mp3) == pytest.approx(440, abs=2) and 1.0 <= seconds(mp3) <= 1.1
    assert seconds(ulaw) == pytest.approx(1.0, abs=0.02) and dominant_frequency(ulaw) == pytest.approx(600, abs=3)
    assert seconds(high) == pytest.approx(1.0, abs=0.02) and rms(high) < 120  # 6 kHz: filtered out
    assert wav == decode_audio(STEREO_WAV)


def test_fresh_entry_needs_no_request_and_survives_a_restart(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/a.wav"] = Resource(STEREO_WAV, {"Cache-Control": "public, max-age=300", "ETag": '"v1"'})
    url = server.url("/a.wav")

    async def first_process() -> tuple[bytes, bytes]:
        async with audio_fetcher(cache_dir) as fetcher:
            return await fetcher.get(url), await fetcher.get(url)

    async def second_process() -> bytes:
        async with audio_fetcher(cache_dir) as fetcher:
            return await fetcher.get(url)

    one, two = asyncio.run(first_process())
    assert one == two == decode_audio(STEREO_WAV)
    assert server.count("/a.wav") == 1
    server.resources["/a.wav"].body = OTHER_WAV  # not asked for while fresh, so never heard
    assert asyncio.run(second_process()) == one
    assert server.count("/a.wav") == 1
    assert any(name.endswith(".pcm") for name in cached_files(cache_dir))


def test_stale_entry_revalidates_and_304_reuses_the_cached_audio(server: AudioServer, cache_dir: Path) -> None:
    headers = {"Cache-Control": "max-age=0", "ETag": 'W/"tone-1"', "Last-Modified": formatdate(usegmt=True)}
    server.resources["/b.wav"] = Resource(STEREO_WAV, headers)
    url = server.url("/b.wav")

    async def main() -> list[bytes]:
        async with audio_fetcher(cache_dir) as fetcher:
            first = await fetcher.get(url)
            # the server would now send other bytes, but says 304: the cached PCM is what plays
            server.resources["/b.wav"].body = OTHER_WAV
            return [first, await fetcher.get(url), await fetcher.get(url)]

    first, second, third = asyncio.run(main())
    assert first == second == third == decode_audio(STEREO_WAV)
    seen = server.seen("/b.wav")
    assert len(seen) == 3
    assert "if-none-match" not in seen[0].headers
    for request in seen[1:]:
        assert request.headers["if-none-match"] == 'W/"tone-1"'
        assert request.headers["if-modified-since"] == headers["Last-Modified"]


def test_last_modified_alone_revalidates_with_if_modified_since(server: AudioServer, cache_dir: Path) -> None:
    modified = formatdate(time.time() - 3600, usegmt=True)
    server.resources["/lm.mp3"] = Resource(MP3, {"Last-Modified": modified})  # no freshness info

    async def main() -> tuple[bytes, bytes]:
        async with audio_fetcher(cache_dir) as fetcher:
            return await fetcher.get(server.url("/lm.mp3")), await fetcher.get(server.url("/lm.mp3"))

    first, second = asyncio.run(main())
    assert first == second
    seen = server.seen("/lm.mp3")
    assert len(seen) == 2 and seen[1].headers["if-modified-since"] == modified
    assert "if-none-match" not in seen[1].headers


def test_entry_goes_stale_when_max_age_runs_out(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/c.wav"] = Resource(OTHER_WAV, {"Cache-Control": "max-age=1", "ETag": '"c"'})
    url = server.url("/c.wav")

    async def main() -> None:
        async with audio_fetcher(cache_dir) as fetcher:
            await fetcher.get(url)
            await fetcher.get(url)
            assert server.count("/c.wav") == 1
            await asyncio.sleep(1.1)
            await fetcher.get(url)
            assert server.count("/c.wav") == 2
            assert server.seen("/c.wav")[1].headers["if-none-match"] == '"c"'
            await fetcher.get(url)  # the 304's max-age=1 made it fresh again
            assert server.count("/c.wav") == 2

    asyncio.run(main())


def test_expires_and_age_headers(server: AudioServer, cache_dir: Path) -> None:
    now = time.time()
    server.resources["/future.wav"] = Resource(OTHER_WAV, {"Expires": formatdate(now + 600, usegmt=True)})
    server.resources["/past.wav"] = Resource(OTHER_WAV, {"Expires": formatdate(now - 600, usegmt=True),
                                                         "ETag": '"p"'})
    server.resources["/invalid.wav"] = Resource(OTHER_WAV, {"Expires": "0", "ETag": '"i"'})
    # max-age=60 but already 60 s old at a cache upstream: stale on arrival
    server.resources["/aged.wav"] = Resource(OTHER_WAV, {"Cache-Control": "max-age=60", "Age": "60",
                                                         "ETag": '"a"'})

    async def main() -> None:
        async with audio_fetcher(cache_dir) as fetcher:
            for path in ("/future.wav", "/past.wav", "/invalid.wav", "/aged.wav"):
                await fetcher.get(server.url(path))
                await fetcher.get(server.url(path))

    asyncio.run(main())
    assert server.count("/future.wav") == 1
    assert [r.headers.get("if-none-match") for r in server.seen("/past.wav")] == [None, '"p"']
    assert [r.headers.get("if-none-match") for r in server.seen("/invalid.wav")] == [None, '"i"']
    assert [r.headers.get("if-none-match") for r in server.seen("/aged.wav")] == [None, '"a"']


def test_changed_etag_brings_the_new_audio(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/d.wav"] = Resource(STEREO_WAV, {"Cache-Control": "no-cache", "ETag": '"one"'})
    url = server.url("/d.wav")

    async def main() -> list[bytes]:
        async with audio_fetcher(cache_dir) as fetcher:
            old = await fetcher.get(url)
            server.resources["/d.wav"] = Resource(OTHER_WAV, {"Cache-Control": "no-cache", "ETag": '"two"'})
            new = await fetcher.get(url)
            again = await fetcher.get(url)
        async with audio_fetcher(cache_dir) as restarted:
            return [old, new, again, await restarted.get(url)]

    old, new, again, after_restart = asyncio.run(main())
    assert dominant_frequency(old) == pytest.approx(1000, abs=3)
    assert dominant_frequency(new) == pytest.approx(2000, abs=3)
    assert again == after_restart == new
    assert [r.headers.get("if-none-match") for r in server.seen("/d.wav")] == [None, '"one"', '"two"', '"two"']
    # the old version's PCM is gone from disk: one metadata file and one PCM file
    names = cached_files(cache_dir)
    assert len(names) == 2 and sum(n.endswith(".pcm") for n in names) == 1


def test_no_store_is_fetched_every_time_and_never_written(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/e.wav"] = Resource(OTHER_WAV, {"Cache-Control": "private, no-store", "ETag": '"e"'})
    url = server.url("/e.wav")

    async def main() -> None:
        async with audio_fetcher(cache_dir) as fetcher:
            for _ in range(3):
                assert dominant_frequency(await fetcher.get(url)) == pytest.approx(2000, abs=3)

    asyncio.run(main())
    seen = server.seen("/e.wav")
    assert len(seen) == 3 and all("if-none-match" not in r.headers for r in seen)
    assert cached_files(cache_dir) == []


def test_switch_to_no_store_drops_the_cached_copy(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/f.wav"] = Resource(OTHER_WAV, {"Cache-Control": "max-age=0", "ETag": '"f"'})
    url = server.url("/f.wav")

    async def main() -> None:
        async with audio_fetcher(cache_dir) as fetcher:
            await fetcher.get(url)
            assert len(cached_files(cache_dir)) == 2
            server.resources["/f.wav"] = Resource(STEREO_WAV, {"Cache-Control": "no-store"})
            assert dominant_frequency(await fetcher.get(url)) == pytest.approx(1000, abs=3)
            assert cached_files(cache_dir) == []
            await fetcher.get(url)

    asyncio.run(main())
    assert [r.headers.get("if-none-match") for r in server.seen("/f.wav")] == [None, '"f"', None]


def test_without_validators_or_freshness_nothing_is_kept(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/g.wav"] = Resource(OTHER_WAV)

    async def main() -> None:
        async with audio_fetcher(cache_dir) as fetcher:
            await fetcher.get(server.url("/g.wav"))
            await fetcher.get(server.url("/g.wav"))

    asyncio.run(main())
    assert server.count("/g.wav") == 2
    assert cached_files(cache_dir) == []


def test_memory_cache_in_front_of_the_disk(server: AudioServer, tmp_path: Path) -> None:
    for path in ("/m1.wav", "/m2.wav"):
        server.resources[path] = Resource(OTHER_WAV, {"Cache-Control": "max-age=300"})

    async def main(cache_dir: Path, memory_items: int) -> None:
        async with audio_fetcher(cache_dir, memory_items=memory_items) as fetcher:
            await fetcher.get(server.url("/m1.wav"))
            await fetcher.get(server.url("/m2.wav"))
            for name in cached_files(cache_dir):  # the disk copy disappears
                (cache_dir / name).unlink()
            await fetcher.get(server.url("/m2.wav"))  # in memory
            await fetcher.get(server.url("/m1.wav"))  # evicted from a one-item memory: fetched

    asyncio.run(main(tmp_path / "one", memory_items=1))
    assert (server.count("/m1.wav"), server.count("/m2.wav")) == (2, 1)
    asyncio.run(main(tmp_path / "none", memory_items=0))
    assert (server.count("/m1.wav"), server.count("/m2.wav")) == (4, 3)  # no memory: all fetched


def test_concurrent_gets_share_one_download(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/h.mp3"] = Resource(MP3, {"ETag": '"h"', "Cache-Control": "max-age=60"}, delay=0.3)
    server.resources["/nostore.wav"] = Resource(OTHER_WAV, {"Cache-Control": "no-store"}, delay=0.3)

    async def main() -> list[bytes]:
        async with audio_fetcher(cache_dir) as fetcher:
            return await asyncio.gather(*[fetcher.get(server.url("/h.mp3")) for _ in range(10)],
                                        *[fetcher.get(server.url("/nostore.wav")) for _ in range(5)])

    results = asyncio.run(main())
    assert server.count("/h.mp3") == 1 and server.count("/nostore.wav") == 1
    assert len(set(results[:10])) == 1 and len(set(results[10:])) == 1
    assert dominant_frequency(results[0]) == pytest.approx(440, abs=2)


def test_a_cancelled_caller_does_not_cancel_the_others(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/i.wav"] = Resource(OTHER_WAV, {"Cache-Control": "max-age=60"}, delay=0.3)

    async def main() -> bytes:
        async with audio_fetcher(cache_dir) as fetcher:
            hung_up = asyncio.create_task(fetcher.get(server.url("/i.wav")))
            still_here = asyncio.create_task(fetcher.get(server.url("/i.wav")))
            await asyncio.sleep(0.05)
            hung_up.cancel()
            with pytest.raises(asyncio.CancelledError):
                await hung_up
            return await still_here

    assert dominant_frequency(asyncio.run(main())) == pytest.approx(2000, abs=3)
    assert server.count("/i.wav") == 1


def test_failures_raise_audio_error_naming_status_url_and_content_type(server: AudioServer,
                                                                       cache_dir: Path) -> None:
    server.resources["/html"] = Resource(b"<html><body>Welcome! Log in first.</body></html>",
                                         {"Content-Type": "text/html; charset=utf-8"})
    server.resources["/garbage.mp3"] = Resource(bytes(range(256)) * 64, {"Content-Type": "audio/mpeg"})
    server.resources["/broken"] = Resource(b"oops", {"Content-Type": "text/plain"}, status=500)
    server.resources["/empty.wav"] = Resource(b"", {"Content-Type": "audio/wav"})

    async def error(fetcher, path: str) -> str:
        with pytest.raises(AudioError) as info:
            await fetcher.get(server.url(path))
        return str(info.value)

    async def main() -> list[str]:
        async with audio_fetcher(cache_dir) as fetcher:
            return [await error(fetcher, p) for p in ("/missing.wav", "/broken", "/html", "/garbage.mp3",
                                                       "/empty.wav")]

    missing, broken, html, garbage, empty = asyncio.run(main())
    assert missing == f"GET {server.url('/missing.wav')} answered HTTP 404 Not Found"
    assert broken == f"GET {server.url('/broken')} answered HTTP 500 Internal Server Error"
    assert server.url("/html") in html and "Content-Type: text/html; charset=utf-8" in html
    assert "not audio but markup" in html
    assert server.url("/garbage.mp3") in garbage and "audio/mpeg" in garbage
    assert "not a WAV, MP3, FLAC or OGG Vorbis file (16384 bytes" in garbage
    assert server.url("/empty.wav") in empty and "empty audio file" in empty
    assert cached_files(cache_dir) == []


def test_size_limit_by_content_length_and_while_streaming(server: AudioServer, cache_dir: Path) -> None:
    big = wav_file(sine(1000, 2.0, 44100), 44100)  # ~176 kB
    server.resources["/declared.wav"] = Resource(big)
    server.resources["/streamed.wav"] = Resource(big, content_length=False)
    server.resources["/small.wav"] = Resource(OTHER_WAV, content_length=False)

    async def main() -> tuple[str, str, bytes]:
        async with audio_fetcher(cache_dir, max_bytes=100_000) as fetcher:
            with pytest.raises(AudioError) as declared:
                await fetcher.get(server.url("/declared.wav"))
            with pytest.raises(AudioError) as streamed:
                await fetcher.get(server.url("/streamed.wav"))
            return str(declared.value), str(streamed.value), await fetcher.get(server.url("/small.wav"))

    declared, streamed, small = asyncio.run(main())
    assert declared == (f"GET {server.url('/declared.wav')}: the file is {len(big)} bytes, "
                        f"over the 100000 byte limit")
    assert streamed == f"GET {server.url('/streamed.wav')}: the file is over the 100000 byte limit"
    assert seconds(small) == pytest.approx(0.5, abs=0.02)  # a body without Content-Length is fine


def test_timeouts_and_truncated_transfers(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/slow.wav"] = Resource(OTHER_WAV, delay=1.0)
    server.resources["/cut.wav"] = Resource(OTHER_WAV[:5000], declared_length=len(OTHER_WAV))

    async def main() -> tuple[str, str]:
        async with audio_fetcher(cache_dir, timeout=0.2) as fetcher:
            with pytest.raises(AudioError) as slow:
                await fetcher.get(server.url("/slow.wav"))
            with pytest.raises(AudioError) as cut:
                await fetcher.get(server.url("/cut.wav"))
            return str(slow.value), str(cut.value)

    slow, cut = asyncio.run(main())
    assert slow.startswith(f"GET {server.url('/slow.wav')} timed out")
    assert cut.startswith(f"GET {server.url('/cut.wav')} failed: RemoteProtocolError")


def test_redirects_are_followed_and_cached_under_the_asked_url(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/old.wav"] = Resource(b"", {"Location": "/new.wav"}, status=302)
    server.resources["/new.wav"] = Resource(OTHER_WAV, {"Cache-Control": "max-age=60"})

    async def main() -> None:
        async with audio_fetcher(cache_dir) as fetcher:
            assert seconds(await fetcher.get(server.url("/old.wav"))) == pytest.approx(0.5, abs=0.02)
            await fetcher.get(server.url("/old.wav"))

    asyncio.run(main())
    assert (server.count("/old.wav"), server.count("/new.wav")) == (1, 1)


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "ftp://127.0.0.1/a.wav",
    "/relative/a.wav",
    "hello.mp3",
    "http://",
    "data:audio/wav;base64,UklGRg==",
])
def test_only_absolute_http_urls(url: str, server: AudioServer, cache_dir: Path) -> None:
    async def main() -> None:
        async with audio_fetcher(cache_dir) as fetcher:
            with pytest.raises(AudioError, match=r"only absolute http:// or https:// URLs can be played"):
                await fetcher.get(url)

    asyncio.run(main())
    assert server.requests == []


@pytest.mark.parametrize("url", ["http://[::1/a.wav", "http://127.0.0.1:99999/a.wav", "http://a\x00b/a.wav"])
def test_invalid_urls(url: str, cache_dir: Path) -> None:
    async def main() -> None:
        async with audio_fetcher(cache_dir) as fetcher:
            with pytest.raises(AudioError, match=r"^invalid URL "):
                await fetcher.get(url)

    asyncio.run(main())


def test_damaged_cache_files_are_a_miss(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/j.wav"] = Resource(OTHER_WAV, {"Cache-Control": "max-age=60", "ETag": '"j"'})
    url = server.url("/j.wav")

    async def get() -> bytes:
        async with audio_fetcher(cache_dir) as fetcher:
            return await fetcher.get(url)

    good = asyncio.run(get())
    meta = next(p for p in cache_dir.iterdir() if p.suffix == ".json")
    pcm_file = next(p for p in cache_dir.iterdir() if p.suffix == ".pcm")
    pcm_file.write_bytes(pcm_file.read_bytes()[:100])  # cut short
    assert asyncio.run(get()) == good
    for damage in (b"{not json", b"[1, 2]", b'{"format": 1, "headers": 5}'):
        meta.write_bytes(damage)
        assert asyncio.run(get()) == good
    assert server.count("/j.wav") == 5


def test_credentials_in_the_url_stay_out_of_messages_and_the_cache(server: AudioServer, cache_dir: Path) -> None:
    server.resources["/secret.wav"] = Resource(OTHER_WAV, {"Cache-Control": "max-age=60"})
    with_credentials = server.url("/secret.wav").replace("http://", "http://user:s3cret@")

    async def main() -> str:
        async with audio_fetcher(cache_dir) as fetcher:
            await fetcher.get(with_credentials)
            with pytest.raises(AudioError) as info:
                await fetcher.get(with_credentials.replace("secret.wav", "nothing.wav"))
            return str(info.value)

    message = asyncio.run(main())
    assert server.seen("/secret.wav")[0].headers["authorization"].startswith("Basic ")
    assert "s3cret" not in message and "404" in message
    assert all(b"s3cret" not in (cache_dir / n).read_bytes() for n in cached_files(cache_dir))


def test_decoding_does_not_block_the_event_loop(server: AudioServer, cache_dir: Path) -> None:
    """The loop that fetches also paces RTP every 20 ms: a long decode must run elsewhere."""
    long_wav = wav_file(interleave(sine(440, 60.0, 44100), sine(440, 60.0, 44100)), 44100, 2)  # 10 MB
    server.resources["/long.wav"] = Resource(long_wav)
    started = time.perf_counter()
    decode_audio(long_wav)
    decode_seconds = time.perf_counter() - started
    if decode_seconds < 0.08:
        pytest.skip(f"decoding took only {decode_seconds * 1000:.0f} ms: too quick to tell")

    async def main() -> tuple[float, bytes]:
        gaps = [0.0]

        async def ticker() -> None:
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        async with audio_fetcher(cache_dir) as fetcher:
            tick = asyncio.create_task(ticker())
            pcm = await fetcher.get(server.url("/long.wav"))
            await asyncio.sleep(0.03)  # let the ticker see the last stretch before it stops
            tick.cancel()
        return max(gaps), pcm

    worst_gap, pcm = asyncio.run(main())
    assert seconds(pcm) == pytest.approx(60.0, abs=0.02)
    assert worst_gap < decode_seconds / 2, (worst_gap, decode_seconds)
