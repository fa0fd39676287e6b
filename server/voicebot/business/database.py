"""The business database: an embedded SQLite file, created and seeded on first use.

Each company row holds what a caller asks about (address, phone, opening hours, a few
menu items) and the greeting the bot opens with. ``VOICEBOT_DB`` points at another file.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

DB_ENV = "VOICEBOT_DB"

SCHEMA = """
CREATE TABLE IF NOT EXISTS companies (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    phone TEXT NOT NULL,
    opening_hours TEXT NOT NULL,
    greeting TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS menu_items (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES companies(id),
    name TEXT NOT NULL,
    price_usd REAL NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
"""

DEMO_COMPANIES = [
    {
        "id": 1,
        "name": "Luigi's Trattoria",
        "kind": "family Italian restaurant",
        "address": "12 Main Street, Springfield",
        "phone": "555-0101",
        "opening_hours": "Tuesday to Sunday, 11 AM to 10 PM; closed Mondays",
        "greeting": "Thanks for calling Luigi's Trattoria, how can I help you today?",
        "notes": "Reservations for up to 10 people. Free parking behind the building.",
        "menu": [
            ("Margherita pizza", 14.0, "tomato, mozzarella, basil"),
            ("Lasagna", 18.0, "beef ragù, béchamel"),
            ("Tiramisu", 8.0, ""),
        ],
    },
    {
        "id": 2,
        "name": "Tomodachi Sushi",
        "kind": "Japanese sushi restaurant",
        "address": "48 Harbor Street, Portland",
        "phone": "555-0142",
        "opening_hours": "every day, noon to 9 PM",
        "greeting": "Hello, thanks for calling Tomodachi Sushi! How can I help you today?",
        "notes": "Takeout and delivery available. Reservations for up to 8 people. Vegetarian rolls on request.",
        "menu": [
            ("Salmon nigiri, two pieces", 6.0, ""),
            ("Dragon roll", 15.0, "eel, cucumber, avocado"),
            ("Vegetable tempura", 11.0, ""),
            ("Miso soup", 4.0, ""),
        ],
    },
    {
        "id": 3,
        "name": "The Green Fork",
        "kind": "vegan cafe",
        "address": "301 Oak Avenue, Riverside",
        "phone": "555-0177",
        "opening_hours": "Monday to Saturday, 8 AM to 6 PM; closed Sundays",
        "greeting": "Hi, you've reached The Green Fork. What can I do for you?",
        "notes": "Everything is plant-based. Gluten-free options. No reservations needed.",
        "menu": [
            ("Avocado toast", 9.0, ""),
            ("Buddha bowl", 13.0, "quinoa, chickpeas, greens"),
            ("Oat milk latte", 5.0, ""),
        ],
    },
]


@dataclass(frozen=True)
class MenuItem:
    name: str
    price_usd: float
    description: str = ""


@dataclass(frozen=True)
class Company:
    id: int
    name: str
    kind: str
    address: str
    phone: str
    opening_hours: str
    greeting: str
    notes: str = ""
    menu: tuple[MenuItem, ...] = field(default_factory=tuple)


class CompanyNotFound(LookupError):
    """No company has that id; the message lists the ones that exist."""

    def __init__(self, company_id: int, known: list[tuple[int, str]]):
        listing = ", ".join(f"{cid} ({name})" for cid, name in known) or "none"
        super().__init__(f"Unknown company id {company_id}. Known companies: {listing}")
        self.company_id = company_id
        self.known = known


def default_db_path() -> Path:
    return Path(os.environ.get(DB_ENV) or Path.cwd() / "business.db")


class CompanyRepository:
    """Reads companies from the SQLite file, creating and seeding it if it is new."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_db_path()
        self._ensure_schema()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path)
        connection.row_factory = sqlite3.Row
        return connection

    def _ensure_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(SCHEMA)
            if db.execute("SELECT COUNT(*) FROM companies").fetchone()[0] == 0:
                self._seed(db)
                logger.info(f"Created business database {self.path} with {len(DEMO_COMPANIES)} demo restaurants")

    @staticmethod
    def _seed(db: sqlite3.Connection) -> None:
        for company in DEMO_COMPANIES:
            row = {k: v for k, v in company.items() if k != "menu"}
            db.execute(
                "INSERT INTO companies (id, name, kind, address, phone, opening_hours, greeting, notes) "
                "VALUES (:id, :name, :kind, :address, :phone, :opening_hours, :greeting, :notes)",
                row,
            )
            db.executemany(
                "INSERT INTO menu_items (company_id, name, price_usd, description) VALUES (?, ?, ?, ?)",
                [(company["id"], *item) for item in company["menu"]],
            )

    def list(self) -> list[tuple[int, str]]:
        with closing(self._connect()) as db:
            return [(r["id"], r["name"]) for r in db.execute("SELECT id, name FROM companies ORDER BY id")]

    def get(self, company_id: int) -> Company:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM companies WHERE id = ?", (company_id,)).fetchone()
            if row is None:
                raise CompanyNotFound(company_id, self.list())
            menu = tuple(
                MenuItem(r["name"], r["price_usd"], r["description"])
                for r in db.execute(
                    "SELECT name, price_usd, description FROM menu_items WHERE company_id = ? ORDER BY id",
                    (company_id,),
                )
            )
        return Company(
            id=row["id"], name=row["name"], kind=row["kind"], address=row["address"], phone=row["phone"],
            opening_hours=row["opening_hours"], greeting=row["greeting"], notes=row["notes"], menu=menu,
        )
