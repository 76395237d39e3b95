"""HTTP for feeds: one conditional GET with limits, redirects followed by hand, SSRF guard.

Returns a `FetchResult` (a 304 is a result, not an error) or raises `FetchError` saying what
went wrong and where, classified by `kind` for the failure score. It never parses the body.

- Validators: If-None-Match / If-Modified-Since are sent back exactly as received.
- Encodings: gzip, deflate and br are accepted; `max_bytes` caps the body *after*
  decompression, so a small gzip bomb is cut off at the cap. A body that does not decode as
  its Content-Encoding says (a server labelling every file gzip) is asked for once more
  with `Accept-Encoding: identity` and read as sent, as browsers show such pages.
- One total deadline per fetch covers connect, every redirect hop, headers and the whole
  body: a server that drips one byte a second cannot hold a fetch past it. The deadline
  counts the server's time, not ours: time the event loop spent blocked (the single writer
  storing a big feed, a commit) while a fetch was in flight is added back to that fetch's
  deadline, up to `MAX_STALL_CREDIT` times the timeout. Otherwise a healthy source whose
  answer sat unread in the socket while the loop was busy would fail as a timeout, count
  towards its backoff and lose a poll (the soak saw hundreds such on a cold first poll).
- Redirects: at most `MAX_REDIRECTS` hops, each checked by the guard. A chain that starts
  with 301/308 reports the new permanent URL in `moved_to`; 302/303/307 change nothing.
- Concurrency: a global limit and a per-host limit; a host's slot is taken before a global
  one, so a slow host queues behind itself and never holds slots other hosts need.
- SSRF guard (`syndicator.netguard`'s rules), unless `allow_private_addresses`: only http(s),
  no credentials in the URL, no numeric host spellings, no non-public address. Every hop's URL
  is checked before connecting, and names after DNS resolution, at connect time.
- Proxy (`proxy`): every request goes through it; the client then connects to the proxy
  only, which the operator chose and which may well be on a private address. The guard still
  checks every hop's URL, and resolves its host name here: a name that resolves to a
  non-public address is refused, one that does not resolve here is left to the proxy (in a
  proxied network, outside names often resolve only there), whose policy then decides.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError

from syndicator import __version__
from syndicator.errors import FetchError
from syndicator.models import FetchResult
from syndicator.netguard import RefusedAddress, refusal_reason
from syndicator.netresolve import GuardedResolver, proxied_refusal

MAX_REDIRECTS = 5
# Loop stalls: sampled every STALL_TICK_S; a tick late by more than STALL_TOLERANCE_S was
# a stall. A fetch's deadline moves by the stalls during it, at most MAX_STALL_CREDIT times
# the timeout, so even a loop that is always busy cannot keep a fetch open without end.
STALL_TICK_S = 0.1
STALL_TOLERANCE_S = 0.05
MAX_STALL_CREDIT = 3.0
_PERMANENT_REDIRECTS = frozenset({301, 308})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip, deflate method: no text or feed starts so
PROJECT_URL = "https://github.com/syndicator/syndicator"
_ACCEPT = "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, " + (
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.5, */*;q=0.1"
)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Politeness and safety settings for every fetch of a client."""

    timeout_s: float = 20.0
    max_bytes: int = 10_000_000
    concurrency: int = 32
    per_host_concurrency: int = 2
    allow_private_addresses: bool = False
    contact_url: str = ""
    # http://host:port, credentials allowed (so never in a repr); "" fetches directly
    proxy: str = field(default="", repr=False)

    @property
    def user_agent(self) -> str:
        contact = self.contact_url or PROJECT_URL
        return f"syndicator/{__version__} (+{contact})"


