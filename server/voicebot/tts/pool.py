"""Warm Kokoro workers kept ready before any call arrives.

Beyond the seed's on-connect warm-up: the server warms one worker at start-up, hands it
to the next call, and warms a replacement in the background once that call is under way. A
call that arrives before the replacement is ready simply waits for it (or, with a
spare in flight, gets whichever finishes first).
"""

from __future__ import annotations

import asyncio

from loguru import logger

from voicebot.tts.voices import resolve_model_location
from voicebot.tts.worker_client import KokoroWorkerProcess


class WarmWorkerPool:
    """Keeps ``size`` started-and-warm workers; ``take()`` hands one over and refills."""

    def __init__(self, *, engine: str, model: str | None, voice: str | None, size: int = 1,
                 init_timeout_s: float = 120.0, request_timeout_s: float = 30.0, refill_delay_s: float = 6.0):
        self._engine = engine
        self._model = model
        self._voice = voice
        self._size = size
        self._init_timeout_s = init_timeout_s
        self._request_timeout_s = request_timeout_s
        self._warming: set[asyncio.Task] = set()
        self._ready: asyncio.Queue[KokoroWorkerProcess] = asyncio.Queue()
        self._closed = False
        self._refill_delay_s = refill_delay_s
        self._refill_handle: asyncio.TimerHandle | None = None

    async def _warm_one(self) -> None:
        location = await asyncio.to_thread(resolve_model_location, self._model)
        # A fresh interpreter, not a fork: its start-up is off the critical path anyway,
        # and a forked worker's first sentences were measurably slower.
        worker = KokoroWorkerProcess(engine=self._engine, model=location, voice=self._voice,
                                     init_timeout_s=self._init_timeout_s,
                                     request_timeout_s=self._request_timeout_s, fork=False)
        try:
            await worker.start()
        except Exception as e:
            logger.error(f"TTS worker pool: warming a worker failed: {e}")
            return
        if self._closed:
            await worker.stop()
            return
        await self._ready.put(worker)
        logger.debug(f"TTS worker pool: worker pid={worker.pid} warm ({self._ready.qsize()} ready)")

    def _refill(self) -> None:
        missing = self._size - self._ready.qsize() - len(self._warming)
        for _ in range(max(missing, 0)):
            task = asyncio.create_task(self._warm_one(), name="tts-pool-warm")
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)

    async def start(self) -> None:
        """Warm the first worker(s) and wait for them (server start-up)."""
        self._refill()
        await asyncio.gather(*self._warming)
        if self._ready.empty():
            raise RuntimeError("TTS worker pool could not warm a single worker")

    async def take(self) -> KokoroWorkerProcess:
        """A warm worker for a new call; its replacement starts warming a little later.

        Loading a worker takes seconds of CPU; on a small machine that would slow the very
        call being answered (its LLM and first sentence), so the refill waits
        ``refill_delay_s`` unless the pool is empty.
        """
        while True:
            if self._ready.empty() and not self._warming:
                self._refill()
            worker = await self._ready.get()
            self._schedule_refill()
            if worker.alive:
                return worker
            await worker.stop(grace_s=0)

    def _schedule_refill(self) -> None:
        if self._refill_handle is None or self._refill_handle.cancelled():
            def refill() -> None:
                self._refill_handle = None
                if not self._closed:
                    self._refill()
            self._refill_handle = asyncio.get_running_loop().call_later(self._refill_delay_s, refill)

    async def close(self) -> None:
        self._closed = True
        if self._refill_handle is not None:
            self._refill_handle.cancel()
        for task in list(self._warming):
            task.cancel()
        await asyncio.gather(*self._warming, return_exceptions=True)
        while not self._ready.empty():
            await self._ready.get_nowait().stop()
