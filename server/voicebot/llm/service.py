"""Pipecat's OpenAI service against llama.cpp, with what only llama.cpp offers.

- **Its own timings, per turn.** llama.cpp reports how many prompt tokens it evaluated
  (``prompt_n``, ``prompt_ms``) and how many came from the slot's cache (``cache_n``); the
  first-token wait of a turn is mostly that evaluation, so it is logged with the turn.
- **A slot per call**: ``id_slot`` keeps each call's conversation in its own KV cache.
- **Prefill while the caller speaks**: :meth:`prefill` sends exactly the request the turn
  will send (same adapter, same parameters) with ``max_tokens: 0``, so llama.cpp evaluates
  the prompt into the call's slot and the real request, moments later, only evaluates the
  words that changed (measured: ~75 ms instead of 0.3-1.2 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from loguru import logger
from pipecat.frames.frames import LLMTextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.openai.base_llm import OpenAILLMSettings
from pipecat.utils.types import assert_given

from voicebot.adapters.pipecat import AnswerHooksLLMService

# Said when the model's process fails mid-answer (it is restarted; the next question is answered).
LOST_ANSWER_APOLOGY = "Sorry, I lost my train of thought. Could you ask me that again?"


def lost_answer_apology(already_said: bool) -> str:
    """The apology as it follows what the answer already said: after "The" it must not read
    "The Sorry, …" but break off the way a person would ("The — sorry, …")."""
    if not already_said:
        return f" {LOST_ANSWER_APOLOGY}"
    return f" — {LOST_ANSWER_APOLOGY[0].lower()}{LOST_ANSWER_APOLOGY[1:]}"

# Characters after which the first clause of a reply can go to TTS (see voicebot.tts.clauses).
_CLAUSE_END = frozenset(",.;:!?")


@dataclass(frozen=True)
class LLMTurnTimings:
    """llama.cpp's account of one completion: what it evaluated and what it wrote."""

    prompt_n: int  # prompt tokens evaluated for this request
    prompt_ms: float
    cache_n: int  # prompt tokens taken from the slot's cache
    predicted_n: int
    predicted_ms: float
    tokens_before_clause: int | None  # streamed pieces before the first clause ended

    def stages(self) -> dict[str, float]:
        """As fields of a turn's stages (``voicebot.timeline``)."""
        stages = {"llm_prompt_n": float(self.prompt_n), "llm_prompt_ms": round(self.prompt_ms, 1),
                  "llm_cache_n": float(self.cache_n), "llm_predicted_n": float(self.predicted_n)}
        if self.tokens_before_clause is not None:
            stages["llm_tokens_before_clause"] = float(self.tokens_before_clause)
        return stages


def _timings(chunk: Any) -> dict | None:
    extra = getattr(chunk, "model_extra", None) or {}
    timings = extra.get("timings")
    return timings if isinstance(timings, dict) else None


class _TimedStream:
    """The completion stream, passed through, reporting llama.cpp's timings as they come.

    With ``timings_per_token`` llama.cpp sends its prompt timings with the first token, so
    they are known before the reply is spoken: reported then, and again (with the pieces
    written before the first clause ended) once the first clause is complete.
    """

    def __init__(self, stream: Any, report: Callable[[LLMTurnTimings], Awaitable[None]]):
        self._stream = stream
        self._report = report

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        pieces, before_clause, first = 0, None, None
        async for chunk in self._stream:
            timings = _timings(chunk)
            if timings is not None and first is None:
                first = timings
                await self._report(_from_llama(first, None))
            if before_clause is None and chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                pieces += 1
                if _CLAUSE_END & set(chunk.choices[0].delta.content):
                    before_clause = pieces
                    if first is not None:
                        await self._report(_from_llama(first, before_clause))
            yield chunk

    async def close(self) -> None:
        if hasattr(self._stream, "close"):
            await self._stream.close()


def _from_llama(timings: dict, before_clause: int | None) -> LLMTurnTimings:
    return LLMTurnTimings(
        prompt_n=int(timings.get("prompt_n", 0)), prompt_ms=float(timings.get("prompt_ms", 0.0)),
        cache_n=int(timings.get("cache_n", 0)), predicted_n=int(timings.get("predicted_n", 0)),
        predicted_ms=float(timings.get("predicted_ms", 0.0)), tokens_before_clause=before_clause)


