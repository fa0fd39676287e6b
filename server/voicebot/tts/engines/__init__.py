"""Kokoro-82M inference engines: the same model and voices on ONNX Runtime or MLX."""

from voicebot.tts.engines.base import KokoroEngine
from voicebot.tts.engines.factory import ENGINE_NAMES, create_engine

__all__ = ["ENGINE_NAMES", "KokoroEngine", "create_engine"]
