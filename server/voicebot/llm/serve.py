"""``uv run voicebot-llm``: the embedded model as one OpenAI-compatible server for many bots.

Each bot server embeds its own llama.cpp by default (~1.9 GB, both cores while it
writes). Replicas on one host, or several restaurants' servers, can share one instead:

    uv run voicebot-llm --port 8080 --slots 4           # prints the variables the bots need
    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=<key> VOICEBOT_LLM_MODEL=<alias> \\
        uv run server/06_parallel_tts_warmup.py 2

The bots ask it only for answers in words (bookings, orders and messages are the front
desk's, in code). Each slot serves one request at a time; give at least one per call the
bot servers take at once. The context is shared by the slots.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from loguru import logger

from voicebot.config import shared_llm_api_key
from voicebot.llm.embedded import EmbeddedLlamaConfig, EmbeddedLlamaServer


def build_parser() -> argparse.ArgumentParser:
    """The ``voicebot-llm`` flags; ``--api-key`` defaults to ``VOICEBOT_LLM_API_KEY``, else a random key."""
    parser = argparse.ArgumentParser(prog="voicebot-llm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--slots", type=int, default=4, help="requests served at once (default 4)")
    parser.add_argument("--context", type=int, default=None, help="tokens, shared by the slots (default 4096 each)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--generation-threads", type=int, default=0, help="threads while writing (0: --threads)")
    parser.add_argument("--poll", type=int, default=50, help="llama.cpp busy-wait level, 0-100")
    parser.add_argument("--cache-ram-mib", type=int, default=512, help="host-RAM prompt cache (0: off)")
    parser.add_argument("--slot-save-path", default="", help="folder for saved slot caches (copying a warm slot)")
    parser.add_argument("--api-key", default=shared_llm_api_key(),
                        help="key the bots must send (env VOICEBOT_LLM_API_KEY; default: a random one, printed)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Print the settings bots need, then serve until SIGINT/SIGTERM; 2 on bad flags, 1 if the server cannot start."""
    args = build_parser().parse_args(argv)
    if args.slots < 1 or not 0 < args.port < 65536:
        print("voicebot-llm: --slots must be at least 1 and --port within 1-65535", file=sys.stderr)
        return 2
    config = EmbeddedLlamaConfig(threads=args.threads, generation_threads=args.generation_threads, poll=args.poll,
                                 cache_ram_mib=args.cache_ram_mib, slot_save_path=args.slot_save_path,
                                 parallel=args.slots, host=args.host,
                                 port=args.port, context_size=args.context or 4096 * args.slots, api_key=args.api_key)
    server = EmbeddedLlamaServer(config)
    try:
        server.start(health_timeout=120)
    except RuntimeError as e:
        logger.error(f"{e} (is port {args.port} already in use?)")
        return 1
    print(f"OPENAI_BASE_URL={server.base_url}", flush=True)
    print(f"OPENAI_API_KEY={server.api_key}", flush=True)
    print(f"VOICEBOT_LLM_MODEL={server.model}", flush=True)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
