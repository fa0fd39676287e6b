"""The listening Whisper's bookkeeping without a model (fast tier): a stand-in model "hears" each
segment by its loudness, and takes as long as the test says."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from voicebot.config import WhisperConfig
from voicebot.listening.factory import create_stt_service

RATE = 16000
FRAME = RATE // 50


@dataclass
class Said:
    text: str
    no_speech_prob: float = 0.0


def bursts(audio) -> int:
    """Stretches of tone in ``audio``, 20 ms at a time."""
    loud = [float(np.max(np.abs(audio[i:i + FRAME]))) > 0.01 for i in range(0, len(audio), FRAME)]
    return sum(1 for i, on in enumerate(loud) if on and (i == 0 or not loud[i - 1]))


class LoudnessModel:
    """Hears the number's first breath, quiet, with a pause inside it ("Five oh … three,"): nothing
    from the passes made at its pauses, then its final pass, slowly (a busy machine); the second
    breath, loud, at once."""

    def __init__(self):
        self.first_breath_passes = 0

    def transcribe(self, audio, **options):
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        if peak < 0.01:
            return [], None
        if peak < 0.4:
            if bursts(audio) < 2 or options.get("beam_size") == 1:
                return [], None  # "Five oh", or a greedy partial: nothing to stand on
            self.first_breath_passes += 1
            if self.first_breath_passes == 1:
                return [], None  # the pause's pass heard nothing either: a final pass it is
            time.sleep(1.5)
            return [Said("Five oh three,")], None
        return [Said("five five five, four one four two.")], None


class StandInModels:
    def __init__(self):
        self.model = LoudnessModel()

    def load(self, settings):
        return self.model


def breath(amplitude: float, seconds: float = 0.6, pause_inside: bool = False) -> list:
    tone = (np.sin(np.arange(int(RATE * seconds)) * 0.3) * amplitude * 32767).astype("<i2")
    silence = np.zeros(int(RATE * 0.3), "<i2")
    pcm = np.concatenate([tone, silence, tone, silence] if pause_inside else [tone, silence]).tobytes()
    frames = []
    for i in range(0, len(pcm), FRAME * 2):  # in real time, as a caller's line delivers it
        frames += [InputAudioRawFrame(audio=pcm[i:i + FRAME * 2], sample_rate=RATE, num_channels=1),
                   SleepFrame(sleep=0.02)]
    return [VADUserStartedSpeakingFrame(), *frames, VADUserStoppedSpeakingFrame()]


async def test_transcripts_leave_in_the_order_they_were_said():
    """The first breath's transcript is slow, the second's is ready at once: the second still waits."""
    stt = create_stt_service(WhisperConfig(), StandInModels(), listening=True, audio_passthrough=False)
    down, _ = await run_test(stt, frames_to_send=[*breath(0.2, pause_inside=True), SleepFrame(sleep=0.2), *breath(0.8),
                                                  SleepFrame(sleep=4.0)])
    heard = [f.text.strip() for f in down if isinstance(f, TranscriptionFrame)]
    assert heard == ["Five oh three,", "five five five, four one four two."], heard
