"""A headless phone caller for the voice bot: one WebRTC call, measured.

``CallProbe`` dials the server the way Pipecat's browser client does (SmallWebRTC: an
SDP offer POSTed to ``/api/offer``, an audio transceiver, a ``chat`` data channel that
carries RTVI and keep-alive pings), listens to the greeting, optionally says a WAV
file, records the bot, collects the RTVI events and hangs up. It is what the
end-to-end tests and the first-audio benchmark use, and the ``call-probe`` CLI::

    result = await CallProbe("http://127.0.0.1:7860").call(say="order.wav", timeout=60)
    result.connect_to_first_audio_s, result.voice_to_voice_s, result.transcript_text

All times are seconds on the monotonic clock, relative to ``t0``: the instant just
before the offer is POSTed. "Bot audio" means a received 20 ms frame whose RMS is
above ``ProbeConfig.speech_threshold_dbfs``; the server streams digital silence
between utterances, so the threshold only has to clear Opus noise.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import ipaddress
import json
import re
import socket
import sys
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import av
import httpx
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from loguru import logger

SAMPLE_RATE = 48000
"""WebRTC's Opus rate: what we send and what we record the bot at."""

FRAME_SAMPLES = SAMPLE_RATE // 50
"""20 ms, the Opus frame aiortc packetises."""

RTVI_LABEL = "rtvi-ai"
RTVI_CLIENT_VERSION = "2.2.0"
"""The RTVI protocol we speak: pipecat 1.14's ``PROTOCOL_VERSION``."""

DATA_CHANNEL_LABEL = "chat"
"""The label Pipecat's SmallWebRTC JS transport gives its data channel."""

PING_INTERVAL_S = 1.0
"""Keep-alive period. Once it has seen a ping, SmallWebRTCConnection considers the
client gone (and drops bot audio and messages) if the next is more than 3 s late."""


# ---------------------------------------------------------------------------
# Pure audio helpers
# ---------------------------------------------------------------------------


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 (or float in [-1, 1]) samples in dBFS; -inf for digital silence."""
    if samples.size == 0:
        return float("-inf")
    x = samples.astype(np.float64)
    if samples.dtype == np.int16:
        x /= 32768.0
    rms = float(np.sqrt(np.mean(x * x)))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


@dataclass
class SilenceDetector:
    """Calls a frame speech when its RMS clears a fixed threshold.

    A fixed threshold suffices because both ends are synthetic: the server pads with
    exact zeros, and Opus keeps those within a few LSB.
    """

    threshold_dbfs: float = -50.0

    def is_speech(self, samples: np.ndarray) -> bool:
        return rms_dbfs(samples) > self.threshold_dbfs

    def speech_bounds(self, samples: np.ndarray, frame: int = FRAME_SAMPLES) -> tuple[int, int] | None:
        """First and one-past-last sample of the frames that are speech, or None."""
        voiced = [
            i
            for i in range(0, len(samples), frame)
            if self.is_speech(samples[i : i + frame])
        ]
        if not voiced:
            return None
        return voiced[0], min(len(samples), voiced[-1] + frame)


def to_mono_int16(frame: av.AudioFrame) -> np.ndarray:
    """Mono int16 samples of a decoded frame (aiortc decodes Opus to packed s16 stereo)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mono = data.mean(axis=0) if channels > 1 else data[0]
    else:
        mono = data.reshape(-1, channels).mean(axis=1) if channels > 1 else data.reshape(-1)
    if frame.format.name.startswith("flt") or frame.format.name.startswith("dbl"):
        mono = np.clip(mono, -1.0, 1.0) * 32767.0
    return np.asarray(np.round(mono), dtype=np.int16) if mono.dtype != np.int16 else mono


def resample_frames(frames, rate: int) -> np.ndarray:
    """Push av.AudioFrames through libswresample to mono int16 at ``rate``."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    chunks: list[np.ndarray] = []
    for frame in list(frames) + [None]:  # None flushes the resampler's tail
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)


def resample(samples: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono int16 samples (libswresample, the same code path WebRTC audio takes)."""
    samples = np.ascontiguousarray(samples, dtype=np.int16)
    if from_rate == to_rate:
        return samples.copy()
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = from_rate
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, from_rate)
    return resample_frames([frame], to_rate)


