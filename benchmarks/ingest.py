"""Ingest throughput and memory: normalise, fingerprint, cluster and store real-sized stories.

What is measured (one process, one core, a real SQLite file in a temporary directory): the
daemon's path for every feed document after parsing, exactly as `pipeline` runs it
(`_stories` and `GroupCommit`):

    normalize_entry(...) for each entry  ->  dedupe by guid_key  ->  fingerprint_stories
    ->  Store.store_stories, inside write groups of 64 documents (begin_group/end_group,
        or 1 s after the group's first document, whichever comes first)

Parsing is excluded: the documents are built as `ParsedEntry` values before the clock starts.
In the same run, bare `feedparser.parse(bytes)` reads a sample of the same stories rendered as
RSS 2.0 documents (25 items each, description and content:encoded escaped HTML), and both
rates are printed with their ratio; `syndicator.parsing.parse_feed` on those documents is
printed for reference. The issue's goal is at least 4,000 stories/s per core.

The stories are built from real text, with a seeded random generator (reproducible):
BBC News articles and Reuters-21578 bodies (loaders from `dedup_quality.py`), AG News
title + description (short items) and the entries of feeds-real (parsed once with
`parse_feed`, real HTML bodies). Each story's body length is drawn from feeds-real's
distribution of body lengths, and an article is cut at a paragraph boundary to that length;
paragraphs are HTML `<p>` with a few links and emphasis, and about a quarter of the entries
carry a short summary besides the full content, as in feeds-real. About 15 % of the stories
are syndicated copies of an earlier story of another source: a new headline, a dateline,
site furniture around (crumbs, share bar, ads, newsletter and cookie lines, footer), often
truncated. The corpora hold about 15,000 distinct texts, so a text used again gets every fourth
word (from a random offset) and 60 % of its headline replaced by words drawn from the corpus: a
distinct story of the same size, none of whose 4-word shingles is the first story's.
Every story has its own link and guid; 25 entries per document, about 2,000 sources, publish
times increasing over 48 h (inside the 72 h clustering window).

Memory: a second run (a fresh process and database) pushes `--window-stories` stories, published
over 60 h so all stay inside the window, through the same path, printing the process RSS
(/proc/self/status), the rate and the database size after every 10 %, and the row count of
`near_keys` at the end: RSS should stay flat while the file grows.

Usage (from the repository root):
    .venv/bin/python benchmarks/ingest.py [--stories 100000] [--window-stories 1000000]
                                          [--quick] [--skip-memory] [--memory-only]
                                          [--profile FILE]
--quick: 10,000 stories and 50,000 in the window (a smoke run, about two minutes).
--profile FILE: cProfile the timed path of the throughput part only (its rates are inflated).
Timings are never asserted; the machine may be busy with other work, so numbers can be noisy.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import csv
import gc
import hashlib
import html
import os
import pstats
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import feedparser
from dedup_quality import SHARE, SITES, TAILS, Article, load_bbc, load_reuters, make_copy

from syndicator.dedup import entry_key, fingerprint_stories
from syndicator.errors import ParseError
from syndicator.models import ParsedEntry
from syndicator.normalize import normalize_entry
from syndicator.parsing import parse_feed
from syndicator.storage import ConfiguredSource, Store, open_store

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
FEEDS_REAL = SHARED / "feeds-real"
AG_NEWS = SHARED / "labelled-news" / "ag_news" / "test.csv"
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}

SEED = 20261127
BASE_TIME = datetime(2026, 11, 25, tzinfo=UTC)
GOAL_PER_S = 4_000
ENTRIES_PER_DOCUMENT = 25
SOURCES = 2_000
GROUP_SIZE = 64  # pipeline.GroupCommit defaults
GROUP_MAX_AGE_S = 1.0
THROUGHPUT_SPAN = timedelta(hours=48)
WINDOW_SPAN = timedelta(hours=60)  # inside the 72 h window: every story stays comparable

COPY_SHARE = 0.15
FEED_ENTRY_SHARE = 0.10  # stories that are a feeds-real entry itself (its own HTML)
SHORT_BODY = 320  # target lengths below this are AG News items (title + description)
BOTH_SUMMARY_AND_CONTENT = 0.23  # share of feeds-real entries with a distinct summary
RECENT_ORIGINALS = 10_000  # copies are made of one of the latest originals
SWAP_EVERY = 4  # a text used again: every fourth word replaced
TITLE_SWAP = 0.60


# -- the real texts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """A real text stories are built from: an article, a short item, or a feed entry."""

    index: int
    kind: str  # "bbc", "reu" (Reuters), "ag" (AG News), "feed" (feeds-real)
    title: str
    paragraphs: tuple[str, ...] = ()  # plain text (not for "feed")
    entry: ParsedEntry | None = None  # the real entry (only "feed")
    group: str = ""
    city: str = "LONDON"
    wire: str = "Reuters"
    length: int = 0  # the whole body rendered as <p> paragraphs, in characters


@dataclass(frozen=True, slots=True)
class Pool:
    """Every real text, indexed for picking one of a given body length."""

    short: list[Text]  # AG News
    long: list[Text]  # BBC and Reuters, by length
    long_lengths: list[int]
    feed: list[Text]  # feeds-real entries
    feed_lengths: list[int]  # body length of every feeds-real entry (the target distribution)
    vocabulary: list[str]  # corpus words, with their frequencies, for varying a text
    cities: list[str]
    size: int  # how many texts


def feeds_real_entries() -> list[ParsedEntry]:
    """Every entry of the RSS/Atom/RDF documents of feeds-real, parsed once."""
    entries: list[ParsedEntry] = []
    skip = {"archived-entries", "jsonfeed", "opml", "html"}
    for path in sorted(FEEDS_REAL.rglob("*")):
        if path.suffix not in FEED_SUFFIXES or skip & set(path.relative_to(FEEDS_REAL).parts):
            continue
        try:
            feed = parse_feed(path.read_bytes(), f"https://feeds-real.example/{path.name}")
        except ParseError:
            continue
        entries.extend(feed.entries)
    return entries


def body_of(entry: ParsedEntry) -> str:
    """The body `normalize_entry` reads: the content, else the summary."""
    return entry.content_html or entry.summary_html


_AG_FIXES = (("\\", " "), (" #36;", " $"), ("#36;", "$"), ("#39;", "'"), ("quot;", '"'))


def load_ag() -> list[tuple[str, str, str]]:
    """AG News test split: (class, title, description), unescaped the way the set needs."""
    classes = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
    rows, seen = [], set()
    with AG_NEWS.open(encoding="utf-8") as f:
        for label, raw_title, raw_description in csv.reader(f):
            title, description = _ag_text(raw_title), _ag_text(raw_description)
            if description and description not in seen:
                seen.add(description)
                rows.append((classes.get(label, "News"), title, description))
    return rows


def _ag_text(text: str) -> str:
    for old, new in _AG_FIXES:
        text = text.replace(old, new)
    return " ".join(text.split())


def paragraphs_length(paragraphs: Iterable[str]) -> int:
    return sum(len(p) + 8 for p in paragraphs)  # "<p></p>\n" around each


def load_pool() -> Pool:
    articles = sorted(load_bbc() + load_reuters(), key=lambda a: paragraphs_length(a.paragraphs))
    entries = feeds_real_entries()
    texts: list[Text] = []  # one index per text, for counting its uses
    for a in articles:
        kind, paragraphs = a.uid.split(":")[0], tuple(a.paragraphs)
        length = paragraphs_length(paragraphs)
        texts.append(
            Text(len(texts), kind, a.title, paragraphs, None, a.group, a.city, a.wire, length)
        )
    for group, title, description in load_ag():
        length = paragraphs_length([description])
        short = Text(len(texts), "ag", title, (description,), None, group, "WASHINGTON", "AP")
        texts.append(replace(short, length=length))
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        key = (entry.title, body_of(entry))
        if key not in seen and any(key):  # feeds-real holds a few copies of one feed
            seen.add(key)
            texts.append(
                Text(len(texts), "feed", entry.title, (), entry, length=len(body_of(entry)))
            )
    long = texts[: len(articles)]
    return Pool(
        short=[t for t in texts if t.kind == "ag"],
        long=long,
        long_lengths=[t.length for t in long],
        feed=[t for t in texts if t.kind == "feed"],
        feed_lengths=[len(body_of(e)) for e in entries],
        vocabulary=corpus_vocabulary(texts),
        cities=sorted({t.city.title() for t in long if t.city.replace(" ", "").isalpha()}),
        size=len(texts),
    )


_PLAIN_WORD = re.compile(r"^[A-Za-z][A-Za-z'-]*$")


def corpus_vocabulary(texts: Sequence[Text], limit: int = 400_000) -> list[str]:
    """The corpus's words in running order, so a random pick follows their frequencies."""
    words: list[str] = []
    for text in texts:
        for paragraph in text.paragraphs:
            words.extend(w for w in paragraph.split() if _PLAIN_WORD.match(w))
        if len(words) >= limit:
            break
    return words


