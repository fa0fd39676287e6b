"""Phrases the bot says word for word, synthesized once and kept as PCM.

The greeting is known before any caller arrives (it is the company's own), so there is
no reason to make a caller wait for an LLM and a TTS to say it. The server synthesizes
it at start-up with the call's voice, keeps the audio on disk keyed by everything that
shapes it (text, engine, model, voice), and the TTS service plays it the instant it is
asked to speak that text. A changed greeting is a different key: it is synthesized anew
on the next start.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from loguru import logger

from voicebot.models.weights import cache_dir
from voicebot.tts.worker_client import KokoroWorkerProcess

_FORMAT_VERSION = 1

# First clauses the LLM often opens a reply with: played from the cache, they cost no synthesis.
COMMON_OPENERS = ("Sure.", "Sure,", "Yes,", "Yes.", "Yes!", "No,", "Of course.", "Of course!", "Of course,",
                  "Absolutely!", "Certainly!", "Sorry,", "I'm sorry,", "Great question!", "Okay,", "Hello!",
                  "You're welcome!")


def normalize(text: str) -> str:
    """The lookup key for a phrase: Pipecat may add a trailing space before synthesis."""
    return " ".join(text.split())


class PhraseCache:
    """PCM (s16le mono at ``sample_rate``) of fixed phrases, by normalized text."""

    def __init__(self, *, engine: str, model: str | None, voice: str | None, sample_rate: int = 24000,
                 directory: Path | None = None):
        self._engine = engine
        self._model = model
        self._voice = voice
        self.sample_rate = sample_rate
        self._directory = directory or cache_dir() / "phrases"
        self._audio: dict[str, bytes] = {}
        self._wanted: set[str] = set()  # phrases still to synthesize: a call that speaks one keeps it

    def get(self, text: str) -> bytes | None:
        return self._audio.get(normalize(text))

    def __len__(self) -> int:
        return len(self._audio)

    def __contains__(self, text: str) -> bool:
        return normalize(text) in self._audio

    def _path(self, text: str) -> Path:
        key = json.dumps([_FORMAT_VERSION, self._engine, self._model, self._voice, self.sample_rate, normalize(text)])
        return self._directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.pcm"

    async def load(self, texts: list[str], worker: KokoroWorkerProcess | None = None,
                   before_each: Callable[[], Awaitable[None]] | None = None) -> dict[str, str]:
        """Make every phrase ready: from disk, else synthesized (with ``worker`` or a new one).

        ``before_each`` is awaited before each synthesis (the server waits there while calls
        are in progress). Returns where each came from (``"disk"`` or ``"synthesized"``), for
        the start-up log.
        """
        origins: dict[str, str] = {}
        missing = []
        self._wanted |= {normalize(t) for t in texts if normalize(t) not in self._audio}
        for text in texts:
            path = self._path(text)
            if path.exists() and path.stat().st_size > 0:
                self._audio[normalize(text)] = path.read_bytes()
                origins[text] = "disk"
            else:
                missing.append(text)
        if not missing:
            return origins
        own_worker = worker is None
        if worker is None:
            worker = KokoroWorkerProcess(engine=self._engine, model=self._model, voice=self._voice)
            await worker.start()
        try:
            for text in missing:
                if before_each is not None:
                    await before_each()
                if text in self:  # a call spoke it meanwhile, and kept it
                    origins[text] = "a call"
                    continue
                pcm = b"".join([piece.pcm async for piece in worker.synthesize(normalize(text), voice=self._voice)])
                info = worker.info
                assert info is not None, "synthesize() answers only from a started worker"
                if info.sample_rate != self.sample_rate:
                    raise ValueError(f"worker speaks at {info.sample_rate} Hz, cache wants {self.sample_rate}")
                self._store(text, pcm)
                origins[text] = "synthesized"
        finally:
            if own_worker:
                await worker.stop()
        return origins

    def wants(self, text: str) -> bool:
        """Whether ``text`` is a fixed phrase not synthesized yet (a call that speaks it should keep it)."""
        return normalize(text) in self._wanted

    def keep(self, text: str, pcm: bytes, sample_rate: int) -> None:
        """A wanted phrase, as a call's TTS just synthesized it: the next call plays it from here."""
        if self.wants(text) and sample_rate == self.sample_rate and pcm:
            self._store(text, pcm)

    def _store(self, text: str, pcm: bytes) -> None:
        path = self._path(text)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(pcm)
        partial.replace(path)
        self._audio[normalize(text)] = pcm
        self._wanted.discard(normalize(text))
        logger.debug(f"Phrase cached ({len(pcm) / 2 / self.sample_rate:.2f}s of audio): {text!r}")


async def load_phrases(cache: PhraseCache, texts: list[str], worker: KokoroWorkerProcess | None = None,
                       quiet: bool = False, before_each: Callable[[], Awaitable[None]] | None = None) -> None:
    """Start-up helper that logs what was loaded (``quiet``: at DEBUG); never lets a failure stop the server."""
    try:
        origins = await cache.load(texts, worker, before_each)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("Could not pre-synthesize the fixed phrases; they will be synthesized per call")
        return
    for text, origin in origins.items():
        (logger.debug if quiet else logger.info)(f"Phrase ready ({origin}): {text!r}")
