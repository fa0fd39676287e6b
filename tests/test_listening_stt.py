"""The listening Whisper on real speech (Kokoro's voice, the real tiny.en), driven by Pipecat's test runner.

A caller who pauses mid-sentence ("Yes, … please.") makes two VAD segments in one turn.
Only the last segment's transcript may be final: Smart Turn's "complete" after the second
segment must wait for the second transcript, not end the turn on the first (which left
"please." to start a turn of its own, and the desk to ask its question twice).
"""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from voicebot.audio import load_audio
from voicebot.config import WhisperConfig
from voicebot.listening.factory import create_stt_service
from voicebot.stt import WhisperModels, usable_engine
from voicebot.tts.speak import speak_all_to_wav

pytestmark = pytest.mark.slow

RATE = 16000
FRAME = RATE // 50  # 20 ms


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    folder = tmp_path_factory.mktemp("listening")
    paths = asyncio.run(speak_all_to_wav([("Yes,", folder / "yes.wav"), ("please.", folder / "please.wav")],
                                         voice="am_michael", sample_rate=RATE))
    return [load_audio(path, RATE).astype("<i2").tobytes() for path in paths]


@pytest.fixture(scope="module")
def settings():
    settings = usable_engine(WhisperConfig())
    models = WhisperModels()
    models.preload(settings)
    return settings, models


def segment(pcm: bytes, silence_s: float = 0.3) -> list:
    """A VAD segment as the transport and the VAD deliver it: start, 20 ms frames, stop."""
    pcm = pcm + bytes(int(RATE * silence_s) * 2)
    frames = [InputAudioRawFrame(audio=pcm[i:i + FRAME * 2], sample_rate=RATE, num_channels=1)
              for i in range(0, len(pcm), FRAME * 2)]
    return [VADUserStartedSpeakingFrame(), *frames, VADUserStoppedSpeakingFrame()]


def transcripts(frames) -> list[tuple[str, bool]]:
    return [(f.text.strip(" .,!").lower(), f.finalized) for f in frames if isinstance(f, TranscriptionFrame)]


async def test_a_segment_the_caller_talked_past_is_not_final(settings, speech):
    yes, please = speech
    stt = create_stt_service(*settings, listening=True, audio_passthrough=False)
    down, _ = await run_test(stt, frames_to_send=[*segment(yes), *segment(please), SleepFrame(sleep=3.0)])
    heard = transcripts(down)
    assert [text for text, _ in heard] == ["yes", "please"], heard
    assert [final for _, final in heard] == [False, True], heard


async def test_a_single_segment_is_final(settings, speech):
    yes, _ = speech
    stt = create_stt_service(*settings, listening=True, audio_passthrough=False)
    down, _ = await run_test(stt, frames_to_send=[*segment(yes), SleepFrame(sleep=2.0)])
    assert transcripts(down) == [("yes", True)]


@pytest.fixture(scope="module")
def number(tmp_path_factory):
    """A number as a caller says it, in the voice tiny.en hears "five five five" as "55" in."""
    folder = tmp_path_factory.mktemp("number")
    [path] = asyncio.run(speak_all_to_wav([("Five oh three, five five five, two eight one nine.",
                                            folder / "number.wav")], voice="am_michael", sample_rate=RATE))
    return load_audio(path, RATE).astype("<i2").tobytes()


async def test_a_number_a_digit_off_is_heard_again_by_the_number_model(settings, number):
    """Whatever the main model heard, the transcript that leaves the service holds the whole number
    when the number model hears it: a check that says "a digit off" for every first hearing
    forces the second one."""
    from voicebot.business.phone import phone_in

    stt = create_stt_service(*settings, listening=True, audio_passthrough=False)
    first_hearings: list[str] = []

    def always_off_the_first_time(text: str) -> bool:
        first_hearings.append(text)
        return len(first_hearings) == 1
    stt.number_check = always_off_the_first_time
    down, _ = await run_test(stt, frames_to_send=[*segment(number), SleepFrame(sleep=4.0)])
    [(text, final)] = transcripts(down)
    assert final and phone_in(text).digits == "5035552819", (text, first_hearings)
    assert len(first_hearings) == 2  # the first hearing, then the number model's


@pytest.fixture(scope="module")
def number_in_three_breaths(tmp_path_factory):
    """A booking's number said in the same breath as the rest: the VAD cuts it at the pauses."""
    folder = tmp_path_factory.mktemp("breaths")
    lines = ["Under the name Carlo Rossi, my number is two one seven,", "five five five,", "one nine one nine."]
    paths = asyncio.run(speak_all_to_wav([(line, folder / f"{i}.wav") for i, line in enumerate(lines)],
                                         voice="am_michael", sample_rate=RATE))
    return [load_audio(path, RATE).astype("<i2").tobytes() for path in paths]


async def test_a_turn_of_several_utterances_is_heard_again_as_one(settings, number_in_three_breaths):
    """The desk, finding the turn's number in doubt, has the whole turn heard again: the number
    model hears the three pieces as one number. A bot that starts speaking starts a new turn."""
    from pipecat.frames.frames import BotStartedSpeakingFrame

    from voicebot.business.phone import phone_in

    stt = create_stt_service(*settings, listening=True, audio_passthrough=False)
    frames = [frame for pcm in number_in_three_breaths for frame in segment(pcm, silence_s=0.25)]
    await run_test(stt, frames_to_send=[*frames, SleepFrame(sleep=4.0)])
    again = await stt.hear_turn_again()
    assert again is not None and phone_in(again).digits == "2175551919", again
    assert "rossi" in again.lower()

    await run_test(stt, frames_to_send=[BotStartedSpeakingFrame(), *segment(number_in_three_breaths[2]),
                                        SleepFrame(sleep=2.0)])
    assert await stt.hear_turn_again() is None  # one utterance since the bot spoke: heard again with it
