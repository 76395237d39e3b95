"""Ingest throughput: our whole path (parse, normalise, dedup, store) against bare feedparser.

Runs every RSS/Atom/RDF document of ../shared/corpus/feeds-real/ through
`parse_feed -> normalize_entry -> Store.store_stories` (a real SQLite file, one transaction
per feed) and, in the same run, through `feedparser.parse` alone, and prints both rates and
their ratio: the cost of everything we do beyond parsing. Usage: python benchmarks/ingest.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from syndicator.dedup import entry_key
from syndicator.errors import ParseError
from syndicator.normalize import normalize_entry
from syndicator.parsing import parse_feed
from syndicator.storage import ConfiguredSource, open_store

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds-real"
NOW = datetime(2026, 11, 27, tzinfo=UTC)
ROUNDS = 3


def documents() -> list[tuple[str, bytes]]:
    paths = sorted(p for p in CORPUS.iterdir() if p.suffix in {".xml", ".rss", ".atom", ".rdf"})
    return [(p.name, p.read_bytes()) for p in paths]


def bare_feedparser(docs: list[tuple[str, bytes]]) -> int:
    return sum(len(feedparser.parse(body).entries) for _, body in docs)


def full_ingest(docs: list[tuple[str, bytes]]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "bench.db")
        urls = [f"https://bench.example/{name}" for name, _ in docs]
        store.sync_sources([ConfiguredSource(u, "", "", True, None) for u in urls], NOW)
        sources = {source.url: source.id for source in store.due_sources(NOW)}
        entries = 0
        for url, (_, body) in zip(urls, docs, strict=True):
            try:
                feed = parse_feed(body, url)
            except ParseError:
                continue
            stories = [normalize_entry(sources[url], e, entry_key(e), NOW) for e in feed.entries]
            store.store_stories(list({s.guid_key: s for s in stories}.values()), NOW)
            entries += len(feed.entries)
        store.close()
        return entries


def best_of(function: object, docs: list[tuple[str, bytes]]) -> tuple[float, int]:
    timings = []
    count = 0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        count = function(docs)  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return min(timings), count


def rate_line(label: str, entries: int, seconds: float) -> str:
    return f"{label}: {entries:6d} entries in {seconds:6.2f}s = {entries / seconds:8.0f} entries/s"


def main() -> int:
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    docs = documents()
    size = sum(len(body) for _, body in docs) / 1e6
    print(f"{len(docs)} documents, {size:.1f} MB, best of {ROUNDS} rounds")
    base_s, base_n = best_of(bare_feedparser, docs)
    ours_s, ours_n = best_of(full_ingest, docs)
    print(rate_line("bare feedparser.parse ", base_n, base_s))
    print(rate_line("syndicator full ingest", ours_n, ours_s))
    print(f"ratio (ours / bare)   : {ours_s / base_s:.2f}x the time of parsing alone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
