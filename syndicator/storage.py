"""SQLite through sqlite-utils: schema, migrations, upserts, the due-source query, publish state.

The only module that talks to the database (and the only importer of sqlite_utils), so a second
implementation (PostgreSQL, leasing due rows with SKIP LOCKED) replaces this one module. One
`Store` is one connection and the single writer of a process; each public write is one short
transaction. It decides nothing about identity (that is `dedup`) and renders nothing: for a
new story it reads the candidates `dedup` chooses among (the near-duplicate index, one
window deep) and writes down the choice, the fingerprint and the related links.

Times are stored as ISO 8601 UTC text with microseconds ("2026-11-27T03:57:32.000000Z"), which
sorts in time order. Schema changes are sqlite-utils `Migrations`, applied in order at open.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from syndicator.dedup import (
    TITLE_KEY_OFFSET,
    Candidate,
    ClusterRules,
    CopyMatch,
    JoinReason,
    TitleCandidate,
    UpsertAction,
    body_keys,
    choose_copy,
    cluster_key,
    decide_upsert,
    global_guid,
    most_shared,
    related_clusters,
    story_sketch,
    story_title_keys,
    title_index_keys,
)
from syndicator.errors import StorageError
from syndicator.fingerprint import Fingerprint
from syndicator.matcher import Matcher
from syndicator.models import (
    Cluster,
    RelatedLink,
    Source,
    SourceState,
    StoredStory,
    Story,
    Tag,
    TagKind,
)
from syndicator.normalize import CANONICAL_RULES, canonical_url
from syndicator.query import (
    And,
    MatchDoc,
    Or,
    Query,
    Region,
    Topic,
    evaluate,
    match_doc,
    region_key,
    search_text,
    slug_key,
    source_key,
    to_fts5,
)
from syndicator.query import Source as SourceTerm
from syndicator.query import parse as parse_query

BUSY_TIMEOUT_MS = 10_000
QUERY_SCAN_LIMIT = 5_000  # clusters a query filter evaluates at most (see _query_matches)
HEALTH_BUSY_TIMEOUT_MS = 100  # how long a health check waits for another writer's lock
HEALTH_MIN_FREE_BYTES = 1024 * 1024
CACHE_KIB = 16 * 1024
WAL_CHECKPOINT_PAGES = 16_384
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024  # what a restarted WAL is cut back to
# How late a removed entry's `seen_at` may be refreshed while its feed lists it: once a day
# rather than at every poll, so a feed listing hundreds of old entries costs no writes.
LISTED_REFRESH = timedelta(days=1)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

MIGRATIONS = Migrations("syndicator")
SEARCH_TEXT = "syndicator_search_text"  # the SQL function: `query.search_text`
SOURCE_KEY = "syndicator_source_key"  # the SQL function: `query.source_key`


@MIGRATIONS(name="0001_sources")
def _m0001_sources(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,          -- where we poll now (301 may change it)
            config_url TEXT NOT NULL UNIQUE,   -- as written in the config
            name TEXT NOT NULL DEFAULT '',
            region TEXT NOT NULL DEFAULT '',
            enabled INTEGER NOT NULL DEFAULT 1,
            configured INTEGER NOT NULL DEFAULT 1,
            interval_s REAL,
            etag TEXT,
            last_modified TEXT,
            content_hash TEXT,
            feed_title TEXT NOT NULL DEFAULT '',
            feed_link TEXT NOT NULL DEFAULT '',
            next_poll_at TEXT,
            last_polled_at TEXT,
            last_success_at TEXT,
            last_error TEXT,
            last_error_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            disabled_reason TEXT
        );
        CREATE INDEX sources_due ON sources (enabled, configured, next_poll_at);
        """
    )


@MIGRATIONS(name="0002_stories_and_clusters")
def _m0002_stories(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE clusters (
            id INTEGER PRIMARY KEY,
            representative_story_id INTEGER,   -- the first-seen member
            title TEXT NOT NULL,
            published_at TEXT NOT NULL,        -- earliest publication among members
            first_seen_at TEXT NOT NULL,       -- when we first stored it (entry id date)
            updated_at TEXT NOT NULL           -- last material change
        );
        CREATE INDEX clusters_published ON clusters (published_at DESC, id DESC);
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
            guid_key TEXT NOT NULL,
            guid TEXT,
            url TEXT NOT NULL DEFAULT '',
            canonical_url TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            content_html TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL DEFAULT '',
            categories TEXT NOT NULL DEFAULT '',
            published_at TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            cluster_id INTEGER NOT NULL REFERENCES clusters (id),
            join_reason TEXT NOT NULL DEFAULT 'first',
            UNIQUE (source_id, guid_key)
        );
        CREATE INDEX stories_canonical_url ON stories (canonical_url);
        CREATE INDEX stories_cluster ON stories (cluster_id);
        """
    )


@MIGRATIONS(name="0003_tags_outbox_feeds")
def _m0003_tags_outbox_feeds(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE cluster_tags (
            cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('region', 'topic')),
            code TEXT NOT NULL,
            score REAL NOT NULL DEFAULT 1.0,
            focus INTEGER NOT NULL DEFAULT 0,
            evidence TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (cluster_id, kind, code)
        );
        CREATE INDEX cluster_tags_code ON cluster_tags (kind, code);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL,
            cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
            channel TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            delivered_at TEXT,
            UNIQUE (rule, cluster_id, channel)
        );
        CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
        CREATE TABLE published_feeds (
            path TEXT PRIMARY KEY,             -- relative to publish.output_dir
            title TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            entry_count INTEGER NOT NULL,
            updated_at TEXT NOT NULL,          -- the feed's own <updated>
            written_at TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0004_story_search")
def _m0004_story_search(db: Database) -> None:
    # unicode61 with diacritics removed: "Tokaev" finds "Tokáev", as the query language asks.
    db.table("stories").enable_fts(
        ["title", "text"],
        fts_version="FTS5",
        create_triggers=True,
        tokenize="unicode61 remove_diacritics 2",
    )


@MIGRATIONS(name="0005_poll_statistics")
def _m0005_poll_statistics(db: Database) -> None:
    db.executescript(
        """
        ALTER TABLE sources ADD COLUMN polls INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sources ADD COLUMN not_modified_polls INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sources ADD COLUMN failure_score REAL NOT NULL DEFAULT 0;
        ALTER TABLE sources ADD COLUMN disabled_at TEXT;
        ALTER TABLE sources ADD COLUMN feed_ttl_s REAL;  -- <ttl> / sy:updatePeriod, for 304s
        CREATE INDEX stories_source_published ON stories (source_id, published_at DESC);
        """
    )


@MIGRATIONS(name="0006_story_search_batched")
def _m0006_story_search_batched(db: Database) -> None:
    # A per-row trigger made indexing cost 2.5x what one executemany per feed costs (measured:
    # 2,870 against 4,590 stories/s stored); `store_stories` indexes new stories itself now.
    # Updates and deletes keep their triggers: they are rare and touch one row.
    db.execute('DROP TRIGGER IF EXISTS "stories_ai"')


@MIGRATIONS(name="0007_poll_memory")
def _m0007_poll_memory(db: Database) -> None:
    db.executescript(
        """
        -- The entry frequency seen at the last 200, so a 304 schedules without a query.
        ALTER TABLE sources ADD COLUMN entry_interval_s REAL;
        -- Retention looks only at clusters first seen before its cutoff.
        CREATE INDEX clusters_first_seen ON clusters (first_seen_at);
        """
    )


@MIGRATIONS(name="0008_story_datelines")
def _m0008_story_datelines(db: Database) -> None:
    db.executescript(
        """
        -- A wire dateline ("ALMATY (Reuters) -") moved out of the text: where, and whose.
        ALTER TABLE stories ADD COLUMN place TEXT NOT NULL DEFAULT '';
        ALTER TABLE stories ADD COLUMN agency TEXT NOT NULL DEFAULT '';
        """
    )


@MIGRATIONS(name="0009_near_duplicates")
def _m0009_near_duplicates(db: Database) -> None:
    db.executescript(
        """
        -- Why a member joined: the score of a near-duplicate, and the member it matched.
        ALTER TABLE stories ADD COLUMN join_score REAL;
        ALTER TABLE stories ADD COLUMN joined_story_id INTEGER;
        -- A guid that names the story in any feed (permalink, urn:, tag:), else NULL.
        ALTER TABLE stories ADD COLUMN global_guid TEXT;
        CREATE INDEX stories_global_guid ON stories (global_guid) WHERE global_guid IS NOT NULL;
        -- Fingerprints of the stories inside the clustering window (pruned after it): the
        -- body sketch and the headline's word keys. `at` is the publication time, unix s.
        CREATE TABLE story_fingerprints (
            story_id INTEGER PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
            at INTEGER NOT NULL,
            sketch BLOB NOT NULL,
            title_keys BLOB NOT NULL
        );
        CREATE INDEX story_fingerprints_at ON story_fingerprints (at);
        -- The candidate index: a story's body keys and its longest headline words' keys
        -- (offset past the body keys), with its cluster, read newest first per key.
        -- A headline word's row carries every word key of its headline, so scoring the
        -- related relation reads nothing else.
        CREATE TABLE near_keys (
            key INTEGER NOT NULL,
            at INTEGER NOT NULL,
            story_id INTEGER NOT NULL,
            cluster_id INTEGER NOT NULL,
            title_keys BLOB,
            PRIMARY KEY (key, at, story_id)
        ) WITHOUT ROWID;
        -- Clusters on one event (headlines alike), both directions, with the best score.
        CREATE TABLE cluster_links (
            cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
            related_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
            score REAL NOT NULL,
            PRIMARY KEY (cluster_id, related_id)
        ) WITHOUT ROWID;
        CREATE INDEX cluster_links_related ON cluster_links (related_id);
        """
    )


@MIGRATIONS(name="0010_feed_signatures")
def _m0010_feed_signatures(db: Database) -> None:
    # What a feed was last rendered from (its clusters, members and tags): publishing skips
    # a feed whose signature is unchanged instead of rendering it to compare bytes.
    db.execute("ALTER TABLE published_feeds ADD COLUMN signature TEXT NOT NULL DEFAULT ''")


@MIGRATIONS(name="0011_tag_feed_order")
def _m0011_tag_feed_order(db: Database) -> None:
    # A region or topic feed reads its newest clusters straight off this index, in order,
    # instead of walking every cluster by date and asking each whether it has the tag: with
    # a feed per country, region and topic that walk cost a minute per publish at 175,000
    # clusters. The cluster's publication time is copied here for that (kept in step).
    db.executescript(
        """
        ALTER TABLE cluster_tags ADD COLUMN published_at TEXT NOT NULL DEFAULT '';
        UPDATE cluster_tags SET published_at =
            (SELECT c.published_at FROM clusters c WHERE c.id = cluster_tags.cluster_id);
        CREATE INDEX cluster_tags_feed
            ON cluster_tags (kind, code, focus, published_at DESC, cluster_id DESC);
        DROP INDEX IF EXISTS cluster_tags_code;
        """
    )


@MIGRATIONS(name="0012_feed_archives")
def _m0012_feed_archives(db: Database) -> None:
    # RFC 5005 archives: which clusters each feed document holds. page 0 is the current
    # document's newest entries, -1 the entries pushed out of them and not yet archived, and
    # 1, 2, ... the archive pages. No foreign key on cluster_id: when retention removes a
    # cluster, its row is what tells publishing which archive page to write again.
    db.executescript(
        """
        CREATE TABLE feed_archives (
            path TEXT PRIMARY KEY,             -- the subscription document
            definition TEXT NOT NULL,
            pages INTEGER NOT NULL
        );
        CREATE TABLE feed_members (
            path TEXT NOT NULL,
            cluster_id INTEGER NOT NULL,
            page INTEGER NOT NULL,
            PRIMARY KEY (path, cluster_id)
        ) WITHOUT ROWID;
        CREATE INDEX feed_members_page ON feed_members (path, page);
        """
    )


@MIGRATIONS(name="0013_alert_deliveries")
def _m0013_alert_deliveries(db: Database) -> None:
    # alert_matches: every (alert, cluster) match, once (the alert's feed reads it); outbox:
    # one row per match and channel, 'pending' until a delivery takes it ('queued'), then
    # 'sent' or 'dead'; deliveries: one message (its id is the webhook-id and the basis of
    # the Message-ID, the same on every retry), with its retry state.
    db.executescript(
        """
        CREATE TABLE alert_matches (
            rule TEXT NOT NULL,
            cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
            story_id INTEGER,
            score REAL NOT NULL,
            matched_at TEXT NOT NULL,
            PRIMARY KEY (rule, cluster_id)
        );
        CREATE INDEX alert_matches_feed ON alert_matches (rule, matched_at DESC);
        CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',   -- pending, sent, dead
            digest INTEGER NOT NULL DEFAULT 0,
            held_back INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
        CREATE INDEX deliveries_rule ON deliveries (rule, channel, created_at);
        ALTER TABLE outbox ADD COLUMN delivery_id TEXT;
        CREATE INDEX outbox_delivery ON outbox (delivery_id);
        CREATE INDEX outbox_rule ON outbox (rule, channel, status, created_at);
        CREATE TABLE channel_states (
            channel TEXT PRIMARY KEY,
            disabled_reason TEXT NOT NULL,
            disabled_at TEXT NOT NULL
        );
        CREATE TABLE alert_digests (
            rule TEXT NOT NULL,
            channel TEXT NOT NULL,
            last_at TEXT NOT NULL,
            PRIMARY KEY (rule, channel)
        );
        """
    )


@MIGRATIONS(name="0014_feed_high_water_marks")
def _m0014_feed_high_water_marks(db: Database) -> None:
    # The highest cluster id a feed's last publish considered: clusters created since that
    # match the feed but are not among its newest (an old date, a burst of more than its
    # length) still go into its document and archive. Existing feeds start from now.
    db.executescript(
        """
        ALTER TABLE feed_archives ADD COLUMN seen_up_to INTEGER NOT NULL DEFAULT 0;
        UPDATE feed_archives SET seen_up_to = (SELECT COALESCE(MAX(id), 0) FROM clusters);
        """
    )


@MIGRATIONS(name="0015_folded_search_index")
def _m0015_folded_search_index(db: Database) -> None:
    # The index held the raw text, cut by SQLite's unicode61 tokenizer, while queries fold
    # words as `query.tokenize` does: "Łódź", "Straße", "København", "Diyarbakır" or "€100m"
    # were stored as words no query can name, and a search or section for them found
    # nothing. It now holds `search_text` (the folded words) and keeps no copy of the text
    # (contentless); the triggers compute the same function to delete what was indexed.
    db.executescript(_search_index_script(""))


def _search_index_script(options: str) -> str:
    """The script that (re)creates the search index with FTS5 `options` and fills it from
    the stories, with the triggers that keep it in step."""
    return f"""
        DROP TRIGGER IF EXISTS stories_ad;
        DROP TRIGGER IF EXISTS stories_au;
        DROP TABLE IF EXISTS stories_fts;
        CREATE VIRTUAL TABLE stories_fts USING fts5 (
            title, text, content = '', tokenize = 'unicode61 remove_diacritics 2'{options}
        );
        INSERT INTO stories_fts (rowid, title, text)
            SELECT id, {SEARCH_TEXT}(title), {SEARCH_TEXT}(text) FROM stories;
        CREATE TRIGGER stories_ad AFTER DELETE ON stories BEGIN
            INSERT INTO stories_fts (stories_fts, rowid, title, text)
            VALUES ('delete', old.id, {SEARCH_TEXT}(old.title), {SEARCH_TEXT}(old.text));
        END;
        CREATE TRIGGER stories_au AFTER UPDATE OF title, text ON stories BEGIN
            INSERT INTO stories_fts (stories_fts, rowid, title, text)
            VALUES ('delete', old.id, {SEARCH_TEXT}(old.title), {SEARCH_TEXT}(old.text));
            INSERT INTO stories_fts (rowid, title, text)
            VALUES (new.id, {SEARCH_TEXT}(new.title), {SEARCH_TEXT}(new.text));
        END;
        """


@MIGRATIONS(name="0016_slim_candidate_index")
def _m0016_slim_candidate_index(db: Database) -> None:
    # The candidate index held each story's time, cluster and (per headline key) every word
    # key of its headline in every one of its 14 rows. Keys are random hashes, so each row
    # lands on a page of its own and a write group rewrote most of the index into the WAL:
    # the writer's largest cost. Now a row is the key and the story (about 14 bytes, 2.5
    # times as many to a page); time, cluster and headline words are read from
    # `story_fingerprints` for the few candidates scored, and a key's newest holders are the
    # highest story ids. A fingerprint now keeps its story's cluster, since in `stories` the
    # column lies past the story's text, often on an overflow page.
    db.executescript(
        """
        ALTER TABLE story_fingerprints ADD COLUMN cluster_id INTEGER;
        UPDATE story_fingerprints
            SET cluster_id = (SELECT s.cluster_id FROM stories s WHERE s.id = story_id);
        CREATE TABLE near_keys_slim (
            key INTEGER NOT NULL,
            story_id INTEGER NOT NULL,
            PRIMARY KEY (key, story_id)
        ) WITHOUT ROWID;
        INSERT OR IGNORE INTO near_keys_slim (key, story_id)
            SELECT key, story_id FROM near_keys ORDER BY key, story_id;
        DROP TABLE near_keys;
        ALTER TABLE near_keys_slim RENAME TO near_keys;
        """
    )


@MIGRATIONS(name="0017_search_index_without_positions")
def _m0017_search_index_without_positions(db: Database) -> None:
    # The index is a prefilter (`to_fts5`: the query is evaluated exactly afterwards), so it
    # needs which words each column holds, not where: without positions (detail=column) it
    # is half the size and a third cheaper to write, the writer's second cost per story. A
    # phrase is looked up as its words.
    db.executescript(_search_index_script(", detail = column"))


@MIGRATIONS(name="0018_source_language")
def _m0018_source_language(db: Database) -> None:
    # A source's configured language, for feeds that declare none or the wrong one.
    db.execute("ALTER TABLE sources ADD COLUMN language TEXT NOT NULL DEFAULT ''")


@MIGRATIONS(name="0019_expired_entries")
def _m0019_expired_entries(db: Database) -> None:
    # Retention removes a story, but its feed may keep listing the entry for years (archive
    # feeds list items back to 2004) and re-sends it on every poll: without a memory of it,
    # it was stored, published and alerted again as new. This is that memory, per source
    # and entry key (`dedup.entry_key`): the key and a time a row. `seen_at` (unix s): when
    # retention removed the story, or (at most a day late) when a document of its source
    # last listed it; `sources.parsed_at` tells whether a document was read since.
    db.executescript(
        """
        CREATE TABLE expired_entries (
            source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
            guid_key TEXT NOT NULL,
            seen_at INTEGER NOT NULL,
            PRIMARY KEY (source_id, guid_key)
        ) WITHOUT ROWID;
        -- When a document of the source was last read (a 200 that was parsed, not a 304).
        ALTER TABLE sources ADD COLUMN parsed_at TEXT;
        """
    )


@MIGRATIONS(name="0020_id_marks")
def _m0020_id_marks(db: Database) -> None:
    # Clusters and stories have no AUTOINCREMENT, so SQLite gives a new row the highest id
    # + 1: once retention removed the newest rows, their ids came back for new stories, and
    # `cluster:N`, a webhook's cluster_id, feed archive rows and publishing's high-water
    # marks (`feed_archives.seen_up_to`) named two stories. Adding AUTOINCREMENT means
    # rebuilding both tables; instead the highest id removed is kept here, and a new row
    # is given an id above it while the table's own highest id is not.
    db.execute("CREATE TABLE id_marks (name TEXT PRIMARY KEY, high INTEGER NOT NULL) WITHOUT ROWID")


@MIGRATIONS(name="0021_store_meta")
def _m0021_store_meta(db: Database) -> None:
    # Versions the data was written under (`normalize.CANONICAL_RULES`).
    db.execute(
        "CREATE TABLE store_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID"
    )


@MIGRATIONS(name="0022_search_index_turkic_letters")
def _m0022_search_index_turkic_letters(db: Database) -> None:
    # `query.fold` now maps the Kazakh, Kyrgyz, Uzbek, Tajik, Ukrainian and Serbian letters
    # that NFKD leaves alone to the Russian ones ("Тоқаев" is "токаев"). The index held them
    # unfolded, so a search or section found an older story under its old words only, and
    # the delete trigger, which computes the new words, would no longer remove what was
    # indexed: it is filled again from the stories.
    db.executescript(_search_index_script(", detail = column"))


@MIGRATIONS(name="0023_outbox_and_match_cluster_indexes")
def _m0023_outbox_and_match_cluster_indexes(db: Database) -> None:
    # Retention keeps the clusters with an alert still to send (`NOT EXISTS` on the outbox by
    # cluster), and deleting a cluster cascades to its outbox and alert_matches rows: with
    # no index by cluster, each cluster removed read every pending outbox row (the status
    # index) and every match. Digests keep a day of matches pending, so an hourly retention at
    # 10,000 sources (8,000 clusters past the cutoff, 360,000 outbox rows) ran for more than
    # ten minutes on the daemon's event loop, where it takes 6 s with these.
    db.executescript(
        """
        CREATE INDEX outbox_cluster ON outbox (cluster_id);
        CREATE INDEX alert_matches_cluster ON alert_matches (cluster_id);
        """
    )


def _follow_canonical_rules(db: Database) -> None:
    """Re-key what was keyed by canonical URL under older rules (see CANONICAL_RULES):
    entries without a guid ("link:" keys, also in expired_entries) and the canonical URLs
    exact copies are found by. A key that already exists under the new rules is left as it
    is (the entry was stored twice before: nothing to join). Anchored and title-told keys
    (with a "#", `pipeline.tell_shared_links_apart`) keep theirs."""
    row = db.execute("SELECT value FROM store_meta WHERE name = 'canonical_rules'").fetchone()
    if row is not None and row[0] >= CANONICAL_RULES:
        return
    with db.conn:
        for table in ("stories", "expired_entries"):
            keys = db.execute(
                f"SELECT source_id, guid_key FROM {table} "
                "WHERE guid_key LIKE 'link:%' AND instr(guid_key, '#') = 0"
            ).fetchall()
            for source_id, key in keys:
                if (new := "link:" + canonical_url(key[5:])) != key:
                    db.execute(
                        f"UPDATE OR IGNORE {table} SET guid_key = ? "
                        "WHERE source_id = ? AND guid_key = ?",
                        (new, source_id, key),
                    )
        urls = db.execute(
            "SELECT DISTINCT canonical_url FROM stories "
            "WHERE canonical_url != '' AND instr(canonical_url, '#') = 0"
        ).fetchall()
        for (url,) in urls:
            if (new := canonical_url(url)) != url:
                db.execute(
                    "UPDATE stories SET canonical_url = ? WHERE canonical_url = ?", (new, url)
                )
        db.execute(
            "INSERT OR REPLACE INTO store_meta (name, value) VALUES ('canonical_rules', ?)",
            (CANONICAL_RULES,),
        )


def _register_functions(connection: sqlite3.Connection) -> None:
    """The SQL functions the schema's triggers call (every connection that writes needs them:
    a story deleted from a shell without them fails with "no such function", harmlessly)."""
    connection.create_function(SEARCH_TEXT, 1, _search_text_or_null, deterministic=True)
    connection.create_function(SOURCE_KEY, 1, _source_key_or_null, deterministic=True)


def _search_text_or_null(text: str | None) -> str | None:
    return None if text is None else search_text(str(text))


def _source_key_or_null(text: str | None) -> str | None:
    """A source name's `source_key`; NULL for one without words, which then matches nothing."""
    return None if text is None else (source_key(str(text)) or None)


