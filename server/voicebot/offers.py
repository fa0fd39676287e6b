"""Browser calls' signalling: ``POST /api/offer`` (a SmallWebRTC offer) and ``PATCH /api/offer``
(its ICE candidates), checked before anything is spent (:mod:`voicebot.signalling`) and
admitted by the runtime's :class:`~voicebot.calls.Calls`. Each answered offer starts one
:func:`voicebot.bot.run_bot` task; the call takes its line once it connects.
"""

from __future__ import annotations

import secrets
import time

from aiortc.exceptions import InvalidAccessError, InvalidStateError
from fastapi import APIRouter, Depends, HTTPException, Request
from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from voicebot.bot import run_bot
from voicebot.peers import client_address
from voicebot.runtime import Runtime, current_runtime
from voicebot.signalling import MAX_BODY_BYTES, BadSignalling, offer_request, parse_json_object, patch_request


async def read_body(request: Request) -> bytes:
    """The body, read no further than the signalling size limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadSignalling(f"Body too large ({declared} bytes; limit {MAX_BODY_BYTES})", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadSignalling(f"Body too large (limit {MAX_BODY_BYTES} bytes)", 413)
    return bytes(body)


def check_caller_access(request: Request, runtime: Runtime) -> None:
    """With an access token configured, signalling needs it (Bearer header or ?token=); the owner's credential
    is never a caller's (it would end up in callers' URLs)."""
    token = runtime.settings.access_token
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
    assert runtime.owner is not None, "create_app gives the runtime its owner access"
    if runtime.owner.credential.matches(given):
        raise BadSignalling("That is the owner's credential; calls take the callers' access token", 401)
    if not token:
        return
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise BadSignalling("This server needs an access token (Authorization: Bearer … or ?token=…)", 401)


def offers_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/offer")
    async def offer(request: Request, runtime: Runtime = Depends(current_runtime)):
        """A browser's SDP offer: answered, and a call started once it connects."""
        received_at = time.monotonic()
        check_caller_access(request, runtime)
        if not runtime.ready:
            raise BadSignalling("The bot is still loading its models; retry shortly (see /health)", 503)
        webrtc_request = offer_request(parse_json_object(await read_body(request)))
        preloaded, calls, client = runtime.preloaded, runtime.calls, client_address(request)
        assert preloaded is not None, "ready: start() made it"
        renegotiation = webrtc_request.pc_id in calls
        if not renegotiation:
            await calls.admit(client, "browser")
        answered = False

        async def start_call(connection: SmallWebRTCConnection):
            nonlocal answered
            answered = True
            calls.answered(client, connection.pc_id)
            calls.start(connection.pc_id, run_bot(connection, preloaded, received_at, calls))

        try:
            answer = await runtime.webrtc.handle_web_request(webrtc_request, start_call)
        except (ValueError, InvalidAccessError, InvalidStateError) as e:
            # aiortc's own checks of the remote description: still the client's offer.
            raise BadSignalling(f"Could not accept the offer: {e}") from None
        except Exception as e:
            logger.exception(f"Offer from {client} failed on our side")
            raise HTTPException(500, "The server failed to answer the offer; this is our fault, not yours") from e
        finally:
            if not renegotiation and not answered:
                calls.release(client)
        assert answer is not None, "Pipecat raises rather than answer None"
        logger.info(f"Call {answer['pc_id']}: answered offer from {client} in {time.monotonic() - received_at:.2f}s")
        return answer

    @router.patch("/api/offer")
    async def ice_candidates(request: Request, runtime: Runtime = Depends(current_runtime)):
        """Trickled ICE candidates for an offer already answered."""
        check_caller_access(request, runtime)
        patch = patch_request(parse_json_object(await read_body(request)))
        try:
            await runtime.webrtc.handle_patch_request(patch)
        except HTTPException:
            raise
        except (ValueError, InvalidAccessError, InvalidStateError) as e:
            raise BadSignalling(f"Could not add the ICE candidates: {e}") from None
        return {"status": "success"}

    return router
