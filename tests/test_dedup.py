"""Entry identity and upsert decisions (pure)."""

from __future__ import annotations

from syndicator.dedup import UpsertAction, cluster_key, decide_upsert, entry_key
from syndicator.models import ParsedEntry


def _entry(guid: str | None, link: str | None, title: str = "T") -> ParsedEntry:
    return ParsedEntry(guid, link, title, "<p>s</p>", "", "", None, None)


def test_guid_wins_over_link() -> None:
    assert entry_key(_entry("abc", "https://x.example/1")) == "guid:abc"


def test_link_is_canonicalised_when_there_is_no_guid() -> None:
    plain = entry_key(_entry(None, "https://X.example/1?utm_source=rss#top"))
    assert plain == entry_key(_entry(None, "https://x.example/1"))
    assert plain.startswith("link:")


def test_neither_guid_nor_link_falls_back_to_content() -> None:
    assert entry_key(_entry(None, None, "A")).startswith("hash:")
    assert entry_key(_entry(None, None, "A")) != entry_key(_entry(None, None, "B"))


def test_upsert_decisions() -> None:
    assert decide_upsert(None, "h1") is UpsertAction.INSERT
    assert decide_upsert("h1", "h1") is UpsertAction.UNCHANGED
    assert decide_upsert("h1", "h2") is UpsertAction.UPDATE


def test_cluster_key_only_for_web_urls() -> None:
    assert cluster_key("https://x.example/1") == "https://x.example/1"
    assert cluster_key("urn:uuid:1234") is None
    assert cluster_key("") is None
