"""The embedded llama.cpp server with the real Qwen2.5-1.5B model: no mocks.

Starts it the way the bot does (its own process, preload + warm-up), streams turns through
Pipecat's OpenAILLMService request path, checks the answers and that the system prompt came
from the KV cache, kills it to see it restarted, then stops it and checks it is gone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
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
    start_llm,
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


@pytest.mark.timeout(180)
async def test_embedded_llm_answers_from_a_warm_cache_in_every_slot_and_stops_cleanly():
    """The bot server's own LLM: its own process, one warm slot per call, timings reported."""
    settings = LLMConfig(backend=LLMBackend.EMBEDDED, threads=2)
    process = start_llm(settings, slots=2)
    warmup = process.warm(SYSTEM_PROMPT)
    assert process is not None and process.running and warmup is not None
    pid, port = process.pid, process.port
    assert pid != os.getpid() and psutil.pid_exists(pid)
    assert process.base_url == f"http://127.0.0.1:{port}/v1"
    # The warm-up's check request reused the system prompt instead of recomputing it.
    assert warmup.cold.cached_tokens == 0
    assert warmup.prefix_reused
    assert warmup.cached.cached_tokens >= warmup.cold.prompt_tokens - 10

    try:
        for slot in (0, 1):  # the second slot got a copy of the first one's warm cache
            reported = []

            service = create_llm_service(settings, SYSTEM_PROMPT, process=process, slot=slot)

            @service.event_handler("on_llm_timings")
            async def on_timings(service, timings, reported=reported):
                reported.append(timings)

            context = LLMContext(messages=[{"role": "user", "content": "What time do you close?"}])
            started = time.perf_counter()
            ttft: float | None = None
            text = ""
            stream = await service.get_chat_completions(context)  # Pipecat's exact request
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                    ttft = ttft if ttft is not None else time.perf_counter() - started
                    text += chunk.choices[0].delta.content
            await stream.close()
            logger.info(f"slot {slot}: TTFT {ttft:.2f} s, {reported[0]}; {text!r}")
            assert ttft is not None, "no text streamed"
            assert "10" in text or "ten" in text.lower(), text
            # The system prompt came from the slot's cache: only the new turn was evaluated.
            first = reported[0]
            assert first.cache_n >= warmup.cold.prompt_tokens - 10, first
            assert first.prompt_n < warmup.cold.prompt_tokens / 3, first
            await service.cleanup()
    finally:
        process.stop()

    assert not process.running and not psutil.pid_exists(pid)
    assert not _port_accepts(port), "port still open after stop()"


@pytest.mark.timeout(240)
async def test_a_killed_llm_process_is_restarted_and_answers_again():
    """SIGKILL mid-answer: the supervisor starts it again on the same address, warm."""
    settings = LLMConfig(backend=LLMBackend.EMBEDDED, threads=2)
    process = start_llm(settings, slots=1)
    process.warm(SYSTEM_PROMPT)
    first_pid = process.pid
    try:
        service = create_llm_service(settings, SYSTEM_PROMPT, process=process, slot=0)
        context = LLMContext(messages=[{"role": "user", "content": "Tell me about your restaurant in detail."}])
        stream = await service.get_chat_completions(context)
        with pytest.raises(Exception):  # noqa: B017 - httpx's or openai's, by where the kill lands
            async for _ in stream:
                process.kill_for_test()
        wait_until(lambda: process.running and process.pid != first_pid, timeout=180)
        assert process.restarts == 1
        context = LLMContext(messages=[{"role": "user", "content": "What time do you close?"}])
        answer = ""
        stream = await service.get_chat_completions(context)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                answer += chunk.choices[0].delta.content
        assert "10" in answer or "ten" in answer.lower(), answer
        await service.cleanup()
    finally:
        process.stop()


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
