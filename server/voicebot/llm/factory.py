"""Which LLM the bot talks to, and the Pipecat service that talks to it.

Policy, in order:

1. ``OPENAI_BASE_URL`` (or ``--llm-base-url``) set: any OpenAI-compatible server there
   (vLLM, Ollama, a llama.cpp server, a proxy). ``OPENAI_API_KEY`` is sent if present.
2. ``OPENAI_API_KEY`` set: OpenAI itself.
3. Neither: the embedded llama.cpp server (Qwen2.5-Coder-1.5B from PyPI), in-process.

Every backend is driven by Pipecat's ``OpenAILLMService``; only its URL, key, model and
generation settings differ. The system prompt goes in the service's
``system_instruction`` setting (Pipecat 1.x), never as a message in the context.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from loguru import logger
from pipecat.services.openai.llm import OpenAILLMService

from voicebot.llm.action_router import ActionRoutingLLMService
from voicebot.llm.embedded import (
    ANSWER_SLOT,
    DECISION_SLOT,
    DEFAULT_MODEL_ALIAS,
    EmbeddedLlamaConfig,
    EmbeddedLlamaServer,
    WarmupReport,
    shared_embedded_server,
    start_shared_embedded_server,
    stop_shared_embedded_server,
)

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

# A phone bot speaks one or two sentences; capping the reply bounds a rambling small
# model's latency (~25 tok/s on 2 cores) without cutting normal answers.
EMBEDDED_MAX_TOKENS = 150
# Low: a phone bot states facts. At 0.6 the 1.5B model answered "What time do you close
# tonight?" off-script 1 time in 12 ("as an AI language model..."); at 0.2, 0 in 12.
EMBEDDED_TEMPERATURE = 0.2

# OpenAI clients refuse to start without a key even when the server ignores it.
_PLACEHOLDER_API_KEY = "not-needed"


class LLMBackend(StrEnum):
    """Where the bot's completions come from."""

    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai-compatible"
    EMBEDDED = "embedded"


@dataclass(frozen=True)
class LLMSettings:
    """What the bot's LLM is. ``None`` fields mean "the chosen backend's default"."""

    backend: LLMBackend | None = None  # None: decided from base_url / api_key
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    threads: int = 2  # embedded only
    generation_threads: int = 0  # embedded only: threads while writing (0: ``threads``)
    context_size: int = 8192  # embedded only, shared by its two slots
    poll: int = 50  # embedded only: llama.cpp's busy-wait level
    cache_ram_mib: int = 512  # embedded only: llama.cpp's host-RAM prompt cache
    max_tokens: int | None = None  # embedded default EMBEDDED_MAX_TOKENS; others unset
    temperature: float | None = None  # embedded default EMBEDDED_TEMPERATURE; others unset
    # How front-desk actions reach the tools: "native" (the model's own tool calls) or
    # "routed" (a grammar-constrained decision, for the embedded coder model, which makes
    # none). None: routed for the embedded backend, native for the others.
    tool_calls: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: Any) -> LLMSettings:
        """Settings from the environment, overridden by command-line ``flags`` that are not None.

        Variables: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``VOICEBOT_LLM_BACKEND``,
        ``VOICEBOT_LLM_MODEL``, ``VOICEBOT_LLM_THREADS``, ``VOICEBOT_LLM_GENERATION_THREADS``,
        ``VOICEBOT_LLM_CONTEXT``,
        ``VOICEBOT_LLM_MAX_TOKENS``, ``VOICEBOT_LLM_TEMPERATURE``.
        """
        env = os.environ if env is None else env

        def value(name: str) -> str | None:
            text = env.get(name, "").strip()
            return text or None

        def number(name: str, kind: type, default: Any = None) -> Any:
            text = value(name)
            try:
                return default if text is None else kind(text)
            except ValueError as e:
                raise ValueError(f"{name}={text!r} is not a valid {kind.__name__}") from e

        backend = value("VOICEBOT_LLM_BACKEND")
        settings = cls(
            backend=LLMBackend(backend) if backend else None,
            model=value("VOICEBOT_LLM_MODEL"),
            base_url=value("OPENAI_BASE_URL"),
            api_key=value("OPENAI_API_KEY"),
            threads=number("VOICEBOT_LLM_THREADS", int) or cls.threads,
            generation_threads=number("VOICEBOT_LLM_GENERATION_THREADS", int, cls.generation_threads),
            context_size=number("VOICEBOT_LLM_CONTEXT", int) or cls.context_size,
            poll=number("VOICEBOT_LLM_POLL", int, cls.poll),  # 0 is a value, not "unset"
            cache_ram_mib=number("VOICEBOT_LLM_CACHE_RAM_MIB", int, cls.cache_ram_mib),
            max_tokens=number("VOICEBOT_LLM_MAX_TOKENS", int),
            temperature=number("VOICEBOT_LLM_TEMPERATURE", float),
            tool_calls=value("VOICEBOT_LLM_TOOLS"),
        )
        overrides = {name: flag for name, flag in flags.items() if flag is not None}
        if isinstance(overrides.get("backend"), str):
            overrides["backend"] = LLMBackend(overrides["backend"])
        settings = replace(settings, **overrides)
        if settings.tool_calls not in (None, "native", "routed"):
            raise ValueError(f"VOICEBOT_LLM_TOOLS={settings.tool_calls!r}: use native or routed")
        return settings

    def routes_actions(self) -> bool:
        """True if front-desk actions go through a grammar-constrained decision."""
        if self.tool_calls is not None:
            return self.tool_calls == "routed"
        return choose_backend(self) is LLMBackend.EMBEDDED

    def embedded_config(self) -> EmbeddedLlamaConfig:
        return EmbeddedLlamaConfig(threads=self.threads, generation_threads=self.generation_threads,
                                   context_size=self.context_size, poll=self.poll,
                                   cache_ram_mib=self.cache_ram_mib)


