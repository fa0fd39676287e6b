"""The owner hears of every stored change (#30): events written with their rows, the owner's actions,
the live feed across processes, the event stream, signed webhooks that survive failures, email,
the record of each call and the day's report. Real SQLite files, real HTTP and SMTP servers on
loopback, real subprocesses; the only fake is a fault injected into a transaction."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from helpers import demo_database, wait_until, wait_until_async
from receivers import BoardStream, WebhookReceiver
from voicebot.app import create_app
from voicebot.business import CompanyRepository, Database, outbox, schema
from voicebot.business.bookings import BookingBook
from voicebot.business.messages import MessagePad
from voicebot.business.orders import OrderDesk
from voicebot.business.statuses import StatusRefused, set_status
from voicebot.call_record import CallRecord, could_not_answer, list_calls, purge_old_records, read_call, record_refused
from voicebot.config import NotifyConfig, ServerSettings, SMTPConfig
from voicebot.events import Deliveries, EventFeed, NotifySettingsError, channels_for
from voicebot.events.delivery import EmailChannel, WebhookChannel
from voicebot.events.signing import signature, verify
from voicebot.launcher import free_port
from voicebot.owner.report import day_report
from voicebot.runtime import Runtime

NOON = datetime(2026, 12, 2, 12, 0)  # a Wednesday; Tomodachi Sushi (#2) is open
SECRET = "whsec-test-0123456789"


def clock():
    return NOON


def sushi(database: Database):
    return CompanyRepository(database).get(2)


def events(database: Database, company_id: int = 2) -> list[outbox.Event]:
    with database.engine.connect() as db:
        return outbox.events_after(db, company_id, 0)


def place_order(database: Database, name: str = "Mia Wong", dishes=(("miso soup", 2),)) -> int:
    result = OrderDesk(database, sushi(database), clock).place(
        [{"name": dish, "quantity": n} for dish, n in dishes], name, "503 555 0147", "1:30 pm")
    assert result.ok, result.summary
    return result.data["order_id"]


# --- the outbox ------------------------------------------------------------------------------


def test_each_stored_change_is_an_event_with_the_row_as_the_owner_api_returns_it(tmp_path):
    database = demo_database(tmp_path / "business.db")
    company = sushi(database)
    booked = BookingBook(database, company, clock).book("Ravi Patel", "971 555 0102", 3, "Friday", "6:30 pm")
    order_id = place_order(database)
    MessagePad(database, company, clock).take("Lena Fox", "971 555 0199", "Is the patio heated?")
    BookingBook(database, company, clock).cancel_by_id(booked.data["booking_id"])
    OrderDesk(database, company, clock).cancel(order_id)

    found = events(database)
    assert [e.type for e in found] == ["booking.created", "order.created", "message.created",
                                       "booking.cancelled", "order.cancelled"]
    assert len({e.id for e in found}) == 5 and all(e.id.startswith("evt_") for e in found)
    created = found[1]
    now = [o for o in _orders(database) if o["id"] == order_id][0]  # since cancelled
    assert created.data == {**now, "status": "placed", "updated": ""}
    assert created.data["items"] == "2 × Miso soup" and created.payload()["company"] == 2
    assert found[3].data["status"] == "cancelled" and found[3].data["updated"] == "2026-12-02 12:00"
    body = json.loads(found[2].body())
    assert set(body) == {"id", "type", "company", "at", "source", "data"} and body["at"].endswith("Z")
    assert events(database, company_id=1) == []  # another company's board hears nothing of it


def _orders(database):
    from voicebot.business import ledger

    return ledger.orders(database, 2)


def test_a_row_whose_event_cannot_be_written_is_not_stored(tmp_path, monkeypatch):
    database = demo_database(tmp_path / "business.db")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full (injected)")

    monkeypatch.setattr(outbox, "record_event", broken)
    with pytest.raises(RuntimeError, match="injected"):
        place_order(database)
    with database.engine.connect() as db:
        assert db.execute(select(func.count()).select_from(schema.orders)).scalar() == 0
        assert db.execute(select(func.count()).select_from(schema.order_items)).scalar() == 0


def test_the_owners_actions_follow_the_kitchens_order_and_each_is_an_event(tmp_path):
    database = demo_database(tmp_path / "business.db")
    order_id = place_order(database)
    later = NOON + timedelta(minutes=7)
    for status in ("accepted", "ready", "picked_up"):
        row = set_status(database, 2, "order", order_id, status, later)
        assert row["status"] == status and row["updated"] == "2026-12-02 12:07"
    with pytest.raises(StatusRefused) as refused:
        set_status(database, 2, "order", order_id, "cancelled", later)  # picked up: too late to cancel
    assert refused.value.status == 409 and "picked up" in str(refused.value)
    assert set_status(database, 2, "order", order_id, "picked_up", later)["status"] == "picked_up"  # twice: once
    with pytest.raises(StatusRefused) as missing:
        set_status(database, 1, "order", order_id, "ready", later)  # another company's order
    assert missing.value.status == 404
    with pytest.raises(StatusRefused) as unknown:
        set_status(database, 2, "order", order_id, "eaten", later)
    assert unknown.value.status == 422
    found = events(database)
    assert [(e.type, e.data["status"], e.source) for e in found] == [
        ("order.created", "placed", "call"), ("order.updated", "accepted", "owner"),
        ("order.updated", "ready", "owner"), ("order.updated", "picked_up", "owner")]


def test_an_arrived_party_still_holds_its_seats(tmp_path):
    database = demo_database(tmp_path / "business.db")
    company = sushi(database)
    seats = company.policy.seats_per_slot
    book = BookingBook(database, company, clock)
    first = book.book("Ana Silva", "503 555 0110", 8, "today", "6 pm")
    assert first.ok, first.summary
    set_status(database, 2, "booking", first.data["booking_id"], "arrived", NOON)
    rest = seats - 8
    assert book.check("today", "6 pm", rest).ok
    assert not book.check("today", "6 pm", rest + 1).ok


# --- the live feed ---------------------------------------------------------------------------


def test_the_feed_hears_rows_stored_by_another_process_on_the_same_sqlite_file(tmp_path):
    database = demo_database(tmp_path / "business.db")

    async def scenario():
        feed = EventFeed(database, 2)
        await feed.start()
        got: list[tuple[outbox.Event, float]] = []

        async def listen():
            async for event in feed.subscribe():
                got.append((event, time.monotonic()))

        listener = asyncio.create_task(listen())
        script = ("import sys; sys.path.insert(0, 'tests'); from test_events_unit import place_order; "
                  f"from voicebot.business import Database; place_order(Database({str(database.url)[10:]!r}))")
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
        assert await process.wait() == 0
        stored_at = time.monotonic()
        await wait_until_async(lambda: got, timeout=5)
        listener.cancel()
        await feed.stop()
        return got, stored_at

    got, stored_at = asyncio.run(scenario())
    assert [e.type for e, _ in got] == ["order.created"]
    assert got[0][1] - stored_at < 2.0  # the bound for another process on SQLite


def test_a_stream_resumed_with_its_last_event_id_misses_nothing(tmp_path):
    database = demo_database(tmp_path / "business.db")

    async def scenario():
        feed = EventFeed(database, 2)
        await feed.start()
        first = await asyncio.to_thread(place_order, database, "Ada")
        await asyncio.to_thread(place_order, database, "Bea")
        await asyncio.to_thread(place_order, database, "Cy")
        seen = []
        async for event in feed.subscribe(after=events(database)[0].seq):
            seen.append(event.data["name"])
            if len(seen) == 2:
                break
        await feed.stop()
        return first, seen

    _, seen = asyncio.run(scenario())
    assert seen == ["Bea", "Cy"]


class ServedApp:
    """The web app on a real uvicorn server in a thread, without its lifespan (no models loaded)."""

    def __init__(self, runtime: Runtime):
        self.port = free_port()
        config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=self.port, lifespan="off",
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def test_the_event_stream_sends_each_change_to_the_owner_only(tmp_path):
    database = demo_database(tmp_path / "business.db")
    runtime = Runtime(settings=ServerSettings(company_id=2, data_dir=tmp_path / "data"), company=sushi(database),
                      database=database)
    with ServedApp(runtime) as url:
        token = runtime.owner.credential.current()
        assert httpx.get(f"{url}/api/owner/events", timeout=5).status_code == 401
        stream = BoardStream(url, token, count=2, timeout_s=10)
        assert stream.opened.wait(10) and stream.content_type.startswith("text/event-stream")
        wait_until(lambda: runtime.events is not None and runtime.events.running, timeout=5)
        order_id = place_order(database)
        accepted = httpx.post(f"{url}/api/owner/orders/{order_id}/status", json={"status": "accepted"},
                              headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
        assert httpx.post(f"{url}/api/owner/orders/{order_id}/status", content='{"status": "accepted"}',
                          headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 415
        stream.thread.join(10)
    received = stream.received
    assert [(e["type"], e["data"]["status"]) for e in received] == [("order.created", "placed"),
                                                                      ("order.updated", "accepted")]
    assert received[0]["company"] == 2 and received[0]["data"]["name"] == "Mia Wong"


# --- webhooks and email ----------------------------------------------------------------------


def test_signatures_are_checked_over_the_exact_body_and_time():
    body = b'{"id":"evt_1","type":"order.created"}'
    header = signature(SECRET, body, timestamp=1_700_000_000)
    assert verify(SECRET, body, header, now=1_700_000_100)
    assert not verify(SECRET, body + b" ", header, now=1_700_000_100)  # a changed body
    assert not verify("another-secret", body, header, now=1_700_000_100)
    assert not verify(SECRET, body, header, now=1_700_000_000 + 3600)  # replayed an hour later
    assert not verify(SECRET, body, "v1=deadbeef", now=1_700_000_000)


def test_a_receiver_that_fails_three_times_gets_every_event_once_and_signed(tmp_path):
    database = demo_database(tmp_path / "business.db")
    receiver = WebhookReceiver(SECRET, fail_next=3).start()
    notify = NotifyConfig(webhook_url=receiver.url, webhook_secret=SECRET, first_retry_s=0.05)

    async def scenario():
        deliveries = Deliveries(database, 2, channels_for(sushi(database), notify), notify)
        deliveries.start()
        for name in ("Ada", "Bea", "Cy"):
            await asyncio.to_thread(place_order, database, name)
            deliveries.wake()
        await wait_until_async(lambda: len(receiver.accepted) == 3, timeout=20)
        # The receiver's 200 comes before the delivery is marked: stopping in between would (rightly) resend.
        await wait_until_async(lambda: all(r.delivered_at for r in delivery_rows(database)), timeout=20)
        await deliveries.stop()

    try:
        asyncio.run(scenario())
    finally:
        receiver.stop()
    stored = events(database)
    assert set(receiver.accepted) == {e.id for e in stored}
    assert all(r.signed for r in receiver.requests)
    assert len(receiver.requests) == 3 + 3  # three refusals, then each event once
    # Retries may land after newer events (a busy machine, backoff): the receiver orders them by "at".
    assert [b["data"]["name"] for b in sorted(receiver.accepted.values(), key=lambda b: b["at"])] == [
        "Ada", "Bea", "Cy"]
    rows = delivery_rows(database)
    assert len(rows) == 3 and all(r.delivered_at is not None and not r.given_up for r in rows)
    assert sum(r.attempts for r in rows) == 6  # three refused tries, three accepted


def delivery_rows(database: Database) -> list:
    with database.engine.connect() as db:
        return db.execute(select(schema.event_deliveries).order_by(schema.event_deliveries.c.event_seq)).all()


def test_a_delivery_past_its_horizon_is_given_up_and_said_so(tmp_path):
    database = demo_database(tmp_path / "business.db")
    receiver = WebhookReceiver(SECRET, fail_next=1000).start()
    notify = NotifyConfig(webhook_url=receiver.url, webhook_secret=SECRET, first_retry_s=0.05,
                          give_up_after_s=0.5)

    async def scenario():
        deliveries = Deliveries(database, 2, channels_for(sushi(database), notify), notify)
        place_order(database)
        deliveries.start()

        def given_up():
            with database.engine.connect() as db:
                return db.execute(select(schema.event_deliveries.c.given_up)).scalar()

        await wait_until_async(given_up, timeout=10)
        await deliveries.stop()
        return given_up()

    try:
        assert asyncio.run(scenario()) is True
    finally:
        receiver.stop()
    assert receiver.accepted == {}


def test_settings_that_cannot_deliver_stop_the_server_with_a_reason(tmp_path):
    company = sushi(demo_database(tmp_path / "business.db"))
    with pytest.raises(NotifySettingsError, match="VOICEBOT_WEBHOOK_SECRET"):
        channels_for(company, NotifyConfig(webhook_url="https://example.com/hook"))
    with pytest.raises(NotifySettingsError, match="VOICEBOT_SMTP_HOST"):
        channels_for(company, NotifyConfig(email_to="owner@example.com"))
    assert channels_for(company, NotifyConfig()) == []


class Inbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def test_the_owner_is_emailed_each_order_but_not_their_own_changes(tmp_path):
    database = demo_database(tmp_path / "business.db")
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    notify = NotifyConfig(email_to="kitchen@tomodachi.example", first_retry_s=0.05,
                          smtp=SMTPConfig(host="127.0.0.1", port=port, security="none",
                                          sender="bot@tomodachi.example"))
    channels = channels_for(sushi(database), notify)
    assert [type(c) for c in channels] == [EmailChannel]

    async def scenario():
        deliveries = Deliveries(database, 2, channels, notify)
        deliveries.start()
        order_id = await asyncio.to_thread(place_order, database, "Noor Haddad", (("dragon roll", 3),))
        await asyncio.to_thread(set_status, database, 2, "order", order_id, "accepted", NOON)
        deliveries.wake()
        await wait_until_async(lambda: inbox.messages, timeout=10)
        await asyncio.sleep(0.5)  # time for a second mail, which must not come
        await deliveries.stop()

    try:
        asyncio.run(scenario())
    finally:
        smtp.stop()
    assert len(inbox.messages) == 1
    mail = email.message_from_bytes(inbox.messages[0].content, policy=email.policy.default)
    assert mail["Subject"] == "Tomodachi Sushi: New order #1 from Noor Haddad: 3 × Dragon roll, $45, pickup " \
                              "2026-12-02 13:30 (placed)"
    mail = mail.get_content()
    assert inbox.messages[0].rcpt_tos == ["kitchen@tomodachi.example"]
    assert "items: 3 × Dragon roll" in mail and "phone: 5035550147" in mail


def test_a_company_file_webhook_wins_over_the_servers(tmp_path):
    database = demo_database(tmp_path / "business.db")
    with database.transaction() as db:
        db.execute(update(schema.companies).where(schema.companies.c.id == 2)
                   .values(webhook_url="https://tomodachi.example/hooks"))
    channels = channels_for(sushi(database), NotifyConfig(webhook_url="https://server.example/hooks",
                                                          webhook_secret=SECRET))
    assert [c.url for c in channels if isinstance(c, WebhookChannel)] == ["https://tomodachi.example/hooks"]


# --- call records and the report --------------------------------------------------------------


@pytest.mark.parametrize("reply, unanswered", [
    ("Hmm, I don't have that information, but I can take a message for the manager.", True),
    ("I'm not sure about parking, sorry. Would you like to leave a message?", True),
    ("I can't tell you that, I'm afraid; the owner could call you back.", True),
    ("We close at 9 PM tonight.", False),
    ("Sure, I know the California roll well: crab, avocado and cucumber.", False),
    ("You're all set: a table for 2 on Friday at 7 PM.", False),
])
def test_a_reply_that_admits_it_has_no_answer_is_noticed(reply, unanswered):
    assert could_not_answer(reply) is unanswered


def test_a_call_is_recorded_turn_by_turn_with_its_outcome_and_the_report_counts_the_day(tmp_path):
    database = demo_database(tmp_path / "business.db")

    async def call(call_id: str, turns: list[tuple[str, str]], order: bool = False, hang_up: bool = False):
        record = CallRecord(database, 2, call_id, "phone", NOON)
        await record.open()
        token = outbox.current_call.set(call_id)  # as the call's task runs: everything it stores carries it
        try:
            for caller, bot in turns:
                await record.caller_said(caller)
                if order:
                    await asyncio.to_thread(place_order, database, "Kai Moreno", (("california roll", 2),))
                await record.bot_said(bot)
            record.caller_hung_up = hang_up
            return await record.close()
        finally:
            outbox.current_call.reset(token)

    assert asyncio.run(call("call-a", [("Do you have vegan ramen on Tuesdays?",
                                        "I'm not sure about that one; shall I take a message?")],
                            hang_up=True)) == "hung_up"
    assert asyncio.run(call("call-b", [("Two California rolls to go please, Kai Moreno, 503 555 0147.",
                                        "Your order is in: 2 California rolls.")], order=True)) == "stored"
    record_refused(database, 2, "call-c", "browser", NOON)

    summary = {c["id"]: c for c in list_calls(database, 2)}
    assert summary["call-a"]["outcome"] == "hung_up" and summary["call-a"]["unanswered"] == 1
    assert summary["call-c"]["outcome"] == "refused_busy"
    detail = read_call(database, 2, "call-b")
    assert [t["role"] for t in detail["turns"]] == ["caller", "bot"]
    assert [c["type"] for c in detail["changes"]] == ["order.created"]  # not its own call.ended
    assert read_call(database, 1, "call-b") is None  # another company's owner cannot read it
    assert [e.type for e in events(database) if e.type == "call.ended"] == ["call.ended", "call.ended"]

    report = day_report(database, sushi(database), date(2026, 12, 2))
    assert report["calls"] == {"answered": 2, "browser": 0, "phone": 2, "put_through": 0, "stored_something": 1,
                               "refused_busy": 1, "median_duration_s": report["calls"]["median_duration_s"]}
    assert report["orders"]["count"] == 1 and report["orders"]["revenue"] == "$18"
    assert report["unanswered_questions"] == ["Do you have vegan ramen on Tuesdays?"]

    cli = subprocess.run([sys.executable, "-m", "voicebot.owner.cli", "--db", str(tmp_path / "business.db"),
                          "report", "--company", "2", "--date", "2026-12-02", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == report
    text = subprocess.run([sys.executable, "-m", "voicebot.owner.cli", "--db", str(tmp_path / "business.db"),
                           "report", "--company", "2", "--date", "2026-12-02"], capture_output=True, text=True,
                          timeout=120).stdout
    assert "Do you have vegan ramen on Tuesdays?" in text and "1 refused" in text


def test_call_records_past_their_retention_are_deleted(tmp_path):
    database = demo_database(tmp_path / "business.db")
    record_refused(database, 2, "old-call", "phone", NOON)
    record_refused(database, 2, "new-call", "phone", NOON)
    with database.transaction() as db:
        db.execute(update(schema.calls).where(schema.calls.c.id == "old-call")
                   .values(recorded_at=outbox.utc_now() - timedelta(days=31)))
    assert purge_old_records(database, retention_days=30) == 1
    assert [c["id"] for c in list_calls(database, 2)] == ["new-call"]


def test_a_caller_who_connects_after_the_lines_filled_up_is_recorded_as_turned_away(tmp_path):
    from voicebot.admission import Admission
    from voicebot.calls import Calls

    database = demo_database(tmp_path / "business.db")
    calls = Calls(Admission(max_calls=1), database, 2, lambda: NOON)

    async def two_offers_at_once():
        for client, line in (("10.0.0.1", "pc-first"), ("10.0.0.2", "pc-second")):
            await calls.admit(client, "browser")  # an answered offer holds no line: both pass
            calls.answered(client, line)
        assert calls.connected("pc-first") and not calls.connected("pc-second")
        await calls.turned_away("pc-second", "browser")

    asyncio.run(two_offers_at_once())
    assert [c["outcome"] for c in list_calls(database, 2)] == ["refused_busy"]
    assert calls.admission.status()["offers_pending"] == 0
