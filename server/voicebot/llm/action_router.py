"""Function calling for a local model that does not make tool calls: decide with a grammar.

The only instruct GGUF on PyPI that fits (Qwen2.5-Coder-1.5B) never returns OpenAI
``tool_calls`` through llama.cpp: offered the front-desk tools, it made 0 calls in 8
booking/order/message turns and told callers "please call 555-0142" instead (measured
2026-12-01, ``/tmp`` script described in the issue notes). Asked instead to fill a JSON
schema (llama.cpp turns ``response_format`` into a grammar, so the output always parses),
it picked the right action with sensible arguments in 8 of 8 such turns, but also
reached for a tool on plain questions, inventing a party of 8.

So for the embedded backend, a caller turn that speaks of doing something (booking,
cancelling, ordering, a message, goodbye: ``ACTION_WORDS``, in the caller's last few
messages, since a booking's details come over several) is first routed: one
constrained completion names the action and its arguments. Arguments the caller never
said (a name, number or party size not in their words) are dropped, so the desk asks for
them; a decision left with nothing the caller said is answered in words instead. A trusted action becomes a real tool call, so
Pipecat runs the same handlers as with OpenAI; every other turn streams as usual. After
the tool, the bot says the desk's own sentence (written from the stored row) instead of
asking the model again: the 1.5B model, asked to confirm a booking for four, said "I've
booked a table for you. You can pick it up at 7 PM" — no party size, and a pickup.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from loguru import logger
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import (
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.utils.types import assert_given

from voicebot.business.vocabulary import HOUR_WORDS, MONTHS, NUMBER_WORDS, RELATIVE_DAYS, WEEKDAY_NAMES, alternation
from voicebot.llm.embedded import DECISION_SLOT

ANSWER = "answer"
# Bounds on a decision: text arguments, list lengths, tokens in all.
DECISION_MAX_CHARS = 120
DECISION_MAX_ITEMS = 8
DECISION_MAX_TOKENS = 128
# Say the filler if a decision has not come within this long, and not twice within the other.
FILLER_AFTER_S = 1.0
FILLER_AGAIN_AFTER_S = 20.0

# Turns worth routing: the caller asks the restaurant to do something.
ACTION_WORDS = re.compile(
    r"\b(book|booking|reserv\w*|table for|cancel\w*|order\w*|to go|pick ?up|takeout|take out|message|"
    r"tell (the|your)|let (the|your)|call me back|manager|owner|bye|goodbye|that'?s all|available|room for)\b",
    re.IGNORECASE,
)

# Which actions the caller's words can mean. The decision's grammar offers only these: asked
# "tell the manager I left my umbrella", the model, offered every tool, looked up a booking.
_BOOKING_WORDS = r"\b(book\w*|reserv\w*|table|cancel\w*|available|availability|room for|seats?)\b"
_ACTIONS_FOR_WORDS = {
    "check_availability": _BOOKING_WORDS,
    "book_table": _BOOKING_WORDS,
    # Asked "I'd like a table for two next Monday", the model looked up a booking instead.
    "find_booking": r"\b(my|our|the) (booking|reservation)s?\b|\b(look up|find|check on)\b",
    "cancel_booking": r"\bcancel\w*",
    "place_order": r"\b(order\w*|to go|pick ?up|takeout|take out)\b",
    "take_message": r"\b(message|tell|let (the|your)|call me back|manager|owner|chef|staff)\b",
    "end_call": r"\b(bye|goodbye|that'?s all|have a (good|nice|great) (day|night|evening))\b",
}

# A yes/no question about the restaurant's services ("Do you do takeout or delivery?",
# "Do you take reservations?") is answered from its knowledge, not routed: routed, it
# made the model fill an order form (17-21 s on our machine) for nothing. It is one if it
# asks "do/are/is/can you…", asks nothing to be done, and names nothing specific.
_SERVICE_QUESTION = re.compile(r"\b(do|does|are|is|can|could) (you|there|it|they)\b", re.IGNORECASE)
_ACTION_VERBS = re.compile(r"\b(book|cancel|reserve|order|tell|let|pass|leave|call me|put me)\b", re.IGNORECASE)
_SPECIFICS = re.compile(
    rf"\d|\b({alternation(w for w, n in HOUR_WORDS.items() if n)}|{alternation(RELATIVE_DAYS)}|{WEEKDAY_NAMES}"
    r"|noon|am|pm|a\.m|p\.m)\b", re.IGNORECASE)


def is_service_question(words: str) -> bool:
    """True for a question about what the restaurant does, with nothing for the desk to do."""
    return bool(_SERVICE_QUESTION.search(words) and not _ACTION_VERBS.search(words)
                and not _SPECIFICS.search(words))


_DAY_WORDS = re.compile(rf"\b({WEEKDAY_NAMES}|{alternation(RELATIVE_DAYS)}|{MONTHS})\b", re.IGNORECASE)
_GOODBYE = re.compile(r"\b(bye|goodbye|that'?s all|have a (good|nice|great) (day|night|evening))\b", re.IGNORECASE)
_NOTES = re.compile(r"\n\(Notes for this question:.*?\)\s*$", re.DOTALL)
_NUMBER_WORDS = {word: str(n) for word, n in NUMBER_WORDS.items()} | {"oh": "0", "couple": "2", "noon": "12"}

_INSTRUCTION = (
    "When you are asked for a decision in JSON, pick the action the caller's last words ask for, "
    "with only what the caller said, in their words (leave out what they did not say), on one line, e.g. "
    '{{"action": "take_message", "arguments": {{"name": "Bob", "phone": "555 2222", "message": "call back"}}}}. '
    "Actions:\n{actions}"
)


def _tokens(text: str) -> list[str]:
    words = re.findall(r"[a-z]+|\d+", text.lower())
    return [_NUMBER_WORDS.get(w, w) for w in words]


def _digits(text: str) -> str:
    return "".join(t for t in _tokens(text) if t.isdigit())


def when_phrase(caller_words: str) -> str | None:
    """The caller's last words for a day and time ("next Monday at 7 pm"), if any."""
    from dateparser.search import search_dates

    from voicebot.business.when import spoken_clock

    found = search_dates(spoken_clock(caller_words), languages=["en"], settings={"PREFER_DATES_FROM": "future"}) or []
    # Digits alone are a phone number's tail ("… five five five, one one one one" → year 1111).
    worded = [phrase for phrase, _ in found if any(c.isalpha() for c in phrase)]
    return worded[-1] if worded else None