def choose_backend(settings: LLMSettings) -> LLMBackend:
    """The backend ``settings`` asks for: explicit, else base URL, else key, else embedded."""
    if settings.backend is not None:
        return settings.backend
    if settings.base_url:
        return LLMBackend.OPENAI_COMPATIBLE
    if settings.api_key:
        return LLMBackend.OPENAI
    return LLMBackend.EMBEDDED


def resolve_model(settings: LLMSettings) -> str:
    if settings.model:
        return settings.model
    if choose_backend(settings) is LLMBackend.EMBEDDED or settings.routes_actions():
        return DEFAULT_MODEL_ALIAS  # a routed remote model is our GGUF served by voicebot-llm
    return DEFAULT_OPENAI_MODEL


def describe_backend(settings: LLMSettings) -> str:
    """One log line saying which LLM answers and where (never the key)."""
    backend = choose_backend(settings)
    model = resolve_model(settings)
    if backend is LLMBackend.OPENAI:
        return f"LLM: OpenAI, model {model}"
    if backend is LLMBackend.OPENAI_COMPATIBLE:
        key = "with API key" if settings.api_key else "no API key"
        tools = "; front-desk actions routed by a grammar" if settings.routes_actions() else ""
        return f"LLM: OpenAI-compatible server at {settings.base_url}, model {model} ({key}{tools})"
    server = shared_embedded_server()
    if server is not None:
        return f"LLM: {server.describe()}"
    return (
        f"LLM: embedded llama.cpp ({model}, {settings.threads} threads, ctx {settings.context_size}), "
        "not started yet"
    )


def preload_llm(
    settings: LLMSettings, system_instruction: str | None = None, tools: list[dict] | None = None,
    opening: list[dict] | None = None, decision_instruction: str | None = None,
) -> WarmupReport | None:
    """Startup step: for the embedded backend, start the server and warm its prompt cache.

    Blocking (~3 s load + ~3 s cold prompt on 2 cores); run it before serving calls.
    Loading the model holds the GIL (xllamacpp), so a worker thread does not keep the
    event loop responsive meanwhile. The embedded server logs its own ready line.
    ``tools`` must be the OpenAI-format tools the bot will send, if any: they are part
    of the cached prefix. A no-op for remote backends.
    """
    if choose_backend(settings) is not LLMBackend.EMBEDDED:
        logger.info(describe_backend(settings))
        return None
    server = start_shared_embedded_server(settings.embedded_config())
    if system_instruction:
        return server.warm(system_instruction, tools=tools, opening=opening,
                           decision_instruction=decision_instruction)
    return None


