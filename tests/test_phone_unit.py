"""Phone calls through Twilio (#20), without models: signatures, TwiML, one-time stream tokens,
the stream's opening messages, the keypad and the settings (fast tier).

The app runs in-process without its lifespan; the webhooks are signed with Twilio's own
library, over the public URL the server is configured with. The calls themselves (real
models, a real Media Streams peer) are in ``test_phone_call.py``.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ElementTree
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from twilio.request_validator import RequestValidator

from helpers import demo_database
from test_owner import fill
from voicebot.admission import Admission
from voicebot.app import create_app
from voicebot.business import CompanyRepository
from voicebot.call_record import list_calls
from voicebot.config import PhoneConfig, ServerSettings
from voicebot.front_desk.dialog import KEYPAD_PREFIX, keypad_words
from voicebot.front_desk.understanding import Slot
from voicebot.main import phone_settings_problem
from voicebot.phone.lines import PhoneLines
from voicebot.phone.stream import BadStream, check_media_format, read_start
from voicebot.phone.twilio import after_stream, connect_stream, signature_ok
from voicebot.runtime import Runtime

TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://bot.example.com"
FORM = {"CallSid": "CA0123456789abcdef0123456789abcdef", "AccountSid": "AC00000000000000000000000000000000",
        "From": "+15035550199", "To": "+15035550142", "CallStatus": "ringing"}


def signed(path: str, form: dict, token: str = TOKEN, base: str = PUBLIC) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(base + path, form)}


def phone_server(tmp_path, ready: bool = True, max_calls: int = 3, **phone) -> tuple[TestClient, Runtime]:
    database = demo_database(tmp_path / "business.db")
    fill(database)
    settings = ServerSettings(company_id=2, data_dir=tmp_path / "data", max_calls=max_calls,
                              phone=PhoneConfig(**({"auth_token": TOKEN, "public_url": PUBLIC} | phone)))
    state = Runtime(settings=settings, company=CompanyRepository(database).get(2), database=database,
                        admission=Admission(max_calls=max_calls))
    state.preloaded = SimpleNamespace(ready=ready)  # the webhook only asks whether the bot is ready
    return TestClient(create_app(state)), state


# --- Twilio's protocol pieces -------------------------------------------------------------------------

def test_signatures_are_twilios_over_the_configured_url_and_the_form():
    config = PhoneConfig(auth_token=TOKEN, public_url=PUBLIC)
    url = PUBLIC + "/twilio/voice"
    good = signed("/twilio/voice", FORM)["X-Twilio-Signature"]
    assert signature_ok(config, url, FORM, good)
    assert not signature_ok(config, url, FORM | {"From": "+15550000000"}, good)  # a field changed
    assert not signature_ok(config, "https://evil.example.com/twilio/voice", FORM, good)
    assert not signature_ok(config, url, FORM, None) and not signature_ok(config, url, FORM, "")
    assert signature_ok(PhoneConfig(), url, FORM, None)  # no token configured: unsigned webhooks


def test_twiml_streams_with_the_token_as_a_parameter_and_dials_or_hangs_up_after():
    twiml = ElementTree.fromstring(connect_stream("wss://bot.example.com/twilio/media", "tok-1",
                                                  PUBLIC + "/twilio/after"))
    stream = twiml.find("./Connect/Stream")
    assert twiml.find("./Connect").get("action") == PUBLIC + "/twilio/after"
    assert stream.get("url") == "wss://bot.example.com/twilio/media"  # no query string: Twilio forbids it
    assert [(p.get("name"), p.get("value")) for p in stream.iter("Parameter")] == [("token", "tok-1")]
    assert ElementTree.fromstring(after_stream("+1 503 555 0142")).findtext("Dial") == "+1 503 555 0142"
    assert ElementTree.fromstring(after_stream(None)).find("Hangup") is not None


def test_stream_tokens_are_one_time_and_expire():
    now = [100.0]
    lines = PhoneLines(token_ttl_s=10, clock=lambda: now[0])
    first, second = lines.ring("CA1", "+1"), lines.ring("CA2", "+2")
    assert first.token != second.token and len(first.token) >= 32
    assert lines.redeem(first.token) is first
    assert lines.redeem(first.token) is None  # used
    assert lines.redeem("made-up") is None and lines.redeem(None) is None
    now[0] += 11
    assert lines.redeem(second.token) is None  # expired
    assert lines.find("CA1") is first  # kept for /twilio/after


class ScriptedSocket:
    """What ``read_start`` needs of a WebSocket: the messages Twilio would send, in order."""

    def __init__(self, *messages: str):
        self._messages = list(messages)

    async def receive_text(self) -> str:
        if not self._messages:
            await asyncio.sleep(3600)
        return self._messages.pop(0)


START = ('{"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {"streamSid": "MZ1", '
         '"callSid": "CA1", "accountSid": "AC1", "tracks": ["inbound"], "customParameters": {"token": "tok"}, '
         '"mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}')


async def test_a_stream_opens_with_connected_then_start():
    start = await read_start(ScriptedSocket('{"event": "connected", "protocol": "Call"}', START))
    assert (start.stream_sid, start.call_sid, start.token) == ("MZ1", "CA1", "tok")
    check_media_format(start.media_format)


@pytest.mark.parametrize("messages, reason", [
    (['{"event": "media", "media": {}}'], "expected Twilio's 'start'"),
    (["not json"], "not a Twilio media stream message"),
    (['{"event": "start", "start": {"streamSid": "MZ1"}}'], "no streamSid or callSid"),
    ([], "no 'start' message within"),
])
async def test_a_stream_that_does_not_start_properly_is_refused(messages, reason):
    with pytest.raises(BadStream, match=reason):
        await read_start(ScriptedSocket(*messages), timeout_s=0.2)


@pytest.mark.parametrize("media_format", [
    {"encoding": "audio/x-alaw", "sampleRate": 8000, "channels": 1},
    {"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1},
    {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 2},
    {},
])
def test_only_8khz_mono_mulaw_is_taken(media_format):
    with pytest.raises(BadStream, match="unsupported media format") as refused:
        check_media_format(media_format)
    assert refused.value.code == 1003


def test_keys_are_words_the_desk_understands():
    assert keypad_words(f"{KEYPAD_PREFIX}1", Slot.CONFIRM) == "Yes."
    assert keypad_words(f"{KEYPAD_PREFIX}2", Slot.CONFIRM) == "No."
    assert keypad_words(f"{KEYPAD_PREFIX}5035551234#", Slot.PHONE) == "5 0 3 5 5 5 1 2 3 4"
    assert keypad_words("Yes, please.", Slot.CONFIRM) == "Yes, please."  # spoken words pass unchanged


def test_a_signing_token_needs_the_public_url_it_signs():
    settings = ServerSettings(company_id=2, phone=PhoneConfig(auth_token=TOKEN))
    assert "VOICEBOT_PUBLIC_URL" in phone_settings_problem(settings)
    assert phone_settings_problem(ServerSettings(company_id=2, phone=PhoneConfig(auth_token=TOKEN,
                                                                                 public_url=PUBLIC))) is None
    assert "not an http(s) URL" in phone_settings_problem(
        ServerSettings(company_id=2, phone=PhoneConfig(public_url="bot.example.com")))


def test_rest_credentials_are_an_api_key_or_the_account_and_its_token():
    assert PhoneConfig(auth_token=TOKEN).rest_login is None  # no account: no REST
    assert PhoneConfig(auth_token=TOKEN, account_sid="AC1").rest_login == ("AC1", TOKEN)
    assert PhoneConfig(account_sid="AC1", api_key_sid="SK1", api_key_secret="s").rest_login == ("SK1", "s")


# --- the endpoints ------------------------------------------------------------------------------------

def test_the_webhook_refuses_a_bad_or_missing_signature(tmp_path):
    client, state = phone_server(tmp_path)
    assert client.post("/twilio/voice", data=FORM).status_code == 403
    assert client.post("/twilio/voice", data=FORM, headers=signed("/twilio/voice", FORM, "wrong")).status_code == 403
    # Signed over the request's own address instead of the public one: refused too.
    forged = signed("/twilio/voice", FORM, base="http://testserver")
    assert client.post("/twilio/voice", data=FORM, headers=forged).status_code == 403
    assert state.admission.status()["offers_pending"] == 0


def test_a_signed_webhook_streams_the_call_with_a_one_time_token(tmp_path):
    client, state = phone_server(tmp_path)
    response = client.post("/twilio/voice", data=FORM, headers=signed("/twilio/voice", FORM))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    stream = ElementTree.fromstring(response.text).find("./Connect/Stream")
    assert stream.get("url") == "wss://bot.example.com/twilio/media"
    token = next(p.get("value") for p in stream.iter("Parameter") if p.get("name") == "token")
    assert state.phone_lines.find(FORM["CallSid"]).token == token
    assert state.admission.status()["offers_pending"] == 1  # pending until the stream connects


def test_all_lines_busy_is_said_and_the_call_hung_up(tmp_path):
    client, state = phone_server(tmp_path, max_calls=1)
    state.admission.active.add("a-browser-call")
    response = client.post("/twilio/voice", data=FORM, headers=signed("/twilio/voice", FORM))
    twiml = ElementTree.fromstring(response.text)
    assert "lines are busy" in twiml.findtext("Say") and twiml.find("Hangup") is not None
    assert twiml.find("./Connect") is None
    # The owner sees the caller who was turned away (#30).
    assert [(c["channel"], c["outcome"]) for c in list_calls(state.database, 2)] == [("phone", "refused_busy")]


def test_a_server_still_loading_asks_to_call_again(tmp_path):
    client, _ = phone_server(tmp_path, ready=False)
    twiml = ElementTree.fromstring(client.post("/twilio/voice", data=FORM, headers=signed("/twilio/voice", FORM)).text)
    assert "call again" in twiml.findtext("Say") and twiml.find("Hangup") is not None


def test_unsigned_phone_calls_are_refused_on_a_server_with_a_caller_token(tmp_path):
    database = demo_database(tmp_path / "business.db")
    fill(database)
    settings = ServerSettings(company_id=2, data_dir=tmp_path / "data", access_token="caller-token")
    state = Runtime(settings=settings, company=CompanyRepository(database).get(2), database=database)
    state.preloaded = SimpleNamespace(ready=True)
    response = TestClient(create_app(state)).post("/twilio/voice", data=FORM)
    assert response.status_code == 403 and "TWILIO_AUTH_TOKEN" in response.text


def test_after_the_stream_the_call_is_hung_up_or_put_through(tmp_path):
    client, state = phone_server(tmp_path)
    client.post("/twilio/voice", data=FORM, headers=signed("/twilio/voice", FORM))
    after = FORM | {"CallStatus": "in-progress"}
    assert client.post("/twilio/after", data=after).status_code == 403  # signed too
    twiml = client.post("/twilio/after", data=after, headers=signed("/twilio/after", after)).text
    assert ElementTree.fromstring(twiml).find("Hangup") is not None
    state.phone_lines.find(FORM["CallSid"]).transfer_to = state.company.phone
    twiml = client.post("/twilio/after", data=after, headers=signed("/twilio/after", after)).text
    assert ElementTree.fromstring(twiml).findtext("Dial") == state.company.phone


@pytest.mark.parametrize("token, media_format, code", [
    ("made-up", {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}, 1008),
    (None, {"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1}, 1003),
])
def test_a_stream_without_a_valid_token_or_format_is_closed_and_holds_nothing(tmp_path, token, media_format, code):
    import json

    client, state = phone_server(tmp_path)
    response = client.post("/twilio/voice", data=FORM, headers=signed("/twilio/voice", FORM))
    issued = next(p.get("value") for p in ElementTree.fromstring(response.text).iter("Parameter"))
    start = {"event": "start", "streamSid": "MZ1", "start": {
        "streamSid": "MZ1", "callSid": FORM["CallSid"], "customParameters": {"token": token or issued},
        "mediaFormat": media_format}}
    with client.websocket_connect("/twilio/media") as websocket:
        websocket.send_text(json.dumps({"event": "connected"}))
        websocket.send_text(json.dumps(start))
        with pytest.raises(WebSocketDisconnect) as closed:
            websocket.receive_text()
    assert closed.value.code == code
    status = state.admission.status()
    assert status["calls_in_progress"] == 0
    assert status["offers_pending"] == (1 if token == "made-up" else 0)  # a spent token holds nothing
