"""Messages for the staff: who called, how to call back, and what they said.

A message is the desk's last resort (a booking it could not make, a question it cannot
answer), so it must not be lost when the database is: if the insert fails, the message is
appended to a spool file beside the server's data and moved into the database as soon as
it answers again (before the next message, and at start-up).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

from loguru import logger
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from voicebot.business import outbox, schema
from voicebot.business.database import Company, Database
from voicebot.business.desk import Clock, DeskResult, check_contact, company_clock, phone_digits, refused
from voicebot.privacy import said

_SPOOL_LOCK = threading.Lock()


class MessagePad:
    """Takes one company's messages; ``spool``: where they wait while the database is down."""

    def __init__(self, database: Database, company: Company, clock: Clock | None = None,
                 spool: Path | None = None):
        self.database = database
        self.company = company
        self.clock = clock or company_clock(company)
        self.spool = spool

    def take(self, name: str, phone: str, message: str) -> DeskResult:
        if not (message or "").strip():
            return refused("What message would you like me to pass on?")
        problem = check_contact(name, phone, "message")
        if problem:
            return refused(problem)
        row = {"company_id": self.company.id, "name": name.strip(), "phone": phone_digits(phone),
               "text": message.strip(), "created_at": self.clock()}
        try:
            self.replay()
            message_id = self._insert(row)
        except SQLAlchemyError as e:
            if self.spool is None:
                raise
            self._write_spool(row)
            logger.error(f"Message for {self.company.name} from {said(str(row['name']))} kept in {self.spool} "
                         f"(the database failed: {type(e).__name__}); it goes in when the database is back")
            return DeskResult(True, f"I've written your message down, {row['name']}; someone will call you back "
                                    "soon. Anything else?", {"message_id": None, "spooled": True})
        logger.info(f"Message #{message_id} for {self.company.name} from {said(str(row['name']))}")
        return DeskResult(True, f"I've passed your message on, {row['name']}; someone will call you back soon. "
                                "Anything else?", {"message_id": message_id})

    def replay(self) -> int:
        """Move the messages spooled while the database was down into it; how many moved."""
        if self.spool is None or not self.spool.exists():
            return 0
        with _SPOOL_LOCK:
            lines = [line for line in self.spool.read_text().splitlines() if line.strip()]
            if not lines:
                return 0
            rows = [json.loads(line) for line in lines]
            for row in rows:
                row["created_at"] = datetime.fromisoformat(row["created_at"])
            with self.database.transaction() as db:
                for row in rows:
                    self._insert_on(db, row)
            self.spool.unlink()
        logger.info(f"{len(rows)} message(s) kept while the database was down are now in it")
        return len(rows)

    def _insert(self, row: dict) -> int:
        with self.database.transaction() as db:
            return self._insert_on(db, row)

    def _insert_on(self, db, row: dict) -> int:
        """The message and its event, in the caller's transaction."""
        message_id = db.execute(insert(schema.messages).values(**row).returning(schema.messages.c.id)).scalar_one()
        outbox.record(db, row["company_id"], "message", message_id, "created")
        return message_id

    def _write_spool(self, row: dict) -> None:
        assert self.spool is not None
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with _SPOOL_LOCK, open(self.spool, "a", encoding="utf-8") as spool:
            spool.write(json.dumps({**row, "created_at": row["created_at"].isoformat()}) + "\n")
