"""Answering machine detection: a per-call classifier fed the callee's audio frame by frame.

Pure and synchronous (no I/O, no clock of its own: time is the audio fed, 20 ms a frame), so it
runs on the media loop for every inbound frame and replays the same way offline
(bench/amd_eval.py). Twilio's parameters and answers (docs/semantics.md):

- Nothing heard for ``silence_timeout_ms`` -> ``unknown``.
- Speech that goes on (pauses shorter than ``speech_end_threshold_ms`` included) for
  ``speech_threshold_ms`` -> a machine; a shorter utterance followed by ``speech_end_threshold_ms``
  of silence -> ``human`` (decided as soon as that silence is reached: no fixed analysis window).
- A fax calling tone (CNG, 1100 Hz) or answer tone (CED, 2100 Hz) before any speech -> ``fax``.
- A steady single tone (a voicemail beep, 380-2150 Hz) after speech -> a machine.
- ``Enable`` answers ``machine_start`` at once; ``DetectMessageEnd`` keeps listening for the
  greeting's end: the beep's end (``machine_end_beep``), ``speech_end_threshold_ms`` of silence
  (``machine_end_silence``), or the timeout (``machine_end_other``).

A frame is speech when it is (1) well above the line's noise floor (the minimum frame level of the
last second: stationary line noise never is, and WebRTC VAD alone calls loud noise speech),
(2) within 15 dB of the talker's loudest (people talking in the background are not the callee),
(3) not a tone (a DTMF pair, a pure tone or a steady single one holding most of the energy above
the noise: beeps, keys and fax tones, which WebRTC VAD calls speech too), and (4) speech to WebRTC
VAD (or, inside an utterance, 8 dB above the floor: the VAD's most aggressive mode drops speech in
noise). Speech starts with 3 such frames out of 5, one of them at -40 dBFS or more; a single
stray frame neither starts nor prolongs it. The spectrum (one 320-point FFT over the last 40 ms)
is only computed for frames above the noise gate: silence costs ~5 us a frame, speech ~40 us.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import numpy as np
import webrtcvad

from .codecs import FRAME_BYTES, FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, audioop
from .dtmf import COL_HZ, ROW_HZ

ENABLE = "Enable"
DETECT_MESSAGE_END = "DetectMessageEnd"
MODES = (ENABLE, DETECT_MESSAGE_END)

HUMAN = "human"
MACHINE_START = "machine_start"
MACHINE_END_BEEP = "machine_end_beep"
MACHINE_END_SILENCE = "machine_end_silence"
MACHINE_END_OTHER = "machine_end_other"
FAX = "fax"
UNKNOWN = "unknown"
ANSWERS = (HUMAN, MACHINE_START, MACHINE_END_BEEP, MACHINE_END_SILENCE, MACHINE_END_OTHER, FAX, UNKNOWN)
MACHINE_ANSWERS = (MACHINE_START, MACHINE_END_BEEP, MACHINE_END_SILENCE, MACHINE_END_OTHER)

# Twilio's ranges (milliseconds; the API takes MachineDetectionTimeout in seconds, 3-59).
RANGES = {
    "timeout_ms": (3000, 59000),
    "speech_threshold_ms": (1000, 6000),
    "speech_end_threshold_ms": (500, 5000),
    "silence_timeout_ms": (2000, 10000),
}


@dataclass(frozen=True)
class AmdParams:
    """MachineDetection* parameters, in milliseconds, with Twilio's defaults and ranges."""

    mode: str = ENABLE
    timeout_ms: int = 30000
    speech_threshold_ms: int = 2400
    speech_end_threshold_ms: int = 1200
    silence_timeout_ms: int = 5000

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"MachineDetection must be one of {', '.join(MODES)}, not {self.mode!r}")
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number of ms in {low}-{high}, not {value!r}")

    @classmethod
    def from_call(cls, call: Mapping[str, Any]) -> AmdParams | None:
        """From a call row (the ``machine_detection*`` columns; None means Twilio's default).
        None when the call did not ask for AMD."""
        mode = call.get("machine_detection")
        if not mode:
            return None
        values: dict[str, Any] = {"mode": mode}
        timeout_s = call.get("machine_detection_timeout")
        if timeout_s is not None:
            values["timeout_ms"] = int(timeout_s) * 1000
        for column, name in (
            ("machine_detection_speech_threshold", "speech_threshold_ms"),
            ("machine_detection_speech_end_threshold", "speech_end_threshold_ms"),
            ("machine_detection_silence_timeout", "silence_timeout_ms"),
        ):
            if call.get(column) is not None:
                values[name] = int(call[column])
        return cls(**values)


