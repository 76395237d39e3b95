"""The `syndicator` command line: parse arguments, call the layers below, map errors to exits.

Exit codes: 0 success, 1 user error (bad config, locked store, unreachable port), 2 usage.
A user error prints one clear message and never a traceback. No logic lives here that a test
of the library would miss.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from syndicator import __version__
from syndicator.config import Settings, load_settings, resolve_config_path
from syndicator.daemon import Daemon, configure_logging, run_once, utc_now
from syndicator.demo import DEFAULT_DEMO_DIR, run_demo
from syndicator.errors import ConfigError, SyndicatorError
from syndicator.publishing import publish_all
from syndicator.storage import SourceStatus, open_store

log = logging.getLogger("syndicator")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndicator",
        description="RSS/Atom syndication and alerting daemon: each story once, tagged, fast.",
    )
    parser.add_argument("--version", action="version", version=f"syndicator {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $SYNDICATOR_CONFIG, else config/syndicator.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the daemon (or one cycle with --once)")
    run.add_argument("--once", action="store_true", help="one full cycle, then exit (for cron)")
    commands.add_parser("check", help="validate the config; list every problem")
    commands.add_parser("status", help="one line per source: state, last success, errors")
    commands.add_parser("publish", help="regenerate every feed now")
    demo = commands.add_parser("demo", help="everything offline on loopback")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (a free one if taken)")
    demo.add_argument("--dir", type=Path, default=DEFAULT_DEMO_DIR, help="demo data directory")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        return _dispatch(args)
    except SyndicatorError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        run_demo(args.dir, args.port)
        return 0
    config_path = resolve_config_path(args.config, os.environ)
    if args.command == "check":
        return _check(config_path)
    settings = load_settings(config_path)
    if args.command == "run" and args.once:
        run_once(settings)
    elif args.command == "run":
        Daemon(config_path, settings).run()
    elif args.command == "status":
        _status(settings)
    elif args.command == "publish":
        _publish(settings)
    return 0


def _check(config_path: Path) -> int:
    try:
        settings = load_settings(config_path)
    except ConfigError as e:
        print(f"{e.path}: {len(e.problems)} problem(s)")
        for problem in e.problems:
            print(f"  {problem}")
        return 1
    print(
        f"{config_path}: OK ({len(settings.sources)} sources, {len(settings.sections)} sections, "
        f"{len(settings.alerts)} alerts, {len(settings.channels)} channels)"
    )
    return 0


def _status(settings: Settings) -> None:
    store = open_store(settings.storage.path)
    try:
        statuses = store.source_statuses()
    finally:
        store.close()
    configured = {source.url for source in settings.sources}
    print(f"{'STATE':<9} {'STORIES':>7}  {'LAST SUCCESS':<16}  {'NEXT POLL':<16}  SOURCE")
    for status in statuses:
        print(_status_line(status))
        if status.source.last_error:
            print(f"{'':<9} {'':>7}  last error: {status.source.last_error}")
    missing = configured - {status.source.url for status in statuses}
    if missing:
        print(f"{len(missing)} configured source(s) not polled yet: run `syndicator run --once`")


def _status_line(status: SourceStatus) -> str:
    source = status.source
    name = source.name or source.url
    return (
        f"{source.state.value:<9} {status.stories:>7}  {_when(source.last_success_at):<16}  "
        f"{_when(source.next_poll_at):<16}  {name} <{source.url}>"
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _publish(settings: Settings) -> None:
    store = open_store(settings.storage.path)
    try:
        written = publish_all(store, settings, utc_now())
    finally:
        store.close()
    print(f"{len(written)} file(s) written under {settings.publish.output_dir}")
    for path in written:
        print(f"  {path}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
