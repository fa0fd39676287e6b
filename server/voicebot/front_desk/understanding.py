"""What a caller's turn says to the front desk: the request, the details, yes or no.

Read by code from the transcript, not by the LLM: the small local model invented party
sizes and names, copied numbers wrong and rewrote times ("eight. 45" → "8 pm"). Every
detail is taken from the caller's own words, with the question the desk just asked as
context ("Maria Garcia." answers "Could I have your name?"). What is not understood is
not guessed: the desk asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import jellyfish

from voicebot.business.food import allergens_named
from voicebot.business.menu import DishMention, Menu
from voicebot.business.phone import PHONE_CUE, digit_runs, phone_in
from voicebot.business.vocabulary import HOUR_WORDS, MONTHS, NUMBER_WORDS, RELATIVE_DAYS, WEEKDAY_NAMES, alternation
from voicebot.business.when import clock_words, minutes_from_now, spoken_clock


class Intent(StrEnum):
    """What the caller asks the desk to do."""

    BOOK = "book"
    ORDER = "order"
    MESSAGE = "message"
    CANCEL = "cancel"
    LOOKUP = "lookup"
    TRANSFER = "transfer"
    GOODBYE = "goodbye"


class Slot(StrEnum):
    """What the desk last asked the caller for: their answer is read as that."""

    PARTY = "party"
    WHEN = "when"
    DAY = "day"
    TIME = "time"
    NAME = "name"
    PHONE = "phone"
    ITEMS = "items"
    PICKUP = "pickup"
    MESSAGE = "message"
    CONFIRM = "confirm"
    ANYTHING_ELSE = "anything_else"


@dataclass
class Heard:
    """The front desk's reading of one caller turn."""

    text: str
    intents: set[Intent] = field(default_factory=set)
    implied: set[Intent] = field(default_factory=set)  # of the intents, those read from details, not words
    yes: bool = False
    no: bool = False
    correction: bool = False
    never_mind: bool = False
    party: int | None = None
    day: str | None = None
    time: str | None = None
    name: str | None = None
    phone: str | None = None  # the digits heard, whole or not
    loose_digits: str | None = None  # 3+ digits said with no cue that are no time, party or date: a number's start?
    dishes: list[DishMention] = field(default_factory=list)
    pickup: str | None = None
    message: str | None = None
    asks_price: bool = False
    asks_ready: bool = False
    question: bool = False  # it asks something (a "?" or a question's first words)
    allergens: list[str] = field(default_factory=list)
    wrong: Slot | None = None  # "the number is wrong"

    @property
    def details(self) -> bool:
        """True if the turn carries any detail for a request."""
        return any(v not in (None, [], "") for v in (self.party, self.day, self.time, self.name, self.phone,
                                                      self.dishes, self.pickup, self.message))


_NUMBER = alternation([w for w, n in NUMBER_WORDS.items() if 0 < n <= 30])
_N = rf"(\d{{1,2}}|{_NUMBER})"
_HOUR = alternation(w for w, n in HOUR_WORDS.items() if n)
_NOT_A_TIME_AFTER = (r"(?!\s*(:|\d|a\.?\s?m\b|p\.?\s?m\b|o'?clock|thirty|fifteen|forty|"
                     r"in the (morning|evening|afternoon)))")
_PARTY = [
    re.compile(rf"\b(?:table|reservation|booking|room|seats?|space|spot) for {_N}\b{_NOT_A_TIME_AFTER}", re.I),
    re.compile(rf"\b(?:party|group|family|table) of {_N}\b", re.I),
    re.compile(rf"\b{_N} (?:people|persons|person|guests|adults|diners|of us)\b", re.I),
    re.compile(rf"\bwe(?:'re| are| will be|'ll be) {_N}\b{_NOT_A_TIME_AFTER}", re.I),
    re.compile(rf"\b(?:make it|make that|change it to|it'?s|for) {_N}(?= (?:people|persons|guests|of us)\b)", re.I),
]
_PARTY += [
    # "book for three", "reserve us for six": the party after the verb, unless a time follows
    re.compile(rf"\b(?:book|reserve|booking|reservation)(?: a(?: new)? table| a new one| another(?: one| table)?|"
               rf" it| us| one| something)? for {_N}\b"
               rf"{_NOT_A_TIME_AFTER}", re.I),
    re.compile(rf"\b(?:fit|seat|squeeze|take)(?: in)? {_N}\b", re.I),
    re.compile(rf"\b{_N} for (?:dinner|lunch|brunch|breakfast|drinks|supper)\b", re.I),
    re.compile(rf"\bbook {_N}(?= (?:for|on|at|people|tomorrow|tonight)\b|\s*(?:[.?!,]|$))", re.I),
    re.compile(rf"\b(?:somewhere|room|space|availability|a table) for {_N}\b{_NOT_A_TIME_AFTER}", re.I),
    # "… tomorrow at eight for four": the party said last
    re.compile(rf"\bfor {_N}(?=\s*(?:[.?!,]|$|please|thanks|thank you))", re.I),
    # "in for four at half six", "for two on the 18th": a count with the time or day after it
    re.compile(rf"\bfor {_N}(?= (?:at|on|this|next|tomorrow|tonight|today|{WEEKDAY_NAMES})\b)", re.I),
]
# "two adults and two kids": the party is both.
_KIDS = r"kids?|kiddies|kiddos?|children|child|little ones|toddlers?|teens?|teenagers|babies|baby|youngsters"
_ADULTS_AND_KIDS = re.compile(rf"\b{_N} (?:adults?|grown-?ups?)(?:,)? (?:and|plus|with|&) {_N} (?:{_KIDS})\b", re.I)
_COUPLE = re.compile(r"\b(?:for|we'?re|we are|just) (?:a|the) couple\b|\b(?:a|the) couple of us\b|"
                     r"\b(?:my|me and my) (?:wife|husband|partner) and (?:i|me)\b", re.I)
# Said back to "For how many people?", the way speech to text writes "four" or "two" or "eight".
_PARTY_HOMOPHONES = {"for": 4, "fore": 4, "to": 2, "too": 2, "ate": 8, "won": 1, "free": 3, "tree": 3}
_PARTY_HOMOPHONE = re.compile(r"^\W*(?:(?:um|uh|oh|well|so|just|it'?s|it will be|there'?ll be|we'?re|we are|"
                              r"we'?ll be)\W+)*(for|fore|to|too|ate|won|free|tree)\b"
                              r"(?:\s+(?:people|persons|guests|of us|please))?\W*$", re.I)
# Who is coming, counted: "me, my husband and our three kids" (5), "myself and three people from work" (4).
_RELATIONS = (r"wife|husband|partner|other half|boyfriend|girlfriend|friend|mum|mom|mother|dad|father|son|daughter|"
              r"brother|roommate|"
              r"sister|boss|colleague|coworker|co-worker|kid|child|baby|grandma|grandpa|grandmother|grandfather|nan|"
              r"aunt|uncle|cousin|fianc[eé]e?|date|neighbou?r|mate|flatmate|roommate|in-law|mother-in-law|father-in-law")
