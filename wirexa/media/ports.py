"""Allocation of RTP ports from a configured range."""

from __future__ import annotations


class PortsExhausted(RuntimeError):
    pass


class PortAllocator:
    """Hands out even ports in [low, high] (RTP on even, the odd one above is left for RTCP).

    Allocation goes round-robin through the range so a just-released port is not reused at
    once: late packets of the previous call must not land in the next one.
    """

    def __init__(self, low: int = 10000, high: int = 20000) -> None:
        low += low & 1
        if not 0 < low <= high <= 65535:
            raise ValueError(f"bad RTP port range {low}-{high}")
        self._ports = range(low, high + 1, 2)
        self._in_use: set[int] = set()
        self._next = 0

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    def __len__(self) -> int:
        return len(self._ports)

    def allocate(self) -> int:
        n = len(self._ports)
        for i in range(n):
            port = self._ports[(self._next + i) % n]
            if port not in self._in_use:
                self._next = (self._next + i + 1) % n
                self._in_use.add(port)
                return port
        raise PortsExhausted(f"all {n} RTP ports in use")

    def release(self, port: int) -> None:
        self._in_use.discard(port)
