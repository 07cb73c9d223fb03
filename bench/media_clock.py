"""Media-plane benchmark: N two-way G.711 calls on loopback, one shared clock per process.

The measured process is "Wirexa": N RtpEndpoints on one MediaClock, each playing a prompt and
decoding what it receives into an audio tap. A second process plays the N phones as cheaply as
it can (prebuilt packets, raw sockets drained without per-packet wake-ups), spread over
``--phone-phases`` send times per 20 ms as independent phones are, so that the two processes
compete for this 2-core machine as little as possible.

    .venv/bin/python bench/media_clock.py --streams 500 --seconds 20 [--processes 2]

``--processes K`` splits the calls over K media processes (one clock each, K phone processes).

Prints CPU % of the measured process (process time / wall time); the clock's lateness with no
stream first (the machine's own timer noise), then under load: p50/p99/p99.9/max ms after the
scheduled tick of the first and of the last frame sent in each tick; packets sent/received/lost
both ways; and the kernel's UDP error counters (socket buffer overflows show there).
Negative lateness means a tick ran up to ~1 ms early (uvloop timers have millisecond grain).
The last-send figure adds the tick's own duration (N sendto calls): a stream keeps its place in
the tick, so that part shifts a stream rather than adding jitter to it. On loopback each sendto
also pays for the receiver's side of the kernel's UDP path.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import resource
import select
import socket
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wirexa.media.clock import PERIOD, MediaClock  # noqa: E402
from wirexa.media.codecs import FRAME_BYTES, PCMU, SAMPLE_RATE  # noqa: E402
from wirexa.media.player import PcmPlayer  # noqa: E402
from wirexa.media.ports import PortAllocator  # noqa: E402
from wirexa.media.rtp import HEADER  # noqa: E402
from wirexa.media.rtp_endpoint import RtpEndpoint  # noqa: E402
from procstat import machine_cpu  # noqa: E402  (bench/)

IDLE_S = 5.0
WARMUP_S = 1.0
DRAIN_S = 0.5


def prompt_pcm(seconds: float = 3.0, pitch: float = 180.0) -> bytes:
    """A voice-like prompt: a harmonic series with a syllable-rate envelope."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 12))
    envelope = 0.2 + 0.8 * np.sin(2 * np.pi * 2.5 * t) ** 2
    signal = tone * envelope
    return (signal / np.abs(signal).max() * 12000).astype("<i2").tobytes()


def udp_errors() -> dict[str, int]:
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")]
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:]) if "Err" in k}


def percentiles_ms(samples) -> str:
    if not samples:
        return "no ticks recorded"
    a = np.asarray(samples) * 1000
    p50, p99, p999 = np.percentile(a, [50, 99, 99.9])
    return f"p50 {p50:6.2f}  p99 {p99:6.2f}  p99.9 {p999:6.2f}  max {a.max():6.2f} ms"


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the measured side: Wirexa's media plane ------------------------------------------------


async def idle_clock_lateness(seconds: float) -> list[float]:
    """The clock with no stream at all: the machine's own timer noise, to read the rest against."""
    clock = MediaClock()
    clock.start()
    await asyncio.sleep(seconds)
    clock.stop()
    return list(clock.first_send_lateness)


