"""The owner's data stays the owner's (#23): a credential of its own for /owner and /api/owner.

The app runs in-process without its lifespan (no models); time is a fake clock, never slept.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from loguru import logger

from helpers import demo_database
from test_owner import fill, voicebot_cli
from voicebot.app import create_app
from voicebot.business import CompanyRepository
from voicebot.config import ServerSettings, parse_settings
from voicebot.main import _owner_line
from voicebot.owner.credential import OwnerCredential, OwnerCredentialError, token_file_for
from voicebot.owner.limiter import FailureLimiter
from voicebot.owner.sessions import COOKIE_NAME, OwnerSessions
from voicebot.owner.web import OwnerAccess
from voicebot.runtime import Runtime

CALLER_TOKEN = "caller-token-in-every-browser"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def owner_server(tmp_path: Path, clock: FakeClock | None = None, **settings) -> tuple[TestClient, Runtime]:
    """The app over a filled SQLite database in ``tmp_path``; the owner's credential is made as at first start."""
    database = demo_database(tmp_path / "business.db")
    fill(database)
    server_settings = ServerSettings(company_id=2, data_dir=tmp_path / "data", **settings)
    access = OwnerAccess.for_server(server_settings, database)
    if clock is not None:
        access = replace(access, failures=FailureLimiter(clock=clock),
                         sessions=OwnerSessions(access.credential, clock=clock))
    state = Runtime(settings=server_settings, company=CompanyRepository(database).get(2), database=database,
                        owner=access)
    return TestClient(create_app(state)), state


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: TestClient, token: str):
    return client.post("/owner/login", data={"token": token}, follow_redirects=False)


@pytest.fixture
def captured_logs():
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{message}")
    yield lines
    logger.remove(sink)


# --- the HTTP surface -----------------------------------------------------------------------


def test_owner_paths_refuse_without_the_owner_credential_also_with_no_caller_token(tmp_path):
    client, state = owner_server(tmp_path)
    assert state.settings.access_token is None
    page = client.get("/owner")
    assert page.status_code == 401 and "John Smith" not in page.text
    assert "<form method='post' action='/owner/login'>" in page.text
    for kind in ("bookings", "orders", "messages", "nothing"):
        api = client.get(f"/api/owner/{kind}")
        assert api.status_code == 401, kind
        assert api.headers["www-authenticate"].startswith("Bearer")
        assert "John Smith" not in api.text and "555" not in api.text
    token = state.owner.credential.current()
    # Never from the query string: it would end up in histories and proxy logs.
    assert client.get(f"/api/owner/bookings?token={token}").status_code == 401
    assert client.get(f"/owner?token={token}").status_code == 401


def test_bearer_opens_the_json_api_and_the_page(tmp_path):
    client, state = owner_server(tmp_path)
    token = state.owner.credential.current()
    bookings = client.get("/api/owner/bookings", headers=bearer(token))
    assert bookings.status_code == 200
    assert [(b["name"], b["phone"]) for b in bookings.json()] == [("John Smith", "5035551234")]
    assert bookings.headers["cache-control"] == "no-store"
    page = client.get("/owner", headers=bearer(token))
    assert page.status_code == 200 and "John Smith" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.get("/api/owner/bookings", headers=bearer(token + "x")).status_code == 401


def test_sign_in_sets_a_strict_httponly_session_cookie_and_log_out_ends_it(tmp_path):
    client, state = owner_server(tmp_path)
    signed_in = sign_in(client, state.owner.credential.current())
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/owner"
    cookie = signed_in.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=strict"
    # Path=/: the board at /owner calls /api/owner (its event stream, its actions) with the cookie.
    assert attributes["path"] == "Path=/" and "secure" not in attributes  # plain http here
    session = client.cookies.get(COOKIE_NAME)

    page = client.get("/owner")
    assert page.status_code == 200 and "John Smith" in page.text and "/owner/logout" in page.text

    logged_out = client.post("/owner/logout", follow_redirects=False)
    assert logged_out.status_code == 303
    assert COOKIE_NAME not in client.cookies
    assert client.get("/owner").status_code == 401
    # A copy of the cookie is dead too.
    replay = TestClient(client.app, cookies={COOKIE_NAME: session})
    assert replay.get("/owner").status_code == 401


