"""Every call the server takes, browser or phone, from admission to clean-up, in one object.

The routes say what happened (a caller asked for a line, the offer was answered, the caller
connected, the call ran and ended); :class:`Calls` keeps the books the same way for every
transport: the admission's places (:class:`~voicebot.admission.Admission`), the tasks of the
calls in progress (ended at shutdown, counted by ``/health``), and the record of callers turned
away because every line was busy (:mod:`voicebot.call_record`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from loguru import logger

from voicebot.admission import Admission
from voicebot.business import Database
from voicebot.call_record import record_refused
from voicebot.signalling import BadSignalling


class Calls:
    """The calls of one server; each is known by its line (the key the admission counts it under)."""

    def __init__(self, admission: Admission, database: Database, company_id: int, clock: Callable[[], datetime]):
        self.admission = admission
        self.database = database
        self.company_id = company_id
        self.clock = clock
        self.tasks: dict[str, asyncio.Task] = {}

    def __len__(self) -> int:
        return len(self.tasks)

    def __contains__(self, line: object) -> bool:
        return line in self.tasks

    async def admit(self, client: str, channel: str) -> None:
        """Hold a line for ``client`` while its call is answered, or raise :class:`BadSignalling` (503 all
        lines busy, 429 too many unanswered offers); a caller turned away as busy is recorded for the owner."""
        try:
            self.admission.reserve(client)
        except BadSignalling as e:
            if e.status == 503:
                await asyncio.to_thread(record_refused, self.database, self.company_id,
                                        f"refused-{uuid.uuid4().hex[:12]}", channel, self.clock())
            raise

    def release(self, client: str) -> None:
        """The call being answered failed before it had a line of its own: its place goes back."""
        self.admission.release(client)

    def answered(self, client: str, line: str) -> None:
        """Answered: the call waits on ``line`` for its caller to connect."""
        self.admission.answered(client, line)

    def connected(self, line: str) -> bool:
        """The caller connected: True if a line is theirs (else every line filled up meanwhile)."""
        return self.admission.connected(line)

    async def turned_away(self, line: str, channel: str) -> None:
        """A caller who connected after every line filled up: recorded for the owner as a 503 would be."""
        self.ended(line)
        await asyncio.to_thread(record_refused, self.database, self.company_id, f"refused-{line[-12:]}", channel,
                                self.clock())

    def start(self, line: str, work: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run a call as its own task; its line is freed when the task ends, however it ends."""
        task = asyncio.create_task(work, name=f"call-{line}")
        self.tasks[line] = task
        task.add_done_callback(lambda _: self.ended(line))
        return task

    @contextmanager
    def running(self, line: str) -> Iterator[None]:
        """A call run in the current task (a phone stream's WebSocket handler): tracked until the block ends."""
        task = asyncio.current_task()
        assert task is not None, "a coroutine runs in a task"
        self.tasks[line] = task
        try:
            yield
        finally:
            self.ended(line)

    def ended(self, line: str) -> None:
        """The call on ``line`` is over (or never connected): its line is free. Saying it twice is harmless."""
        self.tasks.pop(line, None)
        self.admission.ended(line)

    async def end_all(self) -> None:
        """End every call in progress (shutdown)."""
        tasks = list(self.tasks.values())
        if tasks:
            logger.info(f"Shutting down: ending {len(tasks)} call(s)...")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
