"""What the front desk stored, for the owner: bookings, orders and messages as plain rows.

Read by the ``voicebot`` CLI and the web app's owner page alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from voicebot.business import schema
from voicebot.business.database import Database
from voicebot.business.money import format_price


def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def bookings(database: Database, company_id: int | None = None, day: date | None = None,
             limit: int = 500) -> list[dict[str, Any]]:
    """Bookings by start time, cancelled ones included (see ``status``); ``company_id``/``day`` None: all of them."""
    b, c = schema.bookings, schema.companies
    query = select(b, c.c.name.label("company")).join(c, c.c.id == b.c.company_id)
    if company_id is not None:
        query = query.where(b.c.company_id == company_id)
    if day is not None:
        start = datetime.combine(day, datetime.min.time())
        query = query.where(b.c.starts_at >= start, b.c.starts_at < start + timedelta(days=1))
    query = query.order_by(b.c.starts_at, b.c.id).limit(limit)
    with database.engine.connect() as db:
        return [{"id": r.id, "company": r.company, "when": _stamp(r.starts_at), "party": r.party_size,
                 "name": r.name, "phone": r.phone, "status": r.status} for r in db.execute(query)]


def orders(database: Database, company_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Takeout orders, newest first, with their items on one line and the total; ``company_id`` None: all."""
    o, c, i = schema.orders, schema.companies, schema.order_items
    query = select(o, c.c.name.label("company")).join(c, c.c.id == o.c.company_id)
    if company_id is not None:
        query = query.where(o.c.company_id == company_id)
    query = query.order_by(o.c.id.desc()).limit(limit)
    with database.engine.connect() as db:
        rows = list(db.execute(query))
        items: dict[int, list[str]] = {}
        if rows:
            for line in db.execute(select(i).where(i.c.order_id.in_([r.id for r in rows])).order_by(i.c.id)):
                items.setdefault(line.order_id, []).append(f"{line.quantity} × {line.name}")
    return [{"id": r.id, "company": r.company, "pickup": _stamp(r.pickup_at), "name": r.name, "phone": r.phone,
             "items": ", ".join(items.get(r.id, [])), "total": format_price(r.total_cents), "status": r.status}
            for r in rows]


def messages(database: Database, company_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Messages for the staff, newest first; ``company_id`` None: every company."""
    m, c = schema.messages, schema.companies
    query = select(m, c.c.name.label("company")).join(c, c.c.id == m.c.company_id)
    if company_id is not None:
        query = query.where(m.c.company_id == company_id)
    query = query.order_by(m.c.id.desc()).limit(limit)
    with database.engine.connect() as db:
        return [{"id": r.id, "company": r.company, "at": _stamp(r.created_at), "name": r.name, "phone": r.phone,
                 "message": r.text} for r in db.execute(query)]


def call_rows(database: Database, company_id: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Every booking, order and message of a company as ``voicebot chat`` reports them, keyed by
    (kind, id): compared before and after a turn, the difference is what the turn stored or changed."""
    b, o, i, m = schema.bookings, schema.orders, schema.order_items, schema.messages
    found: dict[tuple[str, int], dict[str, Any]] = {}
    with database.engine.connect() as db:
        for r in db.execute(select(b).where(b.c.company_id == company_id)):
            found[("booking", r.id)] = {"kind": "booking", "id": r.id, "status": r.status, "party": r.party_size,
                                        "when": r.starts_at.isoformat(timespec="minutes"), "name": r.name,
                                        "phone": r.phone}
        orders = {r.id: r for r in db.execute(select(o).where(o.c.company_id == company_id))}
        items: dict[int, list[dict[str, Any]]] = {}
        if orders:
            for line in db.execute(select(i).where(i.c.order_id.in_(list(orders))).order_by(i.c.id)):
                items.setdefault(line.order_id, []).append({"name": line.name, "quantity": line.quantity})
        for r in orders.values():
            found[("order", r.id)] = {"kind": "order", "id": r.id, "status": r.status,
                                      "items": items.get(r.id, []), "total_cents": r.total_cents,
                                      "pickup": r.pickup_at.isoformat(timespec="minutes") if r.pickup_at else None,
                                      "name": r.name, "phone": r.phone}
        for r in db.execute(select(m).where(m.c.company_id == company_id)):
            found[("message", r.id)] = {"kind": "message", "id": r.id, "status": "taken", "text": r.text,
                                        "name": r.name, "phone": r.phone}
    return found


def changed_rows(before: dict[tuple[str, int], dict[str, Any]],
                 after: dict[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``after`` that are new or differ from ``before`` (two :func:`call_rows` snapshots)."""
    return [row for key, row in after.items() if before.get(key) != row]
