"""Speculative prefill: the LLM reads the caller's words while they are still speaking.

On each partial transcript, the prompt the turn's request would send (system prompt,
the call so far, and the caller's words with the knowledge notes chosen from them) is
evaluated into the call's llama.cpp slot with ``max_tokens: 0``. When the caller stops,
only what changed since the last partial is left to evaluate: measured on our machine,
~75 ms for a cached prompt against 0.3-1.2 s for the words and notes of a turn.

Sits between the STT and the user aggregator (which consumes the partials). One prefill
runs at a time; partials that arrive meanwhile are merged into the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from loguru import logger
from pipecat.frames.frames import (
    EagerTranscriptionFrame,
    Frame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voicebot.front_desk.notes import KnowledgeNotes
from voicebot.llm.service import LlamaCppLLMService


class SpeculativePrefill(FrameProcessor):
    """Prefills the call's LLM slot with the prompt of the turn being spoken."""

    def __init__(self, llm: LlamaCppLLMService, context: LLMContext, notes: KnowledgeNotes,
                 should_prefill: Callable[[str], bool] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._llm = llm
        # Words the front desk will answer itself never reach the LLM: prefilling them only took
        # the cores from the Whisper passes (90 tokens in 6.5 s during a spoken booking).
        self._should_prefill = should_prefill or (lambda words: True)
        self._context = context
        self._notes = notes
        self._task: asyncio.Task | None = None
        self._pending_words: str | None = None
        self._answering = False  # a held reply is being written: the slot is busy with it
        self.prefills = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._answering = False
        elif isinstance(frame, EagerTranscriptionFrame):
            self._answering = True  # the held reply's request follows: no prefill in its way
            self._pending_words = None
        elif isinstance(frame, TranscriptionFrame):
            self._answering = True  # the turn's words are final: the request itself follows
            self._pending_words = None
        elif isinstance(frame, InterimTranscriptionFrame) and not self._answering and frame.text.strip():
            self._pending_words = frame.text.strip()
            if self._task is None or self._task.done():
                self._task = self.create_task(self._run(), name="llm-prefill")
        await self.push_frame(frame, direction)

    async def _run(self) -> None:
        while self._pending_words is not None and not self._answering:
            words, self._pending_words = self._pending_words, None
            if not await asyncio.to_thread(self._should_prefill, words):
                logger.debug(f"{self}: not prefilling a front-desk turn: [{words}]")
                continue
            text, _ = await asyncio.to_thread(self._notes.annotated, words)
            provisional = LLMContext(messages=[*self._context.messages, {"role": "user", "content": text}])
            timings = await self._llm.prefill(provisional)
            self.prefills += 1
            if timings is not None:
                logger.debug(f"{self}: prefilled [{words}]: {timings.prompt_n} tokens evaluated, "
                             f"{timings.cache_n} cached, {timings.prompt_ms:.0f} ms")

    async def cleanup(self):
        if self._task is not None and not self._task.done():
            await self.cancel_task(self._task)
        await super().cleanup()
