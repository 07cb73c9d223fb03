"""Each provider against a local server speaking its vendor's protocol; the SigV4 signer against
AWS's published test suite; local espeak-ng for real."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from tts_fakes import AWS_KEY_ID, AWS_REGION, AWS_SECRET, AZURE_KEY, ELEVEN_KEY, FREQUENCY, GOOGLE_KEY, FakeVendors, speech_seconds
from wirexa.audio.pcm import dominant_frequency, rms
from wirexa.tts import TtsError, espeak, sigv4
from wirexa.tts.azure import AzureProvider
from wirexa.tts.elevenlabs import ElevenLabsProvider
from wirexa.tts.google import GoogleProvider
from wirexa.tts.polly import PollyProvider


@pytest.fixture
def vendors() -> Iterator[FakeVendors]:
    fake = FakeVendors()
    fake.start()
    yield fake
    fake.stop()


# AWS Signature Version 4 test suite (aws-sig-v4-test-suite): example.amazonaws.com, service
# "service", us-east-1, 2015-08-30T12:36:00Z, credentials AKIDEXAMPLE.
@pytest.mark.parametrize(("method", "url", "extra", "expected"), [
    ("GET", "https://example.amazonaws.com/", {},  # get-vanilla
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", {},  # get-vanilla-query-order-key-case
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("GET", "https://example.amazonaws.com/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {}, "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),  # get-unreserved
    ("GET", "https://example.amazonaws.com/", {"My-Header1": "value1", "My-Header2": '"a   b   c"'},
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),  # get-header-value-trim
    ("POST", "https://example.amazonaws.com/", {},  # post-vanilla
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
])
def test_sigv4_matches_the_aws_test_suite(method: str, url: str, extra: dict[str, str], expected: str) -> None:
    headers = sigv4.sign(
        access_key_id="AKIDEXAMPLE", secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1", service="service", method=method, url=httpx.URL(url), headers=extra,
        body=b"", now=datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc))
    signed = ";".join(sorted(["host", "x-amz-date", *(k.lower() for k in extra)]))
    assert headers["x-amz-date"] == "20150830T123600Z"
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={signed}, Signature={expected}")


def test_sigv4_signs_the_session_token() -> None:
    headers = sigv4.sign(access_key_id="AK", secret_access_key="S", region="us-east-1", service="polly",
                         method="POST", url=httpx.URL("https://polly.us-east-1.amazonaws.com/v1/speech"),
                         headers={"Content-Type": "application/json"}, body=b"{}", session_token="TOKEN")
    assert headers["x-amz-security-token"] == "TOKEN"
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in headers["authorization"]


def _run(coro_factory):  # one event loop and HTTP client per test, like a real engine has
    async def main():
        async with httpx.AsyncClient(timeout=5) as http:
            return await coro_factory(http)
    return asyncio.run(main())


def _assert_tone(pcm: bytes, vendor: str, text: str) -> None:
    assert len(pcm) == round(speech_seconds(text) * 8000) * 2  # 8 kHz 16-bit, nothing lost
    assert abs(dominant_frequency(pcm) - FREQUENCY[vendor]) < 10


def test_polly_signs_and_renders(vendors: FakeVendors) -> None:
    def polly(http: httpx.AsyncClient, secret: str = AWS_SECRET) -> PollyProvider:
        return PollyProvider(http, access_key_id=AWS_KEY_ID, secret_access_key=secret,
                             region=AWS_REGION, endpoint=vendors.url)

    async def scenario(http):
        assert polly(http).configured and not PollyProvider(
            http, access_key_id="", secret_access_key="", region=AWS_REGION).configured
        pcm = await polly(http).synthesize("Hello from Polly.", "Joanna", "en-US")
        neural = await polly(http).synthesize("Hi.", "Joanna-Neural", "en-US")
        with pytest.raises(TtsError, match="403"):
            await polly(http, secret="wrong").synthesize("Hi.", "Joanna", "en-US")
        return pcm, neural

    pcm, neural = _run(scenario)
    _assert_tone(pcm, "polly", "Hello from Polly.")
    assert len(neural) > 0
    first, second, _ = [s.body for s in vendors.requests("polly")]
    assert b'"VoiceId": "Joanna"' in first and b'"LanguageCode": "en-US"' in first
    assert b'"Engine": "neural"' in second and b'"VoiceId": "Joanna"' in second


def test_polly_leaves_language_to_a_voice_it_does_not_know_for_it(vendors: FakeVendors) -> None:
    async def scenario(http):
        return await PollyProvider(http, access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET,
                                   region=AWS_REGION, endpoint=vendors.url).synthesize("Hola.", "Miguel", "en-US")
    _run(scenario)
    assert b"LanguageCode" not in vendors.requests("polly")[0].body


def test_google_renders_base64_wav(vendors: FakeVendors) -> None:
    async def scenario(http):
        google = GoogleProvider(http, api_key=GOOGLE_KEY, endpoint=vendors.url)
        pcm = await google.synthesize("Hello from Google.", "en-GB-Standard-A", "en-US")
        with pytest.raises(TtsError, match="403"):
            await GoogleProvider(http, api_key="bad", endpoint=vendors.url).synthesize("Hi.", "en-US-Standard-C", "en-US")
        return pcm

    _assert_tone(_run(scenario), "google", "Hello from Google.")
    # The fake insists, as Google does, that languageCode matches the voice's own.
    assert vendors.requests("google")[0].voice == "en-GB-Standard-A"


def test_elevenlabs_renders_pcm_and_knows_premade_names(vendors: FakeVendors) -> None:
    async def scenario(http):
        eleven = ElevenLabsProvider(http, api_key=ELEVEN_KEY, endpoint=vendors.url)
        pcm = await eleven.synthesize("Hello from ElevenLabs.", "Rachel", "en-US")
        await eleven.synthesize("Hi.", "someCustomVoiceId", "en-US")
        with pytest.raises(TtsError, match="401"):
            await ElevenLabsProvider(http, api_key="bad", endpoint=vendors.url).synthesize("Hi.", "Rachel", "en-US")
        return pcm

    _assert_tone(_run(scenario), "elevenlabs", "Hello from ElevenLabs.")
    assert [s.voice for s in vendors.requests("elevenlabs")][:2] == ["21m00Tcm4TlvDq8ikWAM", "someCustomVoiceId"]


def test_azure_renders_ssml_with_the_text_escaped(vendors: FakeVendors) -> None:
    text = 'Fish & chips <cheap> "today" isn\'t it?'

    async def scenario(http):
        azure = AzureProvider(http, key=AZURE_KEY, region="westeurope", endpoint=vendors.url)
        pcm = await azure.synthesize(text, "en-US-JennyNeural", "en-US")
        with pytest.raises(TtsError, match="401"):
            await AzureProvider(http, key="bad", region="westeurope", endpoint=vendors.url).synthesize(
                "Hi.", "en-US-JennyNeural", "en-US")
        return pcm

    _assert_tone(_run(scenario), "azure", text)
    seen = vendors.requests("azure")[0]
    assert (seen.text, seen.voice) == (text, "en-US-JennyNeural")  # parsed back intact by the server


def test_a_200_that_is_not_audio_is_an_error(vendors: FakeVendors) -> None:
    vendors.mode["elevenlabs"] = "html"

    async def scenario(http):
        await ElevenLabsProvider(http, api_key=ELEVEN_KEY, endpoint=vendors.url).synthesize("Hi.", "Rachel", "en-US")

    with pytest.raises(TtsError, match="expected audio"):
        _run(scenario)


def test_default_urls_are_the_vendors() -> None:
    http = httpx.AsyncClient()
    assert str(PollyProvider(http, access_key_id="a", secret_access_key="b", region="eu-west-1").url) \
        == "https://polly.eu-west-1.amazonaws.com/v1/speech"
    assert GoogleProvider(http, api_key="k").url == "https://texttospeech.googleapis.com/v1/text:synthesize"
    assert ElevenLabsProvider(http, api_key="k").base == "https://api.elevenlabs.io"
    assert AzureProvider(http, key="k", region="westeurope").url \
        == "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"


@pytest.mark.skipif(not espeak.available(), reason="espeak-ng not installed")
def test_espeak_renders_speech_of_plausible_length() -> None:
    local = espeak.EspeakProvider()
    assert local.configured
    assert local.default_voice("woman", "en-US") == "en-us+f3"
    assert local.default_voice("man", "de-DE") == "de-de+m3"
    text = "Thank you for calling. Please hold."

    async def both():
        return await asyncio.gather(local.synthesize(text, local.default_voice("woman", "en-US"), "en-US"),
                                    local.synthesize(text, local.default_voice("man", "en-US"), "en-US"))

    woman, man = asyncio.run(both())
    for pcm in (woman, man):
        assert 1.0 < len(pcm) / 16000 < 5.0  # ~2 s of speech at 8 kHz 16-bit
        assert rms(pcm) > 500
    assert woman != man
    with pytest.raises(TtsError, match="espeak-ng failed"):
        asyncio.run(local.synthesize("Hi.", "zz-zz+f3", "zz-ZZ"))


def _espeak_children() -> list[int]:
    """Our own espeak-ng child processes, from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            comm = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if comm == "espeak-ng" and int(fields[1]) == os.getpid():
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not espeak.available(), reason="espeak-ng not installed")
def test_cancelled_espeak_is_killed() -> None:
    async def main() -> tuple[list[int], list[int]]:
        task = asyncio.create_task(espeak.render("This sentence takes espeak a while. " * 400))
        await asyncio.sleep(0.3)
        running = _espeak_children()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.1)
        return running, _espeak_children()

    running, after = asyncio.run(main())
    assert running and not after  # a caller that hung up leaves no espeak-ng behind
