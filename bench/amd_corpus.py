"""A labelled evaluation set for answering machine detection (wirexa.media.amd).

Each file is what the far end of an outbound call sends after answering, as the media plane
hears it: 8 kHz 16-bit mono, telephone band (300-3400 Hz), line noise (white, pink, mains hum;
9-35 dB below the speech) or people talking in the background (four espeak-ng voices, 20-25 dB
below), speech from -34 to -10 dBFS, through G.711 u-law. Speech is espeak-ng (8 voices, 140-225
words a minute). 185 files: 72 humans (answering at once, after 0.2-0.8 s, after a 1-3.5 s
pause, "Hello? ... hello?"), 72 voicemail greetings of 3-15 s (half ending in a 440-1400 Hz beep
of 0.3-1 s), 8 silence, 10 line noise, 8 fax CNG + 3 fax CED, 6 DTMF only, 6 DTMF then a human.

    .venv/bin/python bench/amd_corpus.py OUT_DIR [--seed 7] [--per-class N]

writes OUT_DIR/*.wav and OUT_DIR/labels.json: a list of records with

    file, kind (human | machine_beep | machine_nobeep | silence | noise | fax | dtmf | dtmf_human),
    expected {"Enable": ..., "DetectMessageEnd": ...}  (Twilio's AnsweredBy values),
    speech_start_ms / speech_end_ms  (first utterance of a human, whole greeting of a machine),
    beep_start_ms / beep_end_ms      (machine_beep), and how it was made (text, voice, speed...).

The same seed gives the same files (espeak-ng is deterministic, the rest is numpy's PCG64).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wirexa.audio.pcm import write_wav  # noqa: E402
from wirexa.media.codecs import SAMPLE_RATE, audioop  # noqa: E402
from wirexa.media.dtmf import dtmf_tones  # noqa: E402
from wirexa.sandbox.audio import tts  # noqa: E402

VOICES = ("en-us", "en-gb", "en-us+f3", "en-us+m3", "en-gb+f4", "en-us+f2", "en-gb-x-rp", "en-029+m2")
SPEEDS = (140, 155, 170, 185, 200, 225)
SNRS_DB = (35.0, 25.0, 18.0, 12.0, 9.0)  # line noise below the speech's level
BABBLE_SNRS_DB = (25.0, 20.0)  # other people talking in the room, below the callee

HUMAN_PHRASES = (
    "Hello?", "Hi, this is Sam.", "Yeah?", "Hello, Sam speaking.", "Hey!", "Yes, hello?",
    "Good afternoon.", "Hi there.", "Hello, who's this?", "Speaking.",
)
HUMAN_SECOND = ("Hello?", "Hello? Anyone there?", "Hello?? Who is it?", "Yes?")
OPENERS = (
    "Hi, you've reached John Smith.", "Hello, this is the voicemail of Maria Lopez.",
    "You have reached five five five, zero one two three.", "Thanks for calling Acme Plumbing.",
    "Hey, it's Sam.", "Hello.", "Hi!", "The person you are calling is not available.",
    "You've reached the Miller family.", "This is Dr. Patel's office.",
)
MIDDLES = (
    "I'm not available right now.", "I can't come to the phone at the moment.",
    "Our office hours are Monday to Friday, nine to five.", "We're either on the other line or away from the desk.",
    "If this is an emergency, please hang up and dial nine one one.",
    "I'm probably out walking the dog.", "Your call is important to us.",
    "I check my messages every evening.", "For faster service, visit our website.",
    "Sorry I missed you.",
)
CLOSERS = (
    "Please leave a message after the tone.", "Leave your name and number and I'll call you back.",
    "Thank you.", "Talk to you soon, bye.", "At the tone, please record your message.",
    "I'll get back to you as soon as I can.",
)
BEEP_HZ = (1000.0, 1400.0, 440.0, 850.0, 1000.0, 1400.0)


@dataclass
class Item:
    name: str
    pcm: bytes
    label: dict[str, Any] = field(default_factory=dict)


# --- signal chain -------------------------------------------------------------------------------


def _ms(n_samples: int) -> int:
    return int(round(n_samples * 1000 / SAMPLE_RATE))


def _samples(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))


def _db(x: float) -> float:
    return 10 ** (x / 20)


def _trim(pcm: bytes) -> np.ndarray:
    """espeak-ng's render without its leading and trailing quiet, as float samples."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    loud = np.nonzero(np.abs(x) > 0.02 * max(1.0, np.abs(x).max()))[0]
    return x[loud[0] : loud[-1] + 1] if len(loud) else x[:0]


