"""What a call measured, as plain data and a text summary.

This is what tests and benchmarks read, kept apart from the machinery that measured it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from voicebot.audio import SAMPLE_RATE

if TYPE_CHECKING:
    from voicebot.probe.tracks import BotAudioRecorder


@dataclass
class RTVIEvent:
    """One RTVI message from the server, stamped on arrival."""

    t: float
    type: str
    data: Any = None


@dataclass
class TranscriptEntry:
    """One turn as heard over RTVI: consecutive pieces from the same side are joined into one entry."""

    role: str  # "bot" | "user"
    text: str
    t: float  # arrival of the first message of the entry


@dataclass
class SpeechSegment:
    """A stretch of non-silent bot audio, by frame arrival time."""

    start: float
    end: float


@dataclass
class CallResult:
    """Everything one call measured. Times are seconds after ``t0`` (just before the POST)."""

    url: str
    pc_id: str | None = None
    connect_to_first_audio_s: float | None = None
    voice_to_voice_s: float | None = None
    transcript: list[TranscriptEntry] = field(default_factory=list)
    llm_ttfb_s: float | None = None
    tts_ttfb_s: float | None = None
    stt_ttfb_s: float | None = None
    ttfb: dict[str, list[float]] = field(default_factory=dict)
    """Every TTFB the server reported, by processor name, in order (one per turn)."""
    ttfb_by_kind: dict[str, list[float]] = field(default_factory=dict)
    """The same grouped as 'llm' / 'tts' / 'stt'; the ``*_ttfb_s`` fields are the first."""
    milestones: dict[str, float] = field(default_factory=dict)
    """offer_answered, webrtc_connected (ICE+DTLS), datachannel_open, bot_ready, first_bot_audio, ..."""
    offer_setup_s: float | None = None
    """createOffer + ICE gathering, before t0 (a browser spends this too, we don't count it)."""
    bot_speech: list[SpeechSegment] = field(default_factory=list)
    said_start_s: float | None = None
    first_said_start_s: float | None = None  # differs from said_start_s when several turns were said
    said_voice_end_s: float | None = None
    """When the last non-silent frame of our WAV left: voice-to-voice starts here."""
    said_end_s: float | None = None
    events: list[RTVIEvent] = field(default_factory=list)
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    """The bot's audio as received: mono int16 at ``sample_rate``, gaps filled with zeros."""
    audio_start_s: float | None = None
    """Time of ``audio[0]``; maps a time t to sample ``(t - audio_start_s) * sample_rate``."""
    sample_rate: int = SAMPLE_RATE
    turn_stages_s: list[dict[str, float]] = field(default_factory=list)
    """Per caller turn, the server's stages in seconds after the caller's voice ended
    (VAD stop, Smart Turn, transcript, turn end, LLM first token, first clause to TTS,
    first TTS audio, bot audio out), as the server reported them over RTVI."""
    longest_greeting_gap_s: float | None = None
    longest_reply_gap_s: float | None = None
    """The longest silence inside the bot's greeting / its answer, once it began speaking."""
    ended_by: str = "completed"  # "completed" | "timeout" | "server_hangup" | "error"
    errors: list[str] = field(default_factory=list)

    def measure_bot_audio(self, recorder: BotAudioRecorder) -> None:
        """The bot's audio as heard (``probe.tracks.BotAudioRecorder``): its speech, the first audio, the
        answer's, voice-to-voice and the longest silences inside the greeting and the reply."""
        self.bot_speech = list(recorder.segments)
        self.audio = recorder.audio
        self.audio_start_s = recorder.start
        if recorder.segments:
            self.connect_to_first_audio_s = recorder.segments[0].start
            self.milestones["first_bot_audio"] = recorder.segments[0].start
            greeting_end = self.first_said_start_s if self.first_said_start_s is not None else self.said_start_s
            self.longest_greeting_gap_s = recorder.longest_gap(recorder.segments[0].start, greeting_end)
        if self.said_voice_end_s is not None:
            t = recorder.first_speech_after(self.said_voice_end_s)
            if t is not None:
                self.voice_to_voice_s = t - self.said_voice_end_s
                self.milestones["first_answer_audio"] = t
                self.longest_reply_gap_s = recorder.longest_gap(t)

    @property
    def ok(self) -> bool:
        return self.ended_by == "completed" and not self.errors

    @property
    def transcript_text(self) -> str:
        return "\n".join(f"{e.role}: {e.text}" for e in self.transcript)

    def user_text(self) -> str:
        return " ".join(e.text for e in self.transcript if e.role == "user")

    def bot_text(self) -> str:
        return " ".join(e.text for e in self.transcript if e.role == "bot")

    def audio_between(self, start: float | None, end: float | None) -> np.ndarray:
        if self.audio_start_s is None:
            return self.audio[:0]
        a = 0 if start is None else max(0, int((start - self.audio_start_s) * self.sample_rate))
        b = len(self.audio) if end is None else max(0, int((end - self.audio_start_s) * self.sample_rate))
        return self.audio[a:b]

    @property
    def greeting_audio(self) -> np.ndarray:
        """Bot audio before we started speaking (all of it if we said nothing)."""
        first = self.first_said_start_s if self.first_said_start_s is not None else self.said_start_s
        return self.audio_between(None, first)

    @property
    def answer_audio(self) -> np.ndarray:
        """Bot audio after our speech ended (empty if we said nothing)."""
        if self.said_voice_end_s is None:
            return self.audio[:0]
        return self.audio_between(self.said_voice_end_s, None)

    def summary(self) -> dict[str, Any]:
        """JSON-able view: the measurements, transcript and timings, no audio or raw events."""
        r = lambda v: None if v is None else round(v, 3)  # noqa: E731
        return {
            "connect_to_first_audio_s": r(self.connect_to_first_audio_s),
            "voice_to_voice_s": r(self.voice_to_voice_s),
            "transcript": [asdict(e) | {"t": r(e.t)} for e in self.transcript],
            "llm_ttfb_s": r(self.llm_ttfb_s),
            "tts_ttfb_s": r(self.tts_ttfb_s),
            "stt_ttfb_s": r(self.stt_ttfb_s),
            "ttfb": {k: [r(v) for v in vs] for k, vs in self.ttfb.items()},
            "ttfb_by_kind": {k: [r(v) for v in vs] for k, vs in self.ttfb_by_kind.items()},
            "milestones": {k: r(v) for k, v in self.milestones.items()},
            "offer_setup_s": r(self.offer_setup_s),
            "bot_speech": [[r(s.start), r(s.end)] for s in self.bot_speech],
            "said": {
                "start_s": r(self.said_start_s),
                "voice_end_s": r(self.said_voice_end_s),
                "end_s": r(self.said_end_s),
            },
            "greeting_audio_s": r(len(self.greeting_audio) / self.sample_rate),
            "answer_audio_s": r(len(self.answer_audio) / self.sample_rate),
            "turn_stages_s": self.turn_stages_s,
            "longest_greeting_gap_s": r(self.longest_greeting_gap_s),
            "longest_reply_gap_s": r(self.longest_reply_gap_s),
            "rtvi_event_counts": _count(e.type for e in self.events),
            "pc_id": self.pc_id,
            "url": self.url,
            "ended_by": self.ended_by,
            "errors": self.errors,
        }


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return out


def format_summary(result: CallResult) -> str:
    """The call, for a person at a terminal: what ``call-probe`` prints without ``--json``."""
    f = lambda v: "-" if v is None else f"{v:.3f} s"  # noqa: E731
    lines = [
        f"call {result.url}  ({result.ended_by}, pc_id={result.pc_id})",
        f"  connect -> first bot audio : {f(result.connect_to_first_audio_s)}",
        f"  voice -> voice             : {f(result.voice_to_voice_s)}",
        f"  LLM TTFB (first)           : {f(result.llm_ttfb_s)}",
        f"  TTS TTFB (first)           : {f(result.tts_ttfb_s)}",
        f"  STT TTFB (first)           : {f(result.stt_ttfb_s)}",
    ]
    for name, values in result.ttfb.items():
        lines.append(f"    ttfb {name}: " + ", ".join(f"{v:.3f}" for v in values))
    lines.append("  milestones: " + ", ".join(f"{k}={v:.3f}" for k, v in result.milestones.items()))
    lines.append(
        "  bot speech: " + ", ".join(f"{s.start:.2f}-{s.end:.2f}" for s in result.bot_speech)
    )
    lines.append("  transcript:")
    lines += [f"    {e.t:7.2f}  {e.role}: {e.text}" for e in result.transcript] or ["    (none)"]
    for err in result.errors:
        lines.append(f"  ! {err}")
    return "\n".join(lines)
