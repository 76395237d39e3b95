"""Does fastfeedparser read our corpus the way feedparser does, and how much faster is it?

Parses every RSS/Atom/RDF document of ../shared/corpus/feeds-real/ (recursively; gzip bodies
are inflated) with feedparser and with fastfeedparser, in one process, and prints:

* the documents: well-formed (feedparser bozo == 0) or not, rejected by fastfeedparser (it
  raised), and formats feedparser does not recognise as a feed at all;
* for the well-formed documents both parse, per-entry agreement (entries paired by position)
  on id, link, title, published, author and body, each compared for meaning: text is compared
  as tag-stripped, entity-decoded, whitespace-collapsed text and dates to the second in UTC;
* the same agreement through a thin adapter (`adapted`: our own mapping of fastfeedparser's
  output onto ParsedEntry, as an integration would do it);
* throughput (best of ROUNDS, same documents) for feedparser as configured by default,
  feedparser without its sanitizer and URI resolution, and fastfeedparser;
* the decision: the fast path if the overall entry agreement reaches THRESHOLD.

The raw view maps fastfeedparser's fields one to one (id, link, title, published, author,
content[0] else description); the adapted view is what the decision is based on, and its
rules are in `adapt`. Both compare against what syndicator.parsing makes of feedparser's
output (author "email (Name)" read as Name, HTML-typed titles decoded).

Usage: python benchmarks/parser_agreement.py [--verbose] [--examples N] [--rounds N]
       [--no-core]   (disable fastfeedparser's native extractor: the pure-lxml path)
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import html
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import fastfeedparser
import fastfeedparser.main as ffp_main
import feedparser
from lxml import etree

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds-real"
SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf"})
HEADERS = {"content-type": "application/xml"}  # what parse_feed passes when none came
THRESHOLD = 99.5
ROUNDS = 3
FIELDS = ("id", "link", "title", "published", "author", "body")
_EMAIL_AND_NAME = re.compile(r"^\S+@\S+\s+\((.+)\)$")
_STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)


# --- documents -------------------------------------------------------------------------------


def documents() -> list[tuple[str, bytes]]:
    paths = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    docs = []
    for path in paths:
        body = path.read_bytes()
        if body.startswith(b"\x1f\x8b"):
            body = gzip.decompress(body)
        docs.append((str(path.relative_to(CORPUS)), body))
    return docs


def fp_parse(body: bytes, *, fast: bool = True) -> Any:
    if fast:
        return feedparser.parse(
            body, response_headers=HEADERS, sanitize_html=False, resolve_relative_uris=False
        )
    return feedparser.parse(body, response_headers=HEADERS)


def ffp_parse(body: bytes) -> Any:
    return fastfeedparser.parse(body)


def lxml_well_formed(body: bytes) -> bool:
    try:
        etree.fromstring(body, parser=_STRICT)
    except etree.XMLSyntaxError:
        return False
    return True


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


def text_of(markup: str | None) -> str:
    """Meaning, not bytes: tags stripped, entities decoded, whitespace collapsed, NFC."""
    if not markup:
        return ""
    parser = _Text()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # HTMLParser on hostile input: fall back to a regex strip
        text = html.unescape(re.sub(r"<[^>]*>", " ", markup))
    return " ".join(unicodedata.normalize("NFC", text).split())


def author_name(value: object) -> str:
    """As syndicator.parsing reads an author: RSS 2.0 "email (Name)" becomes Name."""
    author = str(value or "").strip()
    match = _EMAIL_AND_NAME.match(author)
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


# --- the two views of an entry -----------------------------------------------------------------


Row = dict[str, Any]


def fp_row(raw: Any) -> Row:
    """What syndicator.parsing makes of a feedparser entry, in comparable form."""
    content = raw.get("content") or []
    body = str(content[0].get("value", "")) if content else str(raw.get("summary", ""))
    return {
        "id": stripped(raw.get("id")),
        "link": stripped(raw.get("link")),
        "title": text_of(str(raw.get("title", ""))),
        "published": fp_date(raw.get("published_parsed")),
        "updated": fp_date(dict.get(raw, "updated_parsed")),
        "author": author_name(raw.get("author")),
        "body": text_of(body),
    }


def ffp_row(raw: Any) -> Row:
    """fastfeedparser's entry read field for field, no adaptation."""
    content = raw.get("content") or []
    body = str(content[0].get("value", "")) if content else str(raw.get("description", ""))
    return {
        "id": stripped(raw.get("id")),
        "link": stripped(raw.get("link")),
        "title": text_of(str(raw.get("title", ""))),
        "published": ffp_date(raw.get("published")),
        "updated": ffp_date(raw.get("updated")),
        "author": author_name(raw.get("author")),
        "body": text_of(body),
    }


