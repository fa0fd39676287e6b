"""Phone calls between Twilio's webhook and the end of their stream.

The webhook answers with a one-time token for the media stream: only a stream that
presents an unused, unexpired token is taken, so nobody can open ``/twilio/media`` without
Twilio having rung us first. What the bot decided during the call (transfer to a person)
is kept here until Twilio asks ``/twilio/after`` what to do next.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class PhoneCall:
    """One call Twilio told us about."""

    call_sid: str
    caller: str  # the caller's number (Twilio's From), for the logs
    token: str
    rang_at: float = field(default_factory=time.monotonic)
    stream_sid: str | None = None  # set once its stream connected
    transfer_to: str | None = None  # the number to dial when the stream ends (the bot transferred the caller)
    ended_at: float | None = None


class PhoneLines:
    """Tokens issued by the webhook and the calls they belong to."""

    def __init__(self, token_ttl_s: float = 10.0, keep_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic):
        self._ttl_s = token_ttl_s
        self._keep_s = keep_s
        self._clock = clock
        self._by_token: dict[str, PhoneCall] = {}  # not yet connected
        self._by_sid: dict[str, PhoneCall] = {}

    def ring(self, call_sid: str, caller: str) -> PhoneCall:
        """A new call from Twilio's webhook, with its stream's one-time token."""
        self._forget_old()
        call = PhoneCall(call_sid=call_sid, caller=caller, token=secrets.token_urlsafe(24), rang_at=self._clock())
        self._by_token[call.token] = call
        self._by_sid[call_sid] = call
        return call

    def redeem(self, token: str | None) -> PhoneCall | None:
        """The call a stream's token belongs to, once: None if unknown, used or expired."""
        call = self._by_token.pop(token or "", None)
        if call is None or self._clock() - call.rang_at > self._ttl_s:
            return None
        return call

    def unredeemed(self, token: str) -> bool:
        return token in self._by_token

    def drop(self, token: str) -> PhoneCall | None:
        """A token that was never used (its stream did not come): it stops being valid."""
        call = self._by_token.pop(token, None)
        if call is not None:
            call.ended_at = self._clock()
        return call

    def find(self, call_sid: str) -> PhoneCall | None:
        return self._by_sid.get(call_sid)

    def _forget_old(self) -> None:
        now = self._clock()
        for sid, call in list(self._by_sid.items()):
            if now - call.rang_at > self._keep_s:
                self._by_sid.pop(sid, None)
                self._by_token.pop(call.token, None)
