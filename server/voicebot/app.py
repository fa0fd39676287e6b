"""The web app: the browser client at ``/``, SmallWebRTC signalling at ``/api/offer``, ``/health``,
phone calls at ``/twilio/*`` (:mod:`voicebot.phone`) and the owner's pages.

The server answers from the moment it starts; models load in the background
(:mod:`voicebot.preload`) and ``/health`` reports progress, while offers get a 503
until the bot is ready. Each accepted offer starts one :func:`voicebot.bot.run_bot` task.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiortc.exceptions import InvalidAccessError, InvalidStateError
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler

from voicebot.admission import Admission
from voicebot.bot import run_bot
from voicebot.business import Company, Database
from voicebot.config import ServerSettings
from voicebot.llm import embedded_process, shutdown_llm
from voicebot.owner.web import OwnerAccess, owner_router
from voicebot.peers import TrustedProxies, client_address
from voicebot.phone import phone_router
from voicebot.phone.lines import PhoneLines
from voicebot.preload import Preloaded, preload
from voicebot.signalling import MAX_BODY_BYTES, BadSignalling, offer_request, parse_json_object, patch_request
from voicebot.tts import forkserver
from voicebot.tts.worker_client import live_worker_pids, stop_all_workers


@dataclass
class ServerState:
    """What the web app knows: settings, the company, preloaded models, live calls."""

    settings: ServerSettings
    company: Company
    database: Database
    preloaded: Preloaded | None = None
    preload_error: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    calls: dict[str, asyncio.Task] = field(default_factory=dict)
    webrtc: SmallWebRTCRequestHandler = field(default_factory=SmallWebRTCRequestHandler)
    admission: Admission = field(default_factory=Admission)
    owner: OwnerAccess | None = None  # None: made by create_app (the credential file beside the database)
    phone_lines: PhoneLines = field(default_factory=PhoneLines)  # phone calls between Twilio's webhook and their end


async def _read_body(request: Request) -> bytes:
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


def _check_access(request: Request, token: str | None) -> None:
    """With an access token configured, signalling needs it (Bearer header or ?token=); the owner's credential
    is never a caller's (it would end up in callers' URLs)."""
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
    owner: OwnerAccess = request.app.state.voicebot.owner
    if owner.credential.matches(given):
        raise BadSignalling("That is the owner's credential; calls take the callers' access token", 401)
    if not token:
        return
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise BadSignalling("This server needs an access token (Authorization: Bearer … or ?token=…)", 401)


def create_app(state: ServerState) -> FastAPI:
    """The FastAPI app over ``state``: models preload once it starts; its shutdown ends calls, workers and the LLM."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        preload_task = asyncio.create_task(_preload(state), name="preload")
        try:
            yield
        finally:
            preload_task.cancel()
            await shutdown(state)

    app = FastAPI(title="voicebot", lifespan=lifespan)
    app.state.voicebot = state
    app.state.trusted_proxies = TrustedProxies.parse(state.settings.trusted_proxies)

    @app.get("/health")
    async def health():
        ready = state.preloaded is not None and state.preloaded.ready
        body = {
            "status": "ready" if ready else ("failed" if state.preload_error else "starting"),
            "ready": ready,
            "company": {"id": state.company.id, "name": state.company.name},
            "engines": state.preloaded.engines() if state.preloaded else None,
            "tts_warmup": state.settings.tts.warmup.value,
            "active_calls": len(state.calls),
            "admission": state.admission.status(),
            "tts_worker_pids": live_worker_pids(),
            "llm_process": _llm_status(),
            "tts_pool": _pool_status(state),
            "preload_s": {k: round(v, 2) for k, v in state.preloaded.timings.items()} if state.preloaded else {},
            "uptime_s": round(time.monotonic() - state.started_at, 1),
        }
        if state.preload_error:
            body["error"] = state.preload_error
        return JSONResponse(body, status_code=200 if ready else 503)

    state.owner = state.owner or OwnerAccess.for_server(state.settings, state.database)
    app.include_router(owner_router(state.owner, state.database, state.company))
    state.phone_lines = PhoneLines(token_ttl_s=state.settings.offer_timeout_s)
    app.include_router(phone_router())

    @app.exception_handler(BadSignalling)
    async def bad_signalling(request: Request, e: BadSignalling):
        headers = {"Retry-After": str(state.admission.retry_after_s)} if e.status in (429, 503) else None
        logger.info(f"{request.method} {request.url.path} from {_client(request)}: {e.status} {e}")
        return JSONResponse({"detail": str(e)}, status_code=e.status, headers=headers)

    @app.post("/api/offer")
    async def offer(request: Request):
        received_at = time.monotonic()
        _check_access(request, state.settings.access_token)
        if state.preloaded is None or not state.preloaded.ready:
            raise BadSignalling("The bot is still loading its models; retry shortly (see /health)", 503)
        webrtc_request = offer_request(parse_json_object(await _read_body(request)))
        preloaded, admission, client = state.preloaded, state.admission, _client(request)
        renegotiation = webrtc_request.pc_id in state.calls
        if not renegotiation:
            admission.reserve(client)
        answered = False

        async def start_call(connection: SmallWebRTCConnection):
            nonlocal answered
            answered = True
            pc_id = connection.pc_id
            admission.answered(client, pc_id)
            task = asyncio.create_task(run_bot(connection, preloaded, received_at, admission),
                                       name=f"call-{pc_id}")
            state.calls[pc_id] = task

            def ended(_):
                state.calls.pop(pc_id, None)
                admission.ended(pc_id)
            task.add_done_callback(ended)

        try:
            answer = await state.webrtc.handle_web_request(webrtc_request, start_call)
        except (ValueError, InvalidAccessError, InvalidStateError) as e:
            # aiortc's own checks of the remote description: still the client's offer.
            raise BadSignalling(f"Could not accept the offer: {e}") from None
        except Exception:
            logger.exception(f"Offer from {client} failed on our side")
            raise HTTPException(500, "The server failed to answer the offer; this is our fault, not yours")
        finally:
            if not renegotiation and not answered:
                admission.release(client)
        logger.info(f"Call {answer['pc_id']}: answered offer from {client} in {time.monotonic() - received_at:.2f}s")
        return answer

    @app.patch("/api/offer")
    async def ice_candidates(request: Request):
        _check_access(request, state.settings.access_token)
        patch = patch_request(parse_json_object(await _read_body(request)))
        try:
            await state.webrtc.handle_patch_request(patch)
        except HTTPException:
            raise
        except (ValueError, InvalidAccessError, InvalidStateError) as e:
            raise BadSignalling(f"Could not add the ICE candidates: {e}") from None
        return {"status": "success"}

    client_dir = state.settings.client_dir
    if client_dir and (client_dir / "index.html").exists():
        app.mount("/", StaticFiles(directory=client_dir, html=True), name="client")
    else:
        @app.get("/", response_class=HTMLResponse)
        async def client_missing():
            return (f"<h1>voicebot</h1><p>The browser client is not built ({client_dir}). "
                    "Run <code>npm ci && npm run build</code> in <code>client/</code>.</p>")

    return app