# -- sources -----------------------------------------------------------------------------------

_OUTLETS = (
    "Herald", "Times", "Post", "Wire", "Daily", "Gazette", "Tribune", "Chronicle", "Observer",
    "Courier", "Ledger", "Dispatch", "Standard", "Record", "Sentinel", "Monitor", "Journal",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BenchSource:
    index: int
    name: str  # the feed's title, passed to normalize_entry as its site name
    host: str
    template: int  # which of dedup_quality.SITES furniture its pages carry

    @property
    def url(self) -> str:
        return f"https://www.{self.host}/rss.xml"


def make_sources(pool: Pool, count: int, rnd: random.Random) -> list[BenchSource]:
    names = [f"{city} {outlet}" for city in pool.cities for outlet in _OUTLETS]
    rnd.shuffle(names)
    sources = []
    for i in range(count):
        name = names[i % len(names)] + (f" {i // len(names) + 1}" if i >= len(names) else "")
        host = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".example"
        sources.append(BenchSource(i, name, host, i % len(SITES)))
    return sources


# -- the stories -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """One feed document as the parser hands it over: 25 entries of one source."""

    source: int  # index into the sources list
    now: datetime  # when it is polled
    entries: tuple[ParsedEntry, ...]


@dataclass(frozen=True, slots=True)
class Original:
    """A recent original story, kept so that a later story of another source can copy it."""

    source: int
    key: str  # its entry_key, for checking the clusters afterwards
    article: Article


@dataclass(frozen=True, slots=True)
class CopyOf:
    """A generated copy: (its source, its key) copies (original's source, original's key)."""

    source: int
    key: str
    original_source: int
    original_key: str


_AUTHORS = (
    "Jane Smith", "Ahmed Karimov", "Maria Rossi", "Tom O'Neill", "Li Wei", "Anna Kowalska",
    "Daniel Okafor", "Sofia Garcia", "Wire Desk", "Staff Reporter", "Yuki Tanaka", "Erik Berg",
)  # fmt: skip
_TAGS = ("a", "a", "a", "em", "strong")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MARKUP = re.compile(r"(<[^>]*>|&#?\w+;)")


@dataclass
class StoryFactory:
    """Builds documents of stories from the pool, in publication order, reproducibly."""

    pool: Pool
    sources: list[BenchSource]
    rnd: random.Random
    record_copies: bool = True
    uses: list[int] = field(default_factory=list)
    recent: deque[Original] = field(default_factory=lambda: deque(maxlen=RECENT_ORIGINALS))
    copies: list[CopyOf] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    serial: int = 0

    def __post_init__(self) -> None:
        self.uses = [0] * self.pool.size

    def documents(self, stories: int, span: timedelta) -> Iterator[Document]:
        """`stories` stories in documents of 25, publish times evenly over `span`; each
        document is one source's, sources taking turns in a shuffled order."""
        order: list[int] = []
        step = span / stories
        for start in range(0, stories, ENTRIES_PER_DOCUMENT):
            if not order:
                order = list(range(len(self.sources)))
                self.rnd.shuffle(order)
            source = self.sources[order.pop()]
            count = min(ENTRIES_PER_DOCUMENT, stories - start)
            times = [BASE_TIME + step * (start + k) for k in range(count)]
            entries = [self.story(source, when) for when in times]
            entries.reverse()  # newest first, as feeds list them
            now = times[-1] + timedelta(minutes=2)
            yield Document(source.index, now, tuple(entries))

    def story(self, source: BenchSource, published: datetime) -> ParsedEntry:
        self.serial += 1
        if self.rnd.random() < COPY_SHARE and (original := self._original_for(source)):
            return self._copy(source, published, original)
        return self._original(source, published)

    # -- originals

    def _original(self, source: BenchSource, published: datetime) -> ParsedEntry:
        if self.rnd.random() < FEED_ENTRY_SHARE:
            return self._feed_entry(source, published)
        target = self.rnd.choice(self.pool.feed_lengths)  # a real entry's body length
        text = self.rnd.choice(self.pool.short) if target < SHORT_BODY else self._long(target)
        first_use = self.uses[text.index] == 0
        self.uses[text.index] += 1
        self.kinds[text.kind] += 1
        paragraphs = self._cut(text, target)
        title = text.title
        if not first_use:  # the same text again: a distinct story of the same size
            paragraphs = [self._vary(p) for p in paragraphs]
            title = self._vary_title(title)
        body = self._paragraphs_html(paragraphs, source, text.kind == "ag")
        entry = self._entry(
            source, published, title=title, body=body, lead=paragraphs[0], group=text.group
        )
        if text.kind != "ag" or len(paragraphs[0]) > 120:
            article = Article("", text.group, title, paragraphs, text.city, text.wire)
            self.recent.append(Original(source.index, entry_key(entry), article))
        return entry

    def _long(self, target: int) -> Text:
        lengths = self.pool.long_lengths
        at = bisect.bisect_left(lengths, target)
        at = min(at, len(lengths) - 20)  # longer than nearly every article: one of the longest
        return self.pool.long[self.rnd.randrange(at, len(lengths))]

    def _cut(self, text: Text, target: int) -> list[str]:
        """The first paragraphs, as many as come closest to `target` characters (a short
        item is cut at a word)."""
        if text.kind == "ag":
            description = text.paragraphs[0]
            if len(description) <= target:
                return [description]
            return [description[:target].rsplit(" ", 1)[0] or description[:target]]
        total, best, best_k = 0, None, 1
        for k, paragraph in enumerate(text.paragraphs, 1):
            total += len(paragraph) + 8
            if best is None or abs(total - target) < best:
                best, best_k = abs(total - target), k
        return list(text.paragraphs[:best_k])

    def _feed_entry(self, source: BenchSource, published: datetime) -> ParsedEntry:
        text = self.rnd.choice(self.pool.feed)
        real = text.entry
        assert real is not None
        first_use = self.uses[text.index] == 0
        self.uses[text.index] += 1
        self.kinds["feed"] += 1
        title, summary, content = real.title, real.summary_html, real.content_html
        if not first_use:
            title = self._vary_title(title)
            summary, content = self._vary_html(summary), self._vary_html(content)
        link = self._link(source, title, published)
        return ParsedEntry(
            guid=self._guid(source, link),
            link=link,
            title=title,
            summary_html=summary,
            content_html=content,
            author=real.author,
            published=published,
            updated=None,
            categories=real.categories,
            language=real.language,
        )

    # -- copies

    def _original_for(self, source: BenchSource) -> Original | None:
        for _ in range(5):
            if not self.recent:
                return None
            original = self.recent[self.rnd.randrange(len(self.recent))]
            if original.source != source.index:
                return original
        return None

    def _copy(self, source: BenchSource, published: datetime, original: Original) -> ParsedEntry:
        title, paragraphs = make_copy(self.rnd, original.article)
        body = self._furnished(paragraphs, source, original.article.group)
        group = original.article.group
        entry = self._entry(
            source, published, title=title, body=body, lead=paragraphs[0], group=group
        )
        self.kinds["copy"] += 1
        if self.record_copies:
            copy = CopyOf(source.index, entry_key(entry), original.source, original.key)
            self.copies.append(copy)
        return entry

    def _furnished(self, paragraphs: Sequence[str], source: BenchSource, group: str) -> str:
        """A syndicating site's page body: crumbs and share bar, ads between paragraphs, the
        newsletter/cookie/comment lines and a footer with the site's name."""
        rnd = self.rnd
        _, crumbs, footer = SITES[source.template]
        section = group.rpartition(":")[2].title() or "News"
        lines = [f"<p>{html.escape(crumbs.format(section=section))}</p>"]
        lines.append(f"<p>{html.escape(rnd.choice(SHARE))}</p>")
        for k, paragraph in enumerate(paragraphs):
            lines.append(self._paragraph_html(paragraph, source))
            if k in (1, 4) and rnd.random() < 0.6:
                lines.append("<p>Advertisement</p>")
        lines.extend(f"<p>{html.escape(t)}</p>" for t in rnd.sample(TAILS, rnd.randint(1, 3)))
        year = rnd.choice([2025, 2026])
        lines.append(f"<p>{html.escape(footer.format(year=year))} {html.escape(source.name)}</p>")
        return "\n".join(lines)

    # -- shared parts

    def _entry(
        self,
        source: BenchSource,
        published: datetime,
        *,
        title: str,
        body: str,
        lead: str,
        group: str,
    ) -> ParsedEntry:
        rnd = self.rnd
        if rnd.random() < 0.15:  # the outlet's name after the headline, as many feeds do
            title = f"{title}{rnd.choice([' - ', ' | '])}{source.name}"
        link = self._link(source, title, published)
        summary, content = body, ""
        if rnd.random() < BOTH_SUMMARY_AND_CONTENT:  # a teaser as description, the full text
            summary, content = f"<p>{html.escape(lead[:300])}</p>", body
        author = rnd.choice(_AUTHORS) if rnd.random() < 0.6 else ""
        category = group.rpartition(":")[2]
        return ParsedEntry(
            guid=self._guid(source, link),
            link=link,
            title=title,
            summary_html=summary,
            content_html=content,
            author=author,
            published=published,
            updated=None,
            categories=(category,) if category and rnd.random() < 0.45 else (),
            language="en",
        )

    def _link(self, source: BenchSource, title: str, published: datetime) -> str:
        slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:6]) or "story"
        link = f"https://www.{source.host}/news/{published:%Y/%m/%d}/{slug}-{self.serial}"
        if self.rnd.random() < 0.2:
            link += "?utm_source=rss&utm_medium=feed"
        return link

    def _guid(self, source: BenchSource, link: str) -> str | None:
        roll = self.rnd.random()
        if roll < 0.5:
            return link.partition("?")[0]  # a permalink guid
        if roll < 0.8:
            return f"{source.host}-{self.serial}"
        return None  # identified by its link

    def _paragraphs_html(self, paragraphs: Sequence[str], source: BenchSource, short: bool) -> str:
        if short and self.rnd.random() < 0.5:
            return html.escape(paragraphs[0], quote=False)  # a plain-text description
        return "\n".join(self._paragraph_html(p, source) for p in paragraphs)

    def _paragraph_html(self, paragraph: str, source: BenchSource) -> str:
        text = html.escape(_XML_INVALID.sub("", paragraph), quote=False)
        words = text.split(" ")
        if len(words) > 8 and self.rnd.random() < 0.25:  # a link or an emphasis
            at, size = self.rnd.randrange(len(words) - 4), self.rnd.randint(1, 3)
            tag = self.rnd.choice(_TAGS)
            span = " ".join(words[at : at + size])
            slug = "-".join(re.findall(r"[a-z0-9]+", span.lower())) or "topic"
            opening = (
                f'<a href="https://www.{source.host}/topic/{slug}">' if tag == "a" else f"<{tag}>"
            )
            words[at : at + size] = [f"{opening}{span}</{tag}>"]
            text = " ".join(words)
        return f"<p>{text}</p>"

    def _vary(self, text: str) -> str:
        """The text with every fourth word, from a random offset, replaced by a corpus word:
        the same size, and none of its 4-word shingles left."""
        words = text.split(" ")
        start = self.rnd.randrange(SWAP_EVERY)
        swapped = len(range(start, len(words), SWAP_EVERY))
        words[start::SWAP_EVERY] = self.rnd.choices(self.pool.vocabulary, k=swapped)
        return " ".join(words)

    def _vary_title(self, title: str) -> str:
        """The headline with 60 % of its words replaced: no longer "related" to the first."""
        words = title.split(" ")
        positions = self.rnd.sample(range(len(words)), round(len(words) * TITLE_SWAP))
        replacements = self.rnd.choices(self.pool.vocabulary, k=len(positions))
        for at, word in zip(positions, replacements, strict=True):
            words[at] = word
        return " ".join(words)

    def _vary_html(self, markup: str) -> str:
        """`_vary` on the text between the tags and entity references of an HTML body."""
        if not markup:
            return markup
        parts = _MARKUP.split(markup)
        return "".join(
            part if k % 2 or not part.strip() else self._vary(part) for k, part in enumerate(parts)
        )


