"""The web app: the browser client at ``/``, SmallWebRTC signalling at ``/api/offer``, ``/health``.

The server answers from the moment it starts; models load in the background
(:mod:`voicebot.preload`) and ``/health`` reports progress, while offers get a 503
until the bot is ready. Each accepted offer starts one :func:`voicebot.bot.run_bot` task.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.request_handler import (
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
    SmallWebRTCRequestHandler,
)

from voicebot.bot import run_bot
from voicebot.business import Company
from voicebot.config import ServerSettings
from voicebot.llm import shutdown_llm
from voicebot.preload import Preloaded, preload
from voicebot.tts import forkserver
from voicebot.tts.worker_client import live_worker_pids, stop_all_workers

MAX_SIGNALLING_BODY = 256 * 1024  # an SDP offer is a few KB


@dataclass
class ServerState:
    """What the web app knows: settings, the company, preloaded models, live calls."""

    settings: ServerSettings
    company: Company
    preloaded: Preloaded | None = None
    preload_error: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    calls: dict[str, asyncio.Task] = field(default_factory=dict)
    webrtc: SmallWebRTCRequestHandler = field(default_factory=SmallWebRTCRequestHandler)


async def _read_json(request: Request) -> dict:
    """The request body as a JSON object, or a 4xx that says what is wrong."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_SIGNALLING_BODY:
        raise HTTPException(413, f"Body too large ({declared} bytes; limit {MAX_SIGNALLING_BODY})")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SIGNALLING_BODY:
            raise HTTPException(413, f"Body too large (limit {MAX_SIGNALLING_BODY} bytes)")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "Body is not valid JSON")
    if not isinstance(data, dict):
        raise HTTPException(400, "Body must be a JSON object")
    return data


def _offer_from(data: dict) -> SmallWebRTCRequest:
    sdp, kind = data.get("sdp"), data.get("type")
    if not isinstance(sdp, str) or not sdp.strip():
        raise HTTPException(400, "Missing 'sdp' (string)")
    if kind != "offer":
        raise HTTPException(400, "'type' must be 'offer'")
    if not sdp.lstrip().startswith("v=0"):
        raise HTTPException(400, "'sdp' is not a session description (it must start with v=0)")
    return SmallWebRTCRequest(
        sdp=sdp, type=kind, pc_id=data.get("pc_id"), restart_pc=data.get("restart_pc"),
        request_data=data.get("request_data") or data.get("requestData"),
    )


def _patch_from(data: dict) -> SmallWebRTCPatchRequest:
    try:
        candidates = [IceCandidate(candidate=c.get("candidate", ""), sdp_mid=c.get("sdp_mid", c.get("sdpMid")),
                                   sdp_mline_index=c.get("sdp_mline_index", c.get("sdpMLineIndex")))
                      for c in data.get("candidates", [])]
        return SmallWebRTCPatchRequest(pc_id=str(data["pc_id"]), candidates=candidates)
    except (KeyError, AttributeError, TypeError):
        raise HTTPException(400, "Expected {'pc_id': str, 'candidates': [{candidate, sdp_mid, sdp_mline_index}]}")


def create_app(state: ServerState) -> FastAPI:
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
            "tts_worker_pids": live_worker_pids(),
            "tts_pool": _pool_status(state),
            "preload_s": {k: round(v, 2) for k, v in state.preloaded.timings.items()} if state.preloaded else {},
            "uptime_s": round(time.monotonic() - state.started_at, 1),
        }
        if state.preload_error:
            body["error"] = state.preload_error
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.post("/api/offer")
    async def offer(request: Request):
        connected_at = time.monotonic()
        if state.preloaded is None or not state.preloaded.ready:
            raise HTTPException(503, "The bot is still loading its models; retry shortly (see /health)")
        webrtc_request = _offer_from(await _read_json(request))
        preloaded = state.preloaded

        async def start_call(connection: SmallWebRTCConnection):
            task = asyncio.create_task(run_bot(connection, preloaded, connected_at), name=f"call-{connection.pc_id}")
            state.calls[connection.pc_id] = task
            task.add_done_callback(lambda _: state.calls.pop(connection.pc_id, None))

        try:
            answer = await state.webrtc.handle_web_request(webrtc_request, start_call)
        except HTTPException:
            raise
        except Exception as e:
            raise HTTPException(400, f"Could not accept the offer: {type(e).__name__}: {e}")
        logger.info(f"Call {answer['pc_id']}: answered offer in {time.monotonic() - connected_at:.2f}s")
        return answer

    @app.patch("/api/offer")
    async def ice_candidates(request: Request):
        await state.webrtc.handle_patch_request(_patch_from(await _read_json(request)))
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


def _pool_status(state: ServerState) -> dict | None:
    pool = state.preloaded.tts_pool if state.preloaded else None
    if pool is None:
        return None
    return {"size": pool.size, "idle": pool.idle_count, "in_calls": pool.lent_count}


async def _preload(state: ServerState) -> None:
    try:
        state.preloaded = await preload(state.settings, state.company)
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
    await state.webrtc.close()
    if state.preloaded and state.preloaded.tts_pool:
        await state.preloaded.tts_pool.close()
    await stop_all_workers()
    await asyncio.to_thread(forkserver.stop)
    await asyncio.to_thread(shutdown_llm)
    logger.info("Shutdown complete")
