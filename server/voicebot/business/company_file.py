"""A company described in a YAML file: validated with line numbers, imported in one transaction.

The owner keeps the business's data in a file (profile, hours, house rules, menu, FAQ and
policies) and imports it with ``uv run voicebot company import FILE.yaml``. Every problem
is reported with its line, and nothing is changed unless the whole file is valid. The
demo restaurants are such files (``business/demo/``), imported into a new database.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import delete, func, insert, select

from voicebot.business import schema
from voicebot.business.database import Database, describe_hours
from voicebot.business.money import format_price
from voicebot.business.vocabulary import WEEKDAYS

DEMO_DIR = Path(__file__).with_name("demo")
_DAY_KEYS = {day.lower(): i for i, day in enumerate(WEEKDAYS)}
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CompanyFileError(ValueError):
    """The file cannot be imported; ``problems`` lists each one as "line N: what is wrong"."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReservationRules(_Strict):
    accepted: bool = True
    max_party_size: int = Field(8, ge=1, le=100)
    slot_minutes: int = Field(30, ge=5, le=240)
    seats_per_slot: int = Field(20, ge=1, le=1000)
    last_booking_before_close_minutes: int = Field(60, ge=0, le=600)
    days_ahead: int = Field(60, ge=1, le=365)


class MenuEntry(_Strict):
    name: str = Field(min_length=1, max_length=200)
    price: float = Field(gt=0, le=10_000)
    description: str = Field("", max_length=1000)
    category: str = Field("", max_length=100)


class KnowledgeEntry(_Strict):
    topic: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=4000)


def parse_span(value: str) -> tuple[time, time] | None:
    """``"12:00-21:00"`` → (noon, 9 PM); ``"closed"`` → None."""
    if value.strip().lower() == "closed":
        return None
    match = _SPAN.match(value)
    if not match:
        raise ValueError(f"{value!r} is not HH:MM-HH:MM or 'closed'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    try:
        opens, closes = time(h1, m1), time(h2, m2)
    except ValueError as e:
        raise ValueError(f"{value!r}: {e}") from None
    if closes <= opens:
        raise ValueError(f"{value!r}: closing time must be after opening time (past midnight is not supported)")
    return opens, closes


class CompanyFile(_Strict):
    """The company file's schema: unknown keys are errors, prices are in dollars; ``id`` None takes the next free id."""

    id: int | None = Field(None, ge=1)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=300)
    phone: str = Field(min_length=3, max_length=50)
    timezone: str = "UTC"
    greeting: str = Field(min_length=1, max_length=500)
    notes: str = Field("", max_length=2000)
    hours: dict[str, str]
    reservations: ReservationRules = Field(default_factory=ReservationRules)
    takeout: bool = True
    menu: list[MenuEntry] = Field(default_factory=list, max_length=2000)
    knowledge: list[KnowledgeEntry] = Field(default_factory=list, max_length=5000)
    # Where the owner hears of each booking, order and message (voicebot.events); None: the server's settings.
    webhook_url: AnyHttpUrl | None = None  # pydantic reads the URL
    notify_email: EmailStr | None = None  # email-validator reads the address

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris, America/New_York)") from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        for key, span in value.items():
            if key.lower() not in _DAY_KEYS and key.lower() != "daily":
                raise ValueError(f"{key!r} is not a weekday (monday … sunday) or 'daily'")
            parse_span(str(span))
        return value

    @model_validator(mode="after")
    def _unique_menu_names(self) -> CompanyFile:
        seen: set[str] = set()
        for item in self.menu:
            key = item.name.lower()
            if key in seen:
                raise ValueError(f"menu item {item.name!r} appears twice")
            seen.add(key)
        return self

    def weekly_hours(self) -> dict[int, tuple[time, time]]:
        spans: dict[int, tuple[time, time] | None] = {}
        if "daily" in {k.lower() for k in self.hours}:
            daily = next(v for k, v in self.hours.items() if k.lower() == "daily")
            spans = dict.fromkeys(range(7), parse_span(daily))
        for key, span in self.hours.items():
            if key.lower() != "daily":
                spans[_DAY_KEYS[key.lower()]] = parse_span(span)
        return {day: span for day, span in spans.items() if span is not None}


