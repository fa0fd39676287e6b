"""The details the front desk waits for, declared once: how each is asked for, when a turn fills it,
and what the second reader reads for it when the rules cannot.

The desk's steps (``steps.py``) ask for a slot; a caller's answer that fills it ends the turn at
once (``FrontDeskDialog.completes_the_answer``); an answer that fills nothing is read again by the
second reader, for these fields only, and otherwise asked again in the desk's own words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voicebot.business.phone import normalized_phone
from voicebot.front_desk.understanding import Heard, Slot


@dataclass(frozen=True)
class SlotSpec:
    """One detail the desk may wait for."""

    question: str  # how the desk asks for it when nothing more specific is to be said
    filled: Callable[[Heard], bool]  # whether a turn's reading answers it
    reads: tuple[str, ...] = ()  # the second reader's fields for it (none: the rules' job alone)


SLOTS: dict[Slot, SlotSpec] = {
    Slot.PARTY: SlotSpec("For how many people?", lambda h: h.party is not None, ("party",)),
    Slot.WHEN: SlotSpec("What day and time would you like?", lambda h: bool(h.day and h.time), ("day", "time")),
    Slot.DAY: SlotSpec("Which day would you like?", lambda h: bool(h.day), ("day",)),
    Slot.TIME: SlotSpec("What time would you like?", lambda h: bool(h.time), ("time",)),
    Slot.NAME: SlotSpec("Could I have your name?", lambda h: bool(h.name), ("name",)),
    # Digits are read by rules alone: a model that "fixes" a number is worse than asking again.
    Slot.PHONE: SlotSpec("And what's a good phone number for you, with the area code?",
                         lambda h: normalized_phone(h.phone or "") is not None),
    Slot.ITEMS: SlotSpec("What would you like to order?",
                         lambda h: bool(h.dishes) and all(m.item is not None for m in h.dishes), ("items",)),
    Slot.PICKUP: SlotSpec("When would you like to pick it up?", lambda h: bool(h.pickup), ("time",)),
    Slot.MESSAGE: SlotSpec("Sure. What's the message?", lambda h: bool(h.message)),
    Slot.CONFIRM: SlotSpec("Shall I go ahead?", lambda h: h.yes or h.no),
}

# The slots a turn's words fill with a detail: an answer that fills none is asked again, not handed to the LLM.
DETAIL_SLOTS = frozenset(SLOTS) - {Slot.CONFIRM, Slot.MESSAGE}
# What the second reader reads when the desk waits for nothing in particular: a request's details.
OPEN_READS = ("kind", "party", "day", "time", "items")
