"""The owner's browser session: a cookie signed with a key derived from the owner credential.

Signed rather than stored, so a session works on every replica that shares the credential
and survives a restart; keyed by the credential, so rotating it signs everyone out. Logging
out revokes the session here as well as clearing the cookie, so a copied cookie dies with it
(in this process, until it would have expired anyway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from voicebot.owner.credential import OwnerCredential, OwnerCredentialError

COOKIE_NAME = "voicebot_owner"
LIFETIME_S = 12 * 3600  # one working day; then the owner signs in again
_PURPOSE = b"voicebot owner session v1"


class OwnerSessions:
    """Issues, checks and revokes session cookies ``<id>.<expires>.<signature>``."""

    def __init__(self, credential: OwnerCredential, lifetime_s: int = LIFETIME_S,
                 clock: Callable[[], float] = time.time):
        self.credential = credential
        self.lifetime_s = lifetime_s
        self.clock = clock  # wall time: the expiry travels in the cookie, across restarts and replicas
        self._revoked: dict[str, int] = {}  # session id → when it would have expired

    def issue(self) -> str:
        """A new session cookie value, valid for ``lifetime_s``."""
        payload = f"{secrets.token_urlsafe(18)}.{int(self.clock()) + self.lifetime_s}"
        return f"{payload}.{self._sign(payload)}"

    def valid(self, cookie: str | None) -> bool:
        """Signed with the current credential, not expired, not logged out."""
        parsed = self._parse(cookie)
        return parsed is not None and parsed[0] not in self._revoked

    def revoke(self, cookie: str | None) -> None:
        """Log this session out (a cookie that is not a valid session is ignored)."""
        parsed = self._parse(cookie)
        now = self.clock()
        self._revoked = {sid: expires for sid, expires in self._revoked.items() if expires > now}
        if parsed is not None:
            self._revoked[parsed[0]] = parsed[1]

    def _parse(self, cookie: str | None) -> tuple[str, int] | None:
        """(session id, expiry) of a genuine, unexpired cookie; None for anything else."""
        if not cookie or cookie.count(".") != 2:
            return None
        session_id, expires, signature = cookie.split(".")
        if not expires.isdigit():
            return None
        try:
            genuine = hmac.compare_digest(signature.encode(), self._sign(f"{session_id}.{expires}").encode())
        except (OSError, OwnerCredentialError):  # the credential cannot be read: no session is valid
            return None
        if not genuine or int(expires) <= self.clock():
            return None
        return session_id, int(expires)

    def _sign(self, payload: str) -> str:
        key = hmac.new(self.credential.current().encode(), _PURPOSE, hashlib.sha256).digest()
        digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
