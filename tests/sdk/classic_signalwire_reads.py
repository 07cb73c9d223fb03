"""Run by tests/sdk/test_classic_signalwire.py with the classic SignalWire SDK's own venv
(.venv-classic: signalwire 2.1.1, which pins twilio 6.54.0). Reads a call and its recordings
as users of that SDK do and prints what it got as JSON.

    .venv-classic/bin/python classic_signalwire_reads.py BASE_URL PROJECT TOKEN CALL_SID
"""

import json
import sys

from signalwire.rest import Client

base_url, project, token, call_sid = sys.argv[1:5]
client = Client(project, token, signalwire_space_url="127.0.0.1")
client._api.base_url = base_url  # the SDK forces https; wire-compat.md: point it at http like this
call = client.calls(call_sid).fetch()
listed = client.calls.list(limit=5)
recordings = client.recordings.list(call_sid=call_sid)
under_call = client.calls(call_sid).recordings.list()
fetched = client.recordings(recordings[0].sid).fetch() if recordings else None
print(json.dumps({
    "call": {"sid": call.sid, "status": call.status, "direction": call.direction, "duration": call.duration},
    "listed": [c.sid for c in listed],
    "recordings": [r.sid for r in recordings],
    "under_call": [r.sid for r in under_call],
    "fetched": None if fetched is None else {
        "sid": fetched.sid, "call_sid": fetched.call_sid, "duration": fetched.duration, "status": fetched.status,
        "channels": fetched.channels, "source": fetched.source, "uri": fetched.uri,
    },
}))