# -- the measured path -------------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds spent in each stage, summed over the documents."""

    normalise: float = 0.0
    fingerprint: float = 0.0
    store: float = 0.0
    stories: int = 0

    @property
    def total(self) -> float:
        return self.normalise + self.fingerprint + self.store


class Ingest:
    """The daemon's path after parsing (`pipeline._stories`, `GroupCommit`), timed by stage."""

    def __init__(self, store: Store, source_ids: list[int], sites: list[tuple[str, ...]]) -> None:
        self.store = store
        self.source_ids = source_ids
        self.sites = sites
        self.timings = Timings()
        self._in_group = 0
        self._group_started = 0.0

    def document(self, document: Document) -> None:
        clock = time.perf_counter
        source_id, sites = self.source_ids[document.source], self.sites[document.source]
        now = document.now
        started = clock()
        stories = [
            normalize_entry(source_id, entry, entry_key(entry), now, sites)
            for entry in document.entries
        ]
        unique = list({story.guid_key: story for story in stories}.values())
        normalised = clock()
        fingerprinted = fingerprint_stories(unique)
        done_fingerprints = clock()
        if not self.store.in_group:
            self.store.begin_group()
            self._in_group, self._group_started = 0, done_fingerprints
        self.store.store_stories(fingerprinted, now)
        self._in_group += 1
        stored = clock()
        if self._in_group >= GROUP_SIZE or stored - self._group_started >= GROUP_MAX_AGE_S:
            self.store.end_group()
        finished = clock()
        timings = self.timings
        timings.normalise += normalised - started
        timings.fingerprint += done_fingerprints - normalised
        timings.store += finished - done_fingerprints
        timings.stories += len(unique)

    def close(self) -> None:
        started = time.perf_counter()
        self.store.end_group()
        self.timings.store += time.perf_counter() - started


