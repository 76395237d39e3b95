"""Entry identity, upsert decisions and the clustering decisions (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from syndicator import fingerprint as fp
from syndicator.dedup import (
    Candidate,
    Headline,
    TitleCandidate,
    UpsertAction,
    another_of_a_series,
    choose_copy,
    cluster_key,
    decide_upsert,
    document_boilerplate,
    entry_key,
    global_guid,
    most_shared,
    related_clusters,
    story_sketch,
    story_title_keys,
    title_index_keys,
)
from syndicator.models import ParsedEntry, Story

NOW = datetime(2026, 11, 27, tzinfo=UTC)


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


# ---------------------------------------------------------------------------------------------
# Cross-source decisions: global guids, boilerplate, candidates, copies, related clusters.


def test_only_globally_unique_guids_join_across_sources() -> None:
    assert (
        global_guid("https://WIRE.example/story?utm_source=x#top") == "https://wire.example/story"
    )
    assert global_guid("urn:newsml:apnews.com:20261127:abc") == "urn:newsml:apnews.com:20261127:abc"
    assert global_guid("tag:example.org,2026:story-7") == "tag:example.org,2026:story-7"
    for local in ("12345", "story-7", "", None, "urn:x", "ftp://example.org/1"):
        assert global_guid(local) is None


def _story(title: str, text: str) -> Story:
    return Story(1, "guid:x", "x", "", "", title, "", "", text, "", NOW, "h")


def test_document_boilerplate_is_the_long_lines_of_three_entries() -> None:
    furniture = "The post appeared first on The Daily Globe, your source for regional news."
    texts = [
        f"Story number {n} is about something else entirely today.\n\n{furniture}" for n in range(3)
    ]
    learned = document_boilerplate(texts)
    assert learned == frozenset(fp.line_keys(furniture))
    assert document_boilerplate(texts[:2]) == frozenset()  # two entries prove nothing


def test_a_short_body_is_fingerprinted_with_its_headline() -> None:
    a = story_sketch(_story("Tool one for maps", "Comments"))
    b = story_sketch(_story("A compiler written in a weekend", "Comments"))
    assert fp.similarity(a, b) == 0.0
    long_text = " ".join(f"word{n}" for n in range(40))
    assert story_sketch(_story("Any title", long_text)) == fp.fingerprint(long_text)


def test_candidates_must_share_two_keys_unless_the_text_is_tiny() -> None:
    shared = {1: 1, 2: 2, 3: 5, 4: 2}
    assert most_shared(shared, limit=10, key_count=8) == [2, 3, 4]
    assert most_shared(shared, limit=2, key_count=8) == [3, 4]  # most keys, then newest
    assert sorted(most_shared(shared, limit=10, key_count=2)) == [1, 2, 3, 4]


def test_choose_copy_takes_the_best_score_above_the_threshold() -> None:
    text = " ".join(f"w{n}" for n in range(100))
    original = fp.fingerprint(text)
    cut = fp.fingerprint(" ".join(f"w{n}" for n in range(50)))
    other = fp.fingerprint(" ".join(f"x{n}" for n in range(100)))
    candidates = [Candidate(7, 70, other), Candidate(8, 80, original), Candidate(9, 90, cut)]
    match = choose_copy(original, candidates, 0.45)
    assert match is not None
    assert (match.story_id, match.cluster_id, match.score) == (8, 80, 1.0)
    assert choose_copy(original, [Candidate(7, 70, other)], 0.45) is None


def _short(title: str, line: str) -> tuple[fp.Fingerprint, Headline, tuple[int, ...]]:
    """A short item's fingerprint (headline and line, as `story_sketch` reads it), its
    headline, and its headline's keys as the store keeps them."""
    headline = Headline.of(title)
    return fp.fingerprint(f"{title} {line}"), headline, tuple(headline.words)


def test_two_items_of_a_series_are_not_copies_but_a_copy_is() -> None:
    """Al Jazeera's daily lists: the same headline and line but the day's number."""
    line = "As the Russia-Ukraine war enters its {}th day, we take a look at the main developments."
    day348, _, keys348 = _short("Russia-Ukraine war: List of key events, day 348", line.format(348))
    day349, headline349, _ = _short(
        "Russia-Ukraine war: List of key events, day 349", line.format(349)
    )
    assert fp.similarity(day348, day349) >= 0.45  # the text alone takes them for copies
    earlier = Candidate(1, 10, day348, keys348)
    assert another_of_a_series(day349, earlier, headline349)
    assert (
        choose_copy(day349, [earlier], 0.45, "Russia-Ukraine war: List of key events, day 349")
        is None
    )
    # A copy of day 348 (its own headline and numbers) still joins it ...
    copy_title = "Russia-Ukraine war: List of key events, day 348"
    copy, _, _ = _short(copy_title, line.format(348))
    assert choose_copy(copy, [earlier], 0.45, copy_title) is not None
    # ... and so does one that leaves the headline's number out, or keeps a shared one.
    quake, _, quake_keys = _short(
        "Powerful 7.8 quake knocks down buildings in Turkey", "At least 1,300 dead."
    )
    short, short_headline, _ = _short(
        "Powerful quake knocks down buildings in Turkey", "At least 1,300 dead."
    )
    assert not another_of_a_series(short, Candidate(2, 20, quake, quake_keys), short_headline)
    numbered, numbered_headline, _ = _short(
        "Powerful 7.8 quake knocks down buildings in Turkey", "At least 1,300 dead."
    )
    assert not another_of_a_series(numbered, Candidate(3, 30, quake, quake_keys), numbered_headline)


def test_a_series_rule_never_judges_items_with_a_body_of_their_own() -> None:
    body = " ".join(f"w{n}" for n in range(60))
    day1, day2 = fp.fingerprint(f"Diary day 1 {body}"), fp.fingerprint(f"Diary day 2 {body}")
    assert not another_of_a_series(
        day2,
        Candidate(1, 10, day1, tuple(Headline.of("Diary day 1").words)),
        Headline.of("Diary day 2"),
    )


def test_headline_pairs_are_order_free_and_related_clusters_score_jaccard() -> None:
    keys = story_title_keys(_story("Magnitude 7.1 earthquake strikes off northern Japan", ""))
    other = story_title_keys(_story("Northern Japan earthquake: magnitude 7.1 strikes", ""))
    assert sorted(keys) == sorted(other)
    assert sorted(title_index_keys(keys)) == sorted(title_index_keys(other))
    assert len(title_index_keys(keys)) == 6  # the pairs of the four longest words
    assert all(key >= 1 << 32 for key in title_index_keys(keys))
    near = TitleCandidate(5, 50, tuple(keys[:3]))
    far = TitleCandidate(6, 60, (1, 2, 3))
    own = TitleCandidate(7, 99, tuple(keys))
    linked = related_clusters(keys, [near, far, own], own_cluster=99, threshold=0.3)
    assert linked == {50: 3 / len(keys)}