def load_audio(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any audio file FFmpeg reads (WAV of any width/rate/channels) to mono int16."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return resample_frames(container.decode(stream), rate)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype=np.int16).tobytes())


# ---------------------------------------------------------------------------
# Loopback ICE
# ---------------------------------------------------------------------------

_loopback_ice_enabled = False


def allow_loopback_ice() -> None:
    """Make aioice offer 127.0.0.1 as a host candidate, in this process, from now on.

    aioice (0.13) gathers host candidates from ``ifaddr`` and drops 127.0.0.1, and it
    has no option to keep it. Without another interface (a namespace with only ``lo``,
    as in offline tests) a loopback call then has no candidate at all. Its
    ``gather_candidates`` looks ``get_host_addresses`` up as a module global at call
    time, so wrapping that global is enough. Idempotent; harmless when other
    interfaces exist (one extra candidate pair). A server in a ``lo``-only namespace
    needs the same call.
    """
    global _loopback_ice_enabled
    if _loopback_ice_enabled:
        return
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        if use_ipv4 and "127.0.0.1" not in addresses:
            addresses.append("127.0.0.1")
        return addresses

    aioice.ice.get_host_addresses = get_host_addresses
    _loopback_ice_enabled = True
    logger.debug("aioice: 127.0.0.1 added to host candidates")


def is_loopback_url(url: str) -> bool:
    """Whether the URL's host is (or resolves to) a loopback address."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        return all(
            ipaddress.ip_address(info[4][0]).is_loopback
            for info in socket.getaddrinfo(host, None)
        )
    except OSError:
        return False


class ProbeError(Exception):
    """A call that could not be placed (no ICE, ...): reported in the result, not raised."""


class _ServerHungUp(Exception):
    pass


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass
class RTVIEvent:
    """One RTVI message from the server, stamped on arrival."""

    t: float
    type: str
    data: Any = None


@dataclass
class TranscriptEntry:
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


@dataclass
class ProbeConfig:
    """Knobs of the call. The defaults suit a phone bot that greets first."""

    offer_path: str = "/api/offer"
    speech_threshold_dbfs: float = -50.0
    post_speech_gap_s: float = 0.8
    """Silence after the bot's speech (and RTVI bot-stopped-speaking) that ends its turn.
    Longer than the pauses between streamed sentences."""
    greeting_timeout_s: float = 20.0
    """Speak anyway if the greeting hasn't finished by then (from t0)."""
    answer_timeout_s: float = 30.0
    """Give up waiting for the answer this long after our speech ended."""
    linger_s: float = 0.3
    """Stay on after the last turn so late metrics messages arrive."""
    connect_timeout_s: float = 15.0
    loopback_ice: bool | None = None
    """Add 127.0.0.1 to our ICE candidates; None = when the URL's host is loopback."""
    request_data: dict[str, Any] | None = None
    """Sent as ``request_data`` with the offer (Pipecat passes it to the bot)."""


# ---------------------------------------------------------------------------
# Media: what we send, what we hear
# ---------------------------------------------------------------------------


@dataclass
class Playback:
    """Times (monotonic) at which a queued clip went out."""

    start: float | None = None
    voice_end: float | None = None
    end: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class CallerAudioTrack(MediaStreamTrack):
    """Our microphone: 20 ms frames of silence in real time, with clips spliced in.

    Real-time pacing matters: the server's VAD and turn detection see our speech at the
    pace a phone would deliver it, and "end of speech" is a wall-clock instant.
    """

    kind = "audio"

    def __init__(self, detector: SilenceDetector):
        super().__init__()
        self._detector = detector
        self._start: float | None = None
        self._pts = 0
        self._clip: np.ndarray | None = None
        self._clip_pos = 0
        self._clip_voice_end = 0
        self._playback: Playback | None = None

    def play(self, samples: np.ndarray) -> Playback:
        """Queue a mono int16 48 kHz clip after the current frame; returns its Playback."""
        samples = np.asarray(samples, dtype=np.int16)
        pad = (-len(samples)) % FRAME_SAMPLES
        self._clip = np.concatenate([samples, np.zeros(pad, np.int16)])
        bounds = self._detector.speech_bounds(self._clip)
        self._clip_voice_end = bounds[1] if bounds else len(self._clip)
        self._clip_pos = 0
        self._playback = Playback()
        return self._playback

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

        chunk = np.zeros(FRAME_SAMPLES, np.int16)
        if self._clip is not None and self._playback is not None:
            now = time.monotonic()
            pb = self._playback
            if self._clip_pos == 0:
                pb.start = now
            chunk = self._clip[self._clip_pos : self._clip_pos + FRAME_SAMPLES]
            self._clip_pos += FRAME_SAMPLES
            if pb.voice_end is None and self._clip_pos >= self._clip_voice_end:
                pb.voice_end = now + FRAME_SAMPLES / SAMPLE_RATE
            if self._clip_pos >= len(self._clip):
                pb.end = now + FRAME_SAMPLES / SAMPLE_RATE
                pb.done.set()
                self._clip = None

        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += FRAME_SAMPLES
        return frame


class BotAudioRecorder:
    """Reads the bot's track: a gap-filled recording plus speech segments by arrival time.

    Gaps (the server not sending) become zeros so that sample positions stay close to
    wall-clock time and greeting/answer can be cut out by time.
    """

    GAP_TOLERANCE_S = 0.1

    def __init__(self, detector: SilenceDetector, clock: Callable[[], float], hangover_s: float = 0.3):
        self._detector = detector
        self._clock = clock
        self._hangover_s = hangover_s
        self._chunks: list[np.ndarray] = []
        self._n = 0
        self.start: float | None = None
        self.segments: list[SpeechSegment] = []
        self.speech_frames: list[tuple[float, float]] = []  # (arrival, duration) of each voiced frame
        self.last_frame_at: float | None = None
        self._task: asyncio.Task | None = None

    def attach(self, track: MediaStreamTrack) -> None:
        self._task = asyncio.create_task(self._run(track))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self._add(to_mono_int16(frame), frame.sample_rate)
        except MediaStreamError:
            logger.debug("bot audio track ended")

    def _add(self, samples: np.ndarray, rate: int) -> None:
        t = self._clock()
        if rate != SAMPLE_RATE:
            samples = resample(samples, rate)
        duration = len(samples) / SAMPLE_RATE
        if self.start is None:
            self.start = t - duration
        expected_end = self.start + (self._n + len(samples)) / SAMPLE_RATE
        if t - expected_end > self.GAP_TOLERANCE_S:
            gap = np.zeros(int((t - expected_end) * SAMPLE_RATE), np.int16)
            self._chunks.append(gap)
            self._n += len(gap)
        self._chunks.append(samples)
        self._n += len(samples)
        self.last_frame_at = t

        if self._detector.is_speech(samples):
            self.speech_frames.append((t, duration))
            last = self.segments[-1] if self.segments else None
            if last and t - last.end <= self._hangover_s:
                last.end = t
            else:
                self.segments.append(SpeechSegment(start=t, end=t))

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)

    def first_speech_after(self, t: float) -> float | None:
        return next((s.start for s in self.segments if s.start >= t), None)

    def last_speech_end(self) -> float | None:
        return self.segments[-1].end if self.segments else None

    def longest_gap(self, start: float, end: float | None = None) -> float | None:
        """The longest silence between voiced frames arriving in [start, end): a pause in a reply."""
        times = [(t, d) for t, d in self.speech_frames if t >= start and (end is None or t < end)]
        if len(times) < 2:
            return None
        return max(max(0.0, (t2 - d2) - t1) for (t1, _), (t2, d2) in zip(times, times[1:]))


