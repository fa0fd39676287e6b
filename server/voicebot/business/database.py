"""The business database: embedded SQLite by default, PostgreSQL when ``VOICEBOT_DB`` says so.

``VOICEBOT_DB`` (or ``--db``) is a file path (SQLite, created and seeded with the demo
restaurants on first use; default ``./business.db``) or a ``postgresql://`` URL for a
business that runs several servers. The same SQLAlchemy Core code runs on both; the two
differences that matter are handled here: how a booking transaction takes its lock
(SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``SELECT … FOR UPDATE``) and the full-text index.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url

from voicebot.business import schema
from voicebot.business.vocabulary import WEEKDAYS


@dataclass(frozen=True)
class MenuItem:
    """One dish on the menu; its price is in whole cents, as stored."""

    name: str
    price_cents: int
    description: str = ""
    category: str = ""
    id: int | None = None


@dataclass(frozen=True)
class BookingPolicy:
    """The house rules a booking must satisfy, enforced in code (``bookings.py``)."""

    takes_reservations: bool = True
    max_party_size: int = 8
    slot_minutes: int = 30
    seats_per_slot: int = 20
    last_booking_before_close_minutes: int = 60
    booking_days_ahead: int = 60


@dataclass(frozen=True)
class Company:
    """Everything the bot knows about one business, read once at server start: an import takes effect on restart."""

    id: int
    name: str
    kind: str
    address: str
    phone: str
    greeting: str
    timezone: str = "UTC"
    notes: str = ""
    takes_orders: bool = True
    policy: BookingPolicy = field(default_factory=BookingPolicy)
    # weekday (0 = Monday) → (opens, closes); a missing day is closed.
    hours: dict[int, tuple[time, time]] = field(default_factory=dict)
    menu: tuple[MenuItem, ...] = field(default_factory=tuple)
    webhook_url: str | None = None  # where its events are POSTed (else VOICEBOT_WEBHOOK_URL)
    notify_email: str | None = None  # who is emailed of its events (else VOICEBOT_NOTIFY_EMAIL)

    @property
    def opening_hours(self) -> str:
        """The week in words, consecutive days with the same hours grouped."""
        return describe_hours(self.hours)


def spoken_time(value: time) -> str:
    """A time as the bot says it: "7 PM", "7:30 PM", "noon", "midnight"."""
    if value == time(12, 0):
        return "noon"
    if value == time(0, 0):
        return "midnight"
    hour = value.hour % 12 or 12
    minutes = f":{value.minute:02d}" if value.minute else ""
    return f"{hour}{minutes} {'AM' if value.hour < 12 else 'PM'}"


def describe_hours(hours: dict[int, tuple[time, time]]) -> str:
    """The week in words ("Monday closed; Tuesday to Sunday 11 AM to 10 PM"); a day missing from ``hours`` is closed."""
    if not hours:
        return "closed"
    groups: list[tuple[int, int, tuple[time, time] | None]] = []
    for day in range(7):
        span = hours.get(day)
        if groups and groups[-1][2] == span:
            groups[-1] = (groups[-1][0], day, span)
        else:
            groups.append((day, day, span))
    if len(groups) == 1:
        span = groups[0][2]
        assert span is not None  # ``hours`` names a weekday, so not every day is closed
        opens, closes = span
        return f"every day, {spoken_time(opens)} to {spoken_time(closes)}"
    parts = []
    for first, last, span in groups:
        days = WEEKDAYS[first] if first == last else f"{WEEKDAYS[first]} to {WEEKDAYS[last]}"
        parts.append(f"{days} closed" if span is None else
                     f"{days} {spoken_time(span[0])} to {spoken_time(span[1])}")
    return "; ".join(parts)


class CompanyNotFound(LookupError):
    """No company has that id; the message lists the ones that exist."""

    def __init__(self, company_id: int, known: list[tuple[int, str]]):
        listing = ", ".join(f"{cid} ({name})" for cid, name in known) or (
            "none: the database is empty (import one with `uv run voicebot company import FILE.yaml`, "
            "or the demo restaurants with `uv run voicebot company demo`)")
        super().__init__(f"Unknown company id {company_id}. Known companies: {listing}")
        self.company_id = company_id
        self.known = known


def database_url(location: str | Path) -> str:
    """A SQLAlchemy URL for a SQLite path or a database URL (the settings say which: ``--db``,
    ``VOICEBOT_DB`` or ``./business.db``)."""
    location = str(location)
    if "://" not in location:
        return f"sqlite:///{Path(location).expanduser().resolve()}"
    url = make_url(location)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, from PyPI
    return url.render_as_string(hide_password=False)


# (table, column, its SQL type and default) added to the schema after databases already existed.
ADDED_COLUMNS = [
    ("orders", "status", "VARCHAR(20) NOT NULL DEFAULT 'placed'"),
    ("orders", "updated_at", "TIMESTAMP"),
    ("bookings", "updated_at", "TIMESTAMP"),
    ("messages", "status", "VARCHAR(20) NOT NULL DEFAULT 'new'"),
    ("messages", "updated_at", "TIMESTAMP"),
    ("companies", "webhook_url", "VARCHAR(500)"),
    ("companies", "notify_email", "VARCHAR(300)"),
]


class Database:
    """One engine for the business data, its tables created on open. Nothing else is put in it:
    demo restaurants only when asked (:func:`voicebot.business.company_file.seed_demo_companies`)."""

    def __init__(self, location: str | Path):
        self.url = database_url(location)
        self.engine = self._create_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._create_schema()

    @property
    def description(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @staticmethod
    def _create_engine(url: str) -> Engine:
        if not url.startswith("sqlite"):
            return create_engine(url, pool_pre_ping=True)
        path = Path(make_url(url).database or "")
        if path.parent:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            # Let SQLAlchemy, not the driver, open transactions, so "begin" below decides how.
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys = ON")
            dbapi_connection.execute("PRAGMA journal_mode = WAL")

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # A write transaction (Database.transaction) takes the write lock up front: a
            # booking's check-then-insert is then serialized, where a deferred transaction
            # would let two callers read the same free slot. Reads stay deferred (WAL).
            immediate = connection.get_execution_options().get("immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def _create_schema(self) -> None:
        schema.metadata.create_all(self.engine)
        # Columns added since a database was made (create_all only adds tables).
        inspector = inspect(self.engine)
        present = {table: {c["name"] for c in inspector.get_columns(table)} for table, _, _ in ADDED_COLUMNS}
        missing = [(table, column, ddl) for table, column, ddl in ADDED_COLUMNS if column not in present[table]]
        if missing:
            with self.transaction() as db:
                for table, column, ddl in missing:
                    db.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
        statements = schema.SQLITE_FTS if self.is_sqlite else schema.POSTGRES_FTS
        with self.transaction() as db:
            for statement in statements:
                db.execute(text(statement))

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on error; on SQLite it
        holds the write lock from its first statement."""
        with self.engine.connect() as connection:
            connection.execution_options(immediate=True)
            with connection.begin():
                yield connection

    def dispose(self) -> None:
        self.engine.dispose()


