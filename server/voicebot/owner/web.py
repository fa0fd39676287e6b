"""The owner's web access: the live board at ``/owner`` (sign-in form, session cookie, log out) and
``/api/owner/*`` (the lists, the event stream, the calls, the day's report, the owner's actions).

Every owner path takes the owner credential (:mod:`voicebot.owner.access`), never the callers'
access token. A browser signs in once through the form and gets a session cookie (HttpOnly,
SameSite=Strict, Secure over https); a script sends ``Authorization: Bearer <owner token>``.
The query string never carries a credential: a token in a URL ends up in browser histories,
proxy logs and Referer headers. Routes reach the runtime through ``Depends(current_runtime)``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from loguru import logger
from sse_starlette import EventSourceResponse

from voicebot.business import Company, Database, ledger
from voicebot.business.statuses import StatusRefused, set_status
from voicebot.call_record import list_calls, read_call
from voicebot.owner.access import CHALLENGE, OwnerAccess, Refused
from voicebot.owner.page import login_page, owner_page
from voicebot.owner.report import day_report
from voicebot.owner.sessions import COOKIE_NAME
from voicebot.peers import client_address, reached_over_https
from voicebot.runtime import Runtime, current_runtime

# The cookie goes to the board's page and to the API it calls (its event stream, its actions).
COOKIE_PATH = "/"
MAX_FORM_BYTES = 4096
# The owner's data is personal: no cache keeps it, no other site frames or reads it.
_PRIVATE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff"}
_PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_LISTS: dict[str, tuple[str, Callable[[Database, int], list[dict[str, Any]]]]] = {
    "bookings": ("booking", ledger.bookings), "orders": ("order", ledger.orders),
    "messages": ("message", ledger.messages)}
_BOARD_SCRIPT = files("voicebot.owner").joinpath("board.js").read_text(encoding="utf-8")


def owner_access(runtime: Runtime) -> OwnerAccess:
    assert runtime.owner is not None, "create_app gives the runtime its owner access"
    return runtime.owner


def owner_only(request: Request, runtime: Runtime = Depends(current_runtime)) -> Runtime:
    """FastAPI dependency of every ``/api/owner`` path: the runtime, for the owner alone (else 401/429)."""
    try:
        if not owner_access(runtime).authenticated(request):
            raise Refused(401, "The owner's data needs the owner credential: "
                               "Authorization: Bearer <token> (uv run voicebot owner-token)")
    except Refused as e:
        raise HTTPException(e.status, str(e), headers={**_PRIVATE, **e.headers()}) from None
    return runtime


def owner_router() -> APIRouter:
    """``/owner``, ``/owner/login``, ``/owner/logout``, ``/owner/board.js`` and ``/api/owner/*``."""
    router = APIRouter()

    @router.get("/owner", response_class=HTMLResponse)
    async def page(request: Request, runtime: Runtime = Depends(current_runtime)):
        """The live board, or the sign-in form."""
        company = runtime.company
        try:
            if not owner_access(runtime).authenticated(request):
                response = _form(company, 401)
                if COOKIE_NAME in request.cookies:  # expired, logged out or signed with a rotated credential
                    _clear_cookie(response, request)
                return response
        except Refused as e:
            return _form(company, e.status, str(e), e.headers())
        today = runtime.today()
        return _html(await asyncio.to_thread(owner_page, runtime.database, company, today))

    @router.get("/owner/board.js")
    async def board_script():
        return Response(_BOARD_SCRIPT, media_type="text/javascript", headers=_PRIVATE)

    @router.post("/owner/login")
    async def login(request: Request, runtime: Runtime = Depends(current_runtime)):
        given = await _form_token(request)
        if not given:
            return _form(runtime.company, 401, "Enter the owner credential")
        client = client_address(request)
        access = owner_access(runtime)
        try:
            access.check(client, given)
        except Refused as e:
            return _form(runtime.company, e.status, str(e), e.headers())
        logger.info(f"Owner signed in from {client}")
        response = RedirectResponse("/owner", status_code=303, headers=_PRIVATE)
        response.set_cookie(COOKIE_NAME, access.sessions.issue(), max_age=access.sessions.lifetime_s,
                            path=COOKIE_PATH, secure=reached_over_https(request), httponly=True, samesite="strict")
        return response

    @router.post("/owner/logout")
    async def logout(request: Request, runtime: Runtime = Depends(current_runtime)):
        owner_access(runtime).sessions.revoke(request.cookies.get(COOKIE_NAME))
        response = RedirectResponse("/owner", status_code=303, headers=_PRIVATE)
        _clear_cookie(response, request)
        return response

    @router.get("/api/owner/events")
    async def events(request: Request, runtime: Runtime = Depends(owner_only)):
        """Server-Sent Events: one per stored change, ``data:`` the event's JSON, ``id:`` its sequence
        number (a reconnecting EventSource sends it back as Last-Event-ID and misses nothing)."""
        last = request.headers.get("last-event-id", "")
        after = int(last) if last.isdigit() else None
        feed = await runtime.running_event_feed()

        async def stream():
            async for event in feed.subscribe(after):
                yield {"id": str(event.seq), "data": json.dumps(event.payload(), ensure_ascii=False)}

        return EventSourceResponse(stream(), ping=15, headers=_PRIVATE)

    @router.get("/api/owner/report")
    async def report(request: Request, runtime: Runtime = Depends(owner_only)):
        """The day's numbers (``?date=YYYY-MM-DD``; default the restaurant's today)."""
        day = _day(request.query_params.get("date"), runtime.today())
        return JSONResponse(await asyncio.to_thread(day_report, runtime.database, runtime.company, day),
                            headers=_PRIVATE)

    @router.get("/api/owner/calls")
    async def calls(runtime: Runtime = Depends(owner_only)):
        return JSONResponse(await asyncio.to_thread(list_calls, runtime.database, runtime.company.id),
                            headers=_PRIVATE)

    @router.get("/api/owner/calls/{call_id}")
    async def call(call_id: str, runtime: Runtime = Depends(owner_only)):
        found = await asyncio.to_thread(read_call, runtime.database, runtime.company.id, call_id)
        if found is None:
            raise HTTPException(404, f"No call {call_id!r}", headers=_PRIVATE)
        return JSONResponse(found, headers=_PRIVATE)

    @router.post("/api/owner/{kind}/{row_id}/status")
    async def change_status(kind: str, row_id: int, request: Request, runtime: Runtime = Depends(owner_only)):
        """The owner's action on a row: ``{"status": "accepted"}``; the row as it now is (and an event)."""
        if kind not in _LISTS:
            raise HTTPException(404, f"Unknown list {kind!r}; one of: {', '.join(_LISTS)}", headers=_PRIVATE)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, 'Send {"status": ...} as application/json', headers=_PRIVATE)
        body = await request.body()
        try:
            status = json.loads(body[:MAX_FORM_BYTES])["status"]
            assert isinstance(status, str)
        except (ValueError, KeyError, TypeError, AssertionError):
            raise HTTPException(422, 'Send {"status": "<new status>"}', headers=_PRIVATE) from None
        try:
            row = await asyncio.to_thread(set_status, runtime.database, runtime.company.id, _LISTS[kind][0],
                                          row_id, status, runtime.now())
        except StatusRefused as e:
            raise HTTPException(e.status, str(e), headers=_PRIVATE) from None
        return JSONResponse(row, headers=_PRIVATE)

    @router.get("/api/owner/{kind}")
    async def owner_rows(kind: str, runtime: Runtime = Depends(owner_only)):
        if kind not in _LISTS:
            raise HTTPException(404, f"Unknown list {kind!r}; one of: {', '.join(_LISTS)}", headers=_PRIVATE)
        rows = await asyncio.to_thread(_LISTS[kind][1], runtime.database, runtime.company.id)
        return JSONResponse(rows, headers=_PRIVATE)

    return router


def _day(text: str | None, today: date) -> date:
    if not text:
        return today
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"date={text!r} is not a date like 2026-12-05", headers=_PRIVATE) from None


def _html(content: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(content, status_code=status,
                        headers={**_PRIVATE, "Content-Security-Policy": _PAGE_POLICY, **(headers or {})})


def _form(company: Company, status: int, error: str | None = None,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    return _html(login_page(company, error), status, headers or (CHALLENGE if status == 401 else None))


def _clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, secure=reached_over_https(request), httponly=True,
                           samesite="strict")


async def _form_token(request: Request) -> str:
    """The ``token`` field of a small url-encoded form ("" if missing or the body is too large)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return ""
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:  # more fields than a sign-in form has
        return ""
    return (fields.get("token") or [""])[0].strip()
