"""HTTP for feeds: one conditional GET with limits, redirects followed by hand, SSRF guard.

Returns a `FetchResult` (a 304 is a result, not an error) or raises `FetchError` saying what
went wrong and where. It never parses the body. Limits: one total deadline per fetch covering
connect, headers and body; a body cap applied after decompression; at most `MAX_REDIRECTS`
hops, each checked by the address guard. The guard refuses loopback, private, link-local,
multicast and reserved targets at connect time (after DNS resolution, so a public name that
resolves to a private address is refused too) unless `allow_private_addresses` is set.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from syndicator import __version__
from syndicator.errors import FetchError
from syndicator.models import FetchResult

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
PROJECT_URL = "https://github.com/syndicator/syndicator"


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Politeness and safety settings for every fetch of a client."""

    timeout_s: float = 20.0
    max_bytes: int = 10_000_000
    concurrency: int = 32
    allow_private_addresses: bool = False
    contact_url: str = ""

    @property
    def user_agent(self) -> str:
        contact = self.contact_url or PROJECT_URL
        return f"syndicator/{__version__} (+{contact})"


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _GuardedResolver(AbstractResolver):
    """Resolves names as usual, then refuses every non-public address it got back."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        public = [result for result in results if is_public_address(result["host"])]
        if not public:
            addresses = ", ".join(sorted({result["host"] for result in results}))
            raise OSError(f"{host} resolves to a non-public address ({addresses}); refused")
        return public

    async def close(self) -> None:
        await self._inner.close()


class FeedClient:
    """An aiohttp session with the limits applied. Use as `async with FeedClient(limits)`."""

    def __init__(self, limits: FetchLimits) -> None:
        self.limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(limits.concurrency)

    async def __aenter__(self) -> FeedClient:
        resolver = None if self.limits.allow_private_addresses else _GuardedResolver()
        connector = aiohttp.TCPConnector(limit=self.limits.concurrency, resolver=resolver)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.limits.timeout_s),
            headers={"User-Agent": self.limits.user_agent},
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET a feed, sending back its validators. Raises `FetchError` naming the URL."""
        async with self._slots:
            try:
                return await asyncio.wait_for(
                    self._follow(url, etag, last_modified), timeout=self.limits.timeout_s
                )
            except TimeoutError as e:
                raise FetchError(f"{url}: timed out after {self.limits.timeout_s:g}s") from e
            except aiohttp.ClientError as e:
                raise FetchError(f"{url}: {_describe(e)}") from e
            except OSError as e:
                raise FetchError(f"{url}: {e}") from e

    async def _follow(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        if self._session is None:
            raise RuntimeError("FeedClient used outside 'async with'")
        headers = _conditional_headers(etag, last_modified)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            self._check_target(url, current)
            async with self._session.get(current, headers=headers, allow_redirects=False) as resp:
                if resp.status in _REDIRECT_STATUSES and "Location" in resp.headers:
                    current = urljoin(current, resp.headers["Location"])
                    continue
                return await self._result(url, current, resp)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _check_target(self, url: str, target: str) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"{url}: refused scheme {parts.scheme!r} (only http and https)")
        if parts.username or parts.password:
            raise FetchError(f"{url}: refused credentials in the URL")
        host = parts.hostname or ""
        if self.limits.allow_private_addresses or not _is_ip_literal(host):
            return  # names are checked after resolution by the guarded resolver
        if not is_public_address(host):
            raise FetchError(f"{url}: refused non-public address {host}")

    async def _result(self, url: str, final_url: str, resp: aiohttp.ClientResponse) -> FetchResult:
        if resp.status == 304:
            return FetchResult(url=final_url, status=304, headers=_headers(resp))
        if resp.status >= 400:
            raise FetchError(f"{url}: HTTP {resp.status} {resp.reason or ''}".rstrip())
        body = await self._read_capped(url, resp)
        return FetchResult(
            url=final_url,
            status=resp.status,
            body=body,
            headers=_headers(resp),
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
        )

    async def _read_capped(self, url: str, resp: aiohttp.ClientResponse) -> bytes:
        """The decompressed body, refusing it once it passes `max_bytes`."""
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            total += len(chunk)
            if total > self.limits.max_bytes:
                raise FetchError(
                    f"{url}: body larger than polling.max_bytes ({self.limits.max_bytes} bytes)"
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {
        "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.8"
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    return dict(resp.headers.items())


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _describe(error: Any) -> str:
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect: {error.os_error or error}"
    return f"{type(error).__name__}: {error}"
