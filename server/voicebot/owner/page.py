"""The owner's read-only page (``GET /owner``): today's and upcoming bookings, orders, messages."""

from __future__ import annotations

from html import escape
from typing import Any

from voicebot.business import ledger
from voicebot.business.database import Company, Database

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}h1{margin-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 2rem}td,th{border-bottom:1px solid #ddd;padding:.3rem .8rem;text-align:left}
th{background:#f4f4f4}.empty{color:#888}
"""


def _table(rows: list[dict[str, Any]], testid: str) -> str:
    if not rows:
        return f'<p class="empty" data-testid="{testid}">None yet.</p>'
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0] if c != "company")
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for c, v in row.items() if c != "company") + "</tr>"
        for row in rows
    )
    return f'<table data-testid="{testid}"><tr>{head}</tr>{body}</table>'


def owner_page(database: Database, company: Company) -> str:
    """The owner's page as HTML, every value escaped; it reads the database, so call it off the event loop."""
    sections = [
        ("Bookings", _table(ledger.bookings(database, company.id), "bookings")),
        ("Takeout orders", _table(ledger.orders(database, company.id), "orders")),
        ("Messages", _table(ledger.messages(database, company.id), "messages")),
    ]
    content = "".join(f"<h2>{title}</h2>{table}" for title, table in sections)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(company.name)} — front desk</title>"
            f"<style>{_STYLE}</style></head><body><h1>{escape(company.name)}</h1>"
            f"<p>{escape(company.address)} · {escape(company.phone)} · {escape(company.opening_hours)}</p>"
            f"{content}</body></html>")
