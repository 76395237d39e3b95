"""Does a faster parser read our corpus the way feedparser does, and how much faster is it?

Parses every RSS/Atom/RDF document of ../shared/corpus/feeds-real/ (recursively; gzip bodies
are inflated) and prints two sections. The first is the record of a rejected candidate; the
second measures what syndicator runs.

1. fastfeedparser vs feedparser (skipped, with a message, when fastfeedparser is not
   installed). Both in one process; printed:

* the documents: well-formed (feedparser bozo == 0) or not, rejected by fastfeedparser (it
  raised), and those feedparser finds no feed in (format unsupported);
* per-entry agreement on id, link, title, published, author and body for the well-formed
  documents both parse, in two views (below); entries are paired by position, or by
  id/link/title where the two entry counts differ;
* the causes of every disagreement (--verbose: examples), the same agreement on ill-formed
  documents for information, and feed-level title/link/language/ttl;
* throughput, best of --rounds over the same documents in this process, for feedparser as
  configured by default, feedparser without sanitizer and URI resolution, fastfeedparser,
  and the fast path as it would run (an lxml strict parse picks fastfeedparser or feedparser);
* the decision: the fast path if the adapted overall entry agreement reaches THRESHOLD.

The feedparser side is what syndicator.parsing makes of it (ParsedEntry semantics): id,
link, title (HTML decoded), published_parsed, author, body = content[0] or summary, the
precedence normalize_entry uses. Values are compared for meaning: text tag-stripped,
entity-decoded, whitespace-collapsed and NFC; dates to the second in UTC.

* raw: fastfeedparser's fields read one to one (id, link, title, published, author,
  content[0] or description).
* adapted: what a thin adapter over fastfeedparser's output can reach, and the decision's
  basis. Both sides get the same representation rules: a date is `published or updated`
  (what normalize_entry reads; the libraries file dc:date and Atom-updated-only entries
  under different keys), an author is a name ("email (Name)" and "Name (email)" both become
  Name; feedparser appends the email to Atom author names). The adapter also drops the id
  fastfeedparser invents from the link when the document has no id-bearing element at all.

2. syndicator's own fast path (syndicator.fastparse, reached through
   syndicator.parsing.parse_feed(fast=True)) vs parse_feed(fast=False), i.e. feedparser,
   over the same documents, with the base URL SYNDICATOR_URL and no response headers, as
   the daemon calls it. Here nothing is normalised: the fast path exists to return the very
   same ParsedEntry values, so values are compared exactly. Printed:

* the documents the fast path accepts and those it declines (falling back to feedparser),
  with the reasons for declining (fastparse.Declined messages and the checks read_feed makes
  before reading: encodings, XML well-formedness, DOCTYPE, root element), and how many of
  the declined ones feedparser finds no feed in either;
* per-field agreement of the entries of the accepted documents (paired by position) on
  every ParsedEntry field, the exact-entry agreement (all fields equal), feed-level fields,
  and --verbose examples of every disagreement;
* throughput in entries/s, best of --rounds: parse_feed(fast=False) and parse_feed(fast=True)
  on the accepted documents, and parse_feed(fast=True) on all documents (fast path plus
  feedparser fallback) next to parse_feed(fast=False) on all documents;
* the decision: the fast path is adopted if the exact entry agreement reaches THRESHOLD.

Usage: python benchmarks/parser_agreement.py [--verbose] [--examples N] [--rounds N]
    [--no-core] [--section {all,fastfeedparser,syndicator}]
(--no-core: fastfeedparser without its native extractor, i.e. its pure lxml path.)
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import gzip
import html
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
from lxml import etree

from syndicator import fastparse
from syndicator.errors import ParseError
from syndicator.models import ParsedEntry, ParsedFeed
from syndicator.parsing import FEEDPARSER_RULES, parse_feed

try:  # the rejected candidate: its section is skipped when it is not installed
    import fastfeedparser
    import fastfeedparser.main as ffp_main
except ImportError as error:
    fastfeedparser = None
    ffp_main = None
    FASTFEEDPARSER_MISSING: str | None = f"{type(error).__name__}: {error}"
else:
    FASTFEEDPARSER_MISSING = None

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds-real"
SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf"})
HEADERS = {"content-type": "application/xml"}  # what parse_feed passes when none came
THRESHOLD = 99.5
ROUNDS = 3
SYNDICATOR_URL = "https://example.com/feed/"  # the feed URL: the base of relative links
ENTRY_FIELDS = tuple(ParsedEntry.__dataclass_fields__)  # guid, link, title, ... language
FEED_FIELDS = (
    "title", "link", "language", "ttl_minutes", "update_period", "update_frequency", "warning",
)  # fmt: skip
FIELDS = ("id", "link", "title", "published", "author", "body")
# Markers of an element that carries an entry id; without any, fastfeedparser's ids are links.
ID_MARKERS = (b"<guid", b":guid", b"<id>", b"<id ", b":id>", b"rdf:about")
_EMAIL_AND_NAME = re.compile(r"^\S+@\S+\s+\((.+)\)$")
_NAME_AND_EMAIL = re.compile(r"^(.+?)\s+\((?:mailto:)?\S+@\S+\)$")
_STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)

Row = dict[str, Any]


# --- documents and parsers -------------------------------------------------------------------


def documents() -> list[tuple[str, bytes]]:
    paths = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    docs = []
    for path in paths:
        body = path.read_bytes()
        if body.startswith(b"\x1f\x8b"):
            body = gzip.decompress(body)
        docs.append((str(path.relative_to(CORPUS)), body))
    return docs


def fp_parse(body: bytes) -> Any:
    """feedparser as the fast-path fallback would run it: no sanitizer, no URI resolution."""
    return feedparser.parse(
        body, response_headers=HEADERS, sanitize_html=False, resolve_relative_uris=False
    )


def fp_parse_default(body: bytes) -> Any:
    return feedparser.parse(body, response_headers=HEADERS)


def ffp_parse(body: bytes) -> Any:
    return fastfeedparser.parse(body)


def lxml_well_formed(body: bytes) -> bool:
    try:
        etree.fromstring(body, parser=_STRICT)
    except etree.XMLSyntaxError:
        return False
    return True


def gated(body: bytes) -> Any:
    """The fast path as it would run: lxml's strict parse decides which parser reads it."""
    return ffp_parse(body) if lxml_well_formed(body) else fp_parse(body)


