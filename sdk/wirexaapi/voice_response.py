"""LaML builders, as ``signalwire.voice_response``: ``from wirexaapi.voice_response import VoiceResponse``.

Wirexa runs LaML, whose verbs are TwiML's, so these are twilio's own classes.

Example::

    from wirexaapi.voice_response import VoiceResponse

    r = VoiceResponse()
    r.say("Hello! Thanks for calling.")
    r.hangup()
    print(str(r))  # <?xml ...?><Response><Say>Hello! Thanks for calling.</Say><Hangup /></Response>
"""

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

__all__ = ["Dial", "Gather", "VoiceResponse"]