def adapt(raw: Any, base: str) -> Row:
    """A thin adapter over fastfeedparser's entry, as an integration would write it.

    * published: downstream reads `published or updated`, so compare that (fastfeedparser
      copies updated into published; feedparser leaves published empty).
    * link: resolved against `base` (the feed's xml:base / URL), as feedparser does.
    """
    row = ffp_row(raw)
    if row["link"] and base:
        row["link"] = urljoin(base, row["link"])
    row["published"] = row["published"] or row["updated"]
    return row


def fp_adapted(row: Row) -> Row:
    return {**row, "published": row["published"] or row["updated"]}


def feed_base(result: Any) -> str:
    detail = result.feed.get("title_detail") or result.feed.get("links") or {}
    if isinstance(detail, dict):
        return str(detail.get("base", "") or "")
    return ""


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Tally:
    entries: int = 0
    agree: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[tuple[str, int, object, object]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    causes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, doc: str, index: int, ours: Row, theirs: Row | None, limit: int) -> None:
        self.entries += 1
        all_agree = True
        for name in FIELDS:
            if theirs is not None and ours[name] == theirs[name]:
                self.fields[name] += 1
                continue
            all_agree = False
            their_value = theirs[name] if theirs is not None else "<no entry>"
            self.causes[name][cause(name, ours, theirs)] += 1
            if len(self.examples[name]) < limit:
                self.examples[name].append((doc, index, ours[name], their_value))
        self.agree += all_agree

    def pct(self, count: int) -> str:
        return f"{100 * count / self.entries:6.2f}%" if self.entries else "   n/a"


def cause(name: str, fp: Row, ffp: Row | None) -> str:
    """A first guess at why one field disagrees; the categories come from reading examples."""
    if ffp is None:
        return "entry count differs (unpaired entry)"
    ours, theirs = fp[name], ffp[name]
    if name == "id":
        if ours is None and theirs == ffp["link"]:
            return "fastfeedparser falls back to the link for a missing id"
        if ours is None:
            return "feedparser has no id, fastfeedparser has one"
        if theirs is None:
            return "fastfeedparser has no id"
        return "different id"
    if name == "link":
        if ours and theirs and ours.endswith(theirs.lstrip("./")):
            return "relative link not resolved against xml:base"
        if ours is None:
            return "feedparser has no link"
        if theirs is None:
            return "fastfeedparser has no link"
        return "different link"
    if name == "published":
        if ours is None and theirs is not None and theirs == ffp["updated"]:
            return "fastfeedparser copies updated into published"
        if ours is None:
            return "only fastfeedparser parsed a date"
        if theirs is None:
            return "only feedparser parsed a date"
        if abs((ours - theirs).total_seconds()) % 3600 == 0:
            return "same clock time, different zone offset"
        return "different date"
    if name == "author":
        if not ours:
            return "only fastfeedparser has an author"
        if not theirs:
            return "only feedparser has an author"
        return "different author"
    if not ours:
        return f"only fastfeedparser has a {name}"
    if not theirs:
        return f"only feedparser has a {name}"
    if ours in theirs or theirs in ours:
        return f"one {name} contains the other"
    return f"different {name}"


