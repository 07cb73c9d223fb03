"""TtsChain against local fake vendors: voice selection, every fallback path, the disk cache,
and speech handed out sentence by sentence."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tts_fakes import FREQUENCY, FakeVendors, speech_seconds, wait_until
from wirexa.audio.pcm import dominant_frequency, rms
from wirexa.config import Settings
from wirexa.tts import Rendering, TtsChain, TtsError, espeak

needs_espeak = pytest.mark.skipif(not espeak.available(), reason="espeak-ng not installed")


@pytest.fixture
def vendors() -> Iterator[FakeVendors]:
    fake = FakeVendors()
    fake.start()
    yield fake
    fake.stop()


def render(settings: Settings, text: str, voice: str = "woman", language: str = "en-US",
           times: int = 1) -> list[Rendering]:
    """`text` rendered `times` times in a row by one chain, as one call's prompts would be."""
    async def main() -> list[Rendering]:
        async with httpx.AsyncClient(timeout=5) as http:
            chain = TtsChain.from_settings(settings, http)
            return [await chain.render(text, voice, language) for _ in range(times)]
    return asyncio.run(main())


def assert_from(rendering: Rendering, vendor: str) -> None:
    assert rendering.provider == vendor
    assert abs(dominant_frequency(rendering.pcm) - FREQUENCY[vendor]) < 10


def test_default_chain_starts_with_polly(vendors: FakeVendors, tmp_path: Path) -> None:
    [woman] = render(vendors.settings(tmp_path), "Hello.")
    [man] = render(vendors.settings(tmp_path), "Hello.", voice="man", language="en-GB")
    assert_from(woman, "polly")
    assert (woman.voice, man.voice, woman.cached) == ("Joanna", "Brian", False)
    assert [s.vendor for s in vendors.seen] == ["polly", "polly"]


@pytest.mark.parametrize(("voice", "vendor", "sent_voice"), [
    ("polly.Matthew", "polly", "Matthew"),
    ("google.en-US-Standard-C", "google", "en-US-Standard-C"),
    ("elevenlabs.Rachel", "elevenlabs", "21m00Tcm4TlvDq8ikWAM"),
    ("eleven.Adam", "elevenlabs", "pNInz6obpgDQGcFmaJgB"),  # the seed's spelling
    ("Azure.en-US-GuyNeural", "azure", "en-US-GuyNeural"),
])
def test_a_named_voice_picks_its_provider(vendors: FakeVendors, tmp_path: Path, voice: str, vendor: str,
                                          sent_voice: str) -> None:
    [rendering] = render(vendors.settings(tmp_path), "Hello there.", voice=voice)
    assert_from(rendering, vendor)
    assert [(s.vendor, s.voice) for s in vendors.seen] == [(vendor, sent_voice)]


