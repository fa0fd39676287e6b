"""The business database's tables, one definition for SQLite and PostgreSQL (SQLAlchemy Core).

Money is stored in cents (integers), times of day as ``HH:MM`` text in the company's
local time, and booking starts as naive local datetimes: a restaurant's day is its own.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

companies = Table(
    "companies", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(200), nullable=False),
    Column("address", String(300), nullable=False),
    Column("phone", String(50), nullable=False),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("greeting", Text, nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Column("takes_reservations", Boolean, nullable=False, default=True),
    Column("takes_orders", Boolean, nullable=False, default=True),
    Column("max_party_size", Integer, nullable=False, default=8),
    Column("slot_minutes", Integer, nullable=False, default=30),
    Column("seats_per_slot", Integer, nullable=False, default=20),
    Column("last_booking_before_close_minutes", Integer, nullable=False, default=60),
    Column("booking_days_ahead", Integer, nullable=False, default=60),
    # Where each event goes (voicebot.events): a webhook receiver, an inbox; None: the server's settings.
    Column("webhook_url", String(500), nullable=True),
    Column("notify_email", String(300), nullable=True),
)

opening_hours = Table(
    "opening_hours", metadata,
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("weekday", Integer, nullable=False),  # 0 = Monday
    Column("opens", String(5), nullable=False),
    Column("closes", String(5), nullable=False),
    UniqueConstraint("company_id", "weekday"),
)

menu_items = Table(
    "menu_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("category", String(100), nullable=False, default=""),
)

knowledge = Table(
    "knowledge", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("text", Text, nullable=False),
)

bookings = Table(
    "bookings", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("phone", String(50), nullable=False),
    Column("party_size", Integer, nullable=False),
    Column("starts_at", DateTime, nullable=False),
    Column("status", String(20), nullable=False, default="booked"),  # booked | arrived | no_show | cancelled
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=True),  # the last change after it was made
    Index("ix_bookings_company_start", "company_id", "starts_at"),
)

orders = Table(
    "orders", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("phone", String(50), nullable=False),
    Column("pickup_at", DateTime, nullable=True),
    Column("total_cents", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    # placed | accepted | ready | picked_up | cancelled
    Column("status", String(20), nullable=False, server_default="placed"),
    Column("updated_at", DateTime, nullable=True),
)

order_items = Table(
    "order_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("menu_item_id", Integer, ForeignKey("menu_items.id", ondelete="SET NULL"), nullable=True),
    Column("name", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", Integer, nullable=False),
)

messages = Table(
    "messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("phone", String(50), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("status", String(20), nullable=False, server_default="new"),  # new | handled
    Column("updated_at", DateTime, nullable=True),
)

# Every change the owner hears of (voicebot.events), written in the transaction that made it:
# the outbox the board, the webhook and the email read from. ``seq`` orders them; ``id`` is
# the event's name outside (webhook receivers de-duplicate on it).
events = Table(
    "events", metadata,
    Column("seq", Integer, primary_key=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("at", DateTime, nullable=False),  # UTC
    Column("source", String(20), nullable=False),  # call | owner | cli
    Column("call_id", String(100), nullable=True),
    Column("data", Text, nullable=False),  # JSON: the row as the owner API returns it
    Index("ix_events_company_seq", "company_id", "seq"),
)

# One event's delivery on one channel (webhook, email): attempts, the next try, done or given up.
event_deliveries = Table(
    "event_deliveries", metadata,
    Column("event_seq", Integer, ForeignKey("events.seq", ondelete="CASCADE"), primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", DateTime, nullable=False),  # UTC; also a claim's lease while a server sends it
    Column("delivered_at", DateTime, nullable=True),
    Column("given_up", Boolean, nullable=False, default=False),
    Column("last_error", Text, nullable=False, default=""),
)

# The record of every call (voicebot.call_record): the owner's alone, deleted after the retention.
calls = Table(
    "calls", metadata,
    Column("id", String(100), primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(20), nullable=False),  # browser | phone
    Column("started_at", DateTime, nullable=False),  # the restaurant's local time, as bookings
    Column("duration_s", Float, nullable=True),  # None: in progress (or the server died during it)
    Column("outcome", String(30), nullable=False, default="in_progress"),
    Column("recorded_at", DateTime, nullable=False),  # UTC: what the retention counts from
    Index("ix_calls_company_start", "company_id", "started_at"),
)

call_turns = Table(
    "call_turns", metadata,
    Column("id", Integer, primary_key=True),
    Column("call_id", String(100), ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(10), nullable=False),  # caller | bot
    Column("text", Text, nullable=False),
    Column("at_s", Float, nullable=False),  # seconds into the call
    Column("unanswered", Boolean, nullable=False, default=False),  # a caller's question the bot could not answer
    Index("ix_call_turns_call", "call_id", "id"),
)

# SQLite's full-text index over ``knowledge`` (external content, kept in sync by triggers).
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_fts USING fts5("
    "topic, text, content='knowledge', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS knowledge_ai AFTER INSERT ON knowledge BEGIN "
    "INSERT INTO knowledge_fts(rowid, topic, text) VALUES (new.id, new.topic, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS knowledge_ad AFTER DELETE ON knowledge BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, topic, text) VALUES ('delete', old.id, old.topic, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS knowledge_au AFTER UPDATE ON knowledge BEGIN "
    "INSERT INTO knowledge_fts(knowledge_fts, rowid, topic, text) VALUES ('delete', old.id, old.topic, old.text); "
    "INSERT INTO knowledge_fts(rowid, topic, text) VALUES (new.id, new.topic, new.text); END",
]

# PostgreSQL's: an expression GIN index the search query uses.
POSTGRES_FTS = [
    "CREATE INDEX IF NOT EXISTS ix_knowledge_fts ON knowledge "
    "USING GIN (to_tsvector('english', topic || ' ' || text))",
]
