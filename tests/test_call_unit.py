"""A whole call assembled by ``assemble_call`` and run by ``converse``, without models (fast tier).

The parts are the real ones (the front desk on a real database, its knowledge notes, the
user aggregator and its turn strategy, our Kokoro TTS service and phrase cache) except
where a model would take seconds: the caller's line is a loopback transport (frames in,
frames recorded out), speech to text is the transcripts the test sends, Smart Turn always
says "complete", the LLM is a stand-in that answers with fixed words and records what it
was asked, and the TTS worker is a stand-in that "synthesizes" 100 ms of tone per word.
The real models are in the slow tier (``test_call_e2e.py`` and friends).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pytest
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_transport import BaseTransport
from pipecat.utils.time import time_now_iso8601

from helpers import FixedVerdictTurnAnalyzer, demo_database, wait_until_async
from voicebot.bot import CallParts, assemble_call, run_assembled
from voicebot.business import CompanyRepository
from voicebot.business.prompt import NOTES_MARKER
from voicebot.front_desk import FrontDesk
from voicebot.timeline import CallTimeline
from voicebot.tts.phrases import PhraseCache
from voicebot.tts.service import KokoroIsolatedTTSService

LUNCH = datetime(2026, 12, 2, 12, 30)
RATE = 24000


class PassThrough(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class Recorder(PassThrough):
    """The caller's ear: every frame the bot sends out, with when it went."""

    def __init__(self):
        super().__init__()
        self.frames: list[tuple[float, Frame]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if direction is FrameDirection.DOWNSTREAM:
            self.frames.append((time.monotonic(), frame))
        await super().process_frame(frame, direction)

    def audio(self, since: float = 0.0) -> list[TTSAudioRawFrame]:
        return [f for t, f in self.frames if isinstance(f, TTSAudioRawFrame) and t >= since]


class LoopbackTransport(BaseTransport):
    """A caller's line for tests: the test puts frames in; what the bot sends out is recorded."""

    def __init__(self):
        super().__init__()
        self._input, self.ear = PassThrough(), Recorder()
        self._register_event_handler("on_client_connected")
        self._register_event_handler("on_client_disconnected")

    def input(self) -> FrameProcessor:
        return self._input

    def output(self) -> FrameProcessor:
        return self.ear

    async def connect(self) -> None:
        await self._call_event_handler("on_client_connected", "caller")


class AlwaysComplete(FixedVerdictTurnAnalyzer):
    """Smart Turn's verdict without the model: every pause ends the turn."""

    verdict = EndOfTurnState.COMPLETE


class StandInLLM(FrameProcessor):
    """Answers every turn it gets with fixed words, and keeps what it was asked."""

    def __init__(self, answer: str):
        super().__init__()
        self.answer = answer
        self.asked: list[list[dict]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            self.asked.append([dict(m) for m in frame.context.messages])
            await self.push_frame(LLMFullResponseStartFrame())
            for word in self.answer.split(" "):
                await self.push_frame(LLMTextFrame(word + " "))
            await self.push_frame(LLMFullResponseEndFrame())
            return
        await self.push_frame(frame, direction)


@dataclass
class StandInInfo:
    pid: int = 4242
    engine: str = "stand-in"
    voice: str = "af_heart"
    model: str = "none"
    sample_rate: int = RATE


@dataclass
class StandInPiece:
    pcm: bytes
    sample_rate: int
    text: str
    index: int


class StandInWorker:
    """A Kokoro worker's surface: 100 ms of tone per word, 50 ms to make each."""

    def __init__(self):
        self.info, self.pid, self.alive, self.spoken = StandInInfo(), 4242, True, []

    async def synthesize(self, text: str, *, voice=None, speed: float = 1.0, all_cores: bool = False):
        self.spoken.append(text)
        tone = (np.sin(np.arange(RATE // 10) * 0.1) * 8000).astype("<i2").tobytes()
        for index, word in enumerate(text.split()):
            await asyncio.sleep(0.05)
            yield StandInPiece(tone, RATE, word, index)

    async def stop(self, grace_s: float = 2.0) -> None:
        self.alive = False


@dataclass
class StandInPool:
    """Where the call's worker comes from and goes back to."""

    worker: StandInWorker
    lent: int = 0
    returned: int = 0

    async def take(self):
        self.lent += 1
        return self.worker

    async def give_back(self, worker):
        assert worker is self.worker
        self.returned += 1


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    database = demo_database(tmp_path_factory.mktemp("call") / "business.db")
    yield FrontDesk(database, CompanyRepository(database).get(2), clock=LUNCH)
    database.dispose()


@dataclass
class Line:
    """One assembled call, running."""

    parts: CallParts
    transport: LoopbackTransport
    llm: StandInLLM
    pool: StandInPool
    task: asyncio.Task
    worker: object = None
    front_desk: object = None

    async def say(self, text: str) -> float:
        """A caller's turn as the VAD and Whisper deliver it; returns when the caller stopped."""
        queue = self.worker.queue_frames
        await queue([VADUserStartedSpeakingFrame(), TranscriptionFrame(text, "caller", time_now_iso8601(),
                                                                       finalized=True)])
        stopped = time.monotonic()
        await queue([VADUserStoppedSpeakingFrame(stop_secs=0.2, timestamp=time.time())])
        return stopped


async def call_with(desk, tmp_path, answer: str = "We are at 48 Harbor Street, right by the pier.",
                    vad=None) -> Line:
    company = desk.company
    phrases = PhraseCache(engine="stand-in", model=None, voice="af_heart", directory=tmp_path)
    pool = StandInPool(StandInWorker())
    await phrases.load([company.greeting], worker=pool.worker)
    pool.worker.spoken.clear()
    transport, llm = LoopbackTransport(), StandInLLM(answer)
    tts = KokoroIsolatedTTSService(engine="onnx", sample_rate=RATE, worker_source=pool.take,
                                   worker_sink=pool.give_back, phrases=phrases)
    from pipecat.frames.frames import TTSSpeakFrame

    parts = CallParts(transport=transport, stt=PassThrough(), desk=desk, llm=llm, tts=tts, vad=vad,
                      turn_analyzer=AlwaysComplete(), timeline=CallTimeline("test-call"),
                      opening=lambda context: TTSSpeakFrame(company.greeting))
    call = assemble_call(parts)
    started = asyncio.Event()

    @call.worker.event_handler("on_pipeline_started")
    async def on_pipeline_started(worker, frame):
        started.set()

    task = asyncio.create_task(run_assembled("test-call", call, parts))
    line = Line(parts=parts, transport=transport, llm=llm, pool=pool, task=task, worker=call.worker,
                front_desk=call.front_desk)
    await asyncio.wait_for(started.wait(), 10)
    await transport.connect()  # the caller is connected: the greeting goes
    # ... and is heard whole (it is in the conversation) before the caller speaks.
    await wait_until_async(lambda: any(m.get("role") == "assistant" for m in call.context.get_messages()),
                           timeout=10)
    return line


async def hang_up(line: Line) -> None:
    await line.worker.cancel()
    await asyncio.wait_for(line.task, 10)


async def test_the_greeting_is_spoken_first_from_the_phrase_cache(desk, tmp_path):
    line = await call_with(desk, tmp_path)
    try:
        await wait_until_async(lambda: line.transport.ear.audio(), timeout=5)
        first = next(f for _, f in line.transport.ear.frames if isinstance(f, (TTSAudioRawFrame, LLMTextFrame)))
        assert isinstance(first, TTSAudioRawFrame)
        assert line.pool.worker.spoken == []  # played from the cache: no synthesis at all
    finally:
        await hang_up(line)


async def test_a_question_reaches_the_llm_with_its_notes_and_is_spoken(desk, tmp_path):
    line = await call_with(desk, tmp_path)
    try:
        stopped = await line.say("What kind of food is on your menu?")
        await wait_until_async(lambda: line.pool.worker.spoken, timeout=10)
        [asked] = line.llm.asked
        question = asked[-1]["content"]
        assert asked[-1]["role"] == "user" and question.endswith("What kind of food is on your menu?")
        assert NOTES_MARKER in question and "roll" in question.lower()  # the menu, as this turn's notes
        await wait_until_async(lambda: line.transport.ear.audio(since=stopped), timeout=10)
        assert "Harbor" in " ".join(line.pool.worker.spoken)
    finally:
        await hang_up(line)


async def test_the_caller_talking_over_the_bot_cancels_its_speech(desk, tmp_path):
    long_answer = " ".join(["Our menu has rolls, nigiri, tempura, soups and desserts."] * 6)
    line = await call_with(desk, tmp_path, answer=long_answer)
    try:
        await line.say("What do you serve?")
        await wait_until_async(lambda: len(line.pool.worker.spoken) >= 1 and line.transport.ear.audio(), timeout=10)
        await line.worker.queue_frames([VADUserStartedSpeakingFrame()])  # the caller talks over it
        await wait_until_async(lambda: any(isinstance(f, InterruptionFrame) for _, f in line.transport.ear.frames),
                               timeout=5)
        interrupted = max(t for t, f in line.transport.ear.frames if isinstance(f, InterruptionFrame))
        spoken_before = len(line.pool.worker.spoken)
        await asyncio.sleep(1.0)  # a window in which no more audio may come (the check is that nothing happens)
        late = [f for f in line.transport.ear.audio(since=interrupted + 0.1)]
        assert late == [] and len(line.pool.worker.spoken) == spoken_before < 6
    finally:
        await hang_up(line)


async def test_goodbye_ends_the_call_and_the_worker_goes_back_to_the_pool(desk, tmp_path):
    line = await call_with(desk, tmp_path)
    stopped = await line.say("What do you serve?")
    # A caller says goodbye after the answer: wait for it (the worker is lent at connect, not
    # at the answer; on a busy machine "Bye!" once arrived before the question was answered).
    await wait_until_async(lambda: "Harbor" in " ".join(line.pool.worker.spoken)
                           and line.transport.ear.audio(since=stopped), timeout=10)
    # ... and until its last word is out (the stand-in worker speaks a word per piece).
    await wait_until_async(lambda: sum(isinstance(f, TTSAudioRawFrame) for _, f in line.transport.ear.frames
                                       if _ > stopped) >= len(line.llm.answer.split()), timeout=10)
    await line.say("No, that's all, thanks. Bye!")
    await asyncio.wait_for(line.task, 15)  # the desk said goodbye and ended the call by itself
    assert any("Goodbye" in text for text in line.pool.worker.spoken), line.pool.worker.spoken
    assert line.pool.lent == 1 and line.pool.returned == 1 and line.pool.worker.alive


async def test_a_number_in_doubt_is_taken_from_the_turn_heard_again(desk, tmp_path):
    """Said in one breath with the booking, the number came out in pieces ("… two one seven. 555.
    11919."); the desk has the turn heard again (here the speech to text's answer is given) and
    reads back the number it heard there."""
    line = await call_with(desk, tmp_path)
    asked: list[bool] = []

    async def heard_again() -> str:
        asked.append(True)
        return "A table for two on Friday at 7 pm for John Smith, my number is 503-555-2937."
    line.front_desk.hear_turn_again = heard_again
    try:
        await line.say("A table for two this Friday at 7 pm for John Smith, my number is five oh three. 55. 2937.")
        await wait_until_async(lambda: "?" in " ".join(line.pool.worker.spoken), timeout=10)
        spoken = " ".join(line.pool.worker.spoken)
        assert asked and "five oh three, five five five, two nine three seven" in spoken, spoken
        asked.clear()
        before = len(line.pool.worker.spoken)
        await line.say("Yes.")
        await wait_until_async(lambda: len(line.pool.worker.spoken) > before, timeout=10)
        assert not asked  # no number in doubt: not heard again
    finally:
        await hang_up(line)


class NeverSure(FixedVerdictTurnAnalyzer):
    """Smart Turn unsure: every pause sounds unfinished (until its own 3 s silence timeout)."""

    verdict = EndOfTurnState.INCOMPLETE


async def test_an_answer_the_desk_was_waiting_for_ends_the_turn_though_smart_turn_is_unsure(desk, tmp_path):
    line = await call_with(desk, tmp_path)
    line.parts.turn_analyzer.__class__ = NeverSure  # from here on, Smart Turn never says "complete"
    try:
        await line.say("A table for two this Friday at 7 pm, for John Smith.")
        await wait_until_async(lambda: line.pool.worker.spoken, timeout=10)  # "... phone number ...?"
        asked = len(line.pool.worker.spoken)
        assert "phone number" in " ".join(line.pool.worker.spoken)
        stopped = await line.say("Six one seven, five five five, two four zero nine.")
        await wait_until_async(lambda: len(line.pool.worker.spoken) > asked, timeout=10)
        assert "Let me read that back" in " ".join(line.pool.worker.spoken[asked:])
        await wait_until_async(lambda: line.transport.ear.audio(since=stopped), timeout=10)
        answered = min(t for t, f in line.transport.ear.frames if isinstance(f, TTSAudioRawFrame) and t > stopped)
        assert answered - stopped < 2.0  # not Smart Turn's 3 s of doubt
        # A turn that is no answer to the question still waits for Smart Turn.
        asked = len(line.pool.worker.spoken)
        await line.say("Hmm, let me think")
        await asyncio.sleep(2.0)  # a window in which the bot must stay silent (Smart Turn is unsure)
        assert len(line.pool.worker.spoken) == asked
    finally:
        await hang_up(line)


async def test_the_vad_waits_for_a_longer_pause_while_a_phone_number_is_said(desk, tmp_path):
    """Asked for a number, the VAD ends speech only after NUMBER_STOP_S of silence (the number's
    groups stay one utterance, heard whole); once the number is in, the usual pause again."""
    from pipecat.audio.vad.silero import SileroVADAnalyzer

    from voicebot.listening.pauses import NUMBER_STOP_S
    from voicebot.preload import VAD_PARAMS

    vad = SileroVADAnalyzer(params=VAD_PARAMS)
    line = await call_with(desk, tmp_path, vad=vad)
    try:
        assert vad.params.stop_secs == VAD_PARAMS.stop_secs
        await line.say("A table for two this Friday at 7 pm, for John Smith.")
        await wait_until_async(lambda: line.pool.worker.spoken, timeout=10)
        assert "phone number" in " ".join(line.pool.worker.spoken)
        await wait_until_async(lambda: vad.params.stop_secs == NUMBER_STOP_S, timeout=5)
        await line.say("Six one seven, five five five, two four zero nine.")
        await wait_until_async(lambda: vad.params.stop_secs == VAD_PARAMS.stop_secs, timeout=5)
    finally:
        await hang_up(line)
