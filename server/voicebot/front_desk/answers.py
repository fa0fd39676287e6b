"""The questions the front desk answers from the data alone, because a restaurant cannot afford a wrong
answer to them: prices (and the total of several dishes), dishes that are not on the menu, allergens
(only what the data vouches for), the day's hours, a stored order's total and pickup time, and the
owner's FAQ answers word for word."""

from __future__ import annotations

import re

from loguru import logger

from voicebot.business.database import Company, MenuItem
from voicebot.business.desk import Clock, spoken_when
from voicebot.business.food import ALLERGENS, carriers_in
from voicebot.business.knowledge import KnowledgeBase
from voicebot.business.menu import Menu
from voicebot.business.money import format_price
from voicebot.business.orders import listed, total_cents
from voicebot.front_desk.hours import hours_answer
from voicebot.front_desk.requests import OrderRequest, Request
from voicebot.front_desk.sentences import price_sentence
from voicebot.front_desk.understanding import Heard

# "Do you have miso soup?", "do you serve sushi?": a question whether a dish is on the menu.
_HAVE_DISH = re.compile(r"\b(have|serve|make|sell|offer|got|get|do|does|is there|are there|any|on the menu|"
                        r"on at the moment)\b", re.I)


class DataAnswers:
    """Answers from one company's data: its menu, hours, knowledge and the call's stored order."""

    def __init__(self, company: Company, menu: Menu, knowledge: KnowledgeBase | None, clock: Clock):
        self.company = company
        self.menu = menu
        self.knowledge = knowledge
        self.clock = clock


    def answer(self, heard: Heard, order: Request | None, previous_dishes: list[MenuItem]) -> str | None:
        """A question the data answers exactly: allergens, prices, dishes not on the menu, a stored order."""
        if heard.allergens:
            return self._allergy(heard)
        hours = hours_answer(self.company, self.clock(), heard.text)
        if hours is not None and not heard.dishes:
            return hours
        if isinstance(order, OrderRequest) and not heard.dishes and (heard.asks_price or heard.asks_ready):
            lines = order.menu_lines()
            parts = []
            if heard.asks_price:
                parts.append(f"Your order comes to {format_price(total_cents(lines))}.")
            if heard.asks_ready and order.pickup_at is not None:  # None: a new pickup time is being asked for
                parts.append(f"It'll be ready {spoken_when(order.pickup_at, self.clock())}.")
            return " ".join(parts)
        if not (heard.question or heard.asks_price and heard.dishes):
            return None  # "green tea ice cream, how much is one of those" is a question without its mark
        unknown = list(dict.fromkeys(m.said.lower() for m in heard.dishes if m.item is None))
        known = list(dict.fromkeys(m.item for m in heard.dishes if m.item is not None))
        if (not heard.dishes and heard.asks_price and previous_dishes
                and re.search(r"\b(it|that|this|them|those|they|each|one)\b", heard.text, re.I)):
            known = list(previous_dishes)  # "Do you have miso soup?" … "and how much is it?"
        asks_for_dish = bool(_HAVE_DISH.search(heard.text))
        if not (unknown or (known and (heard.asks_price or asks_for_dish))):
            return self.faq(heard)
        parts = []
        if unknown:
            parts.append(f"Sorry, we don't have {' or '.join(unknown)}. Our menu has {self.menu.names()}.")
        if known and (heard.asks_price or not unknown):
            parts.append(price_sentence(known, asks_for_dish))
            counted = {m.item: m.quantity for m in heard.dishes if m.item is not None and m.quantity}  # the last said
            lines = [(item, counted.get(item, 1)) for item in known]
            if heard.asks_price and (len(lines) > 1 or any(q > 1 for _, q in lines)):
                parts[-1] = parts[-1].rstrip(".") + f"; {listed(lines)} come to {format_price(total_cents(lines))}."
        return " ".join(parts) or None

    def faq(self, heard: Heard) -> str | None:
        if self.knowledge is None:
            return None
        try:
            return self.knowledge.faq_answer(heard.text)
        except Exception:
            logger.exception("Front desk: FAQ lookup failed")
            return None

    def _allergy(self, heard: Heard) -> str:
        """Only from the data: name the allergen where it is; where the data is silent, promise nothing."""
        dishes = list(dict.fromkeys(m.item for m in heard.dishes if m.item is not None))
        facts = []
        for allergen in heard.allergens:
            for item in dishes:
                in_name = carriers_in(item.name, allergen)
                carriers = [c for c in carriers_in(item.description, allergen) if c not in in_name]
                if carriers:
                    facts.append(f"the {item.name} has {', '.join(carriers)} in it, which is {allergen}")
                elif in_name:
                    facts.append(f"the {item.name} contains {allergen}")
        entries = self._knowledge_about(heard.allergens)
        allergens = " or ".join(heard.allergens)
        if facts:
            answer = "Please be careful: " + "; ".join(facts) + "."
        else:
            subject = " or ".join(f"the {item.name}" for item in dishes) or "anything"
            answer = f"I can't promise {subject} is free of {allergens}: our information doesn't say."
        if entries:
            answer += " " + " ".join(entries)
        return answer + " I can take a message for the kitchen to call you back about it."

    def _knowledge_about(self, allergens: list[str]) -> list[str]:
        if self.knowledge is None:
            return []
        words = " ".join(w for allergen in allergens for w in ALLERGENS.get(allergen, ())[:6])
        try:
            hits = self.knowledge.search(words, limit=5)
        except Exception:
            logger.exception("Front desk: knowledge search failed")
            return []
        texts = [text for _, text in hits if any(carriers_in(text, a) for a in allergens)]
        return [t for t in texts if " costs " not in t][:2]
