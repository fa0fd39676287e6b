"""The bot's LLM: OpenAI, any OpenAI-compatible server, or an embedded llama.cpp server."""

from voicebot.llm.embedded import (
    EmbeddedLlamaConfig,
    EmbeddedLlamaServer,
    PromptTimings,
    WarmupReport,
    shared_embedded_server,
    start_shared_embedded_server,
    stop_shared_embedded_server,
)
from voicebot.llm.factory import (
    LLMBackend,
    LLMConfig,
    choose_backend,
    create_llm_service,
    describe_backend,
    preload_llm,
    resolve_model,
    shutdown_llm,
)

__all__ = [
    "EmbeddedLlamaConfig",
    "EmbeddedLlamaServer",
    "LLMBackend",
    "LLMConfig",
    "PromptTimings",
    "WarmupReport",
    "choose_backend",
    "create_llm_service",
    "describe_backend",
    "preload_llm",
    "resolve_model",
    "shared_embedded_server",
    "shutdown_llm",
    "start_shared_embedded_server",
    "stop_shared_embedded_server",
]
