"""The HTTP client on the wire: validators, redirects, limits, deadlines and the SSRF guard."""

from __future__ import annotations

import asyncio
import base64
import gzip
import resource
import socket
import time
import zlib

import brotli
import pytest

from syndicator.errors import FetchError
from syndicator.fetch import FeedClient, FetchLimits
from syndicator.models import FetchResult
from syndicator.netguard import refusal_reason
from tests.conftest import FeedServer, LoopbackProxy, Route, rss
from tests.test_netguard import REFUSED_BEFORE_DNS

OPEN = FetchLimits(timeout_s=5, allow_private_addresses=True)
FEED = rss([{"title": "Troops leave Kazakhstan", "guid": "w-1"}])


def fetch(url: str, limits: FetchLimits = OPEN, **validators: str) -> FetchResult:
    async def run() -> FetchResult:
        async with FeedClient(limits) as client:
            return await client.fetch(url, validators.get("etag"), validators.get("modified"))

    return asyncio.run(run())


def fetch_error(url: str, limits: FetchLimits = OPEN) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(url, limits)
    return caught.value


def test_validators_are_sent_back_exactly(feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Route(FEED, etag='W/"a b"')
    first = fetch(feed_server.url("/f"))
    assert first.etag == 'W/"a b"'
    second = fetch(feed_server.url("/f"), etag='W/"a b"', modified="Wed, 25 Nov 2026 10:00:00 GMT")
    assert second.not_modified
    sent = feed_server.requests_to("/f")[1].headers
    assert sent["if-none-match"] == 'W/"a b"'
    assert sent["if-modified-since"] == "Wed, 25 Nov 2026 10:00:00 GMT"


def test_user_agent_names_project_version_and_contact(feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Route(FEED)
    limits = FetchLimits(
        timeout_s=5, allow_private_addresses=True, contact_url="https://desk.example/"
    )
    fetch(feed_server.url("/f"), limits)
    agent = feed_server.requests_to("/f")[0].headers["user-agent"]
    assert agent.startswith("syndicator/0.")
    assert "https://desk.example/" in agent


@pytest.mark.parametrize(
    ("status", "permanent"), [(301, True), (308, True), (302, False), (307, False)]
)
def test_redirect_kinds(feed_server: FeedServer, status: int, permanent: bool) -> None:
    feed_server.routes["/old"] = Route(status=status, headers={"Location": "/new"})
    feed_server.routes["/new"] = Route(FEED)
    result = fetch(feed_server.url("/old"))
    assert result.url == feed_server.url("/new")
    assert result.moved_to == (feed_server.url("/new") if permanent else None)


def test_permanent_then_temporary_redirect_moves_to_the_permanent_target(
    feed_server: FeedServer,
) -> None:
    feed_server.routes["/a"] = Route(status=301, headers={"Location": "/b"})
    feed_server.routes["/b"] = Route(status=302, headers={"Location": "/c"})
    feed_server.routes["/c"] = Route(FEED)
    assert fetch(feed_server.url("/a")).moved_to == feed_server.url("/b")


def test_at_most_five_redirects_and_loops_end(feed_server: FeedServer) -> None:
    for hop in range(7):
        feed_server.routes[f"/r{hop}"] = Route(status=302, headers={"Location": f"/r{hop + 1}"})
    feed_server.routes["/r7"] = Route(FEED)
    feed_server.routes["/r2"] = Route(status=302, headers={"Location": "/r7"})
    assert fetch(feed_server.url("/r0")).status == 200  # three hops: fine
    feed_server.routes["/r2"] = Route(status=302, headers={"Location": "/r3"})
    assert "more than 5 redirects" in str(fetch_error(feed_server.url("/r0")))
    feed_server.routes["/loop"] = Route(status=301, headers={"Location": "/loop"})
    assert "more than 5 redirects" in str(fetch_error(feed_server.url("/loop")))


def test_a_redirect_hop_to_a_forbidden_scheme_is_refused(feed_server: FeedServer) -> None:
    feed_server.routes["/r"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
    error = fetch_error(feed_server.url("/r"))
    assert error.kind == "refused"
    assert "scheme 'file'" in str(error)


def test_http_errors_carry_status_and_retry_after(feed_server: FeedServer) -> None:
    feed_server.routes["/gone"] = Route(b"", status=410)
    feed_server.routes["/busy"] = Route(b"", status=429, headers={"Retry-After": "120"})
    assert fetch_error(feed_server.url("/gone")).status == 410
    busy = fetch_error(feed_server.url("/busy"))
    assert (busy.status, busy.retry_after) == (429, "120")


@pytest.fixture(scope="session")
def gzip_bomb() -> bytes:
    """About 1 MiB of gzip that inflates to 1 GiB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(1024)]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_is_cut_off_at_max_bytes_after_decompression(
    feed_server: FeedServer, gzip_bomb: bytes
) -> None:
    feed_server.routes["/bomb"] = Route(gzip_bomb, headers={"Content-Encoding": "gzip"})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error = fetch_error(
        feed_server.url("/bomb"),
        FetchLimits(timeout_s=20, max_bytes=5_000_000, allow_private_addresses=True),
    )
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert error.kind == "limit"
    assert "max_bytes" in str(error)
    assert grown_mb < 200, f"memory grew by {grown_mb:.0f} MB while reading a gzip bomb"


def test_a_gzip_body_without_content_encoding_is_inflated(feed_server: FeedServer) -> None:
    # A .gz file served as it is, and a server that compressed twice.
    feed_server.routes["/feed.xml.gz"] = Route(gzip.compress(FEED), content_type="text/xml")
    feed_server.routes["/twice"] = Route(
        gzip.compress(gzip.compress(FEED)), headers={"Content-Encoding": "gzip"}
    )
    assert fetch(feed_server.url("/feed.xml.gz")).body == FEED
    assert fetch(feed_server.url("/twice")).body == FEED


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_plain_body_labelled_compressed_is_read_as_sent(
    feed_server: FeedServer, encoding: str
) -> None:
    """A server with one `Content-Encoding` header for every file labels a plain feed gzip:
    the poll failed with a two-line "ContentEncodingError: 400, message: Can not decode".
    The body is asked for again as it is, and read as sent."""
    feed_server.routes["/feed.xml"] = Route(FEED, headers={"Content-Encoding": encoding})
    assert fetch(feed_server.url("/feed.xml")).body == FEED
    first, again = feed_server.requests_to("/feed.xml")
    assert again.headers.get("accept-encoding") == "identity"
    assert first.headers.get("accept-encoding") != "identity"


def test_a_mislabelled_body_read_as_sent_keeps_the_size_cap(feed_server: FeedServer) -> None:
    feed_server.routes["/big"] = Route(b"<" * 3_000_000, headers={"Content-Encoding": "gzip"})
    limits = FetchLimits(timeout_s=20, max_bytes=1_000_000, allow_private_addresses=True)
    assert fetch_error(feed_server.url("/big"), limits).kind == "limit"


def test_a_stray_gzip_bomb_is_cut_off_at_max_bytes(feed_server: FeedServer) -> None:
    feed_server.routes["/bomb"] = Route(gzip.compress(b"<" * 50_000_000), content_type="text/xml")
    limits = FetchLimits(timeout_s=20, max_bytes=1_000_000, allow_private_addresses=True)
    assert fetch_error(feed_server.url("/bomb"), limits).kind == "limit"


def test_a_body_that_only_looks_like_gzip_is_left_to_the_parser(feed_server: FeedServer) -> None:
    feed_server.routes["/broken"] = Route(b"\x1f\x8b\x08 not really gzip")
    assert fetch(feed_server.url("/broken")).body == b"\x1f\x8b\x08 not really gzip"


def test_gzip_deflate_and_brotli_are_decoded(feed_server: FeedServer) -> None:
    feed_server.routes["/gz"] = Route(gzip.compress(FEED), headers={"Content-Encoding": "gzip"})
    feed_server.routes["/br"] = Route(brotli.compress(FEED), headers={"Content-Encoding": "br"})
    feed_server.routes["/df"] = Route(zlib.compress(FEED), headers={"Content-Encoding": "deflate"})
    for path in ("/gz", "/br", "/df"):
        assert fetch(feed_server.url(path)).body == FEED
    assert "br" in feed_server.requests_to("/br")[0].headers["accept-encoding"]


def test_declared_oversize_body_is_refused_before_reading(feed_server: FeedServer) -> None:
    feed_server.routes["/big"] = Route(b"x" * 20_000)
    limits = FetchLimits(timeout_s=5, max_bytes=10_000, allow_private_addresses=True)
    assert fetch_error(feed_server.url("/big"), limits).kind == "limit"


def test_slow_drip_is_stopped_at_the_total_deadline(feed_server: FeedServer) -> None:
    feed_server.routes["/drip"] = Route(FEED, drip_s=0.2)  # ~ 40 s for the whole body
    limits = FetchLimits(timeout_s=1.5, allow_private_addresses=True)
    started = time.monotonic()
    error = fetch_error(feed_server.url("/drip"), limits)
    assert error.kind == "timeout"
    assert "polling.timeout" in str(error)
    assert time.monotonic() - started < 5


def test_a_server_that_never_answers_times_out(feed_server: FeedServer) -> None:
    feed_server.routes["/hang"] = Route(hang=True)
    limits = FetchLimits(timeout_s=1, allow_private_addresses=True)
    assert fetch_error(feed_server.url("/hang"), limits).kind == "timeout"


def _fetch_while_the_loop_stalls(url: str, timeout_s: float, stall_s: float) -> FetchResult:
    """Fetch `url`; 0.1 s in, block the event loop for `stall_s` (as storing a big feed does)."""

    async def run() -> FetchResult:
        async with FeedClient(FetchLimits(timeout_s=timeout_s, allow_private_addresses=True)) as c:
            fetching = asyncio.create_task(c.fetch(url))
            await asyncio.sleep(0.1)
            time.sleep(stall_s)  # the loop is blocked: nothing of the fetch can run
            return await fetching

    return asyncio.run(run())


def test_time_the_loop_was_blocked_does_not_count_against_a_fetch(
    feed_server: FeedServer,
) -> None:
    # The answer comes at 0.3 s, within the 0.6 s timeout, but is read only after the loop's
    # 1.5 s stall: the server was not slow, so this is no timeout.
    feed_server.routes["/prompt"] = Route(FEED, delay_s=0.3)
    result = _fetch_while_the_loop_stalls(feed_server.url("/prompt"), 0.6, stall_s=1.5)
    assert result.body == FEED


def test_a_stalled_loop_extends_a_deadline_only_so_far(feed_server: FeedServer) -> None:
    feed_server.routes["/hang"] = Route(hang=True)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        _fetch_while_the_loop_stalls(feed_server.url("/hang"), 0.3, stall_s=2.0)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 3.0  # 0.3 s + at most 3 x 0.3 s credit, then expired


def test_a_slow_host_does_not_delay_other_hosts(feed_server: FeedServer) -> None:
    feed_server.routes["/slow"] = Route(FEED, drip_s=0.002)  # about 0.4 s per fetch
    feed_server.routes["/fast"] = Route(FEED)
    slow_url = feed_server.url("/slow")
    fast_url = feed_server.url("/fast").replace("127.0.0.1", "localhost")
    limits = FetchLimits(
        timeout_s=30, concurrency=4, per_host_concurrency=1, allow_private_addresses=True
    )
    finished: list[str] = []

    async def run() -> None:
        async with FeedClient(limits) as client:

            async def one(url: str) -> None:
                await client.fetch(url)
                finished.append(url)

            await asyncio.gather(*(one(slow_url) for _ in range(4)), one(fast_url))

    asyncio.run(run())
    assert finished.index(fast_url) == 0  # it never queued behind the slow host's slots


@pytest.mark.parametrize("url", REFUSED_BEFORE_DNS)
def test_the_guard_refuses_before_connecting_in_its_own_words(url: str) -> None:
    error = fetch_error(url, FetchLimits(timeout_s=5))
    assert error.kind == "refused"
    assert str(error) == f"{url}: {refusal_reason(url)}"


def test_a_name_resolving_to_loopback_is_refused_after_resolution(feed_server: FeedServer) -> None:
    feed_server.routes["/f"] = Route(FEED)
    guarded = FetchLimits(timeout_s=5)
    for url in (feed_server.url("/f"), feed_server.url("/f").replace("127.0.0.1", "localhost")):
        error = fetch_error(url, guarded)
        assert error.kind == "refused", str(error)
    assert feed_server.requests == []  # the victim never saw a request


# -- through a proxy ----------------------------------------------------------------------------

PUBLIC_FEED = "http://93.184.216.34/world.rss"  # never reached: the loopback proxy answers


def test_every_fetch_goes_through_the_configured_proxy_with_its_credentials(
    proxy: LoopbackProxy,
) -> None:
    proxy.answers[PUBLIC_FEED] = FEED
    # The guard on: the proxy itself is on loopback, the feed's address is public.
    limits = FetchLimits(timeout_s=5, proxy=proxy.url("desk:s3cret@"))
    result = fetch(PUBLIC_FEED, limits)
    assert (result.status, result.body) == (200, FEED)
    [request] = proxy.seen
    assert request.target == PUBLIC_FEED  # absolute form: a proxy request
    assert request.authorization == "Basic " + base64.b64encode(b"desk:s3cret").decode()


def test_through_a_proxy_the_guard_still_refuses_private_targets(proxy: LoopbackProxy) -> None:
    limits = FetchLimits(timeout_s=5, proxy=proxy.url())
    for url in ("http://127.0.0.1:9/feed", "http://localhost/feed", "http://[::1]/feed"):
        error = fetch_error(url, limits)
        assert error.kind == "refused", str(error)
    proxy.redirects[PUBLIC_FEED] = "http://localhost/admin"
    error = fetch_error(PUBLIC_FEED, limits)
    assert error.kind == "refused"
    assert "localhost is a localhost name" in str(error)
    assert [request.target for request in proxy.seen] == [PUBLIC_FEED]  # nothing private asked for


def test_the_guard_off_lets_a_proxy_fetch_private_addresses(proxy: LoopbackProxy) -> None:
    proxy.answers["http://localhost/feed"] = FEED
    limits = FetchLimits(timeout_s=5, proxy=proxy.url(), allow_private_addresses=True)
    assert fetch("http://localhost/feed", limits).body == FEED


def test_a_proxy_that_is_down_is_an_error_without_its_password() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    limits = FetchLimits(timeout_s=5, proxy=f"http://desk:s3cret@127.0.0.1:{port}")
    error = fetch_error(PUBLIC_FEED, limits)
    assert PUBLIC_FEED in str(error)
    assert "s3cret" not in str(error)
    assert "s3cret" not in repr(limits)
