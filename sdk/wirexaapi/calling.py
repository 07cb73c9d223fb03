"""The Calling API: REST call control, ``client.calling.*``.

Every method POSTs one JSON command to ``{space}/api/calling/calls`` with HTTP Basic auth
(project ID and API token)::

    {"command": "calling.play", "id": "<call id>", "params": {...}}

``dial`` and ``update`` carry no top-level ``id`` (``update`` names its call in
``params.id``); ``params`` is always present, ``{}`` when a method is called without any.
Keyword arguments become ``params`` unchanged, except that a trailing underscore on a Python
keyword is dropped (``from_=`` is sent as ``from``). Each method returns the parsed JSON answer
(a dict; ``{}`` for an empty body) and raises :class:`~wirexaapi.exceptions.WirexaRestError`
(status, body) on any non-2xx answer.

The methods and command names are those of SignalWire's ``signalwire-sdk``
(``RestClient(...).calling``), so code written for it runs unchanged.
"""

from __future__ import annotations

import json
import keyword
import platform
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from twilio import __version__ as twilio_version

from wirexaapi.exceptions import WirexaRestError
from wirexaapi.version import __version__

if TYPE_CHECKING:
    from wirexaapi.client import Client

__all__ = ["CALLING_PATH", "CallingNamespace"]

CALLING_PATH = "/api/calling/calls"


def wire_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    """Keyword arguments → the ``params`` object: ``from_`` → ``from`` (any Python keyword + ``_``)."""
    out: Dict[str, Any] = {}
    for key, value in params.items():
        if key.endswith("_") and keyword.iskeyword(key[:-1]):
            key = key[:-1]
        out[key] = value
    return out


