"""Per-call latency timeline: what the caller waited for, measured inside the pipeline.

``CallTimeline`` watches frames as an observer. Once per call it logs each milestone as
seconds since the WebRTC offer arrived. For every caller turn it logs the stages between
the end of the caller's voice and the bot's first audio sent back (voice-to-voice), so
that the time can be cut where it is spent:

    voice end (VAD, less its stop_secs) → VAD stop → Smart Turn verdict → transcript →
    turn end → LLM first token → first clause to TTS → first TTS audio → bot speaking
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from loguru import logger
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
from pipecat.observers.base_observer import BaseObserver, FramePushed

MILESTONES = ("pipeline ready", "TTS warm", "LLM first token", "first TTS audio", "bot started speaking")

# A caller turn's stages, in the order they normally happen (seconds after the voice ended).
TURN_STAGES = ("vad_stop", "smart_turn", "transcript", "turn_end", "llm_first_token", "tts_request",
               "first_tts_audio", "bot_audio_out")
_STAGE_LABELS = {
    "vad_stop": "VAD stop", "smart_turn": "Smart Turn", "transcript": "transcript", "turn_end": "turn end",
    "llm_first_token": "LLM first token", "tts_request": "first clause to TTS", "first_tts_audio": "first TTS audio",
    "bot_audio_out": "bot audio out",
}


class TurnStages:
    """One caller turn: monotonic times of each stage, measured from the end of the voice."""

    def __init__(self, voice_end: float, vad_stop: float):
        self.voice_end = voice_end
        self.times: dict[str, float] = {"vad_stop": vad_stop}
        self.smart_turn_complete: bool | None = None
        self.llm: dict[str, float] = {}  # llama.cpp's own account (voicebot.llm.service.LLMTurnTimings)

    def mark(self, stage: str, at: float | None = None) -> None:
        self.times.setdefault(stage, at or time.monotonic())

    def relative(self) -> dict[str, float]:
        """Seconds after the end of the caller's voice, per stage reached (and llama.cpp's counts)."""
        stages = {s: round(self.times[s] - self.voice_end, 3) for s in TURN_STAGES if s in self.times}
        return {**stages, **self.llm}

    def summary(self) -> str:
        stages = {s: v for s, v in self.relative().items() if s in _STAGE_LABELS}
        parts = [f"{_STAGE_LABELS[s]} {v:.2f}s" for s, v in stages.items()]
        verdict = {True: "complete", False: "incomplete", None: "n/a"}[self.smart_turn_complete]
        llm = ""
        if "llm_prompt_n" in self.llm:
            llm = (f"; LLM evaluated {self.llm['llm_prompt_n']:.0f} tokens in {self.llm['llm_prompt_ms']:.0f} ms "
                   f"({self.llm['llm_cache_n']:.0f} cached)")
            if "llm_tokens_before_clause" in self.llm:
                llm += f", {self.llm['llm_tokens_before_clause']:.0f} pieces before the first clause"
        return "voice end 0.00s → " + " → ".join(parts) + f" (Smart Turn: {verdict}{llm})"


class CallTimeline(BaseObserver):
    """Collects a call's milestones and per-turn stages, and logs them.

    Its ``on_turn_stages`` event gets each completed turn's stages, e.g. to send them to the
    client over RTVI.
    """

    def __init__(self, call_id: str, connected_at: float | None = None,
                 on_turn: Callable[[dict[str, float]], Awaitable[None]] | None = None):
        super().__init__()
        self.call_id = call_id
        self.connected_at = connected_at or time.monotonic()
        self.marks: dict[str, float] = {}
        self.turns: list[float] = []
        self.turn_stages: list[dict[str, float]] = []
        self._register_event_handler("on_turn_stages", sync=True)
        if on_turn is not None:
            async def forward(_timeline, stages: dict[str, float]) -> None:
                await on_turn(stages)

            self.add_event_handler("on_turn_stages", forward)
        self._turn: TurnStages | None = None
        self._logged = False

    async def first_piece(self, _tts, cached: bool) -> None:
        """Whether the turn's reply began with a phrase from the cache (no synthesis at all)."""
        if self._turn is not None:
            self._turn.llm.setdefault("tts_first_piece_cached", 1.0 if cached else 0.0)

    async def llm_timings(self, _llm, timings) -> None:
        """llama.cpp's account of the turn's completion (``LLMTurnTimings``), kept with the turn."""
        if self._turn is not None:
            self._turn.llm.update(timings.stages())

    def mark(self, name: str, at: float | None = None) -> None:
        """Record a milestone once (the first occurrence counts)."""
        if name not in self.marks:
            self.marks[name] = (at or time.monotonic()) - self.connected_at

    async def on_push_frame(self, data: FramePushed):
        frame = data.frame
        if not data.first_push:
            return
        now = time.monotonic()
        turn = self._turn
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            # The VAD confirms the end of speech only after stop_secs of silence.
            self._turn = TurnStages(voice_end=now - frame.stop_secs, vad_stop=now)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._turn = None  # the caller went on: the turn is not over
        elif isinstance(frame, MetricsFrame):
            for metric in frame.data:
                if isinstance(metric, TurnMetricsData) and turn is not None and "smart_turn" not in turn.times:
                    turn.mark("smart_turn", now)
                    turn.smart_turn_complete = metric.is_complete
        elif isinstance(frame, TranscriptionFrame) and turn is not None:
            turn.mark("transcript", now)
        elif isinstance(frame, UserStoppedSpeakingFrame) and turn is not None:
            turn.mark("turn_end", now)
        elif isinstance(frame, LLMTextFrame):
            self.mark("LLM first token")
            if turn is not None:
                turn.mark("llm_first_token", now)
        elif isinstance(frame, TTSStartedFrame) and turn is not None:
            turn.mark("tts_request", now)
        elif isinstance(frame, TTSAudioRawFrame):
            self.mark("first TTS audio")
            if turn is not None:
                turn.mark("first_tts_audio", now)
        elif isinstance(frame, BotStartedSpeakingFrame):
            await self._on_bot_started_speaking(now)

    async def _on_bot_started_speaking(self, now: float) -> None:
        self.mark("bot started speaking", now)
        if not self._logged:
            self._logged = True
            logger.info(self.summary())
        turn, self._turn = self._turn, None
        if turn is None:
            return
        turn.mark("bot_audio_out", now)
        latency = now - turn.voice_end
        self.turns.append(latency)
        stages = turn.relative()
        self.turn_stages.append(stages)
        logger.info(f"Turn timeline [{self.call_id}]: {turn.summary()}; voice-to-voice {latency:.2f}s")
        await self._call_event_handler("on_turn_stages", stages)

    def summary(self) -> str:
        parts = ["connect 0.00s"] + [f"{name} {self.marks[name]:.2f}s" for name in MILESTONES if name in self.marks]
        return f"Call timeline [{self.call_id}]: " + " → ".join(parts)