class CompanyRepository:
    """Reads companies: the profile, hours, rules and menu the bot works from."""

    def __init__(self, database: Database | str | Path):
        self.database = database if isinstance(database, Database) else Database(database)

    def list(self) -> list[tuple[int, str]]:
        with self.database.engine.connect() as db:
            rows = db.execute(select(schema.companies.c.id, schema.companies.c.name)
                              .order_by(schema.companies.c.id))
            return [(row.id, row.name) for row in rows]

    def get(self, company_id: int) -> Company:
        c = schema.companies
        with self.database.engine.connect() as db:
            row = db.execute(select(c).where(c.c.id == company_id)).mappings().first()
            if row is None:
                known = [(r.id, r.name) for r in db.execute(select(c.c.id, c.c.name).order_by(c.c.id))]
                raise CompanyNotFound(company_id, known)
            hours = {
                r.weekday: (time.fromisoformat(r.opens), time.fromisoformat(r.closes))
                for r in db.execute(select(schema.opening_hours)
                                    .where(schema.opening_hours.c.company_id == company_id))
            }
            m = schema.menu_items
            menu = tuple(
                MenuItem(r.name, r.price_cents, r.description, r.category, r.id)
                for r in db.execute(select(m).where(m.c.company_id == company_id).order_by(m.c.id))
            )
        policy = BookingPolicy(**{name: row[name] for name in BookingPolicy.__dataclass_fields__})
        return Company(
            id=row["id"], name=row["name"], kind=row["kind"], address=row["address"], phone=row["phone"],
            greeting=row["greeting"], timezone=row["timezone"], notes=row["notes"],
            takes_orders=row["takes_orders"], policy=policy, hours=hours, menu=menu,
            webhook_url=row["webhook_url"], notify_email=row["notify_email"],
        )
