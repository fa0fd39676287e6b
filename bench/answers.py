"""Answer quality: does the bot do the restaurant's work right? Scored per caller turn.

    uv run python bench/answers.py [--json] [--only CATEGORY[,CATEGORY]] [-- SERVER FLAGS...]

For each demo restaurant it starts the server as the README does (its own fresh
database in a temporary folder) and places one call per case below: the caller's words,
spoken by our TTS in a voice the bot does not use, one or more turns. A case is scored
against the expected fact in the bot's words (facts, prices, rules) and against the rows
the call stored (bookings, orders, messages: exactly one new row with the right party,
time, total or text; a refused booking must store nothing). At the end every stored
booking is checked against the house rules again. Prints the score per category.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from calls import CLOCKS, DAY
from rows import last_ids, new_rows, rule_breaking_rows

from voicebot.business import CompanyRepository, Database, schema
from voicebot.business.bookings import BookingBook
from voicebot.launcher import LocalServer
from voicebot.probe import CallProbe, ProbeConfig
from voicebot.tts.speak import speak_all_to_wav

CONFIRMED = r"book|reserv|confirm|all set|see you"


@dataclass
class Case:
    company: int
    category: str  # facts | prices | rules | bookings | orders | messages
    said: list[str]
    expect: str | None = None  # a pattern the bot's words must match
    booking: dict[str, Any] | None = None  # {"party": 4, "weekday": 5, "hour": 19, "name": "smith"}
    no_booking: bool = False
    order_total_cents: int | None = None
    message_has: str | None = None
    rows: dict[str, int] = field(default_factory=dict)


CASES = [
    # Tomodachi Sushi (#2): daily noon-9 PM, up to 8 people, takeout.
    Case(2, "facts", ["What time do you close tonight?"], r"\b(9|nine)\b"),
    Case(2, "facts", ["Where are you located?"], r"harbou?r"),
    Case(2, "facts", ["Do you deliver?"], r"take ?out|pick ?up|no deliver|don't deliver|do not deliver"),
    Case(2, "facts", ["Is there somewhere to park nearby?"], r"garage|street|pier"),
    Case(2, "prices", ["How much is the dragon roll?"], r"\b(15|fifteen)\b"),
    Case(2, "prices", ["How much is a miso soup?"], r"\b(4|four)\b"),
    Case(2, "prices", ["What does the California roll cost?"], r"\b(9|nine)\b"),
    Case(2, "rules", ["Hi, can I book a table for ten people this Saturday at 7 pm? My name is Peter Brown, "
                      "my number is five five five, two two two two."], r"\b(8|eight)\b", no_booking=True),
    Case(2, "rules", ["I'd like a table for two tomorrow at 8:45 in the evening, for Ann Lee, phone five five "
                      "five, three three three three."], r"\b(8|eight)\b|last|earlier|close", no_booking=True),
    Case(2, "bookings", ["Hi, I'd like to book a table for four people this Saturday at 7 pm. My name is John "
                         "Smith, and my number is five oh three, five five five, one two three four.",
                         "Yes, that's right."], CONFIRMED,
         booking={"party": 4, "weekday": 5, "hour": 19, "name": "smith"}),
    Case(2, "bookings", ["Can I reserve a table for two for tomorrow at six thirty in the evening?",
                         "It's Maria Garcia, and my number is five oh three, five five five, nine eight seven six.",
                         "Yes, please."], CONFIRMED,
         booking={"party": 2, "tomorrow": True, "hour": 18, "name": "garcia"}),
    Case(2, "orders", ["I'd like to order two dragon rolls and one miso soup for pickup. My name is Ann, "
                       "my number is five oh three, five five five, four one four two.", "Yes."],
         r"\b(34|thirty[- ]four)\b", order_total_cents=3400),
    Case(2, "orders", ["Can I get three California rolls to go? I'm Tom, five oh three, five five five, six two six "
                       "one.", "Yes, please."], r"\b(27|twenty[- ]seven)\b", order_total_cents=2700),
    Case(2, "messages", ["Could you tell the manager I left my umbrella there yesterday? I'm Bob, "
                         "five oh three, five five five, two eight one nine.", "Yes."], r"messag|pass|let .* know|tell",
         message_has="umbrella"),
    # Luigi's Trattoria (#1): closed Mondays, Tue-Sun 11 AM-10 PM, up to 10 people.
    Case(1, "facts", ["Are you open on Mondays?"], r"\bclosed\b|\bnot open\b|\bno\b"),
    Case(1, "facts", ["What's your address?"], r"main street|\b12\b|twelve"),
    Case(1, "facts", ["Is there parking?"], r"parking|behind|elm"),
    Case(1, "facts", ["Do you have high chairs for kids?"], r"high chair|kid|yes"),
    Case(1, "prices", ["How much is the lasagna?"], r"\b(18|eighteen)\b"),
    Case(1, "prices", ["What does the tiramisu cost?"], r"\b(8|eight)\b"),
    Case(1, "rules", ["Can I book a table for twelve people next Friday at 7 pm? I'm Sam Stone, two one seven, "
                      "five five five, seven five one three."], r"\b(10|ten)\b", no_booking=True),
    Case(1, "rules", ["I'd like a table for two next Monday at 7 pm, name Lisa Ray, phone five five five, "
                      "eight eight eight eight."], r"closed|monday", no_booking=True),
    Case(1, "bookings", ["Please book a table for six next Friday at 8 pm under the name Carlo Rossi, my number "
                         "is two one seven, five five five, one nine one nine.", "Yes, thank you."], CONFIRMED,
         booking={"party": 6, "weekday": 4, "hour": 20, "name": "rossi"}),
    Case(1, "orders", ["I want to order a margherita pizza and a tiramisu for takeout, name is Eva, phone two one "
                       "seven, five five five, five one five two.", "Yes."], r"\b(22|twenty[- ]two)\b",
         order_total_cents=2200),
    Case(1, "messages", ["Can you ask the owner to call me back about a birthday party? I'm Nina, two one seven, "
                         "five five five, three one three one.", "Yes."], r"messag|pass|let .* know|call you back",
         message_has="birthday"),
    # The Green Fork (#3): no reservations, Mon-Sat 8 AM-6 PM.
    Case(3, "facts", ["What are your hours on Saturday?"], r"\b(8|eight)\b.*\b(6|six)\b"),
    Case(3, "facts", ["Do you have wifi?"], r"wi-?fi|yes"),
    Case(3, "prices", ["How much is the buddha bowl?"], r"\b(13|thirteen)\b"),
    Case(3, "rules", ["Can I reserve a table for four tomorrow at noon? I'm Kim, three oh five, five five five, "
                      "four three two one."], r"walk|no reserv|don't take|do not take", no_booking=True),
]


def score(case: Case, bot_words: str, database: Database, before: dict[str, int], company,
          now: datetime | None = None) -> list[str]:
    """Why the case failed (empty: it passed)."""
    problems = []
    if case.expect and not re.search(case.expect, bot_words, re.IGNORECASE):
        problems.append(f"answer lacks /{case.expect}/")
    bookings = new_rows(database, schema.bookings, before["bookings"], case.company)
    if case.no_booking and bookings:
        problems.append(f"stored {len(bookings)} booking(s) it should have refused")
    if case.booking:
        b = case.booking
        if len(bookings) != 1:
            problems.append(f"{len(bookings)} bookings stored, expected 1")
        else:
            row = bookings[0]
            clock = now or BookingBook(database, company).clock()
            want_day = (row.starts_at.date() - clock.date()).days == 1 if b.get("tomorrow") else \
                row.starts_at.weekday() == b["weekday"]
            if (row.party_size, row.starts_at.hour) != (b["party"], b["hour"]) or not want_day \
                    or b["name"] not in row.name.lower():
                problems.append(f"stored {row.party_size} on {row.starts_at} for {row.name!r}, expected {b}")
    if case.order_total_cents is not None:
        orders = new_rows(database, schema.orders, before["orders"], case.company)
        if len(orders) != 1 or orders[0].total_cents != case.order_total_cents:
            problems.append(f"orders stored: {[(o.total_cents, o.name) for o in orders]}, "
                            f"expected one of {case.order_total_cents} cents")
    if case.message_has is not None:
        messages = new_rows(database, schema.messages, before["messages"], case.company)
        if len(messages) != 1 or case.message_has not in messages[0].text.lower():
            problems.append(f"messages stored: {[m.text for m in messages]}, expected one about {case.message_has!r}")
    return problems


async def run_company(company_id: int, cases: list[Case], workdir: Path, server_args: list[str], log,
                      clock: str | None = None) -> list[dict]:
    texts = [(text, workdir / f"c{company_id}-{i}-{j}.wav") for i, case in enumerate(cases)
             for j, text in enumerate(case.said)]
    missing = [(text, path) for text, path in texts if not path.exists()]
    if missing:
        await speak_all_to_wav(missing, voice="am_michael")
    env, now = {}, None
    if clock is not None:
        env["VOICEBOT_CLOCK"] = f"{DAY.isoformat()}T{CLOCKS[clock][company_id]}"
        now = datetime.fromisoformat(env["VOICEBOT_CLOCK"])
    log(f"Starting the server for company #{company_id}" + (f" at {clock} ({env['VOICEBOT_CLOCK']})" if clock else "")
        + " ...")
    server = LocalServer.start(workdir / f"company{company_id}-{clock or 'now'}", str(company_id), *server_args,
                               env=env).wait_until_settled()
    database = Database(server.workdir / "business.db")
    company = CompanyRepository(database).get(company_id)
    results = []
    try:
        for i, case in enumerate(cases):
            before = last_ids(database)
            wavs = [workdir / f"c{company_id}-{i}-{j}.wav" for j in range(len(case.said))]
            # A reply can pause for seconds between its first clause and the rest (issue #7).
            probe = CallProbe(server.url, ProbeConfig(post_speech_gap_s=2.5, answer_timeout_s=60.0))
            call = await probe.call(say=wavs, timeout=180)
            first_said = call.first_said_start_s if call.first_said_start_s is not None else call.said_start_s
            bot_words = " ".join(e.text for e in call.transcript if e.role == "bot"
                                 and first_said is not None and e.t > first_said)
            problems = score(case, bot_words, database, before, company, now) + call.errors
            results.append({"company": company_id, "clock": clock, "category": case.category, "said": case.said,
                            "heard": call.user_text(), "answer": bot_words, "correct": not problems,
                            "problems": problems})
            log(f"#{company_id} {case.category:<9} {'ok ' if not problems else 'BAD'} said {case.said!r}\n"
                f"    heard {call.user_text()!r}\n    bot {bot_words!r}" + (f"\n    {problems}" if problems else ""))
            await asyncio.sleep(1.0)
        results.append({"rule_breaking": rule_breaking_rows(database)})
    finally:
        database.dispose()
        server.stop()
    return results


async def bench(cases: list[Case], workdir: Path, server_args: list[str], log,
                clocks: list[str | None] | None = None) -> dict:
    per_company: dict[int, list[Case]] = {}
    for case in cases:
        per_company.setdefault(case.company, []).append(case)
    results, rule_breaking = [], []
    for clock in clocks or [None]:
        for company_id, company_cases in sorted(per_company.items()):
            for entry in await run_company(company_id, company_cases, workdir, server_args, log, clock):
                if "rule_breaking" in entry:
                    rule_breaking += entry["rule_breaking"]
                else:
                    results.append(entry)
    categories: dict[str, dict[str, int]] = {}
    for r in results:
        c = categories.setdefault(r["category"], {"correct": 0, "n": 0})
        c["n"] += 1
        c["correct"] += r["correct"]
    correct = sum(r["correct"] for r in results)
    by_clock = {str(clock): {"correct": sum(r["correct"] for r in results if r["clock"] == clock),
                             "n": sum(1 for r in results if r["clock"] == clock)} for clock in clocks or [None]}
    return {"correct": correct, "n": len(results), "share": round(correct / max(1, len(results)), 3),
            "categories": categories, "by_clock": by_clock, "rule_breaking_rows": rule_breaking,
            "server_args": server_args,
            "cases": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", default=None,
                        help="categories, comma-separated: facts, prices, rules, bookings, orders, messages")
    parser.add_argument("--company", type=int, default=None, help="only this demo company's cases")
    parser.add_argument("--clocks", default=None,
                        help=f"run at these restaurant clocks (VOICEBOT_CLOCK), comma-separated: {', '.join(CLOCKS)}; "
                             "default: the real time")
    parser.add_argument("server_args", nargs="*", help="extra server flags, after --")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    cases = [c for c in CASES if (only is None or c.category in only) and (args.company in (None, c.company))]
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    log = (lambda *_: None) if args.json else (lambda msg: print(msg, flush=True))
    with tempfile.TemporaryDirectory(prefix="answers-") as tmp:
        clocks = args.clocks.split(",") if args.clocks else None
        summary = asyncio.run(bench(cases, Path(tmp), args.server_args, log, clocks))
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"\ncorrect: {summary['correct']}/{summary['n']} ({summary['share']:.0%})")
    for clock, c in summary["by_clock"].items():
        print(f"  at {clock:<8}{c['correct']}/{c['n']}")
    for name, c in summary["categories"].items():
        print(f"  {name:<10}{c['correct']}/{c['n']}")
    print(f"stored rows that break a house rule: {len(summary['rule_breaking_rows'])}")
    for line in summary["rule_breaking_rows"]:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
