"""The bot's hands: the functions the LLM calls during a call, and the notes it gets per turn.

Pipecat function calling (OpenAI ``tools``), so OpenAI, any compatible server and the
embedded llama.cpp model work the same. Each tool runs a front-desk operation in a
thread (the database is synchronous) and returns ``{"ok", "summary", …}``; the rules
live in ``voicebot.business`` and hold whatever the model asks. ``KnowledgeNotes`` adds
the business knowledge matching each caller turn to that turn's message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import EndWorkerFrame, Frame, FunctionCallResultProperties, LLMContextFrame, TTSSpeakFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallParams, LLMService

from voicebot.business.bookings import BookingBook
from voicebot.business.database import Company, Database
from voicebot.business.desk import Clock, DeskResult, company_clock
from voicebot.business.knowledge import KnowledgeBase, search_terms
from voicebot.business.messages import MessagePad
from voicebot.business.orders import OrderDesk
from voicebot.business.prompt import clock_note, day_hours_notes, goodbye, with_notes

# Words that make the current time worth telling the LLM ("are you still open?").
_TIME_WORDS = frozenset({"now", "open", "close", "closing", "closed", "today", "tonight", "still", "late", "hours"})

_DAY = {"type": "string", "description": "the day in the caller's words, e.g. 'Saturday', 'tomorrow', 'December 12'"}
_TIME = {"type": "string", "description": "the time in the caller's words, e.g. '7 pm', '19:30'"}
_NAME = {"type": "string", "description": "the caller's name"}
_PHONE = {"type": "string", "description": "the caller's phone number"}
_PARTY = {"type": "integer", "description": "number of people"}

TOOL_SCHEMAS = [
    FunctionSchema("check_availability", "Check whether a table is free; books nothing.",
                   {"date": _DAY, "time": _TIME, "party_size": _PARTY}, ["date", "time", "party_size"]),
    FunctionSchema("book_table", "Book a table. Needs name, phone, party size, day and time.",
                   {"name": _NAME, "phone": _PHONE, "party_size": _PARTY, "date": _DAY, "time": _TIME},
                   ["name", "phone", "party_size", "date", "time"]),
    FunctionSchema("find_booking", "Look up the caller's upcoming bookings.", {"phone": _PHONE}, ["phone"]),
    FunctionSchema("cancel_booking", "Cancel the caller's booking.", {"phone": _PHONE, "date": _DAY}, ["phone"]),
    FunctionSchema(
        "place_order", "Place a takeout order from the menu. Needs the items, name and phone.",
        {"items": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string", "description": "menu item"},
            "quantity": {"type": "integer"}}, "required": ["name", "quantity"]}},
         "name": _NAME, "phone": _PHONE,
         "pickup_time": {"type": "string", "description": "when they will pick it up, if they said"}},
        ["items", "name", "phone"]),
    FunctionSchema("take_message", "Take a message for the staff, manager or owner, e.g. to call the caller back.",
                   {"name": _NAME, "phone": _PHONE, "message": {"type": "string"}}, ["name", "phone", "message"]),
    FunctionSchema("end_call", "End the call after the caller says goodbye.", {}, []),
]


def tools_schema() -> ToolsSchema:
    """The front-desk tools as the schema a call's ``LLMContext`` offers the LLM."""
    return ToolsSchema(standard_tools=TOOL_SCHEMAS)


