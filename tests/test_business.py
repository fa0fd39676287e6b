"""The restaurant's work without voice: house rules, stored rows, totals, knowledge search and
company files, on SQLite and on a real PostgreSQL server (the same code)."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime

import pytest
from sqlalchemy import func, select

from helpers import demo_database
from postgres_server import PostgresServer
from voicebot.business import CompanyRepository, Database, schema
from voicebot.business.bookings import BookingBook
from voicebot.business.company_file import CompanyFileError, import_company, load_company_file
from voicebot.business.knowledge import KnowledgeBase
from voicebot.business.messages import MessagePad
from voicebot.business.orders import OrderDesk
from voicebot.business.when import parse_when

TUESDAY_10AM = datetime(2026, 12, 1, 10, 0)


def clock():
    return TUESDAY_10AM


_names = itertools.count()


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        db = demo_database(tmp_path / "business.db")
    else:
        server = request.getfixturevalue("postgres")
        db = demo_database(server.create_database(f"t{next(_names)}"))
    yield db
    db.dispose()


def count(db: Database, table, **where) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with db.engine.connect() as c:
        return c.execute(query).scalar_one()


def test_a_booking_is_stored_and_confirmed_from_the_row(database):
    sushi = CompanyRepository(database).get(2)
    book = BookingBook(database, sushi, clock)
    result = book.book("John Smith", "503 555 1234", 4, "this Saturday", "7 pm")
    assert result.ok, result.summary
    assert result.summary == ("You're all set: a table for 4 on Saturday, December 5 at 7 PM, under John Smith. "
                              "Anything else?")
    assert result.data["booked"] is True
    with database.engine.connect() as c:
        row = c.execute(select(schema.bookings)).one()
    assert (row.company_id, row.name, row.phone, row.party_size, row.starts_at, row.status) == (
        2, "John Smith", "5035551234", 4, datetime(2026, 12, 5, 19, 0), "booked")
    # The model asking twice makes one booking, not two.
    assert book.book("John Smith", "503-555-1234", 4, "Saturday", "19:00").data["booking_id"] == row.id
    assert count(database, schema.bookings) == 1
    assert book.find("5035551234").ok
    cancelled = book.cancel("503 555 1234", "Saturday")
    assert cancelled.ok and count(database, schema.bookings, status="cancelled") == 1


@pytest.mark.parametrize(("company_id", "party", "day", "time_of_day", "reason"), [
    (2, 10, "Saturday", "7 pm", "largest party we can book is 8"),
    (1, 11, "Saturday", "7 pm", "largest party we can book is 10"),
    (1, 4, "Monday", "7 pm", "closed on Mondays"),
    (2, 2, "Saturday", "7 pm", None),  # fine, but no name: asked for
    (2, 2, "tomorrow", "8 am", "from noon to 8 PM"),
    (2, 2, "today", "8:30 pm", "from noon to 8 PM"),
    (2, 2, "yesterday", "7 pm", "already passed"),
    (2, 0, "Saturday", "7 pm", "How many people"),
    (2, 2, "March 30", "7 pm", "up to 60 days ahead"),
    (3, 2, "Saturday", "10 am", "doesn't take reservations"),
])
def test_a_booking_that_breaks_a_house_rule_is_refused_and_nothing_is_stored(
        database, company_id, party, day, time_of_day, reason):
    company = CompanyRepository(database).get(company_id)
    name = "" if reason is None else "Ann Lee"
    result = BookingBook(database, company, clock).book(name, "503 555 9876", party, day, time_of_day)
    assert not result.ok and result.data["booked"] is False
    assert (reason or "Could I have your name") in result.summary
    assert count(database, schema.bookings) == 0


def test_a_full_slot_is_refused_with_free_times_nearby(database):
    sushi = CompanyRepository(database).get(2)
    book = BookingBook(database, sushi, clock)
    assert book.book("A", "503 555 0001", 8, "Saturday", "7 pm").ok
    assert book.book("B", "503 555 0002", 8, "Saturday", "7:15 pm").ok  # same 30-minute slot: 16 seats taken
    full = book.book("C", "503 555 0003", 2, "Saturday", "7 pm")
    assert not full.ok and "I could do 6:30 PM or 7:30 PM" in full.summary
    assert not book.check("Saturday", "7 pm", 2).ok
    assert book.check("Saturday", "7:30 pm", 2).ok
    assert count(database, schema.bookings) == 2


def test_fifty_callers_racing_for_the_last_seats_make_exactly_one_booking(database):
    sushi = CompanyRepository(database).get(2)
    assert BookingBook(database, sushi, clock).book("Early", "503 555 0000", 8, "Saturday", "7 pm").ok
    assert BookingBook(database, sushi, clock).book("Early too", "503 555 0001", 4, "Saturday", "7 pm").ok
    results, start = [], threading.Barrier(50)

    def attempt(i: int) -> None:
        start.wait()
        book = BookingBook(database, sushi, clock)
        results.append(book.book(f"Caller {i}", f"503 555 1{i:03d}", 4, "Saturday", "7 pm"))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 50
    assert sum(r.ok for r in results) == 1
    assert all("no table for 4" in r.summary for r in results if not r.ok)
    assert count(database, schema.bookings) == 3


def test_an_order_total_is_computed_from_the_menu(database):
    sushi = CompanyRepository(database).get(2)
    orders = OrderDesk(database, sushi, clock)
    result = orders.place([{"name": "dragon rolls", "quantity": 2}, {"name": "Miso Soup", "quantity": "one"},
                           {"name": "salmon nigiri", "quantity": 3}], "Ann", "503 555 9876", "12:30")
    assert result.ok, result.summary
    assert result.data["total"] == "$52"  # 2 × 15 + 4 + 3 × 6
    with database.engine.connect() as c:
        order = c.execute(select(schema.orders)).one()
        lines = c.execute(select(schema.order_items).order_by(schema.order_items.c.id)).all()
    assert order.total_cents == 5200 and order.pickup_at == datetime(2026, 12, 1, 12, 30)
    assert [(line.name, line.quantity, line.unit_price_cents) for line in lines] == [
        ("Dragon roll", 2, 1500), ("Miso soup", 1, 400), ("Salmon nigiri, two pieces", 3, 600)]


@pytest.mark.parametrize(("items", "pickup", "reason"), [
    ([{"name": "pepperoni pizza", "quantity": 1}], None, "we don't have pepperoni pizza"),
    ([{"name": "dragon roll", "quantity": 0}], None, "I can take 1 to 50"),
    ([], None, "What would you like to order?"),
    ([{"name": "dragon roll", "quantity": 1}], "11 pm", "not open at 11 PM"),
])
def test_an_order_off_the_menu_or_outside_hours_stores_nothing(database, items, pickup, reason):
    sushi = CompanyRepository(database).get(2)
    result = OrderDesk(database, sushi, clock).place(items, "Ann", "503 555 9876", pickup)
    assert not result.ok and reason in result.summary
    assert count(database, schema.orders) == 0 and count(database, schema.order_items) == 0


def test_a_message_needs_a_callback_number_and_is_stored(database):
    sushi = CompanyRepository(database).get(2)
    pad = MessagePad(database, sushi, clock)
    assert not pad.take("Bob", "12", "I left my umbrella").ok
    assert pad.take("Bob", "503 555 2222", "I left my umbrella").ok
    with database.engine.connect() as c:
        row = c.execute(select(schema.messages)).one()
    assert (row.name, row.phone, row.text) == ("Bob", "5035552222", "I left my umbrella")


@pytest.mark.parametrize(("question", "expected"), [
    ("What's the price of a dragon roll?", "Dragon roll costs $15"),
    ("Do you deliver?", "no delivery"),
    ("Where can I park my car?", "Pier Road"),
    ("What's on the menu?", "The menu has:"),
    ("Is your soy sauce gluten free?", "tamari"),
])
def test_knowledge_search_finds_the_entry_for_the_question(database, question, expected):
    hits = KnowledgeBase(database, 2).search(question)
    assert hits and expected in hits[0][1]


def test_knowledge_search_stays_within_the_company(database):
    assert all("Luigi" not in text and "lasagna" not in text.lower()
               for _, text in KnowledgeBase(database, 2).search("lasagna tiramisu parking"))
    assert KnowledgeBase(database, 2).search("the and of") == []


BAD_FILE = """\
name: Bad Bistro
kind: bistro
address: 1 Rue
phone: 555-0000
greeting: Hello!
hours:
  monday: "18:00-12:00"
  funday: "10:00-12:00"