@dataclass(frozen=True)
class AmdResult:
    answered_by: str  # one of ANSWERS
    duration_ms: int  # audio heard from the start to the decision (MachineDetectionDuration)
    confidence: float  # 0..1 (AmdConfidence)

    @property
    def is_machine(self) -> bool:
        return self.answered_by in MACHINE_ANSWERS


class Vad(Protocol):
    def is_speech(self, frame: bytes, sample_rate: int) -> bool: ...


# --- tuning (8 kHz, 20 ms frames; measured on bench/amd_corpus.py) ------------------------------

VAD_MODE = 3  # WebRTC VAD's most aggressive mode: the fewest noise frames called speech
MIN_LEVEL = 60.0  # RMS below which a frame is silence whatever the floor (-55 dBFS)
GATE_ON = 10 ** (8 / 20)  # speech starts with frames at least 8 dB above the noise floor
GATE_HOLD = 10 ** (4 / 20)  # and goes on with frames at least 4 dB above it
FOREGROUND = 10 ** (-15 / 20)  # speech frames are within 15 dB of the talker's loudest (babble is not)
RESTART = 10 ** (10 / 20)  # a talker 10 dB louder than what started the utterance starts a new one
PEAK_LAG = 5  # frames (a syllable's rise)
PEAK_DECAY = 10 ** (-1 / 20 / (1000 / FRAME_MS))  # the loudest level fades by 1 dB a second
FLOOR_BLOCK = 10  # the floor is the minimum over FLOOR_BLOCKS blocks of FLOOR_BLOCK frames (~1 s)
FLOOR_BLOCKS = 5
TONAL = 0.85  # a DTMF pair holding this share of the energy: not speech
SINGLE = 0.85  # one peak holding this share: a single tone (beep, fax)
PURE = 0.97  # one peak holding this share: a pure tone, never speech
STEADY_FRAMES = 3  # a single tone steady for 60 ms is not speech either
NOISE_SHARE_MAX = 1.5  # the line noise discounted from a spectrum: at most a third of it
ONSET_FRAMES, ONSET_WINDOW = 3, 5  # speech starts with 3 speech frames out of 5
ONSET_LEVEL = 32768 * 10 ** (-40 / 20)  # one of them reaching -40 dBFS: talking into the phone
BEEP_MIN_MS = 200  # a steady single tone this long is a beep (a vowel: <= 160 ms)
BEEP_MAX_MS = 5000  # a tone this long is part of the line (hum, a stuck tone): waited for no more
BEEP_LOW_HZ, BEEP_HIGH_HZ = 380.0, 2150.0
BEEP_TOLERANCE_HZ = 15.0  # a beep's frequency is steady (a voice's glides)
CNG_HZ, CNG_MIN_MS = 1100.0, 400  # T.30 calling tone: 0.5 s bursts
CED_HZ, CED_MIN_MS = 2100.0, 1000  # V.25 answer tone: 2.6-4 s
FAX_TOLERANCE_HZ = 40.0

_WINDOW = np.hanning(2 * FRAME_SAMPLES)
# Power of white noise of RMS 1 in the windowed 40 ms spectrum (sum over the rfft bins).
_NOISE_POWER = FRAME_SAMPLES * float((_WINDOW**2).sum())
_BIN_HZ = SAMPLE_RATE / (2 * FRAME_SAMPLES)  # 25 Hz


