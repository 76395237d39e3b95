"""notify.webhook: payloads (standard, Slack, Discord), Standard Webhooks signatures checked
with the reference library, and real POSTs to a loopback receiver that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from syndicator.errors import DeliveryError
from syndicator.netguard import refusal_reason
from syndicator.notify import AlertItem, AlertMessage, Outcome, SendResult
from syndicator.notify.webhook import (
    build_webhook,
    display_url,
    parse_retry_after,
    render_discord,
    render_slack,
    send_webhook,
    sign_payload,
)
from tests.conftest import LoopbackProxy
from tests.test_netguard import REFUSED_BEFORE_DNS

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
PREVIOUS_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"not the secret we signed with!!!").decode()


def item(title: str = "Protests spread to Almaty", **changes: Any) -> AlertItem:
    values: dict[str, Any] = {
        "cluster_id": 7,
        "title": title,
        "link": "https://wire.example/almaty?id=1&lang=en",
        "summary": "Thousands gathered in the main square. " * 10,
        "published_at": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        "regions": (("KZ", "Kazakhstan"),),
        "topics": (("conflict", "Conflict"),),
        "sources": (("Reuters", "https://reuters.example/1"), ("AP", "https://ap.example/2")),
    }
    return AlertItem(**(values | changes))


def message(*items: AlertItem, **changes: Any) -> AlertMessage:
    values: dict[str, Any] = {
        "delivery_id": "msg_d42_hook",
        "alert": "kz-unrest",
        "query": 'kazakhstan AND (protest OR "state of emergency")',
        "items": items or (item(),),
        "held_back": 2,
        "created_at": datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
        "feed_url": "http://feeds.test/feeds/alerts/kz-unrest.atom",
        "digest": False,
    }
    return AlertMessage(**(values | changes))


def options(url: str = "https://hooks.example/syndicator", **changes: Any) -> dict[str, Any]:
    return {"url": url, "secret": SECRET} | changes


def payload(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


# ---------------------------------------------------------------------------------------------
# A loopback receiver: records every request; each path misbehaves in its own way.


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang: bool = False


class Receiver:
    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.seen: list[Seen] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.seen.append(Seen(self.path, dict(self.headers.items()), body))
                reply = receiver.replies.get(self.path.partition("?")[0], Reply())
                if reply.hang:
                    receiver.released.wait(timeout=30)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def _serve(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def post(opts: dict[str, Any], msg: AlertMessage | None = None, **kwargs: Any) -> SendResult:
    kwargs = {"now": NOW, "allow_private_addresses": True, "timeout_s": 5.0, **kwargs}
    return asyncio.run(send_webhook(opts, msg or message(), **kwargs))


# ---------------------------------------------------------------------------------------------
# Standard payload, headers and signatures.


def test_standard_body_shape() -> None:
    _headers, body = build_webhook(options(), message(), now=NOW)
    event = payload(body)
    assert event["type"] == "alert.matched"
    assert event["timestamp"] == "2026-11-23T11:00:00Z"  # when the alert was made
    assert event["data"] == {
        "alert": "kz-unrest",
        "query": 'kazakhstan AND (protest OR "state of emergency")',
        "delivery_id": "msg_d42_hook",
        "held_back": 2,
        "feed_url": "http://feeds.test/feeds/alerts/kz-unrest.atom",
        "items": [
            {
                "cluster_id": 7,
                "title": "Protests spread to Almaty",
                "link": "https://wire.example/almaty?id=1&lang=en",
                "summary": ("Thousands gathered in the main square. " * 10),
                "published_at": "2026-11-23T10:00:00Z",
                "regions": [{"code": "KZ", "label": "Kazakhstan"}],
                "topics": [{"slug": "conflict", "label": "Conflict"}],
                "sources": [
                    {"name": "Reuters", "url": "https://reuters.example/1"},
                    {"name": "AP", "url": "https://ap.example/2"},
                ],
            }
        ],
    }
    assert payload(build_webhook(options(), message(digest=True), now=NOW)[1])["type"] == (
        "alert.digest"
    )


def test_standard_webhooks_headers() -> None:
    headers, _ = build_webhook(options(), message(), now=NOW)
    assert headers["webhook-id"] == "msg_d42_hook"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("syndicator/")
    assert headers["webhook-signature"].startswith("v1,")


def test_body_is_the_same_bytes_on_every_retry() -> None:
    first = build_webhook(options(), message(), now=NOW)
    later = build_webhook(options(), message(), now=NOW + timedelta(hours=1))
    assert first[1] == later[1]
    assert first[0]["webhook-id"] == later[0]["webhook-id"]
    assert first[0]["webhook-signature"] != later[0]["webhook-signature"]


def test_signature_matches_the_specs_test_vector() -> None:
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = sign_payload(
        [key], "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("fmt", ["standard", "slack", "discord"])
def test_reference_library_verifies_both_secrets_of_a_rotation(
    receiver: Receiver, fmt: str
) -> None:
    now = datetime.now(UTC)  # the reference library checks the timestamp against its clock
    opts = options(receiver.url("/ok"), previous_secret=PREVIOUS_SECRET, format=fmt)
    result = post(opts, now=now)
    assert result.outcome is Outcome.SENT, result.detail
    (seen,) = receiver.seen
    assert len(seen.headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, PREVIOUS_SECRET):
        assert Webhook(secret).verify(seen.body, seen.headers) == json.loads(seen.body)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(seen.body, seen.headers)
    tampered = seen.body.replace(b"Almaty", b"Astana")
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, seen.headers)


def test_without_a_secret_the_post_is_unsigned(receiver: Receiver) -> None:
    assert post(options(receiver.url("/ok"), secret="")).outcome is Outcome.SENT
    (seen,) = receiver.seen
    assert "webhook-signature" not in {name.lower() for name in seen.headers}
    assert seen.headers["webhook-id"] == "msg_d42_hook"


@pytest.mark.parametrize("bad", ["whsec_", "whsec_!!!not base64!!!", "whsec_Q"])
def test_a_malformed_secret_is_an_error_that_does_not_show_it(bad: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        build_webhook(options(secret=bad), message(), now=NOW)
    assert (
        str(caught.value) == 'channel secret is not a Standard Webhooks secret ("whsec_" + base64)'
    )
    result = post(options(secret=bad))
    assert result.outcome is Outcome.FAILED


def test_an_unknown_format_is_failed() -> None:
    with pytest.raises(DeliveryError, match="format"):
        build_webhook(options(format="teams"), message(), now=NOW)


def test_hostile_text_never_breaks_headers_or_body() -> None:
    hostile = item("Breaking\r\nX-Injected: 1\x00 \ud800 Алматы", summary="\x1b[31m red")
    msg = message(hostile, delivery_id="id\r\nX-Injected: 1")
    for fmt in ("standard", "slack", "discord"):
        headers, body = build_webhook(options(format=fmt), msg, now=NOW)
        assert all("\r" not in value and "\n" not in value for value in headers.values())
        assert payload(body)  # valid UTF-8 JSON
    headers, _ = build_webhook(options(), msg, now=NOW)
    assert headers["webhook-id"].startswith("h")
    assert headers["webhook-id"].isascii()


# ---------------------------------------------------------------------------------------------
# Presets.


def test_slack_preset_shape_escaping_and_limits() -> None:
    hostile = item(
        "<b>Oil & gas</b> prices > 100",
        link="https://wire.example/a?x=1&y=<2>|3",
        sources=(("<Reuters>", "https://r.example/1"), ("AP & Co", "javascript:alert(1)")),
    )
    many = [item(f"Story {number}") for number in range(60)]
    body = payload(build_webhook(options(format="slack"), message(hostile, *many), now=NOW)[1])
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("[syndicator] kz-unrest: 61 new stories")
    blocks = body["blocks"]
    assert len(blocks) <= 50
    for block in blocks:
        texts = [block["text"]] if "text" in block else block["elements"]
        assert all(text["type"] == "mrkdwn" and len(text["text"]) <= 3000 for text in texts)
    first = blocks[1]["text"]["text"]
    assert "*<https://wire.example/a?x=1&amp;y=%3C2%3E%7C3|&lt;b&gt;Oil &amp; gas&lt;/b&gt; " in (
        first
    )
    assert "&lt;Reuters&gt;" in first
    assert "javascript:" not in first
    assert "AP &amp; Co" in first
    footer = blocks[-1]["elements"][0]["text"]
    assert "And 23 more matches in the next message." in footer  # 2 held back + 21 not shown
    assert "<http://feeds.test/feeds/alerts/kz-unrest.atom|See every match" in footer


def test_slack_sections_stay_within_3000_characters_whatever_a_feed_writes() -> None:
    """Slack refuses a whole message (400 invalid_blocks: the delivery is dead, every item of
    the digest with it) for one section text over 3,000 characters. Escaping makes a text up to
    five times longer ("&" is "&amp;"): a headline, summary and source names of "<" and "&" came
    to 3,622."""
    hostile = [
        item("&" * 400, summary="&" * 2000),
        item(
            "<" * 400,
            summary="<" * 2000,
            regions=tuple((f"R{n}", f"Region & <{n}>") for n in range(40)),
            sources=tuple((f"Src & {n} " * 5, f"https://ex.org/{'&' * 100}{n}") for n in range(30)),
        ),
        item("AT&T <3", link="https://ex.org/" + "&" * 590, summary="Q&A " * 100),
    ]
    body = payload(build_webhook(options(format="slack"), message(*hostile), now=NOW)[1])
    sections = [block["text"]["text"] for block in body["blocks"] if block["type"] == "section"]
    assert len(sections) == 4
    assert all(len(text) <= 3000 for text in sections), [len(text) for text in sections]
    for text in sections[1:]:
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), "an entity cut in half"
        assert text.count("\n") >= 1, "the title and its facts are always there"
    assert "First reported by" in sections[2]
    assert "\n> Q&amp;A Q&amp;A" in sections[3]  # room left for the summary


def test_discord_preset_shape_and_limits() -> None:
    long_items = [
        item(f"Story {number} " + "headline " * 60, summary="word " * 2000, link="https://x.test/")
        for number in range(15)
    ]
    body = payload(build_webhook(options(format="discord"), message(*long_items), now=NOW)[1])
    assert set(body) == {"content", "embeds", "allowed_mentions"}
    assert body["allowed_mentions"] == {"parse": []}
    assert len(body["content"]) <= 2000
    assert "And 7 more matches in the next message." in body["content"]
    embeds = body["embeds"]
    assert len(embeds) == 10
    assert all(len(embed["title"]) <= 256 for embed in embeds)
    assert all(len(embed["description"]) <= 4096 for embed in embeds)
    assert sum(len(embed["title"]) + len(embed["description"]) for embed in embeds) <= 6000
    assert embeds[0]["url"] == "https://x.test/"
    assert embeds[0]["timestamp"] == "2026-11-23T10:00:00Z"


def test_slack_and_discord_show_times_in_the_alerts_time_zone() -> None:
    msg = message(item(), timezone="Asia/Almaty")
    slack = json.dumps(render_slack(msg))
    discord = render_discord(msg)
    assert "2026-11-23 15:00 +05" in slack
    assert "2026-11-23 15:00 +05" in json.dumps(discord)
    assert discord["embeds"][0]["timestamp"] == "2026-11-23T10:00:00Z"  # Discord localises it


def test_discord_escapes_markdown_and_skips_unsafe_links() -> None:
    hostile = item(
        "@everyone look",
        link="javascript:alert(1)",
        sources=(("[click](https://evil.example)", "https://r.example/a_(b)"),),
    )
    body = payload(build_webhook(options(format="discord"), message(hostile), now=NOW)[1])
    (embed,) = body["embeds"]
    assert "url" not in embed
    assert r"\[click\]\(https://evil.example\)" in embed["description"]
    assert "(https://r.example/a_%28b%29)" in embed["description"]


# What feeds link to: stored as the feed wrote it, since an entry's link is its identity, but
# no renderer may make a link of a scheme that runs code when clicked.
UNSAFE_LINKS = (
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file://etc/passwd",
    "https://",
)


@pytest.mark.parametrize("link", UNSAFE_LINKS)
def test_the_standard_payload_carries_only_web_links(receiver: Receiver, link: str) -> None:
    """The standard body is what a dashboard or a workflow tool turns into `<a href>`: a
    feed's `javascript:` link there was script run in that tool's page at a click. Its
    `link` and each source's `url` are http(s) URLs or empty, as in the Atom and JSON feeds
    and in every other message."""
    hostile = item(sources=(("Hostile", link), ("AP", "https://ap.example/2")), link=link)
    result = post(options(receiver.url("/hook")), message(hostile))
    assert result.outcome is Outcome.SENT, result.detail
    [sent] = payload(receiver.seen[0].body)["data"]["items"]
    assert sent["link"] == ""
    assert sent["sources"] == [
        {"name": "Hostile", "url": ""},
        {"name": "AP", "url": "https://ap.example/2"},
    ]


# ---------------------------------------------------------------------------------------------
# Responses, classified.


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply(200), Outcome.SENT),
        (Reply(202), Outcome.SENT),
        (Reply(204, body=b""), Outcome.SENT),
        (Reply(500, body=b"internal error"), Outcome.RETRY),
        (Reply(503), Outcome.RETRY),
        (Reply(408), Outcome.RETRY),
        (Reply(410, body=b"this webhook was deleted"), Outcome.GONE),
        (Reply(400, body=b"invalid_payload"), Outcome.FAILED),
        (Reply(401), Outcome.FAILED),
        (Reply(404), Outcome.FAILED),
    ],
)
def test_statuses_are_classified(receiver: Receiver, reply: Reply, outcome: Outcome) -> None:
    receiver.replies["/hook"] = reply
    result = post(options(receiver.url("/hook")))
    assert result.outcome is outcome, result.detail
    assert f"HTTP {reply.status}" in result.detail
    assert SECRET not in result.detail
    assert SECRET not in repr(result)
    if reply.body and outcome is not Outcome.SENT:
        assert reply.body.decode() in result.detail  # what the receiver said, for the log
    assert len(receiver.seen) == 1


def test_gone_says_why(receiver: Receiver) -> None:
    receiver.replies["/hook"] = Reply(410, body=b"webhook deleted by its owner")
    result = post(options(receiver.url("/hook")))
    assert result.outcome is Outcome.GONE
    assert "no longer exists" in result.detail
    assert "webhook deleted by its owner" in result.detail


@pytest.mark.parametrize(
    ("fmt", "reply", "outcome"),
    [
        (
            "discord",
            Reply(404, body=b'{"message": "Unknown Webhook", "code": 10015}'),
            Outcome.GONE,
        ),
        (
            "discord",
            Reply(401, body=b'{"message": "Invalid Webhook Token", "code": 50027}'),
            Outcome.GONE,
        ),
        ("discord", Reply(404, body=b"<html>Not Found</html>"), Outcome.FAILED),
        ("slack", Reply(404, body=b"no_service"), Outcome.GONE),
        ("slack", Reply(404, body=b"channel_not_found"), Outcome.GONE),
        ("slack", Reply(403, body=b"invalid_token"), Outcome.GONE),
        ("slack", Reply(400, body=b"invalid_payload"), Outcome.FAILED),
        ("standard", Reply(404, body=b"no_service"), Outcome.FAILED),
    ],
)
def test_a_deleted_slack_or_discord_webhook_is_gone(
    receiver: Receiver, fmt: str, reply: Reply, outcome: Outcome
) -> None:
    """Discord answers 404 "Unknown Webhook" for a deleted webhook, Slack 404 "no_service":
    every later message would be refused the same way, so the channel is disabled as for a
    410. Other 4xx answers of theirs, and a 404 from any other receiver, fail one message."""
    receiver.replies["/hook"] = reply
    result = post(options(receiver.url("/hook"), format=fmt))
    assert result.outcome is outcome, result.detail
    assert f"HTTP {reply.status}" in result.detail
    assert reply.body.decode() in result.detail


def test_429_with_retry_after_in_seconds(receiver: Receiver) -> None:
    receiver.replies["/hook"] = Reply(429, {"Retry-After": "120"})
    result = post(options(receiver.url("/hook")))
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == timedelta(seconds=120)


def test_429_with_retry_after_as_an_http_date(receiver: Receiver) -> None:
    when = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    receiver.replies["/hook"] = Reply(429, {"Retry-After": when})
    result = post(options(receiver.url("/hook")))
    assert result.outcome is Outcome.RETRY
    assert result.retry_after == timedelta(seconds=90)


def test_503_with_retry_after(receiver: Receiver) -> None:
    receiver.replies["/hook"] = Reply(503, {"Retry-After": "7"})
    result = post(options(receiver.url("/hook")))
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, timedelta(seconds=7))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("-5", timedelta(0)),
        ("1.5", timedelta(seconds=1.5)),
        ("99999999999999999999", timedelta(days=1)),
        ("Mon, 23 Nov 2026 11:00:00 GMT", timedelta(0)),  # in the past
        ("Tue, 24 Nov 2026 12:00:00 GMT", timedelta(days=1)),
    ],
)
def test_retry_after_parsing(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.replies["/old"] = Reply(301, {"Location": receiver.url("/new")})
    result = post(options(receiver.url("/old")))
    assert result.outcome is Outcome.FAILED
    assert "301" in result.detail
    assert receiver.url("/new") in result.detail
    assert [seen.path for seen in receiver.seen] == ["/old"]


def test_a_receiver_that_hangs_times_out(receiver: Receiver) -> None:
    receiver.replies["/hook"] = Reply(hang=True)
    result = post(options(receiver.url("/hook")), timeout_s=0.5)
    assert result.outcome is Outcome.RETRY
    assert "timed out after 0.5s" in result.detail


def test_a_receiver_that_is_down_is_retried(receiver: Receiver) -> None:
    url = receiver.url("/hook")
    receiver.stop()
    result = post(options(url))
    assert result.outcome is Outcome.RETRY
    assert "cannot connect" in result.detail


# ---------------------------------------------------------------------------------------------
# SSRF guard and secrets in what we show.


def test_guard_refuses_loopback_and_the_receiver_sees_nothing(receiver: Receiver) -> None:
    url = receiver.url("/ok")
    for target in (url, url.replace("127.0.0.1", "localhost")):
        result = post(options(target), allow_private_addresses=False)
        assert result.outcome is Outcome.FAILED, result.detail
        assert "refused" in result.detail
        assert "non-public" in result.detail
    assert receiver.seen == []


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example/x", "file:///etc/passwd", "javascript:alert(1)", "hooks/x"]
)
def test_non_http_schemes_are_refused_even_when_private_addresses_are_allowed(url: str) -> None:
    result = post(options(url), allow_private_addresses=True)
    assert result.outcome is Outcome.FAILED
    assert "scheme" in result.detail


@pytest.mark.parametrize("url", REFUSED_BEFORE_DNS)
def test_the_guard_refuses_before_connecting_in_its_own_words(url: str) -> None:
    result = post(options(url), allow_private_addresses=False)
    assert result.outcome is Outcome.FAILED
    assert result.detail == f"{display_url(url)}: {refusal_reason(url)}"


PUBLIC_HOOK = "http://93.184.216.34/hooks/desk"  # never reached: the loopback proxy answers


def test_a_webhook_goes_through_its_channels_proxy_signed(proxy: LoopbackProxy) -> None:
    proxy.answers[PUBLIC_HOOK] = b""
    opts = options(PUBLIC_HOOK, proxy=proxy.url("desk:s3cret@"))
    now = datetime.now(UTC)  # the reference library checks the timestamp against its clock
    result = post(opts, allow_private_addresses=False, now=now)
    assert result.outcome is Outcome.SENT, result.detail
    [request] = proxy.seen
    assert (request.method, request.target) == ("POST", PUBLIC_HOOK)
    assert request.authorization == "Basic " + base64.b64encode(b"desk:s3cret").decode()
    assert Webhook(SECRET).verify(request.body, request.headers) == json.loads(request.body)


def test_through_a_proxy_the_guard_refuses_private_hooks_and_hides_its_password(
    proxy: LoopbackProxy,
) -> None:
    opts = options("http://localhost/hook", proxy=proxy.url("desk:s3cret@"))
    refused = post(opts, allow_private_addresses=False)
    assert refused.outcome is Outcome.FAILED
    assert "localhost is a localhost name" in refused.detail
    assert proxy.seen == []
    down = proxy.url("desk:s3cret@")
    proxy.stop()
    failed = post(options(PUBLIC_HOOK, proxy=down), allow_private_addresses=False)
    assert failed.outcome is Outcome.RETRY
    assert "s3cret" not in failed.detail


SLACK_URL = "https://hooks.slack.com/services/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"
DISCORD_URL = (
    "https://discord.com/api/webhooks/123456789012345678/"
    "aBcD-eFgH_iJkL0mNoPqRsTuVwXyZ0123456789abcdefghIJKLMNOPqrstuvwx-yz_ABCDEFGH"
)


def test_urls_are_shown_without_their_tokens() -> None:
    assert display_url(SLACK_URL) == "https://hooks.slack.com/services/T0AB1CD2E/B0FG3HI4J/…"
    assert display_url(DISCORD_URL) == "https://discord.com/api/webhooks/123456789012345678/…"
    assert display_url("https://u:p@hooks.example:8443/in?token=abc#x") == (
        "https://hooks.example:8443/in?…"
    )
    assert display_url("https://hooks.example/syndicator/alerts") == (
        "https://hooks.example/syndicator/alerts"
    )


def test_a_token_in_the_url_never_reaches_the_detail(receiver: Receiver) -> None:
    token = "Xy7Zq2Lm9Np4Rs8Tv1Wb6Kd3"
    path = f"/services/T0/B0/{token}"
    receiver.replies[path] = Reply(403, body=f"invalid token {token} for {path}".encode())
    result = post(options(receiver.url(path) + "?key=k3y"))
    assert result.outcome is Outcome.FAILED
    assert token not in result.detail
    assert "k3y" not in result.detail
    assert "403" in result.detail


def test_a_peer_echoing_the_secret_does_not_put_it_in_the_detail(receiver: Receiver) -> None:
    receiver.replies["/hook"] = Reply(400, body=f"bad signature, expected {SECRET}".encode())
    result = post(options(receiver.url("/hook")))
    assert result.outcome is Outcome.FAILED
    assert SECRET not in result.detail
    assert SECRET.removeprefix("whsec_") not in result.detail
