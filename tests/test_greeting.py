"""The cached greeting: synthesized once per text, played without a worker, kept as the
assistant's first turn in the LLM context."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.frames.frames import BotStartedSpeakingFrame, BotStoppedSpeakingFrame, TTSSpeakFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

from speech import missed_word_rate, pcm16_to_float, transcribe
from tts_harness import TTSHarness
from voicebot.tts.phrases import PhraseCache
from voicebot.tts.service import KokoroIsolatedTTSService

pytestmark = pytest.mark.slow

FIRST = "Hello, thanks for calling Tomodachi Sushi! How can I help you today?"
CHANGED = "Good evening, you have reached the harbor kitchen. What would you like?"


def cache(directory) -> PhraseCache:
    return PhraseCache(engine="onnx", model=None, voice="af_heart", directory=directory)


async def test_phrase_is_synthesized_once_per_text_and_heard(tmp_path):
    """A new greeting text is synthesized anew (a changed greeting in the database is heard on
    the next start); the same text comes back from disk, identical."""
    first = cache(tmp_path)
    assert await first.load([FIRST]) == {FIRST: "synthesized"}
    again = cache(tmp_path)
    assert await again.load([FIRST]) == {FIRST: "disk"}
    assert again.get(FIRST) == first.get(FIRST)

    changed = cache(tmp_path)
    assert await changed.load([CHANGED]) == {CHANGED: "synthesized"}
    heard = transcribe(pcm16_to_float(changed.get(CHANGED)), 24000)
    assert missed_word_rate(CHANGED, heard) <= 0.2, heard
    assert changed.get(FIRST) is None
    # A different voice is a different recording, never the cached one.
    other_voice = PhraseCache(engine="onnx", model=None, voice="am_michael", directory=tmp_path)
    assert await other_voice.load([CHANGED]) == {CHANGED: "synthesized"}


async def test_cached_greeting_plays_at_once_and_enters_the_context(tmp_path):
    """The service plays the cached phrase without a worker, and the assistant aggregator
    records it as the bot's first turn, so the LLM does not greet the caller again."""
    phrases = cache(tmp_path)
    await phrases.load([FIRST])

    async def no_worker():
        raise AssertionError("a cached phrase must not need a TTS worker")

    tts = KokoroIsolatedTTSService(worker_source=no_worker, phrases=phrases)
    context = LLMContext()
    assistant = LLMContextAggregatorPair(context).assistant()
    async with TTSHarness(tts, after=[assistant]) as harness:
        await harness.queue(TTSSpeakFrame(FIRST))
        expected = len(phrases.get(FIRST))
        await harness.wait_for(lambda: sum(len(r.frame.audio) for r in harness.audio()) >= expected, timeout=5)
        # What the transport reports once it has played the audio.
        await harness.worker.queue_frames([BotStartedSpeakingFrame(), BotStoppedSpeakingFrame()])
        await harness.wait_for(lambda: context.get_messages(), timeout=5)
        pcm = b"".join(r.frame.audio for r in harness.audio())
    assert pcm == phrases.get(FIRST)
    assert len(pcm) / 2 / 24000 > 2.0
    assert np.abs(np.frombuffer(pcm, "<i2")).max() > 1000
    assert context.get_messages() == [{"role": "assistant", "content": FIRST}]