async def wirexa_side(conn: Connection, n: int, port_low: int, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    clock = MediaClock()
    ports = PortAllocator(port_low, port_low + 2 * n + 200)
    pcm = prompt_pcm()
    tapped = [0]

    def tap(frame: bytes) -> None:  # the cheapest real consumer: count what arrives
        tapped[0] += 1

    endpoints = []
    for _ in range(n):
        ep = await RtpEndpoint.open(clock, ports)
        ep.add_audio_tap(tap)
        ep.play(PcmPlayer(pcm, loop=True))
        endpoints.append(ep)
    phones = await loop.run_in_executor(None, conn.recv)  # the phones' addresses come first
    conn.send([ep.local_address for ep in endpoints])
    for ep, phone in zip(endpoints, phones):
        ep.set_remote(tuple(phone))
    clock.start()
    await asyncio.sleep(WARMUP_S)
    clock.reset_stats()
    errors_before = udp_errors()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    clock.stop()
    conn.send("stop")
    await asyncio.sleep(DRAIN_S)  # both sides stopped sending: let what is in flight arrive
    result = dict(
        cpu=cpu / wall,
        first=list(clock.first_send_lateness),
        last=list(clock.last_send_lateness),
        ticks=clock.ticks,
        skipped=clock.skipped_ticks,
        udp_errors={k: v - errors_before[k] for k, v in udp_errors().items()},
        sent=sum(ep.stats.sent for ep in endpoints),
        send_failed=sum(ep.stats.send_failed for ep in endpoints),
        received=sum(ep.stats.received for ep in endpoints),
        seq_gaps=sum(ep.stats.lost for ep in endpoints),
        tapped=tapped[0],
    )
    for ep in endpoints:
        ep.close()
    return result


# --- the other side: N phones, as cheap as possible -------------------------------------------


async def phones_side(conn: Connection, n: int, port_low: int, phases: int) -> dict:
    loop = asyncio.get_running_loop()
    socks = []
    port = port_low
    while len(socks) < n:
        if port > 65534:
            raise OSError(f"not enough free UDP ports from {port_low}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
        else:
            sock.setblocking(False)
            socks.append(sock)
        port += 2
    conn.send([s.getsockname() for s in socks])
    targets = [tuple(t) for t in await loop.run_in_executor(None, conn.recv)]
    stop = loop.run_in_executor(None, conn.recv)

    pcm = prompt_pcm(pitch=130.0)
    frames = [PCMU.encode(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES)]
    poller = select.epoll()
    by_fd = {}
    for s in socks:
        poller.register(s.fileno(), select.EPOLLIN)
        by_fd[s.fileno()] = s.recv
    seq = [random.getrandbits(16) for _ in range(n)]
    ts = [random.getrandbits(32) for _ in range(n)]
    ssrc = [random.getrandbits(32) for _ in range(n)]
    counts = {"sent": 0, "received": 0}

    def drain() -> None:  # polled, never waited on: arrivals wake nobody
        while ready := poller.poll(0):
            for fd, _ in ready:
                by_fd[fd](2048)
                counts["received"] += 1

    cpu0, wall0 = time.process_time(), time.perf_counter()
    step = PERIOD / phases
    deadline, tick = time.monotonic(), 0
    while not stop.done():
        deadline += step
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        for i in range(tick % phases, n, phases):
            frame = frames[(tick // phases + i) % len(frames)]
            packet = HEADER.pack(0x80, 0, seq[i], ts[i], ssrc[i]) + frame
            seq[i] = (seq[i] + 1) & 0xFFFF
            ts[i] = (ts[i] + 160) & 0xFFFFFFFF
            socks[i].sendto(packet, targets[i])
            counts["sent"] += 1
        drain()
        tick += 1
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    await asyncio.sleep(DRAIN_S)
    drain()
    for s in socks:
        s.close()
    return dict(cpu=cpu, **counts)


def phones_process(conn: Connection, n: int, port_low: int, phases: int) -> None:
    raise_fd_limit()
    conn.send(uvloop.run(phones_side(conn, n, port_low, phases)))


def wirexa_process(conn: Connection, phones_conn: Connection, n: int, port_low: int, seconds: float) -> None:
    raise_fd_limit()
    conn.send(uvloop.run(wirexa_side(phones_conn, n, port_low, seconds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=500, help="concurrent two-way calls in all (1-2000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration (1-300)")
    parser.add_argument("--processes", type=int, default=1, help="media processes sharing the calls, one clock each (1-8)")
    parser.add_argument("--phone-phases", type=int, default=10, help="phone send times per 20 ms (1 = all phones in lockstep)")
    parser.add_argument("--port-base", type=int, default=20000, help="RTP ports: base.. for Wirexa, base+10000.. for the phones")
    args = parser.parse_args()
    if not (1 <= args.streams <= 2000 and 1 <= args.seconds <= 300 and 1 <= args.processes <= 8 and 1 <= args.phone_phases <= 20):
        parser.error("streams must be 1-2000, seconds 1-300, processes 1-8, phone phases 1-20")
    raise_fd_limit()
    idle = uvloop.run(idle_clock_lateness(IDLE_S))

    # One phones process per media process, each pair on its own port ranges and pipe.
    ctx = mp.get_context("spawn")
    k = args.processes
    shares = [args.streams // k + (i < args.streams % k) for i in range(k)]
    results, procs = [], []
    for i, n in enumerate(shares):
        span = 2 * max(shares) + 400
        ours, theirs = ctx.Pipe()
        media_end, media_result = ctx.Pipe()
        procs.append(ctx.Process(target=phones_process, args=(theirs, n, args.port_base + 10000 + i * span, args.phone_phases), daemon=True))
        procs.append(ctx.Process(target=wirexa_process, args=(media_result, ours, n, args.port_base + i * span, args.seconds), daemon=True))
        results.append((media_end, ours))
    machine0, ours0, wall0 = machine_cpu(), children_cpu_seconds(), time.monotonic()
    for proc in procs:
        proc.start()
    media = [media_end.recv() for media_end, _ in results]
    phones = [ours.recv() for _, ours in results]
    for proc in procs:
        proc.join(5)
    # Whatever else ran on the machine meanwhile (other benchmarks, test suites) skews the figures.
    machine, ours_cpu, wall = machine_cpu() - machine0, children_cpu_seconds() - ours0, time.monotonic() - wall0
    others = max(0.0, machine.busy - ours_cpu) / wall

    def total(rows: list[dict], key: str) -> int:
        return sum(r[key] for r in rows)

    sent, received = total(media, "sent"), total(media, "received")
    first = [x for r in media for x in r["first"]]
    last = [x for r in media for x in r["last"]]
    print(
        f"streams {args.streams}  measured {args.seconds:.0f} s  (uvloop, {k} media process(es) with one shared "
        f"20 ms clock each; phones in {k} other process(es), {args.phone_phases} phases)"
    )
    per_process = " + ".join(f"{r['cpu'] * 100:.1f}" for r in media)
    print(
        f"CPU: Wirexa side {total(media, 'cpu') * 100:5.1f} % of one core ({per_process})   "
        f"(phones {total(phones, 'cpu') * 100:5.1f} %)"
    )
    print(f"CPU not charged to the benchmark's processes (softirq, anything else running, steal): "
          f"{others * 100:5.1f} % of one core; steal alone {100 * machine.steal / wall:.1f} %")
    print(f"idle clock before the run ({IDLE_S:.0f} s, no streams): {percentiles_ms(idle)}")
    print(f"ticks {total(media, 'ticks')}  skipped {total(media, 'skipped')}")
    print(f"lateness, first send of a tick: {percentiles_ms(first)}")
    print(f"lateness, last send of a tick:  {percentiles_ms(last)}")
    print(
        f"packets sent {sent} (send failures {total(media, 'send_failed')})  "
        f"received by phones {total(phones, 'received')}  lost {sent - total(phones, 'received')}"
    )
    print(
        f"packets received {received} (frames tapped {total(media, 'tapped')})  "
        f"sent by phones {total(phones, 'sent')}  lost {total(phones, 'sent') - received}  "
        f"sequence gaps {total(media, 'seq_gaps')}"
    )
    errors = {key: max(r["udp_errors"][key] for r in media) for key in media[0]["udp_errors"]}
    print(f"kernel UDP error counters (system-wide) during the run: {errors}")


if __name__ == "__main__":
    main()