def open_bench_store(path: Path, sources: list[BenchSource]) -> tuple[Store, Ingest]:
    store = open_store(path)
    configured = [ConfiguredSource(s.url, s.name, "", True, None) for s in sources]
    store.sync_sources(configured, BASE_TIME)
    ids = {source.url: source.id for source in store.due_sources(BASE_TIME)}
    source_ids = [ids[s.url] for s in sources]
    return store, Ingest(store, source_ids, [(s.name,) for s in sources])


# -- the feedparser baseline -------------------------------------------------------------------


def render_rss(document: Document, source: BenchSource) -> bytes:
    """The document as the RSS 2.0 a site would serve (description and content escaped)."""
    esc = html.escape
    items = []
    for entry in document.entries:
        parts = [f"<title>{esc(entry.title)}</title>", f"<link>{esc(entry.link or '')}</link>"]
        if entry.guid:
            permalink = "true" if entry.guid.startswith("https://") else "false"
            parts.append(f'<guid isPermaLink="{permalink}">{esc(entry.guid)}</guid>')
        if entry.published:
            parts.append(f"<pubDate>{format_datetime(entry.published, usegmt=True)}</pubDate>")
        if entry.author:
            parts.append(f"<dc:creator>{esc(entry.author)}</dc:creator>")
        parts.extend(f"<category>{esc(term)}</category>" for term in entry.categories)
        parts.append(f"<description>{esc(entry.summary_html)}</description>")
        if entry.content_html:
            parts.append(f"<content:encoded>{esc(entry.content_html)}</content:encoded>")
        items.append("<item>" + "".join(parts) + "</item>")
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{esc(source.name)}</title><link>https://www.{source.host}/</link>"
        f"<description>Latest news from {esc(source.name)}</description>"
        f"<language>en</language>{''.join(items)}</channel></rss>"
    )
    return _XML_INVALID.sub("", xml).encode("utf-8", "replace")