def test_the_cookie_is_secure_behind_an_https_proxy(tmp_path):
    client, state = owner_server(tmp_path, trusted_proxies="127.0.0.1")
    via_proxy = TestClient(client.app, client=("127.0.0.1", 50000))
    signed_in = via_proxy.post("/owner/login", data={"token": state.owner.credential.current()},
                               headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    assert "secure" in signed_in.headers["set-cookie"].lower()
    # Anyone else saying so is not believed (the header is the client's own word).
    direct = TestClient(client.app, client=("198.51.100.9", 50000))
    signed_in = direct.post("/owner/login", data={"token": state.owner.credential.current()},
                            headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    assert "secure" not in signed_in.headers["set-cookie"].lower()


def test_wrong_credentials_are_counted_per_address_and_slowed_down(tmp_path, captured_logs):
    clock = FakeClock()
    client, state = owner_server(tmp_path, clock)
    token = state.owner.credential.current()
    for attempt in range(1, 6):
        wrong = sign_in(client, f"guess-number-{attempt:02d}-of-many")
        assert wrong.status_code == 401 and "not the owner credential" in wrong.text
    assert "(5 wrong in a row; locked out for 5s)" in "\n".join(captured_logs)

    locked = sign_in(client, token)  # even the right one waits: guessing cannot go faster than the lock
    assert locked.status_code == 429 and locked.headers["retry-after"] == "5"
    api = client.get("/api/owner/bookings", headers=bearer(token))
    assert api.status_code == 429 and api.headers["retry-after"] == "5"
    other_address = TestClient(client.app, client=("203.0.113.9", 50000))
    assert other_address.get("/api/owner/bookings", headers=bearer(token)).status_code == 200

    clock.now += 5
    assert sign_in(client, "still-not-the-right-one").status_code == 401  # the 6th: twice as long
    clock.now += 9
    assert client.get("/api/owner/bookings", headers=bearer(token)).headers["retry-after"] == "1"
    clock.now += 1
    assert sign_in(client, token).status_code == 303  # and the count starts afresh
    assert state.owner.failures.failures("testclient") == 0


def test_the_callers_token_and_the_owners_are_never_interchangeable(tmp_path):
    client, state = owner_server(tmp_path, access_token=CALLER_TOKEN)
    owner_token = state.owner.credential.current()
    assert client.get("/api/owner/bookings", headers=bearer(CALLER_TOKEN)).status_code == 401
    assert sign_in(client, CALLER_TOKEN).status_code == 401
    assert client.get(f"/owner?token={CALLER_TOKEN}").status_code == 401

    offer = {"sdp": "v=0", "type": "offer"}
    for refused in (client.post("/api/offer", json=offer, headers=bearer(owner_token)),
                    client.post(f"/api/offer?token={owner_token}", json=offer),
                    client.patch("/api/offer", json={"pc_id": "x", "candidates": []}, headers=bearer(owner_token))):
        assert refused.status_code == 401
        assert "owner" in refused.json()["detail"]
    # The callers' token still gets through to signalling (503: no models loaded in this test).
    assert client.post("/api/offer", json=offer, headers=bearer(CALLER_TOKEN)).status_code == 503


def test_without_a_caller_token_signalling_is_open_but_not_to_the_owner_credential(tmp_path):
    client, state = owner_server(tmp_path)
    offer = {"sdp": "v=0", "type": "offer"}
    assert client.post("/api/offer", json=offer).status_code == 503
    assert client.post("/api/offer", json=offer, headers=bearer(state.owner.credential.current())).status_code == 401


def test_a_rotation_voids_the_old_credential_and_every_session(tmp_path, captured_logs):
    client, state = owner_server(tmp_path)
    old = state.owner.credential.current()
    assert sign_in(client, old).status_code == 303
    assert client.get("/owner").status_code == 200

    rotated = voicebot_cli(tmp_path / "business.db", "owner-token", "--rotate")
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip()
    assert new != old and "New owner credential, stored in" in rotated.stderr

    assert client.get("/api/owner/bookings", headers=bearer(old)).status_code == 401
    stale = client.get("/owner")
    assert stale.status_code == 401 and COOKIE_NAME not in client.cookies  # the stale cookie is cleared
    assert client.get("/api/owner/bookings", headers=bearer(new)).status_code == 200
    assert "changed: the old one and its sessions no longer work" in "\n".join(captured_logs)


# --- the credential file --------------------------------------------------------------------


def test_the_token_file_is_created_owner_only_and_reused_on_the_next_start(tmp_path):
    database = demo_database(tmp_path / "business.db")
    settings = ServerSettings(company_id=2, data_dir=tmp_path / "data")
    previous = os.umask(0)  # even a permissive umask gives an owner-only file
    try:
        first = OwnerAccess.for_server(settings, database).credential
    finally:
        os.umask(previous)
    assert first.path == tmp_path / "business.db.owner-token" and first.created
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if "owner-token" in p.name) == ["business.db.owner-token"]

    second = OwnerAccess.for_server(settings, database).credential
    assert not second.created and second.current() == first.current()
    assert len(first.current()) >= 40

    shown = voicebot_cli(tmp_path / "business.db", "--json", "owner-token")
    assert json.loads(shown.stdout) == {"token": first.current(), "source": str(first.path), "rotated": False}


def test_a_token_file_readable_by_others_is_made_owner_only(tmp_path, captured_logs):
    credential = OwnerCredential.load(tmp_path / "x.owner-token")
    credential.path.chmod(0o644)
    assert credential.current()
    assert stat.S_IMODE(credential.path.stat().st_mode) == 0o600
    assert "was readable by other users" in "\n".join(captured_logs)


def test_where_the_token_file_lives():
    data = Path("/srv/voicebot-data")
    assert token_file_for("sqlite:////var/lib/shop/business.db", data) == Path("/var/lib/shop/business.db.owner-token")
    assert token_file_for("postgresql+psycopg://u:pw@db-host:5432/voicebot", data) == data / "owner-token"
    assert token_file_for("sqlite://", data) == data / "owner-token"


def test_the_environment_token_must_be_strong_and_not_the_callers(tmp_path, monkeypatch):
    database = demo_database(tmp_path / "business.db")
    same = ServerSettings(company_id=2, access_token=CALLER_TOKEN, owner_token=CALLER_TOKEN)
    with pytest.raises(OwnerCredentialError, match="same as VOICEBOT_ACCESS_TOKEN"):
        OwnerAccess.for_server(same, database)
    with pytest.raises(OwnerCredentialError, match="at least 16"):
        OwnerAccess.for_server(ServerSettings(company_id=2, owner_token="short"), database)
    fixed = OwnerAccess.for_server(ServerSettings(company_id=2, owner_token="o" * 32), database).credential
    assert fixed.source == "VOICEBOT_OWNER_TOKEN" and not fixed.path.exists()

    monkeypatch.setenv("VOICEBOT_OWNER_TOKEN", "o" * 32)
    monkeypatch.setenv("VOICEBOT_DATA_DIR", str(tmp_path / "data"))
    settings = parse_settings(["2"])
    assert settings.owner_token == "o" * 32 and settings.data_dir == tmp_path / "data"
    refused = voicebot_cli(tmp_path / "business.db", "owner-token", "--rotate")
    assert refused.returncode == 1 and "set by VOICEBOT_OWNER_TOKEN" in refused.stderr


def test_the_credential_never_appears_in_the_logs(tmp_path, captured_logs):
    clock = FakeClock()
    client, state = owner_server(tmp_path, clock)
    tokens = [state.owner.credential.current()]
    for _ in range(6):
        sign_in(client, "a-wrong-guess-at-the-token")
    clock.now += 3600
    sign_in(client, tokens[0])
    client.post("/owner/logout")
    tokens.append(state.owner.credential.rotate())
    OwnerCredential(state.owner.credential.path).rotate()  # elsewhere: the CLI
    tokens.append(state.owner.credential.current())
    client.get("/api/owner/bookings", headers=bearer(tokens[0]))
    text = "\n".join(captured_logs) + _owner_line(state.owner, state.database)
    assert "Owner credential refused" in text and "Owner signed in" in text
    assert str(state.owner.credential.path) in text
    assert not [t for t in tokens if t in text]


# --- the parts, on a fake clock ---------------------------------------------------------------


def test_the_limiter_doubles_the_lock_out_up_to_its_cap_and_forgets():
    clock = FakeClock()
    limiter = FailureLimiter(lock_after=3, base_delay_s=5, max_delay_s=60, forget_after_s=3600, clock=clock)
    assert [limiter.failed("a") for _ in range(7)] == [0, 0, 5, 10, 20, 40, 60]
    assert limiter.retry_after("a") == 60 and limiter.retry_after("b") == 0
    clock.now += 60
    assert limiter.retry_after("a") == 0 and limiter.failures("a") == 7
    clock.now += 3600
    assert limiter.failures("a") == 0  # an hour without mistakes
    limiter.failed("a"), limiter.failed("a")
    limiter.succeeded("a")
    assert limiter.failures("a") == 0


def test_the_limiter_keeps_a_bounded_number_of_addresses():
    limiter = FailureLimiter(max_addresses=3, clock=FakeClock())
    for address in ("a", "b", "c", "d"):
        limiter.failed(address)
    assert [limiter.failures(a) for a in "abcd"] == [0, 1, 1, 1]


def test_sessions_expire_and_refuse_forgeries(tmp_path):
    clock = FakeClock()
    credential = OwnerCredential.load(tmp_path / "x.owner-token")
    sessions = OwnerSessions(credential, lifetime_s=100, clock=clock)
    cookie = sessions.issue()
    assert sessions.valid(cookie)
    session_id, expires, signature = cookie.split(".")
    assert not sessions.valid(f"{session_id}.{int(expires) + 1000}.{signature}")
    assert not sessions.valid(f"other.{expires}.{signature}")
    for junk in (None, "", "a.b", "a.b.c.d", f"{session_id}.x.{signature}"):
        assert not sessions.valid(junk)
    clock.now += 100
    assert not sessions.valid(cookie)
