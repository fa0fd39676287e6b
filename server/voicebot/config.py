"""Server settings: command-line flags over environment variables over defaults."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from voicebot.llm import LLMSettings
from voicebot.stt import WhisperConfig, usable_engine
from voicebot.tts.engines import default_engine_name
from voicebot.tts.voices import DEFAULT_HUB_MODEL, DEFAULT_VOICE


class TTSWarmup(str, Enum):
    """When a call's Kokoro worker gets loaded."""

    FIRST_USE = "first-use"  # the 05 behaviour: on the first sentence, on the critical path
    ON_CONNECT = "on-connect"  # the seed's 06: a background task fired as the call connects
    POOL = "pool"  # ours: warmed before the call arrives, handed back when it ends


class GreetingMode(str, Enum):
    """How the bot's first words are made."""

    CACHED = "cached"  # the company's greeting, synthesized at start-up, played on connect
    LLM = "llm"  # the seed's: the LLM writes a greeting, the TTS speaks it


@dataclass(frozen=True)
class KokoroConfig:
    engine: str = field(default_factory=default_engine_name)
    model: str = DEFAULT_HUB_MODEL
    voice: str = DEFAULT_VOICE
    warmup: TTSWarmup = TTSWarmup.POOL
    pool_size: int = 3
    request_timeout_s: float = 30.0


@dataclass(frozen=True)
class ServerSettings:
    company_id: int
    host: str = "localhost"
    port: int = 7860
    database: str | None = None  # a SQLite path or a postgresql:// URL; None: VOICEBOT_DB or ./business.db
    client_dir: Path | None = None
    greeting: GreetingMode = GreetingMode.CACHED
    max_calls: int = 3
    max_pending_per_client: int = 2
    offer_timeout_s: float = 10.0
    access_token: str | None = None
    tts: KokoroConfig = field(default_factory=KokoroConfig)
    stt: WhisperConfig = field(default_factory=WhisperConfig)
    llm: LLMSettings = field(default_factory=LLMSettings)
    # glibc heap: at most this many malloc arenas (0: glibc's default) and freed pages
    # returned to the OS after each call (voicebot/memory.py; measured in bench/soak.py).
    malloc_arenas: int = 2
    trim_after_call: bool = True


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description="Voice bot that answers the phone for a business, over WebRTC.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("company_id", type=int, help="id of the company in the business database")
    parser.add_argument("--host", default=env("VOICEBOT_HOST", "localhost"))
    parser.add_argument("--port", type=int, default=int(env("VOICEBOT_PORT", "7860")))
    parser.add_argument("--db", default=None,
                        help="business database: a SQLite file or a postgresql:// URL (env VOICEBOT_DB; default ./business.db)")
    parser.add_argument("--greeting", choices=[m.value for m in GreetingMode],
                        default=env("VOICEBOT_GREETING", GreetingMode.CACHED.value),
                        help="cached: the company's greeting pre-synthesized, played on connect; "
                             "llm: written by the LLM on connect (the seed's)")
    parser.add_argument("--max-calls", type=int, default=int(env("VOICEBOT_MAX_CALLS", "3")),
                        help="calls taken at once; more get 'all lines are busy' (HTTP 503 + Retry-After)")
    parser.add_argument("--offer-timeout", type=float, default=float(env("VOICEBOT_OFFER_TIMEOUT", "10")),
                        help="seconds an answered offer may take to connect before it is dropped")
    parser.add_argument("--tts-warmup", choices=[m.value for m in TTSWarmup],
                        default=env("VOICEBOT_TTS_WARMUP", TTSWarmup.POOL.value),
                        help="when each call's Kokoro worker is loaded: pool (warm before the call), "
                             "on-connect (the seed's 06), first-use (05)")
    parser.add_argument("--tts-pool-size", type=int, default=int(env("VOICEBOT_TTS_POOL_SIZE", "3")),
                        help="warm Kokoro workers kept ready in pool mode (one per simultaneous caller)")
    parser.add_argument("--tts-engine", choices=["onnx", "mlx"], default=None,
                        help="Kokoro engine (env VOICEBOT_TTS_ENGINE; default mlx on Apple Silicon, else onnx)")
    parser.add_argument("--tts-model", default=env("VOICEBOT_TTS_MODEL", DEFAULT_HUB_MODEL))
    parser.add_argument("--tts-voice", default=env("VOICEBOT_TTS_VOICE", DEFAULT_VOICE))
    parser.add_argument("--tts-timeout", type=float, default=float(env("VOICEBOT_TTS_TIMEOUT", "30")),
                        help="seconds a busy TTS worker may stay silent before it is killed")
    parser.add_argument("--stt-engine", choices=["faster-whisper", "mlx"], default=None,
                        help="speech to text (env VOICEBOT_STT_ENGINE; default mlx on Apple Silicon)")
    parser.add_argument("--stt-model", default=None, help="tiny.en, base or a folder (env VOICEBOT_STT_MODEL)")
    parser.add_argument("--llm-model", default=None,
                        help="LLM model (env VOICEBOT_LLM_MODEL; default gpt-4o-mini, or the embedded Qwen)")
    parser.add_argument("--llm-backend", choices=["openai", "openai-compatible", "embedded"], default=None,
                        help="default: OPENAI_BASE_URL → openai-compatible, OPENAI_API_KEY → openai, else embedded")
    return parser


def parse_settings(argv: list[str] | None = None) -> ServerSettings:
    args = build_parser().parse_args(argv)
    tts = KokoroConfig(
        engine=args.tts_engine or default_engine_name(),
        model=args.tts_model,
        voice=args.tts_voice,
        warmup=TTSWarmup(args.tts_warmup),
        pool_size=max(1, args.tts_pool_size),
        request_timeout_s=args.tts_timeout,
    )
    client_dir = Path(os.environ.get("VOICEBOT_CLIENT_DIR") or Path(__file__).resolve().parents[2] / "client" / "dist")
    return ServerSettings(
        company_id=args.company_id,
        host=args.host,
        port=args.port,
        database=args.db,
        client_dir=client_dir,
        greeting=GreetingMode(args.greeting),
        max_calls=max(1, args.max_calls),
        max_pending_per_client=max(1, int(os.environ.get("VOICEBOT_MAX_PENDING_PER_CLIENT", "2"))),
        offer_timeout_s=args.offer_timeout,
        access_token=os.environ.get("VOICEBOT_ACCESS_TOKEN") or None,
        tts=tts,
        stt=usable_engine(WhisperConfig.from_env(engine=args.stt_engine, model=args.stt_model)),
        llm=LLMSettings.from_env(model=args.llm_model, backend=args.llm_backend),
        malloc_arenas=max(0, int(os.environ.get("VOICEBOT_MALLOC_ARENAS", "2"))),
        trim_after_call=os.environ.get("VOICEBOT_MALLOC_TRIM", "1").strip().lower() not in ("0", "false", "no", "off"),
    )
