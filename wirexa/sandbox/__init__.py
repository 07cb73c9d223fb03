"""The sandbox carrier: a virtual phone network for local development and tests.

Point Wirexa's outbound SIP trunk at the sandbox (UDP, default 127.0.0.1:5080) and every number
you call is answered by a virtual phone that behaves by rules matched on the dialed number. Each
virtual call records what the phone heard (8 kHz WAV), the DTMF digits it received and a timeline
of SIP events, all readable over the sandbox's REST API (default http://127.0.0.1:8090).

Ready-made numbers (table: wirexa.sandbox.rules.READY_NUMBERS)

    +15005550001  human      rings 1 s, answers, says "Hello?", presses nothing, hangs up
                             when the far end does (at the latest after 10 minutes)
    +15005550002  voicemail  rings 2 s, answers, ~4 s greeting then a 1000 Hz beep (0.5 s),
                             listens 10 s, hangs up
    +15005550003  busy       486 Busy Here
    +15005550004  no-answer  rings until the caller gives up (CANCEL -> 487)
    +15005550005  rejected   603 Decline
    +15005550006  failed     503 Service Unavailable
    +15005550007  presses 1  rings 1 s, answers, presses "1" (RFC 4733) once the far end has
                             spoken and then stayed quiet for 0.7 s; waits for the far end to hang up
    +15005550008  hangs up   rings 1 s, answers, says "Sorry, goodbye." and hangs up itself
    any other     default    like +15005550001

Own rules: a TOML file (`rules_file`, see wirexa.sandbox.rules for every field and action)

    [[rule]]
    id = "ivr-tester"
    number = "+15551230001"           # or prefix = "+1555123", or regex = "^\\+1555"
    ring = 2                          # seconds of 180 Ringing (0 = answer at once)
    outcome = "answer"                # answer | busy | no-answer | reject | fail (+ code = 503)
    hangup_after = 60                 # the phone hangs up 60 s after answering
    script = [
      { say = "Hi, this is the tester." },
      { dtmf = "1", when = "quiet" },   # press 1 when the IVR stops talking
      { wait = 3 },
      { dtmf = "42#", at = 10 },        # 10 s after answer
      { wait_for_hangup = true },
    ]

or at runtime over REST (JSON, same fields):

    GET    /numbers                     the ready-made numbers
    GET    /rules                       every rule, in match order
    POST   /rules                       add a rule in front (409 if its id exists)
    GET|PUT|DELETE /rules/{id}          fetch / create-or-replace / remove one rule
    GET    /calls?number=&call_id=&from=&state=&limit=   virtual calls, newest first
    GET    /calls/{id}                  one call (sandbox id or SIP Call-ID): state, final_code,
                                        ended_by, digits, events, durations, heard RMS summary
    GET    /calls/{id}/heard.wav        what the phone heard (8 kHz 16-bit mono)
    POST   /calls/{id}/hangup           hang a live call up (BYE, CANCEL or 480)
    POST   /calls                       the sandbox calls Wirexa (inbound flows):
        {"from": "+15005550001", "to": "+15557654321", "target": "127.0.0.1:5060",
         "script": [{"say": "Hello"}, {"dtmf": "1", "at": 3}], "hangup_after": 20,
         "ring_timeout": 60, "hangup_when_done": false, "codec": "PCMU"}

In Python (tests, `wirexa up`):

    carrier = SandboxCarrier("127.0.0.1", 0, "127.0.0.1", 0, data_dir, clock=clock, ports=ports)
    await carrier.start()          # carrier.sip_port, carrier.http_port, carrier.http_url
    ...
    await carrier.stop()
"""

from .carrier import DEFAULT_HTTP_PORT, DEFAULT_SIP_PORT, SandboxCarrier, serve_sandbox
from .phone import VirtualCall
from .rules import READY_NUMBERS, Action, Rule, RuleBook, RuleError, load_rules_file

__all__ = [
    "DEFAULT_HTTP_PORT", "DEFAULT_SIP_PORT", "READY_NUMBERS", "Action", "Rule", "RuleBook",
    "RuleError", "SandboxCarrier", "VirtualCall", "load_rules_file", "serve_sandbox",
]
