"""Webhook signatures, Stripe's scheme: ``X-Voicebot-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is the HMAC-SHA256 of ``"<t>.<body>"`` keyed with ``VOICEBOT_WEBHOOK_SECRET``. A
receiver recomputes it over the raw body it got, compares in constant time, and refuses a
``t`` too far from its clock (a replayed request); :func:`verify` does exactly that and is
what the README shows receivers.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Voicebot-Signature"
EVENT_ID_HEADER = "X-Voicebot-Event-Id"


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` sent at ``timestamp`` (default: now)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, body: bytes, header: str, tolerance_s: float = 300, now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = signature(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
