"""The embedded LLM alone: cold vs cached time to first token, generation speed, RSS.

    uv run python bench/llm.py [--threads 2] [--generation-threads 1] [--runs 5]

Starts the embedded llama.cpp server (the PyPI-assembled GGUF) in this process, as the
bot does, and streams a few restaurant questions with and without the system prompt in
its cache.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from voicebot.llm.embedded import EmbeddedLlamaConfig, EmbeddedLlamaServer


def _stream_ttft(
    server: EmbeddedLlamaServer, messages: list[dict[str, Any]], max_tokens: int
) -> tuple[float, dict]:
    """Client-side time to first streamed token, and the final chunk's timings."""
    body = {
        "model": server.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "stream": True,
        "temperature": 0.6,
        "cache_prompt": True,
    }
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.api_key}"},
    )
    started = time.perf_counter()
    ttft, timings = float("nan"), {}
    with urllib.request.urlopen(request, timeout=120) as r:
        for line in r:
            if not line.startswith(b"data: {"):
                continue
            chunk = json.loads(line[6:])
            delta = (chunk.get("choices") or [{}])[0].get("delta") or {}
            if delta.get("content") and ttft != ttft:
                ttft = time.perf_counter() - started
            timings = chunk.get("timings") or timings
    return ttft, timings


def main(argv: list[str] | None = None) -> None:
    """Cold vs cached time to first token, tok/s, RSS."""
    import argparse
    import statistics

    import psutil

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--generation-threads", type=int, default=0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    system = (
        "You are the phone assistant of Luigi's Trattoria, an Italian restaurant at 12 Main Street. "
        "We are open every day from 11am to 10pm. We take table reservations for up to 8 people, "
        "offer takeaway and have vegetarian and gluten-free dishes. Answer callers in one or two "
        "short spoken sentences, without lists or markdown."
    )
    questions = [
        "What time do you close?",
        "Where are you?",
        "Do you have gluten-free pasta?",
        "Can I book a table for six tonight?",
        "Do you do takeaway?",
    ]
    server = EmbeddedLlamaServer(EmbeddedLlamaConfig(threads=args.threads, generation_threads=args.generation_threads))
    t = time.perf_counter()
    server.start()
    load_s = time.perf_counter() - t
    try:
        first = server.warm(system)
        cold, warm = [], []
        for i in range(args.runs):
            # A unique first line makes the whole system prompt a cache miss.
            unique = {"role": "system", "content": f"Call reference {i * 7919 + 17}.\n{system}"}
            cold.append(_stream_ttft(server, [unique, {"role": "user", "content": questions[i % 5]}], 8))
            server.warm(system)  # back to the bot's prompt, as a new call would find it
            warm.append(
                _stream_ttft(
                    server,
                    [{"role": "system", "content": system}, {"role": "user", "content": questions[i % 5]}],
                    8,
                )
            )
        _, long_timings = _stream_ttft(
            server,
            [
                {"role": "system", "content": system},
                {"role": "user", "content": "Describe three of your pasta dishes in detail."},
            ],
            120,
        )
        rss = psutil.Process().memory_info().rss / 1e9
        print(
            f"model load {load_s:.1f} s; first prompt after load {first.cold.wall_s:.2f} s "
            f"({first.cold.prompt_tokens} tokens)"
        )
        print(
            f"cold TTFT  median {statistics.median(c[0] for c in cold):.2f} s "
            f"(runs {', '.join(f'{c[0]:.2f}' for c in cold)}; ~{cold[0][1].get('prompt_n')} tokens computed)"
        )
        print(
            f"warm TTFT  median {statistics.median(w[0] for w in warm):.2f} s "
            f"(runs {', '.join(f'{w[0]:.2f}' for w in warm)}; {warm[0][1].get('cache_n')} cached, "
            f"{warm[0][1].get('prompt_n')} computed)"
        )
        print(
            f"generation {long_timings.get('predicted_per_second', 0):.1f} tok/s over "
            f"{long_timings.get('predicted_n')} tokens; RSS {rss:.2f} GB; {args.threads} threads"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
