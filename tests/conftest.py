"""Shared fixtures: the real server in a subprocess, and a caller's question spoken by our TTS."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from voicebot.launcher import LocalServer, free_port
from voicebot.tts.speak import speak_to_wav

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The tests exercise the offline product: the embedded LLM, never OpenAI.
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What time do you close tonight?"
# The restaurant's clock in the end-to-end tests: a Wednesday afternoon, open (answers about
# "today" or "this Saturday" must not depend on when the tests run).
CLOCK = "2026-12-02T15:00"
ARTIFACTS = ROOT / "artifacts"


# Twilio's auth token for the shared server: its phone webhooks are checked as in production,
# against the public URL it is given (its own loopback address here).
TWILIO_TOKEN = "test-twilio-auth-token"


def start_server(workdir: Path, *args: str, ready_timeout: float = 600, clock: str = CLOCK,
                 env: dict[str, str] | None = None, wait_for_models: bool = True) -> LocalServer:
    """The real server, offline (the embedded LLM answers), logging at DEBUG, on the restaurant's ``clock``;
    its phone endpoints take only webhooks signed with ``TWILIO_TOKEN``."""
    port = free_port()
    env = {"VOICEBOT_LOG_LEVEL": "DEBUG", "VOICEBOT_CLOCK": clock, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           "VOICEBOT_PUBLIC_URL": f"http://127.0.0.1:{port}", **(env or {})}
    return LocalServer.start(workdir, *args, env=env, ready_timeout=ready_timeout, port=port,
                             wait_for_models=wait_for_models)


@pytest.fixture(scope="session")
def voicebot_server(tmp_path_factory):
    """The real server for company #2 (embedded LLM, onnx Kokoro), shared by the end-to-end tests."""
    server = start_server(tmp_path_factory.mktemp("server"), "2")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def question_wav(tmp_path_factory) -> Path:
    """A caller asking ``QUESTION``, spoken by the project's Kokoro TTS (48 kHz, 16-bit mono)."""
    return asyncio.run(speak_to_wav(QUESTION, tmp_path_factory.mktemp("audio") / "question.wav"))
