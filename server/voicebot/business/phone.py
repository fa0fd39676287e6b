"""Callers' phone numbers: the digits in their words, whether they make a whole number, and
how the bot reads them back.

Speech to text writes a number in many ways ("555-0142", "5 5 5 0 1 4 2", "five oh three,
five five five…", "double five"), and mishears digits. So the desk takes the digits from
the caller's own words, accepts only a whole number (a North American number: 10 digits,
or 11 with the leading 1), and reads it back digit by digit before anything is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from voicebot.business.vocabulary import DIGIT_WORDS, NUMBER_WORDS, SPOKEN_DIGITS

# Words that repeat the next digit ("double five" → 55).
_REPEATS = {"double": 2, "triple": 3}
# Between the digits of one number: nothing but these (and punctuation).
_JOINERS = frozenset({"and", "dash", "hyphen"})
_TOKEN = re.compile(r"[a-z]+|\d+|[^\sa-z\d]", re.IGNORECASE)
# Phrases that announce a number: digits after them are the number, not a party size or a time.
PHONE_CUE = re.compile(
    r"\b(phone( number)?|numbers?|cell|mobile|reach me( at| on)?|call me( back)?( at| on)?|contact)\b", re.IGNORECASE)


@dataclass(frozen=True)
class DigitRun:
    """A run of digits in the caller's words and where it was said (character span)."""

    digits: str
    start: int
    end: int


