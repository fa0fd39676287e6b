"""Callers' personal data in the logs: masked wherever a log is kept or shown at INFO.

A restaurant's logs are read by whoever runs the server and kept in ``error.log``; the
callers' words, names and phone numbers belong to the owner's page, not there. Log lines
mark what a caller said (or what the bot said back to them) with :func:`said`; the sinks
(``logs.py``) then show, at INFO and above and always in ``error.log``, only how many words
it was, and mask every phone number, written or spoken, down to its last four digits
(``***-***-4142``). At DEBUG — a developer's console — the words are shown as they were.
"""

from __future__ import annotations

import re

from voicebot.business.vocabulary import DIGIT_WORDS, alternation

# What a caller said, as marked by `said` (characters no transcript contains).
_SAID = re.compile("\u2063\u27e6(.*?)\u27e7\u2063", re.S)

# A phone number as written: 3-3-4 digits (maybe +1 and brackets first), 3-4 digits, or a run of
# 7 to 15 digits (a caller id, a number misheard a digit long) — never a date, a time, a price or
# part of a word (a call's id: "CA3f1234567890ab").
_WRITTEN_NUMBER = re.compile(
    r"(?<![\w.:/-])(?:"
    r"(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}"
    r"|\d{3}[\s.-]\d{4}"
    r"|\+?\d{7,15}"
    r")(?![\w/]|[.-]\d)"
)

# ... and as said back digit by digit ("five oh three, five five five, four one four two").
_DIGIT_WORD = rf"(?:{alternation(DIGIT_WORDS)})"
_SPOKEN_NUMBER = re.compile(rf"\b{_DIGIT_WORD}(?:[\s,.-]+{_DIGIT_WORD}){{6,}}\b", re.I)
_KEPT_DIGITS = 4


def said(text: str) -> str:
    """``text`` marked as a caller's words (or the bot's words to them) for the log sinks."""
    return f"\u2063\u27e6{text}\u27e7\u2063"


def _mask_written(match: re.Match) -> str:
    number = match.group(0)
    digits = sum(c.isdigit() for c in number)
    keep_from = digits - _KEPT_DIGITS
    out, seen = [], 0
    for c in number:
        if c.isdigit():
            out.append(c if seen >= keep_from else "*")
            seen += 1
        else:
            out.append(c)
    return "".join(out)


def _mask_spoken(match: re.Match) -> str:
    words = re.findall(rf"\b{_DIGIT_WORD}\b", match.group(0), re.I)
    return "*** " + " ".join(words[-_KEPT_DIGITS:])


def mask_numbers(text: str) -> str:
    """``text`` with every phone number in it masked but its last four digits."""
    return _SPOKEN_NUMBER.sub(_mask_spoken, _WRITTEN_NUMBER.sub(_mask_written, text))


def redact(message: str) -> str:
    """What a kept or INFO log line may show: the caller's words as a count, numbers masked."""
    def words(match: re.Match) -> str:
        count = len(match.group(1).split())
        return f"<{count} word{'s' if count != 1 else ''}>"

    return mask_numbers(_SAID.sub(words, message))


def unmark(message: str) -> str:
    """A DEBUG line as it was said: the marks taken out, nothing hidden."""
    return _SAID.sub(lambda m: m.group(1), message)
