"""What the owner does with what the bot stored: an order accepted → ready → picked up, a booking
arrived / no-show / cancelled, a message handled. Each change is stored with its time and is
itself an event (:mod:`voicebot.business.outbox`), in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loguru import logger
from sqlalchemy import select, update

from voicebot.business import ledger, outbox, schema
from voicebot.business.database import Database

# kind → (table, {status the owner may set: the statuses it may follow})
TRANSITIONS: dict[str, tuple[Any, dict[str, set[str]]]] = {
    "order": (schema.orders, {
        "accepted": {"placed"},
        "ready": {"placed", "accepted"},
        "picked_up": {"ready", "accepted", "placed"},
        "cancelled": {"placed", "accepted", "ready"},
    }),
    "booking": (schema.bookings, {
        "arrived": {"booked", "no_show"},
        "no_show": {"booked"},
        "cancelled": {"booked"},
    }),
    "message": (schema.messages, {"handled": {"new"}}),
}


class StatusRefused(ValueError):
    """The change cannot be made: no such row (``status`` 404) or not from its current status (409)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def set_status(database: Database, company_id: int, kind: str, row_id: int, status: str,
               now: datetime) -> dict[str, Any]:
    """Move one row to ``status`` at ``now`` (the restaurant's time); the row as the owner API returns it."""
    if kind not in TRANSITIONS:
        raise StatusRefused(f"Unknown kind {kind!r}; one of: {', '.join(TRANSITIONS)}", 404)
    table, allowed = TRANSITIONS[kind]
    if status not in allowed:
        raise StatusRefused(f"A {kind} can be set to: {', '.join(allowed)} (not {status!r})", 422)
    with database.transaction() as db:
        current = db.execute(select(table.c.status).where(table.c.id == row_id,
                                                          table.c.company_id == company_id)).scalar()
        if current is None:
            raise StatusRefused(f"No {kind} #{row_id}", 404)
        if current == status:  # pressed twice (or on two screens): already done, no second event
            row = ledger.one(db, kind, row_id)
            assert row is not None
            return row
        if current not in allowed[status]:
            raise StatusRefused(f"{kind.capitalize()} #{row_id} is {current.replace('_', ' ')}; "
                                f"it cannot become {status.replace('_', ' ')}", 409)
        db.execute(update(table).where(table.c.id == row_id).values(status=status, updated_at=now))
        change = "cancelled" if status == "cancelled" else "updated"
        event = outbox.record(db, company_id, kind, row_id, change, source="owner")
    logger.info(f"Owner set {kind} #{row_id} to {status}")
    return event.data
