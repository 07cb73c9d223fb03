"""The webhook sender in a child process of the engine.

The engine keeps everything durable (the outbox, claims, retries, the delivery log); the child
only signs and sends requests (`CurlSender`) and answers with each outcome. The two talk over a
socketpair in frames of a 4-byte length and an orjson array: `[id, *Request]` to the child,
`[id, *Result]` back.

If the child dies, the engine starts another and sends it the requests that had no answer yet
(at-least-once, as after any crash). If the engine dies, the child sees its socket close and
exits; what was being sent is released and sent again when the engine starts next."""

from __future__ import annotations

import argparse
import asyncio
import logging
import select
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any, cast

import orjson

from wirexa.webhooks.sender import CurlSender, Request, Result

log = logging.getLogger(__name__)
_LENGTH = struct.Struct(">I")
# Seconds before a child that died is replaced: doubled each time one dies young (it may not be
# able to start at all, say a broken install), back to the first once one has run a while.
FIRST_RESTART_DELAY, MAX_RESTART_DELAY = 0.5, 30.0
RAN_A_WHILE = 10.0


def frame(value: Any) -> bytes:
    payload = orjson.dumps(value)
    return _LENGTH.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into decoded frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._buffer
        buffer += data
        frames, start = [], 0
        while len(buffer) - start >= 4:
            (size,) = _LENGTH.unpack_from(buffer, start)
            if len(buffer) - start - 4 < size:
                break
            frames.append(orjson.loads(bytes(buffer[start + 4:start + 4 + size])))
            start += 4 + size
        del buffer[:start]
        return frames


class FrameProtocol(asyncio.Protocol):
    """The engine's end of the link."""

    def __init__(self, on_frame: Callable[[Any], None], on_lost: Callable[[], None]) -> None:
        self.on_frame = on_frame
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self._reader = FrameReader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def write(self, value: Any) -> None:
        assert self.transport is not None
        self.transport.write(frame(value))

    def data_received(self, data: bytes) -> None:
        for value in self._reader.feed(data):
            self.on_frame(value)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost()


class SenderProcess:
    """The engine's sender: a child process running `CurlSender`, replaced if it dies."""

    def __init__(self) -> None:
        self._waiting: dict[int, tuple[Request, asyncio.Future[Result]]] = {}
        self._next_id = 0
        self._link: FrameProtocol | None = None  # None while no child is connected
        self._supervisor: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.pid: int | None = None  # the child's, while it runs

    async def start(self) -> None:
        """Start the child (unless started); returns once it is connected."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise())
        await self._connected.wait()

    async def send(self, request: Request) -> Result:
        self._next_id += 1
        request_id = self._next_id
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (request, done)
        if self._link is not None:
            self._link.write([request_id, *request])
        try:
            return await done
        finally:
            self._waiting.pop(request_id, None)

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                pass
            self._supervisor = None
            self._connected.clear()

    def _on_result(self, frame: list[Any]) -> None:
        entry = self._waiting.pop(frame[0], None)
        if entry is not None and not entry[1].done():
            entry[1].set_result(Result(*frame[1:]))

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = FIRST_RESTART_DELAY
        while True:
            started = loop.time()
            ours, theirs = socket.socketpair()
            with theirs:
                child = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", __name__, "--fd", str(theirs.fileno()), pass_fds=(theirs.fileno(),))
            self.pid = child.pid
            lost = asyncio.Event()
            _, link = await loop.create_unix_connection(lambda: FrameProtocol(self._on_result, lost.set), sock=ours)
            self._link = link
            for request_id, (request, _) in list(self._waiting.items()):  # unanswered by a child that died
                link.write([request_id, *request])
            self._connected.set()
            try:
                watches = [asyncio.ensure_future(lost.wait()), asyncio.ensure_future(child.wait())]
                try:
                    await asyncio.wait(watches, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for watch in watches:
                        watch.cancel()
                self._link = None
                if loop.time() - started >= RAN_A_WHILE:
                    delay = FIRST_RESTART_DELAY
                log.error("the webhook sender process stopped (exit code %s): starting another in %.1f s",
                          child.returncode, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, MAX_RESTART_DELAY)
            finally:
                self._link = None
                self.pid = None
                if link.transport is not None:
                    link.transport.close()  # the child exits when its socket closes
                if child.returncode is None:
                    try:
                        await asyncio.wait_for(child.wait(), 2.0)
                    except TimeoutError:
                        child.kill()
                        await child.wait()


# --- the child ------------------------------------------------------------------------------

def serve(fd: int) -> None:
    """Send what the engine asks, answer each outcome; stop when the engine's socket closes."""
    link = socket.socket(fileno=fd)
    link_fd = link.fileno()
    reader = FrameReader()
    sender = CurlSender()
    try:
        while True:
            limit = sender.timeout()
            read, write, error = sender.fdset()
            ready, _, _ = select.select([*read, link_fd], write, error, 1.0 if limit is None else min(limit, 1.0))
            if link_fd in ready:
                data = link.recv(1 << 16)
                if not data:
                    return  # the engine stopped
                for request in reader.feed(data):
                    sender.start(request[0], Request(*request[1:]))
            done = sender.perform()
            if done:
                link.sendall(b"".join(frame([request_id, *result]) for request_id, result in done))
    except (ConnectionResetError, BrokenPipeError):
        return  # the engine died: what it handed over is still `sending`, sent again after its restart
    finally:
        sender.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Wirexa's webhook sender (started by the engine)")
    parser.add_argument("--fd", type=int, required=True, help="the engine's end of a socketpair")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.fd)


if __name__ == "__main__":
    main()
