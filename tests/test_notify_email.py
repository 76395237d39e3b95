"""notify.email: the message we build (headers, parts, injection) and real SMTP conversations
with aiosmtpd on loopback: plain, STARTTLS, implicit TLS, AUTH, refusals and a dead server."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from syndicator.notify import AlertItem, AlertMessage, Outcome, SendResult, clean_line
from syndicator.notify.email import build_email, send_email

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ARCHIVED = Path(__file__).resolve().parents[2] / "shared/corpus/feeds-real/archived-entries"
PASSWORD = "s3cr3t-Pa55word"
EXPECTED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-id",
    "list-unsubscribe",
    "auto-submitted",
    "mime-version",
    "content-type",
}


def item(title: str = "Protests spread to Almaty", **changes: Any) -> AlertItem:
    values: dict[str, Any] = {
        "cluster_id": 7,
        "title": title,
        "link": "https://wire.example/almaty?id=1&lang=en",
        "summary": "Thousands gathered in the main square. " * 30,
        "published_at": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        "regions": (("KZ", "Kazakhstan"), ("Central Asia", "Central Asia")),
        "topics": (("conflict", "Conflict"), ("politics", "Politics")),
        "sources": (
            ("Reuters", "https://reuters.example/1"),
            ("AP", "https://ap.example/2"),
            ("BBC", "https://bbc.example/3"),
        ),
    }
    return AlertItem(**(values | changes))


def message(*items: AlertItem, **changes: Any) -> AlertMessage:
    values: dict[str, Any] = {
        "delivery_id": "d-42-desk",
        "alert": "kz-unrest",
        "query": 'kazakhstan AND (protest OR "state of emergency")',
        "items": items or (item(),),
        "held_back": 0,
        "created_at": NOW,
        "feed_url": "http://feeds.test/feeds/alerts/kz-unrest.atom",
        "digest": False,
    }
    return AlertMessage(**(values | changes))


def options(port: int = 25, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "to": ("desk@example.org", "Ann Analyst <ann@example.org>"),
        "from": "Syndicator Alerts <alerts@news.example.org>",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "tls": "none",
        "username": "",
        "password": "",
    }
    return values | changes


def parse(email: EmailMessage) -> EmailMessage:
    """What a receiving mail system sees: the raw bytes parsed back."""
    parsed = message_from_bytes(email.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(email: EmailMessage, subtype: str) -> str:
    part = email.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


# ---------------------------------------------------------------------------------------------
# The message.


def test_headers_are_exactly_ours_and_stable_across_retries() -> None:
    built = parse(build_email(options(), message()))
    assert {key.lower() for key in built} == EXPECTED_HEADERS
    assert built["Subject"] == ("[syndicator] kz-unrest: 1 new story - Protests spread to Almaty")
    assert built["Message-ID"] == "<syndicator.d-42-desk@news.example.org>"
    assert built["List-Id"] == "syndicator alert kz-unrest <kz-unrest.news.example.org>"
    assert built["List-Unsubscribe"].strip() == (  # folded after the colon: legal
        "<mailto:alerts@news.example.org?subject=unsubscribe%20kz-unrest>"
    )
    assert built["Date"].datetime == NOW
    assert [address.addr_spec for address in built["To"].addresses] == [
        "desk@example.org",
        "ann@example.org",
    ]
    again = parse(build_email(options(), message()))
    assert again["Message-ID"] == built["Message-ID"]


def test_subject_counts_and_digest_wording() -> None:
    three = message(item("One"), item("Two"), item("Three"))
    assert parse(build_email(options(), three))["Subject"].startswith(
        "[syndicator] kz-unrest: 3 new stories - One"
    )
    digest = message(item("One"), item("Two"), digest=True)
    assert parse(build_email(options(), digest))["Subject"] == (
        "[syndicator] kz-unrest: digest: 2 stories"
    )


def test_multipart_alternative_with_every_item_held_back_feed_and_how_to_stop() -> None:
    second = item("Government declares state of emergency", sources=(("Tengri", "https://t.kz/"),))
    built = parse(build_email(options(), message(item(), second, held_back=4)))
    assert built.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in built.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    text, page = text_of(built, "plain"), text_of(built, "html")
    for body in (text, page):
        assert "Protests spread to Almaty" in body
        assert "Government declares state of emergency" in body
        assert "also reported by" in body
        assert "Kazakhstan (KZ)" in body
        assert "Conflict" in body
        assert "And 4 more matches in the next message." in body
        assert "http://feeds.test/feeds/alerts/kz-unrest.atom" in body
        assert "remove the alert" in body
    assert "https://wire.example/almaty?id=1&lang=en" in text
    assert 'href="https://wire.example/almaty?id=1&amp;lang=en"' in page
    assert "First reported by Reuters; also reported by AP, BBC" in text
    assert "Thousands gathered" in text
    assert len(text) < 3000, "summaries are trimmed for display"


def test_times_are_shown_in_the_alerts_time_zone() -> None:
    """An Almaty desk with `timezone = "Asia/Almaty"` read every story's time in UTC, five
    hours off. (The webhook's JSON keeps UTC: it is for programs.)"""
    built = parse(build_email(options(), message(item(), timezone="Asia/Almaty")))
    for body in (text_of(built, "plain"), text_of(built, "html")):
        assert "Published 2026-11-23 15:00 +05" in body
        assert "10:00" not in body
    built = parse(build_email(options(), message(item(), timezone="Europe/Berlin")))
    assert "Published 2026-11-23 11:00 CET" in text_of(built, "plain")
    assert "Published 2026-11-23 10:00 UTC" in text_of(
        parse(build_email(options(), message(item()))), "plain"
    )


def test_html_escapes_everything_and_links_only_web_urls() -> None:
    hostile = item(
        '<script>alert("x")</script> & more',
        link="javascript:alert(1)",
        sources=(("<b>Evil</b>", "javascript:alert(2)"), ("Fine", "https://fine.example/")),
        summary="<img src=x onerror=alert(3)>",
    )
    page = text_of(parse(build_email(options(), message(hostile))), "html")
    assert "<script>" not in page
    assert "<img" not in page
    assert "<b>Evil" not in page
    assert "&lt;script&gt;" in page
    assert "javascript:" not in page
    assert 'href="https://fine.example/"' in page


HOSTILE_TITLES = [
    "Breaking\r\nBcc: victim@example.net",
    "Breaking\nBcc: victim@example.net",
    "Breaking\rBcc: victim@example.net",
    "Breaking\r\n\r\nInjected body",
    "Nul\x00byte\x00Bcc: victim@example.net",
    "Line\u2028separator\u2029Bcc: victim@example.net",
    "Next\x85line X-Injected: yes",
    "Bcc: victim@example.net",
    "Алматы: протесты продолжаются\r\nBcc: victim@example.net",
    "抗议活动蔓延至阿拉木图 " * 20,
    "=?utf-8?q?Bcc=3A_victim=40example=2Enet?=",
    "\ud800 lone surrogate and \u202eevil override",
    "x" * 2000,
    "",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_never_inject_a_header_nor_fail(title: str) -> None:
    hostile = item(title, sources=((title, "https://s.example/"), ("AP", "https://ap.example/")))
    msg = message(hostile, alert="kz-unrest", delivery_id=f"id\r\nBcc: {title}")
    built = build_email(options(), msg)
    parsed = parse(built)
    assert {key.lower() for key in parsed} == EXPECTED_HEADERS
    assert parsed["Bcc"] is None
    assert parsed["X-Injected"] is None
    assert "\n" not in str(parsed["Subject"])
    assert "\r" not in str(parsed["Subject"])
    assert all(len(line) <= 998 for line in built.as_bytes().split(b"\r\n"))
    assert not parsed.defects
    assert text_of(parsed, "plain")  # the body parses back too
    assert parsed["Message-ID"] == parse(build_email(options(), msg))["Message-ID"]


def test_non_ascii_subject_is_encoded_and_reads_back() -> None:
    title = "Алматы: протесты продолжаются"
    built = build_email(options(), message(item(title)))
    raw = built.as_bytes()
    assert raw.isascii(), "headers and quoted-printable bodies are 7-bit"
    assert parse(built)["Subject"] == f"[syndicator] kz-unrest: 1 new story - {title}"


def corpus_titles() -> list[str]:
    """The headlines of the 41 outlets' archived entries (Polish, French, English...): every
    one with a non-ASCII character, and every fourth of the others (the test's time)."""
    files = sorted(ARCHIVED.glob("*/*.json"))
    assert files, f"corpus missing: {ARCHIVED}"
    titles = [entry["title"] for path in files for entry in json.loads(path.read_text())["entries"]]
    return [title for n, title in enumerate(titles) if not title.isascii() or n % 4 == 0]


def test_corpus_headlines_read_back_word_for_word_in_the_subject() -> None:
    """What a mail client shows: the raw bytes parsed strictly, every header line within
    RFC 5322's recommended 78 octets, the words of the headline with their spaces. Python's
    own folder glued "może liczyć" into "możeliczyć" (RFC 2047 drops the space between two
    encoded words): 297 of the corpus's 3,317 subjects read back wrong (95 with words glued,
    169 with a space doubled, 33 led by a space)."""
    parser = BytesParser(policy=policy.strict)
    titles = [
        *corpus_titles(),
        "Землетрус у Туреччині: кількість загиблих перевищила 5000 — що відомо",
        "土耳其和叙利亚发生7.8级地震 死亡人数已超过5000人 Erdoğan 宣布紧急状态",
        "زلزال تركيا وسوريا: ارتفاع عدد القتلى إلى أكثر من 5000 شخص",
        "🚨 Breaking: Trzęsienie ziemi 🌍 w Turcji 🇹🇷 — 5 tys. ofiar",
    ]
    wrong = []
    for number, title in enumerate(titles):
        built = build_email(options(), message(item(title), delivery_id=f"d-{number}"))
        raw = built.as_bytes()
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert all(len(line) <= 78 for line in head.split(b"\r\n")), title
        subject = str(parser.parsebytes(raw)["Subject"])
        expected = f"[syndicator] kz-unrest: 1 new story - {clean_line(title, 120)}"
        if subject != expected:
            wrong.append((expected, subject))
    assert len(titles) > 1000
    assert not wrong, f"{len(wrong)} subjects read back wrong, e.g. {wrong[:3]}"


# ---------------------------------------------------------------------------------------------
# A real SMTP server on loopback.


def free_port() -> int:
    """aiosmtpd's Controller cannot take port 0: ask the kernel for a free port first."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """The handler: records what was delivered, or answers with a canned refusal."""

    received: list[Envelope] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append(envelope)
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", str(key),
         "-out", str(cert), "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return Certificate(cert, key)


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int


def serve(mailbox: Mailbox, **kwargs: Any) -> Iterator[SmtpServer]:
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, server_hostname="smtp.test", **kwargs
    )
    controller.start()
    try:
        yield SmtpServer(mailbox, port)
    finally:
        controller.stop()


@pytest.fixture
def plain_server() -> Iterator[SmtpServer]:
    yield from serve(Mailbox())


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"desk", PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: the server replies 535


@pytest.fixture
def starttls_server(certificate: Certificate) -> Iterator[SmtpServer]:
    yield from serve(
        Mailbox(),
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=True,
    )


def send(opts: dict[str, Any], msg: AlertMessage | None = None, **kwargs: Any) -> SendResult:
    return asyncio.run(send_email(opts, msg or message(), **kwargs))


def received_email(server: SmtpServer) -> EmailMessage:
    (envelope,) = server.mailbox.received
    content = envelope.original_content or envelope.content
    assert isinstance(content, bytes)
    parsed = message_from_bytes(content, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_plain_delivery_reaches_every_recipient(plain_server: SmtpServer) -> None:
    result = send(options(plain_server.port))
    assert result.outcome is Outcome.SENT, result.detail
    assert f"127.0.0.1:{plain_server.port}" in result.detail
    (envelope,) = plain_server.mailbox.received
    assert envelope.mail_from == "alerts@news.example.org"
    assert envelope.rcpt_tos == ["desk@example.org", "ann@example.org"]
    delivered = received_email(plain_server)
    assert delivered["Message-ID"] == "<syndicator.d-42-desk@news.example.org>"
    assert "Protests spread to Almaty" in text_of(delivered, "plain")


def test_hostile_title_delivered_with_exactly_our_headers(plain_server: SmtpServer) -> None:
    hostile = message(item("Alert\r\nBcc: victim@example.net\r\n\r\nfake body"))
    assert send(options(plain_server.port), hostile).outcome is Outcome.SENT
    (envelope,) = plain_server.mailbox.received
    assert envelope.rcpt_tos == ["desk@example.org", "ann@example.org"]
    delivered = received_email(plain_server)
    assert {key.lower() for key in delivered} == EXPECTED_HEADERS


def test_a_polish_subject_arrives_word_for_word(plain_server: SmtpServer) -> None:
    title = "Morawiecki: Turcja może liczyć na Polskę"  # forsal.pl, 6 February 2023
    assert send(options(plain_server.port), message(item(title))).outcome is Outcome.SENT
    (envelope,) = plain_server.mailbox.received
    delivered = BytesParser(policy=policy.strict).parsebytes(envelope.content)
    assert delivered["Subject"] == f"[syndicator] kz-unrest: 1 new story - {title}"


def test_starttls_and_auth_deliver(starttls_server: SmtpServer, certificate: Certificate) -> None:
    opts = options(starttls_server.port, tls="starttls", username="desk", password=PASSWORD)
    result = send(opts, ssl_context=certificate.client_context())
    assert result.outcome is Outcome.SENT, result.detail
    assert len(starttls_server.mailbox.received) == 1


def test_wrong_password_is_failed_and_never_shown(
    starttls_server: SmtpServer, certificate: Certificate
) -> None:
    opts = options(starttls_server.port, tls="starttls", username="desk", password="wrong-Pa55")
    result = send(opts, ssl_context=certificate.client_context())
    assert result.outcome is Outcome.FAILED
    assert "535" in result.detail
    assert f"127.0.0.1:{starttls_server.port}" in result.detail
    assert "wrong-Pa55" not in result.detail
    assert "wrong-Pa55" not in repr(result)
    assert starttls_server.mailbox.received == []


def test_auth_without_tls_is_failed_not_sent_in_clear(starttls_server: SmtpServer) -> None:
    opts = options(starttls_server.port, tls="none", username="desk", password=PASSWORD)
    result = send(opts)
    assert result.outcome is Outcome.FAILED
    assert "AUTH" in result.detail
    assert PASSWORD not in result.detail


def test_starttls_with_an_untrusted_certificate_is_failed(starttls_server: SmtpServer) -> None:
    opts = options(starttls_server.port, tls="starttls", username="desk", password=PASSWORD)
    result = send(opts)  # the default context: the system trust store
    assert result.outcome is Outcome.FAILED
    assert "certificate" in result.detail
    assert starttls_server.mailbox.received == []


def test_starttls_is_required_when_asked_for(plain_server: SmtpServer) -> None:
    result = send(options(plain_server.port, tls="starttls"))
    assert result.outcome is Outcome.FAILED
    assert "STARTTLS" in result.detail
    assert plain_server.mailbox.received == []


def test_implicit_tls_delivers(certificate: Certificate) -> None:
    for server in serve(Mailbox(), ssl_context=certificate.server_context()):
        result = send(options(server.port, tls="tls"), ssl_context=certificate.client_context())
        assert result.outcome is Outcome.SENT, result.detail
        assert len(server.mailbox.received) == 1


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "outcome", "code"),
    [
        ("550 5.1.1 No such user here", None, Outcome.FAILED, "550"),
        ("450 4.2.1 Mailbox busy, try later", None, Outcome.RETRY, "450"),
        (None, "451 4.3.0 Try again later", Outcome.RETRY, "451"),
        (None, "554 5.7.1 Message rejected as spam", Outcome.FAILED, "554"),
    ],
)
def test_refusals_are_classified_by_reply_code(
    rcpt_reply: str | None, data_reply: str | None, outcome: Outcome, code: str
) -> None:
    for server in serve(Mailbox(rcpt_reply=rcpt_reply, data_reply=data_reply)):
        result = send(options(server.port))
        assert result.outcome is outcome, result.detail
        assert code in result.detail
        assert f"127.0.0.1:{server.port}" in result.detail


def test_a_server_that_is_down_is_retried() -> None:
    port = free_port()  # nothing listens there
    result = send(options(port, username="desk", password=PASSWORD))
    assert result.outcome is Outcome.RETRY
    assert f"127.0.0.1:{port}" in result.detail
    assert "refused" in result.detail
    assert PASSWORD not in result.detail


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts connections, never sends a greeting
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = send(options(port), timeout_s=0.5)
    assert result.outcome is Outcome.RETRY
    assert "timed out" in result.detail


def test_a_disconnecting_server_is_retried() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        async def run() -> SendResult:
            sending = asyncio.create_task(send_email(options(port), message(), timeout_s=5))
            connection, _ = await asyncio.to_thread(listener.accept)
            connection.close()  # hang up before the greeting
            return await sending

        result = asyncio.run(run())
    assert result.outcome is Outcome.RETRY, result.detail


def test_a_server_echoing_the_password_does_not_put_it_in_the_detail(
    certificate: Certificate,
) -> None:
    for server in serve(
        Mailbox(data_reply=f"554 5.7.1 rejected, your password is {PASSWORD}"),
        tls_context=certificate.server_context(),
        authenticator=authenticate,
    ):
        opts = options(server.port, tls="starttls", username="desk", password=PASSWORD)
        result = send(opts, ssl_context=certificate.client_context())
        assert result.outcome is Outcome.FAILED
        assert "554" in result.detail
        assert "your password is ***" in result.detail
        assert PASSWORD not in result.detail
        assert PASSWORD not in repr(result)


def test_missing_channel_options_are_a_failed_outcome_not_a_crash() -> None:
    result = send({"smtp_host": "127.0.0.1", "smtp_port": 25})
    assert result.outcome is Outcome.FAILED
    assert "'from'" in result.detail