# ---------------------------------------------------------------------------
# RTVI over the data channel
# ---------------------------------------------------------------------------


_KIND_HINTS = (
    ("stt", ("whisper", "moonshine", "deepgram", "speechmatics")),
    ("tts", ("kokoro", "piper", "espeak", "cartesia", "elevenlabs")),
    ("llm", ("openai", "llama", "qwen", "ollama", "anthropic", "gemini")),
)


def classify_processor(name: str) -> str | None:
    """'llm' | 'tts' | 'stt' from a Pipecat processor name such as 'WhisperSTTService#0'.

    Pipecat's service class names carry the kind ('...STTService', '...TTSService',
    '...LLMService'); plain substrings won't do ('WhisperSTTService' contains 'TTS').
    """
    base = name.split("#", 1)[0]
    for kind in ("STT", "TTS", "LLM"):
        if f"{kind}Service" in base:
            return kind.lower()
    tokens = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", base)
    lowered = [t.lower() for t in tokens]
    for kind in ("stt", "tts", "llm"):
        if kind in lowered:
            return kind
    low = base.lower()
    for kind, hints in _KIND_HINTS:
        if any(h in low for h in hints):
            return kind
    return None


class TranscriptBuilder:
    """Both sides' text from whichever RTVI messages the server sends.

    Preference, per side: user-input (final transcriptions) over the deprecated
    user-transcription; bot-output (one text per segment, latest wins) over
    bot-tts-text over bot-transcription. Turns are split where the other side spoke.
    """

    def __init__(self):
        self._items: list[tuple[str, str, float, str, Any]] = []  # role, text, t, source, key

    def add(self, ev: RTVIEvent) -> None:
        d = ev.data or {}
        if ev.type == "user-input":
            if d.get("final") and d.get("input_type", "transcription") == "transcription":
                self._items.append(("user", d.get("text", ""), ev.t, "user-input", None))
        elif ev.type == "user-transcription":
            if d.get("final"):
                self._items.append(("user", d.get("text", ""), ev.t, "user-transcription", None))
        elif ev.type == "bot-output":
            self._items.append(("bot", d.get("text", ""), ev.t, "bot-output", d.get("segment_id")))
        elif ev.type in ("bot-tts-text", "bot-transcription"):
            self._items.append(("bot", d.get("text", ""), ev.t, ev.type, None))

    def entries(self) -> list[TranscriptEntry]:
        sources = {src for _, _, _, src, _ in self._items}
        user_src = "user-input" if "user-input" in sources else "user-transcription"
        bot_src = next(
            (s for s in ("bot-output", "bot-tts-text", "bot-transcription") if s in sources), None
        )
        # One piece per bot-output segment (latest text wins, first arrival time kept).
        pieces: list[list[Any]] = []  # [role, text, t]
        by_segment: dict[Any, list[Any]] = {}
        for role, text, t, src, key in self._items:
            if src not in (user_src, bot_src):
                continue
            if src == "bot-output" and key is not None:
                if key in by_segment:
                    by_segment[key][1] = text
                    continue
                by_segment[key] = piece = [role, text, t]
            else:
                piece = [role, text, t]
            pieces.append(piece)
        out: list[TranscriptEntry] = []
        for role, text, t in pieces:
            text = text.strip()
            if not text:
                continue
            if out and out[-1].role == role:
                joiner = "" if role == "bot" and bot_src == "bot-tts-text" and _is_word_piece(text) else " "
                out[-1].text = (out[-1].text + joiner + text).strip()
            else:
                out.append(TranscriptEntry(role=role, text=text, t=t))
        return out


