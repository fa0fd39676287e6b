"""A caller's day and time ("next Friday", "tomorrow", "7:30 pm", "eight") as a datetime.

The LLM passes the words the caller used; code, not the model, turns them into a date,
because small models get day arithmetic wrong. ``dateparser`` does the parsing, with the
restaurant's "now" as the base and future dates preferred; bare hours mean the evening
when the morning hour is outside the opening hours ("at 7" → 7 PM).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import dateparser
from text_to_num import alpha2digit

from voicebot.business.vocabulary import HOUR_WORDS, WEEKDAY_INDEX, WEEKDAY_NAMES, alternation

_SETTINGS_BASE = {"PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False}
_FILLER = re.compile(r"\b(this|on|at|for|the|coming|o'clock|oclock)\b", re.IGNORECASE)
_MERIDIEM = re.compile(r"\b(a\.?m\.?|p\.?m\.?|noon|midnight|morning|evening|night|afternoon|tonight)\b",
                       re.IGNORECASE)


_WEEKDAY = re.compile(rf"\b({WEEKDAY_NAMES})\b", re.IGNORECASE)


_HOUR_WORDS = {word: str(n) for word, n in HOUR_WORDS.items() if n}
_MINUTE_WORDS = {"oh five": "05", "ten": "10", "fifteen": "15", "twenty": "20", "thirty": "30", "forty": "40",
                 "forty five": "45", "forty-five": "45", "fifty": "50"}
# "eight. 45", "six thirty", "6.30", "7 15" as transcribed from speech → "8:45", "6:30", "7:15".
_SPOKEN_CLOCK = re.compile(
    r"\b(\d{1,2}|" + alternation(_HOUR_WORDS) + r")\s*[.,:]?\s*"
    r"(\d{2}|" + "|".join(sorted(_MINUTE_WORDS, key=len, reverse=True)) + r")\b(?!\s*(people|persons|guests))",
    re.IGNORECASE)
# "745" is 7:45 only where a time is expected: "at 745", "745 pm". Alone it is more likely part of a
# phone number ("for Ann Lee, 503, 555…" was booked at 5:03).
_CLOCK_CUE_BEFORE = re.compile(r"\b(at|around|about|by|say|until|till|before|after|from|to)\s*$", re.IGNORECASE)
_MERIDIEM_AFTER = re.compile(r"\s*(a\.?\s?m\b|p\.?\s?m\b|o'?clock|in the (morning|afternoon|evening)|at night|tonight)",
                             re.IGNORECASE)
_HOUR_BEFORE_MERIDIEM = re.compile(
    r"\b(" + alternation(_HOUR_WORDS) + r")\b(?=\s*(o'?clock|a\.?m\b|p\.?m\b|in the|at night))", re.IGNORECASE)
_PART_OF_DAY = [(re.compile(r"\bin the (evening|afternoon)\b|\bat night\b", re.IGNORECASE), " pm"),
                (re.compile(r"\bin the morning\b", re.IGNORECASE), " am")]


# "7th 30" for "seven thirty": Whisper writes an ordinal before the minutes now and then.
_ORDINAL_CLOCK = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\s+(\d{2})\b", re.IGNORECASE)


# Clock idioms no parser we measured reads (dateparser, ctparse, parsedatetime, timefhuman: 3-6 of 19
# spoken times right): "quarter past eight", "twenty to nine", "half six" (British), once text2num has
# turned the number words into digits.
_IDIOM = re.compile(
    r"\b(?:(?:a\s+)?(quarter|half|\d{1,2})(?:\s+minutes?)?\s+(past|passed|pass|after|to|till|before|of)\s+(\d{1,2})|half\s+(\d{1,2}))\b"
    r"(?!\s*(?::|\d|people|persons|guests|of us|minutes|mins|hours|dollars))", re.IGNORECASE)
_ISH = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*-?\s*ish\b", re.IGNORECASE)
# "nine tonight", "seven tomorrow evening": an hour said with the evening is in the evening.
_EVENING_AFTER = re.compile(r"\b(\d{1,2}(?::\d{2})?)(?!\s*(?:a\.?\s?m|p\.?\s?m))(?=\s+(?:tonight|this evening|"
                            r"(?:tomorrow|today|\w+day) (?:night|evening))\b)", re.IGNORECASE)


def _idiom(match: re.Match) -> str:
    if match.group(4):  # "half six" = 6:30
        hour, minute = int(match.group(4)), 30
    else:
        amount, direction, hour = match.group(1).lower(), match.group(2).lower(), int(match.group(3))
        minute = {"quarter": 15, "half": 30}.get(amount) or int(amount)
        if minute >= 60 or (amount == "half" and direction not in ("past", "passed", "pass", "after")):
            return match.group(0)
        if direction in ("to", "till", "before", "of"):
            hour, minute = (hour - 1) % 12 or 12, 60 - minute
    if not 1 <= hour <= 12:
        return match.group(0)
    return f"{hour}:{minute:02d}"


def clock_words(text: str) -> str:
    """Number words as digits and clock idioms as "H:MM" ("twenty to nine" → "8:40", "half six" →
    "6:30", "eightish" → "8", "nine tonight" → "9 pm tonight"), the rest of the words as they were."""
    text = re.sub(r"(?<=[a-z])-(?=(?:one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|forty|"
                  r"fifty)\b)", " ", text, flags=re.IGNORECASE)  # "one-thirty", "forty-five"
    text = alpha2digit(re.sub(r"(?<=[a-z])-?ish\b", " ish", text, flags=re.IGNORECASE), "en", threshold=0)
    text = _IDIOM.sub(_idiom, text)
    text = _ISH.sub(lambda m: ("" if re.search(r"\b(at|around|about|by)\s*$", m.string[:m.start()]) else "at ")
                    + m.group(0).split("ish")[0].rstrip(" -"), text)  # "eightish": a time
    return _EVENING_AFTER.sub(lambda m: f"{m.group(1)} pm", text)


def spoken_clock(text: str) -> str:
    """Times as speech-to-text writes them, in a form dateparser reads."""
    text = clock_words(text)
    text = _ORDINAL_CLOCK.sub(lambda m: f"{m.group(1)}:{m.group(2)}" if int(m.group(2)) < 60 else m.group(0), text)
    def clock(match: re.Match) -> str:
        hour = _HOUR_WORDS.get(match.group(1).lower(), match.group(1))
        minute = _MINUTE_WORDS.get(match.group(2).lower(), match.group(2))
        if int(hour) > 12 or int(minute) > 59:
            return match.group(0)
        if match.group(0).isdigit() and not (_CLOCK_CUE_BEFORE.search(match.string[:match.start()])
                                             or _MERIDIEM_AFTER.match(match.string[match.end():])):
            return match.group(0)
        return f"{hour}:{minute}"

    text = _SPOKEN_CLOCK.sub(clock, text)
    text = _HOUR_BEFORE_MERIDIEM.sub(lambda m: _HOUR_WORDS[m.group(1).lower()], text)
    for pattern, meridiem in _PART_OF_DAY:
        text = pattern.sub(meridiem, text)
    return text


# "in forty minutes", "in half an hour", "in an hour and a half", "20 minutes from now".
_IN_MINUTES = re.compile(r"\bin (?:about |around |maybe |like )?(\d{1,3}|half an|an|a|a quarter of an|quarter of an)"
                         r"( and a half)? (minutes?|mins?|hours?|hrs?)( and a half)?\b|"
                         r"\b(\d{1,3}) (minutes?|mins?) from now\b|\b(an|a|one|half an) (hour) from now\b",
                         re.IGNORECASE)


def minutes_from_now(text: str) -> int | None:
    """How many minutes from now the words say ("in forty minutes" → 40, "in half an hour" → 30), or None."""
    match = _IN_MINUTES.search(clock_words(text))
    if match is None:
        return None
    if match.group(5):
        return int(match.group(5))
    if match.group(7):
        return 30 if match.group(7).lower() == "half an" else 60
    amount = {"half an": 0.5, "an": 1, "a": 1, "a quarter of an": 0.25, "quarter of an": 0.25}.get(
        match.group(1).lower(), None)
    value = float(match.group(1)) if amount is None else amount
    if match.group(2) or match.group(4):
        value += 0.5
    unit = match.group(3).lower()
    return round(value * 60) if unit.startswith("h") else round(value)


class WhenError(ValueError):
    """The words do not name a day or a time; the message says which, for the caller."""


def _parse(text: str, now: datetime) -> datetime | None:
    cleaned = " ".join(_FILLER.sub(" ", spoken_clock(text)).split())
    if not cleaned:
        return None
    settings = dict(_SETTINGS_BASE, RELATIVE_BASE=now)
    return dateparser.parse(cleaned, languages=["en"], settings=settings)


def parse_day(text: str, now: datetime) -> date:
    """The day the caller means, on or after ``now``'s day."""
    text = (text or "").strip()
    lowered = text.lower()
    if lowered in ("", "today", "tonight") or re.fullmatch(r"this (evening|afternoon|morning)|later( today)?", lowered):
        return now.date()
    holiday = _HOLIDAYS.get(re.sub(r"[^a-z ]", "", lowered).replace(" day", "").strip())
    if holiday is not None:  # "Christmas Eve", "Valentine's"
        on = date(now.year, *holiday)
        return on if on >= now.date() else date(now.year + 1, *holiday)
    next_week = _NEXT_WEEK.search(lowered)
    if next_week:  # "Thursday next week": that day in the week after this one
        monday = now.date() - timedelta(days=now.weekday()) + timedelta(days=7)
        return monday + timedelta(days=WEEKDAY_INDEX[(next_week.group(1) or next_week.group(2)).lower()])
    if re.fullmatch(r"a week (today|from today)", lowered):
        return now.date() + timedelta(days=7)
    if lowered == "a week tomorrow":
        return now.date() + timedelta(days=8)
    iso = re.match(r"^\d{4}-\d{2}-\d{2}", text)
    if iso:
        return date.fromisoformat(iso.group(0))
    # The time of day is not the day's business: dateparser read "Saturday at 7" as July.
    day_words = _TIME_OF_DAY.sub(" ", spoken_clock(text)).strip(" ,.")
    if not day_words and text:
        return now.date()
    week_later = _WEEK_LATER.search(day_words)
    if week_later:  # "a week from Friday", "Monday week": that day, then a week on
        named = week_later.group(1) or week_later.group(2)
        return parse_day(named, now) + timedelta(days=7)
    ordinal = _DAY_OF_MONTH.match(" ".join(_FILLER.sub(" ", day_words).split()))
    if ordinal:  # "the 12th": dateparser took it for December of next year
        return _next_day_of_month(int(ordinal.group(1)), now.date())
    parsed = _parse(day_words, now)
    if parsed is None:  # "four people this Saturday": the day inside other words
        from dateparser.search import search_dates

        settings = dict(_SETTINGS_BASE, RELATIVE_BASE=now)
        found = [d for phrase, d in search_dates(day_words, languages=["en"], settings=settings) or []
                 if any(c.isalpha() for c in phrase)]
        parsed = found[-1] if found else None
    if parsed is None:
        raise WhenError(f"I could not tell which day {text!r} is")
    return parsed.date()


