"""RTVI on the SmallWebRTC data channel, spoken as Pipecat's JS client speaks it.

The transcript, TTFBs and bot-ready the probe reports arrive as RTVI messages, and the
server expects ``client-ready`` and keep-alive pings from a live caller.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from loguru import logger

from voicebot.probe.results import RTVIEvent, TranscriptEntry

RTVI_LABEL = "rtvi-ai"
RTVI_CLIENT_VERSION = "2.2.0"
"""The RTVI protocol we speak: pipecat 1.14's ``PROTOCOL_VERSION``."""

DATA_CHANNEL_LABEL = "chat"
"""The label Pipecat's SmallWebRTC JS transport gives its data channel."""

PING_INTERVAL_S = 1.0
"""Keep-alive period. Once it has seen a ping, SmallWebRTCConnection considers the
client gone (and drops bot audio and messages) if the next is more than 3 s late."""


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

    def __init__(self) -> None:
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
