"""Calls with baresip as an independent SIP peer (Debian `baresip`), answering automatically.

baresip runs in a temp dir on 127.0.0.1 and free ports, with no sound card: its microphone is
`aufile` playing a WAV (a 700 Hz tone), its speaker is ALSA's `null` device, and the `sndfile`
filter writes what it heard to `dump-*-dec.wav`. It is driven over `ctrl_tcp` (netstring JSON
commands: dial, hangup), quits by itself after `-t` seconds, and is killed on teardown.

- outbound: REST create → baresip answers → audio both ways (Wirexa taps baresip's tone, baresip's
  recording holds Wirexa's 440 Hz tone) → hung up through the REST API → completed;
- inbound: baresip dials a Wirexa number → Wirexa answers (Direction=inbound) → Wirexa hears
  baresip → baresip hangs up → completed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from engine_support import RunningEngine, engine_settings, free_port
from laml_backend import HOLD, Backend
from siptest import free_udp_port
from wirexa.audio import pcm as audio_pcm

pytestmark = pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed")

MODULES = Path("/usr/lib/baresip/modules")
BARESIP_TONE_HZ, WIREXA_TONE_HZ = 700.0, 440.0
LIFETIME_S = 180  # baresip -t: it quits by itself even if teardown never runs


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def rms(frame: bytes) -> float:
    x = np.frombuffer(frame, dtype="<i2").astype(float)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def free_sip_port() -> int:
    """A port baresip can take: it listens on UDP and TCP there, and for TLS on the next one."""
    for _ in range(50):
        port = free_udp_port()
        try:
            with socket.socket() as tcp, socket.socket() as tls:
                tcp.bind(("127.0.0.1", port))
                tls.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port for baresip's SIP listeners")


class Baresip:
    """One baresip process: user `bob`, auto-answer, aufile microphone, sndfile recorder."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.sip_port = free_sip_port()
        self.ctrl_port = free_port()
        rtp_low = 20000 + 2 * (free_port() % 10000)
        self.recordings = workdir / "heard"
        self.recordings.mkdir()
        source = workdir / "microphone.wav"
        audio_pcm.write_wav(source, audio_pcm.tone(BARESIP_TONE_HZ, 60.0, amplitude=0.3))
        (workdir / "config").write_text("\n".join([
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",
            f"audio_source aufile,{source}",
            "audio_player alsa,null",
            "audio_alert alsa,null",
            f"module_path {MODULES}",
            "module g711.so",
            "module aufile.so",
            "module alsa.so",
            "module sndfile.so",
            "module account.so",
            "module menu.so",
            "module ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"snd_path {self.recordings}",
            f"rtp_ports {rtp_low}-{rtp_low + 40}",
            "",
        ]))
        (workdir / "accounts").write_text("<sip:bob@127.0.0.1>;regint=0;answermode=auto\n")
        self.log_path = workdir / "baresip.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            ["baresip", "-f", str(workdir), "-t", str(LIFETIME_S)], cwd=workdir,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        wait_for(self._ready, 15, "baresip to start (see its log)")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"baresip exited ({self.proc.returncode}):\n{self.log()}")
        if "baresip is ready" not in self.log():
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1):
                return True
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def command(self, command: str, params: str = "") -> dict[str, Any]:
        """A ctrl_tcp command (netstring-framed JSON); returns baresip's JSON response."""
        body = json.dumps({"command": command, "params": params, "token": "t1"}).encode()
        with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5) as s:
            s.sendall(str(len(body)).encode() + b":" + body + b",")
            data = b""
            while True:  # skip events; the response carries our token
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError(f"ctrl_tcp closed without a response to {command}")
                data += chunk
                while b":" in data:
                    length, _, rest = data.partition(b":")
                    n = int(length)
                    if len(rest) < n + 1:
                        break
                    message, data = json.loads(rest[:n]), rest[n + 1:]
                    if message.get("response") and message.get("token") == "t1":
                        return message

    def recordings_now(self) -> set[Path]:
        return set(self.recordings.glob("dump-*-dec.wav"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


@pytest.fixture(scope="module")
def baresip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Baresip]:
    peer = Baresip(tmp_path_factory.mktemp("baresip"))
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, baresip: Baresip) -> Iterator[RunningEngine]:
    tmp = tmp_path_factory.mktemp("calls-baresip")
    base = 20000 + (free_port() % 20000)
    running = RunningEngine(engine_settings(
        f"sqlite:///{tmp / 'w.db'}", tmp, sip_port=free_udp_port(), sandbox=False,
        trunk_host="127.0.0.1", trunk_port=baresip.sip_port,
        rtp_port_min=base, rtp_port_max=base + 100,
    ))
    try:
        yield running
    finally:
        running.close()


def call_url(server: RunningEngine, sid: str) -> str:
    return server.calls_url.replace(".json", f"/{sid}.json")


def fetch(server: RunningEngine, sid: str) -> dict[str, Any]:
    r = httpx.get(call_url(server, sid), auth=server.auth, timeout=10)
    r.raise_for_status()
    return r.json()