_ONE_RELATION = re.compile(rf"\b(?:my|our|her|his|their|the) (?:{_RELATIONS})\b", re.I)
_PAIR = re.compile(r"\b(?:my|our|her|his|their|the) (?:parents|grandparents|in-laws|folks)\b", re.I)
_COUNTED = re.compile(rf"\b{_N} (?:more |other )?(?:{_KIDS}|friends|colleagues|coworkers|co-workers|"
                      rf"people|guests|others|mates|adults|grandkids|of (?:them|my friends))\b", re.I)
_ME = re.compile(r"\b(?:me|myself|i)\b(?=\s*(?:,|(?:and|&|plus|with|my)\b))|(?<=\band )(?:me|myself)\b", re.I)
_US_BASE = re.compile(rf"\b(?:the )?({_N}|half a dozen|a dozen|both) of us\b", re.I)
_ADDED = re.compile(r"\b(plus|and also|as well as|oh and|and then|oh,? and|also)\b", re.I)
_TOTAL = re.compile(rf"\b(?:so|that'?s|that makes|makes it|total of|in total|all together|altogether)[, ]+{_N}\b"
                    rf"(?! ?(?::|o'?clock|pm|am|p\.m|a\.m|dollars))", re.I)
_FAMILY_OF = re.compile(rf"\bfamily of {_N}\b", re.I)


def _people_counted(text: str) -> int | None:
    """The party from who is coming, when the caller lists them rather than counts."""
    total = _TOTAL.search(text)
    if total:
        return _number(total.group(1))
    family = _FAMILY_OF.search(text)
    if family:
        return _number(family.group(1))
    total_said = re.search(rf"(?<!and )(?<!plus )(?<!with )(?<!& )\b{_N} (?:people|persons|guests)\b", text, re.I)
    if total_said:
        return None  # "it's five people now, my cousin is coming too": the count said is the party
    relations = len(_ONE_RELATION.findall(text)) + 2 * len(_PAIR.findall(text))
    counted = sum(_number(m.group(1)) or 0 for m in _COUNTED.finditer(text))
    us = _US_BASE.search(text)
    me = 1 if _ME.search(text) and (relations or counted) else 0
    if us:
        base = {"half a dozen": 6, "a dozen": 12, "both": 2}.get(us.group(1).lower()) or _number(us.group(2)) or 0
        # "the four of us, oh and my mum": one more; "three of us, my roommate, her boyfriend and me": the three
        return base + relations if relations and _ADDED.search(text[us.end():]) else base
    if not (relations or counted) or not (me or relations + bool(counted) > 1):
        return None
    return me + relations + counted


# Number words as speech to text mishears them where a number must be: "a table for to", "for people",
# "at for thirty", "to dragon rolls" (after the desk asked what to order).
_HOMOPHONE_VALUE = {"for": "4", "fore": "4", "to": "2", "too": "2", "ate": "8", "won": "1", "free": "3", "tree": "3"}
_HOMOPHONE_CONTEXTS = [
    re.compile(r"()\b(for|fore|to|too|ate|won|free|tree)(?=\s+(?:people|persons|guests|adults|of us)\b)", re.I),
    re.compile(r"(\b(?:table|booking|reservation) for )(to|too|for|ate|won)\b", re.I),
    re.compile(r"(\bfor )(to|too|for|ate|won)(?=\s+(?:on|at|tomorrow|tonight|today|this|next)\b|\s*(?:[,.?!]|$))",
               re.I),
    re.compile(r"(\bat )(for|to|too|ate)(?=\s*(?:thirty|fifteen|forty|o'?clock|pm|p\.m|am|a\.m|tonight|tomorrow|on)\b"
               r"|\s*(?:[,.?!]|$))", re.I),
    # "to dragon rolls", "for oat milk lattes": a count before a dish (checked against the menu below)
    re.compile(r"(^\W*|\b(?:get|have|take|want|need|order|and|much is|much are|much would be) )"
               r"(to|too|for|ate|won)(?=\s+\w)", re.I),
]


# What number words sound like (metaphone), for the words speech to text writes instead of them
# ("tin people" → ten, "sex of us" → six, "for tea minutes" → forty, "fife people" → five).
_NUMBER_SOUNDS = {jellyfish.metaphone(word): n for word, n in NUMBER_WORDS.items() if 2 <= n <= 60 and " " not in word}
_COUNTED_NOUN = re.compile(r"\b(?:people|persons|guests|of us|minutes|mins)\b", re.I)


def _numbers_by_sound(text: str) -> str:
    """Number words misheard right before what they count: the word (or two) that sounds like a number."""
    for noun in reversed(list(_COUNTED_NOUN.finditer(text))):
        words = list(re.finditer(r"[A-Za-z']+", text[:noun.start()]))[-2:]
        if not words or words[-1].group(0).lower() in NUMBER_WORDS or words[-1].group(0).lower() in _HOMOPHONE_VALUE:
            continue  # a number, or "for people"/"to people", read by the homophone rules below
        for span in (words[-1:], words):  # one word, then the two before it said as one ("for tea")
            said = "".join(w.group(0).lower() for w in span)
            number = _NUMBER_SOUNDS.get(jellyfish.metaphone(said)) if len(said) > 2 else None
            if number is not None and said not in _NOT_NUMBER_SOUNDS:
                text = text[:span[0].start()] + str(number) + text[span[-1].end():]
                break
    return text


_NOT_NUMBER_SOUNDS = frozenset({"none", "tan"})  # real words before "people" that are no count


def _number_homophones(text: str, menu: Menu, expecting: Slot | None) -> str:
    text = _numbers_by_sound(text)
    *contexts, before_dish = _HOMOPHONE_CONTEXTS
    for pattern in contexts:
        text = pattern.sub(lambda m: m.group(1) + _HOMOPHONE_VALUE[m.group(2).lower()], text)
    if expecting in (Slot.ITEMS, None) and menu.items:
        def dish_count(m: re.Match) -> str:
            following = m.string[m.end():].split(maxsplit=1)
            if following and menu.names_word(following[0].strip(",.?!")):
                return m.group(1) + _HOMOPHONE_VALUE[m.group(2).lower()]
            return m.group(0)
        text = before_dish.sub(dish_count, text)
    return text


_PARTY_OF_ONE = re.compile(r"\b(just me|only me|just myself|table for one|solo|on my own|by myself|party of one)\b",
                           re.I)
_PARTY_OF_TWO = re.compile(r"\b(me and my (wife|husband|partner|friend|girlfriend|boyfriend|mom|dad|son|daughter)|"
                           r"my (wife|husband|partner) and (me|i))\b", re.I)