def test_polly_failing_falls_back_to_google(vendors: FakeVendors, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    vendors.mode["polly"] = 500
    with caplog.at_level(logging.WARNING, logger="wirexa.tts"):
        [rendering] = render(vendors.settings(tmp_path), "Hello.")
    assert_from(rendering, "google")
    assert rendering.voice == "en-US-Standard-C"
    assert any("polly" in r.getMessage() and "HTTP 500" in r.getMessage() for r in caplog.records)


def test_bad_credentials_and_bad_audio_fall_back_too(vendors: FakeVendors, tmp_path: Path) -> None:
    vendors.mode["google"] = "html"
    settings = vendors.settings(tmp_path, polly_secret_access_key="not-the-secret")
    [rendering] = render(settings, "Hello.")
    assert_from(rendering, "elevenlabs")
    assert [s.vendor for s in vendors.seen] == ["polly", "google", "elevenlabs"]


def test_google_500_falls_back_to_elevenlabs(vendors: FakeVendors, tmp_path: Path) -> None:
    vendors.mode["google"] = 500
    [rendering] = render(vendors.settings(tmp_path, "google", "elevenlabs", "azure"), "Hello.", voice="man")
    assert_from(rendering, "elevenlabs")
    assert [(s.vendor, s.voice) for s in vendors.seen] == [
        ("google", "en-US-Standard-D"), ("elevenlabs", "pNInz6obpgDQGcFmaJgB")]


def test_elevenlabs_timeout_falls_back_to_azure(vendors: FakeVendors, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    vendors.mode["elevenlabs"] = "hang"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="wirexa.tts"):
        [rendering] = render(vendors.settings(tmp_path, "elevenlabs", "azure", tts_timeout=0.3), "Hello.")
    assert time.monotonic() - started < 2.0  # the 0.3 s budget, not the server's 5 s
    assert_from(rendering, "azure")
    assert any("elevenlabs" in r.getMessage() and "timed out" in r.getMessage() for r in caplog.records)


@needs_espeak
def test_azure_401_falls_back_to_local_espeak(vendors: FakeVendors, tmp_path: Path) -> None:
    settings = vendors.settings(tmp_path, "azure", azure_speech_key="revoked-key")
    [rendering] = render(settings, "Hello, this is the local voice.")
    assert rendering.provider == "espeak" and rendering.voice == "en-us+f3"
    assert rms(rendering.pcm) > 500 and 1.0 < len(rendering.pcm) / 16000 < 5.0
    assert [s.vendor for s in vendors.seen] == ["azure"]  # it was asked, and refused


def test_unconfigured_providers_are_never_asked(vendors: FakeVendors, tmp_path: Path) -> None:
    [rendering] = render(vendors.settings(tmp_path, "azure"), "Hello.", voice="polly.Joanna")
    assert_from(rendering, "azure")
    assert [s.vendor for s in vendors.seen] == ["azure"]


def test_named_polly_voice_down_falls_back_with_the_same_gender(vendors: FakeVendors, tmp_path: Path) -> None:
    vendors.mode["polly"] = 503
    [woman] = render(vendors.settings(tmp_path), "Hello.", voice="polly.Joanna")
    [man] = render(vendors.settings(tmp_path), "Hello.", voice="polly.Matthew")
    assert_from(woman, "google")
    assert (woman.voice, man.voice) == ("en-US-Standard-C", "en-US-Standard-D")


def test_a_failed_provider_rests_instead_of_costing_every_sentence(vendors: FakeVendors, tmp_path: Path) -> None:
    vendors.mode["polly"] = 500

    async def main(retry_after: float) -> list[str]:
        async with httpx.AsyncClient(timeout=5) as http:
            chain = TtsChain.from_settings(vendors.settings(tmp_path, tts_retry_after=retry_after), http)
            first = await chain.render(f"One {retry_after}.")
            vendors.mode["polly"] = "ok"  # back up, but the chain does not know yet
            second = await chain.render(f"Two {retry_after}.")
            vendors.mode["polly"] = 500
            return [first.provider, second.provider]

    assert asyncio.run(main(30.0)) == ["google", "google"]
    assert len(vendors.requests("polly")) == 1  # asked once, then rested
    assert asyncio.run(main(0.0)) == ["google", "polly"]  # no rest: asked again at once


@needs_espeak
def test_nothing_works_is_a_tts_error(vendors: FakeVendors, tmp_path: Path) -> None:
    vendors.mode.update({v: 500 for v in FREQUENCY})
    with pytest.raises(TtsError) as caught:
        render(vendors.settings(tmp_path), "Hello.", language="zz-ZZ")  # espeak has no such voice
    message = str(caught.value)
    assert all(v in message for v in ("polly", "google", "elevenlabs", "azure", "espeak"))


def test_a_cache_hit_makes_no_request(vendors: FakeVendors, tmp_path: Path) -> None:
    first, again = render(vendors.settings(tmp_path), "Welcome to Wirexa.", times=2)
    assert len(vendors.seen) == 1
    assert (first.cached, again.cached, again.pcm) == (False, True, first.pcm)
    # A restarted engine (new chain, same data_dir) still has it; another voice does not.
    [restarted] = render(vendors.settings(tmp_path), "Welcome to Wirexa.")
    [other] = render(vendors.settings(tmp_path), "Welcome to Wirexa.", voice="man")
    [spanish] = render(vendors.settings(tmp_path), "Welcome to Wirexa.", voice="elevenlabs.Rachel",
                       language="es-ES")
    [english] = render(vendors.settings(tmp_path), "Welcome to Wirexa.", voice="elevenlabs.Rachel")
    assert restarted.cached and not other.cached and not spanish.cached and not english.cached
    assert len(vendors.seen) == 4
    files = sorted(p.name for p in (tmp_path / "tts-cache").rglob("*") if p.is_file())
    assert len(files) == 4 and all(name.endswith(".pcm") for name in files)  # no temp files left


def test_speak_streams_sentence_by_sentence(vendors: FakeVendors, tmp_path: Path) -> None:
    sentences = ["Thanks for calling.", "Your order has shipped and will arrive on Tuesday.", "Goodbye!"]
    release = vendors.hold("shipped")

    async def main() -> list[bytes]:
        async with httpx.AsyncClient(timeout=5) as http:
            chain = TtsChain.from_settings(vendors.settings(tmp_path, tts_timeout=5.0), http)
            speech = chain.speak("  ".join(sentences))
            first = await anext(speech)
            # The second sentence is still being rendered (held by the server) when the first
            # arrives, and was asked for before the caller wanted it: rendering overlaps playing.
            assert [s.text for s in vendors.seen if s.done] == [sentences[0]]
            assert await asyncio.to_thread(wait_until, lambda: sentences[1] in [s.text for s in vendors.seen])
            release.set()
            return [first] + [pcm async for pcm in speech]

    chunks = asyncio.run(main())
    assert [len(c) for c in chunks] == [round(speech_seconds(s) * 8000) * 2 for s in sentences]
    assert sorted(s.text for s in vendors.seen) == sorted(sentences)  # each rendered once


def test_stopping_early_cancels_what_was_rendering(vendors: FakeVendors, tmp_path: Path) -> None:
    vendors.hold("Second")

    async def main() -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            chain = TtsChain.from_settings(vendors.settings(tmp_path, tts_timeout=5.0), http)
            speech = chain.renderings("First one. Second one. Third one.")
            assert (await anext(speech)).provider == "polly"
            await speech.aclose()  # the caller hung up
            await asyncio.sleep(0.05)
            assert all(t is asyncio.current_task() for t in asyncio.all_tasks())

    asyncio.run(main())
    assert "Third one." not in [s.text for s in vendors.seen]
