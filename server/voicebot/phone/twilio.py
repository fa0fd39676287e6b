"""Twilio's side of a phone call: webhook signatures, the TwiML we answer with, its REST API.

Signatures and TwiML come from Twilio's own library. The URL a signature is checked
against is the configured public one (``VOICEBOT_PUBLIC_URL``), never the Host a request
claims: behind a proxy or a tunnel the two differ, and a forged Host must not help.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from loguru import logger
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

from voicebot.config import PhoneConfig

BUSY_MESSAGE = "Sorry, all our lines are busy right now. Please call again in a few minutes."
STARTING_MESSAGE = "Sorry, we can't take your call just yet. Please call again in a minute."
TWIML = "application/xml"


def signature_ok(config: PhoneConfig, url: str, form: Mapping[str, str], signature: str | None) -> bool:
    """Whether ``signature`` (``X-Twilio-Signature``) is Twilio's for ``url`` and the POSTed ``form``.

    Always True when no auth token is configured (the server then accepts unsigned webhooks).
    """
    if not config.auth_token:
        return True
    if not signature:
        return False
    return RequestValidator(config.auth_token).validate(url, dict(form), signature)


def connect_stream(stream_url: str, token: str, action_url: str) -> str:
    """TwiML that connects the call's audio to our media WebSocket; Twilio forbids a query
    string on a stream URL, so the one-time token travels as a ``<Parameter>``."""
    response = VoiceResponse()
    connect = Connect(action=action_url, method="POST")
    connect.stream(url=stream_url).parameter(name="token", value=token)
    response.append(connect)
    return str(response)


def say_and_hang_up(message: str) -> str:
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)


def after_stream(transfer_to: str | None) -> str:
    """What Twilio does once the stream ends: dial the restaurant, or hang up."""
    response = VoiceResponse()
    if transfer_to:
        response.append(Dial(transfer_to))
    else:
        response.hangup()
    return str(response)


class TwilioCalls:
    """Ends calls through Twilio's REST API when credentials are configured (else a no-op:
    closing the stream already sends Twilio to ``/twilio/after``)."""

    def __init__(self, config: PhoneConfig):
        self._config = config

    @property
    def enabled(self) -> bool:
        return self._config.rest_login is not None

    async def hang_up(self, call_sid: str) -> bool:
        login = self._config.rest_login
        if login is None:
            return False
        url = f"{self._config.api_base}/2010-04-01/Accounts/{self._config.account_sid}/Calls/{call_sid}.json"
        try:
            async with httpx.AsyncClient(auth=login, timeout=10.0) as http:
                response = await http.post(url, data={"Status": "completed"})
        except httpx.HTTPError as e:
            logger.warning(f"Phone call {call_sid}: Twilio's REST API could not be reached to hang up: {e}")
            return False
        if response.status_code == 404:  # already over (Twilio error 20404)
            logger.debug(f"Phone call {call_sid}: already ended at Twilio")
            return True
        if response.status_code >= 400:
            logger.warning(f"Phone call {call_sid}: Twilio refused the hang-up: {response.status_code} "
                           f"{response.text[:200]}")
            return False
        logger.info(f"Phone call {call_sid}: hung up through Twilio's REST API")
        return True
