"""The day at a glance, for the owner: calls, bookings and covers, orders and takeout revenue, calls put
through, and the questions the bot could not answer (what to add to the company file).

The same numbers on the board (``GET /api/owner/report``) and on the command line
(``uv run voicebot report --company N [--date D] [--json]``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select

from voicebot.business import Company, Database, schema
from voicebot.business.money import format_price


def day_report(database: Database, company: Company, day: date) -> dict[str, Any]:
    """What happened on ``day`` (the restaurant's local date)."""
    start = datetime.combine(day, datetime.min.time())
    end = start + timedelta(days=1)
    c, t, b, o, m = schema.calls, schema.call_turns, schema.bookings, schema.orders, schema.messages
    with database.engine.connect() as db:
        calls = db.execute(select(c).where(c.c.company_id == company.id, c.c.started_at >= start,
                                           c.c.started_at < end)).all()
        questions = [r.text for r in db.execute(
            select(t.c.text).join(c, c.c.id == t.c.call_id)
            .where(c.c.company_id == company.id, c.c.started_at >= start, c.c.started_at < end,
                   t.c.unanswered.is_(True)).order_by(t.c.id))]
        bookings = db.execute(select(b.c.status, b.c.party_size).where(
            b.c.company_id == company.id, b.c.starts_at >= start, b.c.starts_at < end)).all()
        pickup = func.coalesce(o.c.pickup_at, o.c.created_at)
        orders = db.execute(select(o.c.status, o.c.total_cents).where(
            o.c.company_id == company.id, pickup >= start, pickup < end)).all()
        messages = db.execute(select(m.c.status).where(
            m.c.company_id == company.id, m.c.created_at >= start, m.c.created_at < end)).all()
    answered = [r for r in calls if r.outcome != "refused_busy"]
    durations = [r.duration_s for r in answered if r.duration_s is not None]
    kept = [r for r in bookings if r.status != "cancelled"]
    sold = [r for r in orders if r.status != "cancelled"]
    return {
        "company": company.id,
        "date": day.isoformat(),
        "calls": {
            "answered": len(answered),
            "browser": sum(r.channel == "browser" for r in answered),
            "phone": sum(r.channel == "phone" for r in answered),
            "put_through": sum(r.outcome == "put_through" for r in answered),
            "stored_something": sum(r.outcome == "stored" for r in answered),
            "refused_busy": sum(r.outcome == "refused_busy" for r in calls),
            "median_duration_s": round(median(durations), 1) if durations else None,
        },
        "bookings": {
            "count": len(kept),
            "covers": sum(r.party_size for r in kept),
            "arrived": sum(r.status == "arrived" for r in kept),
            "no_shows": sum(r.status == "no_show" for r in kept),
            "cancelled": len(bookings) - len(kept),
        },
        "orders": {
            "count": len(sold),
            "revenue_cents": sum(r.total_cents for r in sold),
            "revenue": format_price(sum(r.total_cents for r in sold)),
            "picked_up": sum(r.status == "picked_up" for r in sold),
            "cancelled": len(orders) - len(sold),
        },
        "messages": {"count": len(messages), "handled": sum(r.status == "handled" for r in messages)},
        "unanswered_questions": questions,
    }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def report_text(report: dict[str, Any], company: Company) -> str:
    """The report as the command line prints it."""
    calls, bookings, orders, messages = (report["calls"], report["bookings"], report["orders"],
                                         report["messages"])
    duration = f", median {calls['median_duration_s']} s" if calls["median_duration_s"] is not None else ""
    lines = [
        f"{company.name}, {report['date']}",
        f"Calls: {calls['answered']} answered ({calls['browser']} browser, {calls['phone']} phone{duration}); "
        f"{calls['stored_something']} stored a booking, order or message; {calls['put_through']} put through "
        f"to a person; {calls['refused_busy']} refused (all lines busy)",
        f"Bookings: {bookings['count']} for {_count(bookings['covers'], 'cover')} ({bookings['arrived']} arrived, "
        f"{bookings['no_shows']} no-shows); {bookings['cancelled']} cancelled",
        f"Takeout: {_count(orders['count'], 'order')}, {orders['revenue']} ({orders['picked_up']} picked up); "
        f"{orders['cancelled']} cancelled",
        f"Messages: {messages['count']} ({messages['handled']} handled)",
    ]
    questions = report["unanswered_questions"]
    if questions:
        lines.append(f"Questions the bot could not answer ({len(questions)}): add the answers to the company file")
        lines += [f"  - {q}" for q in questions]
    else:
        lines.append("Questions the bot could not answer: none")
    return "\n".join(lines)
