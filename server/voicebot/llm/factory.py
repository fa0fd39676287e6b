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

from typing import Any

from loguru import logger
from pipecat.services.openai.llm import OpenAILLMService

from voicebot.config import LLMBackend, LLMConfig, choose_backend
from voicebot.front_desk.second_reader import SecondReader
from voicebot.llm.embedded import (
    DEFAULT_MODEL_ALIAS,
    EmbeddedLlamaConfig,
    EmbeddedLlamaServer,
)
from voicebot.llm.process import LlamaProcess
from voicebot.llm.service import LlamaCppLLMService

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"

# A phone bot speaks one or two sentences; capping the reply bounds a rambling small
# model's latency (~25 tok/s on 2 cores) without cutting normal answers.
EMBEDDED_MAX_TOKENS = 150
# Low: a phone bot states facts. At 0.6 the 1.5B model answered "What time do you close
# tonight?" off-script 1 time in 12 ("as an AI language model..."); at 0.2, 0 in 12.
EMBEDDED_TEMPERATURE = 0.2

# OpenAI clients refuse to start without a key even when the server ignores it.
_PLACEHOLDER_API_KEY = "not-needed"


# Tokens of context each call's slot holds: the system prompt (~200) and a whole call.
CONTEXT_PER_SLOT = 4096

def embedded_config(settings: LLMConfig, slots: int = 1) -> EmbeddedLlamaConfig:
    """How to run the embedded server for these settings: one slot per call taken at once."""
    return EmbeddedLlamaConfig(threads=settings.threads, generation_threads=settings.generation_threads,
                               context_size=settings.context_size or CONTEXT_PER_SLOT * slots,
                               parallel=slots, poll=settings.poll, cache_ram_mib=settings.cache_ram_mib)


def resolve_model(settings: LLMConfig) -> str:
    """The model name to request: the configured one, else our GGUF's alias (embedded), else gpt-4o-mini."""
    if settings.model:
        return settings.model
    if choose_backend(settings) is LLMBackend.EMBEDDED:
        return DEFAULT_MODEL_ALIAS
    return DEFAULT_OPENAI_MODEL


def describe_backend(settings: LLMConfig, process: LlamaProcess | None = None) -> str:
    """One log line saying which LLM answers and where (never the key); ``process``: the embedded one."""
    backend = choose_backend(settings)
    model = resolve_model(settings)
    if backend is LLMBackend.OPENAI:
        return f"LLM: OpenAI, model {model}"
    if backend is LLMBackend.OPENAI_COMPATIBLE:
        key = "with API key" if settings.api_key else "no API key"
        return f"LLM: OpenAI-compatible server at {settings.base_url}, model {model} ({key})"
    if process is not None:
        return f"LLM: {process.describe()}"
    return (
        f"LLM: embedded llama.cpp ({model}, {settings.threads} threads, ctx {settings.context_size}), "
        "not started yet"
    )


def start_llm(settings: LLMConfig, slots: int = 1) -> LlamaProcess | None:
    """Startup step: the embedded backend's model in its own supervised process (~3 s on 2 cores),
    ``slots`` calls at once, each with its own KV cache; None for a remote backend (nothing to start).
    The caller owns the process: it warms it (:meth:`LlamaProcess.warm`) and stops it."""
    if choose_backend(settings) is not LLMBackend.EMBEDDED:
        logger.info(describe_backend(settings))
        return None
    process = LlamaProcess(embedded_config(settings, slots), nice=settings.nice)
    process.start()
    return process


def create_second_reader(settings: LLMConfig, process: LlamaProcess | None = None) -> SecondReader | None:
    """The front desk's second reader on ``settings``'s backend (``process``: the embedded one), or None
    when it is switched off (``VOICEBOT_SECOND_READER=0``) or the embedded model is not running."""
    if not settings.second_reader:
        return None
    backend = choose_backend(settings)
    if backend is LLMBackend.EMBEDDED:
        if process is None:
            return None
        return SecondReader(process.base_url, process.api_key, resolve_model(settings))
    base_url = settings.base_url if backend is LLMBackend.OPENAI_COMPATIBLE else None
    return SecondReader(base_url, settings.api_key, resolve_model(settings))


def create_llm_service(settings: LLMConfig, system_instruction: str, process: LlamaProcess | None = None,
                       slot: int | None = None, **kwargs: Any) -> OpenAILLMService:
    """A Pipecat LLM service for ``settings``'s backend, with ``system_instruction`` set.

    The LLM answers the caller's questions in words; bookings, orders and messages are the
    front desk's, kept in code (``voicebot.front_desk``), so no backend is offered tools.
    The embedded backend (its ``process`` started by :func:`start_llm`) gets a
    :class:`~voicebot.llm.service.LlamaCppLLMService` on the call's ``slot``. ``kwargs``
    go to ``OpenAILLMService`` (e.g. ``retry_on_timeout``).
    """
    backend = choose_backend(settings)
    service_settings = OpenAILLMService.Settings(
        model=resolve_model(settings), system_instruction=system_instruction
    )

    if backend is LLMBackend.EMBEDDED:
        if process is None:
            raise RuntimeError("The embedded LLM was not started (start_llm)")
        service_settings.max_tokens = settings.max_tokens or EMBEDDED_MAX_TOKENS
        service_settings.temperature = (
            EMBEDDED_TEMPERATURE if settings.temperature is None else settings.temperature
        )
        llama = LlamaCppLLMService(base_url=process.base_url, api_key=process.api_key, slot=slot,
                                   settings=service_settings, **kwargs)
        # "developer" is an OpenAI role; Qwen's chat template does not know it.
        llama.supports_developer_role = False
        return llama
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
    "LlamaProcess",
    "LLMConfig",
    "choose_backend",
    "create_llm_service",
    "describe_backend",
    "embedded_config",
    "start_llm",
    "resolve_model",
]
