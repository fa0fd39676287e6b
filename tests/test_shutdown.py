"""Clean shutdown of the real server: SIGTERM ends TTS workers and the embedded LLM."""

from __future__ import annotations

import psutil
import pytest

from conftest import start_server
from helpers import pids_alive, wait_until

pytestmark = pytest.mark.slow


def test_sigterm_stops_workers_and_llm_and_exits_cleanly(tmp_path):
    server = start_server(tmp_path / "pool", "2", "--tts-pool-size", "1")
    try:
        health = server.health()
        assert health["tts_warmup"] == "pool"
        worker_pids = health["tts_worker_pids"]
        assert len(worker_pids) == 1  # warmed before any call
        assert "TTS workers warm in" in server.output()
        children = [p.pid for p in psutil.Process(server.process.pid).children(recursive=True)]
    finally:
        code = server.stop()
    # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught (exit -15).
    assert code in (0, -15), server.output()[-2000:]
    assert "Shutdown complete" in server.output()
    assert "embedded llama.cpp server stopped" in server.output()

    # A process that was told to exit takes a moment to go.
    everyone = set(children + worker_pids)
    assert wait_until(lambda: not pids_alive(everyone), timeout=5), pids_alive(everyone)