@dataclass(frozen=True, slots=True)
class SyncNote:
    """What `sync_sources` did with a configured URL beyond adding or updating it."""

    message: str
    skipped: bool = False  # the URL is not a source of its own (see `_continue_source`)


def _continue_source(
    db: Database,
    source: ConfiguredSource,
    configured: Sequence[ConfiguredSource],
    wanted: set[str],
    now: datetime,
) -> SyncNote | None:
    """Point the stored source that `source` continues at its URL; None if it continues none.

    Without this, a configured URL new to the table would be a new source, which either
    failed (the URL a source was moved to is UNIQUE: the daemon could no longer start) or
    stored every entry of its feed a second time, beside the old source's copies. Two cases:
    - the URL is where a stored source is polled now (a permanent redirect or autodiscovery
      moved it there, and the config was updated as the log advised): that source. If the
      URL it was configured under is still configured too, both entries name one feed, and
      this one is skipped, with a note (the table holds one source per polled URL);
    - the URL of a `[[sources]]` entry was edited in place: the one source no longer
      configured that has the same non-empty `name`, if no other entry has that name. Its
      validators and failures were the old URL's: they are cleared, and it is due now.
    """
    if db.execute("SELECT 1 FROM sources WHERE config_url = ?", (source.url,)).fetchone():
        return None  # a source of its own already
    row = db.execute("SELECT id, config_url FROM sources WHERE url = ?", (source.url,)).fetchone()
    if row is not None:
        source_id, old_url = row
        if old_url in wanted:
            return SyncNote(
                f"{source.url} is configured twice: the source configured as {old_url} "
                "moved there (permanent redirect); remove one of the two",
                skipped=True,
            )
        db.execute("UPDATE sources SET config_url = ? WHERE id = ?", (source.url, source_id))
        return SyncNote(
            f"source {source.url} was configured as {old_url}, which a permanent redirect "
            "moved there: the same source, with its stories"
        )
    if not source.name or sum(other.name == source.name for other in configured) > 1:
        return None
    rows = db.execute(
        "SELECT id, config_url FROM sources WHERE name = ?", (source.name,)
    ).fetchall()
    unconfigured = [(source_id, url) for source_id, url in rows if url not in wanted]
    if len(unconfigured) != 1:
        return None
    [(source_id, old_url)] = unconfigured
    db.execute(
        """
        UPDATE sources SET config_url = ?, url = ?, etag = NULL, last_modified = NULL,
            content_hash = NULL, next_poll_at = ?, consecutive_failures = 0,
            failure_score = 0, disabled_reason = NULL, disabled_at = NULL
        WHERE id = ?
        """,
        (source.url, source.url, format_time(now), source_id),
    )
    return SyncNote(f"source {source.name!r} moved from {old_url} to {source.url}")


def _disable(db: Database, source_id: int, reason: str, now: datetime) -> None:
    db.execute(
        "UPDATE sources SET disabled_reason = ?, disabled_at = ? WHERE id = ?",
        (reason[:2000], format_time(now), source_id),
    )


def format_time(moment: datetime) -> str:
    """UTC text that sorts in time order. The year is always four digits: strftime writes
    year 103 as "103", which neither sorts nor reads back."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}{moment.strftime(_TIME_FORMAT[2:])}"


def parse_time(text: str) -> datetime:
    # fromisoformat is C and reads our format (3.11+); strptime, 20x slower, stays the
    # fallback for anything it does not (a year before 1000 that strftime did not pad).
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _parse_optional_time(text: str | None) -> datetime | None:
    return parse_time(text) if text else None


@dataclass(frozen=True, slots=True)
class ConfiguredSource:
    """What the config says about a source; `sync_sources` makes the table agree."""

    url: str
    name: str
    region: str
    enabled: bool
    interval_s: float | None
    language: str = ""  # as configured; "" to use the feed's own


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One line of `syndicator status`."""

    source: Source
    enabled: bool
    stories: int
    disabled_reason: str | None
    consecutive_failures: int
    interval_s: float | None
    site_link: str = ""
    feed_title: str = ""  # the feed's own title, as last polled
    polls: int = 0
    not_modified_polls: int = 0
    failure_score: float = 0.0
    last_error_at: datetime | None = None
    config_url: str = ""  # as written in the config; `source.url` moves after a 301 or discovery

    @property
    def not_modified_ratio(self) -> float | None:
        return self.not_modified_polls / self.polls if self.polls else None


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What storing one feed's stories did."""

    inserted: int
    updated: int
    unchanged: int
    expired: int = 0  # re-sent entries whose stories retention removed: not stored again


@dataclass(frozen=True, slots=True)
class ClusterFilter:
    """Which clusters a feed holds; empty tuples mean "any"."""

    regions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    limit: int = 100
    query: str = ""  # the alert query language: a member story must match it
    alert: str = ""  # the clusters this alert matched (its feed)
    min_score: float = 0.0  # the region and topic tags filtered on must score at least this


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The newest clusters matching a query, and how many match: `total`, exactly when
    `complete`, else at least (only the `QUERY_SCAN_LIMIT` newest candidates are looked at)."""

    clusters: list[Cluster]
    total: int
    complete: bool


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One configured alert as the writer matches it."""

    name: str
    query: Query
    channels: tuple[str, ...]
    min_score: float = 0.0
    on_update: bool = False


class AlertIndex:
    """Every alert compiled once (`matcher`), matched in the writer's transaction, so a
    match is stored with the story that caused it, or not at all."""

    def __init__(self, rules: Sequence[AlertRule]) -> None:
        self.rules = {rule.name: rule for rule in rules}
        self.matcher = Matcher.compile([(rule.name, rule.query) for rule in rules])

    def hits(self, doc: MatchDoc, title: str) -> list[tuple[AlertRule, float]]:
        """The rules a story matches, each with its score: 1.0 when the headline alone
        matches (with the story's fields), 0.5 when the body is needed; below an alert's
        `min_score`, no hit."""
        found = []
        for name in self.matcher.match(doc):
            rule = self.rules[name]
            headline = replace_body(doc, title)
            score = 1.0 if evaluate(rule.query, headline) else 0.5
            if score >= rule.min_score:
                found.append((rule, score))
        return found


def replace_body(doc: MatchDoc, title: str) -> MatchDoc:
    """The same story without its body: does the headline alone match?"""
    return MatchDoc(doc.title, (), doc.sources, doc.regions, doc.topics, doc.language)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert message to one channel, sent or to be sent (a row of `deliveries`)."""

    id: str  # the webhook-id: the same on every retry
    rule: str
    channel: str
    status: str  # pending, sent, dead
    digest: bool
    held_back: int
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        id=row["id"],
        rule=row["rule"],
        channel=row["channel"],
        status=row["status"],
        digest=bool(row["digest"]),
        held_back=row["held_back"],
        attempts=row["attempts"],
        next_attempt_at=parse_time(row["next_attempt_at"]),
        created_at=parse_time(row["created_at"]),
        last_error=row["last_error"],
        sent_at=_parse_optional_time(row["sent_at"]),
    )


@dataclass(frozen=True, slots=True)
class FeedMembers:
    """Which clusters a feed's documents hold (RFC 5005 archiving, see `publishing`).

    `current`: the newest entries as last published; `pending`: pushed out of them by newer
    ones but not yet frozen into an archive page (the subscription document still carries
    them); `pages`: archive pages written, numbered from 1 (the oldest); `definition`: what
    the feed was defined as when its archive began (a changed filter starts it afresh);
    `seen_up_to`: clusters with a higher id were created after the feed was last published."""

    definition: str = ""
    pages: int = 0
    current: frozenset[int] = frozenset()
    pending: frozenset[int] = frozenset()
    seen_up_to: int = 0  # the highest cluster id the last publish considered


@dataclass(frozen=True, slots=True)
class TaggableStory:
    """What the taggers read of a stored story (for `retag`)."""

    title: str
    text: str
    place: str
    url: str
    categories: tuple[str, ...]
    region: str  # its source's region prior
    language: str = ""  # as its feed declares it


@dataclass(frozen=True, slots=True)
class PublishedFeed:
    """A row of `published_feeds`: what was last written for a path."""

    path: str
    title: str
    content_hash: str
    entry_count: int
    updated_at: datetime
    signature: str = ""


def backup_database(
    source: Path, target: Path, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """An online copy of the database at `target`, safe while the daemon writes: SQLite's
    backup API copies every page under one read transaction (a consistent snapshot; WAL mode
    lets the writer go on meanwhile). The copy is checked (`PRAGMA integrity_check`), is one
    self-contained file (rollback journal, no WAL), and appears at `target` only when
    complete. An existing `target` is never overwritten; a missing directory is created
    (`make_backup_dir`). Returns its size in bytes.
    `on_progress(pages copied, pages)` is called after each step of `BACKUP_STEP_PAGES`."""
    if not source.is_file():
        raise StorageError(f"{source}: no database there")
    if target.exists():
        raise StorageError(f"{target}: already exists (a backup never overwrites a file)")
    make_backup_dir(target.parent)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.open("wb").close()  # SQLite would say only "unable to open database file"
    except OSError as e:
        raise StorageError(
            f"backup to {target} failed: cannot write in {target.parent}: {e.strerror or e}"
        ) from e
    try:
        source_db = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            copy = sqlite3.connect(partial)
            try:
                _copy_in_steps(source_db, copy, on_progress)
                copy.execute("PRAGMA journal_mode = DELETE")
                (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
            finally:
                copy.close()
        finally:
            source_db.close()
        if verdict != "ok":
            raise StorageError(f"{target}: the copy failed its integrity check: {verdict}")
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as e:
        partial.unlink(missing_ok=True)
        raise StorageError(f"backup of {source} to {target} failed: {e}") from e
    except StorageError:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size


BACKUP_STEP_PAGES = 4096  # 16 MiB of 4 KiB pages between two progress reports
BACKUP_DIR_MODE = 0o750  # a backup holds every story and the outbox: not for every user


def make_backup_dir(directory: Path) -> None:
    """Create a backup's missing directory (and its parents), `BACKUP_DIR_MODE`, so that a
    nightly cron line writing into `backups/` works the first night; `StorageError` naming
    the directory when it cannot be made."""
    if directory.is_dir():
        return
    try:
        directory.mkdir(mode=BACKUP_DIR_MODE, parents=True)
    except (FileExistsError, NotADirectoryError) as e:  # a file where a directory should be
        raise StorageError(
            f"backup: cannot create the directory {directory}: a file is in the way"
        ) from e
    except OSError as e:
        raise StorageError(
            f"backup: cannot create the directory {directory}: {e.strerror or e}"
        ) from e


def _copy_in_steps(
    source: sqlite3.Connection,
    copy: sqlite3.Connection,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """The backup in steps, under one read transaction held on `source` from the first step
    to the last. Without it every step would read the newest commit, and SQLite restarts a
    backup whose source another connection changed: against a daemon that commits every
    second, a step-wise backup of a large file would never end."""
    source.execute("BEGIN")
    source.execute("SELECT COUNT(*) FROM sqlite_schema").fetchone()  # the snapshot starts here
    try:

        def report(status: int, remaining: int, total: int) -> None:
            if on_progress is not None:
                on_progress(total - remaining, total)

        source.backup(copy, pages=BACKUP_STEP_PAGES, progress=report)
    finally:
        source.execute("COMMIT")


def open_store(path: Path, rules: ClusterRules | None = None) -> Store:
    """Open (creating if needed) and migrate the database. Raises `StorageError` with the path.

    `rules` are the near-duplicate settings new stories are clustered by (defaults if None).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
        _register_functions(connection)
        db = Database(connection)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.enable_wal()
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a crash loses no commit order
        # The candidate index is read and written at random keys for every new story: a
        # larger page cache than SQLite's 2 MiB keeps more of it in memory (64 MiB saved 6%
        # of the writer's time per story at 70,000 stories, but put the polling benchmark's
        # process tree over its memory budget; 16 MiB is the compromise).
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        # A checkpoint (copying the WAL into the file, with an fsync) after every 16,384
        # pages rather than SQLite's 1,000: a write group dirties thousands of index pages,
        # and checkpointing after each group cost the writer 40% more per story. The WAL
        # stays bounded (about 110 MB in the ingest benchmark), and retention truncates it.
        db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        # SQLite reuses the WAL file from its start after a checkpoint and never shrinks it,
        # so one big transaction (a first poll, retention) would leave its size on disk for
        # good; with a limit the file is cut back to it whenever the log restarts.
        db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
        _refuse_a_newer_schema(db, path)
        _use_incremental_vacuum(db)
        MIGRATIONS.apply(db)
        _follow_canonical_rules(db)
        # Each feed's write inside a write group is a savepoint, which keeps the original of
        # every page it first touches in a sub-journal: a temporary *file* by default, and the
        # candidate index touches a page per key. In memory (at most the pages one feed's
        # stories touch) it cost the writer a third less per candidate key. After the
        # migrations and the one-time VACUUM above, and `vacuum` switches back to files:
        # VACUUM builds a whole copy of the database in temporary storage.
        db.execute("PRAGMA temp_store = MEMORY")
    except (sqlite3.Error, OSError) as e:
        raise StorageError(f"{path}: cannot open the database: {e}") from e
    return Store(db, path, rules)


