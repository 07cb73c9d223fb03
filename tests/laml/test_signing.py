"""Request signatures: the test vector from semantics.md, and twilio's own validator agrees."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from wirexa.laml.documents import with_query
from wirexa.webhooks.signing import signature, signature_headers

URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
          "From": "+12349013030", "To": "+18005551212"}


def test_the_documented_vector() -> None:
    assert signature("12345", URL, PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilio_validator_accepts_post_and_get_signatures() -> None:
    validator = RequestValidator("s3cret-token")
    headers = signature_headers("s3cret-token", URL, PARAMS)
    assert headers["X-Twilio-Signature"] == headers["X-SignalWire-Signature"]
    assert validator.validate(URL, PARAMS, headers["X-Twilio-Signature"])
    get_url = with_query("https://example.com/voice?x=1", {"CallSid": "CA1", "Digits": "1 2#"})
    assert get_url == "https://example.com/voice?x=1&CallSid=CA1&Digits=1+2%23"
    assert validator.validate(get_url, {}, signature("s3cret-token", get_url))
    assert not validator.validate(get_url, {}, signature("other-token", get_url))


def test_validate_helper_accepts_only_the_right_signature() -> None:
    from wirexa.webhooks.signing import validate

    good = signature("12345", URL, PARAMS)
    assert validate("12345", URL, PARAMS, good)
    assert not validate("12345", URL.replace("https", "http"), PARAMS, good)  # the URL as seen behind a proxy
    assert not validate("12345", URL, {**PARAMS, "Digits": "9"}, good)
    assert not validate("12345", URL, PARAMS, "")