def shutdown_llm() -> None:
    """Shutdown step: stop the embedded server if one runs."""
    stop_shared_embedded_server()


def create_llm_service(settings: LLMSettings, system_instruction: str, filler: str | None = None,
                       **kwargs: Any) -> OpenAILLMService:
    """A Pipecat LLM service for ``settings``'s backend, with ``system_instruction`` set.

    ``filler`` is what the embedded model's action routing says while it decides (a
    front-desk action takes it seconds); other backends ignore it.

    For the embedded backend the shared server is used; if preload did not start it,
    it is started here (blocking for seconds, so prefer preload). ``kwargs`` go to
    ``OpenAILLMService`` (e.g. ``retry_on_timeout``).
    """
    backend = choose_backend(settings)
    service_settings = OpenAILLMService.Settings(
        model=resolve_model(settings), system_instruction=system_instruction
    )

    if backend is LLMBackend.EMBEDDED:
        server = shared_embedded_server()
        if server is None or not server.running:
            logger.warning("LLM: embedded server not preloaded; starting it now (blocks ~3 s)")
            server = start_shared_embedded_server(settings.embedded_config())
        base_url, api_key = server.base_url, server.api_key
        service_settings.max_tokens = settings.max_tokens or EMBEDDED_MAX_TOKENS
        service_settings.temperature = (
            EMBEDDED_TEMPERATURE if settings.temperature is None else settings.temperature
        )
        # llama.cpp-only field: keep the KV cache between turns (its default, made explicit).
        # It must travel in extra_body: the OpenAI client rejects unknown keyword arguments.
        service_settings.extra = {"extra_body": {"cache_prompt": True, "id_slot": ANSWER_SLOT}}
    else:
        base_url = settings.base_url if backend is LLMBackend.OPENAI_COMPATIBLE else None
        api_key = settings.api_key or (_PLACEHOLDER_API_KEY if base_url else None)
        if backend is LLMBackend.OPENAI and not api_key:
            raise ValueError("The OpenAI backend needs OPENAI_API_KEY")
        if backend is LLMBackend.OPENAI_COMPATIBLE and not base_url:
            raise ValueError("The openai-compatible backend needs OPENAI_BASE_URL")
        if settings.max_tokens is not None:
            service_settings.max_completion_tokens = settings.max_tokens
        if settings.temperature is not None:
            service_settings.temperature = settings.temperature

    # The embedded model does not make tool calls; a grammar-constrained decision does (action_router).
    if settings.routes_actions():
        # Our own server has a slot kept for decisions; a shared one picks slots itself.
        decision_slot = DECISION_SLOT if backend is LLMBackend.EMBEDDED else None
        service = ActionRoutingLLMService(api_key=api_key, base_url=base_url, settings=service_settings,
                                          filler=filler, decision_slot=decision_slot, **kwargs)
    else:
        service = OpenAILLMService(api_key=api_key, base_url=base_url, settings=service_settings, **kwargs)
    if backend is not LLMBackend.OPENAI:
        # "developer" is an OpenAI role; chat templates of local models (Qwen's included)
        # don't know it, so Pipecat sends such messages as "user" instead.
        service.supports_developer_role = False
    return service


__all__ = [
    "DEFAULT_OPENAI_MODEL",
    "EMBEDDED_MAX_TOKENS",
    "EMBEDDED_TEMPERATURE",
    "EmbeddedLlamaServer",
    "LLMBackend",
    "LLMSettings",
    "choose_backend",
    "create_llm_service",
    "describe_backend",
    "preload_llm",
    "resolve_model",
    "shutdown_llm",
]