def caller_phone(caller_words: str) -> str | None:
    """The last run of 7+ digits the caller said ("five five five, one two three four" →
    5551234): the model copies numbers badly ("555-313-131" for "555 3131")."""
    runs, run = [], ""
    for token in _tokens(caller_words):
        if token.isdigit():
            run += token
        else:
            runs.append(run)
            run = ""
    runs.append(run)
    found = [r for r in runs if 7 <= len(r) <= 15]
    return found[-1] if found else None


def ungrounded(arguments: dict[str, Any], caller_words: str) -> list[str]:
    """The arguments whose values the caller never said (the model made them up)."""
    said = set(_tokens(caller_words))
    said_digits = _digits(caller_words)
    invented = []
    for key, value in arguments.items():
        if value in (None, "", [], {}):
            continue
        if key == "phone":
            ok = len(_digits(str(value))) >= 3 and _digits(str(value)) in said_digits
        elif key == "party_size":
            ok = str(value) in said
        elif key == "name":
            ok = all(t in said for t in _tokens(str(value)))
        elif key in ("date", "time", "pickup_time"):
            tokens = [t for t in _tokens(str(value)) if t not in ("pm", "am", "at", "the", "on", "00")]
            ok = not tokens or any(t in said for t in tokens)
        elif key == "items":
            ok = all(isinstance(i, dict) and any(t in said for t in _tokens(str(i.get("name", ""))))
                     for i in value)
        else:
            ok = True
        if not ok:
            invented.append(f"{key}={value!r}")
    return invented


