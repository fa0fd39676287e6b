"""The menu as callers name it: which dishes a sentence asks for, how many, and which it asks
for that the menu does not have.

"Two dragon rolls and a miso soup" → Dragon roll × 2, Miso soup × 1; "two salmon nigiri"
→ "Salmon nigiri, two pieces"; "a pepperoni pizza" → not on the menu (Luigi's has a
Margherita pizza, and the caller asked for another one). A phrase matches a dish by its
name, the name before a comma, a word or words only that dish has ("the carbonara"), or a
close spelling ("margarita pizza"). Words a phrase adds that no dish has ("pepperoni",
"sashimi") make it another dish: the desk then says it is not on the menu instead of
confirming the nearest one.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from text_to_num import alpha2digit

from voicebot.business.database import MenuItem
from voicebot.business.food import FOOD_WORDS
from voicebot.business.vocabulary import QUANTITY_WORDS

Change = Literal["set", "add", "remove"]

# A dish phrase ends at these (or at punctuation).
_BREAKS = frozenset("""and plus also or for to please then but with without thanks thank so because if when
is are was were be will would could can should do does did have has had it that this these those my your our
i i'd i'll i'm we we'd you me us how what which who where much cost costs price total on at in from menu
moment time""".split())
# Words a dish phrase may carry around the dish's name without naming another dish.
_FILLERS = frozenset("""the a an some of order orders piece pieces serving servings plate plates portion portions
large small regular big extra hot cold more another one just only like want get need have take each""".split())
# Heads too generic to name a dish alone when the menu has several with them, e.g. "roll".
_GENERIC = frozenset("roll soup bowl salad pizza pasta tea coffee cream ice cake toast milk green sauce".split())
# Words for a kind of food, not a dish: after a dish's own word they name that dish ("salmon sushi" is the
# salmon nigiri, "the tiramisu dessert" the tiramisu); "pepperoni pizza" is still another dish.
_KIND_WORDS = frozenset("sushi dish meal plate platter food thing special option dessert starter drink".split())
# Words that end a chunk without being part of the dish ("miso soup tonight", "two rolls to go").
_NOT_DISH = frozenset("""takeaway take-away collection grab
today tonight tomorrow now later soon asap monday tuesday wednesday thursday friday saturday
sunday pickup pick up go takeout delivery name number phone people person guest minute hour pm am o'clock oclock
vegetarian vegan gluten free dairy nut safe okay ok good available fresh made today's option allergy allergic
""".split())
_ADD = re.compile(r"\b(add|another|more|also|extra|as well|too)\b", re.IGNORECASE)
# Food the caller avoids rather than asks for ("for someone who doesn't like raw fish", "I'm
# allergic to peanuts"): not a dish they want, so never answered "we don't have it".
_AVERSION = re.compile(r"(\b(doesn'?t|don'?t|do not|does not|can'?t|cannot|won'?t|never)\s+(like|eat|want)\b"
                       r"|\b(allergic|intolerant|avoid\w*|hates?|dislikes?|without|free of)\b)[^,.;!?]*$",
                       re.IGNORECASE)
_REMOVE = re.compile(r"\b(remove|take off|take\b[^.?!]{0,40}\boff|drop|without|skip|cancel|no more|instead of|"
                     r"don'?t want|scratch|hold)\b",
                     re.IGNORECASE)
_WORD = re.compile(r"[a-zà-ÿ]+(?:'[a-z]+)?|\d+", re.IGNORECASE)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def normalize(name: str) -> str:
    """Lower case, singular words, no punctuation: "Dragon Rolls!" → "dragon roll"."""
    return " ".join(_singular(w) for w in re.findall(r"[a-zà-ÿ0-9]+", name.lower()))


@dataclass(frozen=True)
class DishMention:
    """A dish a caller named: the menu item (None: not on the menu), how many, and what to do."""

    said: str
    item: MenuItem | None
    quantity: int | None = None  # None: not said
    change: Change = "set"
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class _Word:
    text: str  # lower case, singular
    start: int
    end: int


class Menu:
    """Finds a company's dishes in a caller's words."""

    def __init__(self, items: tuple[MenuItem, ...] | list[MenuItem]):
        self.items = tuple(items)
        self._aliases: dict[str, MenuItem] = {}
        shorts = {item: normalize(item.name.split(",")[0]) for item in self.items}
        for item in self.items:
            self._aliases.setdefault(normalize(item.name), item)
            self._aliases.setdefault(shorts[item], item)
        # Words and runs of words only one dish has ("dragon", "carbonara", "buddha bowl").
        for item, short in shorts.items():
            words = short.split()
            for size in range(1, len(words)):
                for i in range(len(words) - size + 1):
                    phrase = " ".join(words[i:i + size])
                    if size == 1 and (phrase in _GENERIC or phrase in _FILLERS or len(phrase) < 3):
                        continue
                    owners = [o for o, s in shorts.items() if re.search(rf"\b{re.escape(phrase)}\b", s)]
                    if owners == [item]:
                        self._aliases.setdefault(phrase, item)
        # A generic head is enough when one dish alone has it ("a pizza" at Luigi's).
        for head in _GENERIC:
            owners = [o for o, s in shorts.items() if head in s.split()]
            if len(owners) == 1:
                self._aliases.setdefault(head, owners[0])
        self._menu_words = {w for s in shorts.values() for w in s.split()} | {
            w for item in self.items for w in normalize(item.name).split()}
        # "Desserts", "starters": the menu's own sections, not dishes it lacks.
        self._categories = {normalize(item.category) for item in self.items if item.category}

    def names_word(self, word: str) -> bool:
        """Whether ``word`` is part of a dish's name on this menu ("dragon", "lattes")."""
        return _singular(word.lower()) in self._menu_words

    def names(self) -> str:
        """The dishes' names, for "our menu has …"."""
        return ", ".join(item.name for item in self.items)

    def find(self, words: str) -> MenuItem | None:
        """The one dish a phrase names ("two dragon rolls" → Dragon roll), or None."""
        found = [m for m in self.mentions(words) if m.item is not None]
        return found[0].item if len(found) == 1 else None

    def mentions(self, text: str) -> list[DishMention]:
        """Every dish named in ``text``, menu or not, with its quantity and change."""
        words = [_Word(_singular(m.group(0).lower()), m.start(), m.end()) for m in _WORD.finditer(text)]
        found: list[DishMention] = []
        for chunk in self._chunks(text, words):
            mention = self._in_chunk(text, chunk)
            if mention is not None:
                found.append(mention)
        return _counts_said_apart(text, found)

    def _chunks(self, text: str, words: list[_Word]) -> list[list[_Word]]:
        """Runs of words between punctuation and the words that end a dish phrase."""
        chunks: list[list[_Word]] = []
        current: list[_Word] = []
        for i, word in enumerate(words):
            gap = text[words[i - 1].end:word.start] if i else ""
            if re.search(r"[,.;:!?]", gap) or word.text in _BREAKS:
                if current:
                    chunks.append(current)
                current = []
                if word.text in _BREAKS:
                    continue
            current.append(word)
        if current:
            chunks.append(current)
        return chunks

    def _in_chunk(self, text: str, chunk: list[_Word]) -> DishMention | None:
        quantity, quantity_at = None, -1
        for i, word in enumerate(chunk):
            value = _quantity(word.text)
            if value is not None:
                quantity, quantity_at = value, i
                break
        while quantity is not None and quantity_at + 1 < len(chunk):
            # Quantities of several words: "a couple", "a dozen", "half a dozen", "fifty five", "two dozen".
            following = chunk[quantity_at + 1].text
            more = _quantity(following)
            if following == "of" and quantity_at + 2 < len(chunk) and chunk[quantity_at + 2].text == "a":
                quantity_at += 1
                continue
            if more is None or following in ("a", "an"):
                break
            if following == "dozen":
                quantity = 6 if chunk[quantity_at].text == "a" and quantity_at and chunk[quantity_at - 1].text == \
                    "half" else 12 * (quantity or 1)
            elif chunk[quantity_at].text in ("a", "an", "of"):
                quantity = more
            elif quantity >= 20 and quantity % 10 == 0 and more < 10:
                quantity += more
            else:
                break
            quantity_at += 1
        for later in range(len(chunk) - 2, quantity_at, -1):
            # "a takeaway of two avocado toasts": the count right before the dish is the one
            value = _quantity(chunk[later].text)
            if (value is not None and chunk[later].text not in ("a", "an") and quantity_at >= 0
                    and self._dishy(chunk[later + 1].text)):
                quantity, quantity_at = value, later
                break
        content = chunk[quantity_at + 1:] if quantity_at >= 0 else chunk
        content = [w for w in content if w.text not in _FILLERS or w.text in self._menu_words]
        if quantity_at < 0:
            # No quantity: the dish starts at the first dish-like word ("actually make that the carbonara").
            while content and not self._dishy(content[0].text):
                content = content[1:]
        while content and content[-1].text in _NOT_DISH:
            content = content[:-1]
        if not any(self._dishy(w.text) for w in content):
            return None
        if not content:
            return None
        phrase = " ".join(w.text for w in content)
        said = text[content[0].start:content[-1].end]
        start = chunk[quantity_at].start if quantity_at >= 0 else content[0].start
        context = text[max(0, start - 40):content[-1].end]
        change: Change = "remove" if _REMOVE.search(context) else "add" if _ADD.search(context) else "set"
        item = self._match(phrase)
        if item is not None:
            return DishMention(said, item, quantity, change, start, content[-1].end)
        if phrase in self._categories or _AVERSION.search(text[max(0, start - 40):start]):
            return None
        if all(w.text in self._menu_words for w in content):
            return None  # "just the roll": words of several dishes on the menu, none named; never denied
        asked_if_we_have = _DO_YOU_HAVE.search(text[max(0, start - 40):start])
        if _is_food(content[-1].text) or asked_if_we_have and any(_is_food(w.text) for w in content):
            # Denied only when the phrase's head is food ("pepperoni pizza", not "a little food blog"), or
            # the caller asks whether we have it and it names food ("do you have chicken parm?").
            return DishMention(said, None, quantity, change, start, content[-1].end)
        return None

    def _dishy(self, word: str) -> bool:
        return word in self._menu_words or _is_food(word) or any(
            difflib.SequenceMatcher(None, word, m).ratio() >= 0.8 for m in self._menu_words if len(m) > 3)

    def _match(self, phrase: str) -> MenuItem | None:
        if phrase in self._aliases:
            return self._aliases[phrase]
        # A close spelling of a whole name ("margarita pizza", "california role").
        close = difflib.get_close_matches(phrase, list(self._aliases), n=2, cutoff=0.8)
        if close and (len(close) == 1 or self._aliases[close[0]] == self._aliases[close[1]]):
            return self._aliases[close[0]]
        # The longest alias inside the phrase, if the rest names no other dish ("pepperoni pizza").
        for alias in sorted(self._aliases, key=len, reverse=True):
            if re.search(rf"\b{re.escape(alias)}\b", phrase):
                before, _, after = re.sub(rf"\b{re.escape(alias)}\b", "\0", phrase, count=1).partition("\0")
                # A word before the dish that the menu lacks makes it another dish ("pepperoni pizza"); words
                # after it that name no food are the caller's sentence going on ("dragon roll spicy?",
                # "lasagna travels well"), not part of the dish.
                if all(w in self._menu_words for w in before.split()) and all(
                        w in self._menu_words or w in _KIND_WORDS or w not in FOOD_WORDS for w in after.split()):
                    return self._aliases[alias]
                return None
        return None


