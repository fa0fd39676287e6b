"""Whole calls: scripted callers who book, order, correct themselves and leave messages over
several turns, at several hours of the restaurant's day. The truth is the database.

    uv run python bench/calls.py [--json] [--clocks lunch,closing,night] [--company 2] [--only NAME,...]

For each demo restaurant and each clock (``VOICEBOT_CLOCK``: lunch, just before closing,
closed at night) it starts the server as the README does, on a fresh database, and places
one call per scenario below. The caller's lines are spoken by Kokoro in voices the bot does
not use, each after the bot's answer to the previous one has ended (the call probe over
real WebRTC). A scenario passes only if

- the rows the call stored are exactly what the caller asked for (party, day, time, name,
  number, dishes and quantities, total; a refused request stores nothing; a change changes
  the row, never adds one), and
- the bot's words hold the expected facts and nothing false: every answer is checked for
  prices and dishes that are not in the company's data.

At the end every stored booking and order is checked against the house rules again
("rule-breaking rows", which must be 0). Per scenario: passed, turns, call duration,
voice-to-voice per turn (the server's turn timeline). ``--json`` prints
``{"passed", "of", "rule_breaking_rows", "by_clock": {clock: {"passed", "of"}}, "scenarios": [...]}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from rows import TABLES, last_ids, new_rows, order_lines, rule_breaking_rows
from sqlalchemy import select

from voicebot.business import Company, CompanyRepository, Database, schema
from voicebot.business.bookings import BookingBook
from voicebot.business.food import food_words_in
from voicebot.business.menu import normalize
from voicebot.launcher import LocalServer
from voicebot.probe import CallProbe, ProbeConfig
from voicebot.tts.speak import speak_all_to_wav

# The restaurant's clock for each run: the same Wednesday, three hours of its day, per company
# (Tomodachi noon-9 PM daily; Luigi's 11 AM-10 PM, closed Mondays; Green Fork 8 AM-6 PM, closed Sundays).
DAY = date(2026, 12, 2)  # a Wednesday
CLOCKS = {
    "lunch": {1: "12:30", 2: "12:30", 3: "12:30"},
    "closing": {1: "21:40", 2: "20:40", 3: "17:40"},
    "night": {1: "01:00", 2: "01:00", 3: "01:00"},
}
OPENS = {1: "11:00", 2: "12:00", 3: "08:00"}
# Voices the bot (af_heart) does not use, taken in turn per scenario.
CALLER_VOICES = ("am_michael", "af_sarah", "am_adam", "bf_emma")
NEGATION = re.compile(r"\b(don'?t|do not|doesn'?t|does not|no|not|isn'?t|aren'?t|sorry|without|instead)\b", re.I)
PRICE = re.compile(r"\$\s?(\d+(?:\.\d{2})?)|\b(\d+(?:\.\d{2})?) dollars\b", re.I)
CONFIRMED = r"all set|order is in|passed your message|cancelled"


@dataclass
class Booking:
    """An expected booking row: ``day`` is a weekday (0 = Monday) or "tomorrow"."""

    party: int
    day: int | str
    hour: int
    minute: int = 0
    name: str = ""
    phone: str = ""


@dataclass
class Order:
    """An expected order row: dishes and total; ``at_opening``: the pickup is the next opening (closed now)."""

    items: dict[str, int]
    total_cents: int
    phone: str = ""


@dataclass
class Scenario:
    """One caller's call, and what it must leave in the database and in the bot's words."""

    name: str
    company: int
    said: list[str]
    says: list[str] = field(default_factory=list)  # patterns the bot's words must match
    never_says: list[str] = field(default_factory=list)
    booking: Booking | None = None
    order: Order | None = None
    message_has: str | None = None  # a word the stored message holds
    cancels: str | None = None  # the name of a booking this call must cancel
    setup: Callable[[Database, Company, datetime], None] | None = None
    at_clock: Callable[[str], list[str]] | None = None  # extra patterns for a clock ("night": "noon")


def fill_sunday_seven(database: Database, company: Company, now: datetime) -> None:
    """Two parties of 8 at 7 PM this Sunday: the slot is full (16 seats)."""
    book = BookingBook(database, company, clock=lambda: now)
    for name, phone in (("Full House", "503 555 0001"), ("Full House Two", "503 555 0002")):
        result = book.book(name, phone, 8, "Sunday", "7 pm")
        assert result.ok, result.summary


def opening(clock: str, company: int) -> list[str]:
    return [r"\bnoon\b|12"] if clock == "night" and company == 2 else (
        [r"\b11\b|eleven"] if clock == "night" and company == 1 else (
            [r"\b8\b|eight"] if clock == "night" else []))


SCENARIOS = [
    # --- Tomodachi Sushi (#2): daily noon-9 PM, up to 8 people, takeout -------------------------------
    Scenario("booking over four turns", 2,
             ["Hi, I'd like to book a table, please.", "There will be four of us.", "This Saturday at 7 pm.",
              "My name is John Smith.", "Five oh three, five five five, one two three four.", "Yes, that's correct."],
             says=[r"five,? oh,? three", CONFIRMED], booking=Booking(4, 5, 19, 0, "smith", "5035551234")),
    Scenario("correction of the time", 2,
             ["Can I reserve a table for two tomorrow at six thirty in the evening?", "It's Maria Garcia.",
              "My number is five oh three, five five five, nine eight seven six.", "Actually, make that 8 pm.",
              "Yes, please."],
             says=[r"\b8\b|eight", CONFIRMED],
             booking=Booking(2, "tomorrow", 20, 0, "garcia", "5035559876")),
    Scenario("party over the limit", 2,
             ["Can I book a table for ten people this Saturday?", "Oh, okay. Then just eight of us.", "At 7 pm.",
              "Peter Brown.", "Five oh three, five five five, two four six eight.", "Yes."],
             says=[r"\b(8|eight)\b"], booking=Booking(8, 5, 19, 0, "brown", "5035552468")),
    Scenario("full slot, another time taken", 2,
             ["Hi, do you have a table for two this Sunday at 7 pm?", "7:30 is fine.", "Kim Park.",
              "Five oh three, five five five, seven one seven two.", "Yes, please."],
             says=[r"6:30|7:30"], booking=Booking(2, 6, 19, 30, "park", "5035557172"), setup=fill_sunday_seven),
    Scenario("order with quantities and the price", 2,
             ["Hi, I'd like to order two dragon rolls and one miso soup for pickup.", "How much will that be?",
              "My name is Ann Lee.", "Five oh three, five five five, four one four two.", "Yes."],
             says=[r"\$?34\b|thirty[- ]four"], order=Order({"Dragon roll": 2, "Miso soup": 1}, 3400, "5035554142"),
             at_clock=lambda clock: opening(clock, 2)),
    Scenario("order and price in one breath", 2,
             ["I would like to order two salmon nigiri for pickup. How much will that be?", "It's for Ann.",
              "Five oh three, five five five, three nine one two.", "Yes."],
             says=[r"\$?12\b|twelve"], order=Order({"Salmon nigiri, two pieces": 2}, 1200, "5035553912"),
             at_clock=lambda clock: opening(clock, 2)),
    Scenario("order changed after it is placed", 2,
             ["Can I get three California rolls to go?", "I'm Tom.", "Five oh three, five five five, six two six one.",
              "Yes.", "Oh, and can you add a miso soup?", "That's all, thanks."],
             says=[r"\$?31\b|thirty[- ]one"], order=Order({"California roll": 3, "Miso soup": 1}, 3100, "5035556261")),
    Scenario("message for the manager", 2,
             ["Could you tell the manager I left my umbrella there yesterday?", "I'm Bob.",
              "Five oh three, five five five, two eight one nine.", "Yes, thanks."],
             says=[r"pass|message"], message_has="umbrella"),
    Scenario("cancellation of the earlier booking", 2,
             ["Hi, I need to cancel my reservation for Saturday.", "Five oh three, five five five, one two three four.",
              "Yes, please cancel it."],
             says=[r"cancel"], cancels="John Smith"),
    Scenario("a dish not on the menu", 2, ["Do you have ramen?", "No thanks, that's all. Bye."],
             says=[r"don'?t have ramen|no ramen|not on (our|the) menu"]),
    Scenario("allergy", 2, ["Is the California roll safe for someone with a shellfish allergy?", "Thanks, bye."],
             says=[r"crab"], never_says=[r"\b(it'?s|it is) safe\b|\bno shellfish\b"]),
    Scenario("a question the data cannot answer", 2, ["Do you have live music on the weekends?", "No thanks, bye."],
             says=[r"message|call|staff|not sure|don'?t know|no information|can'?t"],
             never_says=[r"\byes,? we (do )?have live music\b"]),
    Scenario("delivery", 2, ["Do you guys do delivery?"], says=[r"take ?out|pick ?up|no deliver|don'?t deliver"],
             never_says=[r"\bwe (do )?deliver\b|^yes"]),
    Scenario("how long takeout takes", 2, ["How long does takeout take?"], says=[r"\b20\b|twenty"]),
    Scenario("a real person", 2, ["Can I speak to a real person, please?"], says=[r"555|oh one four two|0142"]),
    # --- Luigi's Trattoria (#1): closed Mondays, Tue-Sun 11 AM-10 PM, up to 10 people ----------------
    Scenario("a closed day, then another", 1,
             ["I'd like a table for two next Monday at 7 pm.", "Tuesday then.", "Lisa Ray.",
              "Two one seven, five five five, eight three eight four.", "Yes."],
             says=[r"closed"], booking=Booking(2, 1, 19, 0, "ray", "2175558384")),
    Scenario("too many, a message instead", 1,
             ["Can I book a table for twelve people next Friday at 7 pm?",
              "Can you take a message for the manager then?", "We would like the back room for a birthday dinner.",
              "Sam Stone.", "Two one seven, five five five, seven five one three.", "Yes."],
             says=[r"\b(10|ten)\b"], message_has="birthday"),
    Scenario("pizza and tiramisu", 1,
             ["I want to order a margherita pizza and a tiramisu for takeout.", "Name is Eva.",
              "Two one seven, five five five, five one five two.", "Yes."],
             says=[r"\$?22\b|twenty[- ]two"], order=Order({"Margherita pizza": 1, "Tiramisu": 1}, 2200, "2175555152"),
             at_clock=lambda clock: opening(clock, 1)),
    Scenario("a dish not on the menu in an order", 1,
             ["Can I order two pepperoni pizzas to go?", "Okay, two margherita pizzas then.", "Eva Green.",
              "Two one seven, five five five, one two one two.", "Yes."],
             says=[r"don'?t have"], order=Order({"Margherita pizza": 2}, 2800, "2175551212")),
    Scenario("more people after booking", 1,
             ["I'd like to book a table for four on Sunday at 6 pm.",
              "Carlo Rossi, two one seven, five five five, one nine one nine.", "Yes.",
              "Actually, can you make it six people?", "Thanks, bye."],
             says=[r"\b(6|six)\b"], booking=Booking(6, 6, 18, 0, "rossi", "2175551919")),
    Scenario("gluten", 1, ["Can the pizza be made gluten-free?"], says=[r"gluten"],
             never_says=[r"\b(it'?s|it is) (safe|gluten[- ]free)\b"]),
    Scenario("message for the owner", 1,
             ["Can you ask the owner to call me back about a birthday party?", "I'm Nina.",
              "Two one seven, five five five, three one three one.", "Yes."],
             says=[r"pass|message"], message_has="birthday"),
    Scenario("high chairs", 1, ["Do you have high chairs for kids?"], says=[r"high chair|kid"]),
    # --- The Green Fork (#3): no reservations, Mon-Sat 8 AM-6 PM, closed Sundays ------------------
    Scenario("no reservations", 3, ["Can I reserve a table for four tomorrow at noon?", "Okay, thanks, bye."],
             says=[r"walk|reservation"], never_says=[r"all set"]),
    Scenario("lattes and toast", 3,
             ["Can I get two oat milk lattes and an avocado toast to go?", "Kim.",
              "Three oh five, five five five, four three two one.", "Yes."],
             says=[r"\$?19\b|nineteen"], order=Order({"Oat milk latte": 2, "Avocado toast": 1}, 1900, "3055554321"),
             at_clock=lambda clock: opening(clock, 3)),
    Scenario("a price, then one of it", 3,
             ["How much is the buddha bowl?", "Great, I'll take one to go.", "It's Lou.",
              "Three oh five, five five five, one two three four.", "Yes."],
             says=[r"\$?13\b|thirteen"], order=Order({"Buddha bowl": 1}, 1300, "3055551234")),
    Scenario("closed on Sundays", 3, ["Are you open on Sundays?"], says=[r"closed|not open|\bno\b"]),
    Scenario("wifi", 3, ["Do you have wifi?"], says=[r"wi-?fi|yes"]),
]


def company_words(company: Company, knowledge: list[str]) -> set[str]:
    """Every word the company's data holds (singular), for checking what the bot said."""
    text = " ".join([company.name, company.kind, company.notes, *knowledge,
                     *(f"{m.name} {m.description} {m.category}" for m in company.menu)])
    return set(normalize(text).split())


