"""The owner's record of every call: channel, start, duration, each turn's words on both sides,
the outcome, and the questions the bot could not answer.

Callers' words never reach the logs (:mod:`voicebot.privacy`); they are kept here, in the
business database, for the owner alone (``/owner``, ``/api/owner/calls``), and deleted after
``VOICEBOT_CALL_RETENTION_DAYS``. Each turn is written as it ends, so a call the server died
in keeps what was said until then (its outcome stays ``in_progress``).
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from sqlalchemy import Connection, case, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from voicebot.business import Database, schema
from voicebot.business.outbox import call_events, record_event, utc_now

# How a reply says it did not know: the prompt tells the LLM "if you don't know, say so and offer to
# take a message", and the desk's own lines say "I'm not sure" / "I don't have that".
_COULD_NOT_ANSWER = re.compile(
    r"\b(i (do not|don't|dont) (know|have (that|this|any|those|the) (information|info|details?))|"
    r"i'?m (not sure|afraid i (don't|do not|can't|cannot) (say|tell|answer|help with that))|"
    r"i (can't|cannot|couldn't) (find|answer|tell you)|(that|this) (isn't|is not) something i (know|have)|"
    r"no information (about|on)|not something i can answer)",
    re.IGNORECASE)

OUTCOMES = ("in_progress", "stored", "put_through", "hung_up", "ended", "refused_busy")


def could_not_answer(reply: str) -> bool:
    """Whether the bot's reply admits it had no answer (the caller's question then goes to the report)."""
    return bool(_COULD_NOT_ANSWER.search(reply))


class CallRecord:
    """One call's record, written turn by turn; :meth:`close` gives it its duration and outcome."""

    def __init__(self, database: Database, company_id: int, call_id: str, channel: str, started_at: datetime):
        self.database = database
        self.company_id = company_id
        self.call_id = call_id
        self.channel = channel
        self.started_at = started_at
        self._started = time.monotonic()
        self._last_question: int | None = None
        self.put_through = False
        self.caller_hung_up = False
        self._writes: asyncio.Lock = asyncio.Lock()
        self._opened = False

    async def open(self) -> None:
        await self._write(self._insert_call)

    async def caller_said(self, text: str) -> None:
        if text.strip():
            await self._write(self._insert_turn, "caller", text.strip(), False)

    async def bot_said(self, text: str) -> None:
        if text.strip():
            await self._write(self._insert_turn, "bot", text.strip(), could_not_answer(text))

    async def close(self) -> str:
        """Store the duration and the outcome; returns the outcome."""
        try:
            outcome = await asyncio.to_thread(self._outcome)
        except SQLAlchemyError:
            outcome = "ended"
        await self._write(self._finish, outcome, round(time.monotonic() - self._started, 2))
        return outcome

    # --- writes (a failing database costs the record, never the call) ----------------------

    async def _write(self, work, *args) -> None:
        async with self._writes:
            try:
                await asyncio.to_thread(work, *args)
            except SQLAlchemyError as e:
                logger.warning(f"Call {self.call_id}: its record was not written ({type(e).__name__})")

    def _insert_call(self) -> None:
        with self.database.transaction() as db:
            db.execute(insert(schema.calls).values(
                id=self.call_id, company_id=self.company_id, channel=self.channel, started_at=self.started_at,
                outcome="in_progress", recorded_at=utc_now()))
        self._opened = True

    def _insert_turn(self, role: str, text: str, unanswered: bool) -> None:
        if not self._opened:
            return
        t = schema.call_turns
        with self.database.transaction() as db:
            turn_id = db.execute(insert(t).values(call_id=self.call_id, role=role, text=text,
                                                  at_s=round(time.monotonic() - self._started, 2),
                                                  unanswered=False).returning(t.c.id)).scalar_one()
            if role == "caller":
                self._last_question = turn_id
            elif unanswered and self._last_question is not None:
                db.execute(update(t).where(t.c.id == self._last_question).values(unanswered=True))

    def _outcome(self) -> str:
        if self.put_through:
            return "put_through"
        with self.database.engine.connect() as db:
            stored = call_events(db, self.call_id)
        if stored:
            return "stored"
        return "hung_up" if self.caller_hung_up else "ended"

    def _finish(self, outcome: str, duration_s: float) -> None:
        if not self._opened:
            return
        with self.database.transaction() as db:
            db.execute(update(schema.calls).where(schema.calls.c.id == self.call_id)
                       .values(outcome=outcome, duration_s=duration_s))
            summary = _summaries(db, [schema.calls.c.id == self.call_id], 1)[0]
            record_event(db, self.company_id, "call.ended", summary, source="call")


