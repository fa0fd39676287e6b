"""The server's HTTP surface against the real process: health, bad input, unknown company."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from conftest import ROOT
from voicebot.config import LLMBackend, default_max_calls
from voicebot.launcher import SERVER_SCRIPT

pytestmark = pytest.mark.slow


def test_unknown_company_exits_with_the_known_ids(tmp_path):
    """The README's database (./business.db, with the demo restaurants) lists them; a database of
    one's own that is still empty says how to fill it."""
    def serve(env: dict[str, str]) -> str:
        result = subprocess.run([sys.executable, str(SERVER_SCRIPT), "42", "--port", "0"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120,
                                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env})
        assert result.returncode == 2
        return result.stdout + result.stderr

    output = serve({})
    assert "Unknown company id 42" in output
    assert "1 (Luigi's Trattoria)" in output and "2 (Tomodachi Sushi)" in output
    own = serve({"VOICEBOT_DB": str(tmp_path / "own.db")})
    assert "Known companies: none" in own and "voicebot company import" in own


def test_health_reports_ready_company_and_engines(voicebot_server):
    health = voicebot_server.health()
    assert health["ready"] is True and health["status"] == "ready"
    assert health["company"] == {"id": 2, "name": "Tomodachi Sushi"}
    assert set(health["engines"]) == {"vad", "turn", "stt", "llm", "tts", "greeting"}
    assert "embedded llama.cpp" in health["engines"]["llm"]
    assert "voice af_heart" in health["engines"]["tts"]
    assert health["engines"]["greeting"] == "cached"
    # The README's command is the fastest mode: a pool of warm workers, the greeting pre-synthesized.
    assert health["tts_warmup"] == "pool"
    # The greeting and the goodbye are cached before ready; the desk's sentences follow in the background.
    assert health["phrases"]["cached"] >= 2 and isinstance(health["phrases"]["loading"], bool), health
    capacity = default_max_calls(LLMBackend.EMBEDDED, os.cpu_count())  # the LLM is embedded: a call per 2 cores
    assert health["admission"]["capacity"] == capacity
    assert health["tts_pool"]["size"] == capacity + 1 and len(health["tts_worker_pids"]) >= capacity + 1


def test_startup_prints_the_seed_progress_lines(voicebot_server):
    output = voicebot_server.output()
    for line in ("1/6 Loading Silero VAD model...", "  ✓ VAD loaded in", "2/6 Loading Local Smart Turn v3 model...",
                 "  ✓ Smart Turn loaded in", "5/6 Warming",
                 "6/6 Preparing the greeting audio...",
                 "  ✓ Greeting ready in", "✓ ALL MODELS PRELOADED - Ready for instant connections!"):
        assert line in output


def test_malformed_offers_get_4xx_and_the_server_keeps_serving(voicebot_server):
    url = f"{voicebot_server.url}/api/offer"
    cases = {
        "not json": dict(content=b"{not json", headers={"content-type": "application/json"}),
        "json array": dict(json=[1, 2, 3]),
        "missing sdp": dict(json={"type": "offer"}),
        "wrong type": dict(json={"sdp": "v=0\r\n", "type": "answer"}),
        "garbage sdp": dict(json={"sdp": "hello, I am not an SDP", "type": "offer"}),
        "broken sdp": dict(json={"sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nm=audio x y\r\n", "type": "offer"}),
        "huge body": dict(content=b'{"sdp": "' + b"a" * (2 * 1024 * 1024) + b'", "type": "offer"}',
                          headers={"content-type": "application/json"}),
    }
    for name, kwargs in cases.items():
        response = httpx.post(url, timeout=30, **kwargs)
        assert 400 <= response.status_code < 500, f"{name}: {response.status_code} {response.text[:200]}"
    patch = httpx.patch(url, json={"pc_id": "nope", "candidates": []}, timeout=10)
    assert patch.status_code == 404
    assert httpx.patch(url, content=b"[]", timeout=10).status_code == 400
    assert voicebot_server.health()["ready"] is True
    assert voicebot_server.process.poll() is None


def test_client_is_served_at_root(voicebot_server):
    response = httpx.get(voicebot_server.url + "/", timeout=10)
    assert response.status_code == 200
    assert "<html" in response.text.lower()
    if (ROOT / "client" / "dist" / "index.html").exists():
        assert "voicebot" in response.text.lower() or "connect" in response.text.lower()
