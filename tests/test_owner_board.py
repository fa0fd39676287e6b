"""The kitchen hears of every order, tested as it is used (#30): the owner's board open in a real browser
while a real spoken call places an order; a webhook receiver that fails while the server is SIGKILLed
and restarted; two servers on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from conftest import ARTIFACTS, CLOCK, start_server
from helpers import wait_until
from postgres_server import PostgresServer
from receivers import BoardStream, WebhookReceiver
from voicebot.business import Database, outbox
from voicebot.probe import CallProbe, ProbeConfig
from voicebot.tts.speak import speak_all_to_wav

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BOARD_SCRIPT = ROOT / "tests" / "browser" / "board.mjs"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SECRET = "whsec-board-tests-0123456789"
ORDER = ["Hi, could I get two dragon rolls to go, for pickup at five?", "It's Mia Wong.",
         "Five oh three, five five five, zero one four seven.", "Yes, that's right."]


def voicebot_cli(db: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicebot.owner.cli", "--db", db, *args], input=stdin,
                          capture_output=True, text=True, timeout=180, cwd=ROOT)


def stored_events(db: str, company_id: int = 2) -> list[outbox.Event]:
    database = Database(db)
    try:
        with database.engine.connect() as connection:
            return outbox.events_after(connection, company_id, 0)
    finally:
        database.dispose()


def chat_order(db: str, name: str) -> None:
    """An order stored by another process (``voicebot chat``, the desk alone) on the same database."""
    turns = f"two miso soups to go at six\n{name}\n503 555 0199\nyes\n"
    done = voicebot_cli(db, "chat", "--company", "2", "--no-llm", "--clock", CLOCK, "--json", stdin=turns)
    assert done.returncode == 0, done.stderr
    assert any(row.get("kind") == "order" for line in done.stdout.splitlines()
               for row in json.loads(line)["rows"]), done.stdout


@pytest.mark.timeout(600)
def test_an_order_placed_by_a_spoken_call_appears_on_the_open_board(voicebot_server, tmp_path):
    assert (ROOT / "client" / "node_modules" / "playwright-core").is_dir(), "cd client && npm ci"
    db = str(voicebot_server.workdir / "business.db")
    token = voicebot_cli(db, "owner-token").stdout.strip()
    wavs = [tmp_path / f"order-{i}.wav" for i in range(len(ORDER))]
    asyncio.run(speak_all_to_wav(list(zip(ORDER, wavs, strict=True)), voice="bf_emma"))
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "owner_board.png"
    screenshot.unlink(missing_ok=True)

    board = subprocess.Popen(["node", str(BOARD_SCRIPT), "--url", voicebot_server.url, "--token", token,
                              "--screenshot", str(screenshot), "--chromium", CHROMIUM, "--timeout", "300"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert board.stdout is not None
        first = board.stdout.readline()
        assert json.loads(first or "{}").get("ready"), (first, board.stderr.read() if board.poll() else "")
        before = {e.id for e in stored_events(db)}
        probe = CallProbe(voicebot_server.url, ProbeConfig(post_speech_gap_s=2.0, answer_timeout_s=60.0))
        call = asyncio.run(probe.call(say=wavs, timeout=300))
        out, err = board.communicate(timeout=120)
    finally:
        if board.poll() is None:
            board.kill()
    result = json.loads(out.strip().splitlines()[-1])
    (ARTIFACTS / "owner_board.json").write_text(json.dumps(result, indent=2))
    created = [e for e in stored_events(db) if e.id not in before and e.type == "order.created"]
    assert len(created) == 1, (call.transcript_text, call.errors)
    order = created[0]
    assert result["ok"], (result, err[-2000:])
    assert result["rowId"] == str(order.data["id"]) and "Dragon roll" in result["row"]
    assert result["highlighted"] and result["live"] == "live" and not result["errors"]
    stored_ms = order.at.replace(tzinfo=UTC).timestamp() * 1000
    latency_s = (result["appearedAtMs"] - stored_ms) / 1000
    print(f"board: order #{order.data['id']} on the board {latency_s:.3f} s after it was stored")
    # The target (≤ 1 s median) is measured in bench/board.py; one sample on a busy machine, in the
    # same process as the call it comes from, is held to a bound that catches a board that polls or stalls.
    assert -0.5 < latency_s < 2.0, latency_s
    assert screenshot.is_file() and screenshot.stat().st_size > 0
    # The call's record: its turns and its outcome, on the owner's API.
    owner = {"Authorization": f"Bearer {token}"}

    def this_call() -> dict | None:  # recorded as the call ends, just after the caller hung up
        calls = httpx.get(f"{voicebot_server.url}/api/owner/calls", headers=owner, timeout=10).json()
        for summary in calls:
            found = httpx.get(f"{voicebot_server.url}/api/owner/calls/{quote(summary['id'], safe='')}",
                              headers=owner, timeout=10).json()
            if any(c["row"]["id"] == order.data["id"] for c in found["changes"] if c["type"] == "order.created"):
                return found if found["outcome"] != "in_progress" else None
        return None

    recorded = wait_until(this_call, timeout=30)
    assert recorded is not None
    assert recorded["outcome"] == "stored" and recorded["channel"] == "browser", recorded
    assert [c["type"] for c in recorded["changes"]] == ["order.created"]
    assert any("dragon" in t["text"].lower() for t in recorded["turns"] if t["role"] == "caller"), recorded


@pytest.mark.timeout(900)
def test_events_pending_when_the_server_is_killed_are_delivered_after_restart_once_each(tmp_path):
    receiver = WebhookReceiver(SECRET, fail_next=10**6).start()  # down until told otherwise
    env = {"VOICEBOT_WEBHOOK_URL": receiver.url, "VOICEBOT_WEBHOOK_SECRET": SECRET,
           "VOICEBOT_WEBHOOK_FIRST_RETRY_S": "0.5"}
    workdir = tmp_path / "server"
    db = str(workdir / "business.db")
    server = start_server(workdir, "2", env=env, wait_for_models=False)
    try:
        chat_order(db, "Ada King")
        chat_order(db, "Bo Lind")
        # The server tried (the receiver refused), so the events are pending: kill it mid-retry.
        wait_until(lambda: len(receiver.requests) >= 2, timeout=60)
        server.process.kill()
        server.process.wait(10)
    finally:
        server.stop()
    chat_order(db, "Cy Ortiz")  # stored while no server runs
    with receiver.lock:
        receiver.fail_next = 3  # fails its first three tries after the restart, then takes everything
    server = start_server(workdir, "2", env=env, wait_for_models=False)
    try:
        expected = {e.id for e in stored_events(db)}
        assert len(expected) == 3
        wait_until(lambda: set(receiver.accepted) == expected, timeout=120)
    finally:
        server.stop()
        receiver.stop()
    assert set(receiver.accepted) == expected  # every event, each id accepted once
    assert all(r.signed for r in receiver.requests)
    # At least once, in no promised order (a retried event can come after a newer one).
    assert sorted(b["data"]["name"] for b in receiver.accepted.values()) == ["Ada King", "Bo Lind", "Cy Ortiz"]
    assert {b["type"] for b in receiver.accepted.values()} == {"order.created"}


@pytest.mark.timeout(900)
def test_on_postgresql_a_change_through_one_server_reaches_the_others_board(tmp_path):
    postgres = PostgresServer()
    postgres.start()
    url = postgres.create_database("board")
    owner_token = "owner-token-for-both-servers-0123"
    env = {"VOICEBOT_DB": url, "VOICEBOT_OWNER_TOKEN": owner_token}
    servers = []
    try:
        servers.append(start_server(tmp_path / "a", "2", env=env, wait_for_models=False))
        servers.append(start_server(tmp_path / "b", "2", env=env, wait_for_models=False))
        first, second = servers
        auth = {"Authorization": f"Bearer {owner_token}"}
        stream = BoardStream(second.url, owner_token, count=2)
        received = stream.received
        assert stream.opened.wait(60)
        time.sleep(0.5)  # the stream's subscription is made right after its headers
        chat_order(url, "Ines Duarte")  # stored by a third process on the same database
        order_id = wait_until(lambda: received and received[0]["data"]["id"], timeout=30)
        accepted = httpx.post(f"{first.url}/api/owner/orders/{order_id}/status", json={"status": "accepted"},
                              headers=auth, timeout=30)
        assert accepted.status_code == 200, accepted.text
        stream.thread.join(30)
    finally:
        for server in servers:
            server.stop()
        postgres.stop()
    assert [(e["type"], e["data"]["status"], e["source"]) for e in received] == [
        ("order.created", "placed", "call"), ("order.updated", "accepted", "owner")]
    assert received[0]["data"]["name"] == "Ines Duarte"