def _bins_near(table: tuple[float, ...]) -> frozenset[int]:
    """The spectrum bins within one bin (25 Hz) of the frequencies of `table`."""
    return frozenset(k for f in table for k in range(int(f // _BIN_HZ), int(f // _BIN_HZ) + 2))


_ROW_BINS = _bins_near(ROW_HZ)
_COL_BINS = _bins_near(COL_HZ)


@dataclass
class _Tone:
    hz: float
    start_ms: int
    frames: int = 1
    misses: int = 0


class AmdDetector:
    """Feed every inbound 20 ms frame (320 bytes of 8 kHz 16-bit PCM); ``feed`` returns the
    result once, on the frame that decides it, and None before and after. ``timeout()`` when
    the caller's deadline passes first (``feed`` also applies ``timeout_ms`` to the audio fed).

    ``vad`` is anything with WebRTC VAD's ``is_speech(frame, 8000)`` (the benchmark swaps in
    other VADs); by default a new ``webrtcvad.Vad`` per call (a few hundred bytes).
    """

    def __init__(self, params: AmdParams | None = None, vad: Vad | None = None) -> None:
        self.params = params or AmdParams()
        self._vad = vad if vad is not None else webrtcvad.Vad(VAD_MODE)
        self.result: AmdResult | None = None
        self.machine_start_ms: int | None = None  # when the machine was recognised (both modes)
        self._ms = 0  # audio fed so far
        self._pending = b""  # a partial frame
        self._prev = np.zeros(FRAME_SAMPLES)  # the previous frame's samples, for the 40 ms FFT
        self._prev_loud = False
        # Noise floor: minimum frame RMS per block of frames, over the last few blocks.
        self._blocks: deque[float] = deque(maxlen=FLOOR_BLOCKS)
        self._blocks_min = math.inf  # min(self._blocks)
        self._block_min = math.inf
        self._block_n = 0
        # Speech.
        self._recent: deque[float] = deque(maxlen=ONSET_WINDOW)  # speech frames' levels (0: not speech)
        self._peak = 0.0  # the loudest speech frame's level, fading, as of PEAK_LAG frames ago
        self._levels: deque[float] = deque(maxlen=PEAK_LAG)  # the latest speech frames' levels
        self._speech_start_ms: int | None = None  # the first utterance's start
        self._last_speech_ms = 0  # end of the last frame that was speech
        self._speech_frames = 0  # speech frames since the utterance began
        # Tones.
        self._tone: _Tone | None = None  # the single tone being followed
        self._beep_start_ms: int | None = None  # a beep heard (long enough), not yet ended

    # --- public --------------------------------------------------------------------------------

    @property
    def decided(self) -> bool:
        return self.result is not None

    def feed(self, frame: bytes) -> AmdResult | None:
        """One frame of inbound audio (any length is accepted; analysis is per 20 ms)."""
        if self.result is not None:
            return None
        if len(frame) != FRAME_BYTES or self._pending:
            data = self._pending + bytes(frame)
            whole = len(data) // FRAME_BYTES * FRAME_BYTES
            self._pending = data[whole:]
            for i in range(0, whole, FRAME_BYTES):
                result = self._frame(data[i : i + FRAME_BYTES])
                if result is not None:
                    self._pending = b""
                    return result
            return None
        return self._frame(frame)

    def timeout(self) -> AmdResult:
        """The caller's deadline (MachineDetectionTimeout): the result, deciding now if need be."""
        if self.result is None:
            if self.machine_start_ms is not None:
                self._decide(MACHINE_END_OTHER, 0.6)
            else:
                self._decide(UNKNOWN, 0.0)
        assert self.result is not None
        return self.result

    # --- per frame -----------------------------------------------------------------------------

    def _frame(self, frame: bytes) -> AmdResult | None:
        self._ms += FRAME_MS
        now = self._ms
        level = float(audioop.rms(frame, 2))
        floor = self._floor()
        vad_speech = self._vad.is_speech(frame, SAMPLE_RATE)  # every frame: it adapts to the line
        talking = self._speech_start_ms is not None
        loud = level > MIN_LEVEL and level > floor * (GATE_HOLD if talking else GATE_ON)
        speech = False
        single_hz = 0.0
        dtmf = pure = analysed = False
        if loud or (self._tone is not None and level > MIN_LEVEL):
            x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
            dtmf, single_hz, pure = self._spectrum(x, floor)
            self._prev = x
            self._prev_loud = analysed = True
        elif self._prev_loud:
            self._prev = np.zeros(FRAME_SAMPLES)
            self._prev_loud = False
        if not single_hz:  # a beep or a fax tone is not the line's noise
            self._add_to_floor(level)
        self._peak *= PEAK_DECAY

        decided = self._follow_tone(single_hz, now)
        if decided is not None:
            return decided

        if analysed and loud and not dtmf and not pure and level >= self._peak * FOREGROUND:
            # A vowel can be one strong harmonic for a frame or two; a tone stays.
            steady = single_hz and self._tone is not None and self._tone.frames >= STEADY_FRAMES
            voiced = vad_speech or (talking and level > floor * GATE_ON)
            speech = voiced and not steady
        recent = self._recent
        recent.append(level if speech else 0.0)
        if speech:
            if (talking and self.machine_start_ms is None and self._peak
                    and level > self._peak * RESTART):
                # Someone far louder than what was heard so far (the callee over a TV): their
                # utterance is the one that counts.
                self._speech_start_ms = now - FRAME_MS * ONSET_WINDOW
                self._speech_frames = 0
            if len(self._levels) == PEAK_LAG:  # lagging: a talker's own onset is not "louder"
                self._peak = max(self._peak, self._levels[0])
            self._levels.append(level)
        if not talking:
            heard = len(recent) - recent.count(0.0)
            if heard >= ONSET_FRAMES and max(recent) >= ONSET_LEVEL:
                self._speech_start_ms = now - FRAME_MS * len(recent)
                self._last_speech_ms = now
                self._speech_frames = heard
        elif speech and len(recent) >= 3 and (recent[-2] or recent[-3]):
            self._last_speech_ms = now
            self._speech_frames += 1

        p = self.params
        # A tone that may still turn out to be a beep holds the silence timers.
        tone_pending = self._tone is not None and self._tone.frames * FRAME_MS < BEEP_MAX_MS
        if self.machine_start_ms is None:
            if self._speech_start_ms is None:
                if now >= p.silence_timeout_ms:
                    return self._decide(UNKNOWN, 0.0)
            else:
                span = self._last_speech_ms - self._speech_start_ms
                if span >= p.speech_threshold_ms:
                    voiced = self._speech_frames * FRAME_MS / max(span, 1)
                    return self._machine(min(0.95, 0.7 + 0.3 * voiced))
                if now - self._last_speech_ms >= p.speech_end_threshold_ms and not tone_pending:
                    return self._decide(HUMAN, round(0.6 + 0.35 * (1 - span / p.speech_threshold_ms), 2))
        elif self._beep_start_ms is None and not tone_pending:
            if now - max(self._last_speech_ms, self.machine_start_ms) >= p.speech_end_threshold_ms:
                return self._decide(MACHINE_END_SILENCE, 0.85)
        if now >= p.timeout_ms:
            return self.timeout()
        return None

    def _floor(self) -> float:
        """The line's noise floor: the lowest frame level of the last ~second (minimum
        statistics), 0 before any frame."""
        floor = min(self._blocks_min, self._block_min)
        return floor if floor != math.inf else 0.0

    def _add_to_floor(self, level: float) -> None:
        if level < self._block_min:
            self._block_min = level
        self._block_n += 1
        if self._block_n == FLOOR_BLOCK:
            self._blocks.append(self._block_min)
            self._blocks_min = min(self._blocks)
            self._block_min, self._block_n = math.inf, 0

    def _spectrum(self, x: np.ndarray, floor: float) -> tuple[bool, float, bool]:
        """(a DTMF pair holds most of the energy, the frequency of a single dominant tone or 0,
        that tone is pure: nothing else is heard)."""
        p = np.fft.rfft(np.concatenate((self._prev, x)) * _WINDOW)
        p = p.real * p.real + p.imag * p.imag
        raw = float(p.sum()) or 1.0
        # The line's noise is spread over every bin: what it adds is not the tone's (counted
        # for at most a third of the energy, so that speech in noise does not look tonal).
        total = max(raw - floor * floor * _NOISE_POWER, raw / NOISE_SHARE_MAX)
        k = int(p.argmax())
        lo, hi = max(0, k - 2), k + 3
        first = float(p[lo:hi].sum())
        if first >= SINGLE * total:
            # Parabolic interpolation of the peak on log power: ~2 Hz, not the 25 Hz bins.
            hz = float(k)
            if 0 < k < len(p) - 1:
                a, b, c = np.log(p[k - 1 : k + 2] + 1e-12)
                den = a - 2 * b + c
                hz = k + (0.5 * (a - c) / den if den else 0.0)
            return False, hz * _BIN_HZ, first >= PURE * total
        if k not in _ROW_BINS and k not in _COL_BINS:
            return False, 0.0, False
        rest = p.copy()
        rest[lo:hi] = 0
        k2 = int(rest.argmax())
        second = float(rest[max(0, k2 - 2) : k2 + 3].sum())
        low, high = min(k, k2), max(k, k2)
        return first + second >= TONAL * total and low in _ROW_BINS and high in _COL_BINS, 0.0, False

    def _follow_tone(self, hz: float, now: int) -> AmdResult | None:
        """Single tones: beeps (their end, in DetectMessageEnd) and fax tones."""
        tone = self._tone
        if tone is not None and hz and abs(hz - tone.hz) <= BEEP_TOLERANCE_HZ:
            tone.frames += 1
            tone.hz += (hz - tone.hz) / tone.frames  # the mean: a beep's pitch does not glide
            tone.misses = 0
        elif tone is not None and tone.misses == 0 and tone.frames >= 3:
            tone.misses = 1  # one frame's dropout (noise, a click) does not end a tone
            return None
        else:
            ended = tone
            self._tone = _Tone(hz, now - FRAME_MS) if hz else None
            if ended is not None and self._beep_start_ms is not None:
                return self._beep_ended()
            return None
        length = tone.frames * FRAME_MS
        heard_speech = self._speech_start_ms is not None
        if self.machine_start_ms is None and not heard_speech:
            if abs(tone.hz - CNG_HZ) <= FAX_TOLERANCE_HZ and length >= CNG_MIN_MS:
                return self._decide(FAX, 0.95)
            if abs(tone.hz - CED_HZ) <= FAX_TOLERANCE_HZ and length >= CED_MIN_MS:
                return self._decide(FAX, 0.95)
        if (heard_speech and self._beep_start_ms is None and length >= BEEP_MIN_MS
                and BEEP_LOW_HZ <= tone.hz <= BEEP_HIGH_HZ):
            self._beep_start_ms = tone.start_ms
            if self.machine_start_ms is None:
                return self._machine(0.9)
        return None

    def _beep_ended(self) -> AmdResult | None:
        self._beep_start_ms = None
        if self.params.mode == DETECT_MESSAGE_END and self.machine_start_ms is not None:
            return self._decide(MACHINE_END_BEEP, 0.95)
        return None

    def _machine(self, confidence: float) -> AmdResult | None:
        self.machine_start_ms = self._ms
        if self.params.mode == ENABLE:
            return self._decide(MACHINE_START, round(confidence, 2))
        return None

    def _decide(self, answered_by: str, confidence: float) -> AmdResult:
        self.result = AmdResult(answered_by, self._ms, confidence)
        return self.result