_DAY = re.compile(
    rf"\b((?:a week (?:from |on |after )?)?(?:this |next |coming |on )?(?:{WEEKDAY_NAMES})s?(?: week| next week)?"
    rf"(?: night| evening| afternoon| lunch| morning)?|"
    rf"(?:the )?day after tomorrow|a week (?:today|tomorrow|from today)|"
    rf"{alternation(RELATIVE_DAYS)}(?: night| evening| afternoon| morning)?|this (?:evening|afternoon|morning)|"
    rf"christmas eve|christmas day|christmas|new year'?s eve|new year'?s day|valentine'?s(?: day)?|"
    rf"(?:{MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?|(?:the |on )\d{{1,2}}(?:st|nd|rd|th)(?: of (?:{MONTHS}))?|"
    rf"\d{{1,2}}(?:st|nd|rd|th) of (?:{MONTHS}))\b",
    re.I)
_MERIDIEM = r"(?:a\.?\s?m\b\.?|p\.?\s?m\b\.?|o'?clock)"
_NEGATED = re.compile(rf"\b(?:and |but )?not (?:at |on |for )?(?:{WEEKDAY_NAMES}|tomorrow|today|tonight|\d{{1,2}}"
                      rf"(?::\d{{2}})?(?: ?[ap]\.?m\.?)?|{_NUMBER})\b(?! (?:people|of us))", re.I)
_TIME = re.compile(
    rf"\b((?:(?:at|around|about|by|say|for|to|until) )?\d{{1,2}}(?::\d{{2}})?\s*{_MERIDIEM}|"
    rf"(?:(?:at|around|about|by|say|to) )?\d{{1,2}}:\d{{2}}|"
    rf"(?:at|around|about|by|say) (?:\d{{1,2}}|{_HOUR})(?:\s*{_MERIDIEM})?(?! (?:people|persons|guests|of us)\b)|"
    rf"(?:\d{{1,2}}|{_HOUR})\s*o'?clock|(?:at |around )?(?:noon|midnight)|"
    rf"(?:half past|quarter past|quarter to) (?:\d{{1,2}}|{_HOUR})|"
    rf"(?<=\btime )(?:should be|is|to|at|for) (?:\d{{1,2}}|{_HOUR})\b)", re.I)
_BARE_NUMBER = re.compile(rf"^\W*(?:(?:um|uh|oh|well|so|yes|yeah|sure|okay|ok|make it|make that|how about|"
                          rf"let'?s say|let'?s do|actually|maybe|say|at|for)\W+)*{_N}\b", re.I)
_ASAP = re.compile(r"\b(as soon as possible|asap|right away|right now|soonest|whenever it'?s ready|as soon as you can|"
                   r"(?<!bye )now(?= please|,? thanks|\W*$))\b", re.I)

_NAME_WORD = r"[A-Z][a-zA-Z'\-]+"
_NAME_CUES = [
    re.compile(rf"\b(?:my name is|my name's|name is|name's|the name is|under the name of|under the name|"
               rf"name of|under|name(?: actually| instead| please)?\s*[:,]|it'?s for|its for|"
               rf"(?:hi|hello|hey),? (?:it'?s|its|this is))\s+"
               rf"({_NAME_WORD}(?:\s+(?:(?:de|da|del|van|von|le|la|di)\b|"
               rf"{_NAME_WORD})){{0,3}})", re.I),
    # Weaker cues need a capitalized word: "I'm Tom", but not "I'm calling".
    re.compile(rf"\b(?:[Ii]'m|I am|[Tt]his is|[Ii]t's|[Ii]t is|[Ff]or|[Nn]ame)\s+"
               rf"({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})"),
]
# A name said right before the number, its cue lost: "I'm Bob, five oh three…" heard "And Bob 503-555-2819".
_NAME_BEFORE_NUMBER = re.compile(rf"(?:^|[.?!,]\s+)(?:[Aa]nd\s+)?({_NAME_WORD}(?:\s+{_NAME_WORD})?)[,.]?\s+"
                                 rf"(?=\(?\d{{3}}\b)")
_NOT_NAMES = frozenset("""i a an the and or but my your our this that it its is are was calling looking wondering
me us him her them you we he she they mine as soon asap now later possible can could would will
sorry not just only here fine good great okay ok well sure yes yeah no hi hello hey thanks thank please so
very really still also going trying hoping actually available open closed free booked interested allergic
monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays fridays saturdays
sundays today tonight tomorrow perfect wonderful awesome cool alright right excellent lovely thank bye goodbye
january february march april may june july august september october november
december next this pickup takeout two three four five six seven eight nine ten table reservation
phone number cell mobile digits contact reach email at on with from by in of to is was be can call calling
booking order message about tomorrow's tonight's yeah um uh like christmas eve easter valentine valentine's
halloween new year year's around half quarter noon midnight
""".split())

_YES = re.compile(r"^\W*(?:(?:uh|um|oh|well|ah)\W+)*(yes|yeah|yep|yup|yes please|sure|correct|right|that'?s right|"
                  r"that is right|that'?s correct|that is correct|exactly|perfect|great|ok|okay|alright|all right|"
                  r"sounds good|please do|go ahead|absolutely|of course|confirm|confirmed|do it|book it|"
                  r"that works|that'?s fine|fine|good)\b", re.I)
_NO = re.compile(r"^\W*(?:(?:uh|um|oh|well|ah)\W+)*(no|nope|nah|not quite|that'?s wrong|that is wrong|"
                 r"incorrect|wrong|not right)\b", re.I)
_CORRECTION = re.compile(r"\b(actually|instead|make (it|that)|change (it|that|the)|rather|sorry,? i meant|"
                         r"i meant|not \w+,|how about|can we do|could we do|switch)\b", re.I)
_WRONG = re.compile(r"\b(?:the |my |your )?(number|phone|name|time|day|date)(?: is| was|'s)? (?:wrong|not right|"
                    r"incorrect|off|a mistake)\b", re.I)
_WRONG_SLOTS = {"number": Slot.PHONE, "phone": Slot.PHONE, "name": Slot.NAME, "time": Slot.TIME, "day": Slot.DAY,
                "date": Slot.DAY}
_NEVER_MIND = re.compile(r"\b(never ?mind|forget it|forget that|cancel that|scratch that|don'?t bother)\b", re.I)