def sample_documents(documents: Sequence[Document], stories: int) -> list[Document]:
    """About `stories` stories' worth of documents, spread evenly over the run."""
    wanted = max(1, stories // ENTRIES_PER_DOCUMENT)
    step = max(1, len(documents) // wanted)
    return list(documents[::step][:wanted])


def parse_rate(bodies: Sequence[bytes], parse: Callable[[bytes], Any]) -> tuple[int, float]:
    """Entries read and seconds taken by `parse` over the documents."""
    started = time.perf_counter()
    entries = sum(len(parse(body).entries) for body in bodies)
    return entries, time.perf_counter() - started


# -- reporting ---------------------------------------------------------------------------------


def describe_lengths(lengths: Sequence[int]) -> str:
    deciles = statistics.quantiles(lengths, n=10)
    return (
        f"mean {statistics.mean(lengths):6.0f}  median {statistics.median(lengths):5.0f}  "
        f"p10 {deciles[0]:5.0f}  p90 {deciles[-1]:6.0f}  (n={len(lengths):,})"
    )


def code_version() -> str:
    """Which syndicator code ran: the commit, the files changed since, and a digest of them
    all (the product is measured as it is in the working tree)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted((root / "syndicator").rglob("*.py")):
        digest.update(path.read_bytes())
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            [*git, "status", "--porcelain", "--", "syndicator"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return f"syndicator sources sha256 {digest.hexdigest()[:12]}"
    changed = [line[3:].removeprefix("syndicator/") for line in status if line.strip()]
    dirty = f" + uncommitted {', '.join(changed)}" if changed else ""
    return f"syndicator at {head}{dirty} (sources sha256 {digest.hexdigest()[:12]})"


def memory_mb() -> tuple[float, float]:
    """The process's resident set now and at its peak (VmRSS, VmHWM), in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def file_mb(path: Path) -> float:
    return path.stat().st_size / 1e6 if path.exists() else 0.0


def count(store: Store, sql: str) -> int:
    return int(store.db.execute(sql).fetchone()[0])


def print_counts(store: Store, factory: StoryFactory) -> None:
    stories = count(store, "SELECT COUNT(*) FROM stories")
    clusters = count(store, "SELECT COUNT(*) FROM clusters")
    reasons = dict(
        store.db.execute("SELECT join_reason, COUNT(*) FROM stories GROUP BY join_reason")
    )
    joined = stories - reasons.get("first", 0)
    print(
        f"stored: {stories:,} stories in {clusters:,} clusters; "
        f"{joined:,} stories joined an existing cluster"
    )
    print("  by join_reason: " + ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items())))
    links = count(store, "SELECT COUNT(*) FROM cluster_links") // 2
    print(
        f"  related-cluster links: {links:,}; near_keys rows: "
        f"{count(store, 'SELECT COUNT(*) FROM near_keys'):,}"
    )
    cluster_of = {
        (source_id, key): cluster_id
        for source_id, key, cluster_id in store.db.execute(
            "SELECT source_id, guid_key, cluster_id FROM stories"
        )
    }
    ids = dict(zip(range(len(factory.sources)), _source_ids(store, factory.sources), strict=True))
    together = sum(
        1
        for c in factory.copies
        if cluster_of.get((ids[c.source], c.key))
        == cluster_of.get((ids[c.original_source], c.original_key))
    )
    copy_keys = {(ids[c.source], c.key) for c in factory.copies}
    other = sum(
        1
        for source_id, key, reason in store.db.execute(
            "SELECT source_id, guid_key, join_reason FROM stories WHERE join_reason != 'first'"
        )
        if (source_id, key) not in copy_keys
    )
    share = together / len(factory.copies) if factory.copies else 0.0
    print(
        f"  generated copies: {len(factory.copies):,}, in their original's cluster: "
        f"{together:,} ({share:.0%}); other stories that joined a cluster: {other:,}"
    )


