"""CPU accounting for the benchmarks, from /proc: a process, the threads of this process, and
the whole machine, including the time the hypervisor gave to other guests (steal), which on
a shared VM explains many a slow run."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass(frozen=True)
class MachineCpu:
    busy: float  # CPU seconds not idle, all cores, since boot (steal included)
    steal: float  # of which the hypervisor ran other guests

    def __sub__(self, earlier: MachineCpu) -> MachineCpu:
        return MachineCpu(self.busy - earlier.busy, self.steal - earlier.steal)

    def describe(self, wall: float) -> str:
        return (f"whole machine {100 * self.busy / wall:.0f} % of {os.cpu_count()} x 100 % "
                f"(steal {100 * self.steal / wall:.1f} %)")


def machine_cpu() -> MachineCpu:
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return MachineCpu((user + nice + system + irq + softirq + steal) / CLK_TCK, steal / CLK_TCK)


def thread_cpu() -> dict[str, float]:
    """CPU seconds per thread of this process, by Python thread name (the event loop, sippy,
    the store thread...); numbered pool threads add up under one name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = names.get(int(task.name)) or (task / "comm").read_text().strip()
            name = re.sub(r"_\d+$", "", name)
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out
