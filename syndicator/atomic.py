"""Atomic file replacement (stdlib only): a reader or a crash never sees half a file.

Used for published feeds and for the config file that `sources import` rewrites. It writes
and renames; it does not decide whether a file needs writing.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# What `write_atomically` names its temp files: ".<name>.<8 mkstemp characters>.tmp".
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def write_atomically(
    path: Path, data: bytes, mode: int = 0o644, owner: tuple[int, int] | None = None
) -> None:
    """Temp file in the same directory, fsync, rename over the target, fsync the directory.

    `mode` is set explicitly because mkstemp creates 0600 files, which a web server serving
    the feeds, or another user reading the config, could not read. `owner` (uid, gid) is
    given to the new file as far as this process may (root may; others keep their own).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if owner is not None:
            _give(temp_name, owner)
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _give(name: str, owner: tuple[int, int]) -> None:
    """chown, or at least chgrp (allowed to a group the user is in), or nothing: a file that
    someone else owned is better written with our ownership than not written."""
    uid, gid = owner
    for attempt in ((uid, gid), (-1, gid)):
        try:
            os.chown(name, *attempt)
        except PermissionError:
            continue
        return


def remove_leftover_temp_files(root: Path) -> int:
    """Delete the temp files a kill left between `write_atomically`'s write and its rename,
    anywhere under `root`; returns how many. Only for a caller that holds the run lock: a
    running writer's temp file looks the same."""
    removed = 0
    if not root.is_dir():
        return 0
    for path in root.rglob(".*.tmp"):
        if _TEMP_NAME.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed += 1
    return removed
