"""What every front-desk operation returns to the LLM: a yes/no, and the words to say why.

The ``summary`` is written by code from the stored row (or the rule that refused), so the
bot confirms exactly what was stored and a small model has nothing to invent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from voicebot.business.database import Company

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeskResult:
    ok: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)

    def for_llm(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary, **self.data}


def refused(summary: str, **data: Any) -> DeskResult:
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


def check_contact(name: str | None, phone: str | None) -> str | None:
    """Why a name/phone pair cannot be stored, or None if it can."""
    if not (name or "").strip():
        return "I need the caller's name."
    if len(phone_digits(phone)) < 7:
        return "I need a phone number with at least 7 digits."
    return None


def spoken_day(moment: datetime) -> str:
    return moment.strftime("%A, %B ") + str(moment.day)