# --- normalisation ---------------------------------------------------------------------------


class _Text(HTMLParser):
    """Text of an HTML fragment, every tag boundary a space, scripts and styles dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skip:
            self._skip -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(markup: object) -> str:
    """Meaning, not bytes: tags stripped, entities decoded, whitespace collapsed, NFC."""
    if not markup:
        return ""
    parser = _Text()
    try:
        parser.feed(str(markup))
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # HTMLParser on hostile input: a regex strip will do
        text = html.unescape(re.sub(r"<[^>]*>", " ", str(markup)))
    return " ".join(unicodedata.normalize("NFC", text).split())


def author_as_parsed(value: object) -> str:
    """As syndicator.parsing reads an author: RSS 2.0 "email (Name)" becomes Name."""
    author = str(value or "").strip()
    match = _EMAIL_AND_NAME.match(author)
    return match.group(1).strip() if match else author


def author_name(value: object) -> str:
    """The name alone: also "Name (email)", which feedparser makes of Atom name + email."""
    author = author_as_parsed(value)
    match = _NAME_AND_EMAIL.match(author)
    return match.group(1).strip() if match else author


def stripped(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def fp_date(parsed: time.struct_time | None) -> datetime | None:
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def ffp_date(value: object) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.replace(microsecond=0)


# --- the views of an entry -------------------------------------------------------------------
# Keys starting with "_" are context for `cause`, never compared.


def fp_row(raw: Any) -> Row:
    """What syndicator.parsing makes of a feedparser entry, in comparable form."""
    content = raw.get("content") or []
    first = str(content[0].get("value", "")) if content else ""
    title_type = (raw.get("title_detail") or {}).get("type", "")
    return {
        "id": stripped(raw.get("id")),
        "link": stripped(raw.get("link")),
        "title": text_of(raw.get("title", "")),
        "published": fp_date(raw.get("published_parsed")),
        "author": author_as_parsed(raw.get("author")),
        "body": text_of(first or raw.get("summary", "")),
        "_updated": fp_date(dict.get(raw, "updated_parsed")),
        "_summary": text_of(raw.get("summary", "")),
        "_title_type": title_type,
        "_author_name": str((raw.get("author_detail") or {}).get("name", "") or ""),
    }


def ffp_row(raw: Any) -> Row:
    """fastfeedparser's entry read field for field, no adaptation."""
    content = raw.get("content") or []
    first = str(content[0].get("value", "")) if content else ""
    media = raw.get("media_content") or []
    return {
        "id": stripped(raw.get("id")),
        "link": stripped(raw.get("link")),
        "title": text_of(raw.get("title", "")),
        "published": ffp_date(raw.get("published")),
        "author": author_as_parsed(raw.get("author")),
        "body": text_of(first or raw.get("description", "")),
        "_updated": ffp_date(raw.get("updated")),
        "_description": text_of(raw.get("description", "")),
        "_links": {str(link.get("href", "")) for link in raw.get("links") or []},
        "_media_text": {text_of(m.get("description", "")) for m in media if isinstance(m, dict)},
    }