_COUNT = r"(\d{1,3}|[a-z]+)"
_EACH = re.compile(rf"\b{_COUNT} (?:each|of each)\b", re.I)  # "two each of the carbonara and the lasagna"
_OF_THEM = re.compile(rf"\b{_COUNT} of (?:them|those|these)\b(?! more)", re.I)  # "… dragon rolls, two of them"
_TIMES = re.compile(rf"^\W*times {_COUNT}\b", re.I)  # "tempura times three"
_BOTH = re.compile(r"\b(?:both|all|each)\W*$", re.I)  # "a latte and another latte, both oat"


def _counts_said_apart(text: str, found: list[DishMention]) -> list[DishMention]:
    """Counts said away from their dish: "two each of A and B", "A, two of them", "A times three", and a
    dish's word said again about the dishes already named ("both oat") is no new dish."""
    kept: list[DishMention] = []
    for mention in found:
        if _BOTH.search(text[max(0, mention.start - 8):mention.start]) and any(k.item == mention.item and
                                                                              mention.item for k in kept):
            continue
        times = _TIMES.match(text[mention.end:])
        count = _quantity(times.group(1).lower()) if times else None
        if count is not None:
            mention = DishMention(mention.said, mention.item, count, mention.change, mention.start,
                                  mention.end + times.end() if times else mention.end)
        kept.append(mention)
    for each in _EACH.finditer(text):
        count = _quantity(each.group(1).lower())
        if count is None:
            continue
        after = [m for m in kept if m.start >= each.start() and m.quantity in (None, count)]
        group = after or [m for m in kept if m.end <= each.start() and m.quantity in (None, 1)]
        kept = [DishMention(m.said, m.item, count, m.change, m.start, m.end) if m in group else m for m in kept]
    for of_them in _OF_THEM.finditer(text):
        count = _quantity(of_them.group(1).lower())
        before = [m for m in kept if m.end <= of_them.start()]
        if count is not None and before and before[-1].quantity is None:
            kept = [DishMention(m.said, m.item, count, m.change, m.start, m.end) if m is before[-1] else m
                    for m in kept]
    return kept