def _source_ids(store: Store, sources: Sequence[BenchSource]) -> list[int]:
    ids = dict(store.db.execute("SELECT url, id FROM sources"))
    return [ids[s.url] for s in sources]


# -- the two parts -----------------------------------------------------------------------------


def build(*, record_copies: bool = True) -> tuple[Pool, StoryFactory]:
    pool = load_pool()
    rnd = random.Random(SEED)
    sources = make_sources(pool, SOURCES, rnd)
    return pool, StoryFactory(pool, sources, rnd, record_copies)


def run_throughput(stories: int, baseline_stories: int, profile: str | None) -> None:
    started = time.perf_counter()
    pool, factory = build()
    documents = list(factory.documents(stories, THROUGHPUT_SPAN))
    entries = [entry for document in documents for entry in document.entries]
    print(
        f"built {len(entries):,} stories in {len(documents):,} documents from "
        f"{len({d.source for d in documents}):,} sources in "
        f"{time.perf_counter() - started:.1f}s"
    )
    kinds = ", ".join(f"{k} {v / len(entries):.0%}" for k, v in factory.kinds.most_common())
    print(f"  from: {kinds}")
    print(f"  body length, our stories: {describe_lengths([len(body_of(e)) for e in entries])}")
    print(f"  body length, feeds-real : {describe_lengths(pool.feed_lengths)}")
    first, last = documents[0].entries[-1].published, documents[-1].entries[0].published
    assert first is not None
    assert last is not None
    print(
        f"  published over {(last - first).total_seconds() / 3600:.1f} h; "
        f"{pool.size:,} real texts, {sum(u > 1 for u in factory.uses):,} of them used again "
        "(varied)"
    )

    sample = sample_documents(documents, baseline_stories)
    bodies = [render_rss(d, factory.sources[d.source]) for d in sample]
    gc.collect()
    gc.freeze()  # the prebuilt stories are not the product's garbage to scan
    base_n, base_s = parse_rate(bodies, feedparser.parse)
    fast_n, fast_s = parse_rate(bodies, lambda b: parse_feed(b, "https://bench.example/rss"))

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        store, ingest = open_bench_store(Path(tmp) / "throughput.db", factory.sources)
        profiler = cProfile.Profile() if profile else None
        wall = time.perf_counter()
        if profiler:
            profiler.enable()
        for document in documents:
            ingest.document(document)
        ingest.close()
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - wall
        gc.unfreeze()
        print_results(ingest.timings, wall, (base_n, base_s), (fast_n, fast_s), profile)
        print_counts(store, factory)
        print(f"  database {file_mb(Path(tmp) / 'throughput.db'):,.0f} MB")
        store.close()
    if profiler and profile:
        profiler.dump_stats(profile)
        print_profile(profile)


