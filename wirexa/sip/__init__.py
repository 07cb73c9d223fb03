"""SIP signalling on sippy (see docs/sip.md): engine, call legs, events, SDP offer/answer."""

from .engine import SipEngine, Trunk
from .events import Answered, Canceled, Disconnected, Failed, LegEvent, Ringing, Updated
from .leg import CallLeg, InboundLeg, OutboundLeg

__all__ = [
    "Answered", "CallLeg", "Canceled", "Disconnected", "Failed", "InboundLeg", "LegEvent",
    "OutboundLeg", "Ringing", "SipEngine", "Trunk", "Updated",
]
