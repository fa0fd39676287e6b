"""The front desk in a Pipecat pipeline, with Pipecat's own test runner: no models, no audio.

A completed caller turn arrives as an ``LLMContextFrame``: the desk's turns come out as an
assistant response (what the TTS speaks and the context records) and never reach the LLM;
the others go on to the LLM unchanged; the desk's pending question follows the LLM's answer.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from pipecat.frames.frames import (
    EndWorkerFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSSpeakFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import run_test

from helpers import demo_database
from voicebot.business import CompanyRepository
from voicebot.frames import DeskExpectsFrame, DeskFollowUpFrame
from voicebot.front_desk import FrontDesk
from voicebot.front_desk.processor import DeskFollowUp, FrontDeskProcessor

LUNCH = datetime(2026, 12, 2, 12, 30)


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    database = demo_database(tmp_path_factory.mktemp("pipeline") / "business.db")
    yield FrontDesk(database, CompanyRepository(database).get(2), clock=LUNCH)
    database.dispose()


def turn(*said: str) -> LLMContextFrame:
    messages = [{"role": "assistant", "content": "Hello, thanks for calling Tomodachi Sushi!"}]
    messages += [{"role": "user", "content": s} for s in said]
    return LLMContextFrame(context=LLMContext(messages=messages))


async def test_a_desk_turn_is_answered_by_the_desk_and_never_reaches_the_llm(desk):
    down, _ = await run_test(FrontDeskProcessor(desk.dialog()),
                             frames_to_send=[turn("What's the price of the dragon roll?")],
                             expected_down_frames=[LLMFullResponseStartFrame, LLMTextFrame, LLMFullResponseEndFrame])
    assert down[1].text == "The Dragon roll is $15."


async def test_a_question_for_the_llm_goes_on_unchanged(desk):
    frame = turn("How do I find you?")
    down, _ = await run_test(FrontDeskProcessor(desk.dialog()), frames_to_send=[frame],
                             expected_down_frames=[DeskFollowUpFrame, LLMContextFrame])
    assert down[0].text is None  # the desk has no question pending
    assert down[1] is frame


async def test_the_desk_asks_its_question_again_after_the_llms_answer(desk):
    front = FrontDeskProcessor(desk.dialog())
    pipeline = Pipeline([front, DeskFollowUp()])
    await run_test(pipeline, frames_to_send=[turn("A table for two on Friday at 7 pm, please.")])
    # The LLM answers the aside; the desk's question comes right after its last words.
    down, _ = await run_test(pipeline, frames_to_send=[
        turn("A table for two on Friday at 7 pm, please.", "What's your address again?"),
        LLMFullResponseStartFrame(), LLMTextFrame("We're at 48 Harbor Street."), LLMFullResponseEndFrame()])
    texts = [f.text for f in down if isinstance(f, LLMTextFrame)]
    assert texts == ["We're at 48 Harbor Street.", " Could I have your name for the booking?"]


async def test_the_desk_tells_the_speech_to_text_upstream_what_it_asked_for(desk):
    """Asked for a number, the caller's next words get Whisper's number prompt: the desk says so by a
    frame upstream (once per change), never by reaching into the speech-to-text service."""
    front = FrontDeskProcessor(desk.dialog())
    _, up = await run_test(front, frames_to_send=[turn("could we get a table for 3 on friday at 6:30, it's Ada Obi")],
                           expected_up_frames=[DeskExpectsFrame])
    assert up[0].slot == "phone"


async def test_goodbye_is_spoken_from_the_phrase_cache_and_ends_the_call(desk):
    down, _ = await run_test(FrontDeskProcessor(desk.dialog()), frames_to_send=[turn("That's all, thanks. Bye!")],
                             send_end_frame=False)
    assert [type(f) for f in down[:2]] == [TTSSpeakFrame, EndWorkerFrame]  # the worker then ends the pipeline
    assert down[0].text == "Thank you for calling Tomodachi Sushi. Goodbye!"
