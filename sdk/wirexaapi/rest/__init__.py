"""``from wirexaapi.rest import Client``: the same spelling as ``from signalwire.rest import Client``."""

from wirexaapi.client import Client

__all__ = ["Client"]
