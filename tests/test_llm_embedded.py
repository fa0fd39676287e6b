"""The embedded llama.cpp server with the real Qwen2.5-1.5B model: no mocks.

Starts it the way the bot does (preload + warm-up), streams one turn through Pipecat's
OpenAILLMService request path, checks the answer and that the system prompt came from
the KV cache, then stops it and checks the port is closed. ~15-25 s on 2 cores.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest
from loguru import logger
from pipecat.processors.aggregators.llm_context import LLMContext

from helpers import wait_until
from voicebot.llm import (
    LLMBackend,
    LLMConfig,
    create_llm_service,
    preload_llm,
    shared_embedded_server,
    shutdown_llm,
)

pytestmark = pytest.mark.slow

SYSTEM_PROMPT = (
    "You are the phone assistant of Luigi's Trattoria, an Italian restaurant at "
    "12 Main Street. We are open every day from 11am to 10pm. We take table "
    "reservations for up to 8 people and offer takeaway. Answer callers in one or two "
    "short spoken sentences, without lists or markdown."
)


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _native_threads() -> int:
    """OS threads that are not Python threads: those the C++ server starts."""
    return len(psutil.Process().threads()) - threading.active_count()


@pytest.mark.timeout(120)
async def test_embedded_llm_answers_from_a_warm_cache_and_stops_cleanly():
    settings = LLMConfig(backend=LLMBackend.EMBEDDED, threads=2)
    native_before = _native_threads()

    warmup = preload_llm(settings, SYSTEM_PROMPT)
    server = shared_embedded_server()
    assert server is not None and server.running and warmup is not None
    port = server.port
    assert server.base_url == f"http://127.0.0.1:{port}/v1"
    # The warm-up's check request reused the system prompt instead of recomputing it.
    assert warmup.cold.cached_tokens == 0
    assert warmup.prefix_reused
    assert warmup.cached.cached_tokens >= warmup.cold.prompt_tokens - 10

    try:
        service = create_llm_service(settings, SYSTEM_PROMPT)
        context = LLMContext(messages=[{"role": "user", "content": "What time do you close?"}])

        started = time.perf_counter()
        ttft: float | None = None
        text = ""
        usage = None
        timings: dict = {}
        stream = await service.get_chat_completions(context)  # Pipecat's exact request
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                ttft = ttft if ttft is not None else time.perf_counter() - started
                text += chunk.choices[0].delta.content
            if chunk.usage:
                usage = chunk.usage
            timings = (chunk.model_extra or {}).get("timings") or timings
        await stream.close()

        logger.info(
            f"cold prompt {warmup.cold.wall_s:.2f} s ({warmup.cold.prompt_tokens} tokens); "
            f"warm TTFT {ttft:.2f} s, cached {usage.prompt_tokens_details.cached_tokens}/"
            f"{usage.prompt_tokens}; {timings.get('predicted_per_second', 0):.1f} tok/s; {text!r}"
        )
        assert ttft is not None, "no text streamed"
        assert "10" in text or "ten" in text.lower(), text
        # The system prompt was served from the KV cache: only the new turn was computed.
        cached = usage.prompt_tokens_details.cached_tokens
        assert cached >= warmup.cold.prompt_tokens - 10, (cached, usage)
        assert usage.prompt_tokens - cached < warmup.cold.prompt_tokens / 3, usage
        assert timings["cache_n"] == cached
        assert usage.completion_tokens <= 150  # the phone-bot cap reached the server
    finally:
        shutdown_llm()

    assert shared_embedded_server() is None and not server.running
    assert not _port_accepts(port), "port still open after stop()"
    # llama.cpp's threads are joined; what may remain is ggml's idle OpenMP pool
    # (threads - 1 workers), which never blocks exit (see the next test).
    assert _native_threads() <= native_before + settings.threads - 1, _native_threads()


@pytest.mark.timeout(90)
def test_interpreter_exits_promptly_with_the_server_still_running():
    """Nobody calls stop(): the atexit hook must free the server so exit neither hangs nor crashes."""
    script = textwrap.dedent(
        """
        from voicebot.llm import EmbeddedLlamaServer, EmbeddedLlamaConfig
        server = EmbeddedLlamaServer(EmbeddedLlamaConfig(threads=2, context_size=1024))
        print(server.start(), flush=True)
        """
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=80)
    assert done.returncode == 0, done.stderr[-2000:]
    url = done.stdout.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:")
    assert "embedded llama.cpp server stopped" in done.stderr
    assert not _port_accepts(int(url.rsplit(":", 1)[1].split("/")[0]))
    logger.info(f"subprocess start + exit took {time.perf_counter() - started:.1f} s")


def test_voicebot_llm_serves_the_model_to_other_bots_behind_a_key(tmp_path):
    """``voicebot-llm`` (the shared server of docs/deploy.md): a bot with its URL and key gets
    answers; a request without the key is refused."""
    import httpx

    from voicebot.launcher import free_port

    port = free_port()
    log = tmp_path / "llm.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "voicebot.llm.serve", "--port", str(port), "--slots", "2",
                                   "--api-key", "test-key"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "OPENAI_BASE_URL=" in log.read_text() or server.poll() is not None, timeout=120)
        assert server.poll() is None, log.read_text()
        assert f"OPENAI_BASE_URL=http://127.0.0.1:{port}/v1" in log.read_text()
        body = {"messages": [{"role": "system", "content": SYSTEM_PROMPT},
                             {"role": "user", "content": "What time do you close?"}], "max_tokens": 30}
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        refused = httpx.post(url, json=body, timeout=60)
        assert refused.status_code == 401
        answer = httpx.post(url, json=body, headers={"Authorization": "Bearer test-key"}, timeout=120)
        assert answer.status_code == 200
        assert "10" in answer.json()["choices"][0]["message"]["content"]
    finally:
        server.terminate()
        assert server.wait(30) == 0