_INTENTS = {
    Intent.BOOK: re.compile(r"\b(book\w*|reserv\w*|a table|table for|get a table|seats? for|room for|space for|"
                            r"availability|available for|fit (us|\w+ of us|\w+ people) in|put us down|"
                            r"hold (a table|something|it) for|hold it for us|somewhere for \w+ to sit|"
                            r"seat (us|\w+ of us))\b",
                            re.I),
    Intent.ORDER: re.compile(r"\b(order\w*|to go|take ?-?out|take ?-?away|for (pick ?-?up|collection)|to collect|"
                             r"pick(ing)? (it|them|that|this|those) up|pick ?-?up|grab and go|"
                             r"come (and )?(grab|get|collect)|"
                             r"swing by and (grab|get|pick)|make (me|us)|whip (me |us )?up)\b",
                             re.I),
    Intent.MESSAGE: re.compile(
        r"\b(leave a message|take a message|a message|pass (on )?a message|tell (the|your) \w+|"
        r"let (the|your) \w+ know|(have|ask|get) (the|your|someone|somebody)( \w+)? (to )?(call|ring)|"
        r"call me back|give me a (call|ring|bell)|ring me back|get back to me|call me about|ring me about|"
        r"(call|ring|phone) me\W*$|reach out to me|reach out|contact me|get in touch|message for|return my call|"
        r"pass (it )?on to|tell whoever|let whoever)\b|\btell (?-i:[A-Z])[a-z]+ (that )?", re.I),
    Intent.CANCEL: re.compile(
        r"\b(cancel\w*|cancer|call (it |that |the \w+ |our \w+ |my \w+ )?off|scrap|"
        r"(scratch|disregard|void|nix|forget about) (my|our|the|that) ([a-z]+ ){0,2}(order|booking|reservation|table)|"
        r"take (us|me|it|our \w+|my \w+) off|knock [^.?!]{0,30} on the head|forget (the|my) [^.?!]{0,30}\border\w*|"
        r"(can'?t|cannot|won'?t|will not|wont|not going to|aren'?t going to|not gonna|am not|i'?m not) (be able to )?"
        r"(make it|come|be coming|be there|pick (it|them) up|be picking (it|them) up|(be )?collect(ing)? (it|them))|"
        r"drop (our|my) (booking|reservation|table|order))\b",
        re.I),
    Intent.LOOKUP: re.compile(r"\b((i|we) (booked|reserved|made a (booking|reservation))\b.{0,80}\b(what|which) "
                              r"(day|time|date)\b|\b(what|which) (day|time|date) (it|that) (was|is)\b|"
                              r"(check|confirm|look up|find|what time is|when is|do i have|do we have|is there)"
                              r"( on)? "
                              r"(my|our|a|the) (booking|reservation|table)|(booking|reservation) under|"
                              r"(what time|when|which day|what day)\b[^.?!]{0,20}\b(did|do|have) (i|we) (book|reserve)|"
                              r"(did|has) (my|our) (booking|reservation) (go through|work)|"
                              r"is (my|our) (booking|reservation|table) (still )?(on|there|confirmed)|"
                              r"(confirm|check|checking|remind me|remember)\b[^.?!]{0,40}\b(booking|reservation|"
                              r"booked|table)|(booking|reservation)('s| is) still on|"
                              r"(how many|what time|which day|when)\b[^.?!]{0,30}\b(my|our) "
                              r"(booking|reservation|table)|"
                              r"did (my|our) (\w+ )?order go through|(my|our) (\w+ )?order('s| is) in|"
                              r"what time'?s my (pick ?-?up|order)|when'?s (it|my order) ready|"
                              r"(check|checking) (on )?(my|our) (\w+ )?order|"
                              r"(move|change|push|shift|bring forward|add \w+ to|update)\b[^.?!]{0,30}\b(my|our) "
                              r"(booking|reservation|table|order|earlier order|pick ?-?up|takeaway|takeout)|"
                              r"(i|we|my \w+|our \w+) (have|made|got|booked) (a|an) (booking|reservation|table)\b"
                              r"[^.?!]{0,80}\b(what time|which day|what day|when|how many|tell me|check|remind|"
                              r"remember|whether|if it was)|"
                              r"(i|we) (have|made|placed|booked) (a|an|my|our) (booking|reservation|order)\b"
                              r"[^.?!]{0,60}\b(change|move|make it|add|instead|push))\b", re.I),
    Intent.TRANSFER: re.compile(
        r"\b((speak|talk|chat|have a word|a word) (to|with) (a |an |the |some|a member of )?(one|body|person|human|"
        r"manager|staff|someone|somebody|anyone|anybody|real person|representative|owner|boss|member of staff)|"
        r"(real|actual|live|real live) (person|human)|human being|operator|representative|someone in charge|"
        r"(chat|talk|speak) (with|to) (live|someone live)|(get|put) [^.?!]{1,40} on the (line|phone)|"
        r"put me (through|threw)|transfer me|connect me (to|with)|(make|file|have) a complaint|complain(ing)? about)\b|"
        r"^\W*(the )?(manager|a (real )?person|a human|someone|somebody),? please\W*$", re.I),
    Intent.GOODBYE: re.compile(r"\b(bye|goodbye|good ?bye|good ?buy|bye now|ta-?ra|take care|cheerio|good day|"
                               r"that'?s all|that is all|that'?s it|that will be all|that'?s everything|"
                               r"nothing else|have a (good|nice|great|lovely) (day|night|evening|one|weekend))\b",
                               re.I),
}
# "Do you take reservations?", "Do you do takeout?": a question about a service, nothing to do.
_SERVICE_QUESTION = re.compile(r"\b(do|does|are|is|can|could) (you|there|it|they)\b|\bhow long\b", re.I)
# "do I need to book ahead?", "should we reserve?": a question about the rule, not a request
_POLICY_QUESTION = re.compile(r"\b((do|does) (i|we|one|people) (need|have) to|should (i|we|one)) "
                              r"(book|reserve|order|call)|"
                              r"\bis (it|a booking|a reservation) (necessary|needed|required)",
                              re.I)
_REQUEST_VERBS = re.compile(r"\b(book|cancel|reserve|order|tell(?! me (?:whether|if|how|what|when|where|why|about))|"
                            r"let|pass|leave|take a message|call me|put me|make (?:me|us)|whip up|fix (?:me|us)|"
                            r"set aside|put aside|hold (?:me|us|one|a|two|it)|"
                            r"i'?d like|i would like|"
                            r"i want|i'?ll have|i will have|can i (get|have|order|book|make)|could i (get|have|order|"
                            r"book|make)|give me|get me)\b", re.I)
_ORDER_VERBS = re.compile(r"\b(i'?d like|i would like|i want|i'?ll have|i will have|i'?ll take|can i (get|have)|"
                          r"i'?ll grab|can i grab|could i grab|let me get|lemme get|we'?ll have|we'?ll take|i need|"
                          r"could we (get|have)|can we (get|have)|do me|put in|i'?m after|"
                          r"could i (get|have)|may i have|give me|get me|we'?d like|we want|add|also)\b", re.I)
_SPECIFICS = re.compile(rf"\d|\b({_HOUR}|{alternation(RELATIVE_DAYS)}|{WEEKDAY_NAMES}|noon|am|pm|a\.m|p\.m)\b", re.I)
_QUESTION_START = re.compile(r"^\W*(how|what|when|where|which|who|why|is|are|do|does|did|can|could|will|would|"
                             r"should|may|have|has)\b", re.I)
_PRICE = re.compile(r"\b(how much|what('?s| is| will be| would be) (the |my )?(total|price|cost|damage)|"
                    r"what does (that|it|this) (come to|cost)|total|cost|costs|price of|prices?|set me back|"
                    r"going for|go for|goes for|run me|come to|comes to|charge for|how pricey|how expensive)\b",
                    re.I)
_READY = re.compile(r"\b(how long|when will (it|that|they|the order|my order) be ready|what time (will|can) i "
                    r"pick|ready by|ready at)\b", re.I)
