"""What the front desk stored, for the owner: bookings, orders and messages as plain rows.

Read by the ``voicebot`` CLI and the web app's owner page alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from voicebot.business import schema
from voicebot.business.database import Database
from voicebot.business.money import format_price


def _stamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _booking(r) -> dict[str, Any]:
    return {"id": r.id, "company": r.company, "when": _stamp(r.starts_at), "party": r.party_size,
            "name": r.name, "phone": r.phone, "status": r.status, "updated": _stamp(r.updated_at)}


def _order(r, items: list[str]) -> dict[str, Any]:
    return {"id": r.id, "company": r.company, "pickup": _stamp(r.pickup_at), "name": r.name, "phone": r.phone,
            "items": ", ".join(items), "total": format_price(r.total_cents), "status": r.status,
            "updated": _stamp(r.updated_at)}


def _message(r) -> dict[str, Any]:
    return {"id": r.id, "company": r.company, "at": _stamp(r.created_at), "name": r.name, "phone": r.phone,
            "message": r.text, "status": r.status, "updated": _stamp(r.updated_at)}


def _bookings(db: Connection, where: list, limit: int) -> list[dict[str, Any]]:
    b, c = schema.bookings, schema.companies
    query = (select(b, c.c.name.label("company")).join(c, c.c.id == b.c.company_id).where(*where)
             .order_by(b.c.starts_at, b.c.id).limit(limit))
    return [_booking(r) for r in db.execute(query)]


def _orders(db: Connection, where: list, limit: int) -> list[dict[str, Any]]:
    o, c, i = schema.orders, schema.companies, schema.order_items
    query = (select(o, c.c.name.label("company")).join(c, c.c.id == o.c.company_id).where(*where)
             .order_by(o.c.id.desc()).limit(limit))
    rows = list(db.execute(query))
    items: dict[int, list[str]] = {}
    if rows:
        for line in db.execute(select(i).where(i.c.order_id.in_([r.id for r in rows])).order_by(i.c.id)):
            items.setdefault(line.order_id, []).append(f"{line.quantity} × {line.name}")
    return [_order(r, items.get(r.id, [])) for r in rows]


def _messages(db: Connection, where: list, limit: int) -> list[dict[str, Any]]:
    m, c = schema.messages, schema.companies
    query = (select(m, c.c.name.label("company")).join(c, c.c.id == m.c.company_id).where(*where)
             .order_by(m.c.id.desc()).limit(limit))
    return [_message(r) for r in db.execute(query)]


def bookings(database: Database, company_id: int | None = None, day: date | None = None,
             limit: int = 500) -> list[dict[str, Any]]:
    """Bookings by start time, cancelled ones included (see ``status``); ``company_id``/``day`` None: all of them."""
    b = schema.bookings
    where = [] if company_id is None else [b.c.company_id == company_id]
    if day is not None:
        start = datetime.combine(day, datetime.min.time())
        where += [b.c.starts_at >= start, b.c.starts_at < start + timedelta(days=1)]
    with database.engine.connect() as db:
        return _bookings(db, where, limit)


def orders(database: Database, company_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Takeout orders, newest first, with their items on one line and the total; ``company_id`` None: all."""
    where = [] if company_id is None else [schema.orders.c.company_id == company_id]
    with database.engine.connect() as db:
        return _orders(db, where, limit)


def messages(database: Database, company_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Messages for the staff, newest first; ``company_id`` None: every company."""
    where = [] if company_id is None else [schema.messages.c.company_id == company_id]
    with database.engine.connect() as db:
        return _messages(db, where, limit)


_ONE = {"booking": (_bookings, schema.bookings), "order": (_orders, schema.orders),
        "message": (_messages, schema.messages)}


def one(db: Connection, kind: str, row_id: int) -> dict[str, Any] | None:
    """One booking, order or message as the owner API lists it, read on ``db`` (inside the
    transaction that changed it, for its event); None if there is no such row."""
    read, table = _ONE[kind]
    found = read(db, [table.c.id == row_id], 1)
    return found[0] if found else None


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
