"""Every event to the owner's webhook and inbox, at least once, whatever crashes in between.

The events are already in the database (the outbox); what each channel has done with each
one is in ``event_deliveries``. A server claims an event for a channel by writing that row
with a short lease (two servers on one database do not both send it, and a server killed
mid-send leaves a lease that runs out), sends it, and marks it delivered, or counts the
failure and sets the next try by exponential backoff (``first_retry_s`` doubled each time,
at most an hour apart) until ``give_up_after_s`` after the event. The same event id goes out
every time, so a receiver that got it twice (a crash after its 200) drops the second.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx
from loguru import logger
from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from voicebot.business import Company, Database, schema
from voicebot.business.outbox import Event, event_from_row, utc_now
from voicebot.config import NotifyConfig, SMTPConfig
from voicebot.events.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, signature

LEASE_S = 15.0  # a claimed send not finished by then is someone else's to retry
MAX_BACKOFF_S = 3600.0
BATCH = 50


class NotifySettingsError(ValueError):
    """Notification settings that cannot work (a webhook without its secret, an inbox without SMTP)."""


class DeliveryFailed(Exception):
    """The receiver did not take the event (an HTTP error status, a refused connection, an SMTP error)."""


class Channel(Protocol):
    """Somewhere events go: ``name`` keys its deliveries; ``sources`` are the events it wants."""

    name: str
    sources: tuple[str, ...]
    skipped_types: tuple[str, ...]

    async def send(self, event: Event) -> None: ...

    async def close(self) -> None: ...


class WebhookChannel:
    """POSTs each event's JSON, signed (:mod:`voicebot.events.signing`); any 2xx is taken."""

    name = "webhook"
    sources: tuple[str, ...] = ("call", "owner", "cli")
    skipped_types: tuple[str, ...] = ()

    def __init__(self, url: str, secret: str, timeout_s: float = 10.0):
        self.url = url
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send(self, event: Event) -> None:
        body = event.body()
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: event.id,
                   SIGNATURE_HEADER: signature(self._secret, body), "User-Agent": "voicebot-webhook/1"}
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            raise DeliveryFailed(f"{type(e).__name__}: {e}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()


class EmailChannel:
    """Emails the owner of what callers stored (not of the owner's own changes, nor of every call)."""

    name = "email"
    sources: tuple[str, ...] = ("call", "cli")
    skipped_types: tuple[str, ...] = ("call.ended",)  # the board and the report list calls; no mail for each

    def __init__(self, smtp: SMTPConfig, to: str, company: Company, timeout_s: float = 20.0):
        self.smtp = smtp
        self.to = to
        self.company = company
        self._timeout_s = timeout_s

    def message(self, event: Event) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = self.to
        message["Subject"] = f"{self.company.name}: {describe(event)}"
        message["Message-ID"] = f"<{event.id}@voicebot>"  # the same on a resend: mail clients thread it as one
        lines = [describe(event), ""] + [f"{key}: {value}" for key, value in event.data.items()
                                         if key not in ("company",) and value not in ("", None)]
        message.set_content("\n".join(lines) + f"\n\nEvent {event.id} at {event.at:%Y-%m-%d %H:%M:%S} UTC\n")
        return message

    async def send(self, event: Event) -> None:
        smtp = self.smtp
        try:
            await aiosmtplib.send(self.message(event), hostname=smtp.host, port=smtp.port,
                                  username=smtp.username, password=smtp.password,
                                  use_tls=smtp.security == "tls", start_tls=smtp.security == "starttls",
                                  timeout=self._timeout_s)
        except (aiosmtplib.SMTPException, OSError) as e:
            raise DeliveryFailed(f"{type(e).__name__}: {e}") from None

    async def close(self) -> None:
        return None


def describe(event: Event) -> str:
    """An event in a few words: "New order #12: 2 × Dragon roll, $30, pickup 2026-12-02 13:00"."""
    kind, _, change = event.type.partition(".")
    data = event.data
    head = {"created": f"New {kind}", "cancelled": f"Cancelled {kind}"}.get(change, f"{kind.capitalize()} changed")
    if kind == "order":
        detail = f"{data.get('items')}, {data.get('total')}, pickup {data.get('pickup')} ({data.get('status')})"
    elif kind == "booking":
        detail = f"{data.get('party')} people on {data.get('when')} ({data.get('status')})"
    else:
        detail = str(data.get("message", ""))[:80]
    return f"{head} #{data.get('id')} from {data.get('name')}: {detail}"


def channels_for(company: Company, notify: NotifyConfig) -> list[Channel]:
    """The channels this company's events go to; raises NotifySettingsError on settings that cannot work."""
    found: list[Channel] = []
    url = company.webhook_url or notify.webhook_url
    if url:
        if not notify.webhook_secret:
            raise NotifySettingsError(f"Events go to the webhook {url} but VOICEBOT_WEBHOOK_SECRET is not set: "
                             "every POST is signed with it (see the README's 'Notifications')")
        found.append(WebhookChannel(url, notify.webhook_secret))
    to = company.notify_email or notify.email_to
    if to:
        if notify.smtp is None:
            raise NotifySettingsError(f"Events are to be emailed to {to} but VOICEBOT_SMTP_HOST is not set")
        found.append(EmailChannel(notify.smtp, to, company))
    return found


@dataclass
class Claimed:
    event: Event
    attempts: int


class Deliveries:
    """Sends the company's events on each channel; :meth:`wake` when new events are stored."""

    def __init__(self, database: Database, company_id: int, channels: list[Channel], notify: NotifyConfig):
        self.database = database
        self.company_id = company_id
        self.channels = channels
        self.notify = notify
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self.channels:
            self._task = asyncio.create_task(self._run(), name="event-deliveries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for channel in self.channels:
            await channel.close()

    async def _run(self) -> None:
        logger.info("Events delivered to: " + ", ".join(
            getattr(c, "url", None) or f"{c.name} {getattr(c, 'to', '')}".strip() for c in self.channels))
        while True:
            self._wake.clear()
            wait = 30.0
            for channel in self.channels:
                try:
                    wait = min(wait, await self.deliver_due(channel))
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # the database is away: try again shortly
                    logger.warning(f"Deliveries ({channel.name}) paused: {type(e).__name__}: {e}")
                    wait = min(wait, 2.0)
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.05, wait))
            except TimeoutError:
                pass

    async def deliver_due(self, channel: Channel) -> float:
        """Send what is due on ``channel`` now; seconds until the next retry is due (30 if none)."""
        while claimed := await asyncio.to_thread(self._claim, channel):
            for item in claimed:
                try:
                    await channel.send(item.event)
                except DeliveryFailed as e:
                    await asyncio.to_thread(self._failed, channel, item, str(e))
                else:
                    await asyncio.to_thread(self._delivered, channel, item)
        return await asyncio.to_thread(self._next_due_in, channel)

    # --- the deliveries table --------------------------------------------------------------

    def _claim(self, channel: Channel) -> list[Claimed]:
        """Events due on ``channel``, each claimed for ``LEASE_S`` (never claimed, or a retry that is due)."""
        e, d = schema.events, schema.event_deliveries
        now = utc_now()
        horizon = now - timedelta(seconds=self.notify.give_up_after_s)
        lease = now + timedelta(seconds=LEASE_S)
        claimed: list[Claimed] = []
        with self.database.engine.connect() as db:
            fresh = db.execute(
                select(e).outerjoin(d, and_(d.c.event_seq == e.c.seq, d.c.channel == channel.name))
                .where(e.c.company_id == self.company_id, e.c.at >= horizon, e.c.source.in_(channel.sources),
                       e.c.type.notin_(channel.skipped_types), d.c.event_seq.is_(None))
                .order_by(e.c.seq).limit(BATCH)).all()
            due = db.execute(
                select(e, d.c.attempts, d.c.next_try_at).join(d, and_(d.c.event_seq == e.c.seq,
                                                                      d.c.channel == channel.name))
                .where(e.c.company_id == self.company_id, d.c.delivered_at.is_(None), d.c.given_up.is_(False),
                       d.c.next_try_at <= now)
                .order_by(e.c.seq).limit(BATCH)).all()
        for row in fresh:
            try:
                with self.database.transaction() as db:
                    db.execute(insert(d).values(event_seq=row.seq, channel=channel.name, attempts=0,
                                                next_try_at=lease, given_up=False, last_error=""))
            except IntegrityError:
                continue  # another server claimed it first
            claimed.append(Claimed(event_from_row(row), 0))
        for row in due:
            with self.database.transaction() as db:
                taken = db.execute(update(d).where(d.c.event_seq == row.seq, d.c.channel == channel.name,
                                                   d.c.next_try_at == row.next_try_at, d.c.delivered_at.is_(None))
                                   .values(next_try_at=lease)).rowcount
            if taken:
                claimed.append(Claimed(event_from_row(row), row.attempts))
        return sorted(claimed, key=lambda c: c.event.seq)

    def _delivered(self, channel: Channel, item: Claimed) -> None:
        d = schema.event_deliveries
        with self.database.transaction() as db:
            db.execute(update(d).where(d.c.event_seq == item.event.seq, d.c.channel == channel.name)
                       .values(delivered_at=utc_now(), attempts=item.attempts + 1, last_error=""))
        logger.debug(f"Event {item.event.id} ({item.event.type}) delivered by {channel.name}")

    def _failed(self, channel: Channel, item: Claimed, error: str) -> None:
        d = schema.event_deliveries
        attempts = item.attempts + 1
        now = utc_now()
        wait = min(MAX_BACKOFF_S, self.notify.first_retry_s * 2 ** (attempts - 1))
        give_up = (now + timedelta(seconds=wait) - item.event.at).total_seconds() > self.notify.give_up_after_s
        with self.database.transaction() as db:
            db.execute(update(d).where(d.c.event_seq == item.event.seq, d.c.channel == channel.name)
                       .values(attempts=attempts, last_error=error[:500], given_up=give_up,
                               next_try_at=now + timedelta(seconds=wait)))
        if give_up:
            logger.error(f"Event {item.event.id} ({item.event.type}) not delivered by {channel.name} after "
                         f"{attempts} tries over {self.notify.give_up_after_s / 3600:.0f} h; giving up: {error}")
        else:
            logger.warning(f"Event {item.event.id} not delivered by {channel.name} (try {attempts}: {error}); "
                           f"next try in {wait:.1f}s")

    def _next_due_in(self, channel: Channel) -> float:
        d, e = schema.event_deliveries, schema.events
        with self.database.engine.connect() as db:
            soonest: datetime | None = db.execute(
                select(d.c.next_try_at).join(e, e.c.seq == d.c.event_seq)
                .where(e.c.company_id == self.company_id, d.c.channel == channel.name,
                       d.c.delivered_at.is_(None), d.c.given_up.is_(False))
                .order_by(d.c.next_try_at).limit(1)).scalar()
        if soonest is None:
            return 30.0
        return max(0.0, (soonest - utc_now()).total_seconds())