def wait_status(server: RunningEngine, sid: str, wanted: set[str], timeout: float = 15) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def check() -> bool:
        last.update(fetch(server, sid))
        return last["status"] in wanted

    try:
        wait_for(check, timeout, f"call {sid} to become one of {sorted(wanted)}", interval=0.05)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last state {last.get('status')} {last.get('sip_response_code')} "
                             f"{last.get('error_message')}") from None
    return last


def listen(server: RunningEngine, sid: str, play_hz: float | None, seconds: float) -> list[bytes]:
    """On the engine's loop: tap the call's inbound audio for `seconds` (playing a tone meanwhile)."""
    heard: list[bytes] = []

    async def run() -> None:
        assert server.engine.runner is not None
        live = server.engine.runner.live[sid]
        assert live.media is not None
        untap = live.media.tap(heard.append)
        try:
            if play_hz is not None:
                await live.media.play(audio_pcm.tone(play_hz, seconds, amplitude=0.3))
            else:
                await asyncio.sleep(seconds)
        finally:
            untap()

    server.run(run(), timeout=seconds + 10)
    return heard


def test_outbound_call_answered_by_baresip_audio_both_ways_api_hangup(
        server: RunningEngine, baresip: Baresip) -> None:
    before = baresip.recordings_now()
    r = httpx.post(server.calls_url, auth=server.auth, timeout=10, data={
        "To": f"sip:bob@127.0.0.1:{baresip.sip_port}", "From": "+18005550100",
        "Twiml": HOLD,
    })
    assert r.status_code == 201, r.text
    sid = r.json()["sid"]
    call = wait_status(server, sid, {"in-progress", "failed", "busy", "no-answer", "canceled", "completed"})
    assert call["status"] == "in-progress", (call, baresip.log()[-3000:])

    heard = listen(server, sid, WIREXA_TONE_HZ, 1.5)  # Wirexa → baresip: 440 Hz; tap baresip's 700 Hz
    assert len(heard) >= 50, f"only {len(heard)} frames from baresip in 1.5 s"
    loud = [f for f in heard if rms(f) > 1000]
    assert len(loud) >= 40, f"{len(loud)} loud frames of {len(heard)} from baresip"
    assert abs(audio_pcm.dominant_frequency(b"".join(loud)) - BARESIP_TONE_HZ) < 20

    r = httpx.post(call_url(server, sid), auth=server.auth, data={"Status": "completed"}, timeout=40)
    assert r.status_code == 200, r.text
    ended = wait_status(server, sid, {"completed", "failed", "canceled"})
    assert ended["status"] == "completed" and ended["end_time"], ended
    assert ended["direction"] == "outbound-api"

    # baresip closes its recording when the call ends (libsndfile writes the header then).
    def recording() -> bytes | None:
        for path in sorted(baresip.recordings_now() - before):
            try:
                pcm = audio_pcm.load_wav(path)
            except Exception:  # still being written
                return None
            if len(pcm) >= 16000:  # at least 1 s
                return pcm
        return None

    pcm = wait_for(recording, 10, "baresip's recording of the call (dump-*-dec.wav)")
    frames = [pcm[i:i + 320] for i in range(0, len(pcm) - 319, 320)]
    tone = b"".join(f for f in frames if rms(f) > 1000)
    assert len(tone) >= 16000, f"baresip heard only {len(tone) / 16000:.2f} s of loud audio"
    assert abs(audio_pcm.dominant_frequency(tone) - WIREXA_TONE_HZ) < 20
    wait_for(lambda: "terminated" in baresip.log(), 10, "baresip to log the end of the call")


def test_baresip_calls_a_wirexa_number_and_hangs_up(server: RunningEngine, baresip: Baresip,
                                                   backend: Backend) -> None:
    number = "+13125550888"
    r = httpx.post(server.calls_url.replace("Calls.json", "IncomingPhoneNumbers.json"), auth=server.auth,
                   data={"PhoneNumber": number, "VoiceUrl": backend.route("/in", HOLD)}, timeout=10)
    assert r.status_code == 201, r.text

    response = baresip.command("dial", f"sip:{number}@127.0.0.1:{server.settings.sip_port}")
    assert response.get("ok"), response

    def inbound_call() -> dict[str, Any] | None:
        r = httpx.get(server.calls_url, auth=server.auth, params={"To": number}, timeout=10)
        calls = r.json()["calls"]
        return calls[0] if calls and calls[0]["status"] == "in-progress" else None

    try:
        call = wait_for(inbound_call, 15, f"an in-progress inbound call to {number}")
    except AssertionError:
        raise AssertionError(baresip.log()[-3000:]) from None
    assert call["direction"] == "inbound"

    heard = listen(server, call["sid"], None, 1.0)
    loud = [f for f in heard if rms(f) > 1000]
    assert len(loud) >= 30, f"{len(loud)} loud frames of {len(heard)} from baresip"
    assert abs(audio_pcm.dominant_frequency(b"".join(loud)) - BARESIP_TONE_HZ) < 20

    response = baresip.command("hangup")
    assert response.get("ok"), response
    ended = wait_status(server, call["sid"], {"completed", "failed", "canceled"})
    assert ended["status"] == "completed", ended
    assert ended["duration"] is not None and int(ended["duration"]) >= 1
