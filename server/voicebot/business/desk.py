"""What every front-desk operation returns: a yes/no, and the sentence for the caller.

The ``summary`` is written by code from the stored row (or the rule that refused), as the
bot would say it: OpenAI-class models rephrase it, the embedded model's answer is this
sentence word for word, so the bot confirms exactly what was stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from voicebot.business.database import Company, spoken_time

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeskResult:
    """An operation's outcome: ``summary`` is the sentence for the caller, ``data`` extra fields for the LLM."""

    ok: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)

    def for_llm(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary, **self.data}


def refused(summary: str, **data: Any) -> DeskResult:
    """A "no", with the sentence that says why or asks for what is missing; nothing was stored."""
    return DeskResult(False, summary, data)


def company_clock(company: Company) -> Clock:
    """The restaurant's wall clock (naive, in its own time zone)."""
    zone = ZoneInfo(company.timezone)
    return lambda: datetime.now(zone).replace(tzinfo=None, second=0, microsecond=0)


_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
                "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}


def phone_digits(phone: str | None) -> str:
    """The digits of a phone number, also when the transcript spelled them ("five five five")."""
    words = re.findall(r"[a-z]+|\d", (phone or "").lower())
    return "".join(_DIGIT_WORDS.get(w, w if w.isdigit() else "") for w in words)


def check_contact(name: str | None, phone: str | None, purpose: str) -> str | None:
    """The question to ask if the name or phone number is missing, or None."""
    if not (name or "").strip():
        return f"Could I have your name for the {purpose}?"
    if len(phone_digits(phone)) < 7:
        return "And what's a good phone number for you?"
    return None


def spoken_when(moment: datetime, today: datetime) -> str:
    """"today at 7 PM", "tomorrow at noon", "Saturday, December 5 at 7 PM"."""
    days = (moment.date() - today.date()).days
    day = "today" if days == 0 else "tomorrow" if days == 1 else f"on {spoken_day(moment)}"
    return f"{day} at {spoken_time(moment.time())}"


def spoken_day(moment: datetime) -> str:
    """A date as the bot says it: "Saturday, December 5" (no year)."""
    return moment.strftime("%A, %B ") + str(moment.day)
