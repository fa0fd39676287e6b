"""Opening hours, answered from the data: "Are you open on Sundays?", "What time do you close tonight?".

The most common question a restaurant gets. Given the week's hours (and, per turn, the
hours of the day named), the 1.5B model still told callers a restaurant open every day
was closed on Sundays, or that it could not help; the answer is in the data, so the desk
says it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from voicebot.business.database import Company, spoken_time
from voicebot.business.vocabulary import WEEKDAY_INDEX, WEEKDAY_NAMES, WEEKDAYS

_HOURS_QUESTION = re.compile(
    r"\b((are|is) (you|it|the \w+|they) (still )?open|what time (do|does|are|will) (you|it|they) (open|close)|"
    r"when (do|does|are|will) (you|it|they) (open|close)|(your|the|opening) hours|closing time|opening time|"
    r"how late (are|is) (you|it)|(are|is) (you|it) closed)\b", re.IGNORECASE)
_DAY = re.compile(rf"\b({WEEKDAY_NAMES}|today|tonight|tomorrow|now|right now)s?\b", re.IGNORECASE)


def is_hours_question(text: str) -> bool:
    """True if the caller asks when the restaurant is open."""
    return bool(_HOURS_QUESTION.search(text))


def hours_answer(company: Company, now: datetime, text: str) -> str | None:
    """The answer to an hours question from the data, or None if ``text`` is not one."""
    if not is_hours_question(text):
        return None
    found = _DAY.search(text)
    word = found.group(1).lower() if found else None
    asks_close = bool(re.search(r"\b(close|closing|how late)\b", text, re.IGNORECASE))
    if word in ("now", "right now") or (word is None and re.search(r"\bstill open\b", text, re.IGNORECASE)):
        return _now(company, now)
    if word is None:
        return f"We're open {company.opening_hours}."
    if word in ("today", "tonight"):
        day, label = now.date(), "today" if word == "today" else "tonight"
    elif word == "tomorrow":
        day, label = (now + timedelta(days=1)).date(), "tomorrow"
    else:
        index = WEEKDAY_INDEX[word.rstrip("s")]
        day = (now + timedelta(days=(index - now.weekday()) % 7)).date()
        label = f"on {WEEKDAYS[index]}s"
    span = company.hours.get(day.weekday())
    if span is None:
        return f"No, we're closed {label}. Our hours are {company.opening_hours}."
    opens, closes = span
    if day == now.date() and now.time() >= closes:
        after = _now(company, now).removeprefix("No, we're closed right now; ")
        return f"We've closed for today: we close at {spoken_time(closes)}, and {after}"
    title = label[:1].upper() + label[1:]
    if asks_close:
        return f"{title} we close at {spoken_time(closes)}."
    if re.search(r"\b(open|opening)\b", text, re.IGNORECASE) and re.search(r"\bwhat time|when\b", text, re.I):
        return f"{title} we open at {spoken_time(opens)}."
    return f"Yes, {label} we're open {spoken_time(opens)} to {spoken_time(closes)}."


def _now(company: Company, now: datetime) -> str:
    span = company.hours.get(now.weekday())
    if span is not None and span[0] <= now.time() < span[1]:
        return f"Yes, we're open until {spoken_time(span[1])} today."
    for days in range(8):
        day = now + timedelta(days=days)
        span = company.hours.get(day.weekday())
        if span is not None and (days or now.time() < span[0]):
            when = "today" if days == 0 else "tomorrow" if days == 1 else f"on {day:%A}"
            return f"No, we're closed right now; we open at {spoken_time(span[0])} {when}."
    return "No, we're closed right now."