# Numbers said in pairs within a phone number ("nineteen forty-two").
_TEENS_AND_TENS = {word: n for word, n in NUMBER_WORDS.items() if 10 <= n <= 19 or n in (20, 30, 40, 50)} | {
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
# Digits as speech to text writes them when it mishears a number said digit by digit ("oh for to ate").
_DIGIT_HOMOPHONES = {"for": "4", "fore": "4", "to": "2", "too": "2", "ate": "8", "won": "1"}


def _digit_follows(tokens: list[re.Match], index: int) -> bool:
    following = next((t.group(0).lower() for t in tokens[index + 1:index + 3] if t.group(0).isalnum()), "")
    return following.isdigit() or following in DIGIT_WORDS


def _whole(digits: str) -> bool:
    return len(digits) == 11 if digits.startswith("1") else len(digits) == 10


def digit_runs(text: str, homophones: bool = False) -> list[DigitRun]:
    """Every run of spoken or written digits, joined across spaces, commas and dashes.

    "five five five, one two three four" → one run "5551234"; "for 4 at 7" → two runs.
    Multi-digit numbers are kept whole ("555-0142" → "5550142").
    """
    runs: list[DigitRun] = []
    digits, start, end, repeat = "", -1, -1, 1
    tokens = list(_TOKEN.finditer(text))
    for index, match in enumerate(tokens):
        token = match.group(0).lower()
        value = None
        if token.isdigit() and len(token) >= 7 and digits:
            runs.append(DigitRun(digits, start, end))  # "Pickup at 6. 7025550193": a written number stands alone
            digits, repeat = "", 1
        if token.isdigit():
            value = token if repeat == 1 else token[0] * repeat + token[1:]  # "double 570980": the 5 twice
            repeat = 1
        elif len(token) >= 2 and re.fullmatch(r"o+", token) and (digits or _digit_follows(tokens, index)):
            value = "0" * len(token)  # "8OO": zeros written as letters
        elif token in _TEENS_AND_TENS and digits:
            # "five five five, nineteen forty-two": a pair of digits said as a number
            value = str(_TEENS_AND_TENS[token])
            following = next((t.group(0).lower() for t in tokens[index + 1:index + 3] if t.group(0).isalnum()), "")
            if value.endswith("0") and following in DIGIT_WORDS and following not in ("oh", "o", "zero"):
                value = value[0]  # "forty two": the 2 comes next
        elif token in DIGIT_WORDS and not (token in ("o", "oh") and not digits and not homophones):
            value = DIGIT_WORDS[token]
        elif homophones and token in _DIGIT_HOMOPHONES and (digits or _digit_follows(tokens, index)):
            value = _DIGIT_HOMOPHONES[token]  # inside a number the desk asked for ("ate oh ate…")
        if value is not None and token in _DIGIT_HOMOPHONES and _whole(digits):
            runs.append(DigitRun(digits, start, end))  # "…1234 for two people": the number was whole
            digits, repeat, value = "", 1, None
        if value is not None:
            if not digits:
                start = match.start() if repeat == 1 else start
            digits += value * repeat
            end, repeat = match.end(), 1
        elif token in _REPEATS:
            repeat, start = _REPEATS[token], (start if digits else match.start())
        elif token in _JOINERS or not token.isalnum():
            continue  # punctuation or "and" between digit groups
        else:
            if digits:
                runs.append(DigitRun(digits, start, end))
            digits, repeat = "", 1
    if digits:
        runs.append(DigitRun(digits, start, end))
    return runs


def phone_in(text: str, expecting: bool = False) -> DigitRun | None:
    """The phone number in ``text``: digits after a cue ("my number is …"), else a run of 7+
    digits, else (when the bot just asked for the number) the longest run said."""
    runs = digit_runs(text, homophones=expecting)
    cues = list(PHONE_CUE.finditer(text))
    cue = cues[-1] if cues else None  # the last one
    if cue is not None:
        # After "my number is", digits misheard as words count ("oh won to ate"); the groups are joined
        # until they make a whole number ("…0145, table for two at 7" is not 13 digits).
        after = [DigitRun(r.digits, r.start + cue.end(), r.end + cue.end())
                 for r in digit_runs(text[cue.end():], homophones=True)]
        if after:
            whole = [after[0]]
            for run in after[1:]:
                if normalized_phone("".join(r.digits for r in whole)) is not None or len(
                        "".join(r.digits for r in whole)) >= 10:
                    break
                whole.append(run)
            return _joined(whole)
    runs = [_without_party(text, r) for r in runs]
    long_runs = [r for r in runs if len(r.digits) >= 7]
    if long_runs:
        last = long_runs[-1]
        before = [r for r in runs if r.end <= last.start]
        if len(last.digits) == 7 and before and len(before[-1].digits) == 3 and not re.search(
                r"\w", text[before[-1].end:last.start]):
            return _joined([before[-1], last])  # "917 3628000": the area code said apart
        return last
    if expecting and runs:
        return _joined(runs) if len(runs) > 1 else runs[0]
    return None


_PARTY_BEFORE = re.compile(r"\b(for|of)\s*$", re.IGNORECASE)


def _without_party(text: str, run: DigitRun) -> DigitRun:
    """"a table for two, five oh three …" is a party of 2 and a number, not 11 digits."""
    if len(run.digits) in (8, 11) and _PARTY_BEFORE.search(text[:run.start]) and not run.digits.startswith("1"):
        return DigitRun(run.digits[1:], run.start, run.end)
    return run


def _joined(runs: list[DigitRun]) -> DigitRun:
    """Several runs said as one number ("503, 555 … 1234" split by a word Whisper inserted)."""
    return DigitRun("".join(r.digits for r in runs), runs[0].start, runs[-1].end)


def normalized_phone(digits: str) -> str | None:
    """A whole North American number as its 10 digits (a leading 1 dropped), or None."""
    digits = re.sub(r"\D", "", digits or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) == 10 else None


def number_off_by_a_digit(text: str) -> bool:
    """Whether ``text`` holds a phone number a digit or two short or long (8, 9, 11 not after a 1,
    or 12 digits): what speech to text makes of "five five five" now and then ("55"). Worth
    hearing again before the caller is asked to repeat it."""
    run = phone_in(text)
    if run is None:
        return False
    count = len(run.digits)
    return count in (8, 9, 12) or (count == 11 and not run.digits.startswith("1"))


# Written groups a phone number is not said in: "217-55, 11919" adds up to 10 digits, but a
# "five five five" came out "55" and "one nine one nine" "11919" (tiny.en, the number said in
# the same breath as a booking).
_ODD_GROUP_LENGTHS = frozenset({2, 5, 6, 8, 9})


def number_in_doubt(text: str) -> bool:
    """Whether ``text``'s phone number is worth hearing again: a digit or two off
    (:func:`number_off_by_a_digit`), or whole but written in groups no one says a number in."""
    if number_off_by_a_digit(text):
        return True
    run = phone_in(text)
    if run is None or normalized_phone(run.digits) is None:
        return False
    return any(len(group) in _ODD_GROUP_LENGTHS for group in re.findall(r"\d+", text[run.start:run.end]))


def with_number_heard_again(text: str, again: str) -> str | None:
    """``text`` with its phone number taken from ``again`` (the same words heard once more),
    or None when ``again`` holds no whole number."""
    run, heard = phone_in(text), phone_in(again)
    number = normalized_phone(heard.digits) if heard is not None else None
    if run is None or number is None:
        return None
    return f"{text[:run.start]}{number[:3]}-{number[3:6]}-{number[6:]}{text[run.end:]}"


def valid_phone(digits: str) -> bool:
    """Whether 10 digits are a number that can be dialled in North America (Google's libphonenumber: an area
    code and exchange that exist): "555 555 0142" is whole but no number."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(digits, "US"))
    except phonenumbers.NumberParseException:
        return False


def missing_digits_question(digits: str) -> str:
    """What to ask when the number heard is not a whole one."""
    count = len(re.sub(r"\D", "", digits or ""))
    if count == 10 or (count == 11 and digits.lstrip().startswith("1")):
        return ("Sorry, that number doesn't sound right. Could you say it again, with the area code, "
                "one digit at a time?")
    if 0 < count < 10:
        return (f"I only got {count} digits. Could you give me the whole number, with the area code, "
                "one digit at a time?")
    if count > 10:
        return f"I got {count} digits, which is too many. Could you say the number again, one digit at a time?"
    return "What's a good phone number for you, with the area code?"


def spoken_phone(digits: str) -> str:
    """The number as the bot reads it back: digit by digit in groups, "five oh three, five five five, …"."""
    digits = re.sub(r"\D", "", digits)
    groups = [digits[:3], digits[3:6], digits[6:]] if len(digits) == 10 else [digits]
    return ", ".join(" ".join("oh" if d == "0" else SPOKEN_DIGITS[int(d)] for d in group) for group in groups if group)


def written_phone(digits: str) -> str:
    """The number for people reading it: "(503) 555-1234"."""
    digits = re.sub(r"\D", "", digits)
    if len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return digits