def _use_incremental_vacuum(db: Database) -> None:
    """Let retention give deleted pages back to the file system without a full VACUUM.

    The mode takes effect only through one VACUUM: instant on a new database, once on one
    created before this (it rewrites the file; later opens skip it)."""
    if db.execute("PRAGMA auto_vacuum").fetchone()[0] != _INCREMENTAL:
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("VACUUM")


_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


def read_health(path: Path) -> str:
    """Whether the database at `path` can be read, without opening a `Store` (no
    migrations, no writes): one query on a read-only connection (which, as any reader of a
    WAL database, may leave empty -wal and -shm files beside it). "ok", or "busy" when a
    writer kept it locked for 100 ms. Raises `StorageError` saying why it cannot be read."""
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=HEALTH_BUSY_TIMEOUT_MS / 1000
        )
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as e:
        if _is_busy(e):
            return "busy"
        raise StorageError(f"{path}: cannot read the database: {e}") from e
    return "ok"


@functools.cache
def _known_migrations() -> frozenset[str]:
    return frozenset(migration.name for migration in MIGRATIONS.pending(Database(memory=True)))


def _refuse_a_newer_schema(db: Database, path: Path) -> None:
    """Raise `StorageError` if a newer syndicator migrated this database: after a rollback
    (an upgrade undone, an old image restarted on the volume) this version would run on
    tables it does not know, apply its own migrations around theirs and fail somewhere
    later, or quietly write rows the newer schema reads wrongly."""
    unknown = [m.name for m in MIGRATIONS.applied(db) if m.name not in _known_migrations()]
    if unknown:
        raise StorageError(
            f"{path}: migrated by a newer version of syndicator (schema {', '.join(unknown)},"
            " unknown to this one): run that version, or restore a backup made before it"
        )


def _begin_write(conn: sqlite3.Connection) -> None:
    """Open a transaction holding the write lock, waiting up to the busy timeout
    (`Store.wait_for_locks`) for a writer in another process (`syndicator retag`, `alerts
    retry`, a `sqlite3` shell).

    Not a plain (deferred) BEGIN: a transaction that has read and then writes while another
    connection holds the write lock fails at once with "database is locked", SQLite's
    busy handler is never called for it (waiting could deadlock two such readers). Every
    store reads before it writes, so the daemon's poll and publish failed at once, whatever
    the busy timeout, whenever another process wrote, even for a millisecond."""
    conn.execute("BEGIN IMMEDIATE")


def is_locked(error: StorageError) -> bool:
    """Whether `error` is another connection's lock outlasting the busy timeout (the next
    try may work), not a broken or unwritable database."""
    cause = error.__cause__
    return isinstance(cause, sqlite3.Error) and _is_busy(cause)


