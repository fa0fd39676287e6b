"""An in-process llama.cpp server (xllamacpp) for when no OpenAI endpoint is configured.

llama.cpp's own HTTP server runs inside this process on a loopback port, so Pipecat's
``OpenAILLMService`` talks to it exactly as it would to OpenAI. It is started once per
process (model load ~2-4 s) by the preload step, warmed with the bot's system prompt so
the first caller does not pay the cold prompt (~3 s on 2 cores), and stopped at shutdown.

Facts about xllamacpp this module relies on (measured with the installed build):

- ``xlc.Server(params)`` blocks until the model is loaded and holds the GIL meanwhile,
  so start it before the event loop serves anything (preload), not from a request.
- The server stops when the ``Server`` object is destroyed; the destructor joins the
  llama.cpp threads. With a stream in flight, an HTTP handler only notices on its next
  SSE ping, so the ping interval is kept at 1 s to bound ``stop()`` to ~2 s.
- ``cache_prompt`` (on by default, sent explicitly too) keeps the slot's KV cache
  between requests: a request sharing the system-prompt prefix only evaluates the new
  tokens (``timings.cache_n`` / ``usage.prompt_tokens_details.cached_tokens``).
"""

from __future__ import annotations

import atexit
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

DEFAULT_MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"

# Two slots, each with its own KV cache: slot 0 answers callers (its cache holds the system
# prompt and the conversation). Requests for a busy slot queue.
DEFAULT_PARALLEL = 2
ANSWER_SLOT = 0

# Each open (keep-alive) client connection holds one HTTP thread; llama.cpp's default
# (cores - 1, at least slots + 2) is 3 here, too few for several sessions' clients.
_HTTP_THREADS = 8

# How often an idle stream writes an SSE comment; also how soon a handler notices the
# server stopping (see module docstring). SSE comments are ignored by OpenAI clients.
_SSE_PING_SECONDS = 1

# Upper bound for llama.cpp's host-RAM prompt cache (KV states of prompts evicted from
# the slot, restored when a caller comes back). ~28 KB per token for this model.
# VOICEBOT_LLM_CACHE_RAM_MIB overrides it (0 disables the cache).
DEFAULT_CACHE_RAM_MIB = 512

_WARMUP_USER_MESSAGE = "Hello."


@dataclass(frozen=True)
class EmbeddedLlamaConfig:
    """How to run the embedded server. ``model_path`` None means the PyPI-assembled GGUF."""

    model_path: Path | None = None
    threads: int = 2
    # Threads while writing the reply (0: ``threads``). One leaves a core to the TTS worker,
    # which speaks the first clause while the LLM writes the rest; reading the prompt
    # still uses ``threads``.
    generation_threads: int = 0
    context_size: int = 8192  # shared by the slots: 4096 tokens each
    parallel: int = DEFAULT_PARALLEL
    # llama.cpp's threads busy-wait for work at this level (0-100; its default is 50).
    # Spinning could take CPU from the TTS worker speaking the first clause while the LLM
    # writes the rest, but 0 made no measurable difference (bench/voice_to_voice.py).
    poll: int = 50
    cache_ram_mib: int = DEFAULT_CACHE_RAM_MIB
    model_alias: str = DEFAULT_MODEL_ALIAS
    # Where it listens: loopback on a free port for the bot's own use; ``voicebot-llm``
    # (voicebot/llm/serve.py) gives a fixed address to share one model between replicas.
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None  # None: a random per-process key
    # Where slots' KV caches may be saved and restored (the warm prompt copied into every slot).
    slot_save_path: str = ""
    # llama.cpp's own log (printed by the C++ code, not loguru): 2 = warnings and errors;
    # 3 adds a few lines per request (slot choice, prompt/eval timings).
    log_verbosity: int = 2

    def resolve_model_path(self) -> Path:
        if self.model_path is not None:
            return Path(self.model_path)
        from voicebot.models.weights import LLM_GGUF

        return LLM_GGUF.path()


