"""The web app over a :class:`~voicebot.runtime.Runtime`, one router per concern:

    /health                  start-up progress and load        (voicebot.health)
    /api/offer               browser calls' signalling         (voicebot.offers)
    /twilio/*                phone calls                       (voicebot.phone)
    /owner, /api/owner/*     the owner's pages and data        (voicebot.owner.web)
    /                        the browser client (client/dist)

The server answers from the moment it starts; the runtime loads the models in the
background and ``/health`` reports progress, while offers get a 503 until the bot is ready.
Routes reach the runtime through ``Depends(current_runtime)``.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger

from voicebot.health import health_router
from voicebot.offers import offers_router
from voicebot.owner.access import OwnerAccess
from voicebot.owner.web import owner_router
from voicebot.peers import TrustedProxies, client_address
from voicebot.phone.routes import phone_router
from voicebot.runtime import Runtime
from voicebot.signalling import BadSignalling


def create_app(runtime: Runtime) -> FastAPI:
    """The FastAPI app over ``runtime``: it starts the runtime (models load in the background)
    and shuts it down (calls, workers, the LLM) with the server."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        start = asyncio.create_task(runtime.start(), name="preload")
        try:
            yield
        finally:
            start.cancel()
            await runtime.shutdown()

    app = FastAPI(title="voicebot", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.trusted_proxies = TrustedProxies.parse(runtime.settings.trusted_proxies)
    runtime.owner = runtime.owner or OwnerAccess.for_server(runtime.settings, runtime.database)

    app.include_router(health_router())
    app.include_router(offers_router())
    app.include_router(phone_router())
    app.include_router(owner_router())

    @app.exception_handler(BadSignalling)
    async def bad_signalling(request: Request, e: BadSignalling):
        headers = {"Retry-After": str(runtime.admission.retry_after_s)} if e.status in (429, 503) else None
        logger.info(f"{request.method} {request.url.path} from {client_address(request)}: {e.status} {e}")
        return JSONResponse({"detail": str(e)}, status_code=e.status, headers=headers)

    client_dir = runtime.settings.client_dir
    if client_dir and (client_dir / "index.html").exists():
        app.mount("/", StaticFiles(directory=client_dir, html=True), name="client")
    else:
        @app.get("/", response_class=HTMLResponse)
        async def client_missing():
            return (f"<h1>voicebot</h1><p>The browser client is not built ({client_dir}). "
                    "Run <code>npm ci && npm run build</code> in <code>client/</code>.</p>")

    return app
