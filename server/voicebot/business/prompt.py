"""What the LLM is told about the business: short on purpose.

The seed's 05 iteration measured a 1,353-token system prompt costing 5.7 s of
time-to-first-token; every token here is paid on each cold prompt. So the prompt holds
only the facts every call needs (who, where, when open, the house rules) and the style
rules; the menu, FAQ and policies are searched per turn (``knowledge.py``) and handed to
the LLM beside the caller's question, so the prompt does not grow with the menu.
"""

from __future__ import annotations

import re
from datetime import datetime

from voicebot.business.database import Company, spoken_time
from voicebot.business.vocabulary import RELATIVE_DAYS, WEEKDAY_INDEX, WEEKDAY_NAMES, WEEKDAYS, alternation


def house_rules(company: Company) -> str:
    """The booking and takeout rules in a sentence or two, for the system prompt."""
    p = company.policy
    if p.takes_reservations:
        rules = f"Reservations for up to {p.max_party_size} people."
    else:
        rules = "No reservations; guests walk in."
    rules += " Takeout orders by phone." if company.takes_orders else " No takeout orders."
    return rules


def system_prompt(company: Company, now: datetime | None = None, short_opener: bool = False) -> str:
    """The bot's instructions for one call; ``now`` (the restaurant's local time) names today;
    ``short_opener``: the reply starts with a sentence of a few words (spoken sooner)."""
    lines = [
        f"You answer the phone for {company.name}, a {company.kind}.",
        f"Address: {company.address}. Phone: {company.phone}. Hours: {company.opening_hours}.",
        house_rules(company) + (f" {company.notes}" if company.notes else ""),
    ]
    if now is not None:
        # The date only: the prompt stays the same all day, so the LLM's prompt cache holds.
        lines.append(f"Today is {now:%A, %B} {now.day}, {now:%Y}.")
    lines.append(
        "You are speaking on a phone call: answer in one or two short, friendly sentences, in plain "
        "words with no lists, symbols or emojis. Use only these facts and the notes given with the "
        "caller's words; if you don't know, say so and offer to take a message. The front desk "
        "system takes bookings, orders and messages: never say something is booked, cancelled or "
        "ordered yourself."
    )
    if short_opener:
        lines.append("Start your reply with a short sentence of at most six words, then answer.")
    return "\n".join(lines)


def greeting_request(company: Company) -> str:
    """The turn that makes the bot speak first, as soon as the caller is connected."""
    return f'A caller has just connected. Greet them with: "{company.greeting}"'


def goodbye(company: Company) -> str:
    """What the bot says as it ends a call (pre-synthesized like the greeting)."""
    return f"Thank you for calling {company.name}. Goodbye!"


def opening_messages(company: Company, greeting_mode: str) -> list[dict]:
    """How every call's context begins, for the LLM's prompt cache.

    With a cached greeting the bot has already spoken it (an assistant turn), and the
    caller's first question follows; with an LLM greeting the call opens on the request
    to greet. A placeholder question stands for the caller's: only the prefix is reused.
    """
    if greeting_mode == "cached":
        return [{"role": "assistant", "content": company.greeting},
                {"role": "user", "content": "Hi, are you open today?"}]
    return [{"role": "user", "content": greeting_request(company)}]


def clock_note(now: datetime) -> str:
    """The time, for questions about being open now (kept out of the prompt: it changes)."""
    return f"It is now {spoken_time(now.time())} on {now:%A}."


_DAY_NAMED = re.compile(rf"\b({WEEKDAY_NAMES}|{alternation(RELATIVE_DAYS)})s?\b", re.IGNORECASE)


def day_hours_notes(company: Company, now: datetime, words: str) -> list[str]:
    """The hours of each day the caller names ("Are you open on Sundays?"), from the data.

    Given only the week's hours in the prompt, the 1.5B model told callers the restaurant
    was closed on Sundays (it is open every day) in 3 of 4 calls."""
    notes = []
    for match in dict.fromkeys(m.lower().rstrip("s") for m in _DAY_NAMED.findall(words)):
        if match in ("today", "tonight"):
            day, label = now.weekday(), f"Today ({now:%A})"
        elif match == "tomorrow":
            day = (now.weekday() + 1) % 7
            label = f"Tomorrow ({WEEKDAYS[day]})"
        else:
            day, label = WEEKDAY_INDEX[match], f"On {WEEKDAYS[WEEKDAY_INDEX[match]]}s"
        span = company.hours.get(day)
        notes.append(f"{label} {company.name} is open {spoken_time(span[0])} to {spoken_time(span[1])}."
                     if span else f"{label} {company.name} is closed.")
    return notes


# Opens the knowledge notes added to a caller's words; the one place this text is written.
NOTES_MARKER = "(Notes for this question:"


def with_notes(question: str, notes: list[str]) -> str:
    """The caller's words with the knowledge entries found for them, the notes first.

    Notes first: while the caller speaks, the prompt is evaluated ahead (``voicebot.listening``)
    with the notes chosen from their words so far; what changes least must come first, so
    that only the caller's last words are left to evaluate when they stop.
    """
    if not notes:
        return question
    return f"{NOTES_MARKER} {' '.join(notes)})\n{question}"


def without_notes(text: str) -> str:
    """The caller's words alone, the knowledge notes taken off."""
    if text.startswith(NOTES_MARKER):
        _, newline, rest = text.partition(")\n")
        return rest if newline else text
    return text


def speech_vocabulary(company: Company, topics: list[str] | None = None) -> str:
    """The business's own words, to bias speech recognition towards them.

    Whisper hears "dragon roll" as "drag and roll" and "miso soup" as "missile soup"
    unless it is told these words are likely; names, menu items and the address are, and
    the words of the owner's FAQ topics (``topics``: "wifi" was heard as "wiper"). Measured
    2026-12-02 on 42 spoken questions (two voices): 3.1 % of words missed with the menu
    words, 2.4 % with the FAQ topics too.
    """
    names = [company.name] + [item.name.split(",")[0] for item in company.menu[:40]]
    street = company.address.split(",")[0].lstrip("0123456789 ")
    return ", ".join(dict.fromkeys(names + [street] + list(topics or [])))
