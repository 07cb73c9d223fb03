"""Helpers for the SIP tests: SIPp as an independent peer on 127.0.0.1 and free ports."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, TypeVar

from wirexa.sip import SipEngine
from wirexa.sip.engine import InviteHandler

SCENARIOS = Path(__file__).parent / "sip" / "scenarios"
LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def scenario_from_template(name: str, workdir: Path, **values: str) -> Path:
    """Copy scenarios/<name> to workdir with __KEY__ placeholders replaced (SIPp's own -key
    keywords cannot stand where SIPp parses at load time, like a status line)."""
    text = (SCENARIOS / name).read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", value)
    path = workdir / name
    path.write_text(text)
    return path


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """Run a test coroutine with a hard time limit."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


class Sipp:
    """One SIPp process running one call (-m 1)."""

    def __init__(self, workdir: Path, scenario: str | Path, remote: str | None,
                 extra: tuple[str, ...], port: int | None = None):
        self.port = port or free_udp_port()
        self.messages = workdir / f"sipp-{self.port}-messages.log"
        self.screen = workdir / f"sipp-{self.port}-screen.log"
        source = ["-sf", str(SCENARIOS / scenario)] if str(scenario).endswith(".xml") else ["-sn", scenario]
        args = ["sipp", *source, "-i", LOOPBACK, "-p", str(self.port), "-mp", str(free_udp_port()),
                "-m", "1", "-nostdin", "-timeout", "20", "-timeout_error", "-recv_timeout", "15000",
                "-trace_msg", "-message_file", str(self.messages), *extra]
        if remote:
            args.insert(1, remote)
        self._screen = self.screen.open("wb")
        self.proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                     stdout=self._screen, stderr=subprocess.STDOUT)

    async def wait(self, timeout: float = 25.0) -> int:
        """SIPp's exit code: 0 when its one call went through the whole scenario."""
        return await asyncio.to_thread(self.proc.wait, timeout)

    def log(self) -> str:
        """The SIP messages SIPp saw, for assertion messages."""
        return self.messages.read_text(errors="replace") if self.messages.exists() else "(no log)"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._screen.close()


async def expect(queue_owner: Any, kind: type[T], timeout: float = 10.0) -> T:
    """Next event of a leg, which must be of `kind` (skipping nothing)."""
    event = await queue_owner.next_event(timeout)
    assert isinstance(event, kind), f"expected {kind.__name__}, got {event!r}"
    return event


@asynccontextmanager
async def engine(on_invite: InviteHandler | None = None) -> AsyncIterator[SipEngine]:
    """A SipEngine on 127.0.0.1 and a free port."""
    sip = SipEngine(LOOPBACK, 0, on_invite=on_invite)
    await sip.start()
    try:
        yield sip
    finally:
        await sip.stop()
