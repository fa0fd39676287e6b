"""Each kind of request's steps at the front desk: what to ask next, read back and confirm.

A booking asks for the party, the day and time, then checks the house rules and a free table;
an order for its dishes and pickup time; a message for its text; a cancellation finds the
booking (or order) under the caller's number. Each then asks for the caller's name and
number once for the whole call, reads the request back and stores it on "yes"
(:meth:`FrontDeskDialog.carry_out`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from voicebot.business.desk import spoken_when
from voicebot.business.money import format_price
from voicebot.business.orders import PREP_MINUTES, listed, total_cents
from voicebot.business.phone import spoken_phone
from voicebot.business.when import WhenError
from voicebot.front_desk.requests import BookingRequest, CancelRequest, MessageRequest, OrderRequest, Request
from voicebot.front_desk.understanding import Heard, Intent, Slot

if TYPE_CHECKING:
    from voicebot.front_desk.dialog import DeskReply, FrontDeskDialog

_MAX_LOOKUPS = 2


def breaks_a_house_rule(desk: FrontDeskDialog, request: Request) -> bool:
    """True if the booking, as the caller has given it so far, cannot be made (nothing changes)."""
    if not isinstance(request, BookingRequest) or request.stored:
        return False
    policy = desk.company.policy
    if not policy.takes_reservations or (request.party or 0) > policy.max_party_size:
        return True
    if request.day is None or request.time is None:
        return False
    try:
        when = desk.bookings.when(request.day, request.time)
    except WhenError:
        return False
    return desk.bookings.broken_rule(request.party or 1, when) is not None


def booking_step(desk: FrontDeskDialog, request: BookingRequest, notes: list[str]) -> DeskReply:
    if not desk.company.policy.takes_reservations:
        desk.request = None
        return desk.say(notes, desk.ask(
            Slot.ANYTHING_ELSE, f"Sorry, {desk.company.name} doesn't take reservations; just walk in. "
                                "Anything else?"))
    limit = desk.company.policy.max_party_size
    if request.party is None:
        if request.over_limit:
            # Said again: the caller may have talked over the first time.
            return desk.say(notes, desk.ask(
                Slot.PARTY, f"We can book up to {limit} people. For how many people shall I book?"))
        if request.day is None and request.time is None:
            return desk.say(notes, desk.ask(Slot.PARTY, "Sure. For how many people, and what day and time?"))
        return desk.say(notes, desk.ask_for(Slot.PARTY))
    if request.party > limit:
        request.over_limit, request.party = request.party, None
        return desk.say(notes, desk.ask(
            Slot.PARTY, f"Sorry, the largest party we can book is {limit} people. I can take a message for "
                        "the manager if you like, or book for fewer."))
    if request.day is None and request.time is None:
        return desk.say(notes, desk.ask_for(Slot.WHEN))
    if request.day is None:
        return desk.say(notes, desk.ask_for(Slot.DAY))
    if request.time is None:
        day = re.sub(r"^(on|this|for)\s+", "", request.day, flags=re.I)
        return desk.say(notes, desk.ask(Slot.TIME, f"What time would you like on {day}?"))
    if request.when is None:
        try:
            when = desk.bookings.when(request.day, request.time)
        except WhenError:
            request.day = request.time = None
            return desk.say(notes, desk.ask(Slot.WHEN, "Sorry, which day and time was that?"))
        broken = desk.bookings.broken_rule(request.party, when)
        if broken is not None:
            detail, sentence = broken
            if detail == "reservations":
                desk.request = None
                return desk.say(notes + [sentence], desk.ask(Slot.ANYTHING_ELSE, "Anything else?"))
            if detail in ("day", "window", "past"):
                request.day = None
            if detail in ("time", "past"):
                request.time = None
            # Only what broke the rule is asked again: "February 14th at seven" beyond the window keeps its seven.
            slot = Slot.TIME if request.day is not None else Slot.DAY if request.time is not None else Slot.WHEN
            if sentence.endswith("?"):
                return desk.say(notes, desk.ask(slot, sentence))
            question = {Slot.TIME: "What other time would suit you?", Slot.DAY: "Which other day would suit you?",
                        Slot.WHEN: "What day and time would suit you?"}[slot]
            return desk.say(notes + [sentence], desk.ask(slot, question))
        request.when = when
    if not request.available:
        free = desk.guarded(lambda: desk.bookings.check_at(request.when, request.party))
        if free is None:
            return desk.failed(notes)
        if not free.ok:
            request.time, request.when = None, None
            return desk.say(notes, desk.ask(Slot.TIME, free.summary + " Which time would you like?"))
        request.available = True
    if request.stored:
        return desk.carry_out(request, notes)
    contact = contact_question(desk, "booking")
    if contact:
        return desk.say(notes, contact)
    summary = (f"a table for {request.party} {spoken_when(request.when, desk.bookings.clock())}, "
               f"under {desk.caller.name}")
    return desk.say(notes, confirm(desk, summary, "Shall I book it?"))


def order_step(desk: FrontDeskDialog, request: OrderRequest, notes: list[str], heard: Heard | None) -> DeskReply:
    if not desk.company.takes_orders:
        desk.request = None
        return desk.say(notes, desk.ask(
            Slot.ANYTHING_ELSE, f"Sorry, {desk.company.name} doesn't take takeout orders by phone. "
                                "Anything else?"))
    if not request.lines:
        return desk.say(notes, desk.ask_for(Slot.ITEMS))
    lines = request.menu_lines()
    if heard is not None and heard.asks_price:
        notes.append(f"That's {format_price(total_cents(lines))} for {listed(lines)}.")
    if request.pickup_at is None and request.offered_pickup is not None and heard is not None and not request.pickup:
        offered, request.offered_pickup = request.offered_pickup, None
        if heard.yes:
            request.pickup_at = offered  # "Shall I do that?" "Yes."
        elif heard.no:
            return desk.say(notes, desk.ask(Slot.PICKUP, "What time would suit you?"))
    if request.pickup_at is None:
        now = desk.orders.clock()
        try:
            pickup_at = desk.orders.pickup_time(request.pickup)
        except WhenError:
            request.pickup = None
            return desk.say(notes, desk.ask_for(Slot.PICKUP))
        problem = desk.orders.pickup_problem(pickup_at)
        if problem:
            opening = desk.orders.next_opening(pickup_at)
            request.pickup = None
            if opening is None:
                return desk.say(notes + [problem], desk.ask_for(Slot.PICKUP))
            # The next opening is offered, never chosen for the caller: they say yes, or another time.
            request.offered_pickup = opening
            return desk.say(notes + [problem], desk.ask(
                Slot.PICKUP, "Would that pickup time work for you, or would another suit you better?"))
        elif request.pickup is None and pickup_at > now + timedelta(minutes=PREP_MINUTES + 1):
            notes.append(f"We're closed right now, so I'd have it ready {spoken_when(pickup_at, now)}, "
                         "when we open.")
        request.pickup_at = pickup_at
    elif heard is not None and heard.asks_ready:
        notes.append(f"It'll be ready {spoken_when(request.pickup_at, desk.orders.clock())}.")
    if request.stored:
        return desk.carry_out(request, notes)
    contact = contact_question(desk, "order")
    if contact:
        return desk.say(notes, contact)
    summary = (f"{listed(lines)}, {format_price(total_cents(lines))} in total, ready "
               f"{spoken_when(request.pickup_at, desk.orders.clock())}, under {desk.caller.name}")
    return desk.say(notes, confirm(desk, summary, "Shall I place the order?"))


def message_step(desk: FrontDeskDialog, request: MessageRequest, notes: list[str]) -> DeskReply:
    if not request.text:
        return desk.say(notes, desk.ask_for(Slot.MESSAGE))
    contact = contact_question(desk, "message")
    if contact:
        return desk.say(notes, contact)
    summary = f'your message, "{request.text}", from {desk.caller.name}'
    return desk.say(notes, confirm(desk, summary, "Shall I pass it on?"))


def cancel_order_step(desk: FrontDeskDialog, request: CancelRequest, notes: list[str]) -> DeskReply:
    """"Cancel my takeout order": this call's order, else the open one under the caller's number."""
    placed = desk.stored.get(Intent.ORDER)
    if request.chosen is None and placed is not None and placed.stored_id is not None:
        request.chosen = placed.stored_id
    if request.chosen is None:
        if desk.caller.phone is None:
            return desk.say(notes, desk.ask(Slot.PHONE, "What's the phone number the order is under?"))
        found = desk.guarded(lambda: desk.orders.open_orders(desk.caller.phone))
        if found is None:
            return desk.failed(notes)
        if not found:
            desk.request = None
            number = spoken_phone(desk.caller.phone)
            return desk.say(notes, desk.ask(
                Slot.ANYTHING_ELSE, f"I can't find an open order under {number}. I can take a message for the "
                                    "kitchen if you like."))
        request.chosen = found[0].id
    desk.caller.phone_confirmed = True
    described = desk.orders.describe(request.chosen)
    if request.change is not None:
        found_order = desk.guarded(lambda: desk.orders.stored_order(request.chosen))
        if found_order is None:
            return desk.failed(notes)
        lines, pickup_at, name = found_order
        order = OrderRequest(stored_id=request.chosen, lines=[[item, quantity] for item, quantity in lines],
                             pickup_at=pickup_at)
        desk.caller.name = desk.caller.name or name
        desk.request = order
        desk.apply_change(order, request.change, notes)
        return desk.next_step(order, notes, request.change)
    if request.only_look_up:
        desk.request = None
        return desk.say(notes, desk.ask(Slot.ANYTHING_ELSE, f"I have your order of {described}. Anything else?"))
    return desk.say(notes, desk.ask(Slot.CONFIRM, f"I have your order of {described}. Shall I cancel it?"))


def cancel_step(desk: FrontDeskDialog, request: CancelRequest, notes: list[str]) -> DeskReply:
    if request.of_order:
        return cancel_order_step(desk, request, notes)
    if desk.caller.phone is None:
        return desk.say(notes, desk.ask(Slot.PHONE, "What's the phone number the booking is under?"))
    if request.chosen is None:
        found = desk.guarded(lambda: desk.bookings.upcoming(desk.caller.phone))
        if found is None:
            return desk.failed(notes)
        if request.day:
            try:
                day = desk.bookings.when(request.day, "12:00").date()
                found = [row for row in found if row.starts_at.date() == day]
            except WhenError:
                pass
        if not found:
            desk.lookups += 1
            number = spoken_phone(desk.caller.phone)
            desk.caller.phone, desk.caller.phone_confirmed = None, False
            if desk.lookups >= _MAX_LOOKUPS:
                desk.request = None
                return desk.say(notes, desk.ask(
                    Slot.ANYTHING_ELSE, f"Sorry, I still can't find a booking under {number}. I can take a "
                                        "message for the manager if you like."))
            where = f" on {request.day}" if request.day else ""
            return desk.say(notes, desk.ask(
                Slot.PHONE, f"I can't find an upcoming booking{where} under {number}. Could you say the "
                            "number again, one digit at a time?"))
        if len(found) > 1:
            days = " and ".join(desk.bookings.describe(row) for row in found)
            return desk.say(notes, desk.ask(Slot.DAY, f"I have {days}. Which one do you mean?"))
        request.chosen = found[0]
    described = desk.bookings.describe(request.chosen)
    desk.caller.phone_confirmed = True
    desk.caller.name = desk.caller.name or request.chosen.name  # who they are, for what they ask next
    if request.change is not None:
        # The booking found, the change the caller asked for is made to it (a change, never a second booking).
        row = request.chosen
        booking = BookingRequest(stored_id=row.id, party=row.party_size, day=row.starts_at.date().isoformat(),
                                 time=row.starts_at.strftime("%H:%M"))
        desk.caller.name = desk.caller.name or row.name
        desk.request = booking
        desk.apply_change(booking, request.change, notes)
        return desk.next_step(booking, notes)
    if request.only_look_up:
        desk.request = None
        return desk.say(notes, desk.ask(Slot.ANYTHING_ELSE, f"I have {described}. Anything else?"))
    return desk.say(notes, desk.ask(Slot.CONFIRM, f"I have {described}. Shall I cancel it?"))


def contact_question(desk: FrontDeskDialog, purpose: str) -> DeskReply | None:
    if not desk.caller.name:
        return desk.ask(Slot.NAME, f"Could I have your name for the {purpose}?")
    if not desk.caller.phone:
        return desk.ask(Slot.PHONE, "And what's a good phone number for you, with the area code?")
    return None


def confirm(desk: FrontDeskDialog, summary: str, question: str) -> DeskReply:
    if desk.by_phone:
        question = f"{question} You can also press 1 for yes."
    if desk.caller.phone_confirmed:
        return desk.ask(Slot.CONFIRM, f"So that's {summary}. {question}")
    number = spoken_phone(desk.caller.phone or "")
    return desk.ask(Slot.CONFIRM, f"Let me read that back: {summary}, and your number is {number}. {question}")
