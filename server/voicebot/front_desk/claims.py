"""What the LLM may not say: an action the desk did not take, and facts that are not in the data.

Only the front desk books, orders, cancels and takes messages, and it says so itself from
the stored row. A small model answering an aside still writes "Okay, I'll book a table for
8 people" or "Sure, we can make a reservation for you at 10 PM" (heard on our own calls,
with nothing stored), denies a dish on its own menu when the transcript garbled it ("we
don't have Miso soup beat"), quotes prices that are on no menu, or sends the caller to "ask
the staff". :func:`check_llm_reply` finds these in the reply written so far, so the
sentence is replaced before it is spoken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz

from voicebot.business.database import MenuItem


class Breach(StrEnum):
    """Why an LLM reply may not be spoken."""

    ACTION = "action"  # claims or promises a booking, order, cancellation or message
    DENIED_DISH = "denied_dish"  # says a dish on the menu is not
    PRICE = "price"  # a price the menu does not have
    OFF_PHONE = "off_phone"  # "on the screen", "ask the staff", "as an AI"


# Verbs of the desk's work, in the forms a reply claims or promises them with.
_ACTS = r"(book|reserve|place|cancel|confirm|schedule|arrange|note|pass|put in|put down|take down|set up|make)"
_DONE = r"(booked|reserved|placed|cancell?ed|confirmed|scheduled|arranged|noted|passed( it| that)? on|put in|" \
        r"put down|taken down|set up|made|sent|all set|ready for pickup)"
_ACTION = re.compile(
    rf"\b(i'?ll|i will|i can|i'?m going to|let me|i'?ve|i have|we'?ll|we will|we can|we'?ve|we have|i'?d be happy to)"
    rf"\s+(go ahead and |gone ahead and |went ahead and |just |now |definitely |certainly |gladly )?({_ACTS}|{_DONE})\b"
    rf"|\byou'?re (all )?(set|booked|confirmed)\b"
    rf"|\b(your|the) (table|booking|reservation|order|message)( for [^.,;!?]{{1,40}})? (is|has been|was|will be) "
    rf"(now )?{_DONE}"
    rf"|\b(is|has been) (now )?(booked|reserved|placed|cancell?ed)\b"
    rf"|\bi'?ll (let (them|the \w+|our \w+) know|pass (it|that|this|your message) on|tell (them|the \w+))\b"
    rf"|\b(see you|we'?ll see you) (on|at|then|tomorrow|tonight|saturday|sunday|monday|tuesday|wednesday|thursday|"
    rf"friday)\b",
    re.IGNORECASE)
_OFF_PHONE = re.compile(
    r"\b(on (the|your|my) screen|(ask|check with|speak to|talk to) (the|our|a) (staff|waiter|server|manager|host)|"
    r"as an ai|language model|i'?m (just )?an? (ai|assistant|bot)\b|i (can'?t|cannot) see)\b", re.IGNORECASE)
_DENIAL = re.compile(
    r"\b(?:don'?t|do not|doesn'?t|does not) (?:have|serve|offer|make|carry|sell)\s+(?:any\s+|the\s+|a\s+)?"
    r"([a-z][a-z' -]{2,40}?)(?=\s*(?:[.,;!?]|$|\bor\b|\bon\b|\bat\b|\btoday\b|\bhere\b|\bright now\b))",
    re.IGNORECASE)
_PRICE = re.compile(r"\$\s?(\d+(?:\.\d{2})?)|\b(\d+(?:\.\d{2})?) dollars\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """What is wrong with a reply, and the words that show it."""

    breach: Breach
    said: str


def denied_dish(text: str, menu: tuple[MenuItem, ...] | list[MenuItem]) -> MenuItem | None:
    """The dish on the menu that ``text`` says the restaurant does not have, if any."""
    for match in _DENIAL.finditer(text):
        said = match.group(1).strip().lower()
        for item in menu:
            short = item.name.split(",")[0].lower()
            if fuzz.token_set_ratio(said, short) >= 85 or fuzz.partial_ratio(short, said) >= 90:
                return item
    return None


def check_llm_reply(text: str, menu: tuple[MenuItem, ...] | list[MenuItem],
                    totals_cents: frozenset[int] = frozenset()) -> Verdict | None:
    """The first thing in an LLM reply (as written so far) that may not be spoken, or None.

    ``totals_cents``: amounts the call may rightly mention besides the menu's prices (an
    order's total).
    """
    found = _ACTION.search(text)
    if found:
        return Verdict(Breach.ACTION, found.group(0))
    found = _OFF_PHONE.search(text)
    if found:
        return Verdict(Breach.OFF_PHONE, found.group(0))
    dish = denied_dish(text, menu)
    if dish is not None:
        return Verdict(Breach.DENIED_DISH, dish.name)
    # A dish's price, or a few of it ("two California rolls are $18"), or a total the call knows.
    allowed = {item.price_cents * n for item in menu for n in range(1, 11)} | set(totals_cents)
    for match in _PRICE.finditer(text):
        cents = round(float(match.group(1) or match.group(2)) * 100)
        if cents not in allowed:
            return Verdict(Breach.PRICE, match.group(0))
    return None
