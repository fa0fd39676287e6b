"""The LLM service's own behaviour, without a model: what the caller hears when the model's
process dies mid-answer (the stream is cut by a fault injected into it)."""

from __future__ import annotations

import asyncio

import httpx
from openai.types.chat import ChatCompletionChunk
from pipecat.frames.frames import LLMTextFrame
from pipecat.processors.aggregators.llm_context import LLMContext

from voicebot.llm.service import LOST_ANSWER_APOLOGY, LlamaCppLLMService


def _chunk(text: str) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate({
        "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


class _CutStream:
    """A completion stream that writes ``pieces`` and then loses its connection."""

    def __init__(self, pieces: list[str]):
        self._pieces = pieces

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        for piece in self._pieces:
            yield _chunk(piece)
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


class _Answers:
    """The service with its completions replaced by ``streams`` (one per answer) and its text collected."""

    def __init__(self, streams: list[_CutStream]):
        self.service = LlamaCppLLMService(base_url="http://127.0.0.1:9/v1", api_key="unused",
                                          settings=LlamaCppLLMService.Settings(model="m"))
        self.pushed: list[str] = []
        remaining = iter(streams)

        async def get_chat_completions(context):
            return next(remaining)

        async def push_frame(frame, direction=None):
            if isinstance(frame, LLMTextFrame):
                self.pushed.append(frame.text)

        self.service.get_chat_completions = get_chat_completions  # type: ignore[method-assign]
        self.service.push_frame = push_frame  # type: ignore[method-assign]

    async def answer(self) -> str:
        self.pushed.clear()
        await self.service._process_context(LLMContext())
        return "".join(self.pushed)


def test_an_answer_lost_before_its_first_word_is_an_apology_alone():
    spoken = asyncio.run(_Answers([_CutStream([])]).answer())
    assert spoken.strip() == LOST_ANSWER_APOLOGY


def test_an_answer_lost_mid_sentence_breaks_off_before_the_apology():
    spoken = asyncio.run(_Answers([_CutStream(["The", " salmon"])]).answer())
    assert spoken == "The salmon — sorry, I lost my train of thought. Could you ask me that again?"


def test_each_answer_starts_without_the_words_of_the_one_before():
    answers = _Answers([_CutStream(["The"]), _CutStream([])])

    async def two_answers() -> str:
        await answers.answer()
        return await answers.answer()

    assert asyncio.run(two_answers()).strip() == LOST_ANSWER_APOLOGY
