"""SignalWire's Calling API: REST call control with one endpoint (`POST /api/calling/calls`)
and a `command` per operation, results as JSON events to a `status_url`.

The HTTP side is wirexa/api/calling.py (authentication, JSON in and out); this package holds
what is not HTTP: call ids (ids.py), command validation (commands.py), the JSON events
(events.py) and the per-call controls that run the commands on a live call (control.py)
through the same call and media operations the LaML verbs use (wirexa/calls, wirexa/media).
"""
