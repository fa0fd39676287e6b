"""The owner's web access: ``/owner`` (sign-in form, session cookie, log out) and ``/api/owner/*``.

Every owner path takes the owner credential (:mod:`voicebot.owner.credential`), never the
callers' access token. A browser signs in once through the form and gets a session cookie
(HttpOnly, SameSite=Strict, Path=/owner, Secure over https); a script sends
``Authorization: Bearer <owner token>``. Wrong credentials are counted per client address
and slowed down (:mod:`voicebot.owner.limiter`). The query string is never read: a token in
a URL ends up in browser histories, proxy logs and Referer headers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from loguru import logger

from voicebot.business import Company, Database, ledger
from voicebot.config import ServerSettings
from voicebot.owner.credential import OwnerCredential, OwnerCredentialError, token_file_for
from voicebot.owner.limiter import FailureLimiter
from voicebot.owner.page import login_page, owner_page
from voicebot.owner.sessions import COOKIE_NAME, OwnerSessions
from voicebot.peers import client_address, reached_over_https

COOKIE_PATH = "/owner"
MAX_FORM_BYTES = 4096
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="voicebot owner"'}
# The owner's data is personal: no cache keeps it, no other site frames or reads it.
_PRIVATE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff"}
_PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'")


class Refused(Exception):
    """An owner credential not accepted: 401 (wrong) or 429 (locked out, retry after ``retry_after_s``)."""

    def __init__(self, status: int, message: str, retry_after_s: float = 0.0):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        if self.status == 429:
            return {"Retry-After": str(math.ceil(self.retry_after_s))}
        return dict(_CHALLENGE)


@dataclass
class OwnerAccess:
    """Who may read the owner's data: the credential, the sessions signed with it, the wrong attempts."""

    credential: OwnerCredential
    sessions: OwnerSessions
    failures: FailureLimiter

    @classmethod
    def for_server(cls, settings: ServerSettings, database: Database) -> OwnerAccess:
        """The server's owner access; the credential file is created on first start. Raises OwnerCredentialError
        if the owner credential is unusable or is the callers' token."""
        credential = OwnerCredential.load(token_file_for(database.url, settings.data_dir), settings.owner_token)
        if settings.access_token and credential.matches(settings.access_token):
            raise OwnerCredentialError(
                f"The owner credential ({credential.source}) is the same as VOICEBOT_ACCESS_TOKEN, which every "
                "caller's browser carries: the owner's must be a different secret")
        return cls(credential, OwnerSessions(credential), FailureLimiter())

    def check(self, client: str, given: str) -> None:
        """Accept ``given`` from ``client`` if it is the owner credential, else raise :class:`Refused`."""
        wait = self.failures.retry_after(client)
        if wait > 0:
            raise Refused(429, f"Too many wrong owner credentials from your address; try again in "
                               f"{math.ceil(wait)} s", wait)
        if self.credential.matches(given):
            self.failures.succeeded(client)
            return
        lock = self.failures.failed(client)
        lockout = f"; locked out for {lock:.0f}s" if lock else ""
        logger.warning(f"Owner credential refused from {client} "
                       f"({self.failures.failures(client)} wrong in a row{lockout})")
        raise Refused(401, "That is not the owner credential")

    def authenticated(self, request: Request) -> bool:
        """A valid session cookie or the right Bearer credential; False if neither was presented.
        A wrong or locked-out Bearer raises :class:`Refused`."""
        if self.sessions.valid(request.cookies.get(COOKIE_NAME)):
            return True
        given = _bearer(request)
        if given is None:
            return False
        self.check(_client(request), given)
        return True


def owner_router(access: OwnerAccess, database: Database, company: Company) -> APIRouter:
    """``/owner``, ``/owner/login``, ``/owner/logout`` and ``/api/owner/{bookings,orders,messages}``."""
    router = APIRouter()

    @router.get("/owner", response_class=HTMLResponse)
    async def page(request: Request):
        """What the bot stored for this company (read-only), or the sign-in form."""
        try:
            if not access.authenticated(request):
                response = _form(company, 401)
                if COOKIE_NAME in request.cookies:  # expired, logged out or signed with a rotated credential
                    _clear_cookie(response, request)
                return response
        except Refused as e:
            return _form(company, e.status, str(e), e.headers())
        return _html(await asyncio.to_thread(owner_page, database, company))

    @router.post("/owner/login")
    async def login(request: Request):
        given = await _form_token(request)
        if not given:
            return _form(company, 401, "Enter the owner credential")
        client = _client(request)
        try:
            access.check(client, given)
        except Refused as e:
            return _form(company, e.status, str(e), e.headers())
        logger.info(f"Owner signed in from {client}")
        response = RedirectResponse("/owner", status_code=303, headers=_PRIVATE)
        response.set_cookie(COOKIE_NAME, access.sessions.issue(), max_age=access.sessions.lifetime_s,
                            path=COOKIE_PATH, secure=_https(request), httponly=True, samesite="strict")
        return response

    @router.post("/owner/logout")
    async def logout(request: Request):
        access.sessions.revoke(request.cookies.get(COOKIE_NAME))
        response = RedirectResponse("/owner", status_code=303, headers=_PRIVATE)
        _clear_cookie(response, request)
        return response

    @router.get("/api/owner/{kind}")
    async def owner_rows(kind: str, request: Request):
        try:
            if not access.authenticated(request):
                raise Refused(401, "The owner's data needs the owner credential: "
                                   "Authorization: Bearer <token> (uv run voicebot owner-token)")
        except Refused as e:
            return JSONResponse({"detail": str(e)}, status_code=e.status, headers={**_PRIVATE, **e.headers()})
        readers: dict[str, Callable[[Database, int], list[dict[str, Any]]]] = {
            "bookings": ledger.bookings, "orders": ledger.orders, "messages": ledger.messages}
        if kind not in readers:
            return JSONResponse({"detail": f"Unknown list {kind!r}; one of: {', '.join(readers)}"},
                                status_code=404, headers=_PRIVATE)
        rows = await asyncio.to_thread(readers[kind], database, company.id)
        return JSONResponse(rows, headers=_PRIVATE)

    return router


def _html(content: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(content, status_code=status,
                        headers={**_PRIVATE, "Content-Security-Policy": _PAGE_POLICY, **(headers or {})})


def _form(company: Company, status: int, error: str | None = None,
          headers: dict[str, str] | None = None) -> HTMLResponse:
    return _html(login_page(company, error), status, headers or (_CHALLENGE if status == 401 else None))


def _clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, secure=_https(request), httponly=True, samesite="strict")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


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


def _https(request: Request) -> bool:
    """Reached over https, directly or through a trusted proxy that says so (then the cookie is Secure)."""
    return reached_over_https(request)


def _client(request: Request) -> str:
    return client_address(request)
