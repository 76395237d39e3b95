"""Imported for its effect: loads the gazetteer and the built-in taxonomy into this process.

The parser pool's fork server imports this module once, before it forks the workers, so the
workers share one copy of the tables (copy-on-write pages) instead of each building its own
30 MB. It also makes the fork server end with the daemon, even a SIGKILLed one
(`parentdeath`). Nothing else should import it.
"""

from __future__ import annotations

from syndicator.parentdeath import die_with_parent
from syndicator.tagging.regions import load_gazetteer
from syndicator.tagging.topics import default_taxonomy

die_with_parent()
load_gazetteer()
default_taxonomy()