def _is_word_piece(text: str) -> bool:
    return bool(text) and text[0] in ",.!?;:'"


class RTVIClient:
    """The client end of RTVI on the SmallWebRTC data channel.

    Sends what Pipecat's JS client sends (``client-ready`` once open, then
    ``ping: <ms>`` every second) and keeps every server message with its arrival time.
    """

    def __init__(self, channel, clock: Callable[[], float]):
        self._channel = channel
        self._clock = clock
        self.events: list[RTVIEvent] = []
        self.opened_at: float | None = None
        self.bot_speaking = False
        self.bot_speaking_seen = False
        self.llm_busy = False  # between RTVI bot-llm-started and bot-llm-stopped
        self.llm_stopped_at: float | None = None
        self.server_left = asyncio.Event()
        self._ping_task: asyncio.Task | None = None
        self.transcript = TranscriptBuilder()
        channel.on("open", self._on_open)
        channel.on("message", self._on_message)

    def _on_open(self) -> None:
        self.opened_at = self._clock()
        logger.debug("data channel open")
        self.send(
            {
                "id": uuid.uuid4().hex[:8],
                "label": RTVI_LABEL,
                "type": "client-ready",
                "data": {
                    "version": RTVI_CLIENT_VERSION,
                    "about": {
                        "library": "voicebot-call-probe",
                        "library_version": "0.1.0",
                        "platform": "python-aiortc",
                    },
                },
            }
        )
        self._ping_task = asyncio.create_task(self._ping())

    async def _ping(self) -> None:
        while self._channel.readyState == "open":
            self._channel.send(f"ping: {int(time.time() * 1000)}")
            await asyncio.sleep(PING_INTERVAL_S)

    def send(self, message: dict) -> None:
        if self._channel.readyState == "open":
            self._channel.send(json.dumps(message))
        else:
            logger.warning(f"data channel not open, dropped {message.get('type')}")

    def _on_message(self, message: str | bytes) -> None:
        t = self._clock()
        try:
            msg = json.loads(message)
        except (ValueError, TypeError):
            logger.debug(f"non-JSON data channel message: {message!r:.80}")
            return
        if msg.get("type") == "signalling":
            inner = (msg.get("message") or {}).get("type")
            logger.debug(f"signalling: {inner}")
            if inner == "peerLeft":
                self.server_left.set()
            elif inner == "renegotiate":
                logger.warning("server asked to renegotiate; the probe doesn't, ignoring")
            return
        if msg.get("label") != RTVI_LABEL:
            return
        ev = RTVIEvent(t=t, type=msg.get("type", ""), data=msg.get("data"))
        self.events.append(ev)
        if ev.type == "bot-started-speaking":
            self.bot_speaking = self.bot_speaking_seen = True
        elif ev.type == "bot-stopped-speaking":
            self.bot_speaking = False
        elif ev.type in ("bot-llm-started", "bot-llm-stopped"):
            self.llm_busy = ev.type == "bot-llm-started"
            self.llm_stopped_at = None if self.llm_busy else t
        elif ev.type in ("error", "error-response"):
            logger.warning(f"RTVI {ev.type}: {ev.data}")
        self.transcript.add(ev)
        logger.trace(f"RTVI {ev.type}: {ev.data}")

    def first(self, type_: str, after: float = float("-inf")) -> float | None:
        return next((e.t for e in self.events if e.type == type_ and e.t >= after), None)

    def _ttfb_reports(self):
        for e in self.events:
            if e.type == "metrics":
                for m in (e.data or {}).get("ttfb", []):
                    # Pipecat announces every metrics-capable processor with a 0.0
                    # TTFB when the pipeline starts; that is not a measurement.
                    if m.get("value"):
                        yield m.get("processor", "?"), float(m["value"])

    def ttfb(self) -> dict[str, list[float]]:
        """Every TTFB reported, by processor, in arrival order."""
        out: dict[str, list[float]] = {}
        for processor, value in self._ttfb_reports():
            out.setdefault(processor, []).append(value)
        return out

    def ttfb_values(self, kind: str) -> list[float]:
        """TTFBs of all 'llm' | 'tts' | 'stt' processors, in arrival order."""
        return [v for p, v in self._ttfb_reports() if classify_processor(p) == kind]

    async def close(self) -> None:
        if self._ping_task:
            self._ping_task.cancel()
        if self._channel.readyState == "open":
            self._channel.close()