class LlamaCppLLMService(AnswerHooksLLMService):
    """``OpenAILLMService`` for a llama.cpp server: a slot of the call's own, timings, prefill."""

    # Pipecat annotates it with its ``Settings`` class attribute, which a type checker cannot read as a type.
    _settings: OpenAILLMSettings

    def __init__(self, *, base_url: str, api_key: str, slot: int | None = None,
                 on_timings: Callable[[LLMTurnTimings], Awaitable[None]] | None = None, **kwargs):
        super().__init__(base_url=base_url, api_key=api_key, **kwargs)
        self._llama_base_url = base_url.rstrip("/")
        self._llama_key = api_key
        self.slot = slot
        self._register_event_handler("on_llm_timings", sync=True)  # llama.cpp's account of each turn
        if on_timings is not None:
            async def forward(_service, timings: LLMTurnTimings) -> None:
                await on_timings(timings)

            self.add_event_handler("on_llm_timings", forward)
        self._http = httpx.AsyncClient(timeout=30, trust_env=False)
        self._prefill: asyncio.Task | None = None
        self._answer_has_text = False  # this turn's answer has pushed words already
        extra_body = {"cache_prompt": True, "timings_per_token": True,
                      **({"id_slot": slot} if slot is not None else {})}
        self._settings.extra = {**(self._settings.extra or {}), "extra_body": extra_body}

    async def get_chat_completions(self, context: LLMContext):
        stream = await super().get_chat_completions(context)
        return _TimedStream(stream, self._report)

    async def answer_turn(self, context: LLMContext) -> None:
        """Answer the turn; if the model's process fails on the way, the caller hears an apology.

        The supervisor (``voicebot.llm.process``) restarts the process within seconds; the
        call goes on, and its next question is answered.
        """
        if self._prefill is not None and not self._prefill.done():
            self._prefill.cancel()  # the turn's own request goes first: a prefill is only a head start
        self._answer_has_text = False
        try:
            await super().answer_turn(context)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            logger.error(f"{self}: the LLM failed mid-answer ({type(e).__name__}: {e}); apologizing to the caller")
            await self.push_frame(LLMTextFrame(lost_answer_apology(self._answer_has_text)))

    def text_pushed(self, text: str) -> None:
        if text.strip():
            self._answer_has_text = True

    async def _report(self, timings: LLMTurnTimings) -> None:
        if timings.tokens_before_clause is None:
            logger.debug(f"{self}: llama.cpp evaluated {timings.prompt_n} prompt tokens in {timings.prompt_ms:.0f} ms "
                         f"({timings.cache_n} from the slot's cache)")
        await self._call_event_handler("on_llm_timings", timings)

    async def request_body(self, context: LLMContext) -> dict[str, Any]:
        """The body a turn's completion request sends for ``context`` (same adapter and parameters)."""
        adapter = self.get_llm_adapter()
        params_from_context = await adapter.get_llm_invocation_params(
            context, system_instruction=assert_given(self._settings.system_instruction),
            convert_developer_to_user=not self.supports_developer_role)
        params = self.build_chat_completion_params(params_from_context)
        body = {key: value for key, value in params.items()
                if key in ("model", "messages", "temperature", "top_p", "seed") and _given(value)}
        body.update(params.get("extra_body") or {})
        body.pop("timings_per_token", None)
        return body

    async def prefill(self, context: LLMContext) -> LLMTurnTimings | None:
        """Evaluate ``context``'s prompt into the call's slot without writing anything (``max_tokens: 0``).

        Cancelled (and its HTTP request closed, which llama.cpp notices) when the turn's own
        request starts: it must never wait behind a head start.
        """
        body = {**await self.request_body(context), "max_tokens": 0, "stream": False}
        started = time.perf_counter()
        self._prefill = asyncio.create_task(self._http.post(
            f"{self._llama_base_url}/chat/completions", json=body,
            headers={"Authorization": f"Bearer {self._llama_key}"}))
        try:
            response = await self._prefill
            response.raise_for_status()
        except asyncio.CancelledError:
            logger.debug(f"{self}: prefill dropped: the turn's request has started")
            return None
        except httpx.HTTPError as e:
            logger.debug(f"{self}: prefill failed ({type(e).__name__}: {e})")
            return None
        timings = response.json().get("timings") or {}
        logger.debug(f"{self}: prefilled {timings.get('prompt_n')} tokens ({timings.get('cache_n')} cached) "
                     f"in {time.perf_counter() - started:.2f} s")
        return LLMTurnTimings(prompt_n=int(timings.get("prompt_n", 0)), prompt_ms=float(timings.get("prompt_ms", 0)),
                              cache_n=int(timings.get("cache_n", 0)), predicted_n=0, predicted_ms=0.0,
                              tokens_before_clause=None)

    async def cleanup(self):
        await self._http.aclose()
        await super().cleanup()


def _given(value: Any) -> bool:
    return value is not None and type(value).__name__ not in ("NotGiven", "_NotGiven", "Omit")
