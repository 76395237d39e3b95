"""Logging set-up for every command: one line per event on stderr (stdlib only)."""

from __future__ import annotations

import logging
import sys


def configure_logging(verbose: bool = False) -> None:
    """One line per event on stderr, which systemd and container runtimes collect."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # APScheduler warns each time a tick is skipped because the previous one still runs,
    # which is the intended max_instances=1 behaviour; its errors still come through.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
