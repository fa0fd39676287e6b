"""The owner's read-only page (``GET /owner``): today's and upcoming bookings, orders, messages; and its
sign-in form."""

from __future__ import annotations

from html import escape
from typing import Any

from voicebot.business import ledger
from voicebot.business.database import Company, Database

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}h1{margin-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 2rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem .8rem;text-align:left}
th{background:#f4f4f4}.empty{color:#888}.error{color:#b00020}
form.logout{float:right}input{font-size:1rem;padding:.3rem;width:24rem;max-width:100%}
"""
_LOGOUT = '<form class="logout" method="post" action="/owner/logout"><button type="submit">Log out</button></form>'



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
            f"<style>{_STYLE}</style></head><body>{_LOGOUT}<h1>{escape(company.name)}</h1>"
            f"<p>{escape(company.address)} · {escape(company.phone)} · {escape(company.opening_hours)}</p>"
            f"{content}</body></html>")


def login_page(company: Company, error: str | None = None) -> str:
    """The sign-in form: the owner credential (``voicebot owner-token``), never the callers' access token."""
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(company.name)} — sign in</title>"
            f"<style>{_STYLE}</style></head><body><h1>{escape(company.name)}</h1>"
            "<p>The front desk's bookings, orders and messages. Sign in with the owner credential "
            "(on the server: <code>uv run voicebot owner-token</code>).</p>"
            f"{message}<form method='post' action='/owner/login'>"
            "<label for='token'>Owner credential</label><br>"
            "<input id='token' name='token' type='password' autocomplete='current-password' required autofocus> "
            "<button type='submit'>Sign in</button></form></body></html>")
