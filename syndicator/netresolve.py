"""The SSRF guard's name lookups, for the two HTTP clients (feeds and webhooks).

`syndicator.netguard` holds the rules and resolves no names; this module applies them where
names are resolved: `GuardedResolver` for a direct connection (aiohttp asks it at connect
time and connects only to the public addresses it returns), `proxied_refusal` for a
connection through a proxy (which resolves the name itself, so the name is looked up here as
well, and refused when it resolves here to a non-public address).

It does not fetch or post anything, or judge URLs as written (`netguard.refusal_reason`).
"""

from __future__ import annotations

import asyncio
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from syndicator.netguard import (
    client_host,
    non_public_reason,
    proxied_name_reason,
    public_results,
)

PROXIED_LOOKUP_S = 2.0  # through a proxy: how long a local lookup of a name may take


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the guard calls public."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return public_results(host, await self._inner.resolve(host, port, family))

    async def close(self) -> None:
        await self._inner.close()


async def proxied_refusal(hostname: str) -> str | None:
    """Through a proxy: why a host name is refused, or None. Localhost and single-label
    names are refused without a lookup; a name that resolves here to any non-public address
    is refused; one that does not resolve here within `PROXIED_LOOKUP_S` is left to the proxy
    (in a proxied network, outside names often resolve only there)."""
    host = client_host(hostname)
    if reason := proxied_name_reason(host):
        return reason
    try:
        async with asyncio.timeout(PROXIED_LOOKUP_S):
            found = await asyncio.get_running_loop().getaddrinfo(
                host, None, proto=socket.IPPROTO_TCP
            )
    except (OSError, UnicodeError, TimeoutError):
        return None
    return non_public_reason(host, [str(info[4][0]) for info in found])