def adapt_fp(row: Row) -> Row:
    return {
        **row,
        "published": row["published"] or row["_updated"],
        "author": author_name(row["author"]),
    }


def adapt_ffp(row: Row, has_ids: bool) -> Row:
    adapted = {
        **row,
        "published": row["published"] or row["_updated"],
        "author": author_name(row["author"]),
    }
    if not has_ids and row["id"] is not None and row["id"] == row["link"]:
        adapted["id"] = None  # fastfeedparser's own fallback, not an id from the document
    return adapted


def pair(fp_entries: Sequence[Any], ffp_entries: Sequence[Any]) -> list[tuple[Any, Any | None]]:
    """Pairs by position; where the counts differ, by id, then link, then title."""
    if len(fp_entries) == len(ffp_entries):
        return list(zip(fp_entries, ffp_entries, strict=True))
    unused = list(ffp_entries)
    pairs: list[tuple[Any, Any | None]] = []
    for raw in fp_entries:
        match = None
        for key in ("id", "link", "title"):
            value = stripped(raw.get(key))
            match = next((o for o in unused if value and stripped(o.get(key)) == value), None)
            if match is not None:
                unused.remove(match)
                break
        pairs.append((raw, match))
    return pairs


# --- causes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """What `cause` needs to know about the document an entry came from."""

    version: str  # feedparser's: rss20, rss10, atom10, ...
    extensions: bool  # has itunes:summary or media:description, text feedparser promotes


def cause(name: str, fp: Row, ffp: Row | None, doc: Doc) -> str:
    """Why one field disagrees; the categories come from reading the corpus's examples."""
    if ffp is None:
        if not any(fp[key] for key in ("id", "link", "title", "body")):
            return "feedparser makes an empty entry (nested <item/>); ffp has none [fp wrong]"
        return "fastfeedparser has no such entry [ffp lost it]"
    explain: dict[str, Callable[[Row, Row, Doc], str]] = {
        "id": _id_cause,
        "link": _link_cause,
        "title": _title_cause,
        "published": _date_cause,
        "author": _author_cause,
        "body": _body_cause,
    }
    return explain[name](fp, ffp, doc)


def _id_cause(fp: Row, ffp: Row, doc: Doc) -> str:
    ours, theirs = fp["id"], ffp["id"]
    if ours is None and theirs == ffp["link"]:
        return "ffp falls back to the link as id [representation; dedup key changes]"
    if ours and theirs and ours != theirs and ours.endswith(theirs):
        return "feedparser resolves a non-URL Atom id against xml:base [fp wrong]"
    return "different id"


def _link_cause(fp: Row, ffp: Row, doc: Doc) -> str:
    ours, theirs = fp["link"], ffp["link"]
    if ours is None and theirs == ffp["id"]:
        return "ffp takes the link from a guid marked isPermaLink=false [ffp wrong]"
    if ours is not None and ours == fp["id"]:
        return "no text/html alternate link: feedparser uses the id, ffp a link [fp wrong]"
    if theirs is None and ours in ffp["_links"]:
        return "atom:link without rel=alternate in an RSS item not used as link [ffp wrong]"
    if theirs is None:
        return "atom:link ahead of <link>, or empty href, hides the link from ffp [ffp wrong]"
    if ours and ours.endswith(theirs.lstrip("./")):
        return "relative link not resolved against xml:base [representation]"
    return "different link"


def _title_cause(fp: Row, ffp: Row, doc: Doc) -> str:
    if not ffp["title"] and "xhtml" in fp["_title_type"]:
        return "xhtml-typed title: ffp reads only the element's own text [ffp wrong]"
    return "different title"


def _date_cause(fp: Row, ffp: Row, doc: Doc) -> str:
    ours, theirs = fp["published"], ffp["published"]
    if ours is None and theirs is not None and theirs in (fp["_updated"], ffp["_updated"]):
        return "dc:date / Atom updated filed as updated (fp) vs published (ffp) [representation]"
    if ours is None:
        return "only ffp parses the date (non-English day/month names) [fp wrong]"
    if theirs is None:
        return "only feedparser parses the date"
    if ours.date() != theirs.date():
        return "feedparser misreads a Y/M/D date (2020/1/10 -> 2020-11-01) [fp wrong]"
    return "different date"


