"""Publishing speed: 300 sections of 100 entries, an incremental publish, and HTTP serving.

1. Render: a real SQLite store holds 30,000 story clusters built from BBC News articles
   (title, HTML paragraphs, a link), 100 per source over 300 sources, each with one or two
   focus region tags and a topic tag. 300 configured sections (one per source, 100 entries)
   are published with `publishing.publish_feed` (query, Atom and JSON Feed rendering,
   sanitising, atomic write, bookkeeping), timed; in the same run, feedgen alone renders the
   same clusters into the same 300 documents (id, title, link, the other copies as related
   links and an "also reported by" list, dates, summary, the raw content, categories) with
   no store, no sanitiser, no JSON and no file: the baseline.
2. Incremental: one story's title changes (the entry is re-sent changed, stored as an update),
   then `publish_all` (every section plus the automatic region and topic feeds) runs; it
   prints what was written, which must be only the feeds holding that story.
3. HTTP: `syndicator serve` in its own process, pinned to CPU 0, and wrk (Debian's package)
   pinned to CPU 1, 50 connections for 10 s: GET of a 100-entry feed (200), the same with its
   ETag in If-None-Match (304), and with Accept-Encoding gzip. The issue's goal: at least 5,000
   304 responses per second.

Usage (from the repository root):  .venv/bin/python benchmarks/publish.py [--sections 300]
                                   [--entries 100] [--wrk-seconds 10] [--skip-http]
Timings are never asserted; a busy machine makes them noisy.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dedup_quality import load_bbc
from feedgen.feed import FeedGenerator

from syndicator.atom import cluster_entry_id
from syndicator.config import Settings, load_settings
from syndicator.models import Cluster, Story, Tag, TagKind
from syndicator.normalize import bytes_hash
from syndicator.publishing import feed_specs, publish_all, publish_feed
from syndicator.storage import ConfiguredSource, Store, open_store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
COUNTRIES = tuple(
    re.findall(r"[A-Z]{2}", "KZ KG UZ TJ TM RU UA GE AM AZ TR IR IQ SY IL EG NG KE ZA ET CN IN")
    + re.findall(r"[A-Z]{2}", "PK JP KR DE FR GB US BR")
)
TOPICS = ("conflict", "politics", "economy", "crime", "disaster", "health", "science", "sport")
ROOT = Path(__file__).resolve().parent.parent


def _config(tmp: Path, sections: int, entries: int) -> Settings:
    lines = [
        f'[storage]\npath = "{tmp / "bench.db"}"\n',
        f'[publish]\noutput_dir = "{tmp / "out"}"\nbase_url = "http://127.0.0.1:8080/"\n',
    ]
    for k in range(sections):
        lines.append(f'[[sources]]\nurl = "https://site{k}.example/rss"\nname = "Site {k}"\n')
    for k in range(sections):
        lines.append(
            f'[[sections]]\nslug = "site-{k}"\ntitle = "Site {k} desk"\n'
            f'sources = ["Site {k}"]\nmax_entries = {entries}\n'
        )
    path = tmp / "bench.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return load_settings(path)


def _stories(sections: int, entries: int) -> list[list[Story]]:
    articles = load_bbc()
    rnd = random.Random(7)
    per_source = []
    for k in range(sections):
        batch = []
        for i in range(entries):
            article = articles[(k * entries + i) % len(articles)]
            body = "".join(f"<p>{p}</p>" for p in article.paragraphs[:8])
            url = f"https://site{k}.example/news/{i}"
            # Tags follow the article, so the copies of one article (the corpus is used
            # several times over, and copies join one cluster) agree on them, as real ones do.
            tagger = random.Random(article.uid)
            regions = tagger.sample(COUNTRIES, tagger.choice((1, 1, 2)))
            tags = (
                *(
                    Tag(TagKind.REGION, code, round(tagger.uniform(0.5, 1), 2), True, ("bench",))
                    for code in regions
                ),
                Tag(TagKind.TOPIC, tagger.choice(TOPICS), 0.7, True, ("bench",)),
            )
            # Three made-up long words make each headline's candidate keys its own; the
            # copies of one article still join one cluster by their text, as syndicated
            # copies do, so a cluster holds up to 17 copies across sections.
            marks = " ".join("".join(rnd.choices("bcdfghklmnprstvz", k=12)) for _ in range(3))
            title = f"{article.title}: {marks}"
            batch.append(
                Story(
                    source_id=k + 1,
                    guid_key=f"guid:{url}",
                    guid=url,
                    url=url,
                    canonical_url=url,
                    title=title,
                    summary=article.paragraphs[0][:300],
                    content_html=body,
                    text=" ".join(article.paragraphs[:8]),
                    author="Desk",
                    published_at=NOW - timedelta(minutes=k * entries + i),
                    content_hash=bytes_hash(f"{title}|{url}".encode()),
                    tags=tags,
                )
            )
        per_source.append(batch)
    return per_source


def _fill(store: Store, settings: Settings, per_source: list[list[Story]]) -> None:
    store.sync_sources(
        [ConfiguredSource(s.url, s.name, "", True, None) for s in settings.sources], NOW
    )
    for batch in per_source:
        store.store_stories(batch, NOW)


def _feedgen_alone(section_clusters: list[list[Cluster]], base_url: str) -> float:
    """The baseline: feedgen renders the same entries, nothing else."""
    started = time.perf_counter()
    for k, clusters in enumerate(section_clusters):
        generator = FeedGenerator()
        generator.id(f"{base_url}feeds/site-{k}.atom")
        generator.title(f"Site {k} desk")
        generator.link(href=f"{base_url}feeds/site-{k}.atom", rel="self")
        generator.updated(max(c.updated_at for c in clusters))
        for cluster in clusters:
            story = cluster.representative
            entry = generator.add_entry(order="append")
            entry.id(cluster_entry_id(base_url, cluster))
            entry.title(cluster.title)
            entry.link(href=story.url)
            entry.published(cluster.published_at)
            entry.updated(cluster.updated_at)
            entry.summary(story.summary)
            others = [copy for copy in cluster.copies if copy.id != story.id]
            for copy in others:
                entry.link(href=copy.url, rel="related", title=copy.source_name)
            also = "".join(f'<li><a href="{c.url}">{c.source_name}</a></li>' for c in others)
            entry.content(story.content_html + f"<ul>{also}</ul>", type="html")
            for code in cluster.regions:
                entry.category(term=code, scheme=f"{base_url}regions")
            for slug in cluster.topics:
                entry.category(term=slug, scheme=f"{base_url}topics")
        generator.atom_str(pretty=False)
    return time.perf_counter() - started


def bench_render(
    tmp: Path, sections: int, entries: int
) -> tuple[Settings, Store, list[list[Story]]]:
    """Fill the store, time the 300 section publishes against feedgen alone; returns the
    settings, the store and the stories of each section (for the incremental run)."""
    settings = _config(tmp, sections, entries)
    store = open_store(settings.storage.path)
    print(f"building {sections * entries:,} stories from BBC News ...", flush=True)
    per_source = _stories(sections, entries)
    _fill(store, settings, per_source)
    specs = feed_specs(settings)[:sections]
    section_clusters = [store.clusters(spec.where) for spec in specs]
    # A few BBC stories on one event join one cluster (a cluster with members from two
    # sources is in both sections): count what the sections really hold.
    total = sum(len(clusters) for clusters in section_clusters)
    # The baseline's input (every cluster of every section, loaded at once) is millions of
    # live objects: frozen, so that the cyclic GC's full passes over them slow neither side.
    gc.collect()
    gc.freeze()

    baseline = _feedgen_alone(section_clusters, settings.publish.base_url)
    started = time.perf_counter()
    for spec in specs:
        publish_feed(store, settings, spec, NOW)
    ours = time.perf_counter() - started
    print(f"\n1. render {sections} sections x {entries} entries ({total:,} entries)")
    print(
        f"   feedgen alone (render only):            {baseline:6.2f} s  "
        f"{total / baseline:7,.0f} entries/s"
    )
    print(
        f"   syndicator publish_feed (query, Atom + JSON, sanitise, write): {ours:6.2f} s  "
        f"{total / ours:7,.0f} entries/s"
    )
    print(f"   ratio syndicator / feedgen time: {ours / baseline:.2f}x")
    started = time.perf_counter()
    written = publish_all(store, settings, NOW)
    print(
        f"   then publish_all (automatic region and topic feeds, index, OPML): "
        f"{time.perf_counter() - started:.2f} s, {len(written)} file(s) written"
    )
    started = time.perf_counter()
    again = publish_all(store, settings, NOW)
    print(
        f"   publish_all again, nothing changed: {time.perf_counter() - started:.2f} s, "
        f"{len(again)} file(s) written"
    )
    return settings, store, per_source


def bench_incremental(settings: Settings, store: Store, per_source: list[list[Story]]) -> None:
    # The edit of a cluster's representative (the copy published first): the one copy whose
    # title the entry shows, so that every feed holding the cluster must be written again.
    first = store.cluster_of(story_id=_story_id(store, per_source[0][0]))
    assert first is not None
    url = first.representative.url
    original = next(story for batch in per_source for story in batch if story.url == url)
    changed = replace(
        original, title=original.title + " (updated)", content_hash=original.content_hash + "!"
    )
    result = store.store_stories([changed], NOW + timedelta(minutes=5))
    assert result.updated == 1, result
    started = time.perf_counter()
    written = publish_all(store, settings, NOW + timedelta(minutes=5))
    elapsed = time.perf_counter() - started
    cluster = store.cluster_of(story_id=_story_id(store, changed))
    assert cluster is not None
    assert cluster.title.endswith("(updated)"), cluster.title
    holders = {
        spec.path
        for spec in feed_specs(settings, store.tagged_countries())
        if cluster.id in {c.id for c in store.clusters(spec.where)}
    }
    feeds_written = {path for path in written if path.endswith(".atom")}
    print("\n2. incremental publish after one story changed")
    print(f"   {elapsed:.2f} s; written: {', '.join(sorted(written))}")
    print(
        f"   feeds holding the story: {len(holders)}; Atom feeds written: {len(feeds_written)}; "
        f"only those: {'yes' if feeds_written == holders else 'NO'}"
    )


def _story_id(store: Store, story: Story) -> int:
    row = store.db.execute(
        "SELECT id FROM stories WHERE source_id = ? AND guid_key = ?",
        (story.source_id, story.guid_key),
    ).fetchone()
    return int(row[0])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wrk(url: str, seconds: int, headers: list[str]) -> float:
    command = ["taskset", "-c", "1", "wrk", "-t1", "-c50", f"-d{seconds}s", url]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non_2xx:
        print(f"   (wrk saw {non_2xx.group(1)} non-2xx/3xx responses)")
    return float(match.group(1)) if match else 0.0


def bench_http(settings: Settings, seconds: int) -> None:
    print("\n3. HTTP: syndicator serve (CPU 0) under wrk (CPU 1), 50 connections")
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("   skipped: wrk (apt-get install wrk) and taskset are needed")
        return
    port = _free_port()
    command = [
        "taskset", "-c", "0", sys.executable, "-m", "syndicator", "serve",
        "--config", str(settings.path), "--port", str(port),
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/feeds/site-0.atom"
        etag = _wait_for(url)
        size = len(urllib.request.urlopen(url).read())
        ok = _wrk(url, seconds, [])
        not_modified = _wrk(url, seconds, [f"If-None-Match: {etag}"])
        gzipped = _wrk(url, seconds, ["Accept-Encoding: gzip"])
        print(f"   200 ({size / 1024:.0f} KiB feed):   {ok:8,.0f} requests/s")
        print(f"   200 gzip:              {gzipped:8,.0f} requests/s")
        print(f"   304 (If-None-Match):   {not_modified:8,.0f} requests/s")
        verdict = "PASS" if not_modified >= 5000 else "MISS"
        print(f"   goal >= 5,000 304 responses/s: {verdict}")
    finally:
        server.terminate()
        server.wait(10)


def _wait_for(url: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url) as response:
                return str(response.headers["ETag"])
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", type=int, default=300)
    parser.add_argument("--entries", type=int, default=100)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="publish-bench-") as name:
        tmp = Path(name)
        settings, store, per_source = bench_render(tmp, args.sections, args.entries)
        bench_incremental(settings, store, per_source)
        store.close()
        if not args.skip_http:
            bench_http(settings, args.wrk_seconds)


if __name__ == "__main__":
    main()