def print_results(
    timings: Timings,
    wall: float,
    baseline: tuple[int, float],
    fast: tuple[int, float],
    profile: str | None,
) -> None:
    n = timings.stories
    ours = n / wall
    base = baseline[0] / baseline[1]
    note = "  (PROFILED: inflated timings)" if profile else ""
    print(f"\nthroughput (one process, one core; parsing excluded){note}")
    print(
        f"  ours: normalise + fingerprint + cluster + store: {n:,} stories in {wall:.1f}s "
        f"= {ours:,.0f} stories/s"
    )
    print(
        f"  bare feedparser.parse, same stories as RSS 2.0: {baseline[0]:,} stories in "
        f"{baseline[1]:.1f}s = {base:,.0f} stories/s"
    )
    print(f"  ratio ours / feedparser: {ours / base:.2f}")
    print(
        f"  (for reference, not measured above: syndicator parse_feed on those documents "
        f"{fast[0] / fast[1]:,.0f} stories/s)"
    )
    print(
        "  per story, µs: "
        f"normalise {timings.normalise / n * 1e6:.0f}, "
        f"fingerprint {timings.fingerprint / n * 1e6:.0f}, "
        f"cluster+store {timings.store / n * 1e6:.0f}, "
        f"total {wall / n * 1e6:.0f}"
    )
    verdict = "PASS" if ours >= GOAL_PER_S else "MISS"
    print(f"goal: >= {GOAL_PER_S:,} stories/s per core: {verdict} ({ours:,.0f} stories/s)")


def print_profile(path: str) -> None:
    stats = pstats.Stats(path)
    print(f"\nprofile of the timed path ({path}), top by tottime:")
    stats.sort_stats("tottime").print_stats(25)
    print("top by cumtime, syndicator code:")
    stats.sort_stats("cumtime").print_stats("syndicator/", 30)


