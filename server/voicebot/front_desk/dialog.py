"""The front desk's side of a call: what the caller has asked for, kept in code, turn by turn.

A booking's details come over several turns ("a table for four" … "Saturday at 7" …
"John Smith" … "five oh three…"), callers correct themselves ("make that 8 pm"), ask the
price in the middle of an order and change their mind after it is placed. The desk keeps
each request's details (``requests.py``), updates them from each turn's words
(``understanding.py``), asks for what is missing one question at a time, reads the
phone number back digit by digit with the whole request, and stores it once, when the
caller says yes. A stored booking or order that the caller changes is changed in place.

Questions that are not the desk's business (hours, parking, the menu) go to the LLM; the
desk then repeats the question it was waiting on. Prices, dishes that are not on the menu
and allergens are answered here, from the data, because a restaurant cannot afford a
wrong answer to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from loguru import logger

from voicebot.business.bookings import BookingBook
from voicebot.business.database import Company
from voicebot.business.desk import DeskResult, spoken_when
from voicebot.business.knowledge import KnowledgeBase
from voicebot.business.messages import MessagePad
from voicebot.business.orders import OrderDesk, listed, total_cents
from voicebot.business.phone import missing_digits_question, normalized_phone, valid_phone
from voicebot.business.prompt import goodbye
from voicebot.business.vocabulary import WEEKDAY_NAMES
from voicebot.business.when import clock_words
from voicebot.front_desk import steps
from voicebot.front_desk.answers import DataAnswers
from voicebot.front_desk.claims import Breach, Verdict
from voicebot.front_desk.filling import CORRECTED_NUMBER, fill_booking, fill_order
from voicebot.front_desk.requests import (
    REQUEST_TYPES,
    BookingRequest,
    Caller,
    CancelRequest,
    MessageRequest,
    OrderRequest,
    Request,
)
from voicebot.front_desk.second_reader import SecondReader, SecondReading, with_second_reading
from voicebot.front_desk.sentences import (
    FIXED_LINES,
    KEYPAD_PREFIX,
    NOT_CAUGHT,
    SAVE_FAILED,
    answer_lines,
    company_lines,
    keypad_words,
    price_sentence,
    transfer_line,
)
from voicebot.front_desk.slots import DETAIL_SLOTS, OPEN_READS, SLOTS
from voicebot.front_desk.understanding import Heard, Intent, Slot, message_text, understand

_FROM_DAY = re.compile(rf"\bfrom ((?:this |next )?(?:{WEEKDAY_NAMES})|tomorrow|today|tonight)\b", re.I)
_LAST_DIGITS = re.compile(r"\b(last|end)( (part|four|three|two|digits?|bit|few))?\b", re.I)
_CHANGE_WORDS = re.compile(r"\b(change|move|push|shift|update|bring (it )?forward|make (it|that)|instead|actually|add|"
                           r"remove|switch|later|earlier|my (booking|reservation|order|pickup))\b", re.I)

# "make it thirty", "make that 3 instead": a new quantity for the order's one dish.
# "cancel my takeout order", "cancel the pickup": the cancellation is of an order, not a booking.
_OF_ORDER = re.compile(r"\b(order\w*|take ?-?out|take ?-?away|pick ?-?up|food|collection)\b", re.I)


# How long the desk waits for more words after a turn that stopped mid-way (part of a phone
# number, "Actually…") before it asks; a caller who goes on is not interrupted.
WAIT_FOR_MORE_S = 2.0


@dataclass(frozen=True)
class DeskReply:
    """What the desk says to a turn.

    ``after_answer``: the LLM answers the turn first, this follows. ``wait_s``: said only if
    the caller has not gone on speaking within that many seconds.
    """

    text: str
    end_call: bool = False
    transfer: bool = False
    after_answer: bool = False
    wait_s: float = 0.0


class FrontDeskDialog:
    """One call's requests to the front desk and the conversation that fills them."""

    def __init__(self, company: Company, bookings: BookingBook, orders: OrderDesk, messages: MessagePad,
                 knowledge: KnowledgeBase | None = None, by_phone: bool = False,
                 second_reader: SecondReader | None = None):
        self.company = company
        self.by_phone = by_phone
        self.bookings = bookings
        self.orders = orders
        self.messages = messages
        self.knowledge = knowledge
        self.menu = orders.menu
        self.answers = DataAnswers(company, self.menu, knowledge, bookings.clock)
        self.second_reader = second_reader  # the LLM under a schema, for turns the rules cannot place
        self.second_reader_turns = 0
        self.caller = Caller()
        self.request: Request | None = None
        self.stored: dict[Intent, Request] = {}
        self.expecting: Slot | None = None
        self.question: str | None = None  # the desk's last question, asked again after an aside
        self.transfer_requested = False
        self.unheard: str | None = None  # the desk's last reply, if the caller talked over all of it
        self.lookups = 0
        self._wait_s = 0.0
        self._number_question: str | None = None  # this turn's "I only got 7 digits…"
        self._last_dishes: list = []  # the menu items last spoken of ("how much is the bowl?" … "I'll take one")
        self._prev_dishes: list = []

    # --- a turn ---------------------------------------------------------------------------

    def completes_the_answer(self, text: str) -> bool:
        """Whether ``text`` fully answers the question the desk just asked: a yes or no to a read-back,
        a whole phone number, a name, a party size, a day and time, dishes that are all on the menu.
        Such a turn can end at once instead of waiting out Smart Turn's doubt (a number or a bare
        "Yes." often sounds unfinished to it: 3 s of silence). Reads only: nothing of the call changes."""
        slot = self.expecting
        spec = SLOTS.get(slot) if slot is not None and slot is not Slot.MESSAGE else None
        if spec is None:
            return False
        heard = understand(keypad_words(text, slot), self.menu, slot)
        if heard.correction or heard.question or heard.intents - heard.implied:
            return False
        return spec.filled(heard)

    def respond(self, text: str) -> DeskReply | None:
        """The desk's reply to the caller's words, or None when the LLM should answer them."""
        text = keypad_words(text, self.expecting)
        heard = understand(text, self.menu, self.expecting)
        expecting = self.expecting
        unheard, self.unheard = self.unheard, None
        logger.debug(f"Front desk heard {heard} (expecting {expecting})")
        self._prev_dishes = self._last_dishes
        if any(m.item for m in heard.dishes):
            self._last_dishes = list(dict.fromkeys(m.item for m in heard.dishes if m.item is not None))
        if unheard and not (heard.details or heard.intents or heard.question or heard.no or heard.correction):
            # "Yes." … "that's right": the caller's second breath talked over the desk's answer.
            return DeskReply(unheard)
        if heard.correction and not (heard.details or heard.intents or heard.question) and (
                self.request is not None or self.stored) and not CORRECTED_NUMBER.search(clock_words(text)):
            # "Actually…": the caller has more to say.
            return DeskReply("Sure, what would you like to change?", wait_s=WAIT_FOR_MORE_S)
        if self._ends_call(heard, expecting):
            self.expecting = None
            return DeskReply(goodbye(self.company), end_call=True)
        if Intent.TRANSFER in heard.intents:
            return self._transfer()
        if heard.never_mind and not heard.details and self.request is not None and not self.request.stored:
            logger.info(f"Front desk: the caller dropped their {self.request.kind} request")
            self.request = None
            return self.ask(Slot.ANYTHING_ELSE, "All right, I've dropped that. Anything else?")

        kind = self._kind_asked_for(heard, expecting)
        if kind is not None:
            self._switch_to(kind, heard)
        elif self.request is None:
            target = self._stored_request_to_change(heard)
            if target is None:
                answer = self.answers.answer(heard, self.stored.get(Intent.ORDER), self._prev_dishes)
                if answer:
                    return DeskReply(answer)
                second = self._second_reading(heard, expecting) if heard.details and not heard.question else None
                kind = second.request_kind() if second is not None else None
                if second is None or kind is None:
                    return None
                self._switch_to(kind, heard)
                heard = with_second_reading(heard, second, self.menu)
            else:
                self.request = target

        request = self.request
        assert request is not None
        if (heard.question and kind is None and not heard.correction and expecting in DETAIL_SLOTS
                and not SLOTS[expecting].filled(heard) and not heard.asks_price
                and not (isinstance(request, OrderRequest) and heard.dishes)):
            # "What time do you close on Fridays?" while the desk waits for the name: an aside, answered;
            # its day and time are not the booking's.
            return self._aside(heard, expecting)
        self.expecting = None
        notes: list[str] = []
        applied = self._apply(request, heard, expecting, notes)
        if not applied and not notes and kind is None:
            if expecting is Slot.CONFIRM and heard.yes:
                return self.carry_out(request)
            if expecting is Slot.CONFIRM and heard.no:
                if heard.wrong is not None:
                    self._forget(request, heard.wrong)
                    return self.next_step(request, [])
                request.confirmed = False
                return self.ask(Slot.ANYTHING_ELSE if request.stored else None,
                                 "Sorry about that. What should I change?")
            if expecting in DETAIL_SLOTS and not heard.question and not (heard.yes or heard.no):
                # An answer the rules could not read: the second reader, else the desk asks again itself
                # (never the LLM, which "booked a table for 8" when "four people" came out "for people").
                second = self._second_reading(heard, expecting)
                if second is not None and self._apply(request, with_second_reading(heard, second, self.menu),
                                                      expecting, notes):
                    return self.next_step(request, notes, heard)
                self.expecting = expecting
                return DeskReply(f"{NOT_CAUGHT} {self.question or ''}".strip())
            if heard.question or not (heard.yes or heard.no):
                return self._aside(heard, expecting)
        return self.next_step(request, notes, heard)

    def _aside(self, heard: Heard, expecting: Slot | None) -> DeskReply | None:
        """An aside ("do you have parking?"): answered (by the data, else the LLM), then the desk asks
        again what it waits for."""
        self.expecting = expecting
        answer = self.answers.answer(heard, self.stored.get(Intent.ORDER), self._prev_dishes)
        again = self.question or ""
        if answer:
            return DeskReply(f"{answer} {again}".strip())
        return DeskReply(again, after_answer=True) if again else None

    def _second_reading(self, heard: Heard, expecting: Slot | None) -> SecondReading | None:
        if self.second_reader is None:
            return None
        spec = SLOTS.get(expecting) if expecting is not None else None
        if spec is not None and not spec.reads:
            return None  # a phone number: the rules' job alone
        reading = self.second_reader.read(heard.text, self.menu, self.question if expecting else None,
                                          spec.reads if spec is not None else OPEN_READS)
        if reading is None or reading.empty:
            return None
        self.second_reader_turns += 1
        return reading

    def instead_of(self, verdict: Verdict) -> str:
        """The desk's own sentence for an LLM reply that may not be spoken (``claims.py``): the
        desk's question when a request is open; else it offers the work the reply claimed."""
        pending = self.question if self.request is not None and self.question else ""
        if verdict.breach is Breach.DENIED_DISH:
            item = next((i for i in self.menu.items if i.name == verdict.said), None)
            said = price_sentence([item], asked_for_dish=True) if item is not None else ""
        elif verdict.breach is Breach.PRICE:
            dishes = self._last_dishes
            said = (price_sentence(dishes, asked_for_dish=False) if dishes
                    else f"I don't want to give you a wrong price. Our menu has {self.menu.names()}.")
        elif verdict.breach is Breach.OFF_PHONE:
            said = "I'm not sure about that. I can take a message for the staff to call you back."
        elif pending:
            said = ""
        else:
            said = self._offer_for(verdict.said)
        return " ".join(part for part in (said, pending) if part) or "Sorry, could you say that again?"

    def _offer_for(self, claim: str) -> str:
        """The caller wanted work the desk did not see: it starts that request and asks its first question."""
        kind = (Intent.CANCEL if re.search(r"cancel", claim, re.I) else
                Intent.ORDER if re.search(r"order|pick|place", claim, re.I) else
                Intent.MESSAGE if re.search(r"pass|let|tell|note|message|take down", claim, re.I) else
                Intent.BOOK if re.search(r"book|reserv|table|see you|set|confirm|schedul|arrang", claim, re.I)
                else None)
        if kind is None:
            return "I can book a table, take a takeout order or a message. What would you like?"
        self.request = REQUEST_TYPES[kind]()
        return self.next_step(self.request, []).text

    def amounts_cents(self) -> frozenset[int]:
        """Totals the LLM may rightly say besides the menu's prices: the call's orders'."""
        orders = [r for r in (self.request, self.stored.get(Intent.ORDER)) if isinstance(r, OrderRequest)]
        return frozenset(total_cents(r.menu_lines()) for r in orders if r.lines)

    def takes(self, text: str) -> bool:
        """Whether the desk would answer these words itself (nothing is changed by asking).

        Used before a turn is over, to leave the desk's turns out of the LLM's held replies.
        """
        if self.request is not None or self.unheard:
            return True
        heard = understand(text, self.menu, self.expecting)
        if heard.intents or heard.details or heard.correction or heard.never_mind:
            return True
        if self.expecting is Slot.ANYTHING_ELSE and (heard.yes or heard.no):
            return True
        return self.answers.answer(heard, self.stored.get(Intent.ORDER), self._prev_dishes) is not None

    # --- which request --------------------------------------------------------------------

    def _ends_call(self, heard: Heard, expecting: Slot | None) -> bool:
        requests = heard.intents - {Intent.GOODBYE}
        if Intent.GOODBYE in heard.intents and not requests and not heard.details and not heard.question:
            return True
        if (heard.no and re.search(r"\bthanks?\b|\bthank you\b", heard.text, re.I) and not requests
                and not heard.details and not heard.question and len(heard.text.split()) <= 5):
            return True  # "No thanks." after an answer: the caller is done
        return (expecting is Slot.ANYTHING_ELSE and heard.no and not requests and not heard.details
                and not heard.question)

    def _transfer(self) -> DeskReply:
        self.transfer_requested = True
        # On the phone the caller is put through once this is said, which ends our part of the call.
        return DeskReply(transfer_line(self.company, self.by_phone), end_call=self.by_phone, transfer=True)

    def _kind_asked_for(self, heard: Heard, expecting: Slot | None) -> Intent | None:
        if expecting is Slot.MESSAGE and isinstance(self.request, MessageRequest):
            return Intent.MESSAGE
        # Intents read from details alone ("four of us Saturday" is a booking) start a request only when none
        # is open: "a reunion for thirty people in February" is the message being given, not a booking.
        intents = heard.intents - heard.implied if self.request is not None else heard.intents
        if Intent.CANCEL in intents:
            return Intent.CANCEL
        if Intent.LOOKUP in intents:
            return Intent.LOOKUP
        for intent in (Intent.MESSAGE, Intent.ORDER, Intent.BOOK):
            if intent in intents:
                return intent
        return None

    def _switch_to(self, kind: Intent, heard: Heard) -> None:
        request_kind = Intent.CANCEL if kind is Intent.LOOKUP else kind
        current = self.request
        if current is not None and current.kind is request_kind and not current.stored:
            if isinstance(current, CancelRequest) and kind is Intent.CANCEL:
                current.only_look_up = False
            return
        stored = self.stored.get(request_kind)
        if stored is not None and request_kind in (Intent.BOOK, Intent.ORDER) and _CHANGE_WORDS.search(heard.text):
            self.request = stored
            return
        if current is not None and not current.stored:
            logger.info(f"Front desk: {current.kind} request left unfinished for a {kind} request")
        self.request = REQUEST_TYPES[request_kind]()
        if isinstance(self.request, CancelRequest):
            self.request.only_look_up = kind is Intent.LOOKUP
            if kind is Intent.LOOKUP and _CHANGE_WORDS.search(heard.text) and (heard.details or heard.dishes):
                self.request.change = heard  # "move my reservation to Sunday": found first, then changed
                was = _FROM_DAY.search(heard.text)  # "from tomorrow to Sunday": the booking is tomorrow's
                self.request.day = was.group(1) if was else None
            self.request.of_order = _OF_ORDER.search(heard.text) is not None or (kind is Intent.CANCEL and any(
                m.item is not None for m in heard.dishes))  # "cancel the latte I ordered", "did my order go through?"
            self.lookups = 0

    def _stored_request_to_change(self, heard: Heard) -> Request | None:
        """A stored booking or order the caller is changing ("make that 8 pm", "add a miso soup")."""
        booking = self.stored.get(Intent.BOOK)
        order = self.stored.get(Intent.ORDER)
        if order is not None and heard.dishes and not heard.question:
            return order
        if order is not None and (heard.pickup or heard.time) and _CHANGE_WORDS.search(heard.text) and (
                booking is None or re.search(r"\b(pick ?-?up|order|collect)", heard.text, re.I)):
            return order  # "change pickup to two o'clock"
        if booking is not None and (heard.party or heard.day or heard.time) and (
                heard.correction or _CHANGE_WORDS.search(heard.text)):
            return booking
        return None

    # --- reading the turn into the request ------------------------------------------------

    def apply_change(self, request: Request, heard: Heard, notes: list[str]) -> bool:
        """A change the caller asked for before the row was found ("move my reservation to Sunday")."""
        return self._apply(request, replace(heard, name=None, phone=None), None, notes)

    def _apply(self, request: Request, heard: Heard, expecting: Slot | None, notes: list[str]) -> bool:
        """Update ``request`` and the caller from the turn; ``notes`` gets what must be said about it."""
        last_dishes = self._prev_dishes
        applied = self._apply_contact(heard, expecting, notes)
        if isinstance(request, BookingRequest):
            applied |= fill_booking(request, heard, expecting)
        elif isinstance(request, OrderRequest):
            applied |= fill_order(self.menu, request, heard, notes, last_dishes, expecting)
        elif isinstance(request, MessageRequest):
            said = heard.message
            if (said is None and not request.text and not heard.name and not heard.phone
                    and len(heard.text.split()) >= 5):
                said = message_text(heard.text)  # the message given before the desk asked for it
            if said and said != request.text:
                request.text, applied = said, True
        elif isinstance(request, CancelRequest) and request.change is None:
            if heard.day and heard.day != request.day:
                request.day, request.chosen, applied = heard.day, None, True
        if applied:
            request.confirmed = False
        return applied

    def _apply_contact(self, heard: Heard, expecting: Slot | None, notes: list[str]) -> bool:
        applied = False
        caller = self.caller
        if heard.name and heard.name != caller.name:
            caller.name, applied = heard.name, True
        digits = heard.phone
        if not digits and heard.loose_digits and not caller.phone and self.request is not None:
            digits = heard.loose_digits  # "… for Ann Lee, 503": the number's first digits, the rest may follow
        tail = digits or heard.loose_digits
        if tail and caller.phone and len(tail) < 10 and _LAST_DIGITS.search(heard.text):
            digits = caller.phone[:-len(tail)] + tail  # "no, the last part is oh one nine one"
        if digits:
            if expecting is Slot.PHONE and caller.partial_digits and normalized_phone(digits) is None:
                digits = caller.partial_digits + digits  # the number given in two breaths
            number = normalized_phone(digits)
            if number is None or not valid_phone(number):
                caller.partial_digits = digits if len(digits) < 10 else ""
                self._number_question = missing_digits_question(digits)
                notes.append(self._number_question)
                self.expecting = Slot.PHONE
                self._wait_s = WAIT_FOR_MORE_S if len(digits) < 10 else 0.0  # the rest may follow
                return True
            caller.partial_digits = ""
            if number != caller.phone:
                caller.phone, caller.phone_confirmed, applied = number, False, True
        return applied

    def _forget(self, request: Request, slot: Slot) -> None:
        if slot is Slot.PHONE:
            self.caller.phone, self.caller.phone_confirmed = None, False
        elif slot is Slot.NAME:
            self.caller.name = None
        elif isinstance(request, BookingRequest) and slot in (Slot.DAY, Slot.TIME):
            request.day = None if slot is Slot.DAY else request.day
            request.time = None if slot is Slot.TIME else request.time
            request.when, request.available = None, False

    # --- what to say next -----------------------------------------------------------------

    def next_step(self, request: Request, notes: list[str], heard: Heard | None = None) -> DeskReply:
        if self.expecting is Slot.PHONE and steps.breaks_a_house_rule(self, request):
            # A booking that cannot be made as asked (closed that day, party over the limit): the
            # caller hears that first; a number is no use until it can, and is asked for then.
            self.expecting, self._wait_s, self.caller.partial_digits = None, 0.0, ""
            notes = [note for note in notes if note != self._number_question]
        if self.expecting is Slot.PHONE:  # the number was not whole: ask for it again, first
            wait, self._wait_s = self._wait_s, 0.0
            reply = self.say(notes, self.ask(Slot.PHONE, ""))
            return DeskReply(reply.text, wait_s=wait)
        if isinstance(request, BookingRequest):
            return steps.booking_step(self, request, notes)
        if isinstance(request, OrderRequest):
            return steps.order_step(self, request, notes, heard)
        if isinstance(request, MessageRequest):
            return steps.message_step(self, request, notes)
        assert isinstance(request, CancelRequest)
        return steps.cancel_step(self, request, notes)

    # --- doing it -------------------------------------------------------------------------

    def carry_out(self, request: Request, notes: list[str] | None = None) -> DeskReply:
        """Store the confirmed request (or its change) once; say what the stored row says."""
        caller = self.caller
        stored_id, name, phone = request.stored_id, caller.name, caller.phone
        if isinstance(request, BookingRequest):
            party, day, time_of_day = request.party, request.day, request.time
            if party is None or day is None or time_of_day is None:
                return self.next_step(request, notes or [])  # never reached (_booking_step asks first): ask
            if stored_id is not None:
                result = self.guarded(lambda: self.bookings.change(stored_id, party, day, time_of_day))
            else:
                if name is None or phone is None:
                    return self.next_step(request, notes or [])  # never reached: ask for them
                result = self.guarded(lambda: self.bookings.book(name, phone, party, day, time_of_day))
            key = "booking_id"
        elif isinstance(request, OrderRequest):
            pickup_at = request.pickup_at
            if pickup_at is None:
                return self.next_step(request, notes or [])  # never reached (_order_step sets it first): ask
            if stored_id is not None:
                result = self.guarded(lambda: self.orders.change(stored_id, request.menu_lines(), pickup_at))
            else:
                if name is None or phone is None:
                    return self.next_step(request, notes or [])  # never reached: ask for them
                result = self.guarded(lambda: self.orders.place_lines(request.menu_lines(), name, phone, pickup_at))
            key = "order_id"
        elif isinstance(request, MessageRequest):
            contact = steps.contact_question(self, "message")
            text = request.text
            if contact is not None or not text:
                return self.next_step(request, notes or [])  # the offer of a message was taken: its details
            if name is None or phone is None:
                return self.next_step(request, notes or [])  # never reached (_contact_question found both)
            result = self.guarded(lambda: self.messages.take(name, phone, text))
            key = "message_id"
        else:
            assert isinstance(request, CancelRequest)
            if request.of_order:
                result = self.guarded(lambda: self.orders.cancel(request.chosen))
                key = "order_id"
                if result is not None and result.ok:
                    self.stored.pop(Intent.ORDER, None)
            else:
                result = self.guarded(lambda: self.bookings.cancel_by_id(request.chosen.id))
                key = "booking_id"
        if result is None:
            return self.failed(notes or [], request)
        if not result.ok:
            if isinstance(request, BookingRequest):
                request.available, request.when = False, None
                if not request.stored:
                    request.time = None
                    return self.say(notes or [], self.ask(Slot.TIME, result.summary))
            return self.say(notes or [], self.ask(Slot.ANYTHING_ELSE, result.summary))
        request.stored_id = result.data.get(key, request.stored_id)
        request.confirmed = True
        caller.phone_confirmed = True
        if not isinstance(request, CancelRequest):
            self.stored[request.kind] = request
        self.request = None
        return self.say(notes or [], self.ask(Slot.ANYTHING_ELSE, result.summary))

    def guarded(self, operation):
        """Run a database operation; None if it failed (logged; the caller hears an apology)."""
        try:
            return operation()
        except Exception:
            logger.exception("Front desk: the database operation failed")
            return None

    def failed(self, notes: list[str], request: Request | None = None) -> DeskReply:
        """The database failed: say so (nothing was stored) and offer a message saying what was asked."""
        if not isinstance(self.request, MessageRequest):
            self.request = MessageRequest(text=self._as_message(request))
        return self.say(notes, self.ask(Slot.CONFIRM if self.request.text else None, SAVE_FAILED))

    def _as_message(self, request: Request | None) -> str | None:
        """A failed request as a message for the staff to act on ("Please book a table for 4 …")."""
        clock = self.bookings.clock()
        if isinstance(request, BookingRequest) and request.when is not None:
            return f"Please book a table for {request.party} {spoken_when(request.when, clock)}."
        if isinstance(request, OrderRequest) and request.lines:
            ready = f", ready {spoken_when(request.pickup_at, clock)}" if request.pickup_at else ""
            return f"Please make an order for pickup: {listed(request.menu_lines())}{ready}."
        if isinstance(request, CancelRequest) and request.chosen is not None:
            if request.of_order:
                return f"Please cancel the takeout order of {self.orders.describe(request.chosen)}."
            return f"Please cancel {self.bookings.describe(request.chosen)}."
        return None

    # --- small helpers --------------------------------------------------------------------

    def ask_for(self, slot: Slot) -> DeskReply:
        """Ask for ``slot`` in its declared words (``slots.py``)."""
        return self.ask(slot, SLOTS[slot].question)

    def ask(self, slot: Slot | None, text: str) -> DeskReply:
        self.expecting = slot
        if slot is not None and slot is not Slot.ANYTHING_ELSE and text:
            self.question = text.split(". ")[-1] if ". " in text else text
        elif slot is None or slot is Slot.ANYTHING_ELSE:
            self.question = None
        return DeskReply(text)

    @staticmethod
    def say(notes: list[str], reply: DeskReply) -> DeskReply:
        text = " ".join(part for part in [*notes, reply.text] if part)
        return DeskReply(text, reply.end_call, reply.transfer, reply.after_answer)


__all__ = ["FIXED_LINES", "KEYPAD_PREFIX", "SAVE_FAILED", "DeskReply", "DeskResult", "FrontDeskDialog",
           "answer_lines", "company_lines", "keypad_words"]
