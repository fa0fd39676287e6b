"""The company's events as they are stored, by this server or any other process on its database.

The outbox (:mod:`voicebot.business.outbox`) is the one source: whoever stored a row, a call
on this server, ``voicebot chat`` or another server, its event is in the ``events`` table.
The feed notices new ones without asking the database what is new many times a second:

- PostgreSQL: ``LISTEN voicebot_events`` (the storing transaction notifies on commit), with
  a read every few seconds in case a notification was lost to a reconnect;
- SQLite: ``PRAGMA data_version`` on a connection of its own, which changes when any other
  connection commits to the file (a few microseconds a look, five looks a second).

Each subscriber (a board's event stream) gets every event after the one it last saw; the
listeners (the deliveries) are woken.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable

from loguru import logger
from sqlalchemy.engine import make_url

from voicebot.business import Database
from voicebot.business.outbox import NOTIFY_CHANNEL, Event, events_after, last_seq

QUEUE_LIMIT = 1000  # events a slow board may fall behind by before its stream is ended (it resumes)


class EventFeed:
    """New events of one company, fanned out to subscribers and listeners."""

    def __init__(self, database: Database, company_id: int, poll_s: float = 0.2, resync_s: float = 5.0):
        self.database = database
        self.company_id = company_id
        self._poll_s = poll_s
        self._resync_s = resync_s
        self._last = 0
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._listeners: list[Callable[[], None]] = []
        self._task: asyncio.Task | None = None
        self._fetching = asyncio.Lock()
        self._starting = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def last_seq(self) -> int:
        return self._last

    def on_new_events(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the event loop) whenever new events were read."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Start watching from the latest event (a second call does nothing)."""
        async with self._starting:
            if self._task is not None:
                return
            self._last = await asyncio.to_thread(self._read_last)
            watch = self._watch_file if self.database.is_sqlite else self._listen_postgres
            self._task = asyncio.create_task(watch(), name="event-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for queue in list(self._subscribers):
            queue.put_nowait(None)

    async def subscribe(self, after: int | None = None) -> AsyncIterator[Event]:
        """Every event stored from now on; with ``after`` (a stream's Last-Event-ID), first those after it."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers.add(queue)
        sent = self._last if after is None else after
        try:
            if after is not None:
                for missed in await asyncio.to_thread(self._read_after, after):
                    sent = missed.seq
                    yield missed
            while (event := await queue.get()) is not None:
                if event.seq > sent:
                    sent = event.seq
                    yield event
        finally:
            self._subscribers.discard(queue)

    async def check(self) -> None:
        """Read what is new now and hand it out (the watchers call it; so may a writer in this process)."""
        async with self._fetching:
            found = await asyncio.to_thread(self._read_after, self._last)
            if not found:
                return
            self._last = found[-1].seq
        for queue in list(self._subscribers):
            for event in found:
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    logger.warning("A board fell too far behind its event stream; ending it (it resumes)")
                    self._subscribers.discard(queue)
                    queue.get_nowait()
                    queue.put_nowait(None)
                    break
        for listener in self._listeners:
            listener()

    # --- watching the database --------------------------------------------------------------

    def _read_last(self) -> int:
        with self.database.engine.connect() as db:
            return last_seq(db, self.company_id)

    def _read_after(self, seq: int) -> list[Event]:
        with self.database.engine.connect() as db:
            return events_after(db, self.company_id, seq)

    async def _watch_file(self) -> None:
        path = make_url(self.database.url).database or ""
        watcher = sqlite3.connect(path, check_same_thread=False)
        try:
            seen = watcher.execute("PRAGMA data_version").fetchone()[0]
            await self.check()
            while True:
                await asyncio.sleep(self._poll_s)
                version = watcher.execute("PRAGMA data_version").fetchone()[0]
                if version != seen:
                    seen = version
                    await self._checked()
        finally:
            watcher.close()

    async def _listen_postgres(self) -> None:
        import psycopg  # the PostgreSQL driver, present when the database is PostgreSQL

        url = make_url(self.database.url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while True:
                        await self._checked()  # what was stored while (re)connecting, then every resync_s
                        async for notice in connection.notifies(timeout=self._resync_s):
                            if notice.payload == str(self.company_id):
                                await self._checked()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database restarted, the network dropped: listen again
                logger.warning(f"Event feed lost the database ({type(e).__name__}: {e}); reconnecting in 2 s")
                await asyncio.sleep(2)

    async def _checked(self) -> None:
        try:
            await self.check()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a locked or restarting database: the next change or resync tries again
            logger.warning(f"Event feed could not read new events ({type(e).__name__}: {e})")
