"""The owner's board (``GET /owner``): today's numbers, orders, bookings, messages and calls, kept live by
``board.js``; and its sign-in form."""

from __future__ import annotations

import json
from datetime import date
from html import escape
from typing import Any

from voicebot.business import ledger
from voicebot.business.database import Company, Database
from voicebot.business.statuses import TRANSITIONS
from voicebot.call_record import list_calls
from voicebot.owner.report import day_report

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}h1{margin-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 2rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem .8rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}.empty{color:#888}.error{color:#b00020}
form.logout{float:right}input{font-size:1rem;padding:.3rem;width:24rem;max-width:100%}
tr.fresh{animation:fresh 4s ease-out}@keyframes fresh{from{background:#ffe27a}to{background:transparent}}
#live{font-size:.9rem;margin-left:1rem}#live.on{color:#1a7f37}#live.off{color:#b00020}
.report span{display:inline-block;margin-right:1.5rem}td button{margin-right:.3rem}
.turns p{margin:.2rem 0}.turns .bot{color:#555}.turns .unanswered{color:#b00020}
tr.status-cancelled,tr.status-picked_up,tr.status-no_show,tr.status-handled{color:#888}
"""
_LOGOUT = '<form class="logout" method="post" action="/owner/logout"><button type="submit">Log out</button></form>'

# The columns of each list, in the owner API's order (the board's script adds rows with the same ones).
COLUMNS = {
    "booking": ["id", "when", "party", "name", "phone", "status", "updated"],
    "order": ["id", "pickup", "name", "phone", "items", "total", "status", "updated"],
    "message": ["id", "at", "name", "phone", "message", "status", "updated"],
    "call": ["started", "channel", "duration_s", "outcome", "turns", "unanswered"],
}


# What each button says: the owner's action, not the status it leads to.
ACTION_LABELS = {"accepted": "Accept", "ready": "Ready", "picked_up": "Picked up", "cancelled": "Cancel",
                 "arrived": "Arrived", "no_show": "No-show", "handled": "Handled"}


def next_statuses() -> dict[str, dict[str, list[str]]]:
    """kind → current status → the statuses the owner may move it to (the board's buttons)."""
    found: dict[str, dict[str, list[str]]] = {}
    for kind, (_, allowed) in TRANSITIONS.items():
        for target, sources in allowed.items():
            for source in sources:
                found.setdefault(kind, {}).setdefault(source, []).append(target)
    return found


def _buttons(kind: str, row: dict[str, Any]) -> str:
    return "".join(f'<button type="button" data-status="{escape(s)}">{escape(ACTION_LABELS[s])}</button>'
                   for s in next_statuses().get(kind, {}).get(str(row.get("status")), []))


def _table(kind: str, rows: list[dict[str, Any]], testid: str) -> str:
    columns = COLUMNS[kind]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns) + ("<th></th>" if kind != "call" else "")
    body = []
    for row in rows:
        cells = "".join(f"<td data-column='{c}'>{escape(str(row.get(c, '') if row.get(c) is not None else ''))}"
                        "</td>" for c in columns)
        if kind == "call":
            cells += f"<td><button type='button' data-call='{escape(str(row['id']))}'>turns</button></td>"
        else:
            cells += f"<td class='actions'>{_buttons(kind, row)}</td>"
        body.append(f"<tr data-id='{escape(str(row['id']))}' class='status-{escape(str(row.get('status', '')))}'>"
                    f"{cells}</tr>")
    empty = "" if rows else f"<tr class='empty'><td colspan='{len(columns) + 1}'>None yet.</td></tr>"
    return (f"<table data-testid='{testid}' data-kind='{kind}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}{empty}</tbody></table>")


def _report(report: dict[str, Any]) -> str:
    calls, bookings, orders = report["calls"], report["bookings"], report["orders"]
    numbers = [("calls", calls["answered"]), ("put through", calls["put_through"]),
               ("bookings", bookings["count"]), ("covers", bookings["covers"]),
               ("orders", orders["count"]), ("takeout", orders["revenue"]),
               ("unanswered questions", len(report["unanswered_questions"]))]
    spans = "".join(f"<span>{escape(label)}: <b data-figure='{escape(label)}'>{escape(str(value))}</b></span>"
                    for label, value in numbers)
    questions = "".join(f"<li>{escape(q)}</li>" for q in report["unanswered_questions"])
    return (f"<div class='report' data-testid='report'>{spans}"
            f"<ul data-testid='unanswered'>{questions}</ul></div>")


def owner_page(database: Database, company: Company, today: date) -> str:
    """The owner's board as HTML, every value escaped; it reads the database, so call it off the event loop.
    ``board.js`` keeps it live (the event stream) and sends the owner's actions."""
    sections = [
        (f"Today ({today.isoformat()})", _report(day_report(database, company, today))),
        ("Takeout orders", _table("order", ledger.orders(database, company.id), "orders")),
        ("Bookings", _table("booking", ledger.bookings(database, company.id), "bookings")),
        ("Messages", _table("message", ledger.messages(database, company.id), "messages")),
        ("Calls", _table("call", list_calls(database, company.id, limit=50), "calls")
         + "<div class='turns' data-testid='turns'></div>"),
    ]
    content = "".join(f"<h2>{title}</h2>{body}" for title, body in sections)
    board = escape(json.dumps({"columns": COLUMNS, "next": next_statuses(), "labels": ACTION_LABELS}), quote=True)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(company.name)} — front desk</title>"
            f"<style>{_STYLE}</style><script src='/owner/board.js' defer></script></head>"
            f"<body data-board=\"{board}\">{_LOGOUT}<h1>{escape(company.name)}"
            "<span id='live' class='off' data-testid='live'>connecting…</span></h1>"
            f"<p>{escape(company.address)} · {escape(company.phone)} · {escape(company.opening_hours)} · "
            "<button type='button' id='sound'>Sound on</button></p>"
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
