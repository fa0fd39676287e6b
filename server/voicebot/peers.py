"""Who is calling the web app: the client's address and scheme, also behind a proxy.

Behind nginx (``deploy/``) every request comes from the proxy's address, so the limits
kept per client address (pending offers, wrong owner credentials) would lump all callers
together. The proxy says who the client is in ``X-Forwarded-For``, but anyone can send
that header: it is believed only from a proxy listed in ``VOICEBOT_TRUSTED_PROXIES``
(addresses or networks), and then read from the right, skipping the trusted hops.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose ``X-Forwarded-*`` headers are believed."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, spec: str | None) -> TrustedProxies:
        """``"127.0.0.1, 10.0.0.0/8"`` → the proxies; a bad entry names itself in the error."""
        networks = []
        for entry in (spec or "").replace(";", ",").split(","):
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as e:
                raise ValueError(f"VOICEBOT_TRUSTED_PROXIES: {entry!r} is not an address or network") from e
        return cls(tuple(networks))

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, request: HTTPConnection) -> str:
        """The client's address: the peer's, or from a trusted proxy, the first untrusted hop."""
        peer = request.client.host if request.client else "unknown"
        if not self.trusts(peer):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer

    def https(self, request: HTTPConnection) -> bool:
        """Reached over https, directly or through a trusted proxy that says so."""
        if request.url.scheme in ("https", "wss"):
            return True
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return self.trusts(peer) and forwarded in ("https", "wss")


def client_address(request: HTTPConnection) -> str:
    """The client's address under the app's trusted proxies (``app.state.trusted_proxies``)."""
    proxies = getattr(request.app.state, "trusted_proxies", None) or TrustedProxies()
    return proxies.client(request)


def reached_over_https(request: HTTPConnection) -> bool:
    proxies = getattr(request.app.state, "trusted_proxies", None) or TrustedProxies()
    return proxies.https(request)
