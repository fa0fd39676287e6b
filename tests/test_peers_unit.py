"""The client's address behind a proxy: X-Forwarded-For believed only from a trusted one."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from voicebot.peers import TrustedProxies


def request(peer: str, forwarded_for: str | None = None, proto: str | None = None) -> Request:
    headers = []
    if forwarded_for is not None:
        headers.append((b"x-forwarded-for", forwarded_for.encode()))
    if proto is not None:
        headers.append((b"x-forwarded-proto", proto.encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "scheme": "http", "headers": headers,
                    "client": (peer, 5000), "server": ("test", 80), "query_string": b""})


def test_a_trusted_proxy_names_the_caller():
    proxies = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8")
    assert proxies.client(request("127.0.0.1", "203.0.113.7")) == "203.0.113.7"
    # A chain through two of our proxies: the first hop from the right that is not ours.
    assert proxies.client(request("127.0.0.1", "203.0.113.7, 10.1.2.3")) == "203.0.113.7"
    # What the caller wrote themselves, left of their real address, is ignored.
    assert proxies.client(request("127.0.0.1", "1.1.1.1, 203.0.113.7")) == "203.0.113.7"
    assert proxies.https(request("127.0.0.1", proto="https"))


def test_anyone_else_cannot_pretend_to_be_someone_else():
    proxies = TrustedProxies.parse("127.0.0.1")
    assert proxies.client(request("198.51.100.9", "203.0.113.7")) == "198.51.100.9"
    assert not proxies.https(request("198.51.100.9", proto="https"))
    assert TrustedProxies().client(request("127.0.0.1", "203.0.113.7")) == "127.0.0.1"


def test_a_bad_entry_names_itself():
    with pytest.raises(ValueError, match="'nginx'"):
        TrustedProxies.parse("127.0.0.1, nginx")