def record_refused(database: Database, company_id: int, call_id: str, channel: str, started_at: datetime) -> None:
    """A caller turned away because every line was busy: a call with no turns, outcome ``refused_busy``."""
    try:
        with database.transaction() as db:
            db.execute(insert(schema.calls).values(
                id=call_id, company_id=company_id, channel=channel, started_at=started_at, duration_s=0.0,
                outcome="refused_busy", recorded_at=utc_now()))
    except SQLAlchemyError as e:
        logger.warning(f"A refused call was not recorded ({type(e).__name__})")


# --- reading, for the owner ------------------------------------------------------------------


def _call(row) -> dict[str, Any]:
    return {"id": row.id, "channel": row.channel, "started": row.started_at.strftime("%Y-%m-%d %H:%M"),
            "duration_s": row.duration_s, "outcome": row.outcome}


def _summaries(db: Connection, where: list, limit: int) -> list[dict[str, Any]]:
    c, t = schema.calls, schema.call_turns
    turns = (select(t.c.call_id, func.count().label("turns"),
                    func.sum(case((t.c.unanswered, 1), else_=0)).label("unanswered"))
             .group_by(t.c.call_id).subquery())
    query = (select(c, turns.c.turns, turns.c.unanswered).outerjoin(turns, turns.c.call_id == c.c.id)
             .where(*where).order_by(c.c.started_at.desc(), c.c.recorded_at.desc()).limit(limit))
    return [{**_call(r), "turns": r.turns or 0, "unanswered": int(r.unanswered or 0)} for r in db.execute(query)]


def list_calls(database: Database, company_id: int, day: datetime | None = None, limit: int = 200
               ) -> list[dict[str, Any]]:
    """The company's calls, newest first, with how many turns each had and how many went unanswered."""
    c = schema.calls
    where = [c.c.company_id == company_id]
    if day is not None:
        where += [c.c.started_at >= day, c.c.started_at < day + timedelta(days=1)]
    with database.engine.connect() as db:
        return _summaries(db, where, limit)


def read_call(database: Database, company_id: int, call_id: str) -> dict[str, Any] | None:
    """One call with its turns and the rows it stored or changed; None if the company has no such call."""
    c, t = schema.calls, schema.call_turns
    with database.engine.connect() as db:
        row = db.execute(select(c).where(c.c.id == call_id, c.c.company_id == company_id)).first()
        if row is None:
            return None
        turns = [{"role": r.role, "text": r.text, "at_s": r.at_s, "unanswered": r.unanswered}
                 for r in db.execute(select(t).where(t.c.call_id == call_id).order_by(t.c.id))]
        changes = [{"type": e.type, "row": e.data} for e in call_events(db, call_id)]
    return {**_call(row), "turns": turns, "changes": changes}


def purge_old_records(database: Database, retention_days: int) -> int:
    """Delete call records (and events) older than ``retention_days``; how many calls went."""
    cutoff = utc_now() - timedelta(days=retention_days)
    with database.transaction() as db:
        old = [r.id for r in db.execute(select(schema.calls.c.id).where(schema.calls.c.recorded_at < cutoff))]
        if old:
            db.execute(delete(schema.call_turns).where(schema.call_turns.c.call_id.in_(old)))
            db.execute(delete(schema.calls).where(schema.calls.c.id.in_(old)))
        old_events = select(schema.events.c.seq).where(schema.events.c.at < cutoff).scalar_subquery()
        db.execute(delete(schema.event_deliveries).where(schema.event_deliveries.c.event_seq.in_(old_events)))
        db.execute(delete(schema.events).where(schema.events.c.at < cutoff))
    if old:
        logger.info(f"Deleted {len(old)} call record(s) older than {retention_days} days")
    return len(old)

