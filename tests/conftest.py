"""Shared fixtures: the real server in a subprocess, and a caller's question spoken by our TTS."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SERVER_SCRIPT = ROOT / "server" / "06_parallel_tts_warmup.py"
QUESTION = "What time do you close tonight?"
ARTIFACTS = ROOT / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    workdir: Path
    log_path: Path

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def health(self) -> dict:
        return httpx.get(f"{self.url}/health", timeout=5).json()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(workdir: Path, *args: str, ready_timeout: float = 600) -> RunningServer:
    """Start ``06_parallel_tts_warmup.py`` in ``workdir`` and wait until /health says ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / "server-output.log"
    env = {**os.environ, "VOICEBOT_DB": str(workdir / "business.db"), "VOICEBOT_LOG_LEVEL": "DEBUG"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), *args, "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", process, workdir, log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.output()[-3000:]}")
        try:
            if server.health().get("ready"):
                return server
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    stop_server(server)
    raise TimeoutError(f"server not ready after {ready_timeout}s:\n{server.output()[-3000:]}")


def stop_server(server: RunningServer) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(10)
    return server.process.returncode


@pytest.fixture(scope="session")
def voicebot_server(tmp_path_factory):
    """The real server for company #2 (embedded LLM, onnx Kokoro), shared by the end-to-end tests."""
    server = start_server(tmp_path_factory.mktemp("server"), "2")
    yield server
    stop_server(server)


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
