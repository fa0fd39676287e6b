"""A caller's day and time ("next Friday", "tomorrow", "7:30 pm", "eight") as a datetime.

The LLM passes the words the caller used; code, not the model, turns them into a date,
because small models get day arithmetic wrong. ``dateparser`` does the parsing, with the
restaurant's "now" as the base and future dates preferred; bare hours mean the evening
when the morning hour is outside the opening hours ("at 7" → 7 PM).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import dateparser

_SETTINGS_BASE = {"PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False}
_FILLER = re.compile(r"\b(this|on|at|for|the|coming|o'clock|oclock)\b", re.IGNORECASE)
_BARE_HOUR = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*$")
_MERIDIEM = re.compile(r"\b(a\.?m\.?|p\.?m\.?|noon|midnight|morning|evening|night|afternoon|tonight)\b",
                       re.IGNORECASE)


_WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.IGNORECASE)


class WhenError(ValueError):
    """The words do not name a day or a time; the message says which, for the caller."""


def _parse(text: str, now: datetime) -> datetime | None:
    cleaned = " ".join(_FILLER.sub(" ", text).split())
    if not cleaned:
        return None
    settings = dict(_SETTINGS_BASE, RELATIVE_BASE=now)
    return dateparser.parse(cleaned, languages=["en"], settings=settings)


def parse_day(text: str, now: datetime) -> date:
    """The day the caller means, on or after ``now``'s day."""
    text = (text or "").strip()
    lowered = text.lower()
    if lowered in ("", "today", "tonight"):
        return now.date()
    iso = re.match(r"^\d{4}-\d{2}-\d{2}", text)
    if iso:
        return date.fromisoformat(iso.group(0))
    parsed = _parse(text, now)
    if parsed is None:
        raise WhenError(f"I could not tell which day {text!r} is")
    return parsed.date()


def parse_time(text: str, now: datetime, open_span: tuple[time, time] | None = None) -> time:
    """The time of day; a bare "7" or "7:30" is read in the afternoon/evening if that is
    when the restaurant is open and the morning is not."""
    text = (text or "").strip()
    if not text:
        raise WhenError("I need a time")
    bare = _BARE_HOUR.match(text)
    if bare:
        hour, minute = int(bare.group(1)), int(bare.group(2) or 0)
        if hour > 23 or minute > 59:
            raise WhenError(f"{text!r} is not a time")
        candidate = time(hour, minute)
    else:
        parsed = _parse(text, now)
        if parsed is None:
            raise WhenError(f"I could not tell what time {text!r} is")
        candidate = parsed.time().replace(second=0, microsecond=0)
        if _MERIDIEM.search(text):
            return candidate
    if candidate.hour < 12 and open_span is not None:
        opens, closes = open_span
        evening = time(candidate.hour + 12, candidate.minute)
        if not (opens <= candidate < closes) and opens <= evening < closes:
            return evening
    return candidate


def parse_when(day_text: str, time_text: str, now: datetime,
               hours: dict[int, tuple[time, time]] | None = None) -> datetime:
    """Day and time together; ``hours`` (weekday → span) helps read a bare hour."""
    if not (day_text or "").strip():
        raise WhenError("I need the day")
    day = parse_day(day_text, now)
    span = (hours or {}).get(day.weekday())
    moment = datetime.combine(day, parse_time(time_text, now, span))
    if moment < now and _WEEKDAY.search(day_text or ""):
        moment += timedelta(days=7)  # "Saturday" said on Saturday night means next week's
    return moment