reservations:
  max_party_size: 0
menu:
  - {name: Soup, price: -3}
  - {name: Soup, price: 4}
colour: red
"""


def test_a_bad_company_file_is_refused_with_every_problem_and_its_line(database, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_FILE)
    before = CompanyRepository(database).list()
    with pytest.raises(CompanyFileError) as caught:
        import_company(database, load_company_file(path))
    problems = "\n".join(caught.value.problems)
    assert "line 7: hours:" in problems and "closing time must be after opening time" in problems
    assert "line 10: reservations.max_party_size:" in problems
    assert "line 12: menu.0.price:" in problems
    assert "line 14: colour:" in problems and "Extra inputs are not permitted" in problems
    assert CompanyRepository(database).list() == before


@pytest.mark.parametrize(("text", "problem"), [
    ("name: [unclosed\n", "line 2: not valid YAML"),
    ("- just\n- a list\n", "line 1: the file must be a mapping"),
    ("name: X\nkind: y\naddress: z\nphone: '555'\ngreeting: hi\nhours: {daily: '9-5'}\n", "line 6: hours:"),
    ("name: X\nkind: y\naddress: z\nphone: '555'\ngreeting: hi\nhours: {daily: '09:00-17:00'}\n"
     "timezone: Mars/Olympus\n", "line 7: timezone: unknown time zone"),
    ("name: X\nkind: y\naddress: z\nphone: '555'\nhours: {daily: '09:00-17:00'}\n", "greeting: Field required"),
])
def test_company_file_problems_name_their_line(tmp_path, text, problem):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CompanyFileError) as caught:
        load_company_file(path)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_reimporting_a_company_replaces_its_menu_and_keeps_its_bookings(database, tmp_path):
    repo = CompanyRepository(database)
    sushi = repo.get(2)
    assert BookingBook(database, sushi, clock).book("Ann", "503 555 9876", 2, "Saturday", "7 pm").ok
    path = tmp_path / "sushi.yaml"
    path.write_text("id: 2\nname: Tomodachi Sushi\nkind: sushi bar\naddress: 48 Harbor Street\nphone: 555-0142\n"
                    "greeting: Hi!\nhours: {daily: '11:00-23:00'}\nmenu:\n  - {name: Tuna roll, price: 8.5}\n")
    assert import_company(database, load_company_file(path)) == 2
    updated = repo.get(2)
    assert [m.name for m in updated.menu] == ["Tuna roll"] and updated.menu[0].price_cents == 850
    assert updated.opening_hours == "every day, 11 AM to 11 PM"
    assert count(database, schema.bookings) == 1
    assert KnowledgeBase(database, 2).search("tuna")[0][1] == "Tuna roll costs $8.50."
    assert KnowledgeBase(database, 2).search("dragon roll") == [] or all(
        "Dragon" not in text for _, text in KnowledgeBase(database, 2).search("dragon roll"))


@pytest.mark.parametrize(("day", "time_of_day", "expected"), [
    ("Saturday", "7", datetime(2026, 12, 5, 19, 0)),  # a bare hour is read when the restaurant is open
    ("tomorrow", "noon", datetime(2026, 12, 2, 12, 0)),
    ("2026-12-24", "19:30", datetime(2026, 12, 24, 19, 30)),
    ("next Friday", "8 pm", datetime(2026, 12, 4, 20, 0)),
    ("December 12", "6:45 pm", datetime(2026, 12, 12, 18, 45)),
    # as speech-to-text writes them
    ("tomorrow at eight. 45 in the evening", "tomorrow at eight. 45 in the evening", datetime(2026, 12, 2, 20, 45)),
    ("tomorrow", "6.30 in the evening", datetime(2026, 12, 2, 18, 30)),
    ("this Saturday at 7", "this Saturday at 7", datetime(2026, 12, 5, 19, 0)),
    ("the 12th", "seven o'clock", datetime(2026, 12, 12, 19, 0)),
    ("Friday", "for two at six thirty", datetime(2026, 12, 4, 18, 30)),
])
def test_the_callers_words_become_a_date_and_time(day, time_of_day, expected):
    hours = {d: (datetime(1, 1, 1, 12).time(), datetime(1, 1, 1, 21).time()) for d in range(7)}
    assert parse_when(day, time_of_day, TUESDAY_10AM, hours) == expected


def test_the_demo_restaurants_are_seeded_from_their_files(tmp_path):
    db = demo_database(tmp_path / "new.db")
    companies = CompanyRepository(db)
    assert companies.list() == [(1, "Luigi's Trattoria"), (2, "Tomodachi Sushi"), (3, "The Green Fork")]
    luigi = companies.get(1)
    assert luigi.opening_hours == "Monday closed; Tuesday to Sunday 11 AM to 10 PM"
    assert luigi.policy.max_party_size == 10


def test_the_hours_of_the_day_the_caller_names_come_from_the_data(tmp_path):
    from voicebot.business.prompt import day_hours_notes

    companies = CompanyRepository(demo_database(tmp_path / "hours.db"))
    luigi, sushi = companies.get(1), companies.get(2)
    assert day_hours_notes(sushi, TUESDAY_10AM, "Is the restaurant open on Sundays?") == [
        "On Sundays Tomodachi Sushi is open noon to 9 PM."]
    assert day_hours_notes(luigi, TUESDAY_10AM, "Are you open on Mondays? And tomorrow?") == [
        "On Mondays Luigi's Trattoria is closed.", "Tomorrow (Wednesday) Luigi's Trattoria is open 11 AM to 10 PM."]
    assert day_hours_notes(sushi, TUESDAY_10AM, "Can I get two dragon rolls to go?") == []


def test_number_and_day_words_are_read_alike_everywhere():
    import re

    from voicebot.business import vocabulary
    from voicebot.business.orders import _quantity
    from voicebot.business.when import spoken_clock

    assert re.fullmatch(vocabulary.alternation(["one", "one thirty"]), "one thirty")  # longest wins
    assert [_quantity(word) for word in ("a", "two", "twelve", "3")] == [1, 2, 12, 3]
    assert spoken_clock("twelve thirty") == "12:30" and spoken_clock("eleven o'clock") == "11 o'clock"
    days = re.compile(rf"\b({vocabulary.WEEKDAY_NAMES})\b", re.IGNORECASE)
    assert [days.search(f"this {d}").group(1) for d in vocabulary.WEEKDAYS] == list(vocabulary.WEEKDAYS)
