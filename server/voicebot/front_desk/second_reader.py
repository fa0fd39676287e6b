"""The desk's second reader: the configured LLM fills the desk's slots as JSON, under a schema.

The rules in ``understanding.py`` read most turns in microseconds. A turn they cannot place
(the desk asked how many and got "we're the whole team, so seven of us if Jo comes") goes
to the LLM with a JSON schema (constrained decoding: llama.cpp turns the schema into a
grammar; OpenAI's structured outputs do the same), so the answer is always well-formed.
A value is taken only where the caller's own words support it: a number the words say,
a day or time the words name, a dish that is on the menu and named, a name whose words
were said. The model proposes; the words decide. What is not supported is dropped and the
desk asks again in its own words.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from loguru import logger
from openai import OpenAI
from rapidfuzz import fuzz

from voicebot import privacy
from voicebot.business.menu import DishMention, Menu
from voicebot.business.vocabulary import NUMBER_WORDS, RELATIVE_DAYS, WEEKDAY_INDEX
from voicebot.business.when import clock_words
from voicebot.front_desk.understanding import _NOT_NAMES, Heard, Intent

# The request kinds it may name. It fills only the fields of the slot the desk asked for
# (``slots.py``), so the model writes a few tokens (the 1.5B embedded model: ~10 tokens a second).
KINDS = ("book", "order", "message", "cancel", "lookup", "question", "other")
_INSTRUCTIONS = (
    "Read the caller's words on a restaurant's phone line and answer with compact JSON on one line, no spaces. "
    "Use only what the caller said; null if they did not say it. party: how many people in all. day: the day "
    "as said. time: the clock time as said, with am/pm if said. items: dishes from the menu and how many. "
    'kind: what they want. Example: {"party":3,"day":"Friday","time":"8 pm"}'
)


def schema(menu: Menu, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON schema of the reader's answer, only ``fields``; dish names only from this menu."""
    dish: dict[str, Any] = {"type": "string", "enum": [item.name for item in menu.items]} if menu.items else {
        "type": "string"}
    nullable_string = {"anyOf": [{"type": "string", "maxLength": 40}, {"type": "null"}]}
    properties: dict[str, Any] = {
        "kind": {"type": "string", "enum": list(KINDS)},
        "party": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 99}, {"type": "null"}]},
        "day": nullable_string,
        "time": nullable_string,
        "name": nullable_string,
        "items": {"type": "array", "maxItems": 6, "items": {
            "type": "object", "properties": {"name": dish, "quantity": {"type": "integer", "minimum": 1,
                                                                        "maximum": 99}},
            "required": ["name", "quantity"], "additionalProperties": False}},
    }
    return {"type": "object", "properties": {f: properties[f] for f in fields}, "required": list(fields),
            "additionalProperties": False}


@dataclass
class SecondReading:
    """What the second reader found that the caller's words support."""

    kind: str | None = None
    party: int | None = None
    day: str | None = None
    time: str | None = None
    name: str | None = None
    items: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.party or self.day or self.time or self.name or self.items)

    def request_kind(self) -> Intent | None:
        """The request the supported slots make, whatever kind the model named: dishes are an order; a party
        with a day or time is a booking (the model called "could you squeeze six of us in Friday" a message)."""
        if self.items:
            return Intent.ORDER
        if self.party and (self.day or self.time) or self.kind == "book" and (self.party or self.day or self.time):
            return Intent.BOOK
        return None


def _numbers_in(text: str) -> set[int]:
    words = clock_words(text).lower()
    found = {int(n) for n in re.findall(r"\d+", words)}
    found |= {n for word, n in NUMBER_WORDS.items() if re.search(rf"\b{word}\b", words)}
    found |= {4 for _ in re.findall(r"\b(for|fore)\b", words)} | {2 for _ in re.findall(r"\b(to|too)\b", words)}
    found |= {8 for _ in re.findall(r"\bate\b", words)}
    return found


def _named(name: str, menu: Menu, said: str) -> bool:
    """Whether the caller's words name this dish: a word of its name no other dish has, said or nearly."""
    words = set(re.findall(r"[a-z]+", name.split(",")[0].lower()))
    others = {w for item in menu.items if item.name != name for w in re.findall(r"[a-z]+", item.name.lower())}
    distinct = (words - others) or words
    spoken = re.findall(r"[a-z]+", said)
    return any(fuzz.ratio(w, s) >= 80 for w in distinct for s in spoken)