def _llm_status() -> dict | None:
    """The embedded model's process: its pid, whether it answers, how often it was restarted."""
    process = embedded_process()
    if process is None:
        return None
    return {"pid": process.pid, "running": process.running, "restarts": process.restarts}


def _pool_status(state: ServerState) -> dict | None:
    pool = state.preloaded.tts_pool if state.preloaded else None
    if pool is None:
        return None
    return {"size": pool.size, "idle": pool.idle_count, "in_calls": pool.lent_count}


def _client(request: Request) -> str:
    return client_address(request)


async def _preload(state: ServerState) -> None:
    try:
        admission = state.admission
        state.preloaded = await preload(state.settings, state.company, state.database,
                                        calls_in_progress=lambda: admission.in_progress + len(admission.pending))
    except asyncio.CancelledError:
        raise
    except Exception as e:
        state.preload_error = f"{type(e).__name__}: {e}"
        logger.exception(f"Preloading failed: {state.preload_error}")


async def shutdown(state: ServerState) -> None:
    """End every call, TTS worker and the embedded LLM (Ctrl-C, SIGTERM)."""
    calls = list(state.calls.values())
    if calls:
        logger.info(f"Shutting down: ending {len(calls)} call(s)...")
    for task in calls:
        task.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    if state.preloaded is not None and state.preloaded.background is not None:
        state.preloaded.background.cancel()
    await state.webrtc.close()
    if state.preloaded and state.preloaded.tts_pool:
        await state.preloaded.tts_pool.close()
    await stop_all_workers()
    await asyncio.to_thread(forkserver.stop)
    await asyncio.to_thread(shutdown_llm)
    logger.info("Shutdown complete")
