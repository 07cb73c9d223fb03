"""Reading every RTP socket of a process on the media clock's tick.

One level-triggered epoll (poll() where there is none) holds the sockets. Each round asks it
which are readable and reads one datagram from each; rounds repeat until none is. That costs
one syscall per packet plus one per round, where reading each socket until EAGAIN costs a
raised BlockingIOError per socket per tick (~2.4 us, +6 % of a core at 500 calls).

Reading stops at the time given (shortly before the next tick is due): the next frames go out
on time whatever arrived, and the rest waits in the kernel's socket buffers (~4 s of audio
each) for the next tick, the sockets not reached first. So a peer's burst after a stall, or
a moment without CPU, delays what we hear by a tick or two instead of delaying what we send.
"""

from __future__ import annotations

import logging
import select
import socket
from time import monotonic
from typing import Callable

log = logging.getLogger(__name__)

Address = tuple  # (host, port) for IPv4, (host, port, flowinfo, scope_id) for IPv6
DatagramHandler = Callable[[bytes, Address], None]

MAX_DATAGRAM = 2048
# At most this many datagrams per socket per tick (0.64 s of 20 ms audio), time permitting: a
# flooding peer gets one datagram a round, like every other socket.
MAX_ROUNDS = 32

_Poll = getattr(select, "epoll", None) or select.poll  # epoll: Linux; poll elsewhere


class SocketPoller:
    def __init__(self) -> None:
        self._poll = _Poll()
        self._readers: dict[int, tuple[Callable[[int], tuple[bytes, Address]], DatagramHandler]] = {}
        self._unread: list[tuple[int, int]] = []  # (fd, events) found readable, not read in time

    def __len__(self) -> int:
        return len(self._readers)

    def add(self, sock: socket.socket, handler: DatagramHandler) -> None:
        """Call `handler(data, addr)` for every datagram `sock` receives (non-blocking socket)."""
        fd = sock.fileno()
        self._poll.register(fd, select.POLLIN)
        self._readers[fd] = (sock.recvfrom, handler)

    def remove(self, sock: socket.socket) -> None:
        """Stop reading `sock`; call it before closing the socket."""
        fd = sock.fileno()
        if self._readers.pop(fd, None) is not None:
            self._poll.unregister(fd)

    def read(self, until: float) -> None:
        """Handle what arrived on every socket since the last call, until the monotonic time
        `until`: one datagram from each readable socket per round, rounds until none is."""
        readers = self._readers
        ready, self._unread = self._unread, []
        for _ in range(MAX_ROUNDS):
            if not ready:
                ready = self._poll.poll(0)
                if not ready:
                    return
            for i, (fd, _) in enumerate(ready):
                if monotonic() >= until:
                    self._unread = ready[i:]  # first in line next time: no socket starves
                    return
                reader = readers.get(fd)
                if reader is None:  # removed (by a handler earlier in this round)
                    continue
                recvfrom, handler = reader
                try:
                    data, addr = recvfrom(MAX_DATAGRAM)
                except BlockingIOError:
                    continue
                except OSError as exc:  # e.g. ICMP port unreachable from a peer not listening yet
                    log.debug("RTP socket fd %d: %s", fd, exc)
                    continue
                try:
                    handler(data, addr)
                except Exception:  # one call's bug must not stop every other call's audio
                    log.exception("RTP receive handler %r failed", handler)
            ready = []