def decision_schema(tools: list[FunctionSchema]) -> dict[str, Any]:
    """One JSON shape per action; llama.cpp compiles it into a grammar.

    There is no "answer" choice: offered one, the model once chose it for "Please book a
    table for six next Friday at 8 pm under the name Carlo Rossi …" and then told the caller
    the table was booked. Questions that reach a decision ("Do you take reservations?")
    come back with made-up details only, which are dropped, and are answered in words.
    """
    shapes = []
    for tool in tools:
        shapes.append({
            "type": "object",
            "properties": {"action": {"const": tool.name},
                           "arguments": {"type": "object", "properties": _bounded(tool.properties), "required": []}},
            "required": ["action", "arguments"],
        })
    return {"anyOf": shapes}


def _bounded(schema: Any) -> Any:
    """``schema`` with lengths capped, so a decision cannot run on: each generated token
    costs ~0.1 s on 2 cores, and a caller waits for all of them."""
    if isinstance(schema, list):
        return [_bounded(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    bounded = {key: _bounded(value) for key, value in schema.items()}
    if bounded.get("type") == "string":
        bounded.setdefault("maxLength", DECISION_MAX_CHARS)
    elif bounded.get("type") == "array":
        bounded.setdefault("maxItems", DECISION_MAX_ITEMS)
    return bounded


def candidate_tools(tools: list[FunctionSchema], words: str) -> list[FunctionSchema]:
    """The tools the caller's words can be asking for (all of them if the words name none,
    e.g. a name and number given in answer to the desk's question)."""
    matching = [t for t in tools
                if (pattern := _ACTIONS_FOR_WORDS.get(t.name)) is None or re.search(pattern, words, re.IGNORECASE)]
    return matching or list(tools)


def _describe(tool: FunctionSchema) -> str:
    return f"- {tool.name}({', '.join(tool.properties)}): {tool.description}"


def routing_instruction(tools: list[FunctionSchema]) -> str:
    """How to decide, sent after the caller's words in the decision request only.

    Measured 2026-12-01: in the answers' system prompt it made plain answers worse ("What
    time do you close tonight?" answered with the hours 1 time in 5 instead of 5 in 5);
    after the caller's words it cost 15-25 s per decision (~200 uncached tokens each time).
    So it sits after the system prompt in the decision slot only, whose cache holds it.
    """
    return _INSTRUCTION.format(actions="\n".join(_describe(t) for t in tools))


def caller_words(context: LLMContext) -> str:
    """Everything the caller said this call, knowledge notes stripped: what a tool's arguments must come from."""
    return " ".join(_NOTES.sub("", m["content"]) for m in context.messages
                    if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str))


def without_tool_traffic(messages: list[dict]) -> list[dict]:
    """The conversation as the caller heard it: tool calls and raw results left out (the
    desk's sentence that followed is the assistant's turn). Shown its earlier tool calls,
    the model wrote the next one as JSON text, which the bot then read out."""
    return [m for m in messages
            if m.get("role") != "tool" and not (m.get("role") == "assistant" and m.get("tool_calls"))]


def merge_consecutive_user_messages(messages: list[dict]) -> list[dict]:
    """A caller who pauses mid-sentence leaves several user messages in a row ("book a table
    for six next Friday" / "under the name Carlo Rossi" / "my number is …"); decided on
    as they are, the model answered the last one alone ("I can't assist with that")."""
    merged: list[dict] = []
    for message in messages:
        if (merged and message.get("role") == "user" and merged[-1].get("role") == "user"
                and isinstance(message.get("content"), str) and isinstance(merged[-1].get("content"), str)):
            merged[-1] = {**merged[-1], "content": f"{merged[-1]['content']} {message['content']}"}
        else:
            merged.append(dict(message))
    return merged


def recent_caller_words(context: LLMContext, turns: int = 3) -> str:
    """The caller's last few turns (consecutive messages are one turn): a booking spreads
    over several ("for four on Saturday" … "my number is 555 1234"), and the last may hold
    no action word at all."""
    messages = [{**m, "content": _NOTES.sub("", m["content"])} if isinstance(m.get("content"), str) else m
                for m in without_tool_traffic([m for m in context.messages if isinstance(m, dict)])]
    said = [m["content"] for m in merge_consecutive_user_messages(messages)
            if m.get("role") == "user" and isinstance(m.get("content"), str)]
    return " ".join(said[-turns:])


def desk_is_asking(context: LLMContext, within: int = 6) -> bool:
    """True if a recent front-desk result was a question to the caller ("Could I have your
    name for the booking?"): their next words answer it and must reach the desk, not the
    model's imagination (it told a caller "I'll book a table for you" with nothing stored)."""
    for message in reversed(context.messages[-within:]):
        if isinstance(message, dict) and message.get("role") == "tool":
            try:
                return json.loads(message.get("content") or "").get("ok") is False
            except (TypeError, ValueError, AttributeError):
                return False
    return False


def _tool_summary(message: Any) -> str | None:
    """The ``summary`` of a front-desk tool result, if ``message`` is one."""
    if not isinstance(message, dict) or message.get("role") != "tool":
        return None
    try:
        result = json.loads(message.get("content") or "")
    except (TypeError, ValueError):
        return None
    return result.get("summary") if isinstance(result, dict) and isinstance(result.get("summary"), str) else None


async def _text_stream(text: str, model: str) -> AsyncIterator[ChatCompletionChunk]:
    yield ChatCompletionChunk(id=f"desk-{uuid.uuid4().hex[:8]}", created=int(time.time()), model=model,
                              object="chat.completion.chunk",
                              choices=[Choice(index=0, delta=ChoiceDelta(content=text), finish_reason="stop")])


async def _tool_call_stream(name: str, arguments: dict[str, Any], model: str) -> AsyncIterator[ChatCompletionChunk]:
    """The decision as the chunk an OpenAI server streams for a tool call."""
    call = ChoiceDeltaToolCall(index=0, id=f"call_{uuid.uuid4().hex[:12]}", type="function",
                               function=ChoiceDeltaToolCallFunction(name=name, arguments=json.dumps(arguments)))
    yield ChatCompletionChunk(id=f"route-{uuid.uuid4().hex[:8]}", created=int(time.time()), model=model,
                              object="chat.completion.chunk",
                              choices=[Choice(index=0, delta=ChoiceDelta(tool_calls=[call]), finish_reason="tool_calls")])


class ActionRoutingLLMService(OpenAILLMService):
    """``OpenAILLMService`` for a local model: tools are chosen by a grammar-constrained
    decision (see the module docstring), never sent as ``tools`` to the model.

    ``filler``: said while a decision runs (e.g. "One moment, please."), or None.
    ``decision_slot``: the llama.cpp slot whose cache holds the decision instruction
    (the embedded server's own); None lets a shared server choose.
    """

    def __init__(self, *, filler: str | None = None, decision_slot: int | None = DECISION_SLOT, **kwargs):
        super().__init__(**kwargs)
        self._filler = filler
        self._decision_slot = decision_slot
        self._filler_said_at = -FILLER_AGAIN_AFTER_S

    async def _say_filler_soon(self) -> None:
        # Only if the decision is slow (a caller pausing mid-sentence, whose turn goes on and
        # cancels this run, should not hear it), and not again right after the last one.
        await asyncio.sleep(FILLER_AFTER_S)
        if time.monotonic() - self._filler_said_at < FILLER_AGAIN_AFTER_S:
            return
        self._filler_said_at = time.monotonic()
        await self.push_frame(TTSSpeakFrame(self._filler))

    async def get_chat_completions(self, context: LLMContext):
        tools = context.tools.standard_tools if context.tools and hasattr(context.tools, "standard_tools") else []
        messages = context.messages
        last = messages[-1] if messages else None
        summary = _tool_summary(last)
        if summary is not None:
            # The desk's sentence was written from the stored row: say it as it is.
            return _text_stream(summary, model=self._settings.model)
        asking = tools and isinstance(last, dict) and last.get("role") == "user" and desk_is_asking(context)
        if (tools and isinstance(last, dict) and last.get("role") == "user"
                and (asking or (ACTION_WORDS.search(recent_caller_words(context))
                                and not is_service_question(_NOTES.sub("", str(last.get("content") or "")))))):
            decision = await self._decide(context, tools)
            if decision is not None:
                return _tool_call_stream(*decision, model=self._settings.model)
        return await super().get_chat_completions(context)

    def build_chat_completion_params(self, params_from_context) -> dict:
        params = super().build_chat_completion_params(params_from_context)
        # The model answers in words; tools run through _decide (it ignores a tools list anyway,
        # and the list would cost ~700 prompt tokens).
        params.pop("tools", None)
        params.pop("tool_choice", None)
        params["messages"] = without_tool_traffic(params["messages"])
        return params

    async def _decide(self, context: LLMContext, tools: list[FunctionSchema]) -> tuple[str, dict] | None:
        """(tool, arguments) if the caller asked for a trusted action; None: answer in words."""
        adapter = self.get_llm_adapter()
        invocation = await adapter.get_llm_invocation_params(
            context, system_instruction=assert_given(self._settings.system_instruction),
            convert_developer_to_user=not self.supports_developer_role)
        # [system, instruction, *conversation]: the decision slot's cache holds the first two.
        messages = merge_consecutive_user_messages(without_tool_traffic(invocation["messages"]))
        messages.insert(1 if messages and messages[0].get("role") == "system" else 0,
                        {"role": "system", "content": routing_instruction(tools)})
        offered = candidate_tools(tools, recent_caller_words(context))
        filler = asyncio.create_task(self._say_filler_soon()) if self._filler else None
        started = time.monotonic()
        try:
            response = await self._client.chat.completions.create(
                model=self._settings.model, messages=messages, stream=False, temperature=0, max_tokens=DECISION_MAX_TOKENS,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "decision", "schema": decision_schema(offered)}},
                extra_body={"cache_prompt": True,
                            **({"id_slot": self._decision_slot} if self._decision_slot is not None else {})})
            decision = json.loads(response.choices[0].message.content or "{}")
        except Exception as e:  # the turn is still answered in words
            logger.warning(f"{self}: action decision failed ({type(e).__name__}: {e}); answering in words")
            return None
        finally:
            if filler is not None:
                filler.cancel()
        action, arguments = decision.get("action", ANSWER), decision.get("arguments") or {}
        elapsed = time.monotonic() - started
        usage = getattr(response, "usage", None)
        logger.debug(f"{self}: decision {response.choices[0].message.content!r} "
                     f"({getattr(usage, 'completion_tokens', '?')} tokens, {elapsed:.2f}s)")
        if action == ANSWER:
            logger.debug(f"{self}: decided to answer in words ({elapsed:.2f}s)")
            return None
        last_words = _NOTES.sub("", context.messages[-1]["content"])
        if action == "end_call" and not _GOODBYE.search(last_words):
            logger.info(f"{self}: end_call not trusted without a goodbye in {last_words!r}; answering in words")
            return None
        said = caller_words(context)
        if "phone" in arguments and (phone := caller_phone(said)):
            arguments["phone"] = phone
        invented = ungrounded(arguments, said)
        if invented:
            # Made-up details are dropped: the desk asks the caller for what is missing.
            dropped = {item.split("=", 1)[0] for item in invented}
            arguments = {k: v for k, v in arguments.items() if k not in dropped}
            logger.info(f"{self}: {action}: dropped what the caller never said: {', '.join(invented)}")
        tool = next((t for t in tools if t.name == action), None)
        if tool is not None and {"date", "time", "pickup_time"} & set(tool.properties):
            # The caller's own words for the day and time win over the model's copy of them:
            # it rewrites them ("next Monday at 7 pm" → "2026-12-01", "eight. 45" → "8 pm").
            phrase = await asyncio.to_thread(when_phrase, recent_caller_words(context))
            for key in {"date", "time", "pickup_time"} & set(tool.properties) if phrase else ():
                # A day only from words that name one ("8 pm" alone would book today), a
                # time only from words with a number in them ("tomorrow" has no time).
                if (_DAY_WORDS.search(phrase) if key == "date" else any(c.isdigit() for c in phrase)):
                    arguments[key] = phrase
            if phrase:
                logger.info(f"{self}: {action}: the caller's words for when: {phrase!r}")
        if tool is None or (tool.properties and not any(v not in (None, "", [], {}) for v in arguments.values())):
            logger.info(f"{self}: {action} without anything the caller said ({elapsed:.2f}s); answering in words")
            return None
        logger.info(f"{self}: decided {action}({arguments}) in {elapsed:.2f}s")
        return action, arguments