class FrontDesk:
    """One company's bookings, orders and messages, and the LLM functions that reach them."""

    def __init__(self, database: Database, company: Company):
        self.company = company
        self.clock = company_clock(company)  # the restaurant's wall clock, shared by every desk
        self.bookings = BookingBook(database, company, self.clock)
        self.orders = OrderDesk(database, company, self.clock)
        self.messages = MessagePad(database, company, self.clock)
        self.knowledge = KnowledgeBase(database, company.id)

    def operations(self) -> dict[str, Callable[..., DeskResult]]:
        """Tool name → the operation, called with the tool's arguments."""
        return {
            "check_availability": lambda a: self.bookings.check(a.get("date", ""), a.get("time", ""),
                                                                 _integer(a.get("party_size"))),
            "book_table": lambda a: self.bookings.book(a.get("name", ""), a.get("phone", ""),
                                                       _integer(a.get("party_size")), a.get("date", ""),
                                                       a.get("time", "")),
            "find_booking": lambda a: self.bookings.find(a.get("phone", "")),
            "cancel_booking": lambda a: self.bookings.cancel(a.get("phone", ""), a.get("date")),
            "place_order": lambda a: self.orders.place(a.get("items") or [], a.get("name", ""),
                                                      a.get("phone", ""), a.get("pickup_time")),
            "take_message": lambda a: self.messages.take(a.get("name", ""), a.get("phone", ""),
                                                        a.get("message", "")),
        }

    async def run(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run one tool; a fault in our code is logged and told to the LLM, never raised."""
        operation = self.operations()[name]
        try:
            result = await asyncio.to_thread(operation, arguments or {})
        except (TypeError, ValueError) as e:
            logger.info(f"Tool {name} got unusable arguments {arguments}: {e}")
            result = DeskResult(False, "Sorry, could you say that again with the details?")
        except Exception:
            logger.exception(f"Tool {name} failed with {arguments}")
            result = DeskResult(False, "Sorry, I couldn't save that just now. Could I take a message instead?")
        logger.info(f"Tool {name}({arguments}) → {result.summary}")
        return result.for_llm()

    def register(self, llm: LLMService) -> None:
        """Register every tool's handler with ``llm``."""
        for name in self.operations():
            llm.register_function(name, self._handler(name))
        llm.register_function("end_call", self._end_call)

    def _handler(self, name: str):
        async def handle(params: FunctionCallParams) -> None:
            await params.result_callback(await self.run(name, dict(params.arguments or {})))
        return handle

    async def _end_call(self, params: FunctionCallParams) -> None:
        # Say goodbye ourselves (no second LLM round), then end once it has been spoken.
        await params.result_callback({"ok": True}, properties=FunctionCallResultProperties(run_llm=False))
        await params.llm.push_frame(TTSSpeakFrame(goodbye(self.company)))
        await params.llm.push_frame(EndWorkerFrame())


def _integer(value: Any) -> int:
    """A party size; 0 when the caller has not said it (the desk then asks)."""
    if value is None or value == "":
        return 0
    return int(value)


class KnowledgeNotes(FrameProcessor):
    """Adds the business knowledge matching the caller's words to their turn's message.

    Sits between the user aggregator and the LLM. The notes are written into the context
    itself, so later turns keep the same prefix (the LLM's prompt cache stays valid), and
    an entry already given in this call is not given again.
    """

    def __init__(self, knowledge: KnowledgeBase, clock: Clock, company: Company | None = None, limit: int = 3,
                 **kwargs):
        super().__init__(**kwargs)
        self._knowledge = knowledge
        self._company = company
        self._clock = clock
        self._limit = limit
        self._given: set[int] = set()

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction is FrameDirection.DOWNSTREAM:
            await self._annotate(frame)
        await self.push_frame(frame, direction)

    async def _annotate(self, frame: LLMContextFrame) -> None:
        messages = frame.context.messages
        if not messages:
            return
        last = messages[-1]
        if not isinstance(last, dict) or last.get("role") != "user" or not isinstance(last.get("content"), str):
            return
        if "(Notes for this question:" in last["content"]:
            return
        hits = await asyncio.to_thread(self._knowledge.search, last["content"], self._limit)
        notes = [text for entry_id, text in hits if entry_id not in self._given]
        now = self._clock()
        if self._company is not None:
            notes[:0] = day_hours_notes(self._company, now, last["content"])
        if _TIME_WORDS.intersection(search_terms(last["content"])):
            notes.insert(0, clock_note(now))
        if not frame.speculation:
            self._given.update(entry_id for entry_id, _ in hits)
        if notes:
            last["content"] = with_notes(last["content"], notes)
