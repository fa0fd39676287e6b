"""How long a pause ends the caller's speech, by what the desk is waiting for.

A phone number is said in groups ("five oh three, five five five, …") with a breath between
them. At the VAD's usual 0.2 s each group became an utterance of its own, transcribed apart:
Whisper, told a number is coming, heard the whole number right in 32 of 32 spoken numbers
(16 numbers, Opus and 8 kHz μ-law) but the groups heard one by one only 5-15 of 16 ("five oh
three," alone came out "503-503."; a last group was dropped as silence). While the desk waits
for a number, the VAD therefore waits for a longer pause, so the number stays one utterance.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame, VADParamsUpdateFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

# Pauses between a number's groups: up to 0.44 s in our spoken test numbers, longer from people.
NUMBER_STOP_S = 0.8


class NumberPauses(FrameProcessor):
    """Pushes the VAD a longer ``stop_secs`` upstream while ``expects_number()``, the usual one after.

    Sits after the front desk: the desk's state changes as it answers, before its reply (or the
    LLM's) reaches this processor, and long before the caller starts saying the number.
    """

    def __init__(self, expects_number: Callable[[], bool], usual: VADParams,
                 number_stop_s: float = NUMBER_STOP_S, **kwargs):
        super().__init__(**kwargs)
        self._expects_number = expects_number
        self._usual = usual
        self._for_numbers = usual.model_copy(update={"stop_secs": max(usual.stop_secs, number_stop_s)})
        self._waiting_for_number = False

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        waiting = self._expects_number()
        if waiting != self._waiting_for_number:
            self._waiting_for_number = waiting
            params = self._for_numbers if waiting else self._usual
            logger.debug(f"{self}: the VAD ends speech after {params.stop_secs} s of silence "
                         f"({'a phone number is coming' if waiting else 'as usual'})")
            await self.push_frame(VADParamsUpdateFrame(params=params), FrameDirection.UPSTREAM)
