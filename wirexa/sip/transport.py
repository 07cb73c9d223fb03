"""sippy's transaction manager, adjusted for Wirexa. Runs on the sippy thread only."""

from __future__ import annotations

import logging
import re
from typing import Any

from sippy.SipTransactionManager import SipTransactionManager
from sippy.Udp_server import Udp_server, Udp_server_opts

wire_log = logging.getLogger("wirexa.sip.wire")

_TRANSPORT_PARAM = re.compile(rb";transport=[a-z]+", re.IGNORECASE)
_TIMERS = ("teA", "teB", "teC", "teD", "teE", "teF", "teG")


class _OneWorkerUdp(Udp_server_opts):
    # sippy's default of 3 sender threads can put a 200 OK on the wire before the 180 sent just
    # before it; SIPp then failed 18% of calls. One sender keeps the order.
    nworkers = 1


def normalise_transport(data: bytes) -> bytes:
    """Lower-case `;transport=` URI parameters in the headers (values are case-insensitive,
    RFC 3261 19.1.1). sippy only knows "udp": a Contact with ";transport=UDP", as SIPp sends,
    makes every in-dialog request (BYE) fail with "unsupported transport"."""
    head, sep, body = data.partition(b"\r\n\r\n")
    return _TRANSPORT_PARAM.sub(lambda m: m.group(0).lower(), head) + sep + body


class WireLog:
    """`_sip_logger` for sippy: every message sent and received, at DEBUG on wirexa.sip.wire."""

    def write(self, *args: Any, **_: Any) -> None:
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("".join(str(a) for a in args).rstrip())


class TransactionManager(SipTransactionManager):
    model_udp_server = (Udp_server, _OneWorkerUdp)

    def handleIncoming(self, data_in: bytes | str, ra: Any, server: Any, rtime: Any) -> None:
        if isinstance(data_in, bytes):
            data_in = normalise_transport(data_in)
        super().handleIncoming(data_in, ra, server, rtime)

    def unregConsumer(self, consumer: Any, call_id: str) -> None:
        # Dialogs go to their Dead state on timers (up to 300 s later), possibly after shutdown().
        if self.req_consumers is not None:
            super().unregConsumer(consumer, call_id)

    def shutdown(self) -> None:
        # sippy's shutdown leaves retransmission timers armed; they would fire on a dead manager.
        for t in (*self.tclient.values(), *self.tserver.values()):
            for name in _TIMERS:
                timer = getattr(t, name, None)
                if timer is not None:
                    timer.cancel()
        super().shutdown()

    @property
    def local_address(self) -> tuple[str, int]:
        """The bound (host, port): with port 0 the kernel chose it."""
        server = self.l4r.getServer(None)  # one fixed server: the argument is ignored
        host, port = server.uopts.laddress
        return str(host), int(port)
