"""Per-call latency timeline: what the caller waited for, measured inside the pipeline.

``CallTimeline`` watches frames as an observer and logs, once per call, each milestone
as seconds since the WebRTC offer arrived, and for every caller turn the time from the
end of their speech to the bot's first audio (voice-to-voice).
"""

from __future__ import annotations

import time

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed

MILESTONES = ("pipeline ready", "TTS warm", "LLM first token", "first TTS audio", "bot started speaking")


class CallTimeline(BaseObserver):
    """Collects a call's milestones and turn latencies and logs them."""

    def __init__(self, call_id: str, connected_at: float | None = None):
        super().__init__()
        self.call_id = call_id
        self.connected_at = connected_at or time.monotonic()
        self.marks: dict[str, float] = {}
        self.turns: list[float] = []
        self._user_stopped_at: float | None = None
        self._logged = False

    def mark(self, name: str, at: float | None = None) -> None:
        """Record a milestone once (the first occurrence counts)."""
        if name not in self.marks:
            self.marks[name] = (at or time.monotonic()) - self.connected_at

    async def on_push_frame(self, data: FramePushed):
        frame = data.frame
        if not data.first_push:
            return
        if isinstance(frame, LLMTextFrame):
            self.mark("LLM first token")
        elif isinstance(frame, TTSAudioRawFrame):
            self.mark("first TTS audio")
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            # The VAD confirms the end of speech only after stop_secs of silence.
            self._user_stopped_at = time.monotonic() - frame.stop_secs
        elif isinstance(frame, BotStartedSpeakingFrame):
            now = time.monotonic()
            self.mark("bot started speaking", now)
            if not self._logged:
                self._logged = True
                logger.info(self.summary())
            if self._user_stopped_at is not None:
                latency = now - self._user_stopped_at
                self._user_stopped_at = None
                self.turns.append(latency)
                logger.info(f"Turn timeline [{self.call_id}]: caller stopped speaking → bot started speaking {latency:.2f}s")

    def summary(self) -> str:
        parts = ["connect 0.00s"] + [f"{name} {self.marks[name]:.2f}s" for name in MILESTONES if name in self.marks]
        return f"Call timeline [{self.call_id}]: " + " → ".join(parts)
