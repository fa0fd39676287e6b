"""What every front-desk operation returns: a yes/no, and the sentence for the caller.

The ``summary`` is written by code from the stored row (or the rule that refused), as the
bot would say it: OpenAI-class models rephrase it, the embedded model's answer is this
sentence word for word, so the bot confirms exactly what was stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from voicebot.business.database import Company, spoken_time
from voicebot.business.phone import digit_runs, missing_digits_question, normalized_phone

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeskResult:
    """An operation's outcome: ``summary`` is the sentence for the caller, ``data`` extra fields for the LLM."""

    ok: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


def refused(summary: str, **data: Any) -> DeskResult:
    """A "no", with the sentence that says why or asks for what is missing; nothing was stored."""
    return DeskResult(False, summary, data)


def company_clock(company: Company, fixed: datetime | time | None = None) -> Clock:
    """The restaurant's wall clock (naive, in its own time zone); ``fixed``: always that moment, or
    that time of the restaurant's today (``VOICEBOT_CLOCK``, for tests and benchmarks that must
    not depend on the hour they run)."""
    zone = ZoneInfo(company.timezone)
    if isinstance(fixed, datetime):
        return lambda: fixed
    if isinstance(fixed, time):
        moment = datetime.combine(datetime.now(zone).date(), fixed)
        return lambda: moment
    return lambda: datetime.now(zone).replace(tzinfo=None, second=0, microsecond=0)


def phone_digits(phone: str | None) -> str:
    """The 10 digits of a whole phone number, or whatever digits were given (then not a whole number)."""
    digits = "".join(run.digits for run in digit_runs(phone or ""))
    return normalized_phone(digits) or digits


def check_contact(name: str | None, phone: str | None, purpose: str) -> str | None:
    """The question to ask if the name is missing or the phone number is not a whole one, or None."""
    if not (name or "").strip():
        return f"Could I have your name for the {purpose}?"
    if normalized_phone(phone_digits(phone)) is None:
        return missing_digits_question(phone_digits(phone))
    return None


def spoken_when(moment: datetime, today: datetime) -> str:
    """"today at 7 PM", "tomorrow at noon", "Saturday, December 5 at 7 PM"."""
    days = (moment.date() - today.date()).days
    day = "today" if days == 0 else "tomorrow" if days == 1 else f"on {spoken_day(moment)}"
    return f"{day} at {spoken_time(moment.time())}"


def spoken_day(moment: datetime) -> str:
    """A date as the bot says it: "Saturday, December 5" (no year)."""
    return moment.strftime("%A, %B ") + str(moment.day)
