"""The one SSRF guard shared by fetch and notify.webhook: URLs refused before any DNS lookup,
with their exact wording, and resolved addresses filtered at connect time."""

from __future__ import annotations

import pytest

from syndicator.netguard import (
    RefusedAddress,
    is_public_address,
    non_public_reason,
    proxied_name_reason,
    public_results,
    refusal_reason,
)

UNSAFE = [
    "http://127.0.0.1/feed",
    "http://localhost.:80/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0x7f.0.0.1/",
    "ftp://example.com/feed",
    "file:///etc/passwd",
    "gopher://example.com/",
    "data:text/xml,<rss/>",
    "http://user:pass@example.com/feed",
    "http://example.com@127.0.0.1/",
]
REFUSED_BEFORE_DNS = [url for url in UNSAFE if not url.startswith("http://localhost")]


@pytest.mark.parametrize("url", REFUSED_BEFORE_DNS)
def test_guard_refuses_before_connecting(url: str) -> None:
    assert refusal_reason(url) is not None


def test_a_name_is_left_to_the_resolver() -> None:
    assert refusal_reason("http://localhost.:80/") is None  # judged on what it resolves to


def test_guard_allows_public_addresses_and_names() -> None:
    assert refusal_reason("https://feeds.bbci.co.uk/news/world/rss.xml") is None
    assert refusal_reason("http://93.184.216.34/feed") is None
    assert refusal_reason("https://[2606:4700::1111]/") is None
    assert refusal_reason("http://127.0.0.1/", allow_private_addresses=True) is None
    assert refusal_reason("file:///etc/passwd", allow_private_addresses=True) is not None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1", "malformed URL: Invalid IPv6 URL"),
        ("ftp://example.com/feed", "refused scheme 'ftp': only http and https"),
        ("hooks/x", "refused scheme '(none)': only http and https"),
        ("http://user:pass@example.com/feed", "refused: credentials in the URL"),
        ("http://example.com@127.0.0.1/", "refused: credentials in the URL"),
        ("http:///feed", "refused: no host"),
        ("http://169.254.169.254/latest/", "refused non-public address 169.254.169.254"),
        ("http://[::ffff:127.0.0.1]/", "refused non-public address ::ffff:127.0.0.1"),
        ("http://127.0.0.1./", "refused non-public address 127.0.0.1"),
        (
            "http://0x7f.0.0.1/",
            "refused numeric host spelling '0x7f.0.0.1' (not a canonical IP address)",
        ),
        (
            "http://2130706433/",
            "refused numeric host spelling '2130706433' (not a canonical IP address)",
        ),
    ],
)
def test_refusals_say_why_in_the_same_words_for_every_adapter(url: str, reason: str) -> None:
    assert refusal_reason(url) == reason


@pytest.mark.parametrize("url", ["ftp://h.example/", "http://u:p@h.example/", "http:///x"])
def test_scheme_credentials_and_host_are_required_even_when_private_is_allowed(url: str) -> None:
    assert refusal_reason(url, allow_private_addresses=True) == refusal_reason(url)
    assert refusal_reason(url) is not None


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped IPv6 judged as IPv4
        ("fe80::1%eth0", False),  # a scope id is not a way around the check
        ("100.64.0.1", False),  # CGNAT
        ("192.0.2.1", False),  # documentation
        ("224.0.0.1", False),
        ("ff02::1", False),
        ("0.0.0.0", False),
        ("not an address", False),
        ("", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_resolved_addresses_keep_only_the_public_ones_in_order() -> None:
    results = [{"host": "8.8.4.4", "port": 80}, {"host": "10.0.0.1"}, {"host": "8.8.8.8"}]
    assert public_results("mixed.example", results) == [results[0], results[2]]


def test_a_name_resolving_only_to_non_public_addresses_is_refused() -> None:
    results = [{"host": "::1"}, {"host": "127.0.0.1"}, {"host": "127.0.0.1"}]
    with pytest.raises(RefusedAddress) as caught:
        public_results("localhost", results)
    assert str(caught.value) == "localhost resolves to a non-public address (127.0.0.1, ::1)"
    assert isinstance(caught.value, OSError)  # what aiohttp's connect expects from a resolver


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("localhost", True), ("LOCALHOST.", True), ("api.localhost", True),
        ("intranet", True), ("metadata", True), ("news.example.org", False),
        ("93.184.216.34", False), ("127.0.0.1", False), ("::1", False),
    ],
)  # fmt: skip
def test_through_a_proxy_local_and_single_label_names_are_refused_before_lookup(
    host: str, refused: bool
) -> None:
    # IP literals are `refusal_reason`'s and `non_public_reason`'s to judge.
    assert (proxied_name_reason(host) is not None) is refused


def test_through_a_proxy_one_non_public_address_refuses_the_name() -> None:
    # The proxy may connect to any address the name has, so one private address is enough.
    reason = non_public_reason("feeds.example", ["93.184.216.34", "10.1.2.3", "::1"])
    assert reason == "feeds.example resolves to a non-public address (10.1.2.3, ::1)"
    assert non_public_reason("feeds.example", ["93.184.216.34", "2606:2800:220:1::"]) is None
