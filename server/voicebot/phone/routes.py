"""The phone endpoints: Twilio's voice webhook, the call's media stream and what comes after it.

    POST /twilio/voice   the number rings: TwiML that streams the call to us (or "all lines are busy")
    WS   /twilio/media   the call's audio both ways; the same bot as a browser call
    POST /twilio/after   the stream ended: dial the restaurant (the bot transferred the caller) or hang up

The webhook takes a line from the same admission control as browser offers: a call that
rang holds a pending place until its stream connects (or its token expires), then a
call's place until it ends.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import Response
from loguru import logger

from voicebot.bot import run_call
from voicebot.peers import reached_over_https
from voicebot.phone.lines import PhoneCall, PhoneLines
from voicebot.phone.stream import BadStream, check_media_format, phone_transport, read_start
from voicebot.phone.twilio import (
    BUSY_MESSAGE,
    STARTING_MESSAGE,
    TWIML,
    after_stream,
    connect_stream,
    say_and_hang_up,
    signature_ok,
)
from voicebot.runtime import Runtime, current_runtime
from voicebot.signalling import BadSignalling
from voicebot.timeline import CallTimeline


def _twiml(text: str, status: int = 200) -> Response:
    return Response(content=text, media_type=TWIML, status_code=status)


def _public_base(request: Request, state: Runtime) -> str:
    """The https base Twilio was given; without one configured, the one this request came to."""
    if state.settings.phone.public_url:
        return state.settings.phone.public_url
    scheme = "https" if reached_over_https(request) else request.url.scheme
    return f"{scheme}://{request.headers.get('host', request.url.netloc)}"


async def _signed_form(request: Request, state: Runtime) -> dict[str, str]:
    """The webhook's form fields, once Twilio's signature over our public URL is checked (403 if not)."""
    phone = state.settings.phone
    if not phone.auth_token and state.settings.access_token:
        raise BadSignalling("Phone calls on a server with a caller access token need TWILIO_AUTH_TOKEN", 403)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    url = _public_base(request, state) + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not signature_ok(phone, url, form, request.headers.get("x-twilio-signature")):
        logger.warning(f"POST {request.url.path}: bad or missing Twilio signature (checked against {url})")
        raise BadSignalling("Bad or missing X-Twilio-Signature", 403)
    return form


def phone_router() -> APIRouter:
    router = APIRouter(prefix="/twilio")

    @router.post("/voice")
    async def voice(request: Request, state: Runtime = Depends(current_runtime)):
        """Twilio's voice webhook: stream the call to us with a one-time token, or say we're busy."""
        form = await _signed_form(request, state)
        call_sid, caller = form.get("CallSid", ""), form.get("From", "unknown")
        if not call_sid:
            raise BadSignalling("The webhook has no CallSid")
        if not state.ready:
            logger.info(f"Phone call {call_sid} from {caller}: not ready yet, told to call again")
            return _twiml(say_and_hang_up(STARTING_MESSAGE))
        client = f"phone:{call_sid}"  # one pending place per call: Twilio's address is every caller's
        try:
            await state.calls.admit(client, "phone")
        except BadSignalling as e:
            logger.info(f"Phone call {call_sid} from {caller}: refused ({e})")
            return _twiml(say_and_hang_up(BUSY_MESSAGE))
        call = state.phone_lines.ring(call_sid, caller)
        state.calls.answered(client, call.token)
        asyncio.get_running_loop().call_later(state.settings.offer_timeout_s, _expire, state, call)
        base = _public_base(request, state)
        stream_url = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/twilio/media"
        logger.info(f"Phone call {call_sid} from {caller}: streaming to {stream_url}")
        return _twiml(connect_stream(stream_url, call.token, base + "/twilio/after"))

    @router.websocket("/media")
    async def media(websocket: WebSocket, state: Runtime = Depends(current_runtime)):
        """One call's audio: the same bot as a browser call, once the stream's token and format are right."""
        await websocket.accept()
        call = None
        try:
            start = await read_start(websocket)
            call = state.phone_lines.redeem(start.token)
            if call is None:
                raise BadStream("unknown, used or expired stream token")
            if call.call_sid != start.call_sid:
                raise BadStream(f"the token belongs to call {call.call_sid}, not {start.call_sid}")
            check_media_format(start.media_format)
        except BadStream as e:
            logger.warning(f"Phone stream refused: {e}")
            if call is not None:  # its token is spent: the call's pending place goes with it
                state.calls.ended(call.token)
            await websocket.close(code=e.code, reason=str(e)[:120])
            return
        if not state.calls.connected(call.token):
            logger.warning(f"Phone call {call.call_sid}: every line filled up meanwhile; closing its stream "
                           "(recorded as turned away)")
            await state.calls.turned_away(call.token, "phone")
            await websocket.close(code=1013, reason="all lines are busy")
            return
        await _run_phone_call(websocket, state, call, start)

    @router.post("/after")
    async def after(request: Request, state: Runtime = Depends(current_runtime)):
        """The stream ended: put the caller through to the restaurant if the bot said so, else hang up."""
        form = await _signed_form(request, state)
        call = state.phone_lines.find(form.get("CallSid", ""))
        transfer_to = call.transfer_to if call is not None else None
        logger.info(f"Phone call {form.get('CallSid')}: stream over; "
                    + (f"dialing {transfer_to}" if transfer_to else "hanging up"))
        return _twiml(after_stream(transfer_to))

    return router


def _expire(state: Runtime, call: PhoneCall) -> None:
    """A token whose stream never came holds nothing after the offer timeout."""
    if state.phone_lines.drop(call.token) is not None:
        logger.warning(f"Phone call {call.call_sid}: its stream did not connect within "
                       f"{state.settings.offer_timeout_s:.0f}s; token dropped")
        state.calls.ended(call.token)


async def _run_phone_call(websocket: WebSocket, state: Runtime, call: PhoneCall, start) -> None:
    call_id = f"phone-{call.call_sid}"
    call.stream_sid = start.stream_sid
    company = state.company

    def transfer() -> None:
        call.transfer_to = company.phone
        logger.info(f"Phone call {call.call_sid}: the caller will be put through to {company.phone}")

    logger.info(f"Phone call {call.call_sid} from {call.caller}: stream {start.stream_sid} connected")
    with state.calls.running(call.token):
        try:
            preloaded = state.preloaded
            assert preloaded is not None, "a stream's token is given only once the server is ready"
            await run_call(call_id, lambda: phone_transport(websocket, start), preloaded,
                           CallTimeline(call_id, time.monotonic()), on_transfer=transfer,
                           free_line=lambda: state.calls.ended(call.token))
        finally:
            call.ended_at = time.monotonic()
            if call.transfer_to is None:
                await state.twilio.hang_up(call.call_sid)


__all__ = ["PhoneLines", "phone_router"]
