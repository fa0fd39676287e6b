"""Shared fixtures: the real server in a subprocess, and a caller's question spoken by our TTS."""

from __future__ import annotations

import asyncio
import os
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from voicebot.launcher import LocalServer

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What time do you close tonight?"
ARTIFACTS = ROOT / "artifacts"


def start_server(workdir: Path, *args: str, ready_timeout: float = 600) -> LocalServer:
    """The real server, offline: no OpenAI variables, so the embedded LLM answers."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["VOICEBOT_LOG_LEVEL"] = "DEBUG"
    os.environ.pop("OPENAI_API_KEY", None)
    os.environ.pop("OPENAI_BASE_URL", None)
    return LocalServer.start(workdir, *args, env=env, ready_timeout=ready_timeout)


@pytest.fixture(scope="session")
def voicebot_server(tmp_path_factory):
    """The real server for company #2 (embedded LLM, onnx Kokoro), shared by the end-to-end tests."""
    server = start_server(tmp_path_factory.mktemp("server"), "2")
    yield server
    server.stop()


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="session")
def question_wav(tmp_path_factory) -> Path:
    """A caller asking ``QUESTION``, spoken by the project's Kokoro TTS (48 kHz, 16-bit mono)."""
    from speech import pcm16_to_float, resample
    from voicebot.tts.worker_client import KokoroWorkerProcess

    async def speak() -> np.ndarray:
        worker = KokoroWorkerProcess(engine="onnx")
        await worker.start()
        try:
            pieces = [pcm16_to_float(p.pcm) async for p in worker.synthesize(QUESTION, voice="jm_kumo")]
        finally:
            await worker.stop()
        return np.concatenate(pieces)

    audio = resample(asyncio.run(speak()), 24000, 48000)
    return write_wav(tmp_path_factory.mktemp("audio") / "question.wav", audio, 48000)
