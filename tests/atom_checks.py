"""RFC 4287 checks on a published Atom file, shared by the end-to-end tests."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def check_atom(path: Path) -> list[str]:
    """Assert the RFC 4287 requirements we rely on; return the entry ids in document order."""
    root = etree.parse(str(path)).getroot()
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, f"feed needs exactly one {name}"
    selfs = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert len(selfs) == 1
    assert RFC3339.match(root.findtext(f"{ATOM}updated") or "")
    ids = []
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, f"entry needs exactly one {name}"
        for name in ("updated", "published"):
            value = entry.findtext(f"{ATOM}{name}")
            assert value is None or RFC3339.match(value), f"{name} {value!r} is not RFC 3339"
        has_alternate = any(
            link.get("rel", "alternate") == "alternate" for link in entry.findall(f"{ATOM}link")
        )
        assert has_alternate or entry.find(f"{ATOM}content") is not None
        ids.append(entry.findtext(f"{ATOM}id") or "")
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    return ids