def supported(reading: dict[str, Any], text: str, menu: Menu) -> SecondReading:
    """The parts of the model's ``reading`` that the caller's ``text`` supports."""
    said = text.lower()
    numbers = _numbers_in(text)
    result = SecondReading(kind=reading.get("kind") if reading.get("kind") in KINDS else None)
    party = reading.get("party")
    if isinstance(party, int) and 0 < party <= 99 and (party in numbers or re.search(
            r"\b(me|myself|my|our|us|couple|family)\b", said)):
        result.party = party
    day = reading.get("day")
    if isinstance(day, str) and day.strip():
        day_words = {w for w in re.findall(r"[a-z]+", day.lower())}
        named = (set(WEEKDAY_INDEX) | set(RELATIVE_DAYS)) & day_words
        if named and all(re.search(rf"\b{w}", said) for w in named):
            result.day = day.strip()
    clock = reading.get("time")
    if isinstance(clock, str) and clock.strip():
        hours = {int(n) for n in re.findall(r"\d+", clock_words(clock))[:1]}
        if (hours and hours <= numbers) or re.search(r"\b(noon|midnight)\b", said) and re.search(
                r"noon|midnight|12", clock.lower()):
            result.time = clock.strip()
    name = reading.get("name")
    if isinstance(name, str) and 0 < len(name.split()) <= 4 and all(
            re.search(rf"\b{re.escape(w.lower())}\b", said) and w.lower() not in _NOT_NAMES for w in name.split()):
        result.name = name.strip()
    for entry in reading.get("items") or []:
        if not isinstance(entry, dict):
            continue
        item = next((i for i in menu.items if i.name == entry.get("name")), None)
        quantity = entry.get("quantity")
        if item is None or not isinstance(quantity, int):
            continue
        if not _named(item.name, menu, said):
            continue  # the dish is not named
        if quantity != 1 and quantity not in numbers:
            quantity = 1
        result.items.append((item.name, quantity))
    return result


class SecondReader:
    """Reads a turn into the desk's slots with the configured LLM, under a JSON schema."""

    def __init__(self, base_url: str | None, api_key: str | None, model: str, timeout_s: float = 20.0,
                 extra_body: dict[str, Any] | None = None):
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0)
        self._model = model
        self._extra_body = extra_body or {}
        self.turns = 0  # how many turns it read
        self.seconds = 0.0  # and how long they took in all

    def read(self, text: str, menu: Menu, asked: str | None, fields: tuple[str, ...]) -> SecondReading | None:
        """The ``fields`` ``text`` fills (``asked``: the question the desk had asked); None if the LLM failed."""
        started = time.monotonic()
        question = f'The restaurant just asked: "{asked}"\n' if asked else ""
        try:
            response = self._client.chat.completions.create(
                model=self._model, temperature=0, max_tokens=80,
                messages=[{"role": "system", "content": _INSTRUCTIONS},
                          {"role": "user", "content": f"{question}Menu: {menu.names()}\nCaller: {text}"}],
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "caller_turn", "schema": schema(menu, fields),
                                                 "strict": True}},
                extra_body=self._extra_body)
            reading = json.loads(response.choices[0].message.content or "{}")
        except Exception as e:
            logger.warning(f"Front desk: the second reader failed ({type(e).__name__}: {e}); the desk asks again")
            return None
        finally:
            elapsed = time.monotonic() - started
            self.turns += 1
            self.seconds += elapsed
        result = supported(reading if isinstance(reading, dict) else {}, text, menu)
        result.seconds = elapsed
        logger.info(f"Front desk: second reader in {elapsed:.2f}s: {privacy.said(repr(reading))} → kept "
                    f"{privacy.said(repr(result))}")
        return result


def with_second_reading(heard: Heard, reading: SecondReading, menu: Menu) -> Heard:
    """``heard`` with the slots the rules left empty filled from the second reader's supported reading."""
    filled = replace(heard)
    filled.party = heard.party or reading.party
    filled.day = heard.day or reading.day
    filled.time = heard.time or reading.time
    filled.name = heard.name or reading.name
    if not heard.dishes and reading.items:
        filled.dishes = [DishMention(name, next(i for i in menu.items if i.name == name), quantity)
                         for name, quantity in reading.items]
    return filled
