"""Reading a caller's turn into a booking or an order: which details change, by how much.

A booking takes the party, day and time the turn gives (a bare number said as a correction is
the time: "no wait, make it eight"). An order takes dishes with their quantities, and the ways
callers change one: "take one of the miso soups off", "two more of those", "swap that for a
tempura", "ok forty then" after a quantity was refused, a time said out of turn as the pickup.
"""

from __future__ import annotations

import re
from dataclasses import replace

from voicebot.business.menu import DishMention, Menu
from voicebot.business.orders import MAX_QUANTITY
from voicebot.business.vocabulary import QUANTITY_WORDS
from voicebot.business.when import clock_words
from voicebot.front_desk.requests import BookingRequest, OrderRequest
from voicebot.front_desk.understanding import SWAP, Heard, Intent, Slot

# A bare number said as a correction ("no wait, make it eight not seven"): a time (a party comes with its people).
CORRECTED_NUMBER = re.compile(r"\b(?:make (?:it|that)|change (?:it|that) to|let'?s do|actually|instead|no)\W+"
                              r"(\d{1,2}(?::\d{2})?)\b(?!\s*(?:people|of us|guests|persons))", re.I)
_MORE_OF_THOSE = re.compile(r"\b(\d{1,2}) more(?: of (?:those|them|that|these))?\b", re.I)
_BARE_QUANTITY = re.compile(r"^\W*(?:ok(?:ay)?|um|so|then|just)?\W*(\d{1,3})\W*(?:then|please|of them)?\W*$", re.I)
_SET_QUANTITY = re.compile(r"\b(?:make (?:it|that|them)|change (?:it|that) to|let'?s do|actually)\s+(\d{1,3})\b"
                           r"(?!\s*(?::|pm|am|p\.m|a\.m|o'?clock|people|of us))", re.I)


def fill_booking(request: BookingRequest, heard: Heard, expecting: Slot | None) -> bool:
    applied = False
    if heard.correction and not (heard.party or heard.day or heard.time) and request.time:
        bare = CORRECTED_NUMBER.search(clock_words(heard.text))
        if bare is not None:
            # "no wait, make it eight not seven": a bare number corrects the time (a party is said with
            # its people: "make it six people")
            heard = replace(heard, time=f"at {bare.group(1)}")
    if heard.party and heard.party != request.party:
        request.party, applied = heard.party, True
    if heard.day and heard.day != request.day:
        request.day, applied = heard.day, True
    if heard.time and heard.time != request.time:
        request.time, applied = heard.time, True
    if applied:
        request.when, request.available = None, False
    return applied


def fill_order(menu: Menu, request: OrderRequest, heard: Heard, notes: list[str], last_dishes: list,
                 expecting: Slot | None = None) -> bool:
    applied = False
    unknown = []
    named = [m for m in heard.dishes if m.item is not None]
    if named and request.lines and SWAP.search(heard.text) and not any(
            m.item == line[0] for m in named for line in request.lines):
        # "could you swap that for a lasagna?": the dish just ordered becomes this one
        request.remove(request.lines[-1][0])
        applied = True
    more = _MORE_OF_THOSE.search(clock_words(heard.text)) if not heard.dishes else None
    referred = request.lines[-1][0] if request.lines else last_dishes[-1] if last_dishes else None
    if more is not None and referred is not None:
        heard.dishes = [DishMention(referred.name, referred, int(more.group(1)), change="add")]  # "three more"
    if not heard.dishes and not request.lines and len(last_dishes) == 1 and Intent.ORDER in heard.intents:
        # "How much is the Buddha bowl?" … "Great, I'll take one to go."
        request.set_quantity(last_dishes[0], _spoken_quantity(heard.text))
        applied = True
    one_dish = (request.lines[0][0] if len(request.lines) == 1
                else last_dishes[0] if not request.lines and len(last_dishes) == 1 else None)
    words = clock_words(heard.text)
    bare = (_SET_QUANTITY.search(words) or (_BARE_QUANTITY.match(words) if expecting is Slot.ITEMS else None)
            if one_dish is not None and not heard.dishes else None)
    if one_dish is not None and bare is not None and bare.group(1).isdigit():
        # "then make it thirty": the order's one dish (or the one just refused), another quantity
        heard.dishes = [DishMention(one_dish.name, one_dish, int(bare.group(1)))]
    for mention in heard.dishes:
        if mention.item is not None and mention.quantity is not None and mention.quantity > MAX_QUANTITY:
            notes.append(f"Sorry, I can take at most {MAX_QUANTITY} of each dish.")
        elif mention.item is None:
            unknown.append(mention.said)
        elif mention.change == "remove" or mention.quantity == 0:
            line = next((line for line in request.lines if line[0] == mention.item), None)
            if line is not None and mention.quantity and line[1] > mention.quantity:
                line[1] -= mention.quantity  # "drop one of the miso soups"
            else:
                request.remove(mention.item)
            applied = True
        elif mention.change == "add":
            request.add(mention.item, mention.quantity or 1)
            applied = True
        elif mention.quantity or not any(line[0] == mention.item for line in request.lines):
            request.set_quantity(mention.item, mention.quantity or 1)
            applied = True
    if unknown:
        missing = " or ".join(dict.fromkeys(unknown))
        notes.append(f"Sorry, we don't have {missing}. Our menu has {menu.names()}.")
    pickup = heard.pickup
    if pickup is None and heard.time and not heard.party:
        # A time said while the desk asked something else ("make that half past one"): the pickup's.
        pickup = " ".join(p for p in (heard.day, heard.time if heard.time.lower().startswith("at ")
                                      else f"at {heard.time}") if p)
    if pickup and pickup != request.pickup:
        request.pickup, request.pickup_at, applied = pickup, None, True
    return applied


def _spoken_quantity(text: str) -> int:
    """The first quantity in the words ("I'll take two" → 2), else 1."""
    for word in re.findall(r"[a-z]+|\d+", text.lower()):
        if word.isdigit() and 0 < int(word) <= 50:
            return int(word)
        if word in QUANTITY_WORDS and word not in ("a", "an"):
            return QUANTITY_WORDS[word]
    return 1
