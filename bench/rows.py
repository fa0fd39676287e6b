"""What a benchmark call stored, read back from the business database, and the house rules checked again."""

from __future__ import annotations

from sqlalchemy import select

from voicebot.business import CompanyRepository, Database, schema
from voicebot.business.bookings import BookingBook
from voicebot.business.orders import OrderDesk

TABLES = {"bookings": schema.bookings, "orders": schema.orders, "messages": schema.messages}


def last_ids(database: Database) -> dict[str, int]:
    """The highest id of each table: rows above it are the next call's."""
    ids = {}
    with database.engine.connect() as db:
        for name, table in TABLES.items():
            ids[name] = max([r.id for r in db.execute(select(table.c.id))] or [0])
    return ids


def new_rows(database: Database, table, since_id: int, company: int) -> list:
    """The company's rows of ``table`` stored after ``since_id``."""
    with database.engine.connect() as db:
        return list(db.execute(select(table).where(table.c.id > since_id, table.c.company_id == company)
                               .order_by(table.c.id)))


def order_lines(database: Database, order_id: int) -> dict[str, int]:
    """An order's dishes: name → quantity."""
    with database.engine.connect() as db:
        items = db.execute(select(schema.order_items).where(schema.order_items.c.order_id == order_id))
        return {item.name: item.quantity for item in items}


def rule_breaking_rows(database: Database) -> list[str]:
    """Every stored booking and order checked against its company's rules again, on the clock of its creation."""
    repo, found = CompanyRepository(database), []
    with database.engine.connect() as db:
        bookings = list(db.execute(select(schema.bookings).where(schema.bookings.c.status == "booked")))
        orders = list(db.execute(select(schema.orders)))
    for row in bookings:
        company = repo.get(row.company_id)
        book = BookingBook(database, company, clock=lambda r=row: r.created_at)
        problem = book.rule_problem(row.party_size, row.starts_at)
        if problem:
            found.append(f"booking #{row.id} ({company.name}): {problem}")
    for row in orders:
        company = repo.get(row.company_id)
        desk = OrderDesk(database, company, clock=lambda r=row: r.created_at)
        problem = desk.pickup_problem(row.pickup_at) if row.pickup_at else "no pickup time"
        if problem:
            found.append(f"order #{row.id} ({company.name}): {problem}")
    return found