@dataclass
class Report:
    docs: int = 0
    well_formed: int = 0
    ill_formed: int = 0
    unsupported: int = 0  # feedparser found no feed version and no entries
    rejected_wf: int = 0
    rejected_ill: int = 0
    rejected_unsupported: int = 0
    ffp_parsed_unsupported: int = 0
    count_mismatch: list[tuple[str, int, int]] = field(default_factory=list)
    lxml_vs_bozo: Counter[str] = field(default_factory=Counter)
    rejections: list[tuple[str, str]] = field(default_factory=list)
    raw: Tally = field(default_factory=Tally)
    adapted: Tally = field(default_factory=Tally)
    ill: Tally = field(default_factory=Tally)  # adapted view, ill-formed documents
    feed_fields: Counter[str] = field(default_factory=Counter)
    feed_docs: int = 0
    feed_examples: dict[str, list[tuple[str, object, object]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def compare(docs: list[tuple[str, bytes]], limit: int) -> Report:
    report = Report()
    for name, body in docs:
        report.docs += 1
        fp = fp_parse(body)
        supported = bool(fp.get("version")) or bool(fp.entries)
        well_formed = supported and not fp.get("bozo")
        strict = lxml_well_formed(body)
        if supported:
            report.lxml_vs_bozo[f"bozo={int(bool(fp.get('bozo')))} lxml-strict={strict}"] += 1
        try:
            ffp = ffp_parse(body)
        except Exception as e:
            ffp = None
            report.rejections.append((name, f"{type(e).__name__}: {str(e)[:100]}"))
        if not supported:
            report.unsupported += 1
            report.rejected_unsupported += ffp is None
            report.ffp_parsed_unsupported += ffp is not None and bool(ffp.get("entries"))
            continue
        if well_formed:
            report.well_formed += 1
            report.rejected_wf += ffp is None
        else:
            report.ill_formed += 1
            report.rejected_ill += ffp is None
        if ffp is None:
            continue
        fp_entries, ffp_entries = list(fp.entries), list(ffp.get("entries", []))
        if len(fp_entries) != len(ffp_entries):
            report.count_mismatch.append((name, len(fp_entries), len(ffp_entries)))
        base = feed_base(fp)
        for index, raw in enumerate(fp_entries):
            ours = fp_row(raw)
            other = ffp_entries[index] if index < len(ffp_entries) else None
            if well_formed:
                report.raw.add(name, index, ours, ffp_row(other) if other else None, limit)
                report.adapted.add(
                    name, index, fp_adapted(ours), adapt(other, base) if other else None, limit
                )
            else:
                report.ill.add(
                    name, index, fp_adapted(ours), adapt(other, base) if other else None, limit
                )
        if well_formed:
            compare_feed(report, name, fp, ffp, limit)
    return report


def compare_feed(report: Report, name: str, fp: Any, ffp: Any, limit: int) -> None:
    ours, theirs = fp.feed, ffp.get("feed", {})
    report.feed_docs += 1
    pairs = {
        "title": (text_of(str(ours.get("title", ""))), text_of(str(theirs.get("title", "")))),
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
    for _ in range(rounds):
        start = time.perf_counter()
        for body in bodies:
            try:
                function(body)
            except Exception:
                pass
        timings.append(time.perf_counter() - start)
    return min(timings)


def ffp_gated(body: bytes) -> object:
    """The fast path as it would run: an lxml strict parse decides, then fastfeedparser."""
    if not lxml_well_formed(body):
        return fp_parse(body)
    return ffp_parse(body)


# --- printing --------------------------------------------------------------------------------


def short(value: object, width: int = 110) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def print_tally(title: str, tally: Tally) -> None:
    print(f"\n{title}: {tally.entries} entries compared")
    for name in FIELDS:
        print(f"  {name:<10} {tally.pct(tally.fields[name])}   ({tally.fields[name]})")
    print(f"  {'ALL':<10} {tally.pct(tally.agree)}   ({tally.agree})  <- entry agrees")


def print_causes(title: str, tally: Tally, examples: bool) -> None:
    print(f"\nDisagreements by cause ({title}):")
    for name in FIELDS:
        for reason, count in tally.causes[name].most_common():
            print(f"  {name:<10} {count:5d}  {reason}")
        if examples:
            for doc, index, ours, theirs in tally.examples[name]:
                print(f"      {doc} #{index}")
                print(f"        feedparser:     {short(ours)}")
                print(f"        fastfeedparser: {short(theirs)}")


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "n/a"


def main(argv: Iterable[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    args.add_argument("--verbose", action="store_true", help="print example disagreements")
    args.add_argument("--examples", type=int, default=10, help="examples per field")
    args.add_argument("--rounds", type=int, default=ROUNDS, help="timing rounds (best of)")
    args.add_argument("--no-core", action="store_true", help="fastfeedparser without _core")
    opts = args.parse_args(list(argv) if argv is not None else None)
    if opts.no_core:
        ffp_main._core = None
    core = "native core" if ffp_main._core is not None else "lxml only"

    docs = documents()
    print(
        f"feedparser {feedparser.__version__}, fastfeedparser {fastfeedparser.__version__} "
        f"({core}), {len(docs)} documents from {CORPUS}"
    )
    report = compare(docs, opts.examples)

    print("\nDocuments")
    print(f"  total                              {report.docs}")
    print(f"  well-formed (bozo == 0)            {report.well_formed}")
    print(f"  ill-formed (bozo == 1)             {report.ill_formed}")
    print(f"  format unsupported (no feed found) {report.unsupported}")
    print(
        f"  rejected by fastfeedparser         {len(report.rejections)}"
        f"  (well-formed {report.rejected_wf}, ill-formed {report.rejected_ill},"
        f" unsupported {report.rejected_unsupported})"
    )
    print(f"  unsupported, yet ffp found entries {report.ffp_parsed_unsupported}")
    print(f"  entry count differs (both parsed)  {len(report.count_mismatch)}")
    for name, a, b in report.count_mismatch:
        print(f"      {name}: feedparser {a}, fastfeedparser {b}")
    print("  feedparser bozo vs lxml strict parse (feeds only):")
    for key, count in sorted(report.lxml_vs_bozo.items()):
        print(f"      {key:<30} {count}")
    if opts.verbose:
        for name, reason in report.rejections:
            print(f"      rejected {name}: {reason}")

    print_tally("Well-formed documents, raw field mapping", report.raw)
    print_tally("Well-formed documents, adapted (the decision's basis)", report.adapted)
    print_tally("Ill-formed documents, adapted (informational; these go to feedparser)", report.ill)
    print(f"\nFeed level, well-formed documents ({report.feed_docs}):")
    for key in ("title", "link", "language", "ttl"):
        print(f"  {key:<10} {pct(report.feed_fields[key], report.feed_docs)}")
        if opts.verbose:
            for name, a, b in report.feed_examples[key]:
                print(f"      {name}: feedparser {short(a, 60)} fastfeedparser {short(b, 60)}")

    print_causes("raw", report.raw, opts.verbose)
    print_causes("adapted", report.adapted, opts.verbose)

    bodies = [body for _, body in docs]
    items = sum(len(fp_parse(body).entries) for body in bodies)
    print(f"\nThroughput, best of {opts.rounds}, {len(bodies)} documents, {items} items")
    print("  (items = feedparser's entry count for every parser)")
    runs: list[tuple[str, Callable[[bytes], object]]] = [
        ("feedparser, default", lambda body: fp_parse(body, fast=False)),
        ("feedparser, sanitizer + URI resolution off", fp_parse),
        (f"fastfeedparser ({core})", ffp_parse),
        ("lxml strict well-formedness check alone", lxml_well_formed),
        ("gate (lxml strict) + ffp, feedparser if ill-formed", ffp_gated),
    ]
    for label, function in runs:
        seconds = best_of(function, bodies, opts.rounds)
        print(f"  {label:<52} {items / seconds:>10,.0f} items/s  ({seconds:.3f} s)")

    overall = 100 * report.adapted.agree / report.adapted.entries if report.adapted.entries else 0
    verdict = "fast path (fastfeedparser, feedparser fallback)" if overall >= THRESHOLD else (
        "keep feedparser (sanitizer off, process pool)"
    )
    print(f"\nDecision: overall entry agreement {overall:.2f}% vs {THRESHOLD}% -> {verdict}")


if __name__ == "__main__":
    main()
