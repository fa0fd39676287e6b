"""What a caller has asked the front desk for so far in a call, one request at a time.

Each request holds the caller's details as they were given over the turns; a later turn's
value replaces an earlier one (a correction), and once stored a request keeps the row's id,
so that a change of mind changes that row instead of making a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from voicebot.business.database import MenuItem
from voicebot.front_desk.understanding import Intent


@dataclass
class Caller:
    """Who is calling: given once, used by every request of the call."""

    name: str | None = None
    phone: str | None = None  # 10 digits, once whole
    phone_confirmed: bool = False
    partial_digits: str = ""  # digits heard while the number is still incomplete


@dataclass
class Request:
    """Something the caller asked the desk to do."""

    kind: ClassVar[Intent]
    stored_id: int | None = None  # the row, once stored
    confirmed: bool = False

    @property
    def stored(self) -> bool:
        return self.stored_id is not None


@dataclass
class BookingRequest(Request):
    """A table: how many, which day and time."""

    kind: ClassVar[Intent] = Intent.BOOK
    party: int | None = None
    day: str | None = None
    time: str | None = None
    when: datetime | None = None  # the moment the words name, once read and allowed
    available: bool = False  # a free table was found for party and when
    over_limit: int | None = None  # a party size refused for the house limit (said again when asking)


@dataclass
class OrderRequest(Request):
    """Takeout: the dishes and their quantities, and when it is picked up."""

    kind: ClassVar[Intent] = Intent.ORDER
    lines: list[list[Any]] = field(default_factory=list)  # [MenuItem, quantity]
    pickup: str | None = None  # the caller's words; None: as soon as possible
    pickup_at: datetime | None = None
    offered_pickup: datetime | None = None  # the next opening, offered for a time we are closed

    def set_quantity(self, item: MenuItem, quantity: int) -> None:
        for line in self.lines:
            if line[0] == item:
                line[1] = quantity
                return
        self.lines.append([item, quantity])

    def add(self, item: MenuItem, quantity: int) -> None:
        for line in self.lines:
            if line[0] == item:
                line[1] += quantity
                return
        self.lines.append([item, quantity])

    def remove(self, item: MenuItem) -> None:
        self.lines = [line for line in self.lines if line[0] != item]

    def menu_lines(self) -> list[tuple[MenuItem, int]]:
        return [(item, quantity) for item, quantity in self.lines]


@dataclass
class MessageRequest(Request):
    """A message for the staff."""

    kind: ClassVar[Intent] = Intent.MESSAGE
    text: str | None = None


@dataclass
class CancelRequest(Request):
    """Cancelling (or just looking up) a booking made before, or cancelling a takeout order."""

    kind: ClassVar[Intent] = Intent.CANCEL
    only_look_up: bool = False
    of_order: bool = False  # a takeout order, not a booking
    change: Any = None  # the caller's reading (Heard) of a change to make once the row is found
    day: str | None = None
    found: list[Any] = field(default_factory=list)  # booking rows under the caller's number
    chosen: Any = None  # the row to cancel


REQUEST_TYPES: dict[Intent, type[Request]] = {
    Intent.BOOK: BookingRequest, Intent.ORDER: OrderRequest, Intent.MESSAGE: MessageRequest,
    Intent.CANCEL: CancelRequest,
}
