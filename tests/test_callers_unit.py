"""Callers who phrase things their own way: times, days, parties and requests said as people say them,
through the desk and the ``voicebot chat`` seam. The sentences here are this file's own (not the
benchmark corpus's), written to the classes of phrasing the desk must read, not to one transcript.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, time

import pytest

from helpers import demo_database
from voicebot.business import CompanyRepository
from voicebot.business.menu import Menu
from voicebot.business.when import minutes_from_now, parse_day, parse_when
from voicebot.front_desk import FrontDesk
from voicebot.front_desk.claims import Breach, check_llm_reply
from voicebot.front_desk.understanding import Intent, Slot, understand

WEDNESDAY_LUNCH = datetime(2026, 12, 2, 12, 30)
EVENINGS = {day: (time(12), time(21)) for day in range(7)}


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    db = demo_database(tmp_path_factory.mktemp("callers") / "business.db")
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def sushi(database):
    return CompanyRepository(database).get(2)


@pytest.mark.parametrize(("day", "clock", "expected"), [
    ("Thursday", "a quarter past eight", datetime(2026, 12, 3, 20, 15)),
    ("tomorrow", "half past five", datetime(2026, 12, 3, 17, 30)),
    ("Sunday", "half eight", datetime(2026, 12, 6, 20, 30)),
    ("Friday", "five to seven", datetime(2026, 12, 4, 18, 55)),
    ("Saturday", "a quarter to eight in the evening", datetime(2026, 12, 5, 19, 45)),
    ("tonight", "six tonight", datetime(2026, 12, 2, 18, 0)),
    ("Tuesday", "sevenish", datetime(2026, 12, 8, 19, 0)),
    ("a week from Thursday", "6 pm", datetime(2026, 12, 10, 18, 0)),
    ("Sunday week", "1 pm", datetime(2026, 12, 13, 13, 0)),
])
def test_clock_idioms_and_days_a_week_on(day, clock, expected):
    assert parse_when(day, clock, WEDNESDAY_LUNCH, EVENINGS) == expected


def test_a_week_later_is_counted_from_the_day_named():
    assert parse_day("a week on Monday", WEDNESDAY_LUNCH).isoformat() == "2026-12-14"


@pytest.mark.parametrize(("words", "minutes"), [
    ("ready in fifteen minutes?", 15), ("in about half an hour", 30), ("I'll be there in an hour and a half", 90),
    ("in 25 mins", 25), ("ten minutes from now", 10), ("around seven", None),
])
def test_pickup_in_so_many_minutes(words, minutes):
    assert minutes_from_now(words) == minutes


@pytest.mark.parametrize(("words", "expecting", "party"), [
    ("could you book us for six on Friday", None, 6),
    ("we'd be three adults and one child", None, 4),
    ("just the couple of us, Sunday lunch at one", None, 2),
    ("fore", Slot.PARTY, 4),
    ("um, ate", Slot.PARTY, 8),
    ("too people", Slot.PARTY, 2),
    ("tomorrow at nine for three please", None, 3),
])
def test_party_sizes_said_many_ways(sushi, words, expecting, party):
    assert understand(words, Menu(sushi.menu), expecting).party == party


@pytest.mark.parametrize("words", [
    "any chance you can squeeze 3 in on Thursday at 7?",
    "is there space for five people friday evening at 6",
])
def test_a_booking_asked_for_without_the_word(sushi, words):
    assert Intent.BOOK in understand(words, Menu(sushi.menu)).intents


def test_a_name_in_an_unpunctuated_transcript_stops_before_the_number(sushi):
    heard = understand("yeah my name is kofi mensah cell is two one two five five five zero one three three",
                       Menu(sushi.menu), Slot.NAME)
    assert heard.name == "Kofi Mensah"
    assert heard.phone == "2125550133"


@pytest.mark.parametrize(("heard", "name"), [
    ("it's me, Dara Quinn", "Dara Quinn"),
    ("this is me, Olu", "Olu"),
    ("It's me a wangui.", None),  # "Mia Wong" misheard: no name is better than "Me"
    ("me", None),
])
def test_a_pronoun_is_never_taken_for_the_name(sushi, heard, name):
    assert understand(heard, Menu(sushi.menu), Slot.NAME).name == name


def test_a_question_about_ones_booking_is_a_lookup_not_a_new_booking(sushi):
    heard = understand("when did we book the table for again?", Menu(sushi.menu))
    assert Intent.LOOKUP in heard.intents


@pytest.mark.parametrize(("reply", "breach"), [
    ("Great, I've gone ahead and reserved that for you.", Breach.ACTION),
    ("No problem, we'll see you on Friday!", Breach.ACTION),
    ("Your order has been placed.", Breach.ACTION),
    ("Unfortunately we don't have california rolls today.", Breach.DENIED_DISH),
    ("The tempura is $13.", Breach.PRICE),
    ("Please check with the manager when you arrive.", Breach.OFF_PHONE),
    ("We close at nine tonight.", None),
    ("Sorry, we don't have pad thai.", None),
    ("Two dragon rolls would be $30.", None),
])
def test_what_the_llm_may_not_say(sushi, reply, breach):
    verdict = check_llm_reply(reply, sushi.menu)
    assert (verdict.breach if verdict else None) == breach


def chat(db_path, lines: list[str], *extra: str) -> list[dict]:
    """``voicebot chat --json --no-llm`` as a user runs it; one JSON object per line said."""
    done = subprocess.run(
        [sys.executable, "-m", "voicebot.owner.cli", "--db", str(db_path), "chat", "--company", "2",
         "--clock", "2026-12-02T12:30", "--json", "--no-llm", *extra],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120,
        env={**os.environ, "VOICEBOT_DEMO_DATA": "1"})
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_chat_answers_each_line_with_one_json_object_and_the_rows_it_stored(tmp_path):
    answers = chat(tmp_path / "chat.db", [
        "hiya, could I order three california rolls and a green tea ice cream for collection in 40 minutes",
        "it's Priya Nair",
        "my number's four one five, five five five, zero one eight four",
        "yes please",
        "what's your address?",
        "actually cancel that order please",
        "yes",
    ])
    assert len(answers) == 7
    assert all(set(a) == {"bot", "by", "rows"} for a in answers)
    placed = answers[3]["rows"]
    assert placed == [{"kind": "order", "id": 1, "status": "placed",
                       "items": [{"name": "California roll", "quantity": 3},
                                 {"name": "Green tea ice cream", "quantity": 1}],
                       "total_cents": 3200, "pickup": "2026-12-02T13:10", "name": "Priya Nair", "phone": "4155550184"}]
    assert answers[4] == {"bot": "", "by": "none", "rows": []}  # not the desk's: --no-llm answers nothing
    assert [r["status"] for r in answers[6]["rows"]] == ["cancelled"]
    assert sum(len(a["rows"]) for a in answers) == 2  # one order, placed then cancelled: never a second one


def test_an_unknown_company_is_refused_with_the_known_ones(tmp_path):
    done = subprocess.run([sys.executable, "-m", "voicebot.owner.cli", "--db", str(tmp_path / "x.db"), "chat",
                           "--company", "99", "--json", "--no-llm"], input="", capture_output=True, text=True,
                          timeout=120, env={**os.environ, "VOICEBOT_DEMO_DATA": "1"})
    assert done.returncode == 1
    assert "Unknown company id 99" in done.stderr and done.stdout == ""


@pytest.mark.parametrize(("said", "reading", "kept"), [
    ("it's the whole team, so seven of us if Jo comes", {"kind": "book", "party": 7}, {"party": 7}),
    ("the whole team is coming", {"kind": "book", "party": 6}, {"party": None}),  # no number said: not taken
    ("uh could we do the sunday around half seven", {"day": "Sunday", "time": "7:30 pm"},
     {"day": "Sunday", "time": "7:30 pm"}),
    ("the friday", {"day": "Saturday"}, {"day": None}),  # a day the caller did not name
    ("put it down as mister okonkwo", {"name": "Chidi Okonkwo"}, {"name": None}),  # words not all said
    ("put it down as mister okonkwo", {"name": "Okonkwo"}, {"name": "Okonkwo"}),
    ("a pair of the eel rolls", {"items": [{"name": "Dragon roll", "quantity": 2}]}, {"items": []}),  # not named
    ("two of the dragon ones", {"items": [{"name": "Dragon roll", "quantity": 2}]}, {"items": [("Dragon roll", 2)]}),
    ("a dragon one", {"items": [{"name": "Dragon roll", "quantity": 5}]}, {"items": [("Dragon roll", 1)]}),
])
def test_the_second_reader_keeps_only_what_the_callers_words_support(sushi, said, reading, kept):
    from voicebot.front_desk.second_reader import supported

    result = supported({"kind": "other", "party": None, "day": None, "time": None, "name": None, "items": [],
                        **reading}, said, Menu(sushi.menu))
    for key, value in kept.items():
        assert getattr(result, key) == value, (key, result)


def test_an_answer_the_desk_cannot_read_is_asked_again_by_the_desk_not_handed_to_the_llm(database):
    desk = FrontDesk(database, CompanyRepository(database).get(2), clock=WEDNESDAY_LUNCH).dialog()
    assert desk.respond("I'd like to book a table").text.startswith("Sure. For how many people")
    again = desk.respond("the whole gang from the office")
    assert again is not None and not again.after_answer
    assert again.text == "Sorry, I didn't catch that. For how many people, and what day and time?"
    assert desk.respond("six of us, Friday at 7").text.startswith("Could I have your name")


def test_an_answer_that_starts_with_the_last_answers_words_is_heard_whole(tmp_path):
    """The desk once dropped the start of a turn that began with the previous turn's words ("to" …
    "tomorrow at six" was heard "morrow at six"): what the caller said before the bot's last answer is
    not part of the new turn."""
    answers = chat(tmp_path / "chat.db", ["could I reserve a table", "too", "tomorrow at eight"])
    assert answers[2]["bot"] == "Could I have your name for the booking?"


def test_details_said_out_of_turn_go_to_their_own_slot(tmp_path):
    answers = chat(tmp_path / "chat.db", [
        "three of us on Thursday at half seven please", "Mei Chen",
        "oh actually make that eight instead",  # while the number is asked: the time, not a digit
        "six four six, five five five, zero one three eight", "yes"])
    assert "8 PM" in answers[3]["bot"] and "one three eight" in answers[3]["bot"]
    assert [(r["party"], r["when"]) for r in answers[4]["rows"]] == [(3, "2026-12-03T20:00")]


def desk_call(database, lines: list[str], company: int = 2) -> list:
    dialog = FrontDesk(database, CompanyRepository(database).get(company), clock=WEDNESDAY_LUNCH).dialog()
    return [dialog.respond(line) for line in lines]


@pytest.mark.parametrize(("lines", "dishes"), [
    (["three miso soups and a dragon roll to go", "could you take one of the miso soups off"],
     {"Miso soup": 2, "Dragon roll": 1}),
    (["one california roll for pickup please", "and two more of those"], {"California roll": 3}),
    (["a green tea ice cream to go", "hmm, swap that for a vegetable tempura"], {"Vegetable tempura": 1}),
    (["seventy dragon rolls for a party, to go", "ok forty then"], {"Dragon roll": 40}),
])
def test_an_order_changed_as_callers_change_it(database, lines, dishes):
    dialog = FrontDesk(database, CompanyRepository(database).get(2), clock=WEDNESDAY_LUNCH).dialog()
    replies = [dialog.respond(line) for line in lines]
    assert replies[-1] is not None and replies[-1].text.startswith("Could I have your name")
    assert {item.name: quantity for item, quantity in dialog.request.menu_lines()} == dishes


@pytest.mark.parametrize(("words", "digits"), [
    ("my number is four one five, five five five, twenty one thirty", "4155552130"),
    ("reach me on two oh six five five five oh one won for", "2065550114"),
    ("Pickup at 7. 6175550123.", "6175550123"),
    ("cell's 312 555 0177 for three people", "3125550177"),
])
def test_phone_numbers_said_in_pairs_misheard_or_next_to_other_numbers(words, digits):
    from voicebot.business.phone import phone_in

    assert phone_in(words).digits == digits


@pytest.mark.parametrize("words", [
    "we're not gonna make it on thursday, can you take us off",
    "please call off our reservation for sunday",
    "we can't come tomorrow after all",
])
def test_a_cancellation_said_without_the_word_cancel(sushi, words):
    assert Intent.CANCEL in understand(words, Menu(sushi.menu)).intents


def test_a_message_asked_for_before_it_is_given_is_asked_for(database):
    replies = desk_call(database, ["hey can somebody get back to me", "it's about a leak in your car park"])
    assert replies[0].text == "Sure. What's the message?"
    assert replies[1].text == "Could I have your name for the message?"


def test_a_booking_made_on_an_earlier_call_is_changed_not_made_twice(tmp_path):
    from voicebot.business import Database
    from voicebot.business.bookings import BookingBook

    db_path = tmp_path / "earlier.db"
    db = demo_database(db_path)
    book = BookingBook(db, CompanyRepository(db).get(2), clock=lambda: datetime(2026, 11, 30, 10, 0))
    assert book.book("Rosa Park", "2065550161", 3, "2026-12-04", "19:00").ok
    db.dispose()
    answers = chat(db_path, ["hello, could you shift our reservation from friday to saturday please",
                             "two oh six, five five five, oh one six one"])
    assert answers[0]["bot"] == "What's the phone number the booking is under?"
    changed = answers[1]["rows"]
    assert [(r["id"], r["party"], r["when"], r["status"]) for r in changed] == [(1, 3, "2026-12-05T19:00", "booked")]
    after = Database(str(db_path))
    try:
        from voicebot.business.ledger import call_rows

        assert len([k for k in call_rows(after, 2) if k[0] == "booking"]) == 1  # changed, never a second booking
    finally:
        after.dispose()


@pytest.mark.parametrize(("heard", "digits"), [
    ("206, double 570980", "2065570980"),  # "double" repeats the next digit, not the whole group
    ("my number is 8OO 555 0199", "8005550199"),  # zeros written as letter O's
    ("917 3628000", "9173628000"),  # the area code said apart from the rest
])
def test_numbers_as_speech_to_text_writes_them_for_other_voices(heard, digits):
    """Transcripts of other engines' voices (bench/stt_voices.py, 2026-12-07) that the reader got wrong."""
    from voicebot.business.phone import phone_in

    assert phone_in(heard, expecting=True).digits == digits


@pytest.mark.parametrize(("lines", "expected"), [
    (["a table for two on thursday at 8", "Yuki Sato", "four one five, five five five, zero one four four",
      "no, it's saturday, not thursday"], "Saturday, December 5 at 8 PM"),
    (["a table for two on thursday at 8", "Yuki Sato", "four one five, five five five, zero one four four",
      "nope, the last four digits are zero one four nine"], "oh one four nine"),
])
def test_a_read_back_corrected_in_the_callers_own_words(database, lines, expected):
    replies = desk_call(database, lines)
    assert replies[-1] is not None and expected in replies[-1].text and "Shall I book it?" in replies[-1].text


def test_a_time_said_while_the_name_is_asked_is_no_name(database):
    replies = desk_call(database, ["can I order a dragon roll for pickup", "around two o'clock", "Lin Wu"])
    assert replies[1].text.startswith("Could I have your name")
    assert replies[2].text.startswith("And what's a good phone number")
