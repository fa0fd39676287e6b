"""What the front desk says that does not depend on the call: its fixed sentences (pre-synthesized at
start-up, so asking them costs no synthesis), the answers to the commonest questions, and a phone
caller's keys as the words they stand for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from voicebot.business.database import Company, MenuItem
from voicebot.business.money import format_price
from voicebot.business.prompt import goodbye
from voicebot.front_desk.hours import hours_answer
from voicebot.front_desk.understanding import Slot

SAVE_FAILED = "Sorry, I couldn't save that just now. Could I take a message instead?"
NOT_CAUGHT = "Sorry, I didn't catch that."


# The desk's fixed sentences, pre-synthesized at start-up (voicebot.tts.phrases) so that
# asking them costs no synthesis; tests keep this list in step with the code.
FIXED_LINES = (
    "Sure, what would you like to change?",
    "All right, I've dropped that. Anything else?",
    "Sorry about that. What should I change?",
    "Sure. For how many people, and what day and time?",
    "For how many people?",
    "What day and time would you like?",
    "Which day would you like?",
    "Sorry, which day and time was that?",
    "Anything else?",
    "What would you like to order?",
    "When would you like to pick it up?",
    "Sure. What's the message?",
    "What's the phone number the booking is under?",
    "What's the phone number the order is under?",
    "And what's a good phone number for you, with the area code?",
    "Could I have your name for the booking?",
    "Could I have your name for the order?",
    "Could I have your name for the message?",
    NOT_CAUGHT,
    SAVE_FAILED,
)


def company_lines(company: Company, faq_answers: list[str]) -> list[str]:
    """The fixed sentences of one company's desk: the FAQ answers, the goodbye, the way to a person."""
    lines = [*FIXED_LINES, goodbye(company), *faq_answers, transfer_line(company),
             transfer_line(company, by_phone=True)]
    if not company.policy.takes_reservations:
        lines.append(f"Sorry, {company.name} doesn't take reservations; just walk in. Anything else?")
    return lines


# Hours questions callers ask most, answered at start-up so their answers play from the phrase cache.
COMMON_HOURS_QUESTIONS = ("What time do you close tonight?", "What time do you close today?",
                          "When do you open today?", "When do you open tomorrow?",
                          "What time do you close tomorrow?", "Are you open right now?")


def price_sentence(items: Sequence[MenuItem], asked_for_dish: bool) -> str:
    """The desk's answer to a price question ("The Dragon roll is $15."; "Yes, …" to "do you have …")."""
    sentence = " and ".join(f"the {item.name} is {format_price(item.price_cents)}" for item in items) + "."
    return f"Yes, {sentence}" if asked_for_dish else sentence[:1].upper() + sentence[1:]


def answer_lines(company: Company, now: datetime) -> list[str]:
    """The desk's answers to the commonest questions at ``now``: each dish's price and the day's
    hours. Synthesized at start-up, they play at once (a price answer took ~1.3 s to synthesize)."""
    lines = [price_sentence([item], asked) for item in company.menu for asked in (False, True)]
    lines += [answer for q in COMMON_HOURS_QUESTIONS if (answer := hours_answer(company, now, q)) is not None]
    return list(dict.fromkeys(lines))


def transfer_line(company: Company, by_phone: bool = False) -> str:
    """What the bot says when the caller asks for a person: on the phone it puts them through;
    in a browser it gives the number to call."""
    if by_phone:
        return "Of course. I'll put you through to someone at the restaurant now."
    return f"Of course. You can reach our staff directly at {company.phone}."


KEYPAD_PREFIX = "Keypad: "  # how a phone caller's keys reach the conversation (Pipecat's DTMFAggregator)


def keypad_words(text: str, expecting: Slot | None) -> str:
    """A phone caller's keys as the words they stand for: 1 is yes and 2 is no after a read-back;
    otherwise the digits themselves (a phone number typed in)."""
    if not text.startswith(KEYPAD_PREFIX):
        return text
    keys = text[len(KEYPAD_PREFIX):].strip().rstrip("#")
    if expecting is Slot.CONFIRM and keys in ("1", "2"):
        return "Yes." if keys == "1" else "No."
    return " ".join(ch for ch in keys if ch.isdigit())