def _is_busy(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _check_writable_file(path: Path, identity: tuple[int, int] | None) -> None:
    """SQLite keeps writing through its open file when the file is deleted or replaced, or
    fails only at commit on a read-only or full file system: look for those first."""
    if identity is not None:
        now = _file_identity(path)
        if now is None:
            raise StorageError(f"{path}: the database file was removed while open")
        if now != identity:
            raise StorageError(f"{path}: the database file was replaced while open")
    try:
        disk = os.statvfs(path.parent)
    except OSError as e:
        raise StorageError(f"{path.parent}: {e.strerror or e}") from e
    if disk.f_flag & os.ST_RDONLY:
        raise StorageError(f"{path}: on a read-only file system")
    if disk.f_bavail * disk.f_frsize < HEALTH_MIN_FREE_BYTES:
        raise StorageError(f"{path}: less than 1 MiB free on its file system")


class Store:
    """The single writer of one process. Not thread-safe: use it from one thread."""

    def __init__(self, db: Database, path: Path, rules: ClusterRules | None = None) -> None:
        self.db = db
        self.path = path
        self._busy_timeout_ms = BUSY_TIMEOUT_MS
        self.rules = rules or ClusterRules()
        # Inside a write group: new stories waiting for the search index (see begin_group).
        self._group: list[tuple[int, str, str]] | None = None
        self.clusters_created = 0  # since open: store_stories adds the clusters it creates
        self._identity = _file_identity(path)
        self.alerts: AlertIndex | None = None  # set by the daemon: alerts matched on write
        self._source_words: dict[int, tuple[str, ...]] = {}
        # Tables whose highest removed id is above their highest id (see id_marks).
        self._id_floors = self._read_id_floors()

    def close(self) -> None:
        self.db.close()

    # -- health --------------------------------------------------------------------------------

    def write_health(self) -> str:
        """Whether this store can write now, for a health probe, in at most about 100 ms:
        "ok" (the write lock was taken and given back at once), "writing" (this connection is
        inside a write: the writer is at work), or "busy" (another connection has held the
        write lock for 100 ms: writable, but waiting). Raises `StorageError` saying why it
        cannot write: the file was removed or replaced under the open connection, its file
        system is read-only or full, or SQLite refuses the lock."""
        _check_writable_file(self.path, self._identity)
        conn = self.db.conn
        if conn.in_transaction:
            return "writing"
        try:
            conn.execute(f"PRAGMA busy_timeout = {HEALTH_BUSY_TIMEOUT_MS}")
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
            finally:
                conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        except sqlite3.Error as e:
            if _is_busy(e):
                return "busy"
            raise StorageError(f"{self.path}: cannot write: {e}") from e
        return "ok"

    def wait_for_locks(self, milliseconds: int) -> None:
        """How long a write waits for another connection's write lock before it fails with
        "database is locked" (`BUSY_TIMEOUT_MS` unless set). The daemon waits briefly: the
        wait blocks its event loop, and with it the HTTP server and `/healthz`."""
        self._busy_timeout_ms = milliseconds
        self.db.execute(f"PRAGMA busy_timeout = {milliseconds}")

    @contextmanager
    def _transaction(self) -> Iterator[Database]:
        """One write: a savepoint inside an open transaction (a write group), else a
        transaction of its own that takes the write lock first (see `_begin_write`)."""
        conn = self.db.conn
        try:
            if conn.in_transaction:
                with self.db.atomic() as db:
                    yield db
                return
            _begin_write(conn)
            try:
                yield self.db
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: {e}") from e

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            return list(self.db.query(sql, params))
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: {e}") from e

    # -- schema --------------------------------------------------------------------------------

    def _read_id_floors(self) -> dict[str, int]:
        """The removed ids new rows must stay above, for the tables where SQLite's own choice
        (the highest id + 1) would not."""
        floors = {}
        for name, high in self.db.execute("SELECT name, high FROM id_marks").fetchall():
            if name not in ("clusters", "stories"):
                continue  # only these two are written (and named in SQL below)
            (top,) = self.db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {name}").fetchone()
            if high > top:
                floors[name] = high
        return floors

    @staticmethod
    def _mark_removed_ids(conn: sqlite3.Connection, table: str, high: int | None) -> None:
        """Remember the highest id removed from `table`: it is never given again."""
        if high is not None:
            conn.execute(
                "INSERT INTO id_marks (name, high) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET high = MAX(high, excluded.high)",
                (table, high),
            )

    def _new_id(self, conn: sqlite3.Connection, table: str) -> int | None:
        """The id for a new row of `table`: None (SQLite's choice, the highest + 1) unless
        rows above the highest were removed. One indexed read then, until the next open."""
        floor = self._id_floors.get(table)
        if floor is None:
            return None
        (top,) = conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()
        return int(max(top, floor)) + 1

    def applied_migrations(self) -> list[str]:
        return [migration.name for migration in MIGRATIONS.applied(self.db)]

    # -- sources -------------------------------------------------------------------------------

    def sync_sources(self, configured: Iterable[ConfiguredSource], now: datetime) -> list[SyncNote]:
        """Make the sources table match the config: add new ones (due now), update names and
        settings, and mark sources no longer configured (their stories stay).

        A configured URL that is new to the table may continue a source that is there (see
        `_continue_source`): the URL a permanent redirect moved it to, written into the config
        as the log advised, or a source's `url` edited in place under the same `name`. It keeps
        its stories, so its feed's entries are not stored a second time. Returns notes for the
        log: what was carried over, and a URL another configured source is polled at already.
        """
        configured = list(configured)
        self._source_words.clear()
        notes: list[SyncNote] = []
        with self._transaction() as db:
            wanted = {source.url for source in configured}
            db.execute("UPDATE sources SET configured = 0")
            for source in configured:
                note = _continue_source(db, source, configured, wanted, now)
                if note is not None:
                    notes.append(note)
                    if note.skipped:
                        continue
                db.execute(
                    """
                    INSERT INTO sources (url, config_url, name, region, enabled, interval_s,
                                         next_poll_at, language)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (config_url) DO UPDATE SET
                        name = excluded.name, region = excluded.region,
                        enabled = excluded.enabled, interval_s = excluded.interval_s,
                        language = excluded.language, configured = 1
                    """,
                    (
                        source.url,
                        source.url,
                        source.name,
                        source.region,
                        int(source.enabled),
                        source.interval_s,
                        format_time(now),
                        source.language,
                    ),
                )
        return notes

    def due_sources(self, now: datetime, limit: int | None = None) -> list[Source]:
        """Enabled, configured sources whose next poll time has come, most overdue first."""
        sql = """
            SELECT * FROM sources
            WHERE enabled = 1 AND configured = 1 AND disabled_reason IS NULL
              AND (next_poll_at IS NULL OR next_poll_at <= ?)
            ORDER BY next_poll_at, id
        """
        params: list[Any] = [format_time(now)]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_source(row) for row in self._rows(sql, params)]

    def next_due_at(self) -> datetime | None:
        rows = self._rows(
            "SELECT MIN(next_poll_at) AS due FROM sources "
            "WHERE enabled = 1 AND configured = 1 AND disabled_reason IS NULL"
        )
        return _parse_optional_time(rows[0]["due"]) if rows else None

    def source_statuses(self) -> list[SourceStatus]:
        rows = self._rows(
            """
            SELECT s.*, (SELECT COUNT(*) FROM stories WHERE source_id = s.id) AS story_count
            FROM sources s WHERE configured = 1 ORDER BY s.id
            """
        )
        return [
            SourceStatus(
                source=_source(row),
                enabled=bool(row["enabled"]),
                stories=row["story_count"],
                disabled_reason=row["disabled_reason"],
                consecutive_failures=row["consecutive_failures"],
                interval_s=row["interval_s"],
                site_link=row["feed_link"],
                feed_title=row["feed_title"],
                polls=row["polls"],
                not_modified_polls=row["not_modified_polls"],
                failure_score=row["failure_score"],
                last_error_at=_parse_optional_time(row["last_error_at"]),
                config_url=row["config_url"],
            )
            for row in rows
        ]

    def source_failures(self, source_id: int) -> int:
        rows = self._rows("SELECT consecutive_failures FROM sources WHERE id = ?", [source_id])
        return int(rows[0]["consecutive_failures"]) if rows else 0

    def record_success(
        self,
        source_id: int,
        now: datetime,
        next_poll_at: datetime,
        *,
        etag: str | None,
        last_modified: str | None,
        content_hash: str | None,
        not_modified: bool = False,
        feed_title: str = "",
        feed_link: str = "",
        feed_ttl_s: float | None = None,
        entry_interval_s: float | None = None,
        parsed: bool = False,
    ) -> None:
        """A poll that worked (200 or 304): validators kept, failures and score reset."""
        with self._transaction() as db:
            db.execute(
                """
                UPDATE sources SET last_polled_at = ?, last_success_at = ?, next_poll_at = ?,
                    etag = ?, last_modified = ?, content_hash = COALESCE(?, content_hash),
                    feed_title = CASE WHEN ? != '' THEN ? ELSE feed_title END,
                    feed_link = CASE WHEN ? != '' THEN ? ELSE feed_link END,
                    last_error = NULL, consecutive_failures = 0, failure_score = 0,
                    polls = polls + 1, not_modified_polls = not_modified_polls + ?,
                    feed_ttl_s = CASE WHEN ? THEN ? ELSE feed_ttl_s END,
                    entry_interval_s = CASE WHEN ? THEN ? ELSE entry_interval_s END,
                    parsed_at = CASE WHEN ? THEN ? ELSE parsed_at END
                WHERE id = ?
                """,
                (
                    format_time(now), format_time(now), format_time(next_poll_at),
                    etag, last_modified, content_hash,
                    feed_title, feed_title, feed_link, feed_link,
                    int(not_modified), int(parsed), feed_ttl_s, int(parsed), entry_interval_s,
                    int(parsed), format_time(now), source_id,
                ),
            )  # fmt: skip

    def record_failure(
        self,
        source_id: int,
        now: datetime,
        next_poll_at: datetime,
        error: str,
        *,
        weight: float = 1.0,
        disable_at_score: float | None = None,
    ) -> float:
        """A failed poll: the error kept, the weighted score raised, the source disabled once
        the score reaches `disable_at_score`. Returns the new score."""
        with self._transaction() as db:
            db.execute(
                """
                UPDATE sources SET last_polled_at = ?, last_error = ?, last_error_at = ?,
                    next_poll_at = ?, consecutive_failures = consecutive_failures + 1,
                    failure_score = failure_score + ?, polls = polls + 1
                WHERE id = ?
                """,
                (
                    format_time(now), error[:2000], format_time(now), format_time(next_poll_at),
                    weight, source_id,
                ),
            )  # fmt: skip
            row = db.execute("SELECT failure_score FROM sources WHERE id = ?", (source_id,))
            score = float(row.fetchone()[0])
            if disable_at_score is not None and score >= disable_at_score:
                reason = (
                    f"failure score {score:g} reached {disable_at_score:g}; last error: {error}"
                )
                _disable(db, source_id, reason, now)
        return score

    def disable_source(self, source_id: int, reason: str, now: datetime) -> None:
        """Stop polling a source (410 Gone, too many failures), keeping why and when."""
        with self._transaction() as db:
            _disable(db, source_id, reason, now)

    def enable_source(self, url: str) -> bool:
        """Clear an automatic disable for a source named by its configured or current URL."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE sources SET disabled_reason = NULL, disabled_at = NULL, "
                "consecutive_failures = 0, failure_score = 0, next_poll_at = NULL "
                "WHERE config_url = ? OR url = ?",
                (url, url),
            )
            return cursor.rowcount > 0

    def move_source(self, source_id: int, new_url: str) -> bool:
        """Poll the source at `new_url` from now on. False if another source already has it."""
        with self._transaction() as db:
            taken = db.execute(
                "SELECT 1 FROM sources WHERE url = ? AND id != ?", (new_url, source_id)
            ).fetchone()
            if taken:
                return False
            db.execute(
                "UPDATE sources SET url = ?, etag = NULL, last_modified = NULL WHERE id = ?",
                (new_url, source_id),
            )
            return True

    def recent_published(self, source_id: int, limit: int = 20) -> list[datetime]:
        """Publication times of a source's newest stories (for its entry frequency)."""
        rows = self._rows(
            "SELECT published_at FROM stories WHERE source_id = ? "
            "ORDER BY published_at DESC LIMIT ?",
            [source_id, limit],
        )
        return [parse_time(row["published_at"]) for row in rows]

    def delete_clusters_before(self, cutoff: datetime, now: datetime | None = None) -> int:
        """Retention: remove clusters whose newest member was first seen before `cutoff`,
        except those with alerts not yet delivered or dead-lettered. Returns clusters removed.

        Each removed story's entry is remembered (`expired_entries`, seen at `now`, else at
        `cutoff`), so that its feed re-sending it stores nothing: it is not new. So is its
        canonical URL with its title (`_removed_link_key`), for the same entry re-sent under
        a new guid (a CMS re-import, a move from RSS to Atom)."""
        seen_at = int((now or cutoff).timestamp())
        with self._transaction() as db:
            self._flush_group_index(db)
            doomed = [
                row[0]
                for row in db.execute(
                    """
                    SELECT c.id FROM clusters c
                    WHERE c.first_seen_at < ?  -- the newest member is no older than the first
                      AND (SELECT MAX(first_seen_at) FROM stories s WHERE s.cluster_id = c.id) < ?
                      AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.cluster_id = c.id
                                      AND o.status IN ('pending', 'queued'))
                    """,
                    (format_time(cutoff), format_time(cutoff)),
                ).fetchall()
            ]
            for start in range(0, len(doomed), 500):
                chunk = doomed[start : start + 500]
                marks = ",".join("?" * len(chunk))
                (last_story,) = db.execute(
                    f"SELECT MAX(id) FROM stories WHERE cluster_id IN ({marks})", chunk
                ).fetchone()
                self._mark_removed_ids(db.conn, "stories", last_story)
                self._mark_removed_ids(db.conn, "clusters", max(chunk))
                self._drop_fingerprints(
                    db,
                    f"""SELECT f.story_id, f.at, f.sketch, f.title_keys FROM story_fingerprints f
                    JOIN stories s ON s.id = f.story_id WHERE s.cluster_id IN ({marks})""",
                    chunk,
                )
                db.execute(
                    "INSERT INTO expired_entries (source_id, guid_key, seen_at) "
                    f"SELECT source_id, guid_key, ? FROM stories WHERE cluster_id IN ({marks}) "
                    "ON CONFLICT DO UPDATE SET seen_at = MAX(seen_at, excluded.seen_at)",
                    [seen_at, *chunk],
                )
                linked = db.execute(
                    "SELECT source_id, canonical_url, title FROM stories "
                    f"WHERE cluster_id IN ({marks}) AND canonical_url != ''",
                    chunk,
                ).fetchall()
                db.conn.executemany(
                    "INSERT INTO expired_entries (source_id, guid_key, seen_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO UPDATE SET seen_at = MAX(seen_at, excluded.seen_at)",
                    [(sid, _removed_link_key(url, title), seen_at) for sid, url, title in linked],
                )
                db.execute(f"DELETE FROM stories WHERE cluster_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM clusters WHERE id IN ({marks})", chunk)
            _count_removals(db.conn, len(doomed))
        self._id_floors = self._read_id_floors()
        return len(doomed)

    def forget_sent_deliveries(self, before: datetime) -> int:
        """Retention of the alert messages: delete the sent ones composed before `before`
        whose story clusters retention has removed (their outbox rows went with them). They
        were kept forever, a row per message, the only table that grew without bound. Not
        the last digest of an (alert, channel): it tells whether that fire's digest went out.
        Returns how many were deleted."""
        with self._transaction() as db:
            return db.execute(
                """
                DELETE FROM deliveries
                WHERE status = 'sent' AND created_at < ?
                  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.delivery_id = deliveries.id)
                  AND NOT EXISTS (SELECT 1 FROM alert_digests d WHERE d.rule = deliveries.rule
                                  AND d.channel = deliveries.channel
                                  AND d.last_at = deliveries.created_at)
                """,
                (format_time(before),),
            ).rowcount

    def forget_expired_entries(self, now: datetime, keep: timedelta) -> int:
        """Forget the removed entries (see `delete_clusters_before`) that their feed stopped
        listing: not seen for longer than `keep`, although a document of their source was
        read more than `LISTED_REFRESH` after they were last seen (a refresh is at most that
        late). A source answering only 304s, or no longer polled, keeps what it has: its
        feed may still list them. Returns the entries forgotten."""
        cutoff = int((now - keep).timestamp())
        refresh = int(LISTED_REFRESH.total_seconds())
        with self._transaction() as db:
            bounds = [
                (source_id, min(cutoff, int(parse_time(parsed_at).timestamp()) - refresh))
                for source_id, parsed_at in db.execute(
                    "SELECT id, parsed_at FROM sources WHERE parsed_at IS NOT NULL "
                    "AND id IN (SELECT DISTINCT source_id FROM expired_entries)"
                ).fetchall()
            ]
            # Each source's rows are one range of the primary key.
            cursor = db.conn.executemany(
                "DELETE FROM expired_entries WHERE source_id = ? AND seen_at < ?", bounds
            )
            return max(cursor.rowcount, 0)

    def prune_fingerprints(self, now: datetime) -> int:
        """Forget the fingerprints of stories published before the clustering window and
        first seen before it too, so the candidate index stays the size of one window
        however long stories are kept. A story dated long ago but seen just now (a new
        source's back catalogue, an archive replayed a day per poll) is kept for a window:
        copies published near its date may still arrive, and the window compares
        publication times, not the clock. Returns the fingerprints removed."""
        cutoff = int(now.timestamp() - self.rules.window.total_seconds())
        seen_before = format_time(now - self.rules.window)
        removed = 0
        while True:  # in slices, so one transaction never holds a day's worth of deletions
            with self._transaction() as db:
                count = self._drop_fingerprints(
                    db,
                    "SELECT f.story_id, f.at, f.sketch, f.title_keys FROM story_fingerprints f "
                    "JOIN stories s ON s.id = f.story_id "
                    "WHERE f.at < ? AND s.first_seen_at < ? ORDER BY f.at LIMIT 5000",
                    [cutoff, seen_before],
                )
            removed += count
            if count < 5000:
                return removed

    @staticmethod
    def _drop_fingerprints(db: Database, select: str, params: Sequence[Any]) -> int:
        """Delete the fingerprints `select` names (story_id, at, sketch, title_keys) and
        their candidate keys, each found by its primary key."""
        rows = db.execute(select, params).fetchall()
        keys = [
            (key, story_id)
            for story_id, _at, sketch, titles in rows
            for key in _near_keys_of(sketch, titles)
        ]
        db.conn.executemany("DELETE FROM near_keys WHERE key = ? AND story_id = ?", keys)
        db.conn.executemany(
            "DELETE FROM story_fingerprints WHERE story_id = ?", [(row[0],) for row in rows]
        )
        return len(rows)

    def vacuum(self) -> None:
        """Rewrite the whole file compactly (SQLite's VACUUM) and truncate the WAL. Needs no
        other writer: `syndicator vacuum` holds the run lock while it runs."""
        try:
            self.db.execute("PRAGMA temp_store = FILE")  # the copy VACUUM builds, not in RAM
            try:
                self.db.conn.execute("VACUUM")
            finally:
                self.db.execute("PRAGMA temp_store = MEMORY")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: vacuum failed: {e}") from e

    def reclaim_space(self) -> None:
        """Give pages freed by deletions back to the file system and truncate the WAL: after
        retention. Skipped inside a write group; the next retention run does it."""
        if self.db.conn.in_transaction:  # a write group included
            return
        try:
            # executescript runs the pragma to the end; sqlite3's execute() steps it once, which
            # frees a single page.
            self.db.conn.executescript("PRAGMA incremental_vacuum;")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: {e}") from e

    # -- write groups --------------------------------------------------------------------------

    def begin_group(self) -> None:
        """Let the writes that follow share one transaction, committed by `end_group`.

        A poll cycle stores many feeds; one commit for a few dozen of them instead of one
        each, and one search-index insert for all their new stories, doubles what the single
        writer stores per second. Every write inside stays atomic on its own (a savepoint),
        so a failed one undoes only itself; a crash before `end_group` loses the group's
        writes together, validators included, and the next poll fetches those feeds again:
        nothing is lost and nothing doubled. Does nothing if a transaction is already open.
        """
        if self._group is None and not self.db.conn.in_transaction:
            try:
                _begin_write(self.db.conn)
            except sqlite3.Error as e:
                raise StorageError(f"{self.path}: {e}") from e
            self._group = []

    def end_group(self) -> None:
        """Commit what was written since `begin_group`, search index included."""
        if self._group is None:
            return
        pending, self._group = self._group, None
        try:
            if self.db.conn.in_transaction:
                self._index_for_search(self.db, pending)
                self.db.conn.execute("COMMIT")
        except sqlite3.Error as e:
            if self.db.conn.in_transaction:
                self.db.conn.execute("ROLLBACK")
            raise StorageError(f"{self.path}: {e}") from e

    @property
    def in_group(self) -> bool:
        return self._group is not None

    def _flush_group_index(self, db: Database) -> None:
        """Index the group's new stories now: before an update or delete, whose triggers
        remove index rows that must exist."""
        if self._group:
            self._index_for_search(db, self._group)
            self._group.clear()

    @staticmethod
    def _index_for_search(db: Database, stories: list[tuple[int, str, str]]) -> None:
        db.conn.executemany(
            "INSERT INTO stories_fts (rowid, title, text) VALUES (?, ?, ?)",
            [
                (story_id, search_text(title), search_text(text))
                for story_id, title, text in stories
            ],
        )

    # -- stories and clusters ------------------------------------------------------------------

    def store_stories(self, stories: Sequence[Story], now: datetime) -> StoreResult:
        """Upsert one feed's stories in one transaction: insert unseen entries (joining the
        cluster of an exact or near-duplicate earlier story), update changed ones in place,
        and leave re-sent ones alone."""
        counts = dict.fromkeys(UpsertAction, 0)
        now_text = format_time(now)
        indexed: list[tuple[int, str, str]] = []  # new stories for the search index
        # One entry listed twice is stored once: the last copy, as a feed reader shows it.
        stories = list({(story.source_id, story.guid_key): story for story in stories}.values())
        with self._transaction() as db:
            stored = self._stored_versions(db.conn, stories)
            expired = self._expired_keys(
                db.conn,
                [story for story in stories if (story.source_id, story.guid_key) not in stored],
                now,
            )
            stored.update(
                self._stored_under_other_keys(
                    db.conn,
                    [
                        story
                        for story in stories
                        if (story.source_id, story.guid_key) not in stored
                        and (story.source_id, story.guid_key) not in expired
                    ],
                    claimed={row[0] for row in stored.values()},
                    now=now,
                )
            )
            expired |= self._expired_links(
                db.conn,
                [
                    story
                    for story in stories
                    if (story.source_id, story.guid_key) not in stored
                    and (story.source_id, story.guid_key) not in expired
                ],
                now,
            )
            looked = self._last_looked(db.conn, {story.source_id for story in stories})
            for story in stories:
                row = stored.get((story.source_id, story.guid_key))
                if row is None and (story.source_id, story.guid_key) in expired:
                    continue  # stored once, removed by retention: a re-sent entry, not new
                action = decide_upsert(row[1] if row else None, story.content_hash)
                if action is UpsertAction.INSERT:
                    story_id = self._insert_story(
                        db, story, now, now_text, looked_at=looked.get(story.source_id)
                    )
                    indexed.append((story_id, story.title, story.text))
                    if self.alerts is not None:
                        self._record_alerts(db.conn, story, story_id, now_text, updated=False)
                elif action is UpsertAction.UPDATE and row is not None:
                    self._flush_group_index(db)
                    self._update_story(db, row[0], row[2], story, now_text)
                    if self.alerts is not None:
                        self._record_alerts(db.conn, story, row[0], now_text, updated=True)
                counts[action] += 1
            if self._group is None:
                self._index_for_search(db, indexed)
        if self._group is not None:
            self._group.extend(indexed)  # indexed when the group commits
        return StoreResult(
            inserted=counts[UpsertAction.INSERT],
            updated=counts[UpsertAction.UPDATE],
            unchanged=counts[UpsertAction.UNCHANGED],
            expired=len(expired),
        )

    def _record_alerts(
        self, conn: sqlite3.Connection, story: Story, story_id: int, now: str, *, updated: bool
    ) -> None:
        """Match a stored story against every alert; queue each new (alert, cluster) match
        once per channel. A copy joining a matched cluster adds nothing; an update queues
        again only for alerts with `on_update`."""
        assert self.alerts is not None
        doc = self._story_doc(conn, story)
        hits = self.alerts.hits(doc, story.title)
        if not hits:
            return
        (cluster_id,) = conn.execute(
            "SELECT cluster_id FROM stories WHERE id = ?", (story_id,)
        ).fetchone()
        for rule, score in hits:
            new = conn.execute(
                "INSERT OR IGNORE INTO alert_matches (rule, cluster_id, story_id, score, "
                "matched_at) VALUES (?, ?, ?, ?, ?)",
                (rule.name, cluster_id, story_id, score, now),
            ).rowcount
            if new:
                conn.executemany(
                    "INSERT OR IGNORE INTO outbox (rule, cluster_id, channel, status, "
                    "next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)",
                    [(rule.name, cluster_id, channel, now, now) for channel in rule.channels],
                )
            elif updated and rule.on_update:
                conn.executemany(
                    """INSERT INTO outbox (rule, cluster_id, channel, status, next_attempt_at,
                        created_at) VALUES (?, ?, ?, 'pending', ?, ?)
                    ON CONFLICT (rule, cluster_id, channel) DO UPDATE SET status = 'pending',
                        delivery_id = NULL, created_at = excluded.created_at
                    WHERE status IN ('sent', 'dead')""",
                    [(rule.name, cluster_id, channel, now, now) for channel in rule.channels],
                )

    def _story_doc(self, conn: sqlite3.Connection, story: Story) -> MatchDoc:
        regions = [t.code for t in story.tags if t.focus and t.kind is TagKind.REGION]
        topics = [t.code for t in story.tags if t.focus and t.kind is TagKind.TOPIC]
        return match_doc(
            story.title,
            story.text,
            sources=self._source_identifiers(conn, story.source_id),
            regions=regions,
            topics=topics,
            language=story.language,
        )

    def _source_identifiers(self, conn: sqlite3.Connection, source_id: int) -> tuple[str, ...]:
        """A source's name, feed title and URLs, as `source:` filters match them."""
        found = self._source_words.get(source_id)
        if found is None:
            row = conn.execute(
                "SELECT name, feed_title, url, config_url FROM sources WHERE id = ?",
                (source_id,),
            ).fetchone()
            found = tuple(value for value in (row or ()) if value)
            self._source_words[source_id] = found
        return found

    @staticmethod
    def _stored_versions(
        conn: sqlite3.Connection, stories: Sequence[Story]
    ) -> dict[tuple[int, str], tuple[int, str, int]]:
        """(id, content hash, cluster id) of the stories already stored under these keys:
        a few statements per feed rather than one per entry (most entries are re-sent)."""
        found: dict[tuple[int, str], tuple[int, str, int]] = {}
        for source_id, (key, story_id, digest, cluster_id) in _rows_per_source(
            conn,
            "SELECT guid_key, id, content_hash, cluster_id FROM stories "
            "WHERE source_id = ? AND guid_key IN ({marks})",
            [(story.source_id, story.guid_key) for story in stories],
        ):
            found[(source_id, key)] = (story_id, digest, cluster_id)
        return found

    @staticmethod
    def _stored_under_other_keys(
        conn: sqlite3.Connection, stories: Sequence[Story], claimed: set[int], now: datetime
    ) -> dict[tuple[int, str], tuple[int, str, int]]:
        """The stored stories these entries, whose keys are new, already are: by link, else
        by time and link but for its query, or by time, title and text (its link renamed),
        else (without a link) by title and text."""
        found = Store._stored_by_link(conn, stories, claimed)
        found.update(
            Store._stored_by_date(
                conn,
                [s for s in stories if s.canonical_url and (s.source_id, s.guid_key) not in found],
                claimed,
                now,
            )
        )
        found.update(
            Store._stored_by_text(
                conn,
                [
                    s
                    for s in stories
                    if not s.canonical_url and (s.source_id, s.guid_key) not in found
                ],
                claimed,
            )
        )
        return found

    @staticmethod
    def _stored_by_link(
        conn: sqlite3.Connection, stories: Sequence[Story], claimed: set[int]
    ) -> dict[tuple[int, str], tuple[int, str, int]]:
        """(id, content hash, cluster id) of a stored story of the same source with the same
        canonical URL, for entries whose key is new: the same entry under a guid that changes
        on every request (a timestamp or session id in it) is updated in place, not stored
        again as a copy of itself. It must still have the same title or the same text: a
        feed linking every entry to its home page lists new entries at one URL. Entries of
        one document sharing a URL have none (they are told apart first), and a stored story
        answers for one entry at most."""
        by_url: dict[tuple[int, str], Story] = {}
        for story in stories:
            if story.canonical_url:
                by_url.setdefault((story.source_id, story.canonical_url), story)
        found: dict[tuple[int, str], tuple[int, str, int]] = {}
        for source_id, (url, story_id, digest, cluster_id, title, text) in _rows_per_source(
            conn,
            # "+source_id": by the URL's index, not by reading every story of the source,
            # which is what SQLite chose (a source has thousands; a URL one or a few).
            "SELECT canonical_url, id, content_hash, cluster_id, title, text FROM stories "
            "WHERE +source_id = ? AND canonical_url IN ({marks}) ORDER BY id",
            by_url,
        ):
            story = by_url[(source_id, url)]
            if (source_id, story.guid_key) in found or story_id in claimed:
                continue
            if not _same_title_or_text(title, text, story):
                continue
            claimed.add(story_id)
            found[(source_id, story.guid_key)] = (story_id, digest, cluster_id)
        return found

    @staticmethod
    def _stored_by_date(
        conn: sqlite3.Connection, stories: Sequence[Story], claimed: set[int], now: datetime
    ) -> dict[tuple[int, str], tuple[int, str, int]]:
        """As `_stored_by_link`, for entries whose link's query changes on every request (a
        cache-buster or token in a guid that is also the link): the stored story of the same
        source published at the same second, at the same address but for its query, with the
        same title or (a non-empty) text. When only the link changed, the entry counts as
        unchanged (the entry's own hash is returned as the stored one), or readers would see
        it "updated" on every poll. An undated entry is dated when first seen, so it cannot
        be found this way.

        Also the story published at the same second with the same title and the same
        non-empty text at another address: the same entry, re-keyed with its link renamed (a
        CMS re-import, a slug or section changed). It was stored again, a copy of itself
        "also reported by" its own source, and the feed kept its old, dead link. It is
        updated (its link is new), and found by that link from then on."""
        by_time: dict[tuple[int, str], list[Story]] = {}
        for story in stories:
            published = format_time(min(story.published_at, now))
            by_time.setdefault((story.source_id, published), []).append(story)
        found: dict[tuple[int, str], tuple[int, str, int]] = {}
        for source_id, row in _rows_per_source(
            conn,
            "SELECT published_at, id, content_hash, cluster_id, canonical_url, title, text "
            "FROM stories WHERE source_id = ? AND published_at IN ({marks}) ORDER BY id",
            by_time,
        ):
            published, story_id, digest, cluster_id, url, title, text = row
            if story_id in claimed:
                continue
            for story in by_time[(source_id, published)]:
                key = (source_id, story.guid_key)
                if key in found:
                    continue
                unchanged = title == story.title and text == story.text
                if _same_address(url, story.canonical_url):
                    if not _same_title_or_text(title, text, story):
                        continue
                elif not (unchanged and text.strip()):
                    continue
                else:  # renamed: its new link is a change to publish
                    unchanged = False
                claimed.add(story_id)
                found[key] = (story_id, story.content_hash if unchanged else digest, cluster_id)
                break
        return found

    @staticmethod
    def _stored_by_text(
        conn: sqlite3.Connection, stories: Sequence[Story], claimed: set[int]
    ) -> dict[tuple[int, str], tuple[int, str, int]]:
        """As `_stored_by_link`, for entries without a link of their own (a podcast's
        episodes, entries sharing the home page as their link): the stored story of the same
        source, also without one, with the same title and the same text."""
        by_title: dict[tuple[int, str], list[Story]] = {}
        for story in stories:
            if story.title.strip() or story.text.strip():
                by_title.setdefault((story.source_id, story.title), []).append(story)
        found: dict[tuple[int, str], tuple[int, str, int]] = {}
        for source_id, (title, story_id, digest, cluster_id, text) in _rows_per_source(
            conn,
            "SELECT title, id, content_hash, cluster_id, text FROM stories "
            "WHERE source_id = ? AND canonical_url = '' AND title IN ({marks}) ORDER BY id",
            by_title,
        ):
            if story_id in claimed:
                continue
            for story in by_title[(source_id, title)]:
                key = (source_id, story.guid_key)
                if key not in found and story.text == text:
                    claimed.add(story_id)
                    found[key] = (story_id, digest, cluster_id)
                    break
        return found

    @staticmethod
    def _expired_keys(
        conn: sqlite3.Connection, stories: Sequence[Story], now: datetime
    ) -> set[tuple[int, str]]:
        """The keys among these (unstored) stories whose stories retention removed, in one
        statement per source (and 500 keys). Those last seen more than `LISTED_REFRESH` ago
        are marked seen now: the feed still lists them, so they stay remembered."""
        found: set[tuple[int, str]] = set()
        stale: list[tuple[int, int, str]] = []
        now_s = int(now.timestamp())
        refresh_before = now_s - int(LISTED_REFRESH.total_seconds())
        by_key = {(story.source_id, story.guid_key): story for story in stories}
        for source_id, (key, seen_at) in _rows_per_source(
            conn,
            "SELECT guid_key, seen_at FROM expired_entries "
            "WHERE source_id = ? AND guid_key IN ({marks})",
            by_key,
        ):
            found.add((source_id, key))
            if seen_at < refresh_before:
                stale.append((now_s, source_id, key))
                # Its link's memory too (see `_expired_links`), while the feed lists it.
                story = by_key[(source_id, key)]
                if story.canonical_url:
                    link_key = _removed_link_key(story.canonical_url, story.title)
                    stale.append((now_s, source_id, link_key))
        _mark_listed(conn, stale)
        return found

    @staticmethod
    def _expired_links(
        conn: sqlite3.Connection, stories: Sequence[Story], now: datetime
    ) -> set[tuple[int, str]]:
        """The keys among these entries, new under their own key and stored under no other,
        whose link and title are those of a story retention removed from the same source: the
        same entry under a new guid. A re-import that gives a feed's entries new guids would
        else bring back every entry older than the retention as a new story, published and
        alerted again. Those last seen more than `LISTED_REFRESH` ago are marked seen now."""
        by_key = {
            (story.source_id, _removed_link_key(story.canonical_url, story.title)): story
            for story in stories
            if story.canonical_url
        }
        found: set[tuple[int, str]] = set()
        stale: list[tuple[int, int, str]] = []
        now_s = int(now.timestamp())
        refresh_before = now_s - int(LISTED_REFRESH.total_seconds())
        for source_id, (key, seen_at) in _rows_per_source(
            conn,
            "SELECT guid_key, seen_at FROM expired_entries "
            "WHERE source_id = ? AND guid_key IN ({marks})",
            by_key,
        ):
            found.add((source_id, by_key[(source_id, key)].guid_key))
            if seen_at < refresh_before:
                stale.append((now_s, source_id, key))
        _mark_listed(conn, stale)
        return found

    @staticmethod
    def _last_looked(conn: sqlite3.Connection, source_ids: set[int]) -> dict[int, datetime]:
        """When each source's feed was last read (or answered 304) before this poll."""
        marks = ",".join("?" * len(source_ids))
        return {
            source_id: parse_time(at)
            for source_id, at in conn.execute(
                f"SELECT id, last_success_at FROM sources WHERE id IN ({marks}) "
                "AND last_success_at IS NOT NULL",
                tuple(source_ids),
            )
        }

    def _insert_story(
        self,
        db: Database,
        story: Story,
        now: datetime,
        now_text: str,
        *,
        looked_at: datetime | None = None,
    ) -> int:
        """Insert a new story into the cluster it belongs to, or a new one:
        1. the earliest story with the same canonical URL or global guid, else
        2. the best near-duplicate among the earlier stories sharing its candidate keys;
        then index its fingerprint and link its cluster to related ones. `looked_at`: when
        its feed was last read without it (None on a source's first poll)."""
        conn = db.conn  # the hot path: sqlite3 itself, without the sqlite-utils wrapper
        published_at = min(story.published_at, now)
        published = format_time(published_at)
        near = _NearStory.of(story, int(published_at.timestamp()))
        guid = _global_guid(story)
        match, reason = self._exact_match(conn, story.canonical_url, guid)
        # An exact copy's cluster already has its candidates and related links (they came
        # with its first member); only a story of unknown cluster looks for them.
        hits = self._near_candidates(conn, near) if match is None else _NO_HITS
        if match is None:
            match, reason = self._copy_match(near, hits)
        if match is None:
            cluster_id = self._new_cluster(conn, story.title, published, now_text)
            self.clusters_created += 1
        else:
            cluster_id = match.cluster_id
        story_id = conn.execute(
            """
            INSERT INTO stories (id, source_id, guid_key, guid, url, canonical_url, title,
                summary, content_html, text, author, language, categories, published_at,
                first_seen_at, updated_at, content_hash, cluster_id, join_reason, place, agency,
                join_score, joined_story_id, global_guid)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                self._new_id(conn, "stories"), story.source_id, story.guid_key, story.guid,
                story.url, story.canonical_url,
                story.title, story.summary, story.content_html, story.text, story.author,
                story.language, "\n".join(story.categories), published, now_text, now_text,
                story.content_hash, cluster_id, reason.value, story.place, story.agency,
                match.score if match and reason is JoinReason.SIMILAR_TEXT else None,
                match.story_id if match else None, guid,
            ),
        ).lastrowid  # fmt: skip
        if story_id is None:  # None only when no row was inserted
            raise StorageError(f"{self.path}: story {story.guid_key!r} was not inserted")
        # The copy published first represents the cluster (its title, link and source lead
        # the feed entry and the alert): copies seen in one cycle, or a feed that lists an
        # older copy later, arrive in no particular order. The cluster id, and so the entry
        # id, stays. SQLite reads every right-hand side from the row before the update.
        # A joining copy dated before a read of its own feed that did not list it, though it
        # listed later entries, gets no credit for that date (a site writing local time as
        # UTC, a CMS re-dating, a source claiming another's story): it counts from when it
        # was first seen, so it cannot take the story from the source that had it first,
        # nor move it back in time. (An empty or failing read proves nothing.)
        if (
            match is not None
            and looked_at is not None
            and published_at < looked_at
            and _listed_later_entries(conn, story.source_id, published, looked_at)
        ):
            published = now_text
        conn.execute(
            """
            UPDATE clusters SET
                representative_story_id = CASE
                    WHEN representative_story_id IS NULL OR :published < published_at
                    THEN :story ELSE representative_story_id END,
                title = CASE WHEN representative_story_id IS NOT NULL
                    AND :published < published_at THEN :title ELSE title END,
                updated_at = CASE WHEN representative_story_id IS NOT NULL
                    AND :published < published_at THEN MAX(updated_at, :now) ELSE updated_at END,
                published_at = MIN(published_at, :published)
            WHERE id = :cluster
            """,
            {
                "story": story_id,
                "published": published,
                "title": story.title,
                "now": now_text,
                "cluster": cluster_id,
            },
        )
        if match is not None:  # an earlier-published copy moves the cluster back in time
            conn.execute(
                "UPDATE cluster_tags SET published_at = ? "
                "WHERE cluster_id = ? AND published_at > ?",
                (published, cluster_id, published),
            )
        self._index_near(conn, story_id, cluster_id, near)
        self._link_related(conn, cluster_id, near, hits.titles)
        _add_cluster_tags(conn, cluster_id, story.tags)
        return story_id

    def _copy_match(self, near: _NearStory, hits: _NearHits) -> tuple[CopyMatch | None, JoinReason]:
        """The best near-duplicate among the candidates sharing the most body keys."""
        match = choose_copy(near.sketch, hits.body, self.rules.copy_threshold, near.title)
        return match, JoinReason.FIRST if match is None else JoinReason.SIMILAR_TEXT

    def _new_cluster(
        self, conn: sqlite3.Connection, title: str, published: str, now_text: str
    ) -> int:
        cluster_id = conn.execute(
            "INSERT INTO clusters (id, title, published_at, first_seen_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (self._new_id(conn, "clusters"), title, published, now_text, published),
        ).lastrowid
        assert cluster_id is not None  # sqlite3 gives None only when no row was inserted
        return cluster_id

    def _exact_match(
        self, conn: sqlite3.Connection, canonical: str, guid: str | None
    ) -> tuple[CopyMatch | None, JoinReason]:
        """The earliest story with the same canonical URL or global guid, either way round
        (a permalink guid in one feed is the link of another)."""
        row = conn.execute(_EXACT_MATCH, (cluster_key(canonical), guid)).fetchone()
        if row is None:
            return None, JoinReason.FIRST
        return CopyMatch(row[0], row[1], 1.0), JoinReason(row[2])

    def _near_candidates(
        self, conn: sqlite3.Connection, near: _NearStory, exclude: int | None = None
    ) -> _NearHits:
        """Earlier stories within the window worth comparing with a new one: those sharing
        the most body keys (to score as copies) and those sharing a pair of headline words
        (to score as related), each key's newest holders first, at most
        `rules.candidates_per_key` per key. Two statements: the keys, then the candidates'
        fingerprints, times and clusters."""
        keys = near.body_keys + near.headline_index
        if not keys:
            return _NO_HITS
        lookup = _near_lookup(len(keys), self.rules.candidates_per_key)
        shared: dict[int, int] = {}  # story id -> body keys in common
        titled: set[int] = set()
        for key, story_id in conn.execute(lookup, keys):
            if story_id == exclude:
                continue
            if key < TITLE_KEY_OFFSET:
                shared[story_id] = shared.get(story_id, 0) + 1
            else:
                titled.add(story_id)
        scored = set(most_shared(shared, self.rules.max_candidates, len(near.body_keys)))
        if not scored and not titled:
            return _NO_HITS
        window = int(self.rules.window.total_seconds())
        body: list[Candidate] = []
        titles: list[TitleCandidate] = []
        for story_id, at, cluster_id, sketch, title_keys in self._candidate_rows(
            conn, scored | titled
        ):
            if abs(at - near.at) > window:
                continue
            if story_id in scored:
                headline = _unpack_keys(title_keys)
                body.append(
                    Candidate(story_id, cluster_id, Fingerprint.from_bytes(sketch), headline)
                )
            if story_id in titled:
                titles.append(TitleCandidate(story_id, cluster_id, _unpack_keys(title_keys)))
        return _NearHits(body, titles)

    @staticmethod
    def _candidate_rows(
        conn: sqlite3.Connection, story_ids: set[int]
    ) -> list[tuple[int, int, int, bytes, bytes]]:
        """(id, time, cluster, sketch, headline keys) of earlier stories, by id (the caller
        keeps those inside the window)."""
        marks = ",".join("?" * len(story_ids))
        return conn.execute(
            "SELECT story_id, at, cluster_id, sketch, title_keys FROM story_fingerprints "
            f"WHERE story_id IN ({marks})",
            list(story_ids),
        ).fetchall()

    @staticmethod
    def _index_near(
        conn: sqlite3.Connection, story_id: int, cluster_id: int, near: _NearStory
    ) -> None:
        conn.execute(
            "INSERT INTO story_fingerprints (story_id, at, sketch, title_keys, cluster_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (story_id, near.at, near.sketch_bytes, _pack_keys(near.headline_words), cluster_id),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO near_keys (key, story_id) VALUES (?, ?)",
            [(key, story_id) for key in near.body_keys + near.headline_index],
        )

    def _link_related(
        self,
        conn: sqlite3.Connection,
        cluster_id: int,
        near: _NearStory,
        candidates: list[TitleCandidate],
    ) -> None:
        if not candidates:
            return
        linked = related_clusters(
            near.headline_words, candidates, cluster_id, self.rules.related_threshold
        )
        if not linked:
            return
        rows = [(cluster_id, other, score) for other, score in linked.items()]
        rows += [(other, cluster_id, score) for other, score in linked.items()]
        conn.executemany(
            "INSERT INTO cluster_links (cluster_id, related_id, score) VALUES (?, ?, ?) "
            "ON CONFLICT DO UPDATE SET score = MAX(score, excluded.score)",
            rows,
        )

    def _update_story(
        self, db: Database, story_id: int, cluster_id: int, story: Story, now_text: str
    ) -> None:
        old_url = db.execute("SELECT url FROM stories WHERE id = ?", (story_id,)).fetchone()[0]
        db.execute(
            """
            UPDATE stories SET title = ?, summary = ?, content_html = ?, text = ?, author = ?,
                url = ?, canonical_url = ?, categories = ?, updated_at = ?, content_hash = ?,
                place = ?, agency = ?
            WHERE id = ?
            """,
            (
                story.title, story.summary, story.content_html, story.text, story.author,
                story.url, story.canonical_url, "\n".join(story.categories), now_text,
                story.content_hash, story.place, story.agency, story_id,
            ),
        )  # fmt: skip
        # The entry shows the representative (title, link, text) and of every other copy
        # only its link: another copy's edited text changes nothing a subscriber sees, so its
        # `updated` stays (it moved, and the feed was rewritten, at every edit of any copy).
        db.execute(
            """
            UPDATE clusters SET
                updated_at = CASE WHEN representative_story_id = :story OR :url_changed
                    THEN :now ELSE updated_at END,
                title = CASE WHEN representative_story_id = :story THEN :title ELSE title END
            WHERE id = :cluster
            """,
            {
                "story": story_id,
                "url_changed": story.url != old_url,
                "now": now_text,
                "title": story.title,
                "cluster": cluster_id,
            },
        )
        _add_cluster_tags(db.conn, cluster_id, story.tags)
        self._refingerprint(db.conn, story_id, story)

    def _refingerprint(self, conn: sqlite3.Connection, story_id: int, story: Story) -> None:
        """Index an edited story under its new text, while its fingerprint is kept (inside
        the window). A breaking-news stub later filled out by its site kept the stub's
        fingerprint: the sites copying the full report found nothing like it and made a
        cluster of their own, without the source that had the story first. The story stays
        in its cluster, at its time; only what later copies are compared with changes."""
        row = conn.execute(
            "SELECT at, sketch, title_keys FROM story_fingerprints WHERE story_id = ?",
            (story_id,),
        ).fetchone()
        if row is None:
            return
        at, sketch, title_keys = row
        near = _NearStory.of(story, at)
        packed_title = _pack_keys(near.headline_words)
        if near.sketch_bytes == sketch and packed_title == title_keys:
            return
        conn.executemany(
            "DELETE FROM near_keys WHERE key = ? AND story_id = ?",
            [(key, story_id) for key in _near_keys_of(sketch, title_keys)],
        )
        conn.execute(
            "UPDATE story_fingerprints SET sketch = ?, title_keys = ? WHERE story_id = ?",
            (near.sketch_bytes, packed_title, story_id),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO near_keys (key, story_id) VALUES (?, ?)",
            [(key, story_id) for key in near.body_keys + near.headline_index],
        )

    def story_count(self) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM stories")[0]["n"])

    def cluster_count(self) -> int:
        return int(self._rows("SELECT COUNT(*) AS n FROM clusters")[0]["n"])

    def clusters(self, where: ClusterFilter) -> list[Cluster]:
        """The newest clusters matching a filter, newest first, with every member loaded."""
        if where.query.strip():
            matched, _ = self._query_matches(where, stop_at=where.limit)
            return self.clusters_by_id(matched)
        sql, params = _feed_query("c.*", where)
        return self._load_clusters(self._rows(sql, params))

    def search(self, where: ClusterFilter) -> SearchResult:
        """`clusters(where)` for a query, and how many clusters match it in all (`search`
        and `alerts test` say both: "132 match, showing the newest 20"). Counting evaluates
        every candidate, so it costs what a query the index cannot narrow costs anyway."""
        matched, counted_all = self._query_matches(where, stop_at=None)
        return SearchResult(self.clusters_by_id(matched[: where.limit]), len(matched), counted_all)

    def cluster_of(
        self, *, cluster_id: int | None = None, story_id: int | None = None
    ) -> Cluster | None:
        """One cluster with every member, by its id or by the id of one of its stories."""
        if story_id is not None:
            rows = self._rows("SELECT cluster_id FROM stories WHERE id = ?", [story_id])
            cluster_id = rows[0]["cluster_id"] if rows else None
        if cluster_id is None:
            return None
        clusters = self._load_clusters(
            self._rows("SELECT * FROM clusters WHERE id = ?", [cluster_id])
        )
        if not clusters:
            return None
        return replace(
            clusters[0],
            related=tuple(self.related_of(cluster_id)),
            tags=tuple(self.tags_of(cluster_id)),
        )

    def clusters_of_url(self, url: str) -> list[int]:
        """The ids of the clusters holding a story at this URL (compared canonically: tracking
        parameters, fragment and host case aside), lowest first: usually one (copies of an
        article join its cluster); several where one feed lists different entries at one
        address, which are stored without a canonical URL and so found by their link as
        written (a scan, for `explain URL` only)."""
        rows = self._rows(
            "SELECT DISTINCT cluster_id FROM stories WHERE canonical_url = ? ORDER BY 1",
            [canonical_url(url)],
        ) or self._rows(
            "SELECT DISTINCT cluster_id FROM stories WHERE url = ? ORDER BY 1", [url.strip()]
        )
        return [int(row["cluster_id"]) for row in rows]

    def tags_of(self, cluster_id: int) -> list[Tag]:
        """Every tag of a cluster, focus first, with its score and evidence."""
        rows = self._rows(
            "SELECT * FROM cluster_tags WHERE cluster_id = ? "
            "ORDER BY kind, focus DESC, length(code) != 2, score DESC, code",
            [cluster_id],
        )
        return [
            Tag(
                TagKind(row["kind"]),
                row["code"],
                row["score"],
                bool(row["focus"]),
                tuple(line for line in row["evidence"].split("\n") if line),
            )
            for row in rows
        ]

    # -- re-clustering ------------------------------------------------------------------------

    def recluster_singletons(
        self, on_progress: Callable[[int, int], None] | None = None, batch: int = 200
    ) -> ReclusterResult:
        """`syndicator recluster`: after the near-duplicate rules changed (a lower threshold,
        a longer window), let each story still alone in its cluster join the cluster of an
        earlier near-duplicate it matches under the current rules, as it would if it arrived
        now. Stories inside the window only (their fingerprints are kept that long), in the
        order they were first seen.

        What it never does, so that feeds and alerts stay true: split a cluster, merge two
        clusters of several members, or give a cluster a new representative (a story joins
        only a cluster first seen no later than itself). The emptied cluster is removed, as
        retention removes one; its tags, alert matches and sent deliveries move with the
        story (an alert already sent for it is not sent again); a story whose alert is still
        waiting to go out stays put."""
        singles = self.db.conn.execute(
            """
            SELECT s.id, s.cluster_id, c.first_seen_at, f.at, f.sketch, f.title_keys, s.title
            FROM clusters c
            JOIN stories s ON s.cluster_id = c.id
            JOIN story_fingerprints f ON f.story_id = s.id
            WHERE NOT EXISTS (SELECT 1 FROM stories o WHERE o.cluster_id = c.id AND o.id != s.id)
              AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.cluster_id = c.id
                              AND o.status IN ('pending', 'queued'))
            ORDER BY c.first_seen_at, s.id
            """
        ).fetchall()
        joined = 0
        for start in range(0, len(singles), batch):
            with self._transaction() as db:
                for row in singles[start : start + batch]:
                    joined += self._rejoin(db.conn, row)
            if on_progress is not None:
                on_progress(min(start + batch, len(singles)), len(singles))
        self._id_floors = self._read_id_floors()
        return ReclusterResult(examined=len(singles), joined=joined)

    def _rejoin(
        self, conn: sqlite3.Connection, single: tuple[int, int, str, int, bytes, bytes, str]
    ) -> bool:
        """Move one lone story (its id, cluster, first seen, and fingerprint row) into the
        cluster of its best earlier near-duplicate, if it has one."""
        story_id, cluster_id, first_seen, at, sketch, title_keys, title = single
        near = _NearStory.stored(at, sketch, title_keys, title)
        if near is None:
            return False
        hits = self._near_candidates(conn, near, exclude=story_id)
        match, _ = self._copy_match(near, hits)
        if match is None or match.cluster_id == cluster_id:
            return False
        target = conn.execute(
            "SELECT first_seen_at, representative_story_id FROM clusters WHERE id = ?",
            (match.cluster_id,),
        ).fetchone()
        if target is None or (target[0], target[1]) > (first_seen, story_id):
            return False  # the later story's own turn (or none): the first seen stays first
        self._move_story(conn, story_id, cluster_id, match)
        return True

    def _move_story(
        self,
        conn: sqlite3.Connection,
        story_id: int,
        old: int,
        match: CopyMatch,
    ) -> None:
        new = match.cluster_id
        tags = self.tags_of(old)
        conn.execute(
            "UPDATE stories SET cluster_id = ?, join_reason = ?, join_score = ?, "
            "joined_story_id = ? WHERE id = ?",
            (new, JoinReason.SIMILAR_TEXT.value, match.score, match.story_id, story_id),
        )
        conn.execute(
            "UPDATE story_fingerprints SET cluster_id = ? WHERE story_id = ?", (new, story_id)
        )
        conn.execute(
            "UPDATE clusters SET published_at = MIN(published_at, "
            "(SELECT published_at FROM stories WHERE id = ?)) WHERE id = ?",
            (story_id, new),
        )
        conn.execute(
            "UPDATE cluster_tags SET published_at = (SELECT published_at FROM clusters "
            "WHERE id = ?) WHERE cluster_id = ?",
            (new, new),
        )
        _add_cluster_tags(conn, new, tags)
        # What was matched and sent for the story stays matched and sent: no second alert.
        conn.execute(
            "INSERT OR IGNORE INTO alert_matches (rule, cluster_id, story_id, score, matched_at) "
            "SELECT rule, ?, story_id, score, matched_at FROM alert_matches WHERE cluster_id = ?",
            (new, old),
        )
        conn.execute(
            """INSERT OR IGNORE INTO outbox (rule, cluster_id, channel, status, attempts,
                next_attempt_at, last_error, created_at, delivered_at, delivery_id)
            SELECT rule, ?, channel, status, attempts, next_attempt_at, last_error, created_at,
                delivered_at, delivery_id FROM outbox WHERE cluster_id = ?""",
            (new, old),
        )
        self._mark_removed_ids(conn, "clusters", old)
        conn.execute("DELETE FROM clusters WHERE id = ?", (old,))
        _count_removals(conn, 1)

    # -- re-tagging ---------------------------------------------------------------------------

    def cluster_ids(self) -> list[int]:
        """Every cluster id, oldest first (what `retag` walks through)."""
        return [row["id"] for row in self._rows("SELECT id FROM clusters ORDER BY id")]

    def members_to_tag(self, cluster_ids: Sequence[int]) -> dict[int, list[TaggableStory]]:
        """What the taggers read of every member of these clusters."""
        if not cluster_ids:
            return {}
        marks = ",".join("?" * len(cluster_ids))
        rows = self._rows(
            f"""
            SELECT st.cluster_id, st.title, st.text, st.place, st.url, st.categories,
                   st.language, so.region
            FROM stories st JOIN sources so ON so.id = st.source_id
            WHERE st.cluster_id IN ({marks}) ORDER BY st.id
            """,
            list(cluster_ids),
        )
        members: dict[int, list[TaggableStory]] = {}
        for row in rows:
            members.setdefault(row["cluster_id"], []).append(
                TaggableStory(
                    title=row["title"],
                    text=row["text"],
                    place=row["place"],
                    url=row["url"],
                    categories=tuple(c for c in row["categories"].split("\n") if c),
                    region=row["region"] or "",
                    language=row["language"] or "",
                )
            )
        return members

    def replace_cluster_tags(self, tags: Mapping[int, Sequence[Tag]]) -> None:
        """Set the tags of these clusters (in one transaction), dropping what they had; the
        published feeds are marked for rendering again."""
        with self._transaction() as db:
            for cluster_id, cluster_tags in tags.items():
                db.execute("DELETE FROM cluster_tags WHERE cluster_id = ?", [cluster_id])
                _add_cluster_tags(db.conn, cluster_id, cluster_tags)
            db.execute("UPDATE published_feeds SET signature = ''")

    def related_of(self, cluster_id: int) -> list[RelatedLink]:
        """The clusters linked to this one as the same event, most similar first."""
        rows = self._rows(
            """
            SELECT l.related_id, c.title, l.score FROM cluster_links l
            JOIN clusters c ON c.id = l.related_id
            WHERE l.cluster_id = ? ORDER BY l.score DESC, l.related_id
            """,
            [cluster_id],
        )
        return [RelatedLink(row["related_id"], row["title"], row["score"]) for row in rows]

    def _query_matches(self, where: ClusterFilter, stop_at: int | None) -> tuple[list[int], bool]:
        """The ids of the newest clusters passing `where` with a member story that matches
        its query exactly (regions and topics: the cluster's focus tags), newest first, the
        first `stop_at` of them (None: all); and whether every stored candidate was looked
        at. Candidates come from the search index, the tag and source indexes and the other
        filters, at most `QUERY_SCAN_LIMIT` of them: a query none can narrow (only NOTs and
        `lang:`) looks at the newest clusters only."""
        tree = parse_query(where.query)
        narrowed = self._narrowed_by_indexes(where, tree)
        sources = self._required_source_ids(tree)
        sql, params = _feed_query(
            "c.id", replace(narrowed, limit=QUERY_SCAN_LIMIT), source_ids=sources
        )
        candidates = [row[0] for row in self._execute(sql, params)]
        matched: list[int] = []
        for start in range(0, len(candidates), 200):
            chunk = candidates[start : start + 200]
            docs = self._cluster_docs(chunk)
            for cluster_id in chunk:
                if any(evaluate(tree, doc) for doc in docs.get(cluster_id, ())):
                    matched.append(cluster_id)
                    if stop_at is not None and len(matched) >= stop_at:
                        return matched, False
        return matched, len(candidates) < QUERY_SCAN_LIMIT

    def _narrowed_by_indexes(self, where: ClusterFilter, tree: Query) -> ClusterFilter:
        """`where` with the region and topic filters its query requires (`region:KZ`,
        `region:KZ OR region:KG`, `topic:conflict` as a term every match has), so that the
        tag index finds the candidates: the text index knows no field, and without it a
        query of field filters alone would look at the newest `QUERY_SCAN_LIMIT` clusters
        only (`source:` terms: `_required_source_ids`). Not where the filter has its own
        regions, topics or `min_score` (a score floor applies to those, not to the query's)."""
        if where.regions or where.topics or where.min_score:
            return where
        regions = self._tag_codes("region", _required_keys(tree, Region), region_key)
        topics = self._tag_codes("topic", _required_keys(tree, Topic), slug_key)
        return replace(where, regions=regions, topics=topics)

    def _required_source_ids(self, tree: Query) -> list[int] | None:
        """The ids of the sources a `source:` term every match has names (the query itself,
        or a term of its top-level AND, that is a `source:` filter or an OR of only such),
        so that the stories' source index finds the candidates; None when there is no such
        term. Without it a query for one source among thousands looked at the newest
        `QUERY_SCAN_LIMIT` clusters only, minutes of news, and found nothing older."""
        term = _required_term(tree, SourceTerm)
        if term is None:
            return None
        rows = self._execute("SELECT id, name, feed_title, url, config_url FROM sources", ())
        # The names as `_cluster_docs` gives them to the query: the same test, per source.
        return [
            source_id
            for source_id, *names in rows
            if evaluate(term, match_doc("", sources=[name for name in names if name]))
        ]

    def _tag_codes(
        self, kind: str, keys: frozenset[str], key_of: Callable[[str], str]
    ) -> tuple[str, ...]:
        """The stored tag codes of a kind whose key is one of `keys` ("central asia" is
        "Central Asia"); when none is stored, a code no cluster has, so nothing matches."""
        if not keys:
            return ()
        # The distinct codes, one index seek each (a few hundred), not a scan of every tag.
        rows = self._execute(
            """
            WITH RECURSIVE codes(code) AS (
                SELECT MIN(code) FROM cluster_tags WHERE kind = ?1
                UNION ALL
                SELECT (SELECT MIN(code) FROM cluster_tags WHERE kind = ?1 AND code > codes.code)
                FROM codes WHERE codes.code IS NOT NULL
            )
            SELECT code FROM codes WHERE code IS NOT NULL
            """,
            [kind],
        )
        codes = tuple(code for (code,) in rows if key_of(code) in keys)
        return codes or (min(keys),)

    def _cluster_docs(self, cluster_ids: list[int]) -> dict[int, list[MatchDoc]]:
        """Each member story of these clusters as a query sees it."""
        marks = ",".join("?" * len(cluster_ids))
        tags: dict[int, tuple[list[str], list[str]]] = {cid: ([], []) for cid in cluster_ids}
        for cluster_id, kind, code in self._execute(
            f"SELECT cluster_id, kind, code FROM cluster_tags WHERE focus = 1 "
            f"AND cluster_id IN ({marks})",
            cluster_ids,
        ):
            tags[cluster_id][0 if kind == "region" else 1].append(code)
        docs: dict[int, list[MatchDoc]] = {}
        for cluster_id, title, text, language, *names in self._execute(
            f"""SELECT s.cluster_id, s.title, s.text, s.language, so.name, so.feed_title,
                so.url, so.config_url
            FROM stories s JOIN sources so ON so.id = s.source_id
            WHERE s.cluster_id IN ({marks})""",
            cluster_ids,
        ):
            regions, topics = tags[cluster_id]
            docs.setdefault(cluster_id, []).append(
                match_doc(
                    title,
                    text,
                    sources=[name for name in names if name],
                    regions=regions,
                    topics=topics,
                    language=language,
                )
            )
        return docs

    def _execute(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self.db.conn.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StorageError(f"{self.path}: {e}") from e

    def _load_clusters(self, rows: list[dict[str, Any]]) -> list[Cluster]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        members = self._members(ids)
        tags = self._tags(ids)
        clusters = []
        for row in rows:
            copies = members.get(row["id"], [])
            if not copies:
                continue
            representative = next(
                (s for s in copies if s.id == row["representative_story_id"]), copies[0]
            )
            clusters.append(
                Cluster(
                    id=row["id"],
                    title=row["title"],
                    published_at=parse_time(row["published_at"]),
                    first_seen_at=parse_time(row["first_seen_at"]),
                    updated_at=parse_time(row["updated_at"]),
                    representative=representative,
                    copies=tuple(copies),
                    regions=tuple(tags.get((row["id"], "region"), ())),
                    topics=tuple(tags.get((row["id"], "topic"), ())),
                )
            )
        return clusters

    def _members(self, cluster_ids: list[int]) -> dict[int, list[StoredStory]]:
        marks = ",".join("?" * len(cluster_ids))
        rows = self._rows(
            f"""
            SELECT st.id, st.cluster_id, st.source_id, st.url, st.title, st.author,
                   st.published_at, st.first_seen_at, st.updated_at, st.join_reason, st.place,
                   st.agency, st.join_score, st.joined_story_id, st.language,
                   -- Only the representative's body is ever shown (the other copies are a
                   -- link and a source name), and a wire story can have dozens of copies.
                   CASE WHEN st.id = c.representative_story_id THEN st.summary ELSE '' END
                       AS summary,
                   CASE WHEN st.id = c.representative_story_id THEN st.content_html ELSE '' END
                       AS content_html,
                   CASE WHEN st.id = c.representative_story_id THEN st.text ELSE '' END
                       AS text,
                   so.name AS source_name, so.feed_title AS source_feed_title,
                   so.url AS source_url, so.feed_link AS source_link
            FROM stories st JOIN sources so ON so.id = st.source_id
                 JOIN clusters c ON c.id = st.cluster_id
            WHERE st.cluster_id IN ({marks}) ORDER BY st.first_seen_at, st.id
            """,
            cluster_ids,
        )
        members: dict[int, list[StoredStory]] = {}
        for row in rows:
            members.setdefault(row["cluster_id"], []).append(_stored_story(row))
        return members

    def _tags(self, cluster_ids: list[int]) -> dict[tuple[int, str], list[str]]:
        marks = ",".join("?" * len(cluster_ids))
        rows = self._rows(
            f"SELECT cluster_id, kind, code FROM cluster_tags WHERE cluster_id IN ({marks}) "
            "AND focus = 1 ORDER BY score DESC, code",
            cluster_ids,
        )
        tags: dict[tuple[int, str], list[str]] = {}
        for row in rows:
            tags.setdefault((row["cluster_id"], row["kind"]), []).append(row["code"])
        return tags

    # -- published feeds -----------------------------------------------------------------------

    def published_feed(self, path: str) -> PublishedFeed | None:
        rows = self._rows("SELECT * FROM published_feeds WHERE path = ?", [path])
        if not rows:
            return None
        row = rows[0]
        return PublishedFeed(
            path=row["path"],
            title=row["title"],
            content_hash=row["content_hash"],
            entry_count=row["entry_count"],
            updated_at=parse_time(row["updated_at"]),
            signature=row["signature"],
        )

    def query_matches(self, where: ClusterFilter) -> list[int]:
        """The ids of `clusters(where)` for a filter with a query, newest first: what its
        `feed_signature` and its clusters are made of, found once for both by a publish."""
        return self._query_matches(where, stop_at=where.limit)[0]

    def feed_signature(self, where: ClusterFilter) -> str:
        """A digest of everything a feed is rendered from: its clusters (ids, titles, update
        times), their members and their focus tags. Equal signatures, equal feeds."""
        if where.query.strip():
            return self.clusters_signature(self.query_matches(where))
        sql, params = _feed_query(
            """c.id, c.updated_at, c.title,
                (SELECT group_concat(s.id) FROM stories s WHERE s.cluster_id = c.id),
                (SELECT group_concat(t.kind || ':' || t.code) FROM cluster_tags t
                 WHERE t.cluster_id = c.id AND t.focus = 1)""",
            where,
        )
        rows = self.db.conn.execute(sql, params).fetchall()
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    def tagged_countries(self) -> list[str]:
        """Every country code that is the focus of at least one stored cluster."""
        rows = self._rows(
            "SELECT DISTINCT code FROM cluster_tags "
            "WHERE kind = 'region' AND focus = 1 AND length(code) = 2 ORDER BY code"
        )
        return [row["code"] for row in rows]

    def published_paths(self, prefix: str) -> list[str]:
        """The paths of the feeds published under `prefix` (`feeds/regions/`)."""
        rows = self._rows(
            "SELECT path FROM published_feeds WHERE substr(path, 1, ?) = ? ORDER BY path",
            [len(prefix), prefix],
        )
        return [row["path"] for row in rows]

    def published_feeds(self) -> list[PublishedFeed]:
        rows = self._rows("SELECT path FROM published_feeds ORDER BY path")
        return [feed for row in rows if (feed := self.published_feed(row["path"])) is not None]

    def record_published(self, feed: PublishedFeed, now: datetime) -> None:
        with self._transaction() as db:
            db.execute(
                """
                INSERT INTO published_feeds (path, title, content_hash, entry_count, updated_at,
                                             written_at, signature)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (path) DO UPDATE SET title = excluded.title,
                    content_hash = excluded.content_hash, entry_count = excluded.entry_count,
                    updated_at = excluded.updated_at, written_at = excluded.written_at,
                    signature = excluded.signature
                """,
                (
                    feed.path,
                    feed.title,
                    feed.content_hash,
                    feed.entry_count,
                    format_time(feed.updated_at),
                    format_time(now),
                    feed.signature,
                ),
            )

    def clusters_by_id(self, ids: Iterable[int]) -> list[Cluster]:
        """These clusters (those still stored), newest first, with every member loaded."""
        wanted = sorted(set(ids))
        rows: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self._rows(f"SELECT * FROM clusters WHERE id IN ({marks})", chunk)
        rows.sort(key=lambda row: (row["published_at"], row["id"]), reverse=True)
        return self._load_clusters(rows)

    def sources_signature(self) -> str:
        """A digest of what feeds show of every source (name, feed title, URL, site link): a
        renamed source changes every feed's signature, so its stories show the new name."""
        rows = self.db.conn.execute(
            "SELECT id, name, feed_title, url, feed_link FROM sources ORDER BY id"
        ).fetchall()
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    def clusters_signature(self, ids: Iterable[int]) -> str:
        """A digest of what these clusters render from (as `feed_signature`, by id)."""
        wanted = sorted(set(ids))
        rows: list[Any] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self.db.conn.execute(
                f"""SELECT c.id, c.updated_at, c.title,
                    (SELECT group_concat(s.id) FROM stories s WHERE s.cluster_id = c.id),
                    (SELECT group_concat(t.kind || ':' || t.code) FROM cluster_tags t
                     WHERE t.cluster_id = c.id AND t.focus = 1)
                FROM clusters c WHERE c.id IN ({marks}) ORDER BY c.id""",
                chunk,
            ).fetchall()
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    def feed_members(self, path: str) -> FeedMembers:
        """What a feed's documents held when it was last published (empty if never)."""
        archive = self._rows("SELECT * FROM feed_archives WHERE path = ?", [path])
        if not archive:
            return FeedMembers()
        rows = self._rows(
            "SELECT cluster_id, page FROM feed_members WHERE path = ? AND page <= 0", [path]
        )
        return FeedMembers(
            definition=archive[0]["definition"],
            pages=archive[0]["pages"],
            current=frozenset(row["cluster_id"] for row in rows if row["page"] == 0),
            pending=frozenset(row["cluster_id"] for row in rows if row["page"] == -1),
            seen_up_to=archive[0]["seen_up_to"],
        )

    def max_cluster_id(self) -> int:
        rows = self._execute("SELECT COALESCE(MAX(id), 0) FROM clusters", ())
        return int(rows[0][0])

    def cluster_ids_after(self, where: ClusterFilter, after_id: int) -> list[int]:
        """Every cluster passing `where` (its query evaluated exactly) with an id above
        `after_id`: those created since. A range of the primary key, so it costs what was
        created since, not what is stored."""
        if self.max_cluster_id() <= after_id:
            return []
        floor = self._story_floor(after_id) if where.query.strip() else 0
        conditions, params = _cluster_conditions(where, story_floor=floor)
        extra = "".join(f" AND {condition}" for condition in conditions)
        sql = f"SELECT c.id FROM clusters c WHERE c.id > ?{extra} ORDER BY c.id"
        ids = [row[0] for row in self._execute(sql, [after_id, *params])]
        if not where.query.strip() or not ids:
            return ids
        tree = parse_query(where.query)
        matched: list[int] = []
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            docs = self._cluster_docs(chunk)
            matched += [c for c in chunk if any(evaluate(tree, d) for d in docs.get(c, ()))]
        return matched

    def _story_floor(self, after_id: int) -> int:
        """The lowest story id in the clusters created after `after_id` (off the stories'
        cluster index): a query's search index is read from there on, not for every story
        that ever matched it (tens of thousands for "protest* OR election", at every publish).
        (INDEXED BY: else SQLite reads MIN(id) off the table in id order, from the oldest.)"""
        rows = self._execute(
            "SELECT COALESCE(MIN(id), 0) FROM stories INDEXED BY stories_cluster "
            "WHERE cluster_id > ?",
            [after_id],
        )
        return int(rows[0][0])

    def advance_feed_mark(self, path: str, seen_up_to: int) -> None:
        """Move a feed's high-water mark on without publishing it (nothing new matched)."""
        with self._transaction() as db:
            db.execute("UPDATE feed_archives SET seen_up_to = ? WHERE path = ?", (seen_up_to, path))

    def rename_feed_definition(self, path: str, definition: str) -> None:
        """Record another digest for the same definition of a feed, keeping its archive (a
        digest computed the old way, replaced by the current one)."""
        with self._transaction() as db:
            db.execute("UPDATE feed_archives SET definition = ? WHERE path = ?", (definition, path))

    def archive_page_ids(self, path: str, page: int) -> list[int]:
        """The clusters an archive page holds (those retention removed included)."""
        rows = self._rows(
            "SELECT cluster_id FROM feed_members WHERE path = ? AND page = ?", [path, page]
        )
        return [row["cluster_id"] for row in rows]

    def removals(self) -> tuple[int, int]:
        """(clusters removed so far, that count when a publish last checked every archive
        page for removed clusters): equal, no archive page can hold a removed cluster that
        the last publish did not see, and a publish need not read every archived entry of
        every feed (all of them, growing with the store, at every publish)."""
        rows = dict(
            self._execute(
                "SELECT name, value FROM store_meta "
                "WHERE name IN ('clusters_removed', 'removals_published')",
                (),
            )
        )
        # Never checked (a store from before the count): as if removals were unseen.
        return int(rows.get("clusters_removed", 0)), int(rows.get("removals_published", -1))

    def mark_removals_published(self, removed: int) -> None:
        """A publish checked every feed's archive pages for the first `removed` removals."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO store_meta (name, value) VALUES ('removals_published', ?)",
                [removed],
            )

    def archive_pages_with_removed_clusters(self, path: str) -> list[int]:
        """Archive pages of a feed that hold a cluster retention has since removed."""
        rows = self._rows(
            """SELECT DISTINCT m.page FROM feed_members m
            WHERE m.path = ? AND m.page > 0
              AND NOT EXISTS (SELECT 1 FROM clusters c WHERE c.id = m.cluster_id)
            ORDER BY m.page""",
            [path],
        )
        return [row["page"] for row in rows]

    def forget_feed(self, path: str) -> None:
        """Drop what is recorded of a feed no longer published (its section or alert was
        removed from the config): its members, archive and last publish."""
        with self._transaction() as db:
            for table in ("feed_members", "feed_archives", "published_feeds"):
                db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))

    def forget_removed_archived(self, path: str, page: int) -> None:
        """Drop the rows of clusters retention removed from one archive page."""
        with self._transaction() as db:
            db.execute(
                """DELETE FROM feed_members WHERE path = ? AND page = ?
                AND NOT EXISTS (SELECT 1 FROM clusters c WHERE c.id = cluster_id)""",
                (path, page),
            )

    def save_feed_members(
        self, path: str, members: FeedMembers, new_pages: Sequence[Sequence[int]] = ()
    ) -> None:
        """Record a feed's current and pending clusters, and `new_pages` as its newest archive
        pages (the last of them is page `members.pages`), in one transaction. A changed
        definition drops the old archive's rows first."""
        with self._transaction() as db:
            old = db.execute(
                "SELECT definition FROM feed_archives WHERE path = ?", (path,)
            ).fetchone()
            if old is not None and old[0] != members.definition:
                db.execute("DELETE FROM feed_members WHERE path = ?", (path,))
            else:
                db.execute("DELETE FROM feed_members WHERE path = ? AND page <= 0", (path,))
            db.execute(
                """INSERT INTO feed_archives (path, definition, pages, seen_up_to)
                VALUES (?, ?, ?, ?)
                ON CONFLICT (path) DO UPDATE SET definition = excluded.definition,
                    pages = excluded.pages, seen_up_to = excluded.seen_up_to""",
                (path, members.definition, members.pages, members.seen_up_to),
            )
            rows = [(path, cid, 0) for cid in members.current]
            rows += [(path, cid, -1) for cid in members.pending]
            first = members.pages - len(new_pages) + 1
            rows += [
                (path, cid, number)
                for number, page in enumerate(new_pages, start=first)
                for cid in page
            ]
            db.conn.executemany(
                "INSERT OR REPLACE INTO feed_members (path, cluster_id, page) VALUES (?, ?, ?)",
                rows,
            )

    # -- alert outbox ----------------------------------------------------------------------

    def pending_alerts(self) -> list[tuple[str, str, int]]:
        """(alert, channel, matches waiting) for every pair with matches not yet in a message."""
        rows = self._execute(
            "SELECT rule, channel, COUNT(*) FROM outbox WHERE status = 'pending' "
            "GROUP BY rule, channel ORDER BY rule, channel",
            (),
        )
        return [(rule, channel, count) for rule, channel, count in rows]

    def compose_delivery(
        self,
        rule: str,
        channel: str,
        max_items: int,
        now: datetime,
        *,
        digest: bool,
        delivery_id: str,
        matched_by: datetime | None = None,
    ) -> int:
        """Put the oldest `max_items` pending matches of (alert, channel) into a new delivery
        (one message) in one transaction; the rest wait for the next. Returns the items.
        With `matched_by` (a digest's fire time), only matches queued by then are taken."""
        now_text = format_time(now)
        by = [] if matched_by is None else [format_time(matched_by)]
        with self._transaction() as db:
            ids = [
                row[0]
                for row in db.conn.execute(
                    "SELECT id FROM outbox WHERE rule = ? AND channel = ? AND status = 'pending' "
                    f"{' AND created_at <= ?' if by else ''} ORDER BY created_at, id LIMIT ?",
                    (rule, channel, *by, max_items),
                )
            ]
            if not ids:
                return 0
            (waiting,) = db.conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE rule = ? AND channel = ? AND status = 'pending'",
                (rule, channel),
            ).fetchone()
            db.conn.execute(
                "INSERT INTO deliveries (id, rule, channel, digest, held_back, next_attempt_at, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (delivery_id, rule, channel, int(digest), waiting - len(ids), now_text, now_text),
            )
            marks = ",".join("?" * len(ids))
            db.conn.execute(
                f"UPDATE outbox SET status = 'queued', delivery_id = ? WHERE id IN ({marks})",
                [delivery_id, *ids],
            )
            if digest:
                db.conn.execute(
                    "INSERT INTO alert_digests (rule, channel, last_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (rule, channel) DO UPDATE SET last_at = excluded.last_at",
                    (rule, channel, now_text),
                )
        return len(ids)

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        """Messages to send (or send again) now, oldest first: in the order they were
        composed, so the parts of a backlog split by `max_items` go out in story order, each
        "and N more" before the part it announces. (The parts share their times, and their
        ids are random: the rowid is what keeps the order they were made in.)"""
        rows = self._rows(
            "SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? "
            "ORDER BY created_at, rowid LIMIT ?",
            [format_time(now), limit],
        )
        return [_delivery(row) for row in rows]

    def delivery_cluster_ids(self, delivery_id: str) -> list[int]:
        rows = self._execute(
            "SELECT cluster_id FROM outbox WHERE delivery_id = ? ORDER BY created_at, id",
            (delivery_id,),
        )
        return [row[0] for row in rows]

    def finish_delivery(
        self, delivery_id: str, status: str, now: datetime, error: str | None = None
    ) -> None:
        """A delivery sent ('sent') or given up ('dead'), with its matches."""
        now_text = format_time(now)
        with self._transaction() as db:
            db.conn.execute(
                "UPDATE deliveries SET status = ?, sent_at = ?, last_error = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                (status, now_text if status == "sent" else None, error, delivery_id),
            )
            db.conn.execute(
                "UPDATE outbox SET status = ?, delivered_at = ?, last_error = ? "
                "WHERE delivery_id = ?",
                (status, now_text if status == "sent" else None, error, delivery_id),
            )

    def retry_delivery(self, delivery_id: str, next_attempt: datetime, error: str) -> None:
        with self._transaction() as db:
            db.conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = ? WHERE id = ?",
                (format_time(next_attempt), error, delivery_id),
            )

    def messages_since(self, rule: str, channel: str, since: datetime) -> int:
        """Deliveries of (alert, channel) created since `since` (the rate limit)."""
        (count,) = self._execute(
            "SELECT COUNT(*) FROM deliveries WHERE rule = ? AND channel = ? AND created_at >= ?",
            (rule, channel, format_time(since)),
        )[0]
        return int(count)

    def last_digest(self, rule: str, channel: str) -> datetime | None:
        rows = self._execute(
            "SELECT last_at FROM alert_digests WHERE rule = ? AND channel = ?", (rule, channel)
        )
        return parse_time(rows[0][0]) if rows else None

    def digest_sent_at(self, rule: str, channel: str, fired: datetime) -> bool:
        """Whether a digest message of (alert, channel) was composed for the fire at `fired`."""
        rows = self._execute(
            "SELECT 1 FROM deliveries WHERE rule = ? AND channel = ? AND digest = 1 "
            "AND created_at = ? LIMIT 1",
            (rule, channel, format_time(fired)),
        )
        return bool(rows)

    def start_digest_clock(self, rule: str, channel: str, now: datetime) -> None:
        """The first time a digest is seen: its schedule counts from now."""
        with self._transaction() as db:
            db.conn.execute(
                "INSERT OR IGNORE INTO alert_digests (rule, channel, last_at) VALUES (?, ?, ?)",
                (rule, channel, format_time(now)),
            )

    def skip_digest(self, rule: str, channel: str, fired: datetime) -> None:
        """A digest's schedule fired with nothing waiting: it counts from then, so what
        matches later waits for the next time it fires."""
        with self._transaction() as db:
            db.conn.execute(
                "INSERT INTO alert_digests (rule, channel, last_at) VALUES (?, ?, ?) "
                "ON CONFLICT (rule, channel) DO UPDATE SET last_at = excluded.last_at",
                (rule, channel, format_time(fired)),
            )

    def disable_channel(self, channel: str, reason: str, now: datetime) -> None:
        with self._transaction() as db:
            db.conn.execute(
                "INSERT INTO channel_states (channel, disabled_reason, disabled_at) "
                "VALUES (?, ?, ?) ON CONFLICT (channel) DO UPDATE SET "
                "disabled_reason = excluded.disabled_reason, disabled_at = excluded.disabled_at",
                (channel, reason[:2000], format_time(now)),
            )

    def disabled_channels(self) -> dict[str, str]:
        rows = self._execute("SELECT channel, disabled_reason FROM channel_states", ())
        return dict(rows)

    def requeue_dead(self, now: datetime, rule: str | None = None) -> int:
        """Dead deliveries (of one alert, or all) become pending again, due now, with a new
        retry window; their channels are enabled again. Returns the deliveries requeued."""
        now_text = format_time(now)
        condition, params = ("AND rule = ?", [rule]) if rule else ("", [])
        with self._transaction() as db:
            channels = [
                row[0]
                for row in db.conn.execute(
                    f"SELECT DISTINCT channel FROM deliveries WHERE status = 'dead' {condition}",
                    params,
                )
            ]
            count = db.conn.execute(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                f"created_at = ? WHERE status = 'dead' {condition}",
                [now_text, now_text, *params],
            ).rowcount
            db.conn.execute(
                "UPDATE outbox SET status = 'queued', last_error = NULL WHERE status = 'dead' "
                "AND delivery_id IS NOT NULL " + condition.replace("rule", "outbox.rule"),
                params,
            )
            db.conn.executemany(
                "DELETE FROM channel_states WHERE channel = ?", [(c,) for c in channels]
            )
        return int(count)

    def shingle_counts(self, story_ids: Iterable[int]) -> dict[int, int]:
        """The shingle count of each story's text fingerprint, for the stories still inside
        the clustering window (`explain`: whether a join was scored by containment)."""
        wanted = sorted(set(story_ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        counts: dict[int, int] = {}
        for story_id, sketch in self._execute(
            f"SELECT story_id, sketch FROM story_fingerprints WHERE story_id IN ({marks})",
            wanted,
        ):
            try:
                counts[story_id] = Fingerprint.from_bytes(sketch).size
            except ValueError:
                continue  # unreadable: the measure stays unknown
        return counts

    def alerts_of(self, cluster_id: int) -> list[tuple[str, float, str, str, str]]:
        """Why a cluster alerted: (alert, score, matched at, channel, status) per channel
        (channel and status empty for an alert without channels)."""
        rows = self._execute(
            """SELECT m.rule, m.score, m.matched_at, COALESCE(o.channel, ''),
                COALESCE(o.status, '')
            FROM alert_matches m LEFT JOIN outbox o
                ON o.rule = m.rule AND o.cluster_id = m.cluster_id
            WHERE m.cluster_id = ? ORDER BY m.rule, o.channel""",
            (cluster_id,),
        )
        return [tuple(row) for row in rows]

    def alert_status(self) -> list[tuple[str, str, str, int]]:
        """(alert, channel, status, matches) over the whole outbox."""
        rows = self._execute(
            "SELECT rule, channel, status, COUNT(*) FROM outbox GROUP BY rule, channel, status "
            "ORDER BY rule, channel, status",
            (),
        )
        return [(rule, channel, status, count) for rule, channel, status, count in rows]

    def deliveries(self, status: str, limit: int = 50) -> list[Delivery]:
        rows = self._rows(
            "SELECT * FROM deliveries WHERE status = ? ORDER BY created_at DESC LIMIT ?",
            [status, limit],
        )
        return [_delivery(row) for row in rows]


def _add_cluster_tags(conn: sqlite3.Connection, cluster_id: int, tags: Sequence[Tag]) -> None:
    """Merge one story's tags into its cluster's: the higher score wins with its evidence, and
    a tag stays a focus once any member has it as one. Each row carries the cluster's
    publication time, for the feed index."""
    if not tags:
        return
    conn.executemany(
        """
        INSERT INTO cluster_tags (cluster_id, kind, code, score, focus, evidence, published_at)
        VALUES (?, ?, ?, ?, ?, ?, (SELECT published_at FROM clusters WHERE id = ?))
        ON CONFLICT (cluster_id, kind, code) DO UPDATE SET
            evidence = CASE WHEN excluded.score > score THEN excluded.evidence ELSE evidence END,
            score = MAX(score, excluded.score),
            focus = MAX(focus, excluded.focus)
        """,
        [
            (
                cluster_id,
                tag.kind.value,
                tag.code,
                tag.score,
                int(tag.focus),
                "\n".join(tag.evidence),
                cluster_id,
            )
            for tag in tags
        ],
    )


def _count_removals(conn: sqlite3.Connection, count: int) -> None:
    """Add to the count of clusters removed (see `Store.removals`), in the removal's own
    transaction."""
    if count:
        conn.execute(
            "INSERT INTO store_meta (name, value) VALUES ('clusters_removed', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (count,),
        )


def _required_term(tree: Query, kind: type[SourceTerm]) -> Query | None:
    """The first term of the query's top-level AND (or the query itself) that is a filter of
    this kind or an OR of only such filters: every match satisfies it. None if none is."""
    for term in tree.children if isinstance(tree, And) else (tree,):
        options = term.children if isinstance(term, Or) else (term,)
        if all(isinstance(option, kind) for option in options):
            return term
    return None


def _required_keys(tree: Query, kind: type[Region] | type[Topic]) -> frozenset[str]:
    """The keys of one region (or topic) term every match of the query has: the query
    itself, or a term of its top-level AND, that is such a filter or an OR of only such
    filters; empty when there is none."""
    for term in tree.children if isinstance(tree, And) else (tree,):
        options = term.children if isinstance(term, Or) else (term,)
        if all(isinstance(option, kind) for option in options):
            return frozenset(
                option.key if isinstance(option, Region) else option.slug
                for option in options
                if isinstance(option, Region | Topic)
            )
    return frozenset()


def _feed_query(
    columns: str, where: ClusterFilter, *, source_ids: Sequence[int] | None = None
) -> tuple[str, list[Any]]:
    """SQL for a feed's newest clusters. With a region (else topic) filter it is driven by
    the tag index, which holds each tag's clusters in publication order; otherwise by the
    clusters' own date index. `source_ids`: only clusters with a story of these sources."""
    driver = "region" if where.regions else "topic" if where.topics else None
    if driver is None:
        conditions, params = _cluster_conditions(where, source_ids)
        clause = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT {columns} FROM clusters c {clause} ORDER BY c.published_at DESC, c.id DESC"
        return f"{sql} LIMIT ?", [*params, where.limit]
    codes = where.regions if driver == "region" else where.topics
    rest = replace(
        where,
        regions=() if driver == "region" else where.regions,
        topics=() if driver == "topic" else where.topics,
    )
    conditions, params = _cluster_conditions(rest, source_ids)
    marks = ",".join("?" * len(codes))
    # Several codes can tag one cluster ("KZ" and "KG"): keep each cluster once.
    distinct = "DISTINCT" if len(codes) > 1 else ""
    sql = f"""
        SELECT {distinct} {columns}, d.published_at AS feed_order
        FROM cluster_tags d JOIN clusters c ON c.id = d.cluster_id
        WHERE d.kind = ? AND d.code IN ({marks}) AND d.focus = 1 AND d.score >= ?
        {"".join(f" AND {condition}" for condition in conditions)}
        ORDER BY d.published_at DESC, d.cluster_id DESC LIMIT ?
    """
    return sql, [driver, *codes, where.min_score, *params, where.limit]


def _cluster_conditions(
    where: ClusterFilter, source_ids: Sequence[int] | None = None, story_floor: int = 0
) -> tuple[list[str], list[Any]]:
    """SQL conditions on `clusters c` for a filter. `story_floor`: the matches are clusters
    whose stories all have this id or a higher one, so the search index is read from there."""
    conditions: list[str] = []
    params: list[Any] = []
    if source_ids is not None:
        # One JSON parameter: a `source:` word may name thousands of sources.
        conditions.append(
            "c.id IN (SELECT s.cluster_id FROM stories s "
            "WHERE s.source_id IN (SELECT value FROM json_each(?)))"
        )
        params.append(json.dumps(list(source_ids)))
    for kind, codes in (("region", where.regions), ("topic", where.topics)):
        if codes:
            marks = ",".join("?" * len(codes))
            conditions.append(
                "EXISTS (SELECT 1 FROM cluster_tags t WHERE t.cluster_id = c.id "
                f"AND t.kind = ? AND t.code IN ({marks}) AND t.focus = 1 AND t.score >= ?)"
            )
            params += [kind, *codes, where.min_score]
    # A query narrows the clusters by the search index first (`to_fts5`: every match holds
    # these words); `Store.clusters` then evaluates the query exactly on what is left.
    match = to_fts5(parse_query(where.query)) if where.query.strip() else None
    if match:
        conditions.append(
            "c.id IN (SELECT s.cluster_id FROM stories_fts f JOIN stories s "
            "ON s.id = f.rowid WHERE stories_fts MATCH ? AND f.rowid >= ?)"
        )
        params += [match, story_floor]
    if where.alert:
        conditions.append("c.id IN (SELECT m.cluster_id FROM alert_matches m WHERE m.rule = ?)")
        params.append(where.alert)
    if where.sources:
        urls = ",".join("?" * len(where.sources))
        keys = [key for key in map(source_key, where.sources) if key]
        names = ",".join("?" * len(keys))
        # A source is named by its URL (exactly), or its name or feed title in any case, as
        # `source:` folds them. Uncorrelated, so SQLite computes the set of the sources'
        # clusters once (from the stories' source index) and probes it per cluster: a
        # correlated EXISTS joining sources per cluster cost half a second per section at
        # 30,000 clusters.
        conditions.append(
            "c.id IN (SELECT s.cluster_id FROM stories s WHERE s.source_id IN "
            f"(SELECT so.id FROM sources so WHERE so.config_url IN ({urls}) "
            f"OR so.url IN ({urls}) OR {SOURCE_KEY}(so.name) IN ({names}) "
            f"OR {SOURCE_KEY}(so.feed_title) IN ({names})))"
        )
        params += [*where.sources, *where.sources, *keys, *keys]
    return conditions, params


def _source(row: dict[str, Any]) -> Source:
    if row["disabled_reason"] or not row["enabled"]:
        state = SourceState.DISABLED
    elif row["last_error"]:
        state = SourceState.FAILING
    elif row["last_success_at"]:
        state = SourceState.OK
    else:
        state = SourceState.NEW
    return Source(
        id=row["id"],
        url=row["url"],
        name=row["name"] or row["feed_title"] or "",
        region=row["region"],
        language=row["language"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        content_hash=row["content_hash"],
        next_poll_at=_parse_optional_time(row["next_poll_at"]),
        last_success_at=_parse_optional_time(row["last_success_at"]),
        last_error=row["last_error"],
        state=state,
        feed_ttl=_seconds(row["feed_ttl_s"]),
        interval=_seconds(row["interval_s"]),
        entry_interval=_seconds(row["entry_interval_s"]),
    )


def _seconds(value: float | None) -> timedelta | None:
    return timedelta(seconds=value) if value else None


def _stored_story(row: dict[str, Any]) -> StoredStory:
    return StoredStory(
        id=row["id"],
        cluster_id=row["cluster_id"],
        source_id=row["source_id"],
        source_name=row["source_name"] or row["source_feed_title"] or row["source_url"],
        source_url=row["source_url"],
        source_link=row["source_link"] or row["source_url"],
        url=row["url"],
        title=row["title"],
        summary=row["summary"],
        content_html=row["content_html"],
        author=row["author"],
        published_at=parse_time(row["published_at"]),
        first_seen_at=parse_time(row["first_seen_at"]),
        updated_at=parse_time(row["updated_at"]),
        join_reason=row["join_reason"],
        place=row["place"],
        agency=row["agency"],
        join_score=row["join_score"],
        joined_story_id=row["joined_story_id"],
        language=row.get("language") or "",
        text=row.get("text") or "",
    )


# Each arm reads one index in id order, so SQLite merges them without sorting (an IN list
# over two values would need a temporary B-tree, and costs half as much again).
_EXACT_MATCH = """
    SELECT id, cluster_id, 'canonical-url' FROM stories WHERE canonical_url = ?1
    UNION ALL SELECT id, cluster_id, 'guid' FROM stories WHERE global_guid = ?1
    UNION ALL SELECT id, cluster_id, 'guid' FROM stories WHERE global_guid = ?2
    UNION ALL SELECT id, cluster_id, 'guid' FROM stories WHERE canonical_url = ?2
    ORDER BY 1 LIMIT 1
"""


@functools.lru_cache(maxsize=64)
def _near_lookup(keys: int, limit: int) -> str:
    """One statement reading the newest holders (highest story ids) of each of `keys` keys:
    a subquery per key, since LIMIT applies per key (SQLite caches the compiled form)."""
    one = (
        "SELECT * FROM (SELECT key, story_id FROM near_keys WHERE key = ? "
        f"ORDER BY story_id DESC LIMIT {int(limit)})"
    )
    return " UNION ALL ".join([one] * keys)


@dataclass(frozen=True, slots=True)
class _NearStory:
    """A new story's fingerprint, its index keys and its time (unix seconds)."""

    at: int
    sketch: Fingerprint
    sketch_bytes: bytes  # as stored: the worker's bytes when they came along
    body_keys: list[int]
    headline_index: list[int]  # index keys: pairs of the longest headline words
    headline_words: tuple[int, ...]  # every content word of the headline, longest first
    title: str = ""  # the headline itself (`dedup.another_of_a_series` reads its numbers)

    @classmethod
    def stored(cls, at: int, sketch: bytes, title_keys: bytes, title: str) -> _NearStory | None:
        """A stored story's, from its `story_fingerprints` row (None if unreadable)."""
        try:
            fingerprint = Fingerprint.from_bytes(sketch)
        except ValueError:
            return None
        raw = _unpack_keys(title_keys)
        keys = title_index_keys(raw)
        return cls(at, fingerprint, sketch, body_keys(fingerprint), keys, raw, title)

    @classmethod
    def of(cls, story: Story, at: int) -> _NearStory:
        # A story normalised elsewhere (a parser worker) brings its fingerprint along; one
        # stored directly (tests, tools) is fingerprinted here, without learned boilerplate.
        try:
            sketch = Fingerprint.from_bytes(story.fingerprint) if story.fingerprint else None
            data = story.fingerprint
        except ValueError:
            sketch = None
        if sketch is None:
            sketch = story_sketch(story)
            data = sketch.to_bytes()
        raw = story.title_keys or story_title_keys(story)
        return cls(at, sketch, data, body_keys(sketch), title_index_keys(raw), raw, story.title)


@dataclass(frozen=True, slots=True)
class ReclusterResult:
    """What `Store.recluster_singletons` did: lone stories examined, and how many joined."""

    examined: int
    joined: int


@dataclass(frozen=True, slots=True)
class _NearHits:
    body: list[Candidate]  # to score as copies
    titles: list[TitleCandidate]  # to score as related


_NO_HITS = _NearHits([], [])


def _global_guid(story: Story) -> str | None:
    # A permalink guid is most often the link itself, already in canonical form.
    if story.guid is not None and story.guid.strip() == story.url:
        return cluster_key(story.canonical_url)
    return global_guid(story.guid)


def _mark_listed(conn: sqlite3.Connection, stale: Sequence[tuple[int, int, str]]) -> None:
    """Record (seen at, source id, key) of remembered removed entries a feed still lists."""
    if stale:
        conn.executemany(
            "UPDATE expired_entries SET seen_at = ? WHERE source_id = ? AND guid_key = ?", stale
        )


def _listed_later_entries(
    conn: sqlite3.Connection, source_id: int, published: str, looked_at: datetime
) -> bool:
    """Whether a read of the source's feed by `looked_at` listed entries published after
    `published` (so an entry of that date would have been among them)."""
    row = conn.execute(
        "SELECT 1 FROM stories WHERE source_id = ? AND published_at > ? AND first_seen_at <= ? "
        "LIMIT 1",
        (source_id, published, format_time(looked_at)),
    ).fetchone()
    return row is not None


def _pack_keys(keys: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(keys)}I", *keys)


def _near_keys_of(sketch: bytes, title_keys: bytes) -> list[int]:
    """The candidate keys a stored fingerprint was indexed under."""
    try:
        keys = body_keys(Fingerprint.from_bytes(sketch))
    except ValueError:
        keys = []
    return keys + title_index_keys(_unpack_keys(title_keys))


def _rows_per_source(
    conn: sqlite3.Connection, sql: str, keys: Iterable[tuple[int, str]]
) -> Iterator[tuple[int, Any]]:
    """(source id, row) of `sql` run for each source's values, at most 500 to a statement
    (SQLite's limit on parameters): `sql` takes the source id, then the values where it
    says `{marks}`. A feed's entries cost a few statements, not one each."""
    values: dict[int, list[str]] = {}
    for source_id, value in keys:
        values.setdefault(source_id, []).append(value)
    for source_id, source_values in values.items():
        for start in range(0, len(source_values), 500):
            chunk = source_values[start : start + 500]
            statement = sql.format(marks=",".join("?" * len(chunk)))
            for row in conn.execute(statement, [source_id, *chunk]):
                yield source_id, row


def _removed_link_key(canonical_url: str, title: str) -> str:
    """The `expired_entries` key of a removed story's canonical URL and title. A hash: the
    table holds keys, and a URL with a title can be long. Not re-keyed when an upgrade
    changes the canonical URL rules, as entry keys are: it is a second memory only."""
    digest = hashlib.sha256(f"{canonical_url}\n{title}".encode()).hexdigest()[:32]
    return f"removed-link:{digest}"


def _same_title_or_text(title: str, text: str, story: Story) -> bool:
    """Whether a stored story's title or text is the entry's. An empty text says nothing:
    two headlines without a body at one address (or of one second) are two entries."""
    return title == story.title or (text == story.text and bool(text.strip()))


def _same_address(url: str, other: str) -> bool:
    """Whether two canonical URLs differ at most in their query."""
    return url.partition("?")[0] == other.partition("?")[0]


def _unpack_keys(data: bytes) -> tuple[int, ...]:
    count = len(data) // 4
    return struct.unpack_from(f"<{count}I", data)