def false_claims(bot_text: str, company: Company, knowledge: list[str], allowed_cents: set[int]) -> list[str]:
    """Prices and dishes the bot named that the company's data does not hold (a "don't have X" is fine)."""
    problems = []
    words = company_words(company, knowledge)
    for sentence in re.split(r"(?<=[.?!])\s+", bot_text):
        for match in PRICE.finditer(sentence):
            cents = round(float(match.group(1) or match.group(2)) * 100)
            if cents not in allowed_cents:
                problems.append(f"price {match.group(0)!r} is not in the data")
        if NEGATION.search(sentence):
            continue
        for word in food_words_in(sentence):
            if normalize(word) not in words:
                problems.append(f"dish {word!r} is not in the data")
    return problems


def allowed_prices(company: Company, knowledge: list[str], totals: list[int]) -> set[int]:
    """Menu prices and their multiples, amounts in the FAQ, and totals of the run's stored orders."""
    cents = {m.price_cents * q for m in company.menu for q in range(1, 11)} | set(totals)
    for text in knowledge:
        cents |= {round(float(a or b) * 100) for a, b in PRICE.findall(text)}
    return cents


def check_rows(scenario: Scenario, database: Database, before: dict[str, int], now: datetime) -> list[str]:
    """Why the stored rows are not what the caller asked for (empty: they are)."""
    problems = []
    company = scenario.company
    bookings = new_rows(database, TABLES["bookings"], before["bookings"], company)
    orders = new_rows(database, TABLES["orders"], before["orders"], company)
    messages = new_rows(database, TABLES["messages"], before["messages"], company)
    if scenario.booking is None and bookings:
        problems.append(f"stored {len(bookings)} booking(s), expected none")
    if scenario.booking is not None:
        b = scenario.booking
        if len(bookings) != 1:
            problems.append(f"{len(bookings)} bookings stored, expected 1")
        else:
            row = bookings[0]
            day_ok = (row.starts_at.date() - now.date()).days == 1 if b.day == "tomorrow" else \
                row.starts_at.weekday() == b.day
            if not (day_ok and (row.party_size, row.starts_at.hour, row.starts_at.minute) == (b.party, b.hour, b.minute)
                    and b.name in row.name.lower() and row.phone == b.phone and row.status == "booked"):
                problems.append(f"stored {row.party_size} on {row.starts_at:%a %Y-%m-%d %H:%M} for {row.name!r} "
                                f"{row.phone} ({row.status}), expected {b}")
    if scenario.order is None and orders:
        problems.append(f"stored {len(orders)} order(s), expected none")
    if scenario.order is not None:
        o = scenario.order
        if len(orders) != 1:
            problems.append(f"{len(orders)} orders stored, expected 1")
        else:
            lines = order_lines(database, orders[0].id)
            if lines != o.items or orders[0].total_cents != o.total_cents or orders[0].phone != o.phone:
                problems.append(f"order stored {lines} {orders[0].total_cents} cents {orders[0].phone}, expected {o}")
    if scenario.message_has is None and messages:
        problems.append(f"stored {len(messages)} message(s), expected none")
    if scenario.message_has is not None:
        if len(messages) != 1 or scenario.message_has not in messages[0].text.lower() or not re.fullmatch(
                r"\d{10}", messages[0].phone) or re.search(r"\d{3}|five five", messages[0].text):
            problems.append(f"messages stored {[(m.text, m.phone) for m in messages]}, "
                            f"expected one about {scenario.message_has!r} without the caller's details")
    if scenario.cancels is not None:
        with database.engine.connect() as db:
            rows = list(db.execute(select(schema.bookings).where(schema.bookings.c.company_id == company,
                                                                 schema.bookings.c.name == scenario.cancels)))
        if not rows or any(r.status != "cancelled" for r in rows):
            problems.append(f"bookings under {scenario.cancels!r}: {[(r.id, r.status) for r in rows]}, "
                            "expected cancelled")
    return problems