def run_memory(window_stories: int) -> None:
    started = time.perf_counter()
    _, factory = build(record_copies=False)
    documents = factory.documents(window_stories, WINDOW_SPAN)  # built as they are stored
    print(
        f"\nmemory: {window_stories:,} stories published over "
        f"{WINDOW_SPAN.total_seconds() / 3600:.0f} h, all inside the 72 h window "
        f"(texts loaded in {time.perf_counter() - started:.1f}s)"
    )
    print(
        f"{'stories':>10} {'done':>5} {'elapsed':>8} {'path/s':>7} {'RSS MB':>7} "
        f"{'peak MB':>7} {'db MB':>8} {'wal MB':>7}"
    )
    readings = [memory_mb()[0]]  # RSS before the first story, then at every 10 %
    with tempfile.TemporaryDirectory(prefix="ingest-window-") as tmp:
        path = Path(tmp) / "window.db"
        store, ingest = open_bench_store(path, factory.sources)
        marks = deque(window_stories * k // 10 for k in range(1, 11))
        began, last_path, last_n = time.perf_counter(), 0.0, 0
        now = BASE_TIME
        for document in documents:
            ingest.document(document)
            now = document.now
            if ingest.timings.stories < marks[0]:
                continue
            ingest.close()  # a group boundary, so the file sizes are committed ones
            marks.popleft()
            t = ingest.timings
            rate = (t.stories - last_n) / (t.total - last_path)
            rss, peak = memory_mb()
            readings.append(rss)
            print(
                f"{t.stories:>10,} {100 * t.stories // window_stories:>4}% "
                f"{time.perf_counter() - began:>7.0f}s {rate:>7,.0f} {rss:>7.0f} {peak:>7.0f} "
                f"{file_mb(path):>8,.0f} {file_mb(Path(str(path) + '-wal')):>7,.0f}",
                flush=True,
            )
            last_path, last_n = t.total, t.stories
        ingest.close()
        print_window(store, now, readings, window_stories, ingest.timings)
        store.close()


def print_window(
    store: Store, now: datetime, readings: list[float], n: int, timings: Timings
) -> None:
    """The window's final counts, and how RSS moved (`readings`: before, then every 10 %)."""
    start, tenth, half, end = readings[0], readings[1], readings[5], readings[-1]
    low = int((now - store.rules.window).timestamp())
    in_window = count(store, f"SELECT COUNT(*) FROM story_fingerprints WHERE at >= {low}")
    near_keys = count(store, "SELECT COUNT(*) FROM near_keys")
    print(
        f"  stories {count(store, 'SELECT COUNT(*) FROM stories'):,}, clusters "
        f"{count(store, 'SELECT COUNT(*) FROM clusters'):,}, fingerprints in the 72 h window "
        f"{in_window:,}, near_keys rows {near_keys:,}"
    )
    print(
        f"  RSS {start:.0f} MB before the first story, {tenth:.0f} MB at 10 %, {half:.0f} MB "
        f"at 50 %, {end:.0f} MB at 100 %: {end - tenth:+.0f} MB over the last 90 % of the "
        f"stories ({(end - tenth) * 2**20 / (n - n // 10):+.1f} bytes per story), "
        f"{end - half:+.0f} MB over the last half"
    )
    print(f"  path rate over the whole window: {timings.stories / timings.total:,.0f} stories/s")


# -- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=None, help="throughput stories (100,000)")
    parser.add_argument("--window-stories", type=int, default=None, help="memory part (1,000,000)")
    parser.add_argument("--baseline-stories", type=int, default=None, help="feedparser sample")
    parser.add_argument("--quick", action="store_true", help="10,000 and 50,000 stories")
    parser.add_argument("--skip-memory", action="store_true", help="throughput part only")
    parser.add_argument("--memory-only", action="store_true", help="memory part only")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the throughput path")
    args = parser.parse_args(argv)
    stories = args.stories or (10_000 if args.quick else 100_000)
    window = args.window_stories or (50_000 if args.quick else 1_000_000)
    baseline = args.baseline_stories or min(stories, 2_000 if args.quick else 10_000)
    if not FEEDS_REAL.is_dir():
        print(f"corpus not found at {SHARED}", file=sys.stderr)
        return 1
    print(
        f"python {sys.version.split()[0]}, feedparser {feedparser.__version__}, "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    print(code_version())
    if args.memory_only:
        started = time.perf_counter()
        run_memory(window)
        print(f"memory part took {time.perf_counter() - started:.0f}s")
        return 0
    started = time.perf_counter()
    run_throughput(stories, baseline, args.profile)
    print(
        f"throughput part took {time.perf_counter() - started:.0f}s; "
        f"load average now {os.getloadavg()[0]:.2f}"
    )
    if not args.skip_memory:
        # A fresh process, so the throughput part's freed memory cannot hide any growth.
        sys.stdout.flush()
        command = [sys.executable, __file__, "--memory-only", "--window-stories", str(window)]
        return subprocess.run(command, check=False).returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
