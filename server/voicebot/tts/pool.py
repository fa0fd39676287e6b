"""Warm Kokoro workers, lent to calls and taken back when they end.

Beyond the seed's on-connect warm-up: the server warms ``size`` workers at start-up and
lends one to each new call; when the call ends the worker comes back, warm, for the next
caller. A worker holds no per-call state (model and voice are the server's), so nothing
is reloaded between calls. Loading a worker takes seconds of CPU, so the pool never
loads one in the background while calls are running (on a 2-core machine that slowed
the very calls it was meant to serve): only a caller who finds every worker lent out
waits for one to start.
"""

from __future__ import annotations

import asyncio
from collections import deque

from loguru import logger

from voicebot.tts.voices import resolve_model_location
from voicebot.tts.worker_client import KokoroWorkerProcess, WorkerRegistry


class WarmWorkerPool:
    """Keeps up to ``size`` idle warm workers; ``take()`` lends one, ``give_back()`` returns it."""

    def __init__(self, *, engine: str, model: str | None, voice: str | None, size: int = 2,
                 init_timeout_s: float = 120.0, request_timeout_s: float = 30.0,
                 registry: WorkerRegistry | None = None):
        self._engine = engine
        self._registry = registry
        self._model = model
        self._voice = voice
        self.size = size
        self._init_timeout_s = init_timeout_s
        self._request_timeout_s = request_timeout_s
        self._idle: deque[KokoroWorkerProcess] = deque()
        self._lent = 0
        self._closed = False

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    @property
    def lent_count(self) -> int:
        return self._lent

    async def _new_worker(self, fork: bool) -> KokoroWorkerProcess:
        location = await asyncio.to_thread(resolve_model_location, self._model)
        worker = KokoroWorkerProcess(engine=self._engine, model=location, voice=self._voice,
                                     init_timeout_s=self._init_timeout_s,
                                     request_timeout_s=self._request_timeout_s, fork=fork,
                                     registry=self._registry)
        await worker.start()
        return worker

    async def start(self) -> None:
        """Warm ``size`` workers (server start-up) and wait for them.

        Fresh interpreters, not forks: start-up is off any call's critical path, and a
        forked worker's first sentences were measurably slower.
        """
        results = await asyncio.gather(*(self._new_worker(fork=False) for _ in range(self.size)),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                logger.error(f"TTS worker pool: warming a worker failed: {result}")
            else:
                self._idle.append(result)
        if not self._idle:
            raise RuntimeError("TTS worker pool could not warm a single worker")

    async def take(self) -> KokoroWorkerProcess:
        """A warm worker for a new call; if all are lent out, one is started for it (~1-2.5 s)."""
        while self._idle:
            worker = self._idle.popleft()
            if worker.alive:
                self._lent += 1
                return worker
            await worker.stop(grace_s=0)
        logger.info(f"TTS worker pool: all {self._lent} warm worker(s) are in calls; starting one for this call")
        worker = await self._new_worker(fork=True)
        self._lent += 1
        return worker

    async def give_back(self, worker: KokoroWorkerProcess) -> None:
        """A call is done with ``worker``: keep it warm for the next caller, or stop it."""
        self._lent = max(0, self._lent - 1)
        if not self._closed and worker.alive and len(self._idle) < self.size:
            self._idle.append(worker)
            logger.debug(f"TTS worker pool: worker pid={worker.pid} back ({len(self._idle)} idle)")
        else:
            await worker.stop()

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            await self._idle.popleft().stop()
