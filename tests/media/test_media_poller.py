"""SocketPoller: every registered socket read on demand, within a time limit, none starved."""

import socket
import time

from wirexa.media.poller import SocketPoller


def udp_pair() -> tuple[socket.socket, socket.socket]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(rx.getsockname())
    return rx, tx


def test_reads_every_datagram_of_every_socket_in_order():
    poller = SocketPoller()
    pairs = [udp_pair() for _ in range(3)]
    got: dict[int, list[bytes]] = {i: [] for i in range(3)}
    for i, (rx, tx) in enumerate(pairs):
        poller.add(rx, lambda data, addr, i=i: got[i].append(data))
        for n in range(4):
            tx.send(b"%d-%d" % (i, n))
    time.sleep(0.01)
    poller.read(time.monotonic() + 1)
    assert got == {i: [b"%d-%d" % (i, n) for n in range(4)] for i in range(3)}
    poller.remove(pairs[0][0])
    pairs[0][1].send(b"late")
    time.sleep(0.01)
    poller.read(time.monotonic() + 1)
    assert len(got[0]) == 4 and len(poller) == 2


def test_stops_at_the_time_limit_and_resumes_with_the_sockets_not_reached():
    poller = SocketPoller()
    pairs = [udp_pair() for _ in range(4)]
    order: list[int] = []

    def handler(i: int):
        def handle(data: bytes, addr: tuple) -> None:
            order.append(i)
            time.sleep(0.02)  # slow: the time limit passes after the first datagram
        return handle

    for i, (rx, tx) in enumerate(pairs):
        poller.add(rx, handler(i))
        tx.send(b"x")
    time.sleep(0.01)
    poller.read(time.monotonic() - 1)  # no time at all: nothing is read
    assert order == []
    poller.read(time.monotonic() + 0.01)
    assert len(order) == 1
    first = order[0]
    pairs[first][1].send(b"y")  # the socket read first has more, but the others come first
    time.sleep(0.01)
    poller.read(time.monotonic() + 1)
    assert sorted(order[1:4]) == sorted(set(range(4)) - {first}) and order[4:] == [first]


def test_a_failing_handler_does_not_stop_the_others():
    poller = SocketPoller()
    (rx1, tx1), (rx2, tx2) = udp_pair(), udp_pair()
    got: list[bytes] = []

    def broken(data: bytes, addr: tuple) -> None:
        raise RuntimeError("boom")

    poller.add(rx1, broken)
    poller.add(rx2, lambda data, addr: got.append(data))
    tx1.send(b"a")
    tx2.send(b"b")
    time.sleep(0.01)
    poller.read(time.monotonic() + 1)
    assert got == [b"b"]