_CLOCK_TOKEN = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(?:(a)|(p))?(?(3)\.?\s?m\b\.?|(?(4)\.?\s?m\b\.?))",
                          re.IGNORECASE)


_TIME_OF_DAY = re.compile(
    r"\b(at|around|about|by)\s+\d{1,2}(:\d{2})?(\s*[ap]\.?\s?m\b\.?)?|\b\d{1,2}(:\d{2}\s*([ap]\.?\s?m\b\.?)?|"
    r"\s*[ap]\.?\s?m\b\.?)|\b(o'?clock|noon|midnight|in the (morning|afternoon|evening)|at night)\b",
    re.IGNORECASE)


# "a week from Friday", "a week on Saturday", "Friday week" (British): the day a week after the one named.
_WEEK_LATER = re.compile(rf"\ba week (?:from|on|after|this)?\s*((?:{WEEKDAY_NAMES}|tomorrow|today))\b|"
                         rf"\b((?:{WEEKDAY_NAMES})) week\b", re.IGNORECASE)
# Days that are known by name, not number (month, day).
_HOLIDAYS = {"christmas eve": (12, 24), "christmas": (12, 25), "new years eve": (12, 31), "new years": (1, 1),
             "valentines": (2, 14), "halloween": (10, 31)}
_NEXT_WEEK = re.compile(rf"\b({WEEKDAY_NAMES})s? next week\b|\bnext week,? (?:on )?({WEEKDAY_NAMES})\b", re.IGNORECASE)
_DAY_OF_MONTH = re.compile(r"^(\d{1,2})(st|nd|rd|th)$", re.IGNORECASE)


