"""Story identity: which stored story an entry is, and whether it changed.

Pure decisions over plain values: the key of an entry within its source, and what to do with an
entry given the hash already stored under that key. Cross-source clustering by canonical URL is
decided here too (`cluster_key`); near-duplicate fingerprints come with the clustering issue.
This module does no I/O; `storage` carries out the decisions.
"""

from __future__ import annotations

from enum import StrEnum

from syndicator.models import ParsedEntry
from syndicator.normalize import canonical_url, clean_line, content_hash


class UpsertAction(StrEnum):
    """What storing an entry must do."""

    INSERT = "insert"
    UPDATE = "update"
    UNCHANGED = "unchanged"


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


def cluster_key(canonical: str) -> str | None:
    """The exact cross-source key: the canonical URL, when the story has a usable one."""
    if canonical.startswith(("http://", "https://")):
        return canonical
    return None
