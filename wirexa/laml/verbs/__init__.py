"""One module per verb. Each verb class has `parse(node) -> verb` (checks attributes and
nesting) and `async run(call) -> Step`."""

from __future__ import annotations

from wirexa.laml.verbs.dial import Dial
from wirexa.laml.verbs.gather import Gather
from wirexa.laml.verbs.hangup import Hangup
from wirexa.laml.verbs.pause import Pause
from wirexa.laml.verbs.play import Play
from wirexa.laml.verbs.record import Record
from wirexa.laml.verbs.redirect import Redirect
from wirexa.laml.verbs.reject import Reject
from wirexa.laml.verbs.say import Say
from wirexa.laml.verbs.stream import Connect, Start, Stop

TOP_LEVEL: dict[str, type] = {
    "Say": Say, "Play": Play, "Pause": Pause, "Gather": Gather, "Record": Record, "Dial": Dial,
    "Transfer": Dial, "Redirect": Redirect, "Hangup": Hangup, "Reject": Reject,
    "Start": Start, "Stop": Stop, "Connect": Connect,
}
NOUNS = frozenset({"Number", "Sip", "Stream", "Parameter"})
