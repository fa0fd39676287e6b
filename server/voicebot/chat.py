"""``voicebot chat``: a text conversation with the real bot, no audio.

The caller's lines go, one turn each, through the processors a call runs after speech to
text: the front desk, the knowledge notes, the LLM (unless ``--no-llm``) and the desk's
follow-up question. This is how an owner tries their bot (as ``rasa shell`` or LiveKit's
console mode do) and how tests and benchmarks exercise understanding at scale: hundreds of
phrasings in seconds, with the database as the truth.

With ``--json`` each line gets exactly one JSON object on one stdout line, flushed::

    {"bot": "...", "by": "desk" | "llm" | "none", "rows": [...]}

``rows``: the bookings, orders and messages this turn stored or changed, as
:func:`voicebot.business.ledger.call_rows` writes them. Logs go to stderr; EOF ends the call.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, TextIO

from loguru import logger
from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSSpeakFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from voicebot.business import ledger
from voicebot.business.database import Company, Database
from voicebot.business.prompt import system_prompt
from voicebot.config import LLMConfig
from voicebot.front_desk import FrontDesk
from voicebot.front_desk.notes import KnowledgeNotes
from voicebot.front_desk.processor import DeskFollowUp, FrontDeskProcessor, LLMReplyGuard
from voicebot.llm import create_llm_service
from voicebot.llm.factory import create_second_reader, start_llm
from voicebot.llm.process import LlamaProcess

# How long one turn may take before the chat gives up on it (the embedded LLM on a busy machine).
TURN_TIMEOUT_S = 120.0


@dataclass
class ChatTurn:
    """The bot's answer to one line: what it said, who said it, and the rows it stored or changed."""

    bot: str = ""
    by: str = "none"  # "desk" | "llm" | "none"
    rows: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False  # the bot ended the call (goodbye, put through to a person)

    def as_json(self) -> str:
        return json.dumps({"bot": self.bot, "by": self.by, "rows": self.rows}, ensure_ascii=False)


class NoLLM(FrameProcessor):
    """Stands where the LLM would (``--no-llm``): a turn the desk does not take gets an empty answer."""

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction is FrameDirection.DOWNSTREAM:
            await self.push_frame(LLMFullResponseStartFrame())
            await self.push_frame(LLMFullResponseEndFrame())
            return
        await self.push_frame(frame, direction)


class ChatTranscript(FrameProcessor):
    """The caller's ear in a text chat: collects each answer and records it in the conversation,
    as the assistant aggregator does in a call."""

    def __init__(self, context: LLMContext, **kwargs):
        super().__init__(**kwargs)
        self._context = context
        self._words: list[str] = []
        self.answered = asyncio.Event()
        self.ended = False

    def take(self) -> str:
        text, self._words = " ".join("".join(self._words).split()), []
        self.answered.clear()
        return text

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, LLMTextFrame):
                self._words.append(frame.text)
            elif isinstance(frame, TTSSpeakFrame):
                self._words.append(f" {frame.text}")
            elif isinstance(frame, LLMFullResponseEndFrame):
                self._answered()
            elif isinstance(frame, EndWorkerFrame):
                self.ended = True
                self._answered()
        await self.push_frame(frame, direction)

    def _answered(self) -> None:
        text = " ".join("".join(self._words).split())
        if text:
            self._context.add_message({"role": "assistant", "content": text})
        self.answered.set()