class LoopStalls:
    """The seconds this event loop was blocked, summed since it was created: a timer every
    `STALL_TICK_S` that runs late by more than `STALL_TOLERANCE_S` saw a stall. Call
    `close` when done."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._seen = 0.0
        self._due = self._loop.time() + STALL_TICK_S
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        self._seen += self._late()
        self._due = self._loop.time() + STALL_TICK_S
        self._handle = self._loop.call_at(self._due, self._tick)

    def _late(self) -> float:
        late = self._loop.time() - self._due
        return late if late > STALL_TOLERANCE_S else 0.0

    def total(self) -> float:
        """Stalls so far, the one still going included (its tick has not run yet)."""
        return self._seen + self._late()

    def close(self) -> None:
        self._handle.cancel()


@asynccontextmanager
async def deadline_excluding_stalls(seconds: float, stalls: LoopStalls) -> AsyncIterator[None]:
    """Like `asyncio.timeout(seconds)`, but the loop's stalls meanwhile extend the deadline
    (at most `MAX_STALL_CREDIT` * seconds). Raises TimeoutError when it passes."""
    loop = asyncio.get_running_loop()
    begun, stalled_before = loop.time(), stalls.total()
    async with asyncio.timeout(None) as deadline:
        handle: asyncio.TimerHandle | None = None

        def check() -> None:
            nonlocal handle
            credit = min(stalls.total() - stalled_before, MAX_STALL_CREDIT * seconds)
            due = begun + seconds + credit
            if loop.time() >= due:
                deadline.reschedule(loop.time())  # expires at once
            else:
                handle = loop.call_at(due, check)

        handle = loop.call_at(begun + seconds, check)
        try:
            yield
        finally:
            if handle is not None:  # always set; for the type checker
                handle.cancel()


class FeedClient:
    """An aiohttp session with the limits applied. Use as `async with FeedClient(limits)`."""

    def __init__(self, limits: FetchLimits) -> None:
        self.limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._global_slots = asyncio.Semaphore(limits.concurrency)
        self._host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(limits.per_host_concurrency)
        )
        # Through a proxy: host name -> why it is refused (None: it may go), looked up once
        # per client (a poll) rather than once per fetch.
        self._names_judged: dict[str, str | None] = {}
        self._stalls: LoopStalls | None = None

    async def __aenter__(self) -> FeedClient:
        self._stalls = LoopStalls()
        # Through a proxy the connector only ever connects to the proxy: it is not judged.
        guarded = not self.limits.allow_private_addresses and not self.limits.proxy
        connector = aiohttp.TCPConnector(
            limit=self.limits.concurrency,
            limit_per_host=self.limits.per_host_concurrency,
            resolver=GuardedResolver() if guarded else None,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.limits.user_agent, "Accept": _ACCEPT},
            auto_decompress=True,
            proxy=self.limits.proxy or None,
            trust_env=False,  # the proxy is the configured one, never an environment's
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._stalls is not None:
            self._stalls.close()
        if self._session is not None:
            await self._session.close()

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET a feed, sending back its validators. Raises `FetchError` naming the URL."""
        host = (urlsplit(url).hostname or "").lower()
        if self._stalls is None:
            raise RuntimeError("FeedClient used outside 'async with'")
        async with self._host_slots[host], self._global_slots:
            try:
                async with deadline_excluding_stalls(self.limits.timeout_s, self._stalls):
                    try:
                        return await self._follow(url, etag, last_modified)
                    except aiohttp.ClientPayloadError as e:
                        if not _mislabelled_encoding(e):
                            raise
                        # One Content-Encoding header for every file a server sends: a plain
                        # feed labelled gzip. Asked again for the body as it is, it is read
                        # as sent (still-gzip bodies are inflated by `_read_capped`).
                        return await self._follow(url, etag, last_modified, as_sent=True)
            except TimeoutError as e:
                message = f"{url}: timed out after {self.limits.timeout_s:g}s (polling.timeout)"
                raise FetchError(message, kind="timeout") from e
            except RefusedAddress as e:
                raise FetchError(f"{url}: refused: {e}", kind="refused") from e
            except aiohttp.ClientConnectorError as e:
                if isinstance(e.os_error, RefusedAddress):
                    raise FetchError(f"{url}: refused: {e.os_error}", kind="refused") from e
                raise FetchError(f"{url}: cannot connect: {e.os_error or e}") from e
            except aiohttp.ClientPayloadError as e:
                raise FetchError(f"{url}: broken response body: {_cause(e)}") from e
            except aiohttp.ClientError as e:
                raise FetchError(f"{url}: {type(e).__name__}: {e}") from e
            except OSError as e:
                raise FetchError(f"{url}: {e}") from e

    async def _follow(
        self, url: str, etag: str | None, last_modified: str | None, *, as_sent: bool = False
    ) -> FetchResult:
        if self._session is None:
            raise RuntimeError("FeedClient used outside 'async with'")
        current, moved_to, still_permanent = url, None, True
        for _ in range(MAX_REDIRECTS + 1):
            if reason := refusal_reason(current, self.limits.allow_private_addresses):
                raise FetchError(f"{url}: {reason}", kind="refused")
            if self.limits.proxy and not self.limits.allow_private_addresses:
                host = urlsplit(current).hostname or ""
                if host not in self._names_judged:
                    self._names_judged[host] = await proxied_refusal(host)
                if reason := self._names_judged[host]:
                    raise FetchError(f"{url}: refused: {reason}", kind="refused")
            headers = _conditional_headers(etag, last_modified) if current == url else {}
            if as_sent:
                headers["Accept-Encoding"] = "identity"
            async with self._session.get(
                current, headers=headers, allow_redirects=False, auto_decompress=not as_sent
            ) as resp:
                if resp.status in _REDIRECTS and resp.headers.get("Location"):
                    target = urljoin(current, resp.headers["Location"].strip())
                    still_permanent = still_permanent and resp.status in _PERMANENT_REDIRECTS
                    moved_to = target if still_permanent else moved_to
                    current = target
                    continue
                return await self._result(url, current, resp, moved_to)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects", kind="http")

    async def _result(
        self, url: str, final_url: str, resp: aiohttp.ClientResponse, moved_to: str | None
    ) -> FetchResult:
        moved_because = "HTTP 301/308 permanent redirect" if moved_to else ""
        if resp.status == 304:
            return FetchResult(
                url=final_url, status=304, headers=_headers(resp),
                moved_to=moved_to, moved_because=moved_because,
            )  # fmt: skip
        if resp.status >= 400 or resp.status < 200:
            raise FetchError(
                f"{url}: HTTP {resp.status} {resp.reason or ''}".rstrip(),
                kind="http",
                status=resp.status,
                retry_after=resp.headers.get("Retry-After"),
            )
        body = await self._read_capped(url, resp)
        return FetchResult(
            url=final_url,
            status=resp.status,
            body=body,
            headers=_headers(resp),
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            moved_to=moved_to,
            moved_because=moved_because,
        )

    async def _read_capped(self, url: str, resp: aiohttp.ClientResponse) -> bytes:
        """The decompressed body, refusing it as soon as it passes `max_bytes`."""
        declared = resp.content_length
        encoded = bool(resp.headers.get("Content-Encoding"))
        if declared is not None and not encoded and declared > self.limits.max_bytes:
            raise self._too_large(url)  # refuse before reading a byte of it
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            total += len(chunk)
            if total > self.limits.max_bytes:
                raise self._too_large(url)
            chunks.append(chunk)
        return self._inflate_stray_gzip(url, b"".join(chunks))

    def _inflate_stray_gzip(self, url: str, body: bytes) -> bytes:
        """A body that is still gzip after HTTP's own decoding (a `.gz` file served without
        Content-Encoding, or a server that compressed twice) inflated, at most twice, under
        the same `max_bytes` cap. What does not inflate is left for the parser to judge."""
        for _ in range(2):
            if not body.startswith(_GZIP_MAGIC):
                break
            try:
                inflated = zlib.decompressobj(wbits=31).decompress(body, self.limits.max_bytes + 1)
            except zlib.error:
                break
            if len(inflated) > self.limits.max_bytes:
                raise self._too_large(url)
            body = inflated
        return body

    def _too_large(self, url: str) -> FetchError:
        limit = self.limits.max_bytes
        return FetchError(
            f"{url}: body larger than polling.max_bytes ({limit} bytes, after decompression)",
            kind="limit",
        )


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    return {key.lower(): value for key, value in resp.headers.items()}


def _cause(error: Any) -> str:
    cause = error.__cause__ or error
    return " ".join(f"{type(cause).__name__}: {cause}".split())  # aiohttp's span two lines


def _mislabelled_encoding(error: aiohttp.ClientPayloadError) -> bool:
    """Whether a body failed to decode as its Content-Encoding said (not a cut connection)."""
    return isinstance(error.__cause__, ContentEncodingError)