@dataclass(frozen=True)
class PromptTimings:
    """What llama.cpp reports about one completion's prompt and generation."""

    prompt_tokens: int  # whole prompt
    cached_tokens: int  # reused from the KV cache (``cache_n``)
    evaluated_tokens: int  # actually computed (``prompt_n``)
    prompt_ms: float
    generated_tokens: int
    generation_tokens_per_s: float
    wall_s: float  # request round trip seen by the client

    @classmethod
    def from_response(cls, body: dict[str, Any], wall_s: float) -> PromptTimings:
        timings = body.get("timings") or {}
        usage = body.get("usage") or {}
        cached = int(
            timings.get("cache_n", (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0))
        )
        return cls(
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            cached_tokens=cached,
            evaluated_tokens=int(timings.get("prompt_n", 0)),
            prompt_ms=float(timings.get("prompt_ms", 0.0)),
            generated_tokens=int(timings.get("predicted_n", usage.get("completion_tokens", 0))),
            generation_tokens_per_s=float(timings.get("predicted_per_second", 0.0)),
            wall_s=wall_s,
        )


@dataclass(frozen=True)
class WarmupReport:
    """The cold pass that filled the cache and the check that it is reused."""

    cold: PromptTimings
    cached: PromptTimings

    @property
    def prefix_reused(self) -> bool:
        return self.cached.cached_tokens > 0


