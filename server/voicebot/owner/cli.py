"""``uv run voicebot …``: import a company file and read what the bot stored.

    voicebot company import FILE.yaml     validate and import (nothing changes on error)
    voicebot company demo                 the three demo restaurants, into a database with no company
    voicebot company list
    voicebot bookings list [--company N] [--date YYYY-MM-DD]
    voicebot orders list [--company N]
    voicebot messages list [--company N]
    voicebot owner-token [--rotate]       the credential for /owner (created if missing); --rotate: a new one
    voicebot chat --company N [--clock ISO] [--json] [--no-llm]
                                          talk to the bot in text (stdin lines; EOF ends the call)

``--db`` (or ``VOICEBOT_DB``) picks the database, as for the server.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from voicebot import config
from voicebot.business import ledger
from voicebot.business.company_file import (
    CompanyFileError,
    describe_company_file,
    import_company,
    load_company_file,
    seed_demo_companies,
)
from voicebot.business.database import CompanyNotFound, CompanyRepository, Database, database_url
from voicebot.owner.credential import OwnerCredential, OwnerCredentialError, token_file_for


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows as aligned text columns headed by the first row's keys; "(none)" when there are none."""
    if not rows:
        return "(none)"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip(),
             "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """``company import|list``, ``bookings|orders|messages list``, ``chat``, ``report`` and ``owner-token``,
    with ``--db`` and ``--json`` before the topic."""
    parser = argparse.ArgumentParser(prog="voicebot", description="The restaurant's data, for its owner.")
    parser.add_argument("--db", default=None, help="SQLite file or postgresql:// URL (env VOICEBOT_DB)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    topics = parser.add_subparsers(dest="topic", required=True)

    company = topics.add_parser("company", help="import or list companies").add_subparsers(dest="action", required=True)
    importing = company.add_parser("import", help="validate a company file and import it")
    importing.add_argument("file")
    company.add_parser("list", help="the companies in the database")
    company.add_parser("demo", help="import the demo restaurants into a database that has no company yet")

    for name in ("bookings", "orders", "messages"):
        actions = topics.add_parser(name, help=f"what the bot stored: {name}").add_subparsers(dest="action",
                                                                                              required=True)
        listing = actions.add_parser("list")
        listing.add_argument("--company", type=int, default=None)
        if name == "bookings":
            listing.add_argument("--date", type=date.fromisoformat, default=None, help="YYYY-MM-DD")

    chatting = topics.add_parser("chat", help="talk to the bot in text: the front desk and the LLM as in a call")
    chatting.add_argument("--company", type=int, required=True)
    chatting.add_argument("--clock", default=None,
                          help="the restaurant's wall clock fixed at a local time, 2026-12-05T19:30 or 19:30")
    chatting.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                          help='one JSON object per line: {"bot", "by": "desk"|"llm"|"none", "rows"}')
    chatting.add_argument("--no-llm", action="store_true",
                          help="no LLM: turns the desk does not take get an empty answer")

    reporting = topics.add_parser("report", help="the day's calls, bookings, orders and unanswered questions")
    reporting.add_argument("--company", type=int, required=True)
    reporting.add_argument("--date", type=date.fromisoformat, default=None,
                           help="YYYY-MM-DD (default: the restaurant's today)")
    reporting.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    owner_token = topics.add_parser("owner-token", help="the credential for the server's /owner page and /api/owner")
    owner_token.add_argument("--rotate", action="store_true",
                             help="make a new one: the old one and every signed-in session stop working at once")
    return parser


def owner_token(location: str, rotate: bool, as_json: bool) -> int:
    """Print the owner credential (the token alone on stdout, where it is kept on stderr); 1 if it cannot be."""
    try:
        path = token_file_for(database_url(location), config.data_dir())
        credential = OwnerCredential(path, config.owner_token())
        token = credential.rotate() if rotate else credential.current()
    except (OSError, OwnerCredentialError) as e:
        print(e, file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({"token": token, "source": credential.source, "rotated": rotate}))
        return 0
    print(token)
    what = "New owner credential, stored in" if rotate or credential.created else "Owner credential from"
    print(f"{what} {credential.source}; sign in at http://<server>/owner, or send "
          "'Authorization: Bearer <token>' to /api/owner/…", file=sys.stderr)
    return 0


def chat_command(database: Database, args: argparse.Namespace) -> int:
    """``voicebot chat``: a call in text with one company's bot; 1 for an unknown company or clock."""
    import asyncio

    from voicebot.chat import chat
    from voicebot.logs import setup_console_logging

    setup_console_logging(config.env_text("VOICEBOT_LOG_LEVEL", "WARNING"))
    if config.env_flag("VOICEBOT_DEMO_DATA", args.db == str(Path.cwd() / "business.db")):
        seed_demo_companies(database)  # as the server does for the default ./business.db
    try:
        company = CompanyRepository(database).get(args.company)
        clock = config.parse_clock(args.clock)
    except (CompanyNotFound, ValueError) as e:
        print(e, file=sys.stderr)
        return 1
    return asyncio.run(chat(database, company, clock, as_json=args.json, use_llm=not args.no_llm))


def report_command(database: Database, args: argparse.Namespace) -> int:
    """``voicebot report``: the day at a glance; 1 for an unknown company."""
    from voicebot.business.desk import company_clock
    from voicebot.owner.report import day_report, report_text

    try:
        company = CompanyRepository(database).get(args.company)
    except CompanyNotFound as e:
        print(e, file=sys.stderr)
        return 1
    day = args.date or company_clock(company, config.parse_clock(config.env_text("VOICEBOT_CLOCK")))().date()
    report = day_report(database, company, day)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else report_text(report, company))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one ``voicebot`` command; 1 if the company file is invalid (then nothing is imported)."""
    args = build_parser().parse_args(argv)
    args.db = args.db or config.database_location()
    if args.topic == "owner-token":
        return owner_token(args.db, args.rotate, args.json)
    database = Database(args.db)
    if args.topic == "chat":
        return chat_command(database, args)
    if args.topic == "report":
        return report_command(database, args)
    if args.topic == "company" and args.action == "demo":
        if not seed_demo_companies(database):
            print("The database already has companies; the demo restaurants go only into an empty one.",
                  file=sys.stderr)
            return 1
        print("Imported the demo restaurants: " + ", ".join(f"#{i} {n}" for i, n in CompanyRepository(database).list()))
        return 0
    if args.topic == "company" and args.action == "import":
        try:
            company = load_company_file(args.file)
        except CompanyFileError as e:
            print(e, file=sys.stderr)
            print("Nothing was imported.", file=sys.stderr)
            return 1
        company_id = import_company(database, company)
        print(f"Imported company #{company_id}: {describe_company_file(company)}")
        return 0
    if args.topic == "company":
        rows = [{"id": cid, "name": name} for cid, name in CompanyRepository(database).list()]
    elif args.topic == "bookings":
        rows = ledger.bookings(database, args.company, args.date)
    elif args.topic == "orders":
        rows = ledger.orders(database, args.company)
    else:
        rows = ledger.messages(database, args.company)
    print(json.dumps(rows, ensure_ascii=False, indent=2) if args.json else format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