# ---------------------------------------------------------------------------
# The call
# ---------------------------------------------------------------------------


class CallProbe:
    """Places calls to a SmallWebRTC bot and measures them, one at a time per instance
    (make one probe per concurrent call). See the module docstring."""

    def __init__(self, url: str, config: ProbeConfig | None = None):
        self.url = url.rstrip("/")
        self.config = config or ProbeConfig()
        self._detector = SilenceDetector(self.config.speech_threshold_dbfs)
        self._t0 = time.monotonic()

    def _now(self) -> float:
        return time.monotonic() - self._t0

    async def call(
        self,
        say: str | Path | np.ndarray | list | None = None,
        timeout: float = 60.0,
        record: str | Path | None = None,
    ) -> CallResult:
        """Call, wait for the greeting, optionally say ``say``, wait for the answer, hang up.

        ``say`` is an audio file or mono int16 samples at 48 kHz, or a list of them: one
        caller turn each, every one after the bot's answer to the previous (the ``said_*``
        and answer fields then describe the last turn). Never raises for a failed call:
        the result says how it ended (``ended_by``, ``errors``).
        """
        cfg = self.config
        turns = say if isinstance(say, list) else ([] if say is None else [say])
        clips = [load_audio(t) if isinstance(t, (str, Path)) else np.asarray(t, np.int16) for t in turns]
        if cfg.loopback_ice or (cfg.loopback_ice is None and is_loopback_url(self.url)):
            allow_loopback_ice()

        result = CallResult(url=self.url)
        mic = CallerAudioTrack(self._detector)
        recorder = BotAudioRecorder(self._detector, self._now)
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        pc.addTransceiver(mic, direction="sendrecv")
        rtvi = RTVIClient(pc.createDataChannel(DATA_CHANNEL_LABEL, ordered=True), self._now)
        connected = asyncio.Event()
        failed = asyncio.Event()

        @pc.on("track")
        def on_track(track):
            if track.kind == "audio":
                recorder.attach(track)

        @pc.on("connectionstatechange")
        def on_state():
            logger.debug(f"peer connection {pc.connectionState}")
            if pc.connectionState == "connected":
                result.milestones.setdefault("webrtc_connected", self._now())
                connected.set()
            elif pc.connectionState in ("failed", "closed"):
                failed.set()

        try:
            async with asyncio.timeout(timeout):
                t_setup = time.monotonic()
                await pc.setLocalDescription(await pc.createOffer())  # gathers candidates
                self._t0 = time.monotonic()  # t0: just before the POST
                result.offer_setup_s = self._t0 - t_setup
                answer = await self._post_offer(pc.localDescription.sdp)
                result.pc_id = answer.get("pc_id")
                result.milestones["offer_answered"] = self._now()
                await pc.setRemoteDescription(
                    RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
                )
                await self._converse(pc, mic, recorder, rtvi, connected, failed, clips, result)
        except TimeoutError:
            result.ended_by = "timeout"
            result.errors.append(f"call timed out after {timeout:.0f} s")
            logger.warning(result.errors[-1])
        except _ServerHungUp:
            result.ended_by = "server_hangup"
        except (ProbeError, httpx.HTTPError) as e:
            result.ended_by = "error"
            result.errors.append(f"{type(e).__name__}: {e}")
            logger.error(result.errors[-1])
        except Exception as e:  # noqa: BLE001 - a probe reports, it doesn't crash
            result.ended_by = "error"
            result.errors.append(f"{type(e).__name__}: {e}")
            logger.exception("call failed")
        finally:
            await rtvi.close()
            await pc.close()
            await recorder.stop()
            mic.stop()

        self._fill(result, rtvi, recorder)
        if record is not None:
            write_wav(record, result.audio, result.sample_rate)
        return result

    async def _post_offer(self, sdp: str) -> dict:
        body: dict[str, Any] = {"sdp": sdp, "type": "offer", "pc_id": None, "restart_pc": False}
        if self.config.request_data is not None:
            body["request_data"] = self.config.request_data
        # trust_env=False: a proxy configured for the package registries must not see
        # our loopback traffic.
        async with httpx.AsyncClient(trust_env=False, timeout=self.config.connect_timeout_s) as http:
            response = await http.post(self.url + self.config.offer_path, json=body)
            response.raise_for_status()
            return response.json()

    async def _converse(self, pc, mic, recorder, rtvi, connected, failed, clips, result) -> None:
        cfg = self.config

        async def until(predicate: Callable[[], bool], timeout_s: float | None = None) -> bool:
            """Poll (20 ms) until predicate() or timeout; raise if the server hung up."""
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while not predicate():
                if rtvi.server_left.is_set() or failed.is_set():
                    raise _ServerHungUp()
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.02)
            return True

        if not await until(connected.is_set, cfg.connect_timeout_s):
            raise ProbeError(f"ICE/DTLS not connected within {cfg.connect_timeout_s} s")

        def turn_over(after: float) -> Callable[[], bool]:
            """Bot spoke after `after`, went quiet for the gap, and RTVI agrees it stopped."""

            def check() -> bool:
                end = recorder.last_speech_end()
                if end is None or recorder.first_speech_after(after) is None:
                    return False
                if rtvi.bot_speaking_seen and rtvi.bot_speaking:
                    return False
                if rtvi.llm_busy:  # e.g. "One moment, please." said while a tool is chosen
                    return False
                # A tool call ends one LLM response; the answer is a second one, just after.
                if rtvi.llm_stopped_at is not None and self._now() - rtvi.llm_stopped_at < cfg.post_speech_gap_s:
                    return False
                return self._now() - end >= cfg.post_speech_gap_s

            return check

        if not await until(turn_over(0.0), cfg.greeting_timeout_s - self._now()):
            msg = "no greeting heard" if not recorder.segments else "greeting did not finish"
            result.errors.append(f"{msg} within {cfg.greeting_timeout_s} s")
            logger.warning(result.errors[-1])

        for clip in clips:
            playback = mic.play(clip)
            await until(playback.done.is_set)
            if result.said_start_s is None:
                result.first_said_start_s = playback.start - self._t0
            result.said_start_s = playback.start - self._t0
            result.said_voice_end_s = playback.voice_end - self._t0
            result.said_end_s = playback.end - self._t0
            logger.debug(f"said {len(clip) / SAMPLE_RATE:.2f} s of audio")
            if not await until(turn_over(result.said_voice_end_s), cfg.answer_timeout_s):
                heard = recorder.first_speech_after(result.said_voice_end_s) is not None
                result.errors.append(
                    f"answer {'did not finish' if heard else 'not heard'} within "
                    f"{cfg.answer_timeout_s} s of our speech"
                )
                logger.warning(result.errors[-1])
                break

        await asyncio.sleep(cfg.linger_s)

    def _fill(self, result: CallResult, rtvi: RTVIClient, recorder: BotAudioRecorder) -> None:
        result.events = rtvi.events
        result.transcript = rtvi.transcript.entries()
        result.bot_speech = list(recorder.segments)
        result.audio = recorder.audio
        result.audio_start_s = recorder.start
        if rtvi.opened_at is not None:
            result.milestones["datachannel_open"] = rtvi.opened_at
        for name, type_ in (
            ("bot_ready", "bot-ready"),
            ("first_bot_started_speaking", "bot-started-speaking"),
            ("first_user_started_speaking", "user-started-speaking"),
            ("first_user_stopped_speaking", "user-stopped-speaking"),
        ):
            t = rtvi.first(type_)
            if t is not None:
                result.milestones[name] = t
        if recorder.segments:
            result.connect_to_first_audio_s = recorder.segments[0].start
            result.milestones["first_bot_audio"] = recorder.segments[0].start
        if result.said_voice_end_s is not None:
            t = recorder.first_speech_after(result.said_voice_end_s)
            if t is not None:
                result.voice_to_voice_s = t - result.said_voice_end_s
                result.milestones["first_answer_audio"] = t
        if recorder.segments:
            greeting_end = result.first_said_start_s if result.first_said_start_s is not None else result.said_start_s
            result.longest_greeting_gap_s = recorder.longest_gap(recorder.segments[0].start, greeting_end)
        if "first_answer_audio" in result.milestones:
            result.longest_reply_gap_s = recorder.longest_gap(result.milestones["first_answer_audio"])
        result.turn_stages_s = [
            e.data["stages"] for e in rtvi.events
            if e.type == "server-message" and isinstance(e.data, dict) and e.data.get("type") == "turn-stages"
        ]
        result.ttfb = rtvi.ttfb()
        for kind in ("llm", "tts", "stt"):
            values = rtvi.ttfb_values(kind)
            result.ttfb_by_kind[kind] = values
            setattr(result, f"{kind}_ttfb_s", values[0] if values else None)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def format_summary(result: CallResult) -> str:
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="call-probe", description="Call the voice bot over WebRTC and measure it."
    )
    p.add_argument("--url", default="http://localhost:7860", help="server base URL")
    p.add_argument("--say", metavar="FILE.wav", help="audio to say after the greeting")
    p.add_argument("--record", metavar="OUT.wav", help="write the bot's audio (48 kHz mono)")
    p.add_argument("--timeout", type=float, default=60.0, help="whole-call timeout, seconds")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--threshold-dbfs", type=float, default=ProbeConfig.speech_threshold_dbfs)
    p.add_argument("--greeting-timeout", type=float, default=ProbeConfig.greeting_timeout_s)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    args = p.parse_args(argv)

    logger.remove()
    logger.add(sys.stderr, level="DEBUG" if args.verbose else ("WARNING" if args.json else "INFO"))

    config = ProbeConfig(
        speech_threshold_dbfs=args.threshold_dbfs, greeting_timeout_s=args.greeting_timeout
    )
    result = asyncio.run(
        CallProbe(args.url, config).call(say=args.say, timeout=args.timeout, record=args.record)
    )
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(format_summary(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
