"""The per-call timeline: each turn's stages in order, measured from the end of the caller's voice."""

from __future__ import annotations

import time

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TurnMetricsData
from pipecat.observers.base_observer import FramePushed
from pipecat.processors.frame_processor import FrameDirection

from voicebot.timeline import TURN_STAGES, CallTimeline


async def push(timeline: CallTimeline, frame, first_push: bool = True) -> None:
    await timeline.on_push_frame(FramePushed(source=None, destination=None, frame=frame,
                                             direction=FrameDirection.DOWNSTREAM, timestamp=0,
                                             first_push=first_push))


def one_turn() -> list:
    return [
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        MetricsFrame(data=[TurnMetricsData(processor="smart-turn", is_complete=True, probability=0.9,
                                       e2e_processing_time_ms=300.0)]),
        TranscriptionFrame(text="How late are you open?", user_id="caller", timestamp="now"),
        UserStoppedSpeakingFrame(),
        LLMTextFrame(text="We"),
        LLMTextFrame(text=" close"),
        TTSStartedFrame(),
        TTSAudioRawFrame(audio=b"\0\0" * 240, sample_rate=24000, num_channels=1),
        BotStartedSpeakingFrame(),
    ]


async def test_a_turn_reports_every_stage_in_order_and_its_voice_to_voice_time():
    turns = []

    async def on_turn(stages):
        turns.append(stages)

    timeline = CallTimeline("call-1", on_turn=on_turn)
    for frame in one_turn():
        await push(timeline, frame)
    assert len(turns) == 1 and list(turns[0]) == list(TURN_STAGES)
    values = list(turns[0].values())
    assert values == sorted(values) and values[0] >= 0.2  # the voice ended stop_secs before the VAD said so
    assert timeline.turns[0] >= values[-1] - 0.001
    assert list(timeline.marks) == ["LLM first token", "first TTS audio", "bot started speaking"]
    assert "Call timeline [call-1]: connect 0.00s → LLM first token" in timeline.summary()


async def test_a_caller_who_goes_on_speaking_starts_no_turn_and_repeated_frames_count_once():
    timeline = CallTimeline("call-2", connected_at=time.monotonic())
    await push(timeline, VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await push(timeline, VADUserStartedSpeakingFrame())  # a pause, not the end of the turn
    await push(timeline, BotStartedSpeakingFrame())
    assert timeline.turns == [] and timeline.turn_stages == []
    for frame in one_turn():
        await push(timeline, frame)
        await push(timeline, frame, first_push=False)  # passed along by the next processor
    assert len(timeline.turn_stages) == 1
