"""The front desk: what a caller asks for over a call, kept in code, and the notes the LLM gets.

``understanding`` reads a caller's turn, ``requests`` holds what they asked for, ``dialog``
decides what the desk says and stores it once, ``processor`` puts the desk in the pipeline
before the LLM, and ``notes`` gives the LLM the business knowledge for the other turns.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from voicebot.business.bookings import BookingBook
from voicebot.business.database import Company, Database
from voicebot.business.desk import company_clock
from voicebot.business.knowledge import KnowledgeBase
from voicebot.business.messages import MessagePad
from voicebot.business.orders import OrderDesk
from voicebot.front_desk.dialog import DeskReply, FrontDeskDialog
from voicebot.front_desk.second_reader import SecondReader


class FrontDesk:
    """One company's bookings, orders, messages and knowledge, on the restaurant's clock."""

    def __init__(self, database: Database, company: Company, clock: datetime | time | None = None,
                 spool: Path | None = None):
        self.company = company
        self.clock = company_clock(company, clock)  # the restaurant's wall clock, shared by every desk
        self.bookings = BookingBook(database, company, self.clock)
        self.orders = OrderDesk(database, company, self.clock)
        self.messages = MessagePad(database, company, self.clock, spool)
        self.knowledge = KnowledgeBase(database, company.id)

    def dialog(self, by_phone: bool = False, second_reader: SecondReader | None = None) -> FrontDeskDialog:
        """A new call's conversation with this desk (``by_phone``: the caller can be put through to a
        person and has a keypad; ``second_reader``: the LLM that reads the turns the rules cannot)."""
        return FrontDeskDialog(self.company, self.bookings, self.orders, self.messages, self.knowledge,
                               by_phone=by_phone, second_reader=second_reader)


__all__ = ["DeskReply", "FrontDesk", "FrontDeskDialog"]
