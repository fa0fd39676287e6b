"""The owner's side: the ``voicebot`` command line and the read-only page show what was stored."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

from fastapi.testclient import TestClient

from helpers import demo_database
from voicebot.app import create_app
from voicebot.business import CompanyRepository, Database
from voicebot.business.bookings import BookingBook
from voicebot.business.messages import MessagePad
from voicebot.business.orders import OrderDesk
from voicebot.config import ServerSettings
from voicebot.runtime import Runtime


def clock():
    return datetime(2026, 12, 1, 10, 0)


def voicebot_cli(db, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voicebot.owner.cli", "--db", str(db), *args],
                          capture_output=True, text=True, timeout=120)


def fill(database: Database) -> None:
    sushi = CompanyRepository(database).get(2)
    assert BookingBook(database, sushi, clock).book("John Smith", "503 555 1234", 4, "Saturday", "7 pm").ok
    assert OrderDesk(database, sushi, clock).place([{"name": "dragon roll", "quantity": 2}], "Ann", "503 555 9876",
                                                   "1 pm").ok
    assert MessagePad(database, sushi, clock).take("Bob", "503 555 2222", "Left my <umbrella>").ok


def test_cli_imports_a_company_and_lists_what_the_bot_stored(tmp_path):
    db = tmp_path / "business.db"
    company = tmp_path / "pizza.yaml"
    company.write_text("name: Pizza Planet\nkind: pizzeria\naddress: 1 Orbit Road\nphone: 555-0199\n"
                       "greeting: Pizza Planet, hello!\nhours: {daily: '11:00-23:00'}\n"
                       "menu:\n  - {name: Margherita, price: 10}\n")
    assert "#2 Tomodachi Sushi" in voicebot_cli(db, "company", "demo").stdout
    assert voicebot_cli(db, "company", "demo").returncode == 1  # only into an empty database
    imported = voicebot_cli(db, "company", "import", str(company))
    assert imported.returncode == 0, imported.stderr
    assert "Imported company #4: Pizza Planet: 1 menu items" in imported.stdout
    listed = voicebot_cli(db, "--json", "company", "list")
    assert json.loads(listed.stdout)[-1] == {"id": 4, "name": "Pizza Planet"}

    fill(Database(db))
    bookings = json.loads(voicebot_cli(db, "--json", "bookings", "list", "--date", "2026-12-05").stdout)
    assert [(b["name"], b["party"], b["when"]) for b in bookings] == [("John Smith", 4, "2026-12-05 19:00")]
    assert json.loads(voicebot_cli(db, "--json", "bookings", "list", "--date", "2026-12-06").stdout) == []
    orders = voicebot_cli(db, "orders", "list", "--company", "2").stdout
    assert "2 × Dragon roll" in orders and "$30" in orders
    assert "Left my <umbrella>" in voicebot_cli(db, "messages", "list").stdout


def test_cli_refuses_a_bad_file_with_its_lines_and_changes_nothing(tmp_path):
    db = tmp_path / "business.db"
    voicebot_cli(db, "company", "demo")
    before = voicebot_cli(db, "--json", "company", "list").stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: 2\nname: Tomodachi Sushi\nkind: sushi\naddress: x\nphone: '555'\ngreeting: hi\n"
                   "hours: {daily: 'noon-9'}\nmenu:\n  - {name: Roll, price: free}\n")
    result = voicebot_cli(db, "company", "import", str(bad))
    assert result.returncode == 1
    assert "line 7: hours:" in result.stderr and "line 9: menu.0.price:" in result.stderr
    assert "Nothing was imported." in result.stderr
    assert voicebot_cli(db, "--json", "company", "list").stdout == before
    assert "Dragon roll" in [m.name for m in CompanyRepository(Database(db)).get(2).menu]


def test_owner_page_shows_bookings_orders_and_messages_escaped(tmp_path):
    database = demo_database(tmp_path / "business.db")
    fill(database)
    sushi = CompanyRepository(database).get(2)
    state = Runtime(settings=ServerSettings(company_id=2), company=sushi, database=database)
    client = TestClient(create_app(state))  # no lifespan: no models are loaded for this page
    client.headers["Authorization"] = f"Bearer {state.owner.credential.current()}"  # the owner's, made at start
    page = client.get("/owner")
    assert page.status_code == 200
    assert "John Smith" in page.text and "2026-12-05 19:00" in page.text
    assert "2 × Dragon roll" in page.text and "$30" in page.text
    assert "Left my &lt;umbrella&gt;" in page.text and "<umbrella>" not in page.text
    assert client.get("/api/owner/orders").json()[0]["total"] == "$30"
    assert client.get("/api/owner/nothing").status_code == 404


def test_owner_page_refuses_the_callers_access_token(tmp_path):
    database = demo_database(tmp_path / "business.db")
    fill(database)
    sushi = CompanyRepository(database).get(2)
    settings = ServerSettings(company_id=2, access_token="s3cret-for-every-caller")
    client = TestClient(create_app(Runtime(settings=settings, company=sushi, database=database)))
    for response in (client.get("/owner"), client.get("/owner?token=s3cret-for-every-caller"),
                     client.get("/owner", headers={"Authorization": "Bearer s3cret-for-every-caller"})):
        assert response.status_code == 401
        assert "John Smith" not in response.text and "Owner credential" in response.text