def _author_cause(fp: Row, ffp: Row, doc: Doc) -> str:
    ours, theirs = fp["author"], ffp["author"]
    if not theirs and fp["_author_name"]:
        return "<author> with child elements in an RSS item: ffp reads its text [ffp wrong]"
    if not ours and theirs:
        return "feedparser loses the author (a second, empty <author>) [fp wrong]"
    if author_name(ours) == author_name(theirs):
        return "feedparser appends (email) to Atom author names [representation]"
    return "different author"


def _body_cause(fp: Row, ffp: Row, doc: Doc) -> str:
    ours, theirs = fp["body"], ffp["body"]
    if doc.version == "rss10" and theirs and theirs == fp["_summary"]:
        return "RSS 1.0 content:encoded ignored by ffp (description used) [ffp wrong]"
    if doc.version == "rss10" and not theirs:
        return "RSS 1.0 content:encoded or dc:description only: ffp has no body [ffp wrong]"
    if not ours and theirs:
        return "feedparser drops an escaped whole <html> document in description [fp wrong]"
    if not theirs and ours in ffp["_media_text"]:
        return "body only in media:description: ffp keeps it in media_content [ffp choice]"
    if doc.extensions or theirs == fp["_summary"]:
        return (
            "feedparser prefers a second text (itunes:summary, media:description,"
            " <og><description>) to the description [precedence]"
        )
    if ours.startswith(theirs):
        return "markup inside an unescaped <description>: ffp reads only text [ffp wrong]"
    return "different body"


# --- the comparison --------------------------------------------------------------------------