class LlamaEndpoint:
    """What the bot asks of a running llama.cpp server over HTTP: health, a completion, the warm-up.

    Shared by the in-process server (``EmbeddedLlamaServer``, what ``voicebot-llm`` runs) and
    the supervised process the bot server starts (``voicebot.llm.process.LlamaProcess``).
    Subclasses set ``_config`` and ``_api_key`` and provide ``address``.
    """

    _config: EmbeddedLlamaConfig
    _api_key: str

    if TYPE_CHECKING:  # provided by the subclasses

        @property
        def address(self) -> str: ...

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible root, ``http://127.0.0.1:PORT/v1``."""
        return f"{self.address}/v1"

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def api_key(self) -> str:
        return self._api_key

    @property
    def model(self) -> str:
        return self._config.model_alias

    @property
    def slots(self) -> int:
        return self._config.parallel

    def copy_slot(self, source: int, targets: range) -> int:
        """Copy one slot's KV cache into others (llama.cpp's slot save/restore): every call's slot
        then starts with the system prompt cached (a cold one costs ~3-4 s on 2 cores). Needs
        ``slot_save_path``; returns how many slots got the copy (0 if the server cannot)."""
        name = f"warm-{secrets.token_hex(4)}.bin"
        copied = 0
        try:
            self._post(f"/slots/{source}?action=save", {"filename": name})
            for target in targets:
                self._post(f"/slots/{target}?action=restore", {"filename": name})
                copied += 1
        except (OSError, ValueError) as e:
            logger.warning(f"LLM: could not copy the warm slot ({e}); other slots start cold")
        return copied

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.address}{path}", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"})
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.loads(r.read())

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Poll ``/health`` until the model is loaded and the HTTP side answers."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.address}/health", timeout=2) as r:
                    if r.status == 200 and json.loads(r.read()).get("status") == "ok":
                        return
            except (OSError, ValueError) as e:  # 503 while loading, refused before listening
                last_error = e
            time.sleep(0.1)
        raise TimeoutError(f"Embedded llama.cpp server not healthy after {timeout:.0f} s: {last_error}")

    def complete(
        self, messages: list[dict[str, Any]], max_tokens: int = 1, tools: list[dict] | None = None,
        slot: int = ANSWER_SLOT,
    ) -> PromptTimings:
        """One blocking, non-streaming chat completion in ``slot``; returns llama.cpp's timings."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "cache_prompt": True,
            "id_slot": slot,
        }
        if tools:
            body["tools"] = tools
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as r:
            response = json.loads(r.read())
        return PromptTimings.from_response(response, time.perf_counter() - started)

    def warm(self, system_prompt: str, tools: list[dict] | None = None,
             opening: list[dict] | None = None) -> WarmupReport:
        """Put ``system_prompt``'s tokens in the KV cache so the first real turn is fast.

        Pipecat sends ``[system, *context]``, so the cached prefix is the rendered system
        message (plus the tools block, which Qwen's template puts there: pass the same
        tools the bot registers). A second request checks that the prefix is reused; it is
        the call's ``opening`` messages when given (the greeting turn), so that every call's
        first turn finds them in the cache.
        """
        system = {"role": "system", "content": system_prompt}
        cold = self.complete([system, {"role": "user", "content": _WARMUP_USER_MESSAGE}], tools=tools)
        # Last, the exact opening turn of every call (if known): it then stays in the slot's
        # cache whole, and the greeting's time to first token is nearly nothing.
        cached = self.complete([system, *(opening or [{"role": "user", "content": "Hi!"}])], tools=tools)
        report = WarmupReport(cold=cold, cached=cached)
        copied = self.copy_slot(ANSWER_SLOT, range(1, self.slots)) if self.slots > 1 else 0
        if copied:
            logger.info(f"LLM: the warm prompt copied into {copied} more slot(s), one per call")
        if report.prefix_reused:
            logger.info(
                f"LLM warmed: system prompt {cold.prompt_tokens} tokens, cold {cold.wall_s:.2f} s; "
                f"next call reused {cached.cached_tokens} cached tokens, {cached.wall_s:.2f} s"
            )
        else:
            logger.warning(
                f"LLM warm-up: the prompt prefix was not reused ({cached.evaluated_tokens} tokens "
                f"recomputed); every first turn will take ~{cold.wall_s:.1f} s"
            )
        return report


class EmbeddedLlamaServer(LlamaEndpoint):
    """Owns one in-process llama.cpp server: start, health, warm-up, stop."""

    def __init__(self, config: EmbeddedLlamaConfig | None = None):
        self._config = config or EmbeddedLlamaConfig()
        # A per-process key unless one is given: even on loopback, the machine is shared.
        self._api_key = self._config.api_key or secrets.token_urlsafe(24)
        self._server: Any = None  # xllamacpp.Server
        self._address: str = ""  # http://127.0.0.1:PORT
        self._lock = threading.Lock()

    @property
    def config(self) -> EmbeddedLlamaConfig:
        return self._config

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> str:
        """``http://127.0.0.1:PORT``, the server root (``/health`` lives here)."""
        self._require_running()
        return self._address

    def _require_running(self) -> None:
        if self._server is None:
            raise RuntimeError("The embedded llama.cpp server is not running; call start() first")

    def describe(self) -> str:
        """One line for the logs."""
        c = self._config
        where = self._address or "not started"
        return (
            f"embedded llama.cpp ({c.model_alias}, {c.threads} threads"
            + (f" ({c.generation_threads} writing)" if c.generation_threads else "") + f", ctx {c.context_size}, "
            f"{c.parallel} slot(s)) at {where}"
        )

    def start(self, health_timeout: float = 30.0) -> str:
        """Load the model and serve it on a free loopback port; returns ``base_url``.

        Blocking (seconds) and GIL-holding: call it from the preload step.
        """
        import xllamacpp as xlc

        with self._lock:
            if self._server is not None:
                return self.base_url
            model_path = self._config.resolve_model_path()
            params = self._build_params(xlc, model_path)
            started = time.perf_counter()
            try:
                self._server = xlc.Server(params)
            except Exception as e:
                raise RuntimeError(f"Embedded llama.cpp server failed to start with {model_path}: {e}") from e
            self._address = self._server.listening_address.rstrip("/")
            if not self._address.startswith("http"):
                self._address = f"http://{self._address}"
            atexit.register(self.stop)
        try:
            self.wait_healthy(health_timeout)
        except Exception:
            self.stop()
            raise
        logger.info(f"LLM: {self.describe()} ready in {time.perf_counter() - started:.1f} s")
        return self.base_url

    def _build_params(self, xlc: Any, model_path: Path) -> Any:
        c = self._config
        params = xlc.CommonParams()
        params.model.path = str(model_path)
        params.model_alias = {c.model_alias}
        params.hostnames = [c.host]
        params.port = c.port  # 0: any free port
        params.api_keys = [self._api_key]
        params.n_ctx = c.context_size
        params.n_parallel = c.parallel
        params.cpuparams.n_threads = c.generation_threads or c.threads
        params.cpuparams_batch.n_threads = c.threads
        params.cpuparams.poll = c.poll
        params.cpuparams_batch.poll = c.poll
        params.n_threads_http = _HTTP_THREADS
        params.cache_prompt = True
        params.cache_ram_mib = c.cache_ram_mib
        params.sse_ping_interval = _SSE_PING_SECONDS
        params.ui = False
        if c.slot_save_path:
            params.slot_save_path = c.slot_save_path
        params.warmup = True  # one empty decode at load so the first real one is not slower
        params.verbosity = c.log_verbosity
        return params

    def stop(self) -> None:
        """Terminate the server and join its threads; idempotent, safe from atexit.

        ~0.2 s when idle, up to ~2 s with a stream in flight (it is cut short).
        """
        with self._lock:
            server, self._server = self._server, None
            if server is None:
                return
            atexit.unregister(self.stop)
            started = time.perf_counter()
            # Dropping the last reference runs the C++ destructor: terminate + join.
            del server
        logger.info(f"LLM: embedded llama.cpp server stopped in {time.perf_counter() - started:.2f} s")
