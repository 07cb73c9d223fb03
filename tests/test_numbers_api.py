"""IncomingPhoneNumbers over real HTTP with the twilio SDK, on both databases."""

from __future__ import annotations

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from engine_support import RunningEngine


def test_create_fetch_update_list_delete(server: RunningEngine, client: Client) -> None:
    made = client.incoming_phone_numbers.create(
        phone_number="+1 (312) 555-0199", voice_url="https://backend.example/inbound", voice_method="GET",
        voice_fallback_url="https://backend.example/fallback", status_callback="https://backend.example/status",
        status_callback_method="GET", friendly_name="Support line",
    )
    assert made.sid.startswith("PN") and made.phone_number == "+13125550199"
    assert made.voice_url == "https://backend.example/inbound" and made.voice_method == "GET"
    assert made.friendly_name == "Support line" and made.capabilities["voice"] is True
    assert made.uri == f"/2010-04-01/Accounts/{server.project.sid}/IncomingPhoneNumbers/{made.sid}.json"

    assert client.incoming_phone_numbers(made.sid).fetch().status_callback == "https://backend.example/status"
    updated = client.incoming_phone_numbers(made.sid).update(voice_url="https://backend.example/v2")
    assert updated.voice_url == "https://backend.example/v2" and updated.voice_method == "GET"
    assert server.engine.numbers.find("+13125550199")["voice_url"] == "https://backend.example/v2"  # type: ignore[index]

    listed = client.incoming_phone_numbers.list(phone_number="+13125550199")
    assert [n.sid for n in listed] == [made.sid]
    assert made.sid in [n.sid for n in client.incoming_phone_numbers.list(friendly_name="Support line")]

    assert client.incoming_phone_numbers(made.sid).delete() is True
    with pytest.raises(TwilioRestException) as err:
        client.incoming_phone_numbers(made.sid).fetch()
    assert err.value.status == 404
    assert server.engine.numbers.find("+13125550199") is None


def test_a_number_belongs_to_one_project(server: RunningEngine, client: Client) -> None:
    client.incoming_phone_numbers.create(phone_number="+13125550111", voice_url="https://b.example/in")
    with pytest.raises(TwilioRestException) as err:
        client.incoming_phone_numbers.create(phone_number="+13125550111")
    assert err.value.status == 400 and err.value.code == 21422
    other = server.engine.projects.create("Other")
    theirs = Client(other.sid, other.auth_token)
    theirs.api.base_url = server.base_url
    with pytest.raises(TwilioRestException) as err:
        theirs.incoming_phone_numbers.create(phone_number="+13125550111")
    assert err.value.code == 21422
    assert theirs.incoming_phone_numbers.list() == []
    mine = client.incoming_phone_numbers.list(phone_number="+13125550111")[0]
    with pytest.raises(TwilioRestException) as err:
        theirs.incoming_phone_numbers(mine.sid).fetch()
    assert err.value.status == 404


@pytest.mark.parametrize(("data", "code", "name"), [
    ({}, 21421, "PhoneNumber"),
    ({"PhoneNumber": "555"}, 21421, "PhoneNumber"),
    ({"PhoneNumber": "sip:a@b.example"}, 21421, "PhoneNumber"),
    ({"PhoneNumber": "+13125550123", "VoiceUrl": "nope"}, 21205, "VoiceUrl"),
    ({"PhoneNumber": "+13125550123", "VoiceMethod": "PATCH"}, 21209, "VoiceMethod"),
])
def test_invalid_numbers_are_named(server: RunningEngine, data: dict, code: int, name: str) -> None:
    r = httpx.post(f"{server.base_url}/api/laml/2010-04-01/Accounts/{server.project.sid}/IncomingPhoneNumbers.json",
                   auth=server.auth, data=data)
    assert r.status_code == 400 and r.json()["code"] == code and name in r.json()["message"]
