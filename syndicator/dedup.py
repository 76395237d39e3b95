"""Story identity and clustering decisions: which stored story an entry is, and which cluster a
new story joins.

Pure decisions over plain values, in three steps of strictness:

1. Identity within a source (`entry_key`, `decide_upsert`): the guid, else the canonical link;
   a changed entry is updated in place, a re-sent one is left alone.
2. Exact identity across sources (`cluster_key`, `global_guid`): the same canonical URL, or the
   same globally unique guid (a permalink, a `urn:` or `tag:` URI), is the same story.
3. Near-duplicates across sources (`fingerprint_stories`, `choose_copy`, `related_clusters`):
   a story whose body fingerprint contains enough of an earlier story's, within the time
   window, joins that story's cluster (the best-scoring one; clusters never merge, so a
   cluster id never changes once given). Clusters whose stories' headlines share enough
   content words are linked as *related* (one event told by several outlets): a looser,
   separate relation, because merging those would put different articles in one cluster.

This module does no I/O and reads no clock; `storage` looks up the candidates and carries the
decisions out. The fingerprints themselves are `fingerprint`'s.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum

from syndicator import fingerprint as fp
from syndicator.models import ParsedEntry, Story
from syndicator.normalize import canonical_url, clean_line, content_hash


class UpsertAction(StrEnum):
    """What storing an entry must do."""

    INSERT = "insert"
    UPDATE = "update"
    UNCHANGED = "unchanged"


class JoinReason(StrEnum):
    """Why a story is in its cluster (stored with the story, shown by `syndicator explain`)."""

    FIRST = "first"  # it started the cluster (the copy published first represents it)
    CANONICAL_URL = "canonical-url"
    GUID = "guid"
    SIMILAR_TEXT = "similar-text"


@dataclass(frozen=True, slots=True)
class ClusterRules:
    """The near-duplicate settings (`[dedup]` in the config)."""

    copy_threshold: float = fp.DEFAULT_COPY_THRESHOLD
    related_threshold: float = fp.DEFAULT_RELATED_THRESHOLD
    window: timedelta = fp.DEFAULT_WINDOW
    candidates_per_key: int = 8
    """Stories read per candidate key, newest first. A key shared by more stories in the
    window is a phrase many texts share (a site's furniture, a common headline word); the
    newest holders are the likeliest matches, and the cap bounds the cost of every story."""
    max_candidates: int = 12
    """Earlier stories scored per new story: those sharing the most candidate keys. A copy
    shares most of its keys with its original; a neighbour through one common phrase shares
    one. Scoring costs about 30 us a candidate, and text built from a small vocabulary (or a
    site's furniture) can otherwise bring a hundred of them."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """An earlier story that shares a fingerprint key with the new one."""

    story_id: int
    cluster_id: int
    sketch: fp.Fingerprint
    title_keys: tuple[int, ...] = ()  # its headline's content words (`title_key`)


@dataclass(frozen=True, slots=True)
class Headline:
    """A new story's headline as copy scoring reads it: the keys of its content words and,
    among them, those of its numbers ("348", "348th", "2023")."""

    words: frozenset[int] = frozenset()
    numbers: frozenset[int] = frozenset()

    @classmethod
    def of(cls, title: str) -> Headline:
        tokens = fp.title_tokens(title)
        numbers = frozenset(fp.title_key(t) for t in tokens if any(c.isdigit() for c in t))
        return cls(frozenset(map(fp.title_key, tokens)), numbers)


@dataclass(frozen=True, slots=True)
class CopyMatch:
    """The earlier story a new one copies, and how much of it (`fingerprint.similarity`)."""

    story_id: int
    cluster_id: int
    score: float


# -- identity within a source ------------------------------------------------------------------


def entry_key(entry: ParsedEntry) -> str:
    """The identity of an entry within its source: the guid, else the canonical link.

    An entry with neither is identified by its title and summary, the only stable parts left.
    """
    if entry.guid:
        return "guid:" + entry.guid.strip()
    if entry.link and entry.link.strip():
        return "link:" + canonical_url(entry.link)
    return "hash:" + content_hash(clean_line(entry.title), entry.summary_html)


def decide_upsert(stored_hash: str | None, new_hash: str) -> UpsertAction:
    """Insert an unseen entry, update a changed one in place, leave a re-sent one alone."""
    if stored_hash is None:
        return UpsertAction.INSERT
    if stored_hash != new_hash:
        return UpsertAction.UPDATE
    return UpsertAction.UNCHANGED


# -- exact identity across sources -------------------------------------------------------------


def cluster_key(canonical: str) -> str | None:
    """The exact cross-source key: the canonical URL, when the story has a usable one."""
    if canonical.startswith(("http://", "https://")):
        return canonical
    return None


_GLOBAL_GUID_SCHEMES = ("urn:", "tag:")


def global_guid(guid: str | None) -> str | None:
    """A guid that names one story whatever the feed carrying it, else None.

    A permalink guid (in its canonical form) or a `urn:`/`tag:` URI is global: two sources
    with the same one carry the same story. A bare number or slug is only unique within its
    own feed, so two feeds' "12345" say nothing.
    """
    if not guid:
        return None
    text = guid.strip()
    lowered = text[:8].lower()
    if lowered.startswith(("http://", "https://")):
        return cluster_key(canonical_url(text))
    if lowered.startswith(_GLOBAL_GUID_SCHEMES) and len(text) > 12:
        return text
    return None


# -- near-duplicates ---------------------------------------------------------------------------

BOILERPLATE_MIN_ENTRIES = 3
"""A long line found in this many entries of one feed document is the site's furniture."""
TITLE_KEY_OFFSET = 1 << 32
"""Title keys live above the 32-bit body keys, so one index holds both without collisions."""


def document_boilerplate(texts: Sequence[str]) -> frozenset[int]:
    """The `fingerprint.line_keys` of long lines repeated across the entries of one document.

    "The post … appeared first on …", a cookie notice or a comment-form sentence in every
    entry is not prose of any one story; fingerprinted, it would make the site's different
    stories look alike. Learned per document, so nothing about a source is kept between polls.
    """
    if len(texts) < BOILERPLATE_MIN_ENTRIES:
        return frozenset()
    counts: Counter[int] = Counter()
    for text in texts:
        counts.update(set(fp.line_keys(text)))
    return frozenset(key for key, n in counts.items() if n >= BOILERPLATE_MIN_ENTRIES)


SHORT_TEXT_WORDS = 20
"""A body shorter than this is fingerprinted together with its headline."""


_PHOTO_CREDIT = re.compile(
    r"\((?:[^()]*(?:/| via )[^()]*|(?:Courtesy of|Photo by|Photo:|Screenshot)[^()]*)\)$"
)
"""A line ending in a photo credit, "(STR/AFP via Getty Images)", "(Khalil Hamra/AP Photo)",
"(Courtesy of ...)": the caption of a picture, not the story's text."""


def _without_captions(text: str) -> str:
    """The text without its photo-caption lines. The Epoch Times' items carry nothing but the
    caption of their lead photo, and one agency photo leads different stories: on 6-7
    February 2023 "Southern Turkey Rocked by 2nd Powerful Quake" and "Australia Pledges $10M
    for Turkey Earthquake Relief" had the same one."""
    if ")" not in text:
        return text
    lines = text.split("\n")
    kept = [line for line in lines if not _PHOTO_CREDIT.search(line.rstrip())]
    return text if len(kept) == len(lines) else "\n".join(kept)


def story_sketch(story: Story, boilerplate: frozenset[int] = frozenset()) -> fp.Fingerprint:
    """The body fingerprint of a story.

    A short body is read with its headline in front: feeds whose every item says "Comments"
    or "Read the full story" must not make all their stories one, and a headline-only item
    is its headline. Photo captions are not read (`_without_captions`).
    """
    text = _without_captions(story.text)
    if len(text.split(None, SHORT_TEXT_WORDS)) <= SHORT_TEXT_WORDS:
        text = f"{story.title} {' '.join(text.split())}".strip()
    return fp.fingerprint(text, boilerplate=boilerplate)


TITLE_INDEX_WORDS = 4
"""Headline words indexed per story: the longest (the rarest, as a rule: "earthquake",
"withdrawal", not "new" or "says"), indexed in pairs. Every word is kept for scoring."""


def story_title_keys(story: Story) -> tuple[int, ...]:
    """The keys of a headline's content words, longest word first (`title_index_keys`
    indexes the first few; all of them score the related relation)."""
    tokens = sorted(fp.title_tokens(story.title), key=lambda token: (-len(token), token))
    return tuple(map(fp.title_key, tokens))


def fingerprint_stories(stories: Sequence[Story]) -> list[Story]:
    """One document's stories with their fingerprint and title keys filled in.

    Run where the stories are normalised (a parser worker), so that the single writer only
    compares; boilerplate lines are learned from the document's own entries.
    """
    boilerplate = document_boilerplate([story.text for story in stories])
    return [
        replace(
            story,
            fingerprint=story_sketch(story, boilerplate).to_bytes(),
            title_keys=story_title_keys(story),
        )
        for story in stories
    ]


def body_keys(sketch: fp.Fingerprint) -> list[int]:
    """The index keys of a body fingerprint."""
    return fp.lsh_keys(sketch)


def title_index_keys(title_keys: Sequence[int]) -> list[int]:
    """The index keys of a headline: each pair of its longest words (one word alone when it
    has only one), offset past every body key.

    Headlines on one event share three or more content words (the related threshold asks
    for that), so they share a pair of their longest ones; a single word ("government",
    "election") is shared by hundreds of headlines a day and would make every lookup read
    a full bucket of strangers.
    """
    longest = title_keys[:TITLE_INDEX_WORDS]
    if len(longest) == 1:
        return [TITLE_KEY_OFFSET + longest[0]]
    return [
        TITLE_KEY_OFFSET + _pair_key(first, second)
        for n, first in enumerate(longest)
        for second in longest[n + 1 :]
    ]


def _pair_key(a: int, b: int) -> int:
    """One 32-bit key for two word keys, whatever their order."""
    low, high = min(a, b), max(a, b)
    return ((low * 0x9E3779B1) ^ high) & 0xFFFFFFFF


MIN_SHARED_KEYS = 2
"""Candidate keys an earlier story must share with a new one to be scored. A text holding
45% of another shares two or more of its eight smallest shingle hashes: on the syndication
set of benchmarks/dedup_quality.py no copy pair above the threshold shared only one, while
nine in ten of the unrelated pairs found through the index did (a common phrase)."""


def most_shared(shared: Mapping[int, int], limit: int, key_count: int) -> list[int]:
    """The story ids worth scoring: at most `limit`, sharing the most keys (the newest first
    on a tie), and at least `MIN_SHARED_KEYS` of them unless the new text has fewer keys
    than that makes sense for (a headline-sized text)."""
    floor = MIN_SHARED_KEYS if key_count >= 2 * MIN_SHARED_KEYS else 1
    kept = [story_id for story_id, count in shared.items() if count >= floor]
    if len(kept) <= limit:
        return kept
    return heapq.nlargest(limit, kept, key=lambda story_id: (shared[story_id], story_id))


def choose_copy(
    sketch: fp.Fingerprint, candidates: Iterable[Candidate], threshold: float, title: str = ""
) -> CopyMatch | None:
    """The candidate the new story (headline `title`) copies: the highest similarity at or
    above `threshold`, the earliest story on a tie; None when none reaches it, or when it is
    another item of a series (`another_of_a_series`)."""
    best: CopyMatch | None = None
    headline: Headline | None = None  # read only when a candidate scores (most never do)
    for candidate in candidates:
        score = fp.similarity(sketch, candidate.sketch)
        if score < threshold:
            continue
        headline = headline or Headline.of(title)
        if another_of_a_series(sketch, candidate, headline):
            continue
        if best is None or (score, -candidate.story_id) > (best.score, -best.story_id):
            best = CopyMatch(candidate.story_id, candidate.cluster_id, score)
    return best


def another_of_a_series(sketch: fp.Fingerprint, candidate: Candidate, headline: Headline) -> bool:
    """Whether two short items (a headline and a line, scored by Jaccard) are two of a
    series: their headlines have the same content words but for the new one's numbers,
    which the other has in other words ("List of key events, day 348" and "day 349": Al
    Jazeera's daily lists shared enough shingles to be copies, and each day vanished into
    the first day's cluster). A copy carries its headline's numbers; one that leaves a
    number out ("Powerful quake..." for "Powerful 7.8 quake...") has fewer words, not others.
    Only ever keeps stories apart."""
    if not headline.numbers or not candidate.title_keys:
        return False
    if max(sketch.size, candidate.sketch.size) >= fp.MIN_CONTAINMENT_SHINGLES:
        return False  # a body of its own: the text decides
    theirs = frozenset(candidate.title_keys)
    missing = headline.numbers - theirs
    if not missing:
        return False
    others = theirs - headline.words
    return len(others) == len(missing) and headline.words - missing <= theirs


@dataclass(frozen=True, slots=True)
class TitleCandidate:
    """An earlier story sharing an indexed headline word with the new one."""

    story_id: int
    cluster_id: int
    title_keys: tuple[int, ...]  # distinct


def related_clusters(
    title_keys: Iterable[int],
    candidates: Iterable[TitleCandidate],
    own_cluster: int,
    threshold: float,
) -> dict[int, float]:
    """Clusters to link as related: for each, the best headline word Jaccard at or above
    `threshold` among its stories. The story's own cluster is left out."""
    mine = frozenset(title_keys)
    linked: dict[int, float] = {}
    if not mine:
        return linked
    for candidate in candidates:
        if candidate.cluster_id == own_cluster or not candidate.title_keys:
            continue
        shared = len(mine.intersection(candidate.title_keys))
        score = shared / (len(mine) + len(candidate.title_keys) - shared)
        if score >= threshold and score > linked.get(candidate.cluster_id, 0.0):
            linked[candidate.cluster_id] = score
    return linked
