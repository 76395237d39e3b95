"""Plain values passed between the stages: frozen, slotted dataclasses and StrEnums.

No behaviour beyond trivial derived properties, no I/O. Every datetime is timezone-aware UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

# Region codes people write that ISO 3166-1 reserves for another code: "UK" is exceptionally
# reserved for the United Kingdom, whose code is GB. Every reader of a region code (config,
# queries, the command line) maps these, so "UK" works wherever "GB" does.
REGION_CODE_ALIASES: dict[str, str] = {"UK": "GB"}
# A BCP 47-like language tag: a 2 or 3 letter language, then subtags ("pt-BR", "zh_Hant"):
# what `lang:`, a source's `language` in the config and `tag --jsonl` lines accept.
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


class SourceState(StrEnum):
    """Where a source stands, as shown by `syndicator status`."""

    NEW = "new"
    OK = "ok"
    FAILING = "failing"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Source:
    """A polled feed as the store knows it: configuration plus poll state."""

    id: int
    url: str
    name: str
    region: str = ""
    language: str = ""  # as configured: its stories' language where the feed's is wrong
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    next_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    state: SourceState = SourceState.NEW
    feed_ttl: timedelta | None = None  # the feed's own refresh hint, remembered for 304s
    interval: timedelta | None = None  # the source's configured interval, if it has one
    entry_interval: timedelta | None = None  # mean gap between its recent entries, for 304s


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one HTTP fetch produced. A 304 is a result (`not_modified`), not an error."""

    url: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    # Where the source should be polled from now on (after 301/308 or autodiscovery), and why.
    moved_to: str | None = None
    moved_because: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One feed entry as read from the document, before normalisation."""

    guid: str | None
    link: str | None
    title: str
    summary_html: str
    content_html: str
    author: str
    published: datetime | None
    updated: datetime | None
    categories: tuple[str, ...] = ()
    language: str = ""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed document: feed-level metadata plus its entries and any parser warning."""

    title: str
    link: str
    language: str
    entries: tuple[ParsedEntry, ...]
    warning: str | None = None
    ttl_minutes: int | None = None
    update_period: str | None = None  # sy:updatePeriod
    update_frequency: str | None = None  # sy:updateFrequency


class TagKind(StrEnum):
    """What a tag names: a region (country code, M49 sub-region or continent) or a topic."""

    REGION = "region"
    TOPIC = "topic"


@dataclass(frozen=True, slots=True)
class Tag:
    """One region or topic tag of a story, with how sure the tagger is and why.

    `code` is an ISO 3166-1 alpha-2 code ("KZ"), an M49 sub-region or continent name
    ("Central Asia", "Asia"), or a topic slug ("conflict"). `score` is in [0, 1]. `focus` says
    the story is about it (a region in the title, the dateline or named again and again; a
    topic that wins), not a passing mention. `evidence` lists readable reasons, strongest first.
    """

    kind: TagKind
    code: str
    score: float
    focus: bool
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Story:
    """One normalised entry of one source, ready to store."""

    source_id: int
    guid_key: str
    guid: str | None
    url: str
    canonical_url: str
    title: str
    summary: str
    content_html: str
    text: str
    author: str
    published_at: datetime
    content_hash: str
    categories: tuple[str, ...] = ()
    language: str = ""
    place: str = ""  # from a wire dateline ("ALMATY (Reuters) -"), else empty
    agency: str = ""
    # Near-duplicate fingerprint (`fingerprint.Fingerprint.to_bytes`) and headline word keys,
    # computed where the story is normalised; empty means the store computes them.
    fingerprint: bytes = b""
    title_keys: tuple[int, ...] = ()
    # Region and topic tags, computed where the story is normalised (`tagging.tag_story`).
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredStory:
    """A story read back from the store, with its cluster and source."""

    id: int
    cluster_id: int
    source_id: int
    source_name: str
    source_url: str
    source_link: str
    url: str
    title: str
    summary: str
    content_html: str
    author: str
    published_at: datetime
    first_seen_at: datetime
    updated_at: datetime
    join_reason: str = ""  # why it joined its cluster: "first", "canonical-url", ...
    place: str = ""
    agency: str = ""
    join_score: float | None = None  # the similarity, when it joined as a near-duplicate
    joined_story_id: int | None = None  # the member it matched (URL, guid or text)
    language: str = ""  # the entry's language tag, else its feed's ("" when neither says)
    text: str = ""  # the clean text (furniture and dateline out): the representative's only


@dataclass(frozen=True, slots=True)
class RelatedLink:
    """Another cluster on the same event (headlines alike), with the headline similarity."""

    cluster_id: int
    title: str
    score: float


@dataclass(frozen=True, slots=True)
class Cluster:
    """One story across sources: the representative (the copy published first) and every copy."""

    id: int
    title: str
    published_at: datetime
    first_seen_at: datetime
    updated_at: datetime
    representative: StoredStory
    copies: tuple[StoredStory, ...] = ()
    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    related: tuple[RelatedLink, ...] = ()  # loaded by `Store.cluster_of` only
    tags: tuple[Tag, ...] = ()  # every tag with score and evidence, by `Store.cluster_of` only


@dataclass(frozen=True, slots=True)
class Section:
    """A saved filter over clusters, published as one Atom feed."""

    slug: str
    title: str
    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    query: str = ""
    max_entries: int = 100
    subtitle: str = ""
    min_score: float = 0.0


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one poll of one source did; errors are recorded here, never raised."""

    source_url: str
    status: str
    new_stories: int = 0
    updated_stories: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CycleReport:
    """The summary of one full cycle: every source's outcome and the feeds written."""

    started_at: datetime
    finished_at: datetime
    outcomes: tuple[SourceOutcome, ...] = ()
    feeds_written: tuple[str, ...] = ()

    @property
    def new_stories(self) -> int:
        return sum(outcome.new_stories for outcome in self.outcomes)

    @property
    def updated_stories(self) -> int:
        return sum(outcome.updated_stories for outcome in self.outcomes)

    @property
    def failed_sources(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.error)