def _at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """`x` scaled to an RMS of `dbfs` (over its loud part: pauses do not count)."""
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    energy = np.sqrt((frames**2).mean(axis=1)) if len(frames) else np.array([0.0])
    active = energy[energy > energy.max() * 0.1] if energy.max() > 0 else energy
    level = float(np.sqrt((active**2).mean())) or 1.0
    return x * (32768 * _db(dbfs) / level)


def _sine(hz: float, seconds: float, dbfs: float) -> np.ndarray:
    n = _samples(seconds)
    t = np.arange(n) / SAMPLE_RATE
    y = np.sin(2 * np.pi * hz * t) * 32768 * _db(dbfs) * np.sqrt(2)
    ramp = min(n // 2, 40)
    if ramp:
        y[:ramp] *= np.linspace(0, 1, ramp)
        y[-ramp:] *= np.linspace(1, 0, ramp)
    return y


def _band_pass(x: np.ndarray, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    """The telephone band: an FFT mask with raised-cosine edges (offline, so zero phase)."""
    if not len(x):
        return x
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    mask = np.ones_like(f)
    lo = (f > low - 100) & (f < low + 50)
    mask[f <= low - 100] = 0
    mask[lo] = 0.5 - 0.5 * np.cos(np.pi * (f[lo] - (low - 100)) / 150)
    hi = (f > high - 100) & (f < high + 150)
    mask[f >= high + 150] = 0
    mask[hi] = 0.5 + 0.5 * np.cos(np.pi * (f[hi] - (high - 100)) / 250)
    return np.fft.irfft(spec * mask, len(x))


def _noise(rng: np.random.Generator, n: int, dbfs: float, colour: str) -> np.ndarray:
    white = rng.standard_normal(n)
    if colour == "pink":  # -3 dB/octave, shaped in the frequency domain
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        spec[1:] /= np.sqrt(f[1:] / 100.0)
        white = np.fft.irfft(spec, n)
    if colour == "hum":  # mains hum harmonics that survive the band-pass, plus hiss
        t = np.arange(n) / SAMPLE_RATE
        white = 0.5 * white + sum(np.sin(2 * np.pi * 60 * k * t + k) / k for k in (5, 6, 7))
    y = _band_pass(white)
    level = float(np.sqrt((y**2).mean())) or 1.0
    return y * (32768 * _db(dbfs) / level)


def _line(rng: np.random.Generator, x: np.ndarray, noise_dbfs: float | None, colour: str,
          babble: np.ndarray) -> bytes:
    """Band-pass, line noise, u-law round trip: 8 kHz PCM as a SIP call would deliver it."""
    y = _band_pass(x)
    if noise_dbfs is not None and colour == "babble":
        start = int(rng.integers(0, len(babble)))
        bed = np.roll(babble, -start)[: len(y)]
        bed = np.tile(bed, len(y) // max(1, len(bed)) + 1)[: len(y)]
        y = y + bed * (32768 * _db(noise_dbfs)) + _noise(rng, len(y), noise_dbfs - 15, "white")
    elif noise_dbfs is not None:
        y = y + _noise(rng, len(y), noise_dbfs, colour)
    pcm = np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes()
    return audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)


class _Track:
    """A timeline of float samples, appended in order."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.n = 0

    def add(self, x: np.ndarray) -> tuple[int, int]:
        start = self.n
        self.parts.append(x)
        self.n += len(x)
        return _ms(start), _ms(self.n)

    def pause(self, seconds: float) -> None:
        self.add(np.zeros(_samples(seconds)))

    def pad_to(self, seconds: float) -> None:
        self.pause(max(0.0, seconds - self.n / SAMPLE_RATE))

    def signal(self, max_seconds: float = 30.0) -> np.ndarray:
        x = np.concatenate(self.parts) if self.parts else np.zeros(0)
        return x[: _samples(max_seconds)]


# --- the plan: what each file holds, decided before any speech is rendered ---------------------


def _plan(seed: int, per_class: int | None) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    specs: list[dict[str, Any]] = []

    def channel(babble: bool = True) -> dict[str, Any]:
        noise = str(rng.choice(["white", "pink", "hum", "white", "pink", "hum", "babble" if babble else "white"]))
        return {
            "voice": str(rng.choice(VOICES)),
            "speed": int(rng.choice(SPEEDS)),
            "level_db": float(np.round(rng.uniform(-34, -10), 1)),
            "snr_db": float(rng.choice(BABBLE_SNRS_DB if noise == "babble" else SNRS_DB)),
            "noise": noise,
        }

    human_styles = ("immediate", "normal", "pause", "two_part")
    for i in range(72):
        style = human_styles[i % len(human_styles)]
        spec = {"kind": "human", "style": style, **channel(), "text": str(rng.choice(HUMAN_PHRASES))}
        spec["lead_s"] = {"immediate": 0.0, "normal": float(rng.uniform(0.2, 0.8)),
                          "pause": float(rng.uniform(1.0, 3.5)), "two_part": float(rng.uniform(0.0, 0.8))}[style]
        if style == "two_part":
            spec["text"] = "Hello?"
            spec["gap_s"] = float(rng.uniform(1.4, 2.5))
            spec["text2"] = str(rng.choice(HUMAN_SECOND))
        spec["follow_s"] = float(rng.uniform(3.0, 5.0))  # then they say something again
        spec["follow_text"] = str(rng.choice(HUMAN_SECOND))
        specs.append(spec)

    for i in range(72):
        beep = i % 2 == 0
        target = float(rng.uniform(3.0, 15.0))
        sentences = [str(rng.choice(OPENERS)), *(str(m) for m in rng.permutation(MIDDLES)),
                     str(rng.choice(CLOSERS))]
        gaps = [float(rng.uniform(0.15, 0.7)) for _ in sentences[1:]]
        if rng.random() < 0.25:
            gaps[0] = float(rng.uniform(0.6, 0.9))  # "Hello. ... You've reached": a trap
        spec = {"kind": "machine_beep" if beep else "machine_nobeep", **channel(), "sentences": sentences,
                "gaps_s": gaps, "lead_s": float(rng.choice([0.0, rng.uniform(0.1, 1.2)])),
                "target_s": round(target, 1)}
        if beep:
            spec.update(beep_hz=float(rng.choice(BEEP_HZ)), beep_s=float(rng.uniform(0.3, 1.0)),
                        beep_gap_s=float(rng.uniform(0.3, 1.0)),
                        beep_db=float(np.round(rng.uniform(-22, -10), 1)))
        spec["tail_s"] = float(rng.uniform(3.0, 5.0))
        specs.append(spec)

    for i in range(8):
        specs.append({"kind": "silence", "noise_db": None if i < 3 else float(rng.uniform(-70, -60)),
                      "noise": "white", "seconds": 10.0})
    for _ in range(10):
        specs.append({"kind": "noise", "noise_db": float(rng.uniform(-50, -34)),
                      "noise": str(rng.choice(["white", "pink", "hum"])), "seconds": 10.0})
    for i in range(11):
        ced = i >= 8  # an answering fax sends CED (2100 Hz), a calling one CNG
        specs.append({"kind": "fax", "tone": "CED" if ced else "CNG", "lead_s": float(rng.uniform(0.0, 1.5)),
                      "tone_db": float(np.round(rng.uniform(-24, -10), 1)),
                      "noise_db": float(rng.uniform(-60, -45)), "noise": "white", "seconds": 12.0})
    for i in range(12):
        digits = "".join(rng.choice(list("0123456789*#"), size=int(rng.integers(1, 6))))
        spec = {"kind": "dtmf" if i % 2 == 0 else "dtmf_human", "digits": digits,
                "dtmf_db": float(np.round(rng.uniform(-20, -8), 1)), "lead_s": float(rng.uniform(0.1, 1.0)),
                # No one talking in the background of DTMF alone (that would be speech heard).
                **channel(babble=i % 2 == 1), "text": str(rng.choice(HUMAN_PHRASES)), "seconds": 10.0}
        specs.append(spec)

    if per_class is not None:
        taken: dict[str, int] = {}
        keep = []
        for spec in specs:
            key = spec["kind"] + ("/" + spec["style"] if spec["kind"] == "human" else "")
            if taken.get(key, 0) < per_class:
                taken[key] = taken.get(key, 0) + 1
                keep.append(spec)
        specs = keep
    return specs


# --- rendering ---------------------------------------------------------------------------------


async def _speech(cache: dict, text: str, voice: str, speed: int) -> np.ndarray:
    key = (text, voice, speed)
    if key not in cache:
        cache[key] = asyncio.ensure_future(_limited(cache, text, voice, speed))
    return _trim(await cache[key])


async def _limited(cache: dict, text: str, voice: str, speed: int) -> bytes:
    async with cache.setdefault("limit", asyncio.Semaphore(4)):  # a few espeak-ng at a time
        return await tts(text, voice, speed)


def _expected(enable: str, detect_message_end: str | None = None) -> dict[str, str]:
    return {"Enable": enable, "DetectMessageEnd": detect_message_end or enable}


async def _render(spec: dict[str, Any], seed: int, index: int, cache: dict) -> Item:
    rng = np.random.default_rng([seed, index])
    kind = spec["kind"]
    track = _Track()
    label: dict[str, Any] = {"kind": kind, **{k: v for k, v in spec.items() if k != "kind"}}
    noise_db = None

    if kind in ("human", "dtmf_human", "dtmf"):
        voice, speed, level = spec["voice"], spec["speed"], spec["level_db"]
        noise_db = level - spec["snr_db"]
        if kind != "human":
            track.pause(spec["lead_s"])
            tones = np.frombuffer(dtmf_tones(spec["digits"], 90, 70, 0.0), dtype="<i2").astype(np.float64)
            track.add(tones * _db(spec["dtmf_db"]))
            label["dtmf_ms"] = [_ms(track.n - len(tones)), _ms(track.n)]
            if kind == "dtmf":
                label["expected"] = _expected("unknown")
            else:
                track.pause(float(rng.uniform(0.5, 1.5)))
        if kind != "dtmf":
            track.pause(spec.get("lead_s", 0.0) if kind == "human" else 0.0)
            first = _at_level(await _speech(cache, spec["text"], voice, speed), level)
            label["speech_start_ms"], label["speech_end_ms"] = track.add(first)
            if spec.get("style") == "two_part":
                track.pause(spec["gap_s"])
                track.add(_at_level(await _speech(cache, spec["text2"], voice, speed), level))
            track.pause(spec.get("follow_s", 4.0))
            track.add(_at_level(await _speech(cache, spec.get("follow_text", "Hello?"), voice, speed), level))
            label["expected"] = _expected("human")
        track.pad_to(10.0)

    elif kind.startswith("machine"):
        voice, speed, level = spec["voice"], spec["speed"], spec["level_db"]
        noise_db = level - spec["snr_db"]
        track.pause(spec["lead_s"])
        # Opener, as many middles as fit in the target length (at least 3 s in all), closer.
        said = [spec["sentences"][0], spec["sentences"][-1]]
        parts = {t: _at_level(await _speech(cache, t, voice, speed), level) for t in said}
        length = (len(parts[said[0]]) + len(parts[said[1]])) / SAMPLE_RATE + spec["gaps_s"][0]
        for sentence, gap in zip(spec["sentences"][1:-1], spec["gaps_s"][1:]):
            x = _at_level(await _speech(cache, sentence, voice, speed), level)
            if length >= 3.0 and length + gap + len(x) / SAMPLE_RATE > spec["target_s"]:
                break
            said.insert(-1, sentence)
            parts[sentence] = x
            length += gap + len(x) / SAMPLE_RATE
        label["sentences"] = said
        start = end = 0
        for i, sentence in enumerate(said):
            if i:
                track.pause(spec["gaps_s"][i - 1])
            s, end = track.add(parts[sentence])
            start = s if i == 0 else start
        label["speech_start_ms"], label["speech_end_ms"] = start, end
        label["greeting_s"] = round((end - start) / 1000, 2)
        if kind == "machine_beep":
            track.pause(spec["beep_gap_s"])
            label["beep_start_ms"], label["beep_end_ms"] = track.add(
                _sine(spec["beep_hz"], spec["beep_s"], spec["beep_db"]))
            label["expected"] = _expected("machine_start", "machine_end_beep")
        else:
            label["expected"] = _expected("machine_start", "machine_end_silence")
        track.pause(spec["tail_s"])

    elif kind in ("silence", "noise"):
        noise_db = spec["noise_db"]
        track.pad_to(spec["seconds"])
        label["expected"] = _expected("unknown")

    elif kind == "fax":
        noise_db = spec["noise_db"]
        track.pause(spec["lead_s"])
        while track.n < _samples(spec["seconds"]):
            if spec["tone"] == "CNG":  # T.30: 1100 Hz, 0.5 s on, 3 s off
                track.add(_sine(1100.0, 0.5, spec["tone_db"]))
                track.pause(3.0)
            else:  # V.25 answer tone: 2100 Hz for 2.6-4 s, then V.21 (not modelled: silence)
                track.add(_sine(2100.0, 3.3, spec["tone_db"]))
                track.pause(8.0)
        label["expected"] = _expected("fax")

    pcm = _line(rng, track.signal(), noise_db, spec.get("noise", "white"), cache["babble"])
    name = f"{index:03d}_{kind}.wav"
    label = {"file": name, **label, "duration_ms": _ms(len(pcm) // 2)}
    return Item(name, pcm, label)


async def _babble(cache: dict) -> np.ndarray:
    """30 s of four people talking at once in the background (unit RMS, telephone band)."""
    voices = ("en-us+m3", "en-gb+f3", "en-us+f2", "en-gb")
    streams = []
    for v, voice in enumerate(voices):
        said = [await _speech(cache, t, voice, 170) for t in MIDDLES[v:] + MIDDLES[:v]]
        gap = np.zeros(_samples(0.25))
        streams.append(np.concatenate([p for x in said for p in (x, gap)])[: _samples(30)])
    n = min(len(x) for x in streams)
    bed = _band_pass(sum(x[:n] for x in streams))
    return bed / (float(np.sqrt((bed**2).mean())) or 1.0)


async def _render_all(specs: list[dict[str, Any]], seed: int) -> list[Item]:
    cache: dict = {}
    cache["babble"] = await _babble(cache)
    return list(await asyncio.gather(*(_render(s, seed, i, cache) for i, s in enumerate(specs))))


def build(seed: int = 7, per_class: int | None = None) -> list[Item]:
    """The corpus in memory (all of it, or the first `per_class` of each kind)."""
    return asyncio.run(_render_all(_plan(seed, per_class), seed))


def write(items: list[Item], out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for item in items:
        write_wav(out / item.name, item.pcm)
    labels = out / "labels.json"
    labels.write_text(json.dumps([item.label for item in items], indent=1))
    return labels


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-class", type=int, default=None, help="only the first N files of each kind")
    args = ap.parse_args(argv)
    items = build(args.seed, args.per_class)
    labels = write(items, args.out_dir)
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item.label["kind"]] = kinds.get(item.label["kind"], 0) + 1
    print(f"{len(items)} files in {args.out_dir} ({labels.name}): "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))


if __name__ == "__main__":
    main()