_ALLERGY_CUE = re.compile(r"\b(allerg\w*|intoleran\w*|celiac|coeliac|anaphyla\w*|safe|contains?|free|"
                          r"(any|have|has) (\w+ ){0,4}in it)\b", re.I)

_MESSAGE_CUES = [
    re.compile(r"\b((?:have |can |could |get |ask )?(?:someone|somebody|the \w+|you|they)? ?"
               r"(?:call|ring|phone|get back to) me(?: back)? (?:about|regarding|re|to talk about|concerning) .+)",
               re.I),
    re.compile(r"\b(?:tell|let) (?:the|your) (?:manager|owner|chef|staff|kitchen|boss|team|\w+)(?: know)?(?: that)?"
               r"[,:]?\s+(.+)", re.I),
    re.compile(r"\b(?:leave|take|pass(?: on)?|give|send) (?:a|the|this) message (?:to|for) (?:the|your) \w+"
               r"(?: that| saying)?[,:]?\s+(.+)", re.I),
    re.compile(r"\bmessage for (?:the|your) \w+\s*[,:]\s*(.+)", re.I),
    re.compile(r"\bpass (?:it )?on to (?:whoever|the \w+|your \w+)(?: [a-z ]{0,30}?)? that (.+)", re.I),
    re.compile(r"\btell [A-Z][a-z]+ (?:that )?(.+)"),
    re.compile(r"\b(?:ask|have|get) (?:the|your) (?:manager|owner|chef|staff|kitchen|boss)\s+(?:to\s+)?(.+)", re.I),
    re.compile(r"\b(?:leave|take|pass on|give) (?:a|the) message(?: for (?:the|your) \w+)?(?: that| saying)?"
               r"[,:]?\s+(.+)", re.I),
]


# Fillers speech to text keeps ("um", "uh", ", like,", "you know"): they break the phrases below apart.
_FILLERS = re.compile(r",?\s*\b(?:u+m+|u+h+m*|e+r+m*|hmm+|mm+)\b[,.]?\s*|,\s*(?:like|you know)\s*,|"
                      r"\b(?:you know),\s*|(?<=\s)like,\s*", re.IGNORECASE)
_LIKE_BEFORE_AMOUNT = re.compile(r"\b(at|around|in|for|about|by) like\b", re.IGNORECASE)
# Where a caller corrects what they said in the same breath ("at 7 saturday, no wait, 8", "two dragon rolls
# no make that three", "four tomorrow at six, actually five people"): what follows replaces what went before.
_SELF_CORRECTION = re.compile(r"[,.;!?]?\s*\b(?:no,? wait|no,? sorry|sorry,? i mean|i mean|actually|or rather|"
                              r"no,? make (?:that|it)|make (?:that|it)|scratch that|change (?:that|it) to|"
                              r"swap (?:that|it) for|no,|sorry,|wait\b)(?=\s|,)", re.IGNORECASE)
# "swap that for a tempura", "… instead": one dish replaces another.
SWAP = re.compile(r"\b(swap|switch|replace|change) (that|it|this)\b.*\b(for|to|with)\b|\binstead\b", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"\W*(?:no|sorry|wait|actually|make (?:it|that))?\W*(\d{1,2})\b(?![:\d])")
_BARE_DIGITS = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\b(?!\s*(?:people|persons|guests|of us))")


# Day words speech to text splits or shortens ("to morrow", "to nite", "tmrw").
_SPLIT_DAY_WORDS = [(re.compile(r"\bto[ -]?morr?ow\b|\btmrw\b|\b2morrow\b", re.I), "tomorrow"),
                    (re.compile(r"\bto[ -]nigh?te?\b|\btonite\b", re.I), "tonight")]


def spoken_words(text: str) -> str:
    """The caller's words without fillers, spaces tidied."""
    for pattern, word in _SPLIT_DAY_WORDS:
        text = pattern.sub(word, text)
    text = _LIKE_BEFORE_AMOUNT.sub(r"\1", _FILLERS.sub(" ", text))
    text = re.sub(r"\b(at|around|about|by|in|for|say),\s+", r"\1 ", text, flags=re.IGNORECASE)  # "around, uh, one"
    return re.sub(r"\s+([,.?!])", r"\1", " ".join(text.split())).strip(" ,")


def understand(text: str, menu: Menu, expecting: Slot | None = None) -> Heard:
    """Read one caller turn (``expecting``: what the desk just asked for)."""
    text = spoken_words(text)
    corrected = _corrected_in_the_same_breath(text, menu, expecting)
    if corrected is not None:
        return corrected
    return _read(text, menu, expecting)


def _corrected_in_the_same_breath(text: str, menu: Menu, expecting: Slot | None) -> Heard | None:
    """A turn that corrects itself, read as two: what came before, and what replaces it."""
    markers = [m for m in _SELF_CORRECTION.finditer(text) if m.start() > 0 and re.search(r"\w", text[:m.start()])
               and not _AWAITS_ITS_VALUE.search(text[:m.start()])]
    if not markers:
        return None
    cut = markers[-1]
    before, after = _read(text[:cut.start()], menu, expecting), text[cut.start():]
    if Intent.MESSAGE in before.intents:
        return None  # a message is the caller's own words, corrections and all
    heard_after = _read(after, menu, expecting)
    replaced = _replaced_detail(text[:cut.start()], after, menu)
    if before.name and heard_after.name is None:
        renamed = re.match(rf"\W*(?:sorry|i mean|no|actually)?\W*({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})\b", after)
        if renamed and not any(w.lower() in _NOT_NAMES for w in renamed.group(1).split()):
            heard_after.name = renamed.group(1)  # "name's Tom, sorry, Tomasz Nowak"
    if not (before.details or before.intents) or not (heard_after.details or replaced
                                                      or re.search(r"\d", clock_words(after))):
        return None
    merged = before
    merged.text, merged.correction = text, True
    merged.intents |= heard_after.intents | _intents(text, menu)
    if before.phone and heard_after.phone is not None and len(heard_after.phone) < len(before.phone):
        heard_after.phone = None  # the digits said again: their tail replaced below
    if before.phone and heard_after.phone is None:
        run = next((r for r in digit_runs(after) if len(r.digits) >= 3), None)
        if run is not None and len(run.digits) < len(before.phone):
            # "503 555 0186, no sorry, 0168": the digits said again replace as many at the number's end
            heard_after.phone = before.phone[:-len(run.digits)] + run.digits
    for name in ("party", "day", "time", "name", "phone", "message"):
        value = getattr(heard_after, name)
        if value not in (None, ""):
            setattr(merged, name, value)
    if replaced is not None and replaced[0] is not Slot.ITEMS:
        slot, value = replaced
        if slot is Slot.PICKUP:
            heard_after.pickup = value
        else:
            setattr(merged, slot.value, value)
        said_last = _detail_said_last(text[:cut.start()], menu)
        if slot is Slot.TIME and said_last is not None and said_last[0] is Slot.PARTY:
            merged.party = _party(said_last[1], expecting)
    lead = _LEADING_NUMBER.match(clock_words(after))
    if heard_after.dishes and lead and before.dishes and before.dishes[-1].item is not None and not any(
            m.start <= len(lead.group(0)) for m in heard_after.dishes):
        # "a margherita pizza, no, two, and a tiramisu": the count is the last dish's, then more dishes
        before.dishes[-1] = replace(before.dishes[-1], quantity=int(lead.group(1)), change="set")
    if heard_after.dishes:
        if (SWAP.search(after) or replaced is not None and replaced[0] is Slot.ITEMS) and before.dishes:
            merged.dishes = [*[replace(d, change="remove") for d in before.dishes[-1:]], *heard_after.dishes]
        else:
            merged.dishes = before.dishes + heard_after.dishes
    elif not heard_after.details:
        # the number that corrects is said first ("no, 8, ..."), not somewhere later ("… be there first")
        bare = _BARE_DIGITS.match(clock_words(_MARKER_WORDS.sub("", after)))
        if bare is not None:
            number = int(bare.group(1))
            if (before.time or before.day) and 1 <= number <= 12:
                merged.time = f"at {bare.group(0)}"
            elif before.party:
                merged.party = number
            elif len(before.dishes) == 1 and before.dishes[0].item is not None:
                merged.dishes = [replace(before.dishes[0], quantity=number, change="set")]
    if merged.time and (Intent.ORDER in merged.intents or expecting is Slot.PICKUP or before.pickup):
        merged.pickup = _pickup(None, False, merged.day, merged.time)
    elif heard_after.pickup:
        merged.pickup = heard_after.pickup
    merged.never_mind = False
    return merged


