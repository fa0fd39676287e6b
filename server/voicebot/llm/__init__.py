"""The bot's LLM: OpenAI, any OpenAI-compatible server, or the embedded llama.cpp model in its own process.

The factory (and with it Pipecat) is imported on first use, so that ``voicebot-llm``
(``voicebot.llm.serve``), which only runs llama.cpp, starts without loading Pipecat.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_FROM = {
    "EmbeddedLlamaConfig": "voicebot.llm.embedded", "EmbeddedLlamaServer": "voicebot.llm.embedded",
    "PromptTimings": "voicebot.llm.embedded", "WarmupReport": "voicebot.llm.embedded",
    "LLMBackend": "voicebot.llm.factory", "LLMConfig": "voicebot.llm.factory",
    "choose_backend": "voicebot.llm.factory", "create_llm_service": "voicebot.llm.factory",
    "describe_backend": "voicebot.llm.factory", "resolve_model": "voicebot.llm.factory",
    "start_llm": "voicebot.llm.factory",
}


def __getattr__(name: str) -> Any:
    if name in _FROM:
        return getattr(import_module(_FROM[name]), name)
    raise AttributeError(f"module 'voicebot.llm' has no attribute {name!r}")


__all__ = sorted(_FROM)