class CallingNamespace:
    """``client.calling``: the 37 Calling API commands (see the module docstring).

    Example::

        from wirexaapi import Client

        client = Client("project_id", "api_token", signalwire_space_url="http://127.0.0.1:8080")
        call = client.calling.dial(from_="+15559876543", to="+15551234567",
                                   url="https://example.com/voice")
        client.calling.play(call["id"], play=[{"type": "tts", "text": "Hello!"}])
        client.calling.end(call["id"], reason="hangup")
    """

    def __init__(self, client: "Client", timeout: Optional[float] = None) -> None:
        self._client = client
        self.timeout = timeout

    @property
    def url(self) -> str:
        """The endpoint every command is POSTed to."""
        return self._client.space_url + CALLING_PATH

    def _execute(self, command: str, call_id: Optional[str], params: Mapping[str, Any]) -> Dict[str, Any]:
        body: Dict[str, Any] = {"command": command}
        if call_id is not None:
            body["id"] = call_id
        body["params"] = wire_params(params)
        return self.execute(body)

    def execute(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """POST a raw command object (``{"command", "id"?, "params"}``) and return the answer.

        For commands this SDK has no method for yet.

        Example::

            client.calling.execute({"command": "calling.end", "id": call_id,
                                    "params": {"reason": "hangup"}})
        """
        url = self.url
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"wirexaapi/{__version__} twilio-python/{twilio_version} "
                          f"Python/{platform.python_version()}",
        }
        response = self._client.http_client.request(
            "POST", url, data=body, headers=headers, auth=self._client.auth, timeout=self.timeout,
        )
        status = int(response.status_code)
        text = response.text or ""
        try:
            parsed: Any = json.loads(text) if text.strip() else {}
            is_json = True
        except ValueError:
            parsed, is_json = text, False
        if not 200 <= status < 300 or not is_json:  # a 2xx that is not JSON is unusable too
            raise WirexaRestError(status, parsed, url, "POST")
        return parsed  # type: ignore[no-any-return]

    def dial(self, **params: Any) -> Dict[str, Any]:
        """Place an outbound call. There is no call id yet: everything goes in ``params``.

        Command ``dial``; params: from_ (sent as ``from``), to, caller_id, fallback_url,
        status_url, status_events, url_method, url, codecs, swml.

        Example::

            result = client.calling.dial(from_="+15559876543", to="+15551234567",
                url="https://example.com/call-handler")
            call_id = result["id"]
        """
        return self._execute("dial", None, params)

    def update(self, **params: Any) -> Dict[str, Any]:
        """Change an existing call: its id goes in ``params.id`` (there is no top-level ``id``).

        Command ``update``; params: id (the call to update), fallback_url, status
        (``canceled`` / ``completed``), status_url, url, swml.

        Example::

            client.calling.update(id=call_id, url="https://example.com/new-handler")
        """
        return self._execute("update", None, params)

    def end(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Hang a call up.

        Command ``calling.end``; params: reason.

        Example::

            client.calling.end(call_id, reason="hangup")
        """
        return self._execute("calling.end", call_id, params)

    def transfer(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Transfer a call to another destination.

        Command ``calling.transfer``; params: dest.

        Example::

            client.calling.transfer(call_id, dest="sip:agent@example.com")
        """
        return self._execute("calling.transfer", call_id, params)

    def disconnect(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Disconnect bridged calls without hanging up either leg.

        Command ``calling.disconnect``; params: (none).

        Example::

            client.calling.disconnect(call_id)
        """
        return self._execute("calling.disconnect", call_id, params)

    def play(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Play audio, text to speech, silence or a ringtone.

        Command ``calling.play``; params: control_id, play, volume, direction, loop, status_url.

        Example::

            client.calling.play(call_id, control_id="ctrl-1",
                play=[{"type": "tts", "text": "Hello!"}], volume=5.0)
        """
        return self._execute("calling.play", call_id, params)

    def play_pause(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Pause a playback.

        Command ``calling.play.pause``; params: control_id.

        Example::

            client.calling.play_pause(call_id, control_id="ctrl-1")
        """
        return self._execute("calling.play.pause", call_id, params)

    def play_resume(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Resume a paused playback.

        Command ``calling.play.resume``; params: control_id.

        Example::

            client.calling.play_resume(call_id, control_id="ctrl-1")
        """
        return self._execute("calling.play.resume", call_id, params)

    def play_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop a playback.

        Command ``calling.play.stop``; params: control_id.

        Example::

            client.calling.play_stop(call_id, control_id="ctrl-1")
        """
        return self._execute("calling.play.stop", call_id, params)

    def play_volume(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Change a playback's volume.

        Command ``calling.play.volume``; params: control_id, volume.

        Example::

            client.calling.play_volume(call_id, control_id="ctrl-1", volume=-3.0)
        """
        return self._execute("calling.play.volume", call_id, params)

    def record(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Start recording a call.

        Command ``calling.record``; params: control_id, audio, status_url.

        Example::

            client.calling.record(call_id, control_id="rec-1",
                audio={"beep": True, "format": "wav", "stereo": True})
        """
        return self._execute("calling.record", call_id, params)

    def record_pause(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Pause a recording.

        Command ``calling.record.pause``; params: control_id.

        Example::

            client.calling.record_pause(call_id, control_id="rec-1")
        """
        return self._execute("calling.record.pause", call_id, params)

    def record_resume(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Resume a paused recording.

        Command ``calling.record.resume``; params: control_id.

        Example::

            client.calling.record_resume(call_id, control_id="rec-1")
        """
        return self._execute("calling.record.resume", call_id, params)

    def record_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop a recording.

        Command ``calling.record.stop``; params: control_id.

        Example::

            client.calling.record_stop(call_id, control_id="rec-1")
        """
        return self._execute("calling.record.stop", call_id, params)

    def collect(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Collect digits and/or speech (give at least one of ``digits`` and ``speech``).

        Command ``calling.collect``; params: control_id, initial_timeout, digits, speech,
        continuous, partial_results.

        Example::

            client.calling.collect(call_id, control_id="coll-1",
                digits={"max": 4, "terminators": "#"})
        """
        return self._execute("calling.collect", call_id, params)

    def collect_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop collecting input.

        Command ``calling.collect.stop``; params: control_id.

        Example::

            client.calling.collect_stop(call_id, control_id="coll-1")
        """
        return self._execute("calling.collect.stop", call_id, params)

    def collect_start_input_timers(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Start the input timers of a collect started without them.

        Command ``calling.collect.start_input_timers``; params: control_id.

        Example::

            client.calling.collect_start_input_timers(call_id, control_id="coll-1")
        """
        return self._execute("calling.collect.start_input_timers", call_id, params)

    def detect(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Detect a machine, fax tones or digits.

        Command ``calling.detect``; params: control_id, detect, timeout.

        Example::

            client.calling.detect(call_id, control_id="det-1",
                detect={"type": "machine", "params": {"initial_timeout": 4.5}})
        """
        return self._execute("calling.detect", call_id, params)

    def detect_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop a detection.

        Command ``calling.detect.stop``; params: control_id.

        Example::

            client.calling.detect_stop(call_id, control_id="det-1")
        """
        return self._execute("calling.detect.stop", call_id, params)

    def tap(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Copy the call's audio to an RTP or WebSocket device.

        Command ``calling.tap``; params: control_id, tap, device.

        Example::

            client.calling.tap(call_id, control_id="tap-1",
                tap={"type": "audio", "params": {"direction": "both"}},
                device={"type": "rtp", "params": {"addr": "192.0.2.10", "port": 1234}})
        """
        return self._execute("calling.tap", call_id, params)

    def tap_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop a tap.

        Command ``calling.tap.stop``; params: control_id.

        Example::

            client.calling.tap_stop(call_id, control_id="tap-1")
        """
        return self._execute("calling.tap.stop", call_id, params)

    def stream(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stream the call's audio to a WebSocket.

        Command ``calling.stream``; params: control_id, url, codec, track,
        authorization_bearer_token, custom_parameters.

        Example::

            client.calling.stream(call_id, control_id="str-1",
                url="wss://example.com/audio-stream", codec="PCMU")
        """
        return self._execute("calling.stream", call_id, params)

    def stream_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop a stream.

        Command ``calling.stream.stop``; params: control_id.

        Example::

            client.calling.stream_stop(call_id, control_id="str-1")
        """
        return self._execute("calling.stream.stop", call_id, params)

    def denoise(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Start noise reduction on the call.

        Command ``calling.denoise``; params: (none).

        Example::

            client.calling.denoise(call_id)
        """
        return self._execute("calling.denoise", call_id, params)

    def denoise_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop noise reduction.

        Command ``calling.denoise.stop``; params: (none).

        Example::

            client.calling.denoise_stop(call_id)
        """
        return self._execute("calling.denoise.stop", call_id, params)

    def transcribe(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Transcribe the call (one transcription per call at a time).

        Command ``calling.transcribe``; params: control_id, status_url.

        Example::

            client.calling.transcribe(call_id, control_id="tx-1",
                status_url="https://example.com/hook")
        """
        return self._execute("calling.transcribe", call_id, params)

    def transcribe_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop a transcription.

        Command ``calling.transcribe.stop``; params: control_id.

        Example::

            client.calling.transcribe_stop(call_id, control_id="tx-1")
        """
        return self._execute("calling.transcribe.stop", call_id, params)

    def ai_message(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Inject a message into the call's AI session.

        Command ``calling.ai_message``; params: role, message_text, reset, global_data.

        Example::

            client.calling.ai_message(call_id, role="user",
                message_text="Transfer me to billing")
        """
        return self._execute("calling.ai_message", call_id, params)

    def ai_hold(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Put the AI session on hold.

        Command ``calling.ai_hold``; params: timeout, prompt.

        Example::

            client.calling.ai_hold(call_id, timeout=60,
                prompt="Please wait while I transfer you.")
        """
        return self._execute("calling.ai_hold", call_id, params)

    def ai_unhold(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Take the AI session off hold.

        Command ``calling.ai_unhold``; params: prompt.

        Example::

            client.calling.ai_unhold(call_id, prompt="I'm back, how can I help?")
        """
        return self._execute("calling.ai_unhold", call_id, params)

    def ai_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop the AI session (command ``calling.ai.stop``, with a dot).

        Command ``calling.ai.stop``; params: control_id.

        Example::

            client.calling.ai_stop(call_id, control_id="ai-1")
        """
        return self._execute("calling.ai.stop", call_id, params)

    def live_transcribe(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Start or stop live transcription.

        Command ``calling.live_transcribe``; params: action (+ status_url).

        Example::

            client.calling.live_transcribe(call_id, action="start", lang="en")
        """
        return self._execute("calling.live_transcribe", call_id, params)

    def live_translate(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Start or stop live translation.

        Command ``calling.live_translate``; params: action (+ status_url).

        Example::

            client.calling.live_translate(call_id, action="start",
                from_lang="en", to_lang="es")
        """
        return self._execute("calling.live_translate", call_id, params)

    def send_fax_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop sending a fax.

        Command ``calling.send_fax.stop``; params: control_id.

        Example::

            client.calling.send_fax_stop(call_id, control_id="fax-1")
        """
        return self._execute("calling.send_fax.stop", call_id, params)

    def receive_fax_stop(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Stop receiving a fax.

        Command ``calling.receive_fax.stop``; params: control_id.

        Example::

            client.calling.receive_fax_stop(call_id, control_id="fax-1")
        """
        return self._execute("calling.receive_fax.stop", call_id, params)

    def refer(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Transfer a SIP call with REFER.

        Command ``calling.refer``; params: device, status_url.

        Example::

            client.calling.refer(call_id, device={"to": "sip:agent@example.com"})
        """
        return self._execute("calling.refer", call_id, params)

    def user_event(self, call_id: str, **params: Any) -> Dict[str, Any]:
        """Send a custom event to the call's application.

        Command ``calling.user_event``; params: event.

        Example::

            client.calling.user_event(call_id, event={"type": "custom", "data": {"key": "value"}})
        """
        return self._execute("calling.user_event", call_id, params)