# "under my partner's name actually, Sunil Mehta": a cue still waiting for its value, not a correction
_AWAITS_ITS_VALUE = re.compile(r"\b(?:name|number|is|under)\W*$", re.I)
# The words that open a correction, one list for where it starts and where the words before it end.
_CORRECTION_OPENERS = (r"no|nope|sorry|wait|actually|i mean|or rather|make (?:that|it)|scratch that|"
                       r"change (?:that|it) to")
_MARKER_WORDS = re.compile(rf"^(?:\W|\b(?:{_CORRECTION_OPENERS})\b)+", re.I)
_TRAILING_MARKERS = re.compile(rf"(?:\W|\b(?:{_CORRECTION_OPENERS}|um|uh)\b)+$", re.I)


def _clock_numbers(text: str) -> list[str]:
    """The numbers in ``text`` as clock words write them ("half six" → ["6:30"])."""
    return re.findall(r"\d+(?::\d+)?", clock_words(text))


def _detail_said_last(text: str, menu: Menu) -> tuple[Slot, str] | None:
    """Which detail the words end on ("… for 4 people at 5:30" → the time, "book for five" → the party),
    and the words before it."""
    words = _TRAILING_MARKERS.sub("", text).split()
    numbers = _clock_numbers(" ".join(words))
    last_number = numbers[-1] if numbers else None
    for k in range(1, min(5, len(words)) + 1):
        tail, head = " ".join(words[-k:]), " ".join(words[:-k])
        if minutes_from_now(tail) is not None:
            return Slot.PICKUP, head
        heard = _read(tail, menu)
        # a value counts only if it holds the last number said ("for three, Saturday, six": not the party)
        if heard.time:
            return (Slot.TIME, head) if last_number in _clock_numbers(heard.time) else None
        if heard.party:
            return (Slot.PARTY, head) if str(heard.party) == last_number else None
        if any(d.item is not None for d in heard.dishes):
            return Slot.ITEMS, head
    return None


def _replaced_detail(before: str, after: str, menu: Menu) -> tuple[Slot, Any] | None:
    """A correction replaces the detail said just before it, whatever else follows: "at 5:30, no, 6, on
    Saturday" is 6; "for five, no actually six, on Sunday" is six people; "in thirty minutes, actually make
    that an hour" is an hour."""
    said_last = _detail_said_last(before, menu)
    lead = re.split(r"[,;.?!—–]|\s-\s|\b(?:on|and|for|my|to)\b", _MARKER_WORDS.sub("", after), maxsplit=1)[0].strip()
    if said_last is None or not lead:
        return None
    slot, head = said_last
    if slot is Slot.PARTY and not _read(lead, menu, Slot.PARTY).party and (time := _read(lead, menu).time):
        # "book two for eight, sorry, half eight": the "for eight" was the time, and the party is said before it
        return (Slot.TIME, time) if _party(head, None) else None
    if slot is Slot.PICKUP:
        minutes = minutes_from_now(lead if lead.lower().startswith("in ") else f"in {lead}")
        if minutes is None:  # "in twenty minutes, make that forty": the unit said before
            unit = "hours" if re.search(r"\bhours?\b", before[len(head):]) else "minutes"
            minutes = minutes_from_now(f"in {lead} {unit}")
        return (slot, _pickup(minutes, False, None, None)) if minutes is not None else None
    heard = _read(lead, menu, slot)
    if slot is Slot.ITEMS:
        # "a lasagna, wait, carbonara": another dish instead; "…, no wait, two lasagnas" or "hold the soup" are no swap
        replaced = menu.mentions(before)[-1:]
        swap = heard.dishes and all(d.item is not None and d.change == "set" for d in heard.dishes) and not any(
            d.item == r.item for d in heard.dishes for r in replaced)
        return (slot, heard.dishes) if swap else None
    value = heard.time if slot is Slot.TIME else heard.party
    return (slot, value) if value else None