_DO_YOU_HAVE = re.compile(r"\b(?:do|does|can|could) (?:you|y'?all|they)(?: guys)?,?(?: \w+,?)? "
                          r"(?:have|serve|make|do|sell|got|carry|offer)(?: any| some| a| an| the)?\W*$|"
                          r"\b(?:is|are) there(?: any| a| an)?\W*$",
                          re.I)


def _is_food(word: str) -> bool:
    """A food word, singular or plural ("smoothies", which our singular makes "smoothy")."""
    return (word in FOOD_WORDS or _singular(word) in FOOD_WORDS or word.endswith("ies") and word[:-1] in FOOD_WORDS
            or word.endswith("y") and word[:-1] + "ie" in FOOD_WORDS)


def _quantity(word: str) -> int | None:
    """How many a word says: "two" → 2, "zero" → 0 (none of that dish), "hundred" → 100 (too many: the desk says so)."""
    if word.isdigit():
        return int(word) if int(word) <= 999 else None
    if word in ("zero", "none"):
        return 0
    if word == "hundred":
        return 100
    if word in QUANTITY_WORDS:
        return QUANTITY_WORDS[word]
    spelled = alpha2digit(word, "en", threshold=0)  # "sixty", "seventy"
    return int(spelled) if spelled.isdigit() else None
