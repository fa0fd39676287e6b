"""The kitchen hears of each order: how long from a row stored to the owner's board, and to the webhook.

    uv run python bench/board.py [--orders 20] [--db postgresql://...] [--json] [--models]

Starts the real server for company #2 (its event feed, its delivery worker) with a webhook
receiver on loopback, opens the board's event stream (``GET /api/owner/events``, as the
browser does), then stores orders one at a time from this process, as another process on
the same database would (SQLite: the server sees the file change; PostgreSQL: NOTIFY). For
each order it times, from the moment its transaction committed:

- **board**: the event read off the server's stream;
- **webhook**: the signed POST accepted by the receiver.

Targets (#30): board median ≤ 1 s, webhook median ≤ 2 s, none lost. By default the server
is not made to load its models (``--models`` waits for them and for the start-up work to
settle, so the numbers are those of an idle production server).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from receivers import WebhookReceiver  # noqa: E402
from voicebot.business import CompanyRepository, Database  # noqa: E402
from voicebot.business.orders import OrderDesk  # noqa: E402
from voicebot.launcher import LocalServer  # noqa: E402

SECRET = "whsec-bench-board-0123456789"
OWNER = "owner-token-for-the-board-bench"
CLOCK = datetime(2026, 12, 2, 15, 0)  # a Wednesday afternoon: Tomodachi Sushi is open


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--db", default=None, help="a postgresql:// URL (default: a fresh SQLite file)")
    parser.add_argument("--models", action="store_true", help="wait for the models and start-up work first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-board-"))
    receiver = WebhookReceiver(SECRET).start()
    accepted_at = receiver.accepted_at
    env = {"VOICEBOT_WEBHOOK_URL": receiver.url, "VOICEBOT_WEBHOOK_SECRET": SECRET, "VOICEBOT_OWNER_TOKEN": OWNER,
           "VOICEBOT_CLOCK": CLOCK.isoformat(timespec="minutes"), "VOICEBOT_LOG_LEVEL": "WARNING"}
    if args.db:
        env["VOICEBOT_DB"] = args.db
    server = LocalServer.start(workdir, "2", env=env, wait_for_models=args.models)
    if args.models:
        server.wait_until_settled()
    database = Database(args.db or workdir / "business.db")
    desk = OrderDesk(database, CompanyRepository(database).get(2), lambda: CLOCK)
    streamed: dict[int, float] = {}
    opened = threading.Event()

    def read_stream() -> None:
        with httpx.stream("GET", f"{server.url}/api/owner/events", timeout=None,
                          headers={"Authorization": f"Bearer {OWNER}"}) as response:
            opened.set()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event["type"] == "order.created":
                        streamed.setdefault(event["data"]["id"], time.time())

    threading.Thread(target=read_stream, daemon=True).start()
    opened.wait(30)
    time.sleep(1.0)
    stored: dict[int, tuple[float, str]] = {}
    try:
        for i in range(args.orders):
            result = desk.place([{"name": "dragon roll", "quantity": 1 + i % 3}], f"Guest {i}", "503 555 0147",
                                "5 pm")
            committed = time.time()
            order_id = result.data["order_id"]
            with database.engine.connect() as db:
                event_id = db.exec_driver_sql(
                    "SELECT id FROM events WHERE type = 'order.created' ORDER BY seq DESC LIMIT 1").scalar()
            stored[order_id] = (committed, event_id)
            deadline = time.time() + 10
            while (order_id not in streamed or event_id not in accepted_at) and time.time() < deadline:
                time.sleep(0.01)
            time.sleep(0.3)
    finally:
        server.stop()
        receiver.stop()
        database.dispose()
    board = [streamed[o] - t for o, (t, _) in stored.items() if o in streamed]
    webhook = [accepted_at[e] - t for o, (t, e) in stored.items() if e in accepted_at]
    report = {
        "database": "postgresql" if args.db else "sqlite",
        "orders": len(stored),
        "board_received": len(board), "webhook_received": len(webhook),
        "board_median_s": round(statistics.median(board), 3) if board else None,
        "board_p90_s": round(percentile(board, 0.9), 3) if board else None,
        "board_max_s": round(max(board), 3) if board else None,
        "webhook_median_s": round(statistics.median(webhook), 3) if webhook else None,
        "webhook_p90_s": round(percentile(webhook, 0.9), 3) if webhook else None,
        "webhook_max_s": round(max(webhook), 3) if webhook else None,
        "lost": len(stored) - min(len(board), len(webhook)),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['orders']} orders on {report['database']}: board median {report['board_median_s']} s "
              f"(p90 {report['board_p90_s']}, max {report['board_max_s']}); webhook median "
              f"{report['webhook_median_s']} s (p90 {report['webhook_p90_s']}, max {report['webhook_max_s']}); "
              f"lost {report['lost']}")
    return 0 if report["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
