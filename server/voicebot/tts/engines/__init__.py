"""Kokoro-82M inference engines: the same model and voices on ONNX Runtime or MLX."""

from voicebot.tts.engines.base import KokoroEngine, create_engine, default_engine_name

__all__ = ["KokoroEngine", "create_engine", "default_engine_name"]