def _read(text: str, menu: Menu, expecting: Slot | None = None) -> Heard:
    heard = Heard(text=_number_homophones(text.strip(), menu, expecting))
    text = heard.text
    if not text:
        return heard
    heard.yes = bool(_YES.search(text)) and not _NO.search(text)
    heard.no = bool(_NO.search(text))
    heard.correction = bool(_CORRECTION.search(text))
    heard.never_mind = bool(_NEVER_MIND.search(text))
    wrong = _WRONG.search(text)
    heard.wrong = _WRONG_SLOTS[wrong.group(1).lower()] if wrong else None
    if wrong:
        heard.no = True
    heard.question = "?" in text or bool(_QUESTION_START.search(text))
    heard.asks_price = bool(_PRICE.search(text))
    heard.asks_ready = bool(_READY.search(text))
    heard.intents = _intents(text, menu)

    phone = phone_in(text, expecting=expecting is Slot.PHONE)
    heard.phone = phone.digits if phone else None
    rest = text if phone is None else text[:phone.start] + " " + text[phone.end:]
    if phone is None and expecting is not Slot.PHONE:
        # A cue with too few digits after it is still a number ("my number is 555 1234").
        cues = list(PHONE_CUE.finditer(text))
        cue = cues[-1] if cues else None  # the last one
        runs = [r for r in digit_runs(text) if cue is not None and r.start >= cue.end()]
        if runs:
            heard.phone = "".join(r.digits for r in runs)
            rest = text[:runs[0].start] + " " + text[runs[-1].end:]

    heard.message = _message(rest) if Intent.MESSAGE in heard.intents or expecting is Slot.MESSAGE else None
    if expecting is Slot.MESSAGE and not heard.message and not heard.yes and not heard.no:
        heard.message = message_text(rest)
    elif Intent.MESSAGE in heard.intents and not heard.message and len(re.findall(r"[A-Za-z']+", rest)) >= 8:
        # "I think I left my sunglasses on the patio, could someone call me": the turn is the message.
        heard.message = message_text(rest)
    body = rest if heard.message is None else rest.replace(heard.message, " ")

    if (expecting is Slot.PHONE and heard.phone is not None and len(heard.phone) <= 2 and heard.correction
            and not PHONE_CUE.search(text)):
        heard.phone, body = None, text  # "make that seven instead" while the number is asked: a correction
    if heard.phone is not None and len(heard.phone) < 7 and (
            _party(text, None) or re.search(r"\b(at|around|by)\s+\w+|\b(a\.?m\b|p\.?m\b|o'?clock)", text, re.I)):
        # "make it six people" while the desk waits for the rest of a number: a party, not digits.
        heard.phone, body = None, text
    body = _NEGATED.sub(" ", body)  # "it's Friday, not tomorrow": what is said not to be is no detail
    heard.name = _name(body, expecting is Slot.NAME and not heard.question and not heard.correction
                       and not (menu.items and any(m.item for m in menu.mentions(body)))
                       and not _TIME.search(spoken_clock(body)))
    if heard.name and heard.name.islower():
        heard.name = heard.name.title()  # a lowercase transcript: stored as the owner would write it
    if heard.name is None and heard.phone is not None:
        heard.name = _name_before_number(text)
    if heard.name:
        body = re.sub(re.escape(heard.name), " ", body, flags=re.I)
    heard.dishes = menu.mentions(body) if menu.items else []
    heard.party = _party(body, expecting)
    clock = spoken_clock(body)
    heard.day = _last(_DAY, clock)
    heard.time = _last(_TIME, clock)
    if heard.time is None and expecting in (Slot.TIME, Slot.WHEN, Slot.PICKUP) and heard.party is None:
        bare = _BARE_NUMBER.search(clock)
        if bare:
            heard.time = bare.group(1)
    if heard.phone is None and expecting is not Slot.PHONE:
        heard.loose_digits = _loose_digits(body, heard) or None
    minutes = minutes_from_now(body)
    asap = _ASAP.search(body)
    if minutes is not None or asap or (heard.time and (Intent.ORDER in heard.intents or expecting is Slot.PICKUP)):
        heard.pickup = _pickup(minutes, bool(asap), heard.day, heard.time)
    heard.allergens = allergens_named(text) if _ALLERGY_CUE.search(text) else []
    if heard.party is None and Intent.BOOK in heard.intents and (fragment := _NUMBER_ALONE.search(body)):
        heard.party = _number(fragment.group(1))  # "Two. Tuesday. Eight p.m. Book it.": the bare count is the party
    if (heard.party and (heard.day or heard.time) and not heard.dishes
            and not heard.intents & {Intent.ORDER, Intent.CANCEL, Intent.LOOKUP, Intent.MESSAGE}):
        heard.intents.add(Intent.BOOK)  # "got room for four Saturday night?": a booking without the word
        heard.implied.add(Intent.BOOK)
    if (any(m.item is not None for m in heard.dishes) and not heard.intents and not heard.question
            and not heard.asks_price and (heard.pickup or heard.time or heard.phone or heard.name
                                          or minutes is not None or len(heard.dishes) > 1)):
        # "Buddha bowl. 305-555-0171.", "a miso and a California roll for half twelve tomorrow": an order
        heard.intents.add(Intent.ORDER)
        heard.implied.add(Intent.ORDER)
        if heard.time and not heard.pickup:
            heard.pickup = _pickup(None, False, heard.day, heard.time)
    return heard


# A number said as a sentence of its own ("Two."), not a time.
_NUMBER_ALONE = re.compile(rf"(?:^|[.!?;]\s+){_N}\s*[.!?;](?!\s*(?:a\.?\s?m\b|p\.?\s?m\b|o'?clock))", re.I)


def _loose_digits(body: str, heard: Heard) -> str:
    """Digits that are no time, party or date ("for Ann Lee, 503", the rest in the next breath)."""
    taken = re.sub(r"\D", "", f"{heard.time or ''} {heard.day or ''} {heard.party or ''}")
    runs = [r.digits for r in digit_runs(body) if len(r.digits) >= 3 and r.digits not in taken
            and not (heard.day and len(r.digits) == 4)]  # "December 12, 2026": a year
    return "".join(runs)


def _intents(text: str, menu: Menu) -> set[Intent]:
    intents = {intent for intent, pattern in _INTENTS.items() if pattern.search(text)}
    service_question = bool(_SERVICE_QUESTION.search(text) and not _REQUEST_VERBS.search(text)
                            and not _SPECIFICS.search(text))
    if service_question or _POLICY_QUESTION.search(text):
        intents -= {Intent.BOOK, Intent.ORDER, Intent.MESSAGE}
    if Intent.ORDER in intents and not (re.search(r"\border\b", text, re.I) or menu.mentions(text) or (
            _ORDER_VERBS.search(text) and re.search(r"\b(food|something( to eat)?|stuff|take ?-?out|take ?-?away|"
                                                     r"pick ?-?up|collection|lunch|dinner|breakfast)\b", text, re.I))):
        intents.discard(Intent.ORDER)  # "how long does takeout take?"
    if (Intent.ORDER not in intents and _ORDER_VERBS.search(text) and not _PRICE.search(text)
            and any(m.quantity or m.change != "set" for m in menu.mentions(text))):
        intents.add(Intent.ORDER)  # "I'll have two dragon rolls", "can I get a miso soup"
    if Intent.TRANSFER in intents:
        intents.discard(Intent.MESSAGE)
    if Intent.MESSAGE in intents and re.search(r"\b(book|reserv)\w*", text, re.I) and not re.search(
            r"\b(message|tell|let|call me|call back|give me a (call|ring)|get back to me|get in touch)\b", text, re.I):
        intents.discard(Intent.MESSAGE)
    if Intent.CANCEL in intents and re.search(r"\b(cancel\w*) (that|it|this)\b", text, re.I) and not re.search(
            rf"\b(booking|reservation|table|order|take ?-?out|pick ?-?up|pick (it|them) up|collect\w*|coming|come|"
            rf"make it|booked|ordered|called in|{WEEKDAY_NAMES}|"
            rf"tomorrow|tonight|\d+(st|nd|rd|th)|tenth|twelfth)\b", text, re.I):
        intents.discard(Intent.CANCEL)  # "cancel that": never mind, handled apart
    return intents


def _last(pattern: re.Pattern, text: str) -> str | None:
    found = [m.group(1) for m in pattern.finditer(text)]
    return " ".join(found[-1].split()).strip(" ,") if found else None


def _number(word: str) -> int | None:
    word = word.lower()
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word)