def _next_day_of_month(day: int, today: date) -> date:
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise WhenError(f"There is no day {day} in a month")


def _clock_in(text: str) -> re.Match | None:
    """The last hour[:minutes][am/pm] in the words ("for 2 tomorrow 6:30 pm" → "6:30 pm")."""
    found = list(_CLOCK_TOKEN.finditer(text))
    return found[-1] if found else None


def parse_time(text: str, now: datetime, open_span: tuple[time, time] | None = None) -> time:
    """The time of day; a bare "7" or "7:30" is read in the afternoon/evening if that is
    when the restaurant is open and the morning is not."""
    text = (text or "").strip()
    if not text:
        raise WhenError("I need a time")
    clock = _clock_in(" ".join(_FILLER.sub(" ", spoken_clock(text)).split()))
    if clock:
        hour, minute = int(clock.group(1)), int(clock.group(2) or 0)
        if hour > 23 or minute > 59 or (hour > 12 and (clock.group(3) or clock.group(4))):
            raise WhenError(f"{text!r} is not a time")
        if clock.group(3) and hour == 12:
            hour = 0
        if clock.group(4) and hour < 12:
            hour += 12
        candidate = time(hour, minute)
        if clock.group(3) or clock.group(4):
            return candidate
    else:
        parsed = _parse(text, now)
        if parsed is None:
            raise WhenError(f"I could not tell what time {text!r} is")
        candidate = parsed.time().replace(second=0, microsecond=0)
        if _MERIDIEM.search(text):
            return candidate
    if candidate.hour < 12 and open_span is not None:
        opens, closes = open_span
        evening = time(candidate.hour + 12, candidate.minute)
        if not (opens <= candidate < closes) and opens <= evening < closes:
            return evening
    return candidate


def parse_when(day_text: str, time_text: str, now: datetime,
               hours: dict[int, tuple[time, time]] | None = None) -> datetime:
    """Day and time together; ``hours`` (weekday → span) helps read a bare hour."""
    if not (day_text or "").strip():
        raise WhenError("I need the day")
    day = parse_day(day_text, now)
    # A day the restaurant is closed still reads "six" as the evening if that is when it opens on other days.
    span = (hours or {}).get(day.weekday()) or next(iter((hours or {}).values()), None)
    moment = datetime.combine(day, parse_time(time_text, now, span))
    if moment < now and _WEEKDAY.search(day_text or ""):
        moment += timedelta(days=7)  # "Saturday" said on Saturday night means next week's
    return moment
