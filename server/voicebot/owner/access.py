"""Who may read the owner's data: the owner credential (never the callers' token), the sessions
signed with it, and the wrong attempts counted per client address (:mod:`voicebot.owner.limiter`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import Request
from loguru import logger

from voicebot.business import Database
from voicebot.config import ServerSettings
from voicebot.owner.credential import OwnerCredential, OwnerCredentialError, token_file_for
from voicebot.owner.limiter import FailureLimiter
from voicebot.owner.sessions import COOKIE_NAME, OwnerSessions
from voicebot.peers import client_address

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="voicebot owner"'}


class Refused(Exception):
    """An owner credential not accepted: 401 (wrong) or 429 (locked out, retry after ``retry_after_s``)."""

    def __init__(self, status: int, message: str, retry_after_s: float = 0.0):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        if self.status == 429:
            return {"Retry-After": str(math.ceil(self.retry_after_s))}
        return dict(CHALLENGE)


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
        self.check(client_address(request), given)
        return True


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None