def _node_line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line of the YAML node at pydantic's error location (the deepest one that exists)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                # An unknown key: point at the key itself.
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load_company_file(path: str | Path, text: str | None = None) -> CompanyFile:
    """Parse and validate a company file; raises ``CompanyFileError`` listing every problem."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CompanyFileError(name, [f"cannot read the file: {e}"]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.BaseLoader)  # every scalar a string: no YAML 1.1 surprises
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else "?"
        raise CompanyFileError(name, [f"line {line}: not valid YAML: {e.problem}"]) from None
    if not isinstance(data, dict):
        raise CompanyFileError(name, ["line 1: the file must be a mapping (name: …, hours: …, menu: …)"])
    try:
        return CompanyFile.model_validate(data)
    except ValidationError as e:
        problems = []
        for error in e.errors():
            where = ".".join(str(p) for p in error["loc"]) or "file"
            line = _node_line(root, tuple(error["loc"]))
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"line {line}: {where}: {message}")
        raise CompanyFileError(name, problems) from None


def knowledge_entries(company: CompanyFile) -> list[dict[str, str]]:
    """What the bot can look up per turn: the file's FAQ and policies, and one entry per dish."""
    entries = [{"topic": k.topic, "text": k.text} for k in company.knowledge]
    for item in company.menu:
        price = format_price(round(item.price * 100))
        about = f" ({item.description})" if item.description else ""
        category = f"{item.category}: " if item.category else ""
        entries.append({"topic": f"{category}{item.name}", "text": f"{item.name} costs {price}{about}."})
    if company.menu:
        names = ", ".join(item.name for item in company.menu[:30])
        more = f", and {len(company.menu) - 30} more dishes" if len(company.menu) > 30 else ""
        entries.append({"topic": "menu overview: what do you serve, dishes, food, eat",
                        "text": f"The menu has: {names}{more}."})
    return entries


def import_company(database: Database, company: CompanyFile) -> int:
    """Create or replace a company's profile, hours, menu and knowledge; bookings, orders and
    messages are kept. One transaction: a failure leaves the database as it was."""
    c = schema.companies
    with database.transaction() as db:
        company_id = company.id
        if company_id is None:
            company_id = (db.execute(select(func.max(c.c.id))).scalar() or 0) + 1
        row = dict(
            name=company.name, kind=company.kind, address=company.address, phone=company.phone,
            timezone=company.timezone, greeting=company.greeting, notes=company.notes,
            takes_reservations=company.reservations.accepted, takes_orders=company.takeout,
            max_party_size=company.reservations.max_party_size,
            slot_minutes=company.reservations.slot_minutes,
            seats_per_slot=company.reservations.seats_per_slot,
            last_booking_before_close_minutes=company.reservations.last_booking_before_close_minutes,
            booking_days_ahead=company.reservations.days_ahead,
            webhook_url=str(company.webhook_url) if company.webhook_url else None, notify_email=company.notify_email,
        )
        if db.execute(select(c.c.id).where(c.c.id == company_id)).first() is None:
            db.execute(insert(c).values(id=company_id, **row))
        else:
            db.execute(c.update().where(c.c.id == company_id).values(**row))
        for table in (schema.opening_hours, schema.menu_items, schema.knowledge):
            db.execute(delete(table).where(table.c.company_id == company_id))
        hours = company.weekly_hours()
        if hours:
            db.execute(insert(schema.opening_hours), [
                {"company_id": company_id, "weekday": day, "opens": span[0].strftime("%H:%M"),
                 "closes": span[1].strftime("%H:%M")} for day, span in hours.items()
            ])
        if company.menu:
            db.execute(insert(schema.menu_items), [
                {"company_id": company_id, "name": m.name, "price_cents": round(m.price * 100),
                 "description": m.description, "category": m.category} for m in company.menu
            ])
        entries = knowledge_entries(company)
        if entries:
            db.execute(insert(schema.knowledge), [{"company_id": company_id, **e} for e in entries])
    return company_id


def seed_demo_companies(database: Database) -> bool:
    """Import the demo restaurants into a database that has no company yet; False if it has one."""
    with database.engine.connect() as db:
        if db.execute(select(func.count()).select_from(schema.companies)).scalar():
            return False
    files = sorted(DEMO_DIR.glob("*.yaml"))
    for path in files:
        import_company(database, load_company_file(path))
    from loguru import logger

    logger.info(f"Put {len(files)} demo restaurants into the business database {database.description}")
    return True


def describe_company_file(company: CompanyFile) -> str:
    """One line for the CLI after an import."""
    hours = describe_hours(company.weekly_hours())
    return (f"{company.name}: {len(company.menu)} menu items, {len(company.knowledge)} knowledge entries, "
            f"hours {hours}")


__all__ = [
    "CompanyFile",
    "CompanyFileError",
    "describe_company_file",
    "import_company",
    "load_company_file",
    "seed_demo_companies",
]
