"""``GET /health``: whether the server takes calls, what it runs, and how busy it is.

It answers from the first second of start-up (``"ready": false`` with a 503 until the models
are loaded, then 200), so load balancers and the tests can wait on it.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from voicebot.runtime import Runtime, current_runtime


def health_router() -> APIRouter:
    router = APIRouter()

    @router.get("/health")
    async def health(runtime: Runtime = Depends(current_runtime)):
        """Start-up progress, engines, capacity, calls, TTS workers, cached phrases and the LLM's process."""
        preloaded, ready = runtime.preloaded, runtime.ready
        body = {
            "status": "ready" if ready else ("failed" if runtime.preload_error else "starting"),
            "ready": ready,
            "company": {"id": runtime.company.id, "name": runtime.company.name},
            "engines": preloaded.engines() if preloaded else None,
            "tts_warmup": runtime.settings.tts.warmup.value,
            "active_calls": len(runtime.calls),
            "admission": runtime.admission.status(),
            "tts_worker_pids": preloaded.workers.pids() if preloaded else [],
            "llm_process": _llm_status(runtime),
            "tts_pool": _pool_status(runtime),
            "phrases": _phrases_status(runtime),
            "preload_s": {k: round(v, 2) for k, v in preloaded.timings.items()} if preloaded else {},
            "uptime_s": round(time.monotonic() - runtime.started_at, 1),
        }
        if runtime.preload_error:
            body["error"] = runtime.preload_error
        return JSONResponse(body, status_code=200 if ready else 503)

    return router


def _llm_status(runtime: Runtime) -> dict | None:
    """The embedded model's process: its pid, whether it answers, how often it was restarted."""
    process = runtime.preloaded.llm_process if runtime.preloaded else None
    if process is None:
        return None
    return {"pid": process.pid, "running": process.running, "restarts": process.restarts}


def _pool_status(runtime: Runtime) -> dict | None:
    pool = runtime.preloaded.tts_pool if runtime.preloaded else None
    if pool is None:
        return None
    return {"size": pool.size, "idle": pool.idle_count, "in_calls": pool.lent_count}


def _phrases_status(runtime: Runtime) -> dict | None:
    """Sentences played from the phrase cache, and whether start-up is still synthesizing some
    (in the background, between calls: benchmarks wait for it)."""
    preloaded = runtime.preloaded
    if preloaded is None or preloaded.phrases is None:
        return None
    background = preloaded.background
    return {"cached": len(preloaded.phrases), "loading": background is not None and not background.done()}
