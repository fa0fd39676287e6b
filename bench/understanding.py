"""Understanding: does the desk read what callers actually say? Hundreds of phrasings, in text.

    uv run python bench/understanding.py [--json] [--llm] [--only CLASS[,CLASS]] [--failures] [--cli] [--corpus DIR]

The corpus (``bench/understanding/turns.yaml``, ``dialogues.yaml``) was written apart from
the code and the unit tests, in many styles: terse, rambling, lowercase transcripts, fillers,
self-corrections, speech-to-text near-misses, British and American times. Each case is a
call to ``voicebot chat`` on a fresh copy of the demo database at the case's clock:

- a **turn** is said once; a simulated caller then answers each question the bot asks (the
  case's ``answers`` or the defaults below), "yes" to the read-back and "no, that's all" to
  "anything else?". It is right if the rows stored are the expected ones, the bot never asked
  for a detail the turn itself gave, and it made no false claim;
- a **dialogue** is said line by line as written; it is right if the rows the call left are
  the expected ones and no false claim was made.

A **false claim**: the bot says something was booked, ordered, cancelled or passed on in a
turn that stored or changed nothing, or says a dish that is on the menu is not.

By default the chat runs in this process (the same ``TextChat`` the command runs, so hundreds
of calls take seconds); ``--cli`` runs ``uv run voicebot chat --json`` per case instead.
``--json`` prints ``{"turns", "turns_right", "dialogues", "dialogues_right", "false_claims",
"second_reader_turns", "by_class": {class: {"of", "right"}}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz

from voicebot.business import CompanyRepository, Database
from voicebot.business.company_file import seed_demo_companies
from voicebot.business.orders import OrderDesk
from voicebot.business.schema import bookings as bookings_table
from voicebot.business.schema import order_items, orders
from voicebot.config import LLMConfig
from voicebot.llm.factory import start_llm

HERE = Path(__file__).parent / "understanding"

# What the simulated caller says when asked, unless the case says otherwise.
DEFAULT_ANSWERS = {
    "party": "two",
    "day": "tomorrow",
    "time": "7 pm",
    "name": "Dana Reyes",
    "phone": "five oh three, five five five, zero one nine nine",
    "items": {1: "one tiramisu", 2: "one miso soup", 3: "one oat milk latte"},
    "pickup": "as soon as possible",
    "message": "please call me back about my reservation",
}

# What the bot's question asks for, read from its words as a caller would.
QUESTIONS = [
    ("confirm", re.compile(r"\b(shall i|should i|is that right|is that correct|did i get that right)\b", re.I)),
    ("when", re.compile(r"\bday and time\b|\bwhich day and time\b", re.I)),
    ("party", re.compile(r"\bhow many\b", re.I)),
    ("day", re.compile(r"\bwhich (other )?day\b|\bwhat day\b", re.I)),
    ("time", re.compile(r"\b(what|which) (other )?time\b", re.I)),
    ("name", re.compile(r"\byour name\b|\bname for\b", re.I)),
    ("phone", re.compile(r"\bphone number\b|\bdigits\b|\bthe number\b|\bnumber again\b", re.I)),
    ("items", re.compile(r"\bwhat would you like to order\b|\bwhat can i get you\b", re.I)),
    ("pickup", re.compile(r"\bpick (it|them) up\b|\bpickup time\b", re.I)),
    ("message", re.compile(r"\bwhat'?s the message\b|\bwhat should i tell\b", re.I)),
    ("else", re.compile(r"\banything else\b", re.I)),
]
CLAIM = re.compile(
    r"\b(you'?re all set|i'?ve (booked|placed|reserved|cancel+ed|passed|taken|put in|sent)|"
    r"i (have|will|'ll) (go ahead and )?(book|reserve|place|cancel|pass)|"
    r"(is|are|has been|have been) (now )?(booked|reserved|confirmed|placed|cancel+ed)|"
    r"(booking|reservation|order) (is|has been) (confirmed|placed|made|cancel+ed)|"
    r"i'?ll (let them know|pass (it|that) on))\b", re.I)
DENIAL = re.compile(r"\b(?:don'?t|do not) (?:have|serve|offer|make) (?:any )?([a-z][a-z' -]{2,40}?)"
                    r"(?:[.,;!?]|$| or | on | at )", re.I)
MAX_EXCHANGES = 12


@dataclass
class Outcome:
    """One case's result."""

    case_id: str
    kind: str  # "turn" | "dialogue"
    cls: str
    right: bool
    why: str = ""
    false_claims: list[str] = field(default_factory=list)
    transcript: list[tuple[str, str]] = field(default_factory=list)
    second_reader: int = 0