def _party(text: str, expecting: Slot | None) -> int | None:
    counted = _people_counted(text)
    if counted:
        return counted
    both = _ADULTS_AND_KIDS.search(text)
    if both:
        return (_number(both.group(1)) or 0) + (_number(both.group(2)) or 0)
    found = None
    for pattern in _PARTY:
        for match in pattern.finditer(text):
            found = (match.start(), _number(match.group(1)))
    if found is not None:
        return found[1]
    if _PARTY_OF_ONE.search(text):
        return 1
    if _COUPLE.search(text):
        return 2
    if expecting is Slot.PARTY:
        homophone = _PARTY_HOMOPHONE.match(text)
        if homophone:
            return _PARTY_HOMOPHONES[homophone.group(1).lower()]
    if _PARTY_OF_TWO.search(text):
        return 2
    if expecting is Slot.PARTY:
        bare = _BARE_NUMBER.search(text)
        if bare and not _TIME.search(spoken_clock(text)):
            return _number(bare.group(1))
    return None


_NOT_NAMES_BEFORE_NUMBER = frozenset({"it's", "i'm", "that's", "here's", "there's", "what's", "number", "phone",
                                      "cell", "mobile", "call", "me", "at", "is", "oh"})


def _name_before_number(text: str) -> str | None:
    for match in _NAME_BEFORE_NUMBER.finditer(text):
        words = [w.lower() for w in match.group(1).split()]
        if not any(w in _NOT_NAMES or w in _NOT_NAMES_BEFORE_NUMBER for w in words):
            return match.group(1)
    return None


def _cued_name(said: str) -> str | None:
    """The name at the start of the words after a cue, up to the first word that is no name ("Smith and")."""
    name_words = []
    for word in said.split():
        if word.lower() in _NOT_NAMES:
            break
        name_words.append(word)
    return " ".join(name_words).strip("'") or None


def _overlapping(pattern: re.Pattern, text: str):
    """Every match of ``pattern``, also those starting inside an earlier one ("under my wife's name, Leila")."""
    position = 0
    while (match := pattern.search(text, position)) is not None:
        yield match
        position = match.start() + 1


def _name(text: str, expecting: bool) -> str | None:
    for pattern in _NAME_CUES:
        found = [name for match in _overlapping(pattern, text) if (name := _cued_name(match.group(1)))]
        if found:
            # "It's for Bridget, well, put it under Bridget Kelly": the same name said again, in full, wins.
            fuller = [n for n in found[1:] if n.lower().startswith(found[0].lower() + " ")]
            return fuller[-1] if fuller else found[0]
    bare = re.fullmatch(rf"\W*({_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}})\W*", text.strip())
    if bare and not any(w.lower() in _NOT_NAMES for w in bare.group(1).split()):
        return bare.group(1)  # "Sam Stone." said on its own is a name, whatever was asked
    if expecting and not re.search(r"\d", text):
        cleaned = re.sub(r"^\W*(?:(?:yes|yeah|sure|okay|ok|uh|um|so|well|great|thanks|thank you|its|it'?s|it is|"
                         r"my name is|my name'?s|it'?s me|this is me|me|"
                         r"name is|this is|i'?m|i am|that'?s|the name is|under)\W+)*", "", text, flags=re.I)
        words = re.findall(r"[A-Za-z][A-Za-z'\-]*", cleaned)
        name_words = []
        for word in words:
            if word.lower() in _NOT_NAMES or word.lower() in ("and", "my", "number", "phone"):
                break
            name_words.append(word)
        if 0 < len(name_words) <= 3:
            return " ".join(w[:1].upper() + w[1:] for w in name_words)
    return None


def _message(text: str) -> str | None:
    for pattern in _MESSAGE_CUES:
        match = pattern.search(text)
        if match:
            if _POINTS_BACK.search(match.group(1)):
                # "I bought a gift card … it isn't working, can somebody call me about it?": what "it" is
                # was said before the cue, so the message is the whole turn up to there.
                return message_text(text[:match.end(1)]) or None
            return message_text(match.group(1)) or None
    return None


_POINTS_BACK = re.compile(r"\b(?:about|regarding|concerning|re) (?:it|that|this|them|those|all that)\W*$", re.I)


def _sentence(text: str) -> str:
    text = text.strip(" ,;:?!.")
    return text[:1].upper() + text[1:] + "." if text else text


_CONTACT_SENTENCE = re.compile(
    r"^\W*(?:(?:and|my name is|name is|i'?m|i am|this is|"
    r"it'?s(?! about| regarding| that| because| for| to| a | an | the | my | our )|my number is|number is|"
    r"phone( number)? is|"
    r"you can reach me (at|on)|call me (at|on)|thanks?( you)?|please)\b.*)?$", re.I)


# A message that says only that the caller wants one: the message itself is still to come.
_ONLY_ASKS_TO_BE_CALLED = re.compile(
    r"(?:(?:hi|hello|hey|yes|so|um|yeah)\W+)*(?:(?:could|can|would|will|may) (?:i|you|someone|somebody|the \w+)\s+)?"
    r"(?:(?:i'?d like|i would like|i want|i wanna|i need|i'?d love|let me|i'?m calling|i was hoping) to\s+)?"
    r"(?:please\s+)?"
    r"(?:leave a message|take a message|(?:have|get|ask) (?:someone|somebody|the \w+) (?:to )?call me(?: back)?|"
    r"call me(?: back)?|give me a call|get back to me)(?: (?:for|with) (?:the|your) \w+)?(?:,? please)?\W*", re.I)


def message_text(text: str) -> str | None:
    """The message itself: the caller's words up to where they give their details."""
    sentences = re.split(r"(?<=[.?!])\s+", text.strip())
    kept = []
    for sentence in sentences:
        sentence = re.split(r"[,.]?\s+(?:my name is|i'?m [A-Z]|this is [A-Z]|my number is|you can reach me|"
                            r"call me (?:at|on)|and my number)\b", sentence)[0]
        if _CONTACT_SENTENCE.match(sentence) or not re.search(r"[A-Za-z]{2}", sentence):
            break
        kept.append(sentence.strip())
    message = " ".join(kept).strip(" ,")
    message = re.sub(r"^(please|that|just)\s+", "", message, flags=re.I)
    message = re.sub(r"\W*\b(then|please|now|thanks|thank you)\W*$", "", message, flags=re.I)
    if re.fullmatch(r"(for|to|with) (the|your|our) \w+( please)?", message, re.I) or _ONLY_ASKS_TO_BE_CALLED.fullmatch(
            message):
        return None  # "leave a message for the manager", "could someone call me back": the message is to come
    if len(re.findall(r"[A-Za-z]{2,}", message)) < 2:
        return None  # "take a message for the manager, then?": the message itself is still to come
    return _sentence(message) or None


def _pickup(minutes: int | None, asap: bool, day: str | None, time: str | None) -> str:
    if minutes is not None:
        return f"in {minutes} minutes"
    if asap and not time:
        return "asap"
    return " ".join(part for part in (day, f"at {time}" if time and not time.lower().startswith("at ") else time)
                    if part)
