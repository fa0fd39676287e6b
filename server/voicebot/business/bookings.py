"""Table reservations with the house rules enforced in code.

Rules: the restaurant takes reservations; party size ≤ its limit; a day it is open, in the
future and within its booking window; a time within opening hours, before the last
seating; and no more than ``seats_per_slot`` guests starting in one slot. The capacity
check and the insert run in one locked transaction (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``SELECT … FOR UPDATE`` on the company row), so concurrent callers cannot both take the
last free seats.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from loguru import logger
from sqlalchemy import Connection, func, insert, select, update

from voicebot.business import outbox, schema
from voicebot.business.database import Company, Database, spoken_time
from voicebot.business.desk import (
    Clock,
    DeskResult,
    check_contact,
    company_clock,
    phone_digits,
    refused,
    spoken_day,
    spoken_when,
)
from voicebot.business.when import WhenError, parse_when

_ACTIVE = "booked"
_SEATED = ("booked", "arrived")  # bookings whose seats are taken


class BookingBook:
    """Checks, makes, finds and cancels one company's bookings."""

    def __init__(self, database: Database, company: Company, clock: Clock | None = None):
        self.database = database
        self.company = company
        self.policy = company.policy
        self.clock = clock or company_clock(company)

    # --- rules --------------------------------------------------------------------------

    def _slot_start(self, moment: datetime) -> datetime:
        minutes = moment.hour * 60 + moment.minute
        floor = minutes - minutes % self.policy.slot_minutes
        return moment.replace(hour=floor // 60, minute=floor % 60)

    def rule_problem(self, party_size: int, when: datetime) -> str | None:
        """Why a booking at ``when`` breaks a house rule, or None (capacity is checked apart)."""
        found = self.broken_rule(party_size, when)
        return found[1] if found else None

    def broken_rule(self, party_size: int, when: datetime) -> tuple[str, str] | None:
        """(which detail breaks a house rule, the sentence saying so), or None.

        The detail is one of ``reservations``, ``party``, ``past``, ``window``, ``day`` or
        ``time``: the front desk asks the caller for that one again.
        """
        p, now = self.policy, self.clock()
        if not p.takes_reservations:
            return "reservations", f"Sorry, {self.company.name} doesn't take reservations; just walk in."
        if party_size < 1:
            return "party", "How many people will be in your party?"
        if party_size > p.max_party_size:
            return "party", (f"Sorry, the largest party we can book is {p.max_party_size} people. "
                             "I can take a message for the manager if you like.")
        if when <= now:
            return "past", "Sorry, that time has already passed. Which day and time would you like?"
        if when.date() > (now + timedelta(days=p.booking_days_ahead)).date():
            return "window", f"Sorry, we only take bookings up to {p.booking_days_ahead} days ahead."
        span = self.company.hours.get(when.weekday())
        if span is None:
            return "day", f"Sorry, we're closed on {when.strftime('%A')}s. Our hours are {self.company.opening_hours}."
        opens, closes = span
        last = (datetime.combine(when.date(), closes) - timedelta(minutes=p.last_booking_before_close_minutes)).time()
        if not (opens <= when.time() <= last):
            return "time", (f"Sorry, on {when.strftime('%A')} we take bookings from {spoken_time(opens)} "
                            f"to {spoken_time(last)}. What time would suit you?")
        return None

    def _seats_taken(self, db: Connection, slot: datetime, besides: int | None = None) -> int:
        """Guests already booked to start in ``slot`` (``besides``: a booking not to count, being changed)."""
        b = schema.bookings
        end = slot + timedelta(minutes=self.policy.slot_minutes)
        query = select(func.coalesce(func.sum(b.c.party_size), 0)).where(
            b.c.company_id == self.company.id, b.c.status.in_(_SEATED), b.c.starts_at >= slot, b.c.starts_at < end)
        if besides is not None:
            query = query.where(b.c.id != besides)
        return db.execute(query).scalar_one()

    def _free_slots_near(self, db: Connection, when: datetime, party_size: int, limit: int = 2,
                         besides: int | None = None) -> list[datetime]:
        """Other start times that day with room for the party, nearest first."""
        opens, closes = self.company.hours[when.weekday()]
        last = datetime.combine(when.date(), closes) - timedelta(minutes=self.policy.last_booking_before_close_minutes)
        slot, now, found = datetime.combine(when.date(), opens), self.clock(), []
        while slot <= last:
            if slot > now and slot != self._slot_start(when):
                if self._seats_taken(db, slot, besides) + party_size <= self.policy.seats_per_slot:
                    found.append(slot)
            slot += timedelta(minutes=self.policy.slot_minutes)
        return sorted(found, key=lambda s: abs(s - when))[:limit]

    def when(self, day: str, time_of_day: str) -> datetime:
        """The moment the caller's words name (raises ``WhenError``)."""
        return parse_when(day, time_of_day, self.clock(), self.company.hours)

    def _lock_company(self, db: Connection) -> None:
        # PostgreSQL: serialize this company's bookings; SQLite's BEGIN IMMEDIATE already did.
        c = schema.companies
        db.execute(select(c.c.id).where(c.c.id == self.company.id).with_for_update())

    # --- operations ---------------------------------------------------------------------

    def check(self, day: str, time_of_day: str, party_size: int) -> DeskResult:
        try:
            when = self.when(day, time_of_day)
        except WhenError:
            return refused("Which day and time would you like?")
        problem = self.rule_problem(int(party_size), when)
        if problem:
            return refused(problem, available=False)
        return self.check_at(when, int(party_size))

    def check_at(self, when: datetime, party_size: int) -> DeskResult:
        """Whether a table for ``party_size`` is free at ``when`` (rules already checked); books nothing."""
        with self.database.engine.connect() as db:
            taken = self._seats_taken(db, self._slot_start(when))
            if taken + party_size <= self.policy.seats_per_slot:
                return DeskResult(True, f"Yes, we have a table for {party_size} "
                                        f"{spoken_when(when, self.clock())}. Shall I book it?", {"available": True})
            others = self._free_slots_near(db, when, party_size)
        return refused(self._full_message(when, party_size, others), available=False)

    def book(self, name: str, phone: str, party_size: int, day: str, time_of_day: str) -> DeskResult:
        try:
            when = self.when(day, time_of_day)
        except WhenError:
            return refused("Which day and time would you like?", booked=False)
        party_size = int(party_size)
        problem = self.rule_problem(party_size, when) or check_contact(name, phone, "booking")
        if problem:
            return refused(problem, booked=False)
        b = schema.bookings
        with self.database.transaction() as db:
            self._lock_company(db)
            same = db.execute(select(b.c.id).where(
                b.c.company_id == self.company.id, b.c.status == _ACTIVE,
                b.c.phone == phone_digits(phone), b.c.starts_at == when)).first()
            if same is not None:  # the model asked twice: one booking, confirmed again
                return self._confirmed(same.id, name, party_size, when)
            if self._seats_taken(db, self._slot_start(when)) + party_size > self.policy.seats_per_slot:
                others = self._free_slots_near(db, when, party_size)
                return refused(self._full_message(when, party_size, others), booked=False)
            booking_id = db.execute(insert(b).values(
                company_id=self.company.id, name=name.strip(), phone=phone_digits(phone),
                party_size=party_size, starts_at=when, status=_ACTIVE, created_at=self.clock(),
            ).returning(b.c.id)).scalar_one()
            outbox.record(db, self.company.id, "booking", booking_id, "created")
        logger.info(f"Booking #{booking_id} for {self.company.name}: {party_size} on {when:%Y-%m-%d %H:%M}")
        return self._confirmed(booking_id, name, party_size, when)

    def change(self, booking_id: int, party_size: int, day: str, time_of_day: str) -> DeskResult:
        """Move a stored booking or change its party, under the same rules; nothing changes if they refuse."""
        try:
            when = self.when(day, time_of_day)
        except WhenError:
            return refused("Which day and time would you like instead?", booked=True)
        problem = self.rule_problem(int(party_size), when)
        if problem:
            return refused(problem, booked=True)
        b = schema.bookings
        with self.database.transaction() as db:
            self._lock_company(db)
            row = db.execute(select(b).where(b.c.id == booking_id, b.c.company_id == self.company.id,
                                             b.c.status == _ACTIVE)).first()
            if row is None:
                return refused("I can't find that booking any more.", booked=False)
            slot = self._slot_start(when)
            if self._seats_taken(db, slot, besides=booking_id) + party_size > self.policy.seats_per_slot:
                others = self._free_slots_near(db, when, party_size, besides=booking_id)
                return refused(self._full_message(when, party_size, others)
                               + f" Your table {spoken_when(row.starts_at, self.clock())} is still booked.",
                               booked=True)
            db.execute(update(b).where(b.c.id == booking_id).values(party_size=int(party_size), starts_at=when,
                                                                    updated_at=self.clock()))
            outbox.record(db, self.company.id, "booking", booking_id, "updated")
        logger.info(f"Booking #{booking_id} for {self.company.name} changed: {party_size} on {when:%Y-%m-%d %H:%M}")
        return DeskResult(True, f"Done: your table is now for {party_size} {spoken_when(when, self.clock())}, "
                                f"under {row.name}. Anything else?",
                          {"booking_id": booking_id, "booked": True, "changed": True})

    def cancel_by_id(self, booking_id: int) -> DeskResult:
        """Cancel one booking the caller has confirmed."""
        b = schema.bookings
        with self.database.transaction() as db:
            row = db.execute(select(b).where(b.c.id == booking_id, b.c.company_id == self.company.id)).first()
            if row is None or row.status != _ACTIVE:
                return refused("That booking is already cancelled.")
            db.execute(update(b).where(b.c.id == booking_id).values(status="cancelled", updated_at=self.clock()))
            outbox.record(db, self.company.id, "booking", booking_id, "cancelled")
        logger.info(f"Booking #{booking_id} for {self.company.name} cancelled")
        return DeskResult(True, f"Done, I've cancelled your table for {row.party_size} "
                                f"{spoken_when(row.starts_at, self.clock())}. Anything else?",
                          {"booking_id": booking_id, "cancelled": True})

    def describe(self, row) -> str:
        """A stored booking as the bot says it: "a table for 4 on Saturday, December 5 at 7 PM under John Smith"."""
        return f"a table for {row.party_size} {spoken_when(row.starts_at, self.clock())} under {row.name}"

    def find(self, phone: str) -> DeskResult:
        rows = self.upcoming(phone)
        if not rows:
            return refused("I can't find an upcoming booking under that number.")
        listed = "; and ".join(self.describe(r) for r in rows)
        return DeskResult(True, f"I have {listed}.", {"bookings": len(rows)})

    def cancel(self, phone: str, day: str | None = None) -> DeskResult:
        b = schema.bookings
        rows = self.upcoming(phone)
        if day:
            try:
                wanted = parse_when(day, "12:00", self.clock()).date()
            except WhenError:
                return refused("Which day is the booking for?")
            rows = [r for r in rows if r.starts_at.date() == wanted]
        if not rows:
            return refused("I can't find an upcoming booking under that number"
                           + (" on that day." if day else "."))
        if len(rows) > 1:
            days = ", ".join(spoken_day(r.starts_at) for r in rows)
            return refused(f"I see bookings on {days}. Which one should I cancel?")
        row = rows[0]
        with self.database.transaction() as db:
            db.execute(update(b).where(b.c.id == row.id).values(status="cancelled", updated_at=self.clock()))
            outbox.record(db, self.company.id, "booking", row.id, "cancelled")
        logger.info(f"Booking #{row.id} for {self.company.name} cancelled")
        return DeskResult(True, f"Done, I've cancelled your table for {row.party_size} "
                                f"{spoken_when(row.starts_at, self.clock())}.",
                                {"booking_id": row.id, "cancelled": True})

    # --- helpers ------------------------------------------------------------------------

    def upcoming(self, phone: str) -> list:
        """The caller's bookings still to come, soonest first."""
        b = schema.bookings
        with self.database.engine.connect() as db:
            return list(db.execute(select(b).where(
                b.c.company_id == self.company.id, b.c.status == _ACTIVE,
                b.c.phone == phone_digits(phone), b.c.starts_at > self.clock()).order_by(b.c.starts_at)))

    def _full_message(self, when: datetime, party_size: int, others: list[datetime]) -> str:
        text = f"Sorry, there's no table for {party_size} {spoken_when(when, self.clock())}."
        if others:
            text += " I could do " + " or ".join(spoken_time(o.time()) for o in others) + "."
        return text

    def _confirmed(self, booking_id: int, name: str, party_size: int, when: datetime) -> DeskResult:
        return DeskResult(True, f"You're all set: a table for {party_size} {spoken_when(when, self.clock())}, "
                                f"under {name.strip()}. Anything else?", {"booking_id": booking_id, "booked": True})