async def run_scenarios(company_id: int, clock_name: str, scenarios: list[Scenario], workdir: Path,
                        server_args: list[str], log) -> tuple[list[dict], list[str]]:
    clock = CLOCKS[clock_name][company_id]
    now = datetime.combine(DAY, datetime.strptime(clock, "%H:%M").time())
    texts = [(text, workdir / f"c{company_id}-{i}-{j}.wav", CALLER_VOICES[i % len(CALLER_VOICES)])
             for i, s in enumerate(scenarios) for j, text in enumerate(s.said)]
    for voice in CALLER_VOICES:
        mine = [(t, p) for t, p, v in texts if v == voice and not p.exists()]
        if mine:
            await speak_all_to_wav(mine, voice=voice)
    log(f"Starting the server for company #{company_id} at {clock_name} ({now:%a %H:%M}) ...")
    server = LocalServer.start(workdir / f"server-{company_id}-{clock_name}", str(company_id), *server_args,
                               env={"VOICEBOT_CLOCK": now.isoformat(timespec="minutes")}).wait_until_settled()
    database = Database(server.workdir / "business.db")
    company = CompanyRepository(database).get(company_id)
    with database.engine.connect() as db:
        knowledge = [r.text for r in db.execute(select(schema.knowledge.c.text)
                                                .where(schema.knowledge.c.company_id == company_id))]
    results = []
    try:
        for i, scenario in enumerate(scenarios):
            if scenario.setup is not None:
                scenario.setup(database, company, now)
            before = last_ids(database)
            wavs = [workdir / f"c{company_id}-{i}-{j}.wav" for j in range(len(scenario.said))]
            started = time.monotonic()
            probe = CallProbe(server.url, ProbeConfig(post_speech_gap_s=2.5, answer_timeout_s=60.0))
            call = await probe.call(say=wavs, timeout=120 + 60 * len(wavs))
            duration = time.monotonic() - started
            bot_words = " ".join(e.text for e in call.transcript if e.role == "bot"
                                 and call.first_said_start_s is not None and e.t > call.first_said_start_s)
            with database.engine.connect() as db:
                totals = [r.total_cents for r in db.execute(select(schema.orders.c.total_cents))]
            problems = check_rows(scenario, database, before, now)
            patterns = scenario.says + (scenario.at_clock(clock_name) if scenario.at_clock else [])
            problems += [f"words lack /{p}/" for p in patterns if not re.search(p, bot_words, re.I)]
            problems += [f"words say /{p}/" for p in scenario.never_says if re.search(p, bot_words, re.I)]
            problems += false_claims(bot_words, company, knowledge, allowed_prices(company, knowledge, totals))
            problems += call.errors
            v2v = [s.get("bot_audio_out") for s in call.turn_stages_s if s.get("bot_audio_out") is not None]
            results.append({"scenario": scenario.name, "company": company_id, "clock": clock_name,
                            "passed": not problems, "problems": problems, "turns": len(scenario.said),
                            # Answers beyond one per line said: a line cut in two by a pause, answered twice.
                            "answered_early": max(0, len(call.turn_stages_s) - len(scenario.said)),
                            "duration_s": round(duration, 1), "voice_to_voice_s": [round(v, 2) for v in v2v],
                            "said": scenario.said, "heard": call.user_text(), "bot": bot_words})
            log(f"#{company_id} {clock_name:<7} {'ok ' if not problems else 'BAD'} {scenario.name} "
                f"({len(scenario.said)} turns, {duration:.0f} s, v2v {', '.join(f'{v:.1f}' for v in v2v)})\n"
                f"    heard {call.user_text()!r}\n    bot   {bot_words!r}"
                + (f"\n    PROBLEMS {problems}" if problems else ""))
            await asyncio.sleep(1.0)
        return results, rule_breaking_rows(database)
    finally:
        database.dispose()
        server.stop()


