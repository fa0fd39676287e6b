"""The outbox: every change the owner hears of, written as an event in the transaction that made it.

A booking, order or message and its event are committed together or not at all, so the
board, the webhook and the email (:mod:`voicebot.events`) can never miss a stored row nor
announce one that was rolled back. On PostgreSQL the transaction also notifies the other
servers on the database (``LISTEN voicebot_events``); on SQLite they see the file change.

An event's JSON is ``{"id", "type", "company", "at", "data"}``: ``data`` is the row as the
owner API returns it (:mod:`voicebot.business.ledger`), ``id`` stays the same on every
delivery (receivers de-duplicate on it).
"""

from __future__ import annotations

import json
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from voicebot.business import ledger, schema

NOTIFY_CHANNEL = "voicebot_events"

# The call whose desk is storing rows (set by the call's task; asyncio.to_thread carries it).
current_call: ContextVar[str | None] = ContextVar("voicebot_current_call", default=None)


def utc_now() -> datetime:
    """Now in UTC, naive (as stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Event:
    """One stored event; :meth:`body` is exactly what a webhook receiver gets (and what is signed)."""

    seq: int
    id: str
    company: int
    type: str
    at: datetime  # UTC
    data: dict[str, Any] = field(default_factory=dict)
    source: str = "call"  # call | owner | cli
    call_id: str | None = None

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "company": self.company,
                "at": self.at.isoformat(timespec="milliseconds") + "Z", "source": self.source, "data": self.data}

    def body(self) -> bytes:
        return json.dumps(self.payload(), ensure_ascii=False, separators=(",", ":")).encode()


def record(db: Connection, company_id: int, kind: str, row_id: int, change: str, source: str = "call") -> Event:
    """Write the event "``kind``.``change``" for one row, read back on ``db`` as the owner API shows it.

    Call it inside the transaction that changed the row (``Database.transaction``)."""
    data = ledger.one(db, kind, row_id)
    if data is None:
        raise LookupError(f"No {kind} #{row_id} to record an event for")
    return record_event(db, company_id, f"{kind}.{change}", data, source)


def record_event(db: Connection, company_id: int, event_type: str, data: dict[str, Any],
                 source: str = "call") -> Event:
    """Write one event in ``db``'s transaction (and, on PostgreSQL, notify the other servers at its commit)."""
    event_id, at, call_id = f"evt_{uuid.uuid4().hex}", utc_now(), current_call.get()
    seq = db.execute(insert(schema.events).values(
        id=event_id, company_id=company_id, type=event_type, at=at, source=source, call_id=call_id,
        data=json.dumps(data, ensure_ascii=False),
    ).returning(schema.events.c.seq)).scalar_one()
    if db.dialect.name == "postgresql":
        # Sent at commit, and only if it commits: the other servers' boards wake up.
        db.execute(text("SELECT pg_notify(:channel, :company)"),
                   {"channel": NOTIFY_CHANNEL, "company": str(company_id)})
    return Event(seq, event_id, company_id, event_type, at, data, source, call_id)


def event_from_row(row) -> Event:
    """An ``events`` row as an :class:`Event`."""
    return Event(row.seq, row.id, row.company_id, row.type, row.at, json.loads(row.data), row.source, row.call_id)


def events_after(db: Connection, company_id: int, seq: int, limit: int = 500) -> list[Event]:
    """The company's events after ``seq``, oldest first."""
    e = schema.events
    query = select(e).where(e.c.company_id == company_id, e.c.seq > seq).order_by(e.c.seq).limit(limit)
    return [event_from_row(r) for r in db.execute(query)]


def call_events(db: Connection, call_id: str) -> list[Event]:
    """What one call stored or changed (its bookings, orders and messages, not the call's own events), in order."""
    e = schema.events
    query = select(e).where(e.c.call_id == call_id, e.c.type.notlike("call.%")).order_by(e.c.seq)
    return [event_from_row(r) for r in db.execute(query)]


def last_seq(db: Connection, company_id: int) -> int:
    e = schema.events
    return db.execute(select(func.coalesce(func.max(e.c.seq), 0)).where(e.c.company_id == company_id)).scalar_one()
