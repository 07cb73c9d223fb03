"""The Calling API's commands: each one's params validated into a small typed object.

The names and shapes are signalwire-sdk's (`RestClient(...).calling`, wire-compat.md); what a
command does on a live call is control.py's. Commands that need speech recognition, an AI
session or fax are validated here and then answered 501 (`NOT_AVAILABLE`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from wirexa.calling.params import CommandError, Params, invalid, missing, not_available

# Commands the engine does not have the capability for (speech recognition, AI, fax): they
# are validated, then answered 501 with what is missing.
NOT_AVAILABLE = {
    "calling.transcribe": "Call transcription (speech recognition)",
    "calling.live_transcribe": "Live transcription (speech recognition)",
    "calling.live_translate": "Live translation (speech recognition and translation)",
    "calling.ai_message": "AI agent sessions",
    "calling.ai_hold": "AI agent sessions",
    "calling.ai_unhold": "AI agent sessions",
    "calling.ai.stop": "AI agent sessions",
    "calling.send_fax.stop": "Fax",
    "calling.receive_fax.stop": "Fax",
}

HANGUP_REASONS = ("hangup", "cancel", "busy", "noAnswer", "decline", "error")
STATE_EVENTS = ("queued", "initiated", "ringing", "answered", "ending", "ended")
PLAY_DIRECTIONS = ("listen", "speak", "both")
TAP_DIRECTIONS = ("listen", "speak", "both")
STREAM_TRACKS = ("inbound_track", "outbound_track", "both_tracks")
CODECS = ("PCMU", "PCMA")
DIGIT_CHARS = frozenset("0123456789*#ABCD")
FAX_TONES = ("CED", "CNG")

# Ringtones: (frequencies, on/off cadence in seconds) per country (ITU-T E.180 supplement).
RINGTONES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "us": ((440, 480), (2.0, 4.0)),
    "ca": ((440, 480), (2.0, 4.0)),
    "uk": ((400, 450), (0.4, 0.2, 0.4, 2.0)),
    "au": ((400, 450), (0.4, 0.2, 0.4, 2.0)),
    "nz": ((400, 450), (0.4, 0.2, 0.4, 2.0)),
    "de": ((425,), (1.0, 4.0)),
    "at": ((425,), (1.0, 5.0)),
    "ch": ((425,), (1.0, 4.0)),
    "nl": ((425,), (1.0, 4.0)),
    "it": ((425,), (1.0, 4.0)),
    "es": ((425,), (1.5, 3.0)),
    "fr": ((440,), (1.5, 3.5)),
    "be": ((425,), (1.0, 3.0)),
    "se": ((425,), (1.0, 5.0)),
    "no": ((425,), (1.0, 4.0)),
    "dk": ((425,), (1.0, 4.0)),
    "fi": ((425,), (1.0, 4.0)),
    "pl": ((425,), (1.0, 4.0)),
    "pt": ((425,), (1.0, 5.0)),
    "br": ((425,), (1.0, 4.0)),
    "mx": ((425,), (1.0, 4.0)),
    "in": ((400, 450), (0.4, 0.2, 0.4, 2.0)),
    "jp": ((400,), (1.0, 2.0)),
    "cn": ((450,), (1.0, 4.0)),
    "ru": ((425,), (0.8, 3.2)),
    "za": ((400, 450), (0.4, 0.2, 0.4, 2.0)),
}


def new_control_id() -> str:
    return str(uuid.uuid4())


def control_id(p: Params, *, required: bool) -> str:
    value = p.string("control_id", required=required, max_length=128)
    return value or new_control_id()


# --- lifecycle --------------------------------------------------------------------------------


def state_events(p: Params) -> str | None:
    raw = p.raw("status_events")
    if raw is None:
        return None
    values = raw.replace(",", " ").split() if isinstance(raw, str) else raw
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise invalid(p.at("status_events"), "must be an array of event names")
    for v in values:
        if v not in STATE_EVENTS:
            raise invalid(p.at("status_events"), f"unknown event {v!r} (one of {', '.join(STATE_EVENTS)})")
    return " ".join(values) or None


def codecs(p: Params) -> None:
    raw = p.raw("codecs")
    if raw is None:
        return
    values = raw.replace(",", " ").split() if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values:
        raise invalid(p.at("codecs"), "must be a list of codec names")
    known = [v for v in values if isinstance(v, str) and v.upper().split("@")[0] in CODECS]
    if not known:
        raise invalid(p.at("codecs"), f"none of {values!r} is available; this engine speaks {', '.join(CODECS)}")


@dataclass(frozen=True)
class Transfer:
    kind: str  # "dial" (a number or SIP URI, bridged) | "url" (a LaML document)
    dest: str


def transfer(p: Params) -> Transfer:
    dest = p.raw("dest")
    if dest is None:
        raise missing(p.at("dest"))
    if isinstance(dest, dict):
        raise not_available("SWML", p.at("dest"))
    if not isinstance(dest, str) or not dest.strip():
        raise invalid(p.at("dest"), "must be a phone number, a SIP URI or a document URL")
    dest = dest.strip()
    if dest.startswith(("http://", "https://")):
        return Transfer("url", p.url("dest") or dest)
    return Transfer("dial", dest)


# --- play -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayItem:
    type: str  # audio | tts | silence | ringtone
    url: str = ""
    text: str = ""
    voice: str = "woman"
    language: str = "en-US"
    duration: float = 0.0  # silence, ringtone (0: ringtone plays one cadence)
    name: str = ""


def play_item(raw: Any, path: str) -> PlayItem:
    item = Params(raw, path)
    kind = item.string("type", required=True, choices=("audio", "tts", "silence", "ringtone"))
    # signalwire-sdk's examples put the fields beside `type`; RELAY puts them in `params`.
    p = item.obj("params") or item
    if kind == "audio":
        return PlayItem("audio", url=p.url("url", required=True) or "")
    if kind == "tts":
        text = p.string("text", required=True, max_length=10000) or ""
        gender = p.string("gender", choices=("male", "female"))
        voice = p.string("voice") or ("man" if gender == "male" else "woman")
        return PlayItem("tts", text=text, voice=voice, language=p.string("language") or "en-US")
    if kind == "silence":
        return PlayItem("silence", duration=p.number("duration", low=0, high=3600, required=True) or 0.0)
    name = (p.string("name", required=True) or "").lower()
    if name not in RINGTONES:
        raise invalid(p.at("name"), f"unknown ringtone {name!r} (one of {', '.join(sorted(RINGTONES))})")
    return PlayItem("ringtone", name=name, duration=p.number("duration", low=0, high=3600, default=0.0) or 0.0)


@dataclass(frozen=True)
class Play:
    control_id: str
    items: tuple[PlayItem, ...]
    volume: float  # dB
    direction: str
    loop: int  # 0: until stopped
    status_url: str | None


def play(p: Params) -> Play:
    raw = p.array("play", required=True)
    items = tuple(play_item(item, f"{p.at('play')}[{i}]") for i, item in enumerate(raw))
    return Play(
        control_id=control_id(p, required=False), items=items,
        volume=p.number("volume", low=-40, high=40, default=0.0) or 0.0,
        direction=p.string("direction", choices=PLAY_DIRECTIONS) or "listen",
        loop=p.integer("loop", low=0, high=1000, default=1) or 0,
        status_url=p.url("status_url"),
    )


# --- record -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    control_id: str
    beep: bool
    format: str  # wav | mp3
    stereo: bool
    direction: str  # listen (what the call hears) | speak (what it says) | both
    initial_timeout: float  # seconds of silence before anything is said that end it (0: never)
    end_silence_timeout: float  # seconds of silence after speech that end it (0: never)
    terminators: str
    status_url: str | None


def record(p: Params) -> Record:
    audio = p.obj("audio") or Params({}, p.at("audio"))
    terminators = audio.string("terminators", default="") or ""
    if set(terminators) - DIGIT_CHARS:
        raise invalid(audio.at("terminators"), "digits 0-9, *, # and A-D only")
    direction = audio.string("direction", choices=("listen", "speak", "both")) or "speak"
    stereo = audio.boolean("stereo")
    if stereo and direction != "both":
        raise invalid(audio.at("stereo"), "a stereo recording has both directions (direction: both)")
    return Record(
        control_id=control_id(p, required=False), beep=audio.boolean("beep"),
        format=audio.string("format", choices=("wav", "mp3")) or "mp3", stereo=stereo, direction=direction,
        initial_timeout=audio.number("initial_timeout", low=0, high=3600, default=0.0) or 0.0,
        end_silence_timeout=audio.number("end_silence_timeout", low=0, high=3600, default=0.0) or 0.0,
        terminators=terminators, status_url=p.url("status_url"),
    )


# --- collect ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Collect:
    control_id: str
    max_digits: int
    terminators: str
    digit_timeout: float
    initial_timeout: float
    start_input_timers: bool
    continuous: bool
    partial_results: bool
    send_start_of_input: bool
    status_url: str | None


def collect(p: Params) -> Collect:
    digits = p.obj("digits")
    speech = p.obj("speech")
    if digits is None and speech is None:
        raise CommandError(400, "params.digits or params.speech is required", "params.digits", "missing_parameter")
    if speech is not None:
        raise not_available("Speech input (speech recognition)", p.at("speech"))
    assert digits is not None
    terminators = digits.string("terminators", default="") or ""
    if set(terminators) - DIGIT_CHARS:
        raise invalid(digits.at("terminators"), "digits 0-9, *, # and A-D only")
    return Collect(
        control_id=control_id(p, required=False),
        max_digits=digits.integer("max", low=1, high=100, required=True) or 1,
        terminators=terminators,
        digit_timeout=digits.number("digit_timeout", low=0.1, high=600, default=5.0) or 5.0,
        initial_timeout=p.number("initial_timeout", low=0.1, high=600, default=5.0) or 5.0,
        start_input_timers=p.boolean("start_input_timers", True),
        continuous=p.boolean("continuous"),
        partial_results=p.boolean("partial_results"),
        send_start_of_input=p.boolean("send_start_of_input"),
        status_url=p.url("status_url"),
    )


# --- detect -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detect:
    control_id: str
    type: str  # machine | fax | digit
    timeout: float
    status_url: str | None
    # machine
    initial_timeout: float = 4.5
    end_silence_timeout: float = 1.0
    machine_voice_threshold: float = 1.25
    wait_for_beep: bool = False
    # fax
    tone: str = "CED"
    # digit
    digits: str = "0123456789*#"


def detect(p: Params) -> Detect:
    spec = p.obj("detect", required=True)
    assert spec is not None
    kind = spec.string("type", required=True, choices=("machine", "fax", "digit"))
    q = spec.obj("params") or Params({}, spec.at("params"))
    common: dict[str, Any] = dict(control_id=control_id(p, required=False), type=kind,
                                  timeout=p.number("timeout", low=1, high=600, default=30.0) or 30.0,
                                  status_url=p.url("status_url"))
    if kind == "machine":
        return Detect(**common,
                      initial_timeout=q.number("initial_timeout", low=0.5, high=60, default=4.5) or 4.5,
                      end_silence_timeout=q.number("end_silence_timeout", low=0.1, high=10, default=1.0) or 1.0,
                      machine_voice_threshold=q.number("machine_voice_threshold", low=0.1, high=10,
                                                       default=1.25) or 1.25,
                      wait_for_beep=q.boolean("wait_for_beep"))
    if kind == "fax":
        return Detect(**common, tone=q.string("tone", choices=FAX_TONES) or "CED")
    digits = q.string("digits", default="0123456789*#") or ""
    if not digits or set(digits) - DIGIT_CHARS:
        raise invalid(q.at("digits"), "digits 0-9, *, # and A-D only")
    return Detect(**common, digits=digits)


# --- tap and stream ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tap:
    control_id: str
    direction: str  # listen | speak | both
    device: str  # rtp | ws
    addr: str = ""
    port: int = 0
    uri: str = ""
    codec: str = "PCMU"
    ptime: int = 20
    status_url: str | None = None


def tap(p: Params) -> Tap:
    spec = p.obj("tap", required=True)
    assert spec is not None
    spec.string("type", choices=("audio",))
    tp = spec.obj("params") or Params({}, spec.at("params"))
    direction = tp.string("direction", choices=TAP_DIRECTIONS) or "speak"
    device = p.obj("device", required=True)
    assert device is not None
    kind = device.string("type", required=True, choices=("rtp", "ws"))
    dp = device.obj("params", required=True)
    assert dp is not None
    codec = (dp.string("codec", choices=(*CODECS, "pcmu", "pcma")) or "PCMU").upper()
    common: dict[str, Any] = dict(control_id=control_id(p, required=False), direction=direction, device=kind,
                                  codec=codec, status_url=p.url("status_url"))
    if kind == "rtp":
        ptime = dp.integer("ptime", low=10, high=60, default=20) or 20
        if ptime % 10:
            raise invalid(dp.at("ptime"), "must be 10, 20, 30, 40, 50 or 60 (ms)")
        return Tap(**common, addr=dp.string("addr", required=True, max_length=255) or "",
                   port=dp.integer("port", low=1, high=65535, required=True) or 0, ptime=ptime)
    return Tap(**common, uri=dp.url("uri", schemes=("ws", "wss"), required=True) or "")


@dataclass(frozen=True)
class Stream:
    control_id: str
    url: str
    track: str  # inbound_track | outbound_track | both_tracks
    codec: str
    token: str | None
    custom_parameters: dict[str, str] = field(default_factory=dict)
    status_url: str | None = None
    name: str | None = None


def stream(p: Params) -> Stream:
    url = p.url("url", schemes=("ws", "wss"), required=True) or ""
    custom = p.obj("custom_parameters")
    params: dict[str, str] = {}
    if custom is not None:
        for key, value in custom.data.items():
            if isinstance(value, (dict, list)):
                raise invalid(custom.at(key), "must be a string, number or boolean")
            params[str(key)] = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
    codec = (p.string("codec", choices=(*CODECS, "pcmu", "pcma")) or "PCMU").upper()
    return Stream(control_id=control_id(p, required=False), url=url,
                  track=p.string("track", choices=STREAM_TRACKS) or "inbound_track", codec=codec,
                  token=p.string("authorization_bearer_token", max_length=4096), custom_parameters=params,
                  status_url=p.url("status_url"), name=p.string("name", max_length=128))


# --- the rest ---------------------------------------------------------------------------------


def refer(p: Params) -> tuple[str, str | None]:
    """(the SIP URI to transfer to, the status_url for the outcome, if given)."""
    device = p.obj("device", required=True)
    assert device is not None
    target = device.obj("params") or device
    to = target.string("to", required=True) or ""
    if not to.startswith(("sip:", "sips:")):
        raise invalid(target.at("to"), "must be a SIP URI (sip:user@host)")
    return to, p.url("status_url")


def user_event(p: Params) -> Any:
    event = p.raw("event")
    if event is None:
        raise missing(p.at("event"))
    if not isinstance(event, dict):
        raise invalid(p.at("event"), "must be an object")
    return event


def validate_not_available(command: str, p: Params) -> None:
    """The commands in NOT_AVAILABLE: check what they were given, then say what is missing."""
    if command in ("calling.ai.stop", "calling.send_fax.stop", "calling.receive_fax.stop", "calling.transcribe.stop"):
        control_id(p, required=True)
    elif command == "calling.transcribe":
        control_id(p, required=False)
        p.url("status_url")
    elif command in ("calling.live_transcribe", "calling.live_translate"):
        if p.raw("action") is None:
            raise missing(p.at("action"))
        p.url("status_url")
    elif command == "calling.ai_message":
        p.string("role", choices=("system", "user", "assistant"))
        p.string("message_text", max_length=100000)
    elif command == "calling.ai_hold":
        p.integer("timeout", low=0, high=86400)
        p.string("prompt", max_length=100000)
    elif command == "calling.ai_unhold":
        p.string("prompt", max_length=100000)
    raise not_available(NOT_AVAILABLE.get(command, command))
