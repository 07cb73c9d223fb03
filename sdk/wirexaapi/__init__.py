"""wirexaapi: the Python SDK for Wirexa, a drop-in for SignalWire's REST client.

    from wirexaapi import Client          # instead of: from signalwire.rest import Client

    client = Client("project_id", "api_token", signalwire_space_url="wirexaapi.com")
    call = client.calls.create(to="+15551234567", from_="+15559876543",
                               url="https://your-backend.com/voice")
    print(call.sid, call.status)          # CA... queued

    leg = client.calling.dial(from_="+15559876543", to="+15551234567",
                              url="https://your-backend.com/voice")
    client.calling.play(leg["id"], play=[{"type": "tts", "text": "Hello!"}])

See README.md; `client.calling` is documented in `wirexaapi.calling`.
"""

from wirexaapi.calling import CallingNamespace
from wirexaapi.client import Client
from wirexaapi.exceptions import SignalWireRestError, TwilioException, TwilioRestException, WirexaRestError
from wirexaapi.version import __version__

__all__ = [
    "CallingNamespace",
    "Client",
    "SignalWireRestError",
    "TwilioException",
    "TwilioRestException",
    "WirexaRestError",
    "__version__",
]
