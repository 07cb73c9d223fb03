"""kill -9 in the middle of a recording: the restarted engine turns what was written into a
valid, playable recording (completed, or failed when nothing was), never a broken file."""

from __future__ import annotations

import time
import uuid
import wave
from pathlib import Path

import httpx
import numpy as np

from engine_support import free_port
from laml_backend import Backend
from process_support import start_up, stop, wait_healthy
from recording_support import best_correlation, decode_mp3, over_the_line, read_wav, save_wav, voice_like


def test_kill_9_while_recording_then_restart_finishes_the_recording(tmp_path: Path) -> None:
    data = tmp_path / "data"
    project, token = str(uuid.uuid4()), "PT" + uuid.uuid4().hex
    creds = {"WIREXA_PROJECT_ID": project, "WIREXA_API_TOKEN": token}
    sandbox_port = free_port()
    spoken = voice_like(12.0, seed=11)
    wav = save_wav(tmp_path / "long.wav", spoken)
    web = Backend()
    web.route("/status", "")
    port = free_port()
    proc, lines = start_up(data, port, {**creds, "WIREXA_SANDBOX_HTTP_PORT": str(sandbox_port)})
    try:
        api = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{project}"
        wait_healthy(f"http://127.0.0.1:{port}")
        number = "+15550409901"
        r = httpx.post(f"http://127.0.0.1:{sandbox_port}/rules", json={
            "number": number, "outcome": "answer", "hangup_after": 60,
            "script": [{"wait_for_quiet": 300}, {"play": str(wav)}, {"wait_for_hangup": True}]})
        assert r.status_code in (200, 201), r.text
        twiml = (f'<Response><Record timeout="0" recordingStatusCallback="{web.url}/status"/></Response>')
        call = httpx.post(f"{api}/Calls.json", auth=(project, token),
                          data={"To": number, "From": "+18005550100", "Twiml": twiml}).json()
        deadline = time.monotonic() + 20
        recordings: list[dict[str, object]] = []
        while time.monotonic() < deadline and not recordings:
            recordings = httpx.get(f"{api}/Recordings.json", auth=(project, token)).json()["recordings"]
            time.sleep(0.1)
        assert recordings and recordings[0]["status"] == "in-progress", "".join(lines)
        sid = str(recordings[0]["sid"])
        time.sleep(4.0)  # the phone is speaking into the recording
    finally:
        proc.kill()  # SIGKILL: no shutdown, no finishing
        proc.communicate(timeout=20)
    left = data / "recordings" / sid[2:4] / f"{sid}.wav"
    assert left.exists() and left.stat().st_size > 44 + 8000 * 2  # more than a second on disk

    port = free_port()
    proc, lines = start_up(data, port, creds)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        api = f"{base}/2010-04-01/Accounts/{project}"
        deadline = time.monotonic() + 20
        while True:
            fetched = httpx.get(f"{api}/Recordings/{sid}.json", auth=(project, token)).json()
            if fetched["status"] in ("completed", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert fetched["status"] == "completed", fetched
        r = httpx.get(f"{base}/recordings/{sid}.wav")
        assert r.status_code == 200
        with wave.open(str(left)) as w:  # the header matches the audio on disk
            assert w.getnframes() * 2 + 44 == left.stat().st_size
        samples, channels, rate = read_wav(r.content)
        seconds = len(samples) / rate
        assert channels == 1 and 2.0 <= seconds <= 7.0, seconds
        assert fetched["duration"] == str(int(seconds + 0.5))
        # What was kept is the start of what the phone said (after the beep and its pause).
        sent = over_the_line(spoken)[: len(samples) - 2 * 8000]
        correlation, lag = best_correlation(samples[:, 0], sent)
        print(f"kept {seconds:.2f} s; the phone's audio starts {lag / 8000:.2f} s in; correlation {correlation:.4f}")
        assert correlation > 0.9, (correlation, lag)
        mp3 = httpx.get(f"{base}/recordings/{sid}.mp3")
        assert mp3.status_code == 200 and abs(len(decode_mp3(mp3.content, 1)) - len(samples)) <= 8
        assert np.isfinite(samples).all()
        got = web.wait_for("/status", count=1, timeout=15)
        assert got and got[0].form["RecordingSid"] == sid and got[0].form["RecordingStatus"] == "completed"
        assert got[0].form["CallSid"] == call["sid"]
        call_now = httpx.get(f"{api}/Calls/{call['sid']}.json", auth=(project, token)).json()
        assert call_now["status"] == "completed"  # closed out by the restart too
    finally:
        stop(proc)
        web.close()