# --- the chat, in this process or through the command -------------------------------------


class InProcessChat:
    def __init__(self, db_path: Path, company_id: int, clock: str, llm: tuple | None):
        from voicebot.chat import TextChat
        from voicebot.config import parse_clock

        self.database = Database(str(db_path))
        company = CompanyRepository(self.database).get(company_id)
        settings, process = llm if llm else (None, None)
        self.session = TextChat(self.database, company, parse_clock(clock), llm=settings, llm_process=process)

    async def __aenter__(self):
        await self.session.start()
        return self

    async def say(self, line: str) -> dict[str, Any]:
        turn = await self.session.say(line)
        return {"bot": turn.bot, "by": turn.by, "rows": turn.rows, "ended": turn.ended,
                "second_reader": getattr(self.session, "second_reader_turns", lambda: 0)()}

    async def __aexit__(self, *exc):
        await self.session.close()
        self.database.dispose()


class CommandChat:
    """``uv run voicebot --db PATH chat --json``: the command itself, one process per call."""

    def __init__(self, db_path: Path, company_id: int, clock: str, llm: tuple | None):
        self.args = ["uv", "run", "voicebot", "--db", str(db_path), "chat", "--company", str(company_id),
                     "--clock", clock, "--json", *([] if llm else ["--no-llm"])]

    async def __aenter__(self):
        self.process = await asyncio.create_subprocess_exec(*self.args, stdin=subprocess.PIPE,
                                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self

    async def say(self, line: str) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        if self.process.returncode is not None:
            return {"bot": "", "by": "none", "rows": [], "ended": True, "second_reader": 0}
        self.process.stdin.write((line + "\n").encode())
        await self.process.stdin.drain()
        out = await self.process.stdout.readline()
        if not out:
            return {"bot": "", "by": "none", "rows": [], "ended": True, "second_reader": 0}
        answer = json.loads(out)
        answer["ended"] = False
        return answer

    async def __aexit__(self, *exc):
        if self.process.stdin:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()


# --- the database for one case -----------------------------------------------------------


def template_database(folder: Path) -> Path:
    path = folder / "template.db"
    database = Database(str(path))
    seed_demo_companies(database)
    database.dispose()
    return path


def prepare_database(template: Path, folder: Path, case: dict[str, Any], company_id: int) -> tuple[Path, dict]:
    """A fresh copy of the demo database with the case's ``setup`` rows; the setup rows' keys."""
    path = folder / f"{case['id']}.db"
    shutil.copy(template, path)
    setup = case.get("setup") or {}
    keys: dict[str, tuple[str, int]] = {}
    if not setup:
        return path, keys
    database = Database(str(path))
    company = CompanyRepository(database).get(company_id)
    with database.engine.begin() as db:
        if "booking" in setup:
            b = setup["booking"]
            result = db.execute(bookings_table.insert().values(
                company_id=company_id, name=b["name"], phone=str(b["phone"]), party_size=int(b["party"]),
                starts_at=datetime.fromisoformat(b["when"]), status="booked", created_at=datetime(2026, 11, 30, 10)))
            keys["booking"] = ("booking", result.inserted_primary_key[0])
        if "order" in setup:
            o = setup["order"]
            desk = OrderDesk(database, company)
            lines = []
            for item in o["items"]:
                found = desk.menu.find(item["name"])
                assert found is not None, f"{case['id']}: setup dish {item['name']!r} is not on the menu"
                lines.append((found, int(item.get("quantity", 1))))
            result = db.execute(orders.insert().values(
                company_id=company_id, name=o["name"], phone=str(o["phone"]),
                pickup_at=datetime.fromisoformat(o["pickup"]), total_cents=sum(i.price_cents * q for i, q in lines),
                created_at=datetime(2026, 12, 2, 12, 0)))
            order_id = result.inserted_primary_key[0]
            for item, quantity in lines:
                db.execute(order_items.insert().values(order_id=order_id, menu_item_id=item.id, name=item.name,
                                                       quantity=quantity, unit_price_cents=item.price_cents))
            keys["order"] = ("order", order_id)
    database.dispose()
    return path, keys


# --- reading the bot's words ------------------------------------------------------------


def asked_for(bot: str) -> str | None:
    """What the bot's last sentence asks the caller for, as a caller hears it."""
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", bot.strip()) if s]
    for sentence in reversed(sentences[-2:]):
        for slot, pattern in QUESTIONS:
            if pattern.search(sentence):
                return slot
    return None


def false_claims(bot: str, rows: list, menu_names: list[str]) -> list[str]:
    found = []
    if not rows and CLAIM.search(bot):
        found.append(f"claims an action, nothing stored: {bot!r}")
    for match in DENIAL.finditer(bot):
        said = match.group(1).strip().lower()
        for name in menu_names:
            short = name.split(",")[0].lower()
            if fuzz.token_set_ratio(said, short) >= 85 or fuzz.partial_ratio(short, said) >= 90:
                found.append(f"denies {name!r} on the menu: {bot!r}")
                break
    return found


def answer_for(slot: str, case: dict[str, Any], company_id: int) -> str:
    answers = case.get("answers") or {}
    if slot in answers:
        return str(answers[slot])
    if slot == "when":
        return f"{answer_for('day', case, company_id)} at {answer_for('time', case, company_id)}"
    value = DEFAULT_ANSWERS[slot]
    return value[company_id] if isinstance(value, dict) else value


# --- checking the rows ---------------------------------------------------------------------


def _same_name(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def row_matches(expected: dict[str, Any], row: dict[str, Any]) -> bool:
    if row.get("kind") != expected.get("kind"):
        return False
    status = expected.get("status")
    if status is not None and row.get("status") != status:
        return False
    if status is None and row.get("status") == "cancelled":
        return False
    if "name" in expected and not _same_name(expected["name"], row.get("name")):
        return False
    if "phone" in expected and re.sub(r"\D", "", str(expected["phone"])) != row.get("phone"):
        return False
    kind = expected["kind"]
    if kind == "booking":
        whens = expected.get("when_any") or ([expected["when"]] if "when" in expected else [])
        if "party" in expected and row["party"] != expected["party"]:
            return False
        return not whens or row["when"] in whens
    if kind == "order":
        if "items" in expected:
            want = Counter({i["name"].lower(): int(i.get("quantity", 1)) for i in expected["items"]})
            got = Counter({i["name"].lower(): i["quantity"] for i in row["items"]})
            if want != got:
                return False
        return "pickup" not in expected or row["pickup"] == expected["pickup"]
    if kind == "message":
        text = (row.get("text") or "").lower()
        return all(word.lower() in text for word in expected.get("has", []))
    return False


def rows_match(expected: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """'' if ``rows`` are exactly ``expected`` (any order), else why not."""
    left = list(rows)
    for want in expected:
        found = next((row for row in left if row_matches(want, row)), None)
        if found is None:
            return f"expected {want}, got {rows}"
        left.remove(found)
    if left:
        return f"unexpected rows {left}"
    return ""


def expected_rows(expect: dict[str, Any], setup_keys: dict) -> list[dict[str, Any]] | None:
    """The rows a turn case must leave, or None when the expectation is not about rows."""
    for kind in ("booking", "order", "message"):
        if kind in expect:
            return [{"kind": kind, **expect[kind]}]
    if "cancelled" in expect:
        return [{"kind": expect["cancelled"], "status": "cancelled"}]
    return None


def final_rows(changes: dict[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    return list(changes.values())


# --- running a case ------------------------------------------------------------------------


async def run_turn(chat, case: dict[str, Any], company_id: int, menu_names: list[str]) -> Outcome:
    outcome = Outcome(case["id"], "turn", case.get("class", "?"), right=False)
    expect, gives = case["expect"], set(case.get("gives") or [])
    line, changes, problems = case["say"], {}, []
    first: dict[str, Any] | None = None
    for exchange in range(MAX_EXCHANGES):
        answer = await chat.say(line)
        outcome.transcript.append((line, answer["bot"]))
        outcome.false_claims += false_claims(answer["bot"], answer["rows"], menu_names)
        outcome.second_reader = answer.get("second_reader", 0)
        for row in answer["rows"]:
            changes[(row["kind"], row["id"])] = row
        first = first or answer
        goes_on = expected_rows(expect, {}) or expect.get("refused") or case.get("setup")  # a look-up asks the number
        if answer.get("ended") or exchange == 0 and not goes_on:
            break
        slot = asked_for(answer["bot"])
        if slot is None:
            break
        if slot == "confirm":
            line = "yes"
        elif slot == "else":
            line = "no, that's all"
        else:
            asked = {"when": {"day", "time"}}.get(slot, {slot})
            if asked & gives:
                problems.append(f"asked again for {slot}")
            line = answer_for(slot, case, company_id)
        if slot == "else":
            answer = await chat.say(line)
            outcome.transcript.append((line, answer["bot"]))
            break
    assert first is not None
    rows = final_rows(changes)
    want = expected_rows(expect, {})
    if want is not None:
        why = rows_match(want, rows)
        if why:
            problems.append(why)
    elif "reply" in expect or "refused" in expect or "transfer" in expect or "goodbye" in expect:
        if rows:
            problems.append(f"stored {rows}")
        reply = expect.get("reply") or expect.get("refused") or {}
        # A look-up answers after the number is given: every reply of the call counts.
        text = " ".join(bot for _, bot in outcome.transcript).lower() if case.get("setup") else first["bot"].lower()
        for word in reply.get("has", []):
            if str(word).lower() not in text:
                problems.append(f"reply lacks {word!r}")
        for word in reply.get("lacks", []):
            if str(word).lower() in text:
                problems.append(f"reply has {word!r}")
        by = reply.get("by", "any")
        if by == "desk" and first["by"] != "desk":
            problems.append(f"answered by {first['by']}, not the desk")
        if by == "not-desk" and first["by"] == "desk" and asked_for(first["bot"]) not in (None, "else"):
            problems.append("the desk took it as a request")
        if expect.get("transfer") and not re.search(r"put you through|reach our staff|\d{3}-\d{4}", text):
            problems.append("not put through")
        if expect.get("goodbye") and not first.get("ended") and "goodbye" not in text:
            problems.append("did not end the call")
    if outcome.false_claims:
        problems += outcome.false_claims
    outcome.right, outcome.why = not problems, "; ".join(problems)
    return outcome


async def run_dialogue(chat, case: dict[str, Any], menu_names: list[str], setup_keys: dict) -> Outcome:
    outcome = Outcome(case["id"], "dialogue", case.get("class", "?"), right=False)
    changes: dict[tuple[str, int], dict[str, Any]] = {}
    for line in case["lines"]:
        answer = await chat.say(str(line))
        outcome.transcript.append((str(line), answer["bot"]))
        outcome.false_claims += false_claims(answer["bot"], answer["rows"], menu_names)
        outcome.second_reader = answer.get("second_reader", 0)
        for row in answer["rows"]:
            changes[(row["kind"], row["id"])] = row
        if answer.get("ended"):
            break
    problems = []
    want = (case.get("expect") or {}).get("rows", [])
    why = rows_match(want, final_rows(changes))
    if why:
        problems.append(why)
    problems += outcome.false_claims
    outcome.right, outcome.why = not problems, "; ".join(problems)
    return outcome


def load(folder: Path, name: str, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    path = folder / name
    if not path.exists():
        return {}, []
    data = yaml.safe_load(path.read_text())
    return data.get("defaults") or {}, data[key]


async def run(args) -> dict[str, Any]:
    folder = Path(args.corpus) if args.corpus else HERE
    turn_defaults, turns = load(folder, "turns.yaml", "cases")
    dialogue_defaults, dialogues = load(folder, "dialogues.yaml", "dialogues")
    only = set(args.only.split(",")) if args.only else None
    cases = [("turn", turn_defaults, c) for c in turns] + [("dialogue", dialogue_defaults, c) for c in dialogues]
    if only:
        cases = [c for c in cases if c[2].get("class") in only or c[2]["id"] in only]
    llm = None
    if args.llm:
        settings = LLMConfig.from_env()
        llm = (settings, await asyncio.to_thread(start_llm, settings))
    outcomes: list[Outcome] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="understanding-") as folder_name:
        folder = Path(folder_name)
        template = template_database(folder)
        menus = {}
        database = Database(str(template))
        for company_id, _ in CompanyRepository(database).list():
            menus[company_id] = [item.name for item in CompanyRepository(database).get(company_id).menu]
        database.dispose()
        chat_type = CommandChat if args.cli else InProcessChat
        for kind, defaults, case in cases:
            company_id = int(case.get("company", defaults.get("company", 2)))
            clock = str(case.get("clock", defaults.get("clock", "2026-12-02T12:30")))
            path, keys = prepare_database(template, folder, case, company_id)
            try:
                async with chat_type(path, company_id, clock, llm) as chat:
                    if kind == "turn":
                        outcome = await run_turn(chat, case, company_id, menus[company_id])
                    else:
                        outcome = await run_dialogue(chat, case, menus[company_id], keys)
            except Exception as e:  # a case that breaks the chat is a wrong case, not the end of the run
                outcome = Outcome(case["id"], kind, case.get("class", "?"), right=False, why=f"{type(e).__name__}: {e}")
            outcomes.append(outcome)
            path.unlink(missing_ok=True)
    if llm and llm[1] is not None:
        llm[1].stop()
    return summary(outcomes, time.monotonic() - started)


def summary(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    turns = [o for o in outcomes if o.kind == "turn"]
    dialogues = [o for o in outcomes if o.kind == "dialogue"]
    by_class: dict[str, dict[str, int]] = {}
    for o in outcomes:
        entry = by_class.setdefault(o.cls, {"of": 0, "right": 0})
        entry["of"] += 1
        entry["right"] += int(o.right)
    return {
        "turns": len(turns), "turns_right": sum(o.right for o in turns),
        "dialogues": len(dialogues), "dialogues_right": sum(o.right for o in dialogues),
        "false_claims": sum(len(o.false_claims) for o in outcomes),
        "second_reader_turns": sum(o.second_reader for o in outcomes),
        "by_class": dict(sorted(by_class.items())),
        "seconds": round(seconds, 1),
        "failures": [{"id": o.case_id, "class": o.cls, "why": o.why, "transcript": o.transcript}
                     for o in outcomes if not o.right],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--llm", action="store_true", help="the configured LLM answers what the desk does not")
    parser.add_argument("--only", default=None, help="classes or case ids, comma-separated")
    parser.add_argument("--failures", action="store_true", help="print each failure with its transcript")
    parser.add_argument("--cli", action="store_true", help="run `uv run voicebot chat` per case (slower)")
    parser.add_argument("--corpus", default=None,
                        help="a folder with turns.yaml and dialogues.yaml (default: bench/understanding; "
                             "bench/understanding/heldout is a set written after the desk was tuned)")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    failures = result.pop("failures")
    if args.json:
        print(json.dumps(result if not args.failures else {**result, "failures": failures}, ensure_ascii=False))
        return 0
    if args.failures:
        for f in failures:
            print(f"✗ {f['id']} [{f['class']}]: {f['why']}")
            for said, bot in f["transcript"]:
                print(f"    caller: {said}\n    bot:    {bot}")
    print(f"turns {result['turns_right']}/{result['turns']}, dialogues {result['dialogues_right']}/"
          f"{result['dialogues']}, false claims {result['false_claims']}, second reader "
          f"{result['second_reader_turns']} turns, {result['seconds']} s")
    for cls, entry in result["by_class"].items():
        print(f"  {cls:<16} {entry['right']}/{entry['of']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
