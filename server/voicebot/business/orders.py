"""Takeout orders: items matched to the menu, the total computed here from menu prices.

Each dish must be on the menu (``menu.py`` reads the caller's words for it), or the whole
order is refused with the menu's real names, so nothing off the menu is ever stored or
charged. Pickup is within opening hours: asked "as soon as possible" while the kitchen is
closed, the desk offers the next opening instead.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from sqlalchemy import delete, insert, select, update

from voicebot.business import outbox, schema
from voicebot.business.database import Company, Database, MenuItem, spoken_time
from voicebot.business.desk import Clock, DeskResult, check_contact, company_clock, phone_digits, refused, spoken_when
from voicebot.business.menu import Menu
from voicebot.business.money import format_price
from voicebot.business.vocabulary import QUANTITY_WORDS
from voicebot.business.when import WhenError, parse_when

MAX_QUANTITY = 50
# How long the kitchen takes (the demo restaurants' FAQ says "about 20 minutes").
PREP_MINUTES = 20

Line = tuple[MenuItem, int]


def _quantity(value: Any) -> int:
    if isinstance(value, str) and value.strip().lower() in QUANTITY_WORDS:
        return QUANTITY_WORDS[value.strip().lower()]
    return int(value)


def total_cents(lines: list[Line]) -> int:
    """The order's total from the menu's prices."""
    return sum(item.price_cents * quantity for item, quantity in lines)


def plural(name: str, quantity: int) -> str:
    """"2 Dragon rolls", "2 Salmon nigiri, two pieces": the head of the name (before a comma) takes an s."""
    head, comma, rest = name.partition(",")
    if quantity == 1 or head.endswith(("s", "i", "sh", "ch")):
        return name
    head = head[:-1] + "ies" if head.endswith("y") and head[-2:-1] not in "aeiou" else head + "s"
    return head + comma + rest


def listed(lines: list[Line]) -> str:
    """"2 Dragon rolls and 1 Miso soup"."""
    return " and ".join(f"{quantity} {plural(item.name, quantity)}" for item, quantity in lines)


class OrderDesk:
    """Takes one company's takeout orders."""

    def __init__(self, database: Database, company: Company, clock: Clock | None = None):
        self.database = database
        self.company = company
        self.menu = Menu(company.menu)
        self.clock = clock or company_clock(company)

    # --- pickup times -------------------------------------------------------------------

    def is_open(self, moment: datetime) -> bool:
        span = self.company.hours.get(moment.weekday())
        return span is not None and span[0] <= moment.time() <= span[1]

    def next_opening(self, after: datetime) -> datetime | None:
        """The first opening time after ``after`` (today's, if it is still to come), within a week."""
        for days in range(8):
            day = (after + timedelta(days=days)).date()
            span = self.company.hours.get(day.weekday())
            if span is not None:
                opens = datetime.combine(day, span[0])
                if opens > after:
                    return opens
        return None

    def soonest_pickup(self) -> datetime | None:
        """Ready in ``PREP_MINUTES`` if the kitchen is open then; else at the next opening (None: never)."""
        ready = self.clock() + timedelta(minutes=PREP_MINUTES)
        if self.is_open(ready):
            return ready
        return self.next_opening(self.clock())

    def pickup_time(self, pickup: str | None) -> datetime:
        """When the caller's words say they will pick up (raises ``WhenError``)."""
        if not pickup or pickup.strip().lower() in ("asap", "now", "as soon as possible", "right away"):
            soonest = self.soonest_pickup()
            if soonest is None:
                raise WhenError("closed all week")
            return soonest
        words = pickup.strip()
        match = re.match(r"^in (\d+) minutes?$", words, re.IGNORECASE)
        if match:
            return self.clock() + timedelta(minutes=int(match.group(1)))
        day, _, time_of_day = words.rpartition(" at ")
        return parse_when(day or "today", time_of_day or words, self.clock(), self.company.hours)

    def pickup_problem(self, pickup_at: datetime) -> str | None:
        """Why the kitchen cannot have an order ready then, or None."""
        if pickup_at < self.clock():
            return "Sorry, that time has already passed. When would you like to pick it up?"
        if not self.is_open(pickup_at):
            opening = self.next_opening(pickup_at)
            offer = f" I could have it ready {spoken_when(opening, self.clock())}." if opening else ""
            return (f"Sorry, we're not open at {spoken_time(pickup_at.time())} on {pickup_at.strftime('%A')}. "
                    f"Our hours are {self.company.opening_hours}.{offer}")
        return None

    # --- orders -------------------------------------------------------------------------

    def lines_from(self, items: list[dict[str, Any]]) -> tuple[list[Line], list[str]]:
        """Menu lines for ``[{"name", "quantity"}]`` and the names that are not on the menu."""
        lines: list[Line] = []
        unknown: list[str] = []
        for entry in items or []:
            if not isinstance(entry, dict):
                continue
            item = self.menu.find(str(entry.get("name", "")))
            if item is None:
                unknown.append(str(entry.get("name", "")))
            else:
                lines.append((item, _quantity(entry.get("quantity", 1))))
        return lines, unknown

    def place(self, items: list[dict[str, Any]], name: str, phone: str, pickup: str | None = None) -> DeskResult:
        """Place an order given as the caller named it (``[{"name", "quantity"}]``, pickup in words)."""
        if not self.company.takes_orders:
            return refused(f"Sorry, {self.company.name} doesn't take takeout orders by phone.", ordered=False)
        try:
            lines, unknown = self.lines_from(items)
        except (TypeError, ValueError):
            return refused("How many of each would you like?", ordered=False)
        if unknown:
            return refused(f"Sorry, we don't have {' or '.join(unknown)}. Our menu has {self.menu.names()}.",
                           ordered=False)
        try:
            pickup_at = self.pickup_time(pickup)
        except WhenError:
            return refused("When would you like to pick it up?", ordered=False)
        return self.place_lines(lines, name, phone, pickup_at)

    def place_lines(self, lines: list[Line], name: str, phone: str, pickup_at: datetime) -> DeskResult:
        """Store an order of menu lines, after the house rules; the sentence confirms the stored row."""
        if not self.company.takes_orders:
            return refused(f"Sorry, {self.company.name} doesn't take takeout orders by phone.", ordered=False)
        problem = (self._lines_problem(lines) or self.pickup_problem(pickup_at)
                   or check_contact(name, phone, "order"))
        if problem:
            return refused(problem, ordered=False)
        total = total_cents(lines)
        with self.database.transaction() as db:
            order_id = db.execute(insert(schema.orders).values(
                company_id=self.company.id, name=name.strip(), phone=phone_digits(phone), pickup_at=pickup_at,
                total_cents=total, created_at=self.clock(),
            ).returning(schema.orders.c.id)).scalar_one()
            self._insert_lines(db, order_id, lines)
            outbox.record(db, self.company.id, "order", order_id, "created")
        logger.info(f"Order #{order_id} for {self.company.name}: {listed(lines)}, total {format_price(total)}")
        return DeskResult(True, f"Your order is in: {listed(lines)}, {format_price(total)} in total, ready "
                                f"{spoken_when(pickup_at, self.clock())}. Anything else?",
                          {"order_id": order_id, "total": format_price(total), "ordered": True})

    def change(self, order_id: int, lines: list[Line], pickup_at: datetime) -> DeskResult:
        """Replace a stored order's dishes and pickup time (the caller changed their mind)."""
        problem = self._lines_problem(lines) or self.pickup_problem(pickup_at)
        if problem:
            return refused(problem, ordered=True)
        total = total_cents(lines)
        o = schema.orders
        with self.database.transaction() as db:
            if db.execute(select(o.c.id).where(o.c.id == order_id, o.c.company_id == self.company.id)).first() is None:
                return refused("I can't find that order any more.", ordered=False)
            db.execute(update(o).where(o.c.id == order_id).values(total_cents=total, pickup_at=pickup_at,
                                                                  updated_at=self.clock()))
            db.execute(delete(schema.order_items).where(schema.order_items.c.order_id == order_id))
            self._insert_lines(db, order_id, lines)
            outbox.record(db, self.company.id, "order", order_id, "updated")
        logger.info(f"Order #{order_id} for {self.company.name} changed: {listed(lines)}, total {format_price(total)}")
        return DeskResult(True, f"Done, your order is now {listed(lines)}, {format_price(total)} in total, ready "
                                f"{spoken_when(pickup_at, self.clock())}. Anything else?",
                          {"order_id": order_id, "total": format_price(total), "ordered": True, "changed": True})

    def cancel(self, order_id: int) -> DeskResult:
        """Cancel one order the caller has confirmed (the kitchen sees it cancelled, never gone)."""
        o = schema.orders
        with self.database.transaction() as db:
            row = db.execute(select(o).where(o.c.id == order_id, o.c.company_id == self.company.id)).first()
            if row is None or row.status == "cancelled":
                return refused("That order is already cancelled.", ordered=False)
            db.execute(update(o).where(o.c.id == order_id).values(status="cancelled", updated_at=self.clock()))
            outbox.record(db, self.company.id, "order", order_id, "cancelled")
        logger.info(f"Order #{order_id} for {self.company.name} cancelled")
        return DeskResult(True, f"Done, I've cancelled your order of {self.describe(order_id)}. Anything else?",
                          {"order_id": order_id, "cancelled": True})

    def open_orders(self, phone: str) -> list:
        """The orders under a number that are still to be picked up, soonest first."""
        o = schema.orders
        with self.database.engine.connect() as db:
            return list(db.execute(select(o).where(
                o.c.company_id == self.company.id, o.c.phone == phone_digits(phone), o.c.status != "cancelled",
                o.c.pickup_at >= self.clock() - timedelta(hours=2)).order_by(o.c.pickup_at)))

    def stored_order(self, order_id: int) -> tuple[list[Line], datetime | None, str]:
        """A stored order's lines (as menu items), pickup time and name, to change it."""
        o, i = schema.orders, schema.order_items
        with self.database.engine.connect() as db:
            row = db.execute(select(o).where(o.c.id == order_id, o.c.company_id == self.company.id)).one()
            items = list(db.execute(select(i).where(i.c.order_id == order_id).order_by(i.c.id)))
        by_id = {item.id: item for item in self.company.menu}
        lines = [(by_id[line.menu_item_id], line.quantity) for line in items if line.menu_item_id in by_id]
        return lines, row.pickup_at, row.name

    def describe(self, order_id: int) -> str:
        """A stored order as the bot says it: "2 Dragon rolls and 1 Miso soup, ready today at 1:15 PM"."""
        o, i = schema.orders, schema.order_items
        with self.database.engine.connect() as db:
            row = db.execute(select(o).where(o.c.id == order_id)).first()
            lines = [(line.name, line.quantity) for line in db.execute(select(i).where(i.c.order_id == order_id))]
        dishes = " and ".join(f"{quantity} {plural(name, quantity)}" for name, quantity in lines)
        ready = f", ready {spoken_when(row.pickup_at, self.clock())}" if row is not None and row.pickup_at else ""
        return dishes + ready

    @staticmethod
    def _insert_lines(db, order_id: int, lines: list[Line]) -> None:
        db.execute(insert(schema.order_items), [
            {"order_id": order_id, "menu_item_id": item.id, "name": item.name, "quantity": quantity,
             "unit_price_cents": item.price_cents} for item, quantity in lines
        ])

    @staticmethod
    def _lines_problem(lines: list[Line]) -> str | None:
        if not lines:
            return "What would you like to order?"
        if any(not 1 <= quantity <= MAX_QUANTITY for _, quantity in lines):
            return f"How many would you like? I can take 1 to {MAX_QUANTITY} of each."
        return None
