"""Cost of `calling.denoise` per 20 ms frame (8 kHz telephone audio) and what it does to noise.

    .venv/bin/python bench/denoise_cost.py [--seconds 60]

Prints microseconds per frame (median, p99) for speech-like audio in white noise, and the noise
level before and after (RMS of a noise-only stretch)."""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from wirexa.media.denoise import Denoiser


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    n = int(args.seconds * 8000)
    t = np.arange(n) / 8000
    # 1 s bursts of a voiced-like harmonic signal every 2 s, in steady white noise.
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 540, 720, 900), 1))
    voice *= (np.mod(t, 2.0) < 1.0) * 6000
    noise = rng.normal(0, 800, n)
    pcm = np.clip(voice + noise, -32768, 32767).astype("<i2").tobytes()
    d = Denoiser()
    costs = []
    out = []
    for i in range(0, len(pcm) - 319, 320):
        start = time.perf_counter_ns()
        out.append(d.process(pcm[i:i + 320]))
        costs.append((time.perf_counter_ns() - start) / 1000)
    costs.sort()
    cleaned = np.frombuffer(b"".join(out), dtype="<i2").astype(np.float64)
    quiet = (np.mod(t[: len(cleaned)], 2.0) > 1.2) & (np.mod(t[: len(cleaned)], 2.0) < 1.9) & (t[: len(cleaned)] > 4)
    before = float(np.sqrt(np.mean(noise[: len(cleaned)][quiet] ** 2)))
    after = float(np.sqrt(np.mean(cleaned[quiet] ** 2)))
    print(f"frames: {len(costs)}  us/frame median {statistics.median(costs):.1f}  "
          f"p99 {costs[int(len(costs) * 0.99)]:.1f}  mean {statistics.fmean(costs):.1f}")
    print(f"noise RMS in pauses: {before:.0f} -> {after:.0f} ({20 * np.log10(after / before):.1f} dB)")


if __name__ == "__main__":
    main()
