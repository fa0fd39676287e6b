"""Takeout orders: items matched to the menu, the total computed here from menu prices.

The LLM names the dishes as the caller said them ("two dragon rolls"); each must match
exactly one menu item (case, plural and small slips forgiven) or the whole order is
refused with the menu's real names, so nothing off the menu is ever stored or charged.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from sqlalchemy import insert

from voicebot.business import schema
from voicebot.business.database import Company, Database, MenuItem, spoken_time
from voicebot.business.desk import Clock, DeskResult, check_contact, company_clock, phone_digits, refused, spoken_when
from voicebot.business.money import format_price
from voicebot.business.vocabulary import NUMBER_WORDS
from voicebot.business.when import WhenError, parse_when

MAX_QUANTITY = 50
_NUMBER_WORDS = {"a": 1, "an": 1} | {word: n for word, n in NUMBER_WORDS.items() if n}


def _normalize(name: str) -> str:
    words = re.sub(r"[^a-z0-9 ]", " ", name.lower()).split()
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


class Menu:
    """Finds a menu item from the words a caller used."""

    def __init__(self, items: tuple[MenuItem, ...]):
        self.items = items
        self._by_name = {_normalize(item.name): item for item in items}
        # "Salmon nigiri, two pieces" is asked for as "salmon nigiri".
        self._by_short_name = {_normalize(item.name.split(",")[0]): item for item in items}

    def find(self, words: str) -> MenuItem | None:
        key = _normalize(words)
        for table in (self._by_name, self._by_short_name):
            if key in table:
                return table[key]
        containing = [item for name, item in self._by_short_name.items() if name in key or key in name]
        if len(containing) == 1:
            return containing[0]
        close = difflib.get_close_matches(key, list(self._by_name), n=2, cutoff=0.8)
        return self._by_name[close[0]] if len(close) == 1 else None

    def names(self) -> str:
        return ", ".join(item.name for item in self.items)


def _quantity(value: Any) -> int:
    if isinstance(value, str) and value.strip().lower() in _NUMBER_WORDS:
        return _NUMBER_WORDS[value.strip().lower()]
    return int(value)


class OrderDesk:
    """Takes one company's takeout orders."""

    def __init__(self, database: Database, company: Company, clock: Clock | None = None):
        self.database = database
        self.company = company
        self.menu = Menu(company.menu)
        self.clock = clock or company_clock(company)

    def place(self, items: list[dict[str, Any]], name: str, phone: str, pickup: str | None = None) -> DeskResult:
        if not self.company.takes_orders:
            return refused(f"Sorry, {self.company.name} doesn't take takeout orders by phone.")
        lines, unknown = [], []
        for entry in items or []:
            if not isinstance(entry, dict):
                continue
            item = self.menu.find(str(entry.get("name", "")))
            try:
                quantity = _quantity(entry.get("quantity", 1))
            except (TypeError, ValueError):
                return refused(f"How many {entry.get('name')} would you like?")
            if item is None:
                unknown.append(str(entry.get("name", "")))
            elif not 1 <= quantity <= MAX_QUANTITY:
                return refused(f"How many would you like? I can take 1 to {MAX_QUANTITY} of each.")
            else:
                lines.append((item, quantity))
        if unknown:
            return refused(f"Sorry, we don't have {' or '.join(unknown)}. Our menu has {self.menu.names()}.",
                           ordered=False)
        if not lines:
            return refused("What would you like to order?", ordered=False)
        try:
            pickup_at = self._pickup_time(pickup)
        except WhenError:
            return refused("When would you like to pick it up?", ordered=False)
        problem = self._closed_problem(pickup_at) or check_contact(name, phone, "order")
        if problem:
            return refused(problem, ordered=False)
        total = sum(item.price_cents * quantity for item, quantity in lines)
        with self.database.transaction() as db:
            order_id = db.execute(insert(schema.orders).values(
                company_id=self.company.id, name=name.strip(), phone=phone_digits(phone), pickup_at=pickup_at,
                total_cents=total, created_at=self.clock(),
            ).returning(schema.orders.c.id)).scalar_one()
            db.execute(insert(schema.order_items), [
                {"order_id": order_id, "menu_item_id": item.id, "name": item.name, "quantity": quantity,
                 "unit_price_cents": item.price_cents} for item, quantity in lines
            ])
        listed = " and ".join(f"{quantity} {item.name}" for item, quantity in lines)
        logger.info(f"Order #{order_id} for {self.company.name}: {listed}, total {format_price(total)}")
        return DeskResult(True, f"Your order is in: {listed}, {format_price(total)} in total, ready "
                                f"{spoken_when(pickup_at, self.clock())}. Anything else?",
                          {"order_id": order_id, "total": format_price(total), "ordered": True})

    def _pickup_time(self, pickup: str | None) -> datetime:
        now = self.clock()
        if not pickup or pickup.strip().lower() in ("asap", "now", "as soon as possible"):
            return now + timedelta(minutes=20)
        words = pickup.strip()
        match = re.match(r"^in (\d+) minutes?$", words, re.IGNORECASE)
        if match:
            return now + timedelta(minutes=int(match.group(1)))
        day, _, time_of_day = words.rpartition(" at ")
        return parse_when(day or words, time_of_day or words, now, self.company.hours)

    def _closed_problem(self, pickup_at: datetime) -> str | None:
        if pickup_at < self.clock():
            return "Sorry, that time has already passed. When would you like to pick it up?"
        span = self.company.hours.get(pickup_at.weekday())
        if span is None or not (span[0] <= pickup_at.time() <= span[1]):
            return (f"Sorry, we're not open at {spoken_time(pickup_at.time())} on {pickup_at.strftime('%A')}. "
                    f"Our hours are {self.company.opening_hours}.")
        return None
