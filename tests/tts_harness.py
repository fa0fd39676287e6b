"""Runs a Pipecat TTS service inside a real pipeline and records what comes out of it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner


@dataclass
class Received:
    frame: Frame
    at: float


class Recorder(FrameProcessor):
    """Passes every frame on and remembers those going in one direction."""

    def __init__(self, direction: FrameDirection):
        super().__init__()
        self._direction = direction
        self.frames: list[Received] = []
        self.changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if direction == self._direction:
            self.frames.append(Received(frame, time.monotonic()))
            self.changed.set()
        await self.push_frame(frame, direction)


@dataclass
class TTSHarness:
    """``source (records errors going up) -> tts -> sink (records audio going down)``."""

    tts: FrameProcessor
    upstream: Recorder = field(default_factory=lambda: Recorder(FrameDirection.UPSTREAM))
    downstream: Recorder = field(default_factory=lambda: Recorder(FrameDirection.DOWNSTREAM))
    after: list[FrameProcessor] = field(default_factory=list)  # e.g. the assistant aggregator

    async def __aenter__(self) -> TTSHarness:
        pipeline = Pipeline([self.upstream, self.tts, self.downstream, *self.after])
        self.worker = PipelineWorker(pipeline, params=PipelineParams(enable_metrics=True),
                                     cancel_on_idle_timeout=False, enable_rtvi=False)
        started = asyncio.Event()

        @self.worker.event_handler("on_pipeline_started")
        async def _started(worker, frame):
            started.set()

        self._runner = WorkerRunner(handle_sigint=False)
        await self._runner.add_workers(self.worker)
        self._task = asyncio.create_task(self._runner.run())
        await asyncio.wait_for(started.wait(), 10)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.worker.cancel()
        await asyncio.wait_for(self._task, 30)

    async def speak(self, text: str) -> None:
        await self.worker.queue_frame(TTSSpeakFrame(text))

    async def queue(self, frame: Frame) -> None:
        await self.worker.queue_frame(frame)

    def audio(self, since: float = 0.0) -> list[Received]:
        return [r for r in self.downstream.frames if isinstance(r.frame, TTSAudioRawFrame) and r.at >= since]

    def errors(self, since: float = 0.0) -> list[Received]:
        return [r for r in self.upstream.frames + self.downstream.frames
                if isinstance(r.frame, ErrorFrame) and r.at >= since]

    async def wait_for(self, condition, timeout: float) -> None:
        """Wait until ``condition()`` is true, checking whenever a frame arrives."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("condition not met in time")
            self.downstream.changed.clear()
            self.upstream.changed.clear()
            waiters = [asyncio.ensure_future(self.downstream.changed.wait()),
                       asyncio.ensure_future(self.upstream.changed.wait())]
            await asyncio.wait(waiters, timeout=min(remaining, 0.5), return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