@dataclass
class Tally:
    entries: int = 0
    agree: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    causes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[str, list[tuple[str, object, object]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, name: str, ours: Row, theirs: Row | None, doc: Doc, limit: int) -> None:
        self.entries += 1
        all_agree = True
        for key in FIELDS:
            if theirs is not None and ours[key] == theirs[key]:
                self.fields[key] += 1
                continue
            all_agree = False
            self.causes[key][cause(key, ours, theirs, doc)] += 1
            if len(self.examples[key]) < limit:
                their_value = theirs[key] if theirs is not None else "<no entry>"
                self.examples[key].append((name, ours[key], their_value))
        self.agree += all_agree

    def pct(self, count: int) -> str:
        return f"{100 * count / self.entries:6.2f}%" if self.entries else "   n/a"


@dataclass
class Report:
    docs: int = 0
    well_formed: int = 0
    ill_formed: int = 0
    unsupported: int = 0  # feedparser found no feed version and no entries
    rejected: Counter[str] = field(default_factory=Counter)
    rejections: list[tuple[str, str]] = field(default_factory=list)
    count_mismatch: list[tuple[str, str, int, int]] = field(default_factory=list)
    gate: Counter[str] = field(default_factory=Counter)
    raw: Tally = field(default_factory=Tally)
    adapted: Tally = field(default_factory=Tally)
    ill: Tally = field(default_factory=Tally)
    feed_docs: int = 0
    feed_fields: Counter[str] = field(default_factory=Counter)
    feed_examples: dict[str, list[tuple[str, object, object]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def compare(docs: list[tuple[str, bytes]], limit: int) -> Report:
    report = Report()
    for name, body in docs:
        report.docs += 1
        fp = fp_parse(body)
        version = str(fp.get("version") or "")
        supported = bool(version) or bool(fp.entries)
        well_formed = supported and not fp.get("bozo")
        kind = "well-formed" if well_formed else "ill-formed" if supported else "unsupported"
        if supported:
            strict = lxml_well_formed(body)
            report.gate[f"{kind:<11} / lxml strict {'accepts' if strict else 'rejects'}"] += 1
        try:
            ffp = ffp_parse(body)
        except Exception as e:
            ffp = None
            report.rejected[kind] += 1
            report.rejections.append((name, f"{type(e).__name__}: {str(e)[:90]}"))
        if kind == "unsupported":
            report.unsupported += 1
            continue
        report.well_formed += well_formed
        report.ill_formed += not well_formed
        if ffp is None:
            continue
        ffp_entries = list(ffp.get("entries", []))
        if len(fp.entries) != len(ffp_entries):
            report.count_mismatch.append((name, kind, len(fp.entries), len(ffp_entries)))
        has_ids = any(marker in body for marker in ID_MARKERS)
        doc = Doc(version, b"itunes:summary" in body or b"media:description" in body)
        for raw, other in pair(fp.entries, ffp_entries):
            ours = fp_row(raw)
            theirs = ffp_row(other) if other is not None else None
            adapted = adapt_ffp(theirs, has_ids) if theirs is not None else None
            if well_formed:
                report.raw.add(name, ours, theirs, doc, limit)
                report.adapted.add(name, adapt_fp(ours), adapted, doc, limit)
            else:
                report.ill.add(name, adapt_fp(ours), adapted, doc, limit)
        if well_formed:
            compare_feed(report, name, fp, ffp, limit)
    return report


def compare_feed(report: Report, name: str, fp: Any, ffp: Any, limit: int) -> None:
    ours, theirs = fp.feed, ffp.get("feed", {})
    report.feed_docs += 1
    pairs = {
        "title": (text_of(ours.get("title", "")), text_of(theirs.get("title", ""))),
        "link": (str(ours.get("link", "")), str(theirs.get("link", "") or "")),
        "language": (str(ours.get("language", "")), str(theirs.get("language", "") or "")),
        "ttl": (str(ours.get("ttl", "")), str(theirs.get("ttl", "") or "")),
    }
    for key, (a, b) in pairs.items():
        if a == b:
            report.feed_fields[key] += 1
        elif len(report.feed_examples[key]) < limit:
            report.feed_examples[key].append((name, a, b))


# --- throughput ------------------------------------------------------------------------------


def best_of(function: Callable[[bytes], object], bodies: list[bytes], rounds: int) -> float:
    timings = []
    for _ in range(max(rounds, 1)):
        start = time.perf_counter()
        for body in bodies:
            with contextlib.suppress(Exception):
                function(body)
        timings.append(time.perf_counter() - start)
    return min(timings)


# --- printing --------------------------------------------------------------------------------


def short(value: object, width: int = 110) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "n/a"


def print_documents(report: Report, verbose: bool) -> None:
    rejected = sum(report.rejected.values())
    print("\nDocuments")
    print(f"  total                                 {report.docs}")
    print(f"  well-formed (feedparser bozo == 0)    {report.well_formed}")
    print(f"  ill-formed (bozo == 1)                {report.ill_formed}")
    print(f"  format unsupported (feedparser: none) {report.unsupported}")
    print(
        f"  rejected by fastfeedparser (raised)   {rejected}  ("
        + ", ".join(f"{kind} {count}" for kind, count in sorted(report.rejected.items()))
        + ")"
    )
    print(f"  entry counts differ                   {len(report.count_mismatch)}")
    for name, kind, a, b in report.count_mismatch:
        print(f"      {name} ({kind}): feedparser {a}, fastfeedparser {b}")
    print("  feedparser's verdict vs an lxml strict parse:")
    for key, count in sorted(report.gate.items()):
        print(f"      {key}  {count}")
    if verbose:
        for name, reason in report.rejections:
            print(f"      rejected {name}: {reason}")


def print_tally(title: str, tally: Tally) -> None:
    print(f"\n{title}: {tally.entries} entries")
    for name in FIELDS:
        print(f"  {name:<10} {tally.pct(tally.fields[name])}  ({tally.fields[name]})")
    print(f"  {'ENTRY':<10} {tally.pct(tally.agree)}  ({tally.agree})  all six fields agree")


def print_causes(title: str, tally: Tally, verbose: bool) -> None:
    print(f"\nDisagreements by cause ({title}):")
    for name in FIELDS:
        for reason, count in tally.causes[name].most_common():
            print(f"  {name:<10} {count:5d}  {reason}")
        if verbose:
            for doc, ours, theirs in tally.examples[name]:
                print(f"      {doc}")
                print(f"        feedparser:     {short(ours)}")
                print(f"        fastfeedparser: {short(theirs)}")


def print_feed_level(report: Report, verbose: bool) -> None:
    print(f"\nFeed level, well-formed documents both parse ({report.feed_docs}):")
    for key in ("title", "link", "language", "ttl"):
        print(f"  {key:<10} {pct(report.feed_fields[key], report.feed_docs)}")
        if verbose:
            for name, a, b in report.feed_examples[key]:
                print(f"      {name}: feedparser {short(a, 50)}, fastfeedparser {short(b, 50)}")


def print_throughput(docs: list[tuple[str, bytes]], rounds: int, core: str) -> None:
    bodies = [body for _, body in docs]
    items = sum(len(fp_parse(body).entries) for body in bodies)
    megabytes = sum(len(body) for body in bodies) / 1e6
    print(
        f"\nThroughput, best of {rounds}, {len(bodies)} documents, {megabytes:.1f} MB, "
        f"{items} items (feedparser's count, used for every row)"
    )
    runs: list[tuple[str, Callable[[bytes], object]]] = [
        ("feedparser, default", fp_parse_default),
        ("feedparser, sanitizer + URI resolution off", fp_parse),
        (f"fastfeedparser ({core})", ffp_parse),
        ("lxml strict parse alone (the gate)", lxml_well_formed),
        ("gate + fastfeedparser, feedparser if ill-formed", gated),
    ]
    for label, function in runs:
        seconds = best_of(function, bodies, rounds)
        print(
            f"  {label:<48} {items / seconds:>9,.0f} items/s"
            f"  {megabytes / seconds:>7.1f} MB/s  ({seconds:.3f} s)"
        )


# --- 2. syndicator's fast path --------------------------------------------------------------


def syndicator_headers() -> dict[str, str]:
    """What parse_feed hands read_feed for a response without headers."""
    return {"content-location": SYNDICATOR_URL, "content-type": "application/xml"}


def fast_parse(body: bytes) -> ParsedFeed:
    return parse_feed(body, SYNDICATOR_URL, {}, fast=True)


def slow_parse(body: bytes) -> ParsedFeed:
    return parse_feed(body, SYNDICATOR_URL, {}, fast=False)


@contextlib.contextmanager
def recording_declines() -> Iterator[list[str]]:
    """The messages of the fastparse.Declined raised by the reader while in the block (the
    reader is internal: without it, declines are explained by read_feed's checks alone)."""
    raised: list[str] = []
    reader = getattr(fastparse, "_Reader", None)
    original = getattr(reader, "feed", None)
    if reader is None or original is None:
        yield raised
        return

    def feed(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        except fastparse.Declined as e:
            raised.append(str(e))
            raise

    reader.feed = feed
    try:
        yield raised
    finally:
        reader.feed = original


def decline_reason(body: bytes, raised: list[str]) -> str | None:
    """None when the fast path reads `body`; else why it declines: the fastparse.Declined the
    reader raised, or the check read_feed makes before reading that failed."""
    headers = syndicator_headers()
    raised.clear()
    if fastparse.read_feed(body, SYNDICATOR_URL, headers, FEEDPARSER_RULES) is not None:
        return None
    if raised:
        return f"declined: {raised[0]}"
    return _precheck_reason(body, headers)


def _precheck_reason(body: bytes, headers: dict[str, str]) -> str:
    encodings_agree = getattr(fastparse, "_encodings_agree", None)
    if encodings_agree is not None and not encodings_agree(body, headers):
        return "encoding: UTF-16/32, or a charset the declaration does not match"
    if any(odd in body for odd in getattr(fastparse, "_ODD_CASE_ENTRIES", ())):
        return "<Item>/<Entry> in odd case"
    try:
        root = etree.fromstring(body, parser=_STRICT)
    except etree.XMLSyntaxError:
        return "not well-formed XML (lxml)"
    if root.getroottree().docinfo.doctype:
        return "DOCTYPE"
    tag = root.tag if isinstance(root.tag, str) else "?"
    return f"root element {tag}"


@dataclass
class FastTally:
    """syndicator's fast path against feedparser over the corpus."""

    docs: int = 0
    readable: int = 0  # parse_feed(fast=False) returned a feed
    accepted: list[tuple[str, bytes]] = field(default_factory=list)
    declined: Counter[str] = field(default_factory=Counter)
    declined_not_feeds: int = 0  # declined, and feedparser finds no feed either
    accepted_not_feeds: list[str] = field(default_factory=list)  # must stay empty
    count_mismatch: list[tuple[str, int, int]] = field(default_factory=list)
    entries: int = 0
    agree: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    feed_fields: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[tuple[str, object, object]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def note(self, key: str, name: str, ours: object, theirs: object, limit: int) -> None:
        if len(self.examples[key]) < limit:
            self.examples[key].append((name, ours, theirs))


def compare_fast_path(docs: list[tuple[str, bytes]], limit: int) -> FastTally:
    tally = FastTally()
    with recording_declines() as raised:
        for name, body in docs:
            compare_document(tally, name, body, raised, limit)
    return tally


def compare_document(
    tally: FastTally, name: str, body: bytes, raised: list[str], limit: int
) -> None:
    tally.docs += 1
    try:
        slow: ParsedFeed | None = slow_parse(body)
    except ParseError:
        slow = None
    tally.readable += slow is not None
    reason = decline_reason(body, raised) if body.strip() else "empty body"
    if reason is not None:
        tally.declined[reason] += 1
        tally.declined_not_feeds += slow is None
        return
    tally.accepted.append((name, body))
    if slow is None:
        tally.accepted_not_feeds.append(name)
        return
    fast = fast_parse(body)
    for key in FEED_FIELDS:
        ours, theirs = getattr(fast, key), getattr(slow, key)
        if ours == theirs:
            tally.feed_fields[key] += 1
        else:
            tally.note(f"feed {key}", name, ours, theirs, limit)
    if len(fast.entries) != len(slow.entries):
        tally.count_mismatch.append((name, len(fast.entries), len(slow.entries)))
    tally.entries += len(slow.entries)
    for ours_entry, theirs_entry in zip(fast.entries, slow.entries, strict=False):
        all_agree = True
        for key in ENTRY_FIELDS:
            ours, theirs = getattr(ours_entry, key), getattr(theirs_entry, key)
            if ours == theirs:
                tally.fields[key] += 1
            else:
                all_agree = False
                tally.note(key, name, ours, theirs, limit)
        tally.agree += all_agree


def print_fast_path(tally: FastTally, verbose: bool) -> None:
    declined = sum(tally.declined.values())
    print("\nDocuments")
    print(f"  total                                   {tally.docs}")
    print(f"  feedparser reads a feed (fast=False)    {tally.readable}")
    print(
        f"  accepted by the fast path               {len(tally.accepted)}"
        f"  ({pct(len(tally.accepted), tally.readable)} of those feedparser reads)"
    )
    print(
        f"  declined (parse_feed falls back)        {declined}"
        f"  ({tally.declined_not_feeds} of them no feed for feedparser either)"
    )
    print(f"  accepted, but no feed for feedparser    {len(tally.accepted_not_feeds)}")
    for name in tally.accepted_not_feeds:
        print(f"      {name}")
    print(f"  entry counts differ                     {len(tally.count_mismatch)}")
    for name, fast_count, slow_count in tally.count_mismatch:
        print(f"      {name}: fast path {fast_count}, feedparser {slow_count}")
    print("  declined, by reason:")
    for reason, count in tally.declined.most_common():
        print(f"      {count:4d}  {reason}")

    feed_docs = len(tally.accepted) - len(tally.accepted_not_feeds)
    print(f"\nFeed level, accepted documents ({feed_docs}):")
    for key in FEED_FIELDS:
        print(f"  {key:<16} {pct(tally.feed_fields[key], feed_docs):>7}")

    print(f"\nEntries of the accepted documents: {tally.entries} (feedparser's count)")
    for key in ENTRY_FIELDS:
        print(f"  {key:<16} {pct(tally.fields[key], tally.entries):>7}  ({tally.fields[key]})")
    print(
        f"  {'ENTRY':<16} {pct(tally.agree, tally.entries):>7}  ({tally.agree})  every field equal"
    )
    disagreements = {key: values for key, values in tally.examples.items() if values}
    if disagreements and verbose:
        print("\nDisagreements (examples):")
        for key, examples in disagreements.items():
            for name, ours, theirs in examples:
                print(f"  {key}  {name}")
                print(f"      fast path:  {short(ours)}")
                print(f"      feedparser: {short(theirs)}")
    elif disagreements:
        print("  (--verbose: examples of the disagreements)")


def print_fast_path_throughput(
    docs: list[tuple[str, bytes]], accepted: list[tuple[str, bytes]], rounds: int
) -> None:
    def entries(bodies: list[bytes]) -> int:
        total = 0
        for body in bodies:
            with contextlib.suppress(ParseError):
                total += len(slow_parse(body).entries)
        return total

    all_bodies = [body for _, body in docs]
    fast_bodies = [body for _, body in accepted]
    all_entries, fast_entries = entries(all_bodies), entries(fast_bodies)
    print(
        f"\nThroughput, best of {rounds}: {len(fast_bodies)} accepted documents "
        f"({fast_entries} entries), {len(all_bodies)} documents in all ({all_entries} entries);"
        " feedparser's entry counts for every row"
    )
    runs: list[tuple[str, Callable[[bytes], object], list[bytes], int]] = [
        ("parse_feed(fast=False), accepted documents", slow_parse, fast_bodies, fast_entries),
        ("parse_feed(fast=True), accepted documents", fast_parse, fast_bodies, fast_entries),
        ("parse_feed(fast=False), all documents", slow_parse, all_bodies, all_entries),
        ("parse_feed(fast=True), all documents (mixed)", fast_parse, all_bodies, all_entries),
    ]
    rates = []
    for label, function, bodies, count in runs:
        seconds = best_of(function, bodies, rounds)
        rates.append(count / seconds)
        megabytes = sum(len(body) for body in bodies) / 1e6
        print(
            f"  {label:<46} {rates[-1]:>9,.0f} entries/s"
            f"  {megabytes / seconds:>6.1f} MB/s  ({seconds:.3f} s)"
        )
    print(
        f"  speed-up of fast=True: {rates[1] / rates[0]:.2f}x on the accepted documents, "
        f"{rates[3] / rates[2]:.2f}x on all documents"
    )


def syndicator_section(docs: list[tuple[str, bytes]], opts: argparse.Namespace) -> None:
    print(
        f"\n=== 2. syndicator's fast path: parse_feed(fast=True) vs parse_feed(fast=False) ===\n"
        f"feedparser {feedparser.__version__}, lxml {etree.__version__}, "
        f"{len(docs)} documents under {CORPUS}, base URL {SYNDICATOR_URL}"
    )
    tally = compare_fast_path(docs, opts.examples)
    print_fast_path(tally, opts.verbose)
    if opts.rounds > 0:
        print_fast_path_throughput(docs, tally.accepted, opts.rounds)
    overall = 100 * tally.agree / tally.entries if tally.entries else 0.0
    if overall >= THRESHOLD and not tally.accepted_not_feeds:
        verdict = "fast path adopted: parse_feed(fast=True), feedparser for what it declines"
    else:
        verdict = "fast path not adopted: parse_feed(fast=False) only"
    print(f"\nDecision: exact entry agreement {overall:.2f}% vs {THRESHOLD}% -> {verdict}")


def fastfeedparser_section(docs: list[tuple[str, bytes]], opts: argparse.Namespace) -> None:
    if fastfeedparser is None or ffp_main is None:
        print(f"\n[fastfeedparser section skipped: {FASTFEEDPARSER_MISSING}]")
        return
    if opts.no_core:
        ffp_main._core = None
    core = "native core" if ffp_main._core is not None else "lxml path"
    print(
        f"\n=== 1. fastfeedparser vs feedparser ===\n"
        f"feedparser {feedparser.__version__}, fastfeedparser {fastfeedparser.__version__} "
        f"({core}), {len(docs)} documents under {CORPUS}"
    )
    report = compare(docs, opts.examples)
    print_documents(report, opts.verbose)
    print_tally("Well-formed documents, raw mapping", report.raw)
    print_tally("Well-formed documents, adapted (the decision's basis)", report.adapted)
    print_tally(
        "Ill-formed documents, adapted (information only; they go to feedparser)", report.ill
    )
    print_feed_level(report, opts.verbose)
    print_causes("raw", report.raw, opts.verbose)
    print_causes("adapted", report.adapted, opts.verbose)
    print_causes("ill-formed, adapted", report.ill, opts.verbose)
    if opts.rounds > 0:
        print_throughput(docs, opts.rounds, core)

    tally = report.adapted
    overall = 100 * tally.agree / tally.entries if tally.entries else 0.0
    if overall >= THRESHOLD:
        verdict = "fast path: fastfeedparser, feedparser for what it rejects or is ill-formed"
    else:
        verdict = "keep feedparser (sanitizer off) in a process pool"
    print(f"\nDecision: adapted entry agreement {overall:.2f}% vs {THRESHOLD}% -> {verdict}")


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="faster parsers vs feedparser on the corpus")
    parser.add_argument("--verbose", action="store_true", help="print example disagreements")
    parser.add_argument("--examples", type=int, default=10, help="examples per field")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timing rounds (best of)")
    parser.add_argument("--no-core", action="store_true", help="fastfeedparser's lxml path")
    parser.add_argument(
        "--section",
        choices=("all", "fastfeedparser", "syndicator"),
        default="all",
        help="which comparison to run (default: both)",
    )
    opts = parser.parse_args(list(argv) if argv is not None else None)

    docs = documents()
    if opts.section in ("all", "fastfeedparser"):
        fastfeedparser_section(docs, opts)
    if opts.section in ("all", "syndicator"):
        syndicator_section(docs, opts)


if __name__ == "__main__":
    main()
