"""Kokoro-82M inference engines: the same model and voices on ONNX Runtime or MLX."""

from voicebot.tts.engines.base import KokoroEngine
from voicebot.tts.engines.factory import create_engine

__all__ = ["KokoroEngine", "create_engine"]