async def bench(scenarios: list[Scenario], clocks: list[str], workdir: Path, server_args: list[str], log) -> dict:
    results, rule_breaking = [], []
    for clock_name in clocks:
        for company_id in sorted({s.company for s in scenarios}):
            mine = [s for s in scenarios if s.company == company_id]
            found, breaking = await run_scenarios(company_id, clock_name, mine, workdir, server_args, log)
            results += found
            rule_breaking += [f"{clock_name}: {line}" for line in breaking]
    by_clock = {clock: {"passed": sum(r["passed"] for r in results if r["clock"] == clock),
                        "of": sum(1 for r in results if r["clock"] == clock)} for clock in clocks}
    v2v = [v for r in results for v in r["voice_to_voice_s"]]
    return {"passed": sum(r["passed"] for r in results), "of": len(results),
            "answered_early": sum(r["answered_early"] for r in results),
            "lines_said": sum(r["turns"] for r in results),
            "rule_breaking_rows": len(rule_breaking), "rule_breaking": rule_breaking, "by_clock": by_clock,
            "median_voice_to_voice_s": round(statistics.median(v2v), 2) if v2v else None,
            "server_args": server_args, "scenarios": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--clocks", default=",".join(CLOCKS), help=f"comma-separated: {', '.join(CLOCKS)}")
    parser.add_argument("--company", type=int, default=None, help="only this demo company's scenarios")
    parser.add_argument("--only", default=None, help="scenario names, comma-separated (a prefix is enough)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON summary to this file")
    parser.add_argument("server_args", nargs="*", help="extra server flags, after --")
    args = parser.parse_args()
    only = [o.strip() for o in args.only.split(",")] if args.only else None
    scenarios = [s for s in SCENARIOS if args.company in (None, s.company)
                 and (only is None or any(s.name.startswith(o) for o in only))]
    clocks = [c for c in args.clocks.split(",") if c]
    unknown = [c for c in clocks if c not in CLOCKS]
    if unknown or not scenarios:
        parser.error(f"unknown clock(s) {unknown}" if unknown else "no scenario matches")
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, flush=True))
    with tempfile.TemporaryDirectory(prefix="calls-") as tmp:
        summary = asyncio.run(bench(scenarios, clocks, Path(tmp), args.server_args, log))
    if args.out is not None:
        args.out.write_text(json.dumps(summary, indent=1))
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"\nscenarios passed: {summary['passed']}/{summary['of']}; rule-breaking rows: "
          f"{summary['rule_breaking_rows']}; median voice-to-voice per turn {summary['median_voice_to_voice_s']} s; "
          f"lines answered before the caller finished: {summary['answered_early']} of {summary['lines_said']}")
    for clock, c in summary["by_clock"].items():
        print(f"  {clock:<8}{c['passed']}/{c['of']}")
    for line in summary["rule_breaking"]:
        print(f"  RULE BROKEN {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

