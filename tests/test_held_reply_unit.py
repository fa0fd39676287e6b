"""The held reply (``HeldReplyTurnStopStrategy``) driven frame by frame, without models (fast tier).

Smart Turn's verdict is given by calling ``trigger_user_turn_stopped`` where Pipecat would;
what is checked is which events the strategy fires: an answer started ahead of the turn's
end (``on_user_turn_inference_triggered`` with a speculation), withdrawn
(``on_user_turn_speculation_cancelled``), or kept (``on_user_turn_stopped`` confirming it).
"""

from __future__ import annotations

import asyncio

from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    EagerTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.utils.asyncio.task_manager import TaskManager
from pipecat.utils.time import time_now_iso8601

from helpers import FixedVerdictTurnAnalyzer
from voicebot.listening.turns import HeldReplyTurnStopStrategy


class Undecided(FixedVerdictTurnAnalyzer):
    """Smart Turn without the model: the test says when the turn is over."""

    verdict = EndOfTurnState.INCOMPLETE


def the_desks(text: str) -> bool:
    """Whether the LLM may answer ahead: not a booking (the desk's own business)."""
    return "book" not in text.lower()


async def started_strategy() -> tuple[HeldReplyTurnStopStrategy, list[tuple]]:
    strategy = HeldReplyTurnStopStrategy(turn_analyzer=Undecided(), should_speculate=the_desks)
    await strategy.setup(FrameProcessorSetup(clock=SystemClock(), task_manager=TaskManager(),
                                             pipeline_worker=None))  # type: ignore[arg-type]
    events: list[tuple] = []

    async def inference(_, speculation):
        events.append(("answer ahead", speculation.text) if speculation else ("answer",))

    async def cancelled(_):
        events.append(("withdrawn",))

    async def stopped(_, params):
        events.append(("turn over", "kept" if params.confirms_speculation else "answered again"))
    strategy.add_event_handler("on_user_turn_inference_triggered", inference)
    strategy.add_event_handler("on_user_turn_speculation_cancelled", cancelled)
    strategy.add_event_handler("on_user_turn_stopped", stopped)
    await strategy.handle_user_turn_started()
    return strategy, events


def heard(text: str, finalized: bool = True) -> TranscriptionFrame:
    return TranscriptionFrame(text, "caller", time_now_iso8601(), finalized=finalized)


def pause(text: str) -> EagerTranscriptionFrame:
    return EagerTranscriptionFrame(text, "caller", time_now_iso8601())


async def utterance(strategy: HeldReplyTurnStopStrategy, pause_text: str | None = None) -> None:
    """The VAD's start and stop around one utterance, and the pause transcript between them."""
    await strategy.process_frame(VADUserStartedSpeakingFrame())
    if pause_text is not None:
        await strategy.process_frame(pause(pause_text))
    await strategy.process_frame(VADUserStoppedSpeakingFrame())


async def test_a_held_reply_the_final_transcript_matches_is_kept():
    strategy, events = await started_strategy()
    await utterance(strategy, "What are your hours today?")
    await strategy.process_frame(heard("What are your hours today?"))
    await strategy.trigger_user_turn_stopped()
    assert events == [("answer ahead", "What are your hours today?"), ("turn over", "kept")]
    await strategy.cleanup()


async def test_a_held_reply_to_the_turns_last_words_is_dropped_when_the_turn_said_more():
    """bench/calls.py, 2026-12-07: "Hi, I'd like to book a table," … "please." The first
    utterance needed a final pass, so the pause transcript of "please." came first and was
    answered ahead; the turn's last transcript was "please." as well, so the reply was kept,
    and the booking never reached the desk. The whole turn is what a held reply must match."""
    strategy, events = await started_strategy()
    await utterance(strategy)  # "Hey, could I reserve a table," (its final pass still running)
    await utterance(strategy, "please.")
    await strategy.process_frame(heard("Hey, could I reserve a table.", finalized=False))
    await strategy.process_frame(heard("please."))
    await strategy.trigger_user_turn_stopped()
    assert events == [("answer ahead", "please."), ("withdrawn",), ("answer",), ("turn over", "answered again")]
    await strategy.cleanup()


async def test_a_pause_is_answered_ahead_with_the_whole_turn_so_far():
    strategy, events = await started_strategy()
    await utterance(strategy)
    await strategy.process_frame(heard("Hi there.", finalized=False))
    await utterance(strategy, "Do you have parking?")
    assert events == [("answer ahead", "Hi there. Do you have parking?")]
    await strategy.process_frame(heard("Do you have parking?"))
    await strategy.trigger_user_turn_stopped()
    assert events[-1] == ("turn over", "kept")
    await strategy.handle_user_turn_stopped()  # the next turn starts afresh
    await strategy.handle_user_turn_started()
    await utterance(strategy, "I'd like to book a table.")  # the desk's: not answered ahead
    assert len(events) == 2
    await strategy.cleanup()
    await asyncio.sleep(0)
