import pytest

from wirexa.media.ports import PortAllocator, PortsExhausted


def test_even_ports_round_robin_and_release():
    ports = PortAllocator(10001, 10008)  # odd low bound moves up to 10002
    got = [ports.allocate() for _ in range(4)]
    assert got == [10002, 10004, 10006, 10008]
    with pytest.raises(PortsExhausted):
        ports.allocate()
    ports.release(10004)
    assert ports.in_use == 3
    assert ports.allocate() == 10004


def test_released_port_is_not_reused_at_once():
    ports = PortAllocator(20000, 20010)
    first = ports.allocate()
    ports.release(first)
    assert ports.allocate() != first


def test_bad_range():
    with pytest.raises(ValueError):
        PortAllocator(2000, 1000)
