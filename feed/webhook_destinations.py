"""Where a partner's webhook may be sent: the URL's shape, and (outside the demo) its address.

Any URL: ``http`` or ``https``, a host, no user name or password in it (``user:pass@``: a
credential the gateway would keep and send on), at most 2000 characters. Unless private
destinations are allowed (``feed.webhook_private_urls``; by profile: in the demo, where
receivers run on 127.0.0.1, and not in production), every address the host resolves to must
be public (globally routable, not multicast): loopback, private, link-local (cloud metadata at
169.254.169.254), shared, reserved and unspecified addresses are refused, so that a partner
cannot make the gateway call into its own network (SSRF). The check runs when a subscription
is made and again before each attempt (a name may resolve elsewhere by then).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from gateway.settings import Settings

URL_MAX = 2000


def private_allowed(settings: Settings) -> bool:
    """``feed.webhook_private_urls``, or by profile: allowed in the demo only."""
    allowed = settings.feed.webhook_private_urls
    return allowed if allowed is not None else settings.profile == "demo"


def url_problem(url: str) -> str | None:
    """What is wrong with the URL's shape, or ``None``."""
    if len(url) > URL_MAX:
        return f"A webhook URL has at most {URL_MAX} characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not one
    except ValueError:
        return "This is not a URL."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "A webhook URL is http:// or https:// with a host."
    if parts.username is not None or parts.password is not None:
        return "A webhook URL carries no user name or password (user:pass@)."
    return None


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def destination_problem(url: str, *, allow_private: bool) -> str | None:
    """What keeps the gateway from sending to ``url``, or ``None``: its shape, and unless
    ``allow_private``, an address it resolves to that is not public."""
    problem = url_problem(url)
    if problem is not None or allow_private:
        return problem
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return f"The host {host!r} does not resolve."
    if not found or not all(is_public(str(info[4][0])) for info in found):
        return "A webhook URL must reach a public address (not loopback, private or link-local)."
    return None
