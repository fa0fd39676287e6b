"""Reaching a server on this machine: aioice leaves 127.0.0.1 out of its ICE candidates.

Tests and benchmarks often run server and caller in one ``lo``-only namespace, where
a loopback call would otherwise have no candidate pair at all.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse

from loguru import logger

_loopback_ice_enabled = False


def allow_loopback_ice() -> None:
    """Make aioice offer 127.0.0.1 as a host candidate, in this process, from now on.

    aioice (0.13) gathers host candidates from ``ifaddr`` and drops 127.0.0.1, and it
    has no option to keep it. Without another interface (a namespace with only ``lo``,
    as in offline tests) a loopback call then has no candidate at all. Its
    ``gather_candidates`` looks ``get_host_addresses`` up as a module global at call
    time, so wrapping that global is enough. Idempotent; harmless when other
    interfaces exist (one extra candidate pair). A server in a ``lo``-only namespace
    needs the same call.
    """
    global _loopback_ice_enabled
    if _loopback_ice_enabled:
        return
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = original(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
        if use_ipv4 and "127.0.0.1" not in addresses:
            addresses.append("127.0.0.1")
        return addresses

    aioice.ice.get_host_addresses = get_host_addresses
    _loopback_ice_enabled = True
    logger.debug("aioice: 127.0.0.1 added to host candidates")


def is_loopback_url(url: str) -> bool:
    """Whether the URL's host is (or resolves to) a loopback address."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        return all(
            ipaddress.ip_address(info[4][0]).is_loopback
            for info in socket.getaddrinfo(host, None)
        )
    except OSError:
        return False