class TextChat:
    """One call with the bot in text: the desk, the notes and the LLM as in a call, no audio."""

    def __init__(self, database: Database, company: Company, clock: datetime | time | None = None,
                 llm: LLMConfig | None = None, llm_process: LlamaProcess | None = None):
        self.database = database
        self.company = company
        desk = FrontDesk(database, company, clock=clock)
        self.context = LLMContext()
        self.context.add_message({"role": "assistant", "content": company.greeting})
        second_reader = create_second_reader(llm, llm_process) if llm is not None else None
        self.front_desk = FrontDeskProcessor(desk.dialog(second_reader=second_reader), hold_replies=False)
        self._desk_spoke = False

        @self.front_desk.event_handler("on_desk_reply")
        async def on_desk_reply(processor, reply):
            self._desk_spoke = True

        if llm is None:
            answerer: FrameProcessor = NoLLM()
            self._by_llm = "none"
        else:
            answerer = create_llm_service(llm, system_prompt(company, desk.clock(), llm.short_opener),
                                          process=llm_process, slot=0)
            self._by_llm = "llm"
        self.transcript = ChatTranscript(self.context)
        pipeline = Pipeline([self.front_desk, KnowledgeNotes(desk.knowledge, desk.clock, company), answerer,
                             LLMReplyGuard(self.front_desk.dialog), DeskFollowUp(), self.transcript])
        self._worker = PipelineWorker(pipeline, params=PipelineParams(), idle_timeout_secs=None, enable_rtvi=False)
        self._runner = WorkerRunner(handle_sigint=False)
        self._running: asyncio.Task | None = None

    @property
    def greeting(self) -> str:
        return self.company.greeting

    def second_reader_turns(self) -> int:
        """How many of this call's turns the desk's second reader (the LLM under a schema) read."""
        return getattr(self.front_desk.dialog, "second_reader_turns", 0)

    async def start(self) -> None:
        await self._runner.add_workers(self._worker)
        self._running = asyncio.create_task(self._runner.run(), name="chat-pipeline")

    async def say(self, line: str) -> ChatTurn:
        """The caller says ``line``; the bot's whole answer to it."""
        if self.transcript.ended:
            return ChatTurn(ended=True)
        before = await asyncio.to_thread(ledger.call_rows, self.database, self.company.id)
        self._desk_spoke = False
        self.context.add_message({"role": "user", "content": line})
        await self._worker.queue_frame(LLMContextFrame(self.context))
        try:
            await asyncio.wait_for(self.transcript.answered.wait(), TURN_TIMEOUT_S)
        except TimeoutError:
            logger.warning(f"Chat: no answer within {TURN_TIMEOUT_S:.0f}s; the turn gets none")
        text = self.transcript.take()
        after = await asyncio.to_thread(ledger.call_rows, self.database, self.company.id)
        by = "desk" if self._desk_spoke else (self._by_llm if text else "none")
        if by == "none":
            text = ""  # --no-llm: a turn the desk does not take has no answer (its follow-up needs the LLM's)
        return ChatTurn(bot=text, by=by, rows=ledger.changed_rows(before, after), ended=self.transcript.ended)

    async def close(self) -> None:
        if self._running is None:
            return
        if not self._running.done():
            await self._worker.cancel()
        try:
            await asyncio.wait_for(self._running, 10)
        except (TimeoutError, asyncio.CancelledError):
            pass


async def chat(database: Database, company: Company, clock: datetime | time | None, as_json: bool,
               use_llm: bool, lines: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    """Read the caller's lines until EOF (or the bot ends the call); answer each on ``out``."""
    settings = LLMConfig.from_env() if use_llm else None
    process = await asyncio.to_thread(start_llm, settings) if settings is not None else None
    session = TextChat(database, company, clock, llm=settings, llm_process=process)
    try:
        await session.start()
        if not as_json:
            print(f"bot: {session.greeting}", file=out, flush=True)
        while True:
            line = await asyncio.to_thread(lines.readline)
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            turn = await session.say(line)
            if as_json:
                print(turn.as_json(), file=out, flush=True)
            else:
                print(f"bot ({turn.by}): {turn.bot}", file=out, flush=True)
                for row in turn.rows:
                    print(f"     stored: {json.dumps(row, ensure_ascii=False)}", file=out, flush=True)
            if turn.ended:
                break
    finally:
        await session.close()
        if process is not None:
            await asyncio.to_thread(process.stop)
    logger.debug("Chat ended")
    return 0
