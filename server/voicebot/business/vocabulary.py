"""The words callers use for days and numbers, shared by everything that reads their speech.

Speech to text writes "eight", "Saturday" or "tomorrow" as words; the front desk's
routing, the date parser, the order taker and the per-turn notes each need them, and
each kept its own copy before (which drifted: one knew "twelve", another stopped at "ten").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAY_INDEX = {name.lower(): i for i, name in enumerate(WEEKDAYS)}
RELATIVE_DAYS = ("today", "tonight", "tomorrow")
# Month names as speech to text writes them, whole or cut ("Sept", "Dec.").
MONTHS = r"jan\w*|feb\w*|march|april|may|june|july|aug\w*|sept?\w*|oct\w*|nov\w*|dec\w*"

NUMBER_WORDS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {"thirty": 30, "forty": 40, "fifty": 50}
HOUR_WORDS = {word: n for word, n in NUMBER_WORDS.items() if n <= 12}
# Single digits as callers say them in a phone number ("five oh three"), and back.
DIGIT_WORDS = {word: str(n) for word, n in NUMBER_WORDS.items() if n <= 9} | {"oh": "0", "o": "0"}
SPOKEN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Quantities in an order ("a miso soup", "a couple of rolls").
QUANTITY_WORDS = {word: n for word, n in NUMBER_WORDS.items() if n} | {"a": 1, "an": 1, "single": 1, "couple": 2,
                                                                       "pair": 2, "dozen": 12}


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of ``words``, longest first so that none hides a longer one."""
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


WEEKDAY_NAMES = alternation(WEEKDAY_INDEX)
