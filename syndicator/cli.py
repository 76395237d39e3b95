"""The `syndicator` command line: parse arguments, call the layers below, map errors to exits.

Exit codes: 0 success, 1 user error (bad config, locked store, unreachable port, an output
directory that cannot be written, a mistyped command or option), 130 interrupted, 143 (129)
a `run --once` stopped by SIGTERM (SIGHUP). A user error prints one clear line and never a
traceback; every command's `--help` ends with examples. No logic lives here that a test of
the library would miss.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import dataclasses
import io
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from syndicator import __version__
from syndicator.config import (
    CONFIG_ENV_VAR,
    Settings,
    SourceSettings,
    TopicSettings,
    append_to_config,
    load_settings,
    query_warnings,
    resolve_config_path,
    source_language_problem,
    source_region_problem,
    source_url_problem,
)
from syndicator.errors import ConfigError, SyndicatorError
from syndicator.fingerprint import MIN_CONTAINMENT_SHINGLES
from syndicator.logs import LOG_FORMATS, configure_logging, one_line
from syndicator.models import Cluster, Source, SourceState, StoredStory, Tag, TagKind
from syndicator.normalize import canonical_url
from syndicator.opml import (
    OpmlError,
    OpmlFeed,
    parse_opml,
    render_opml,
    source_categories,
    sources_toml,
)
from syndicator.tagging.batch import TaggedLine, tag_lines
from syndicator.tagging.regions import region_label, resolve_region
from syndicator.tagging.tagger import TagContext, tag_story
from syndicator.tagging.topics import topic_label

if TYPE_CHECKING:
    from syndicator.storage import SourceStatus, Store

log = logging.getLogger("syndicator")

# The daemon, the store and publishing (aiohttp, sqlite-utils, feedgen, APScheduler) are
# imported by the commands that use them: `syndicator tag` and `check` start in a third of
# the time without them, which matters for `tag --jsonl` in scripts.
DEFAULT_DEMO_DIR = Path("var/demo")
EXIT_USAGE = 2  # DESIGN.md: 0 success, 1 user error (bad config, bad query), 2 usage


def open_store(path: Path) -> Store:
    from syndicator.storage import open_store as open_sqlite_store

    return open_sqlite_store(path)


def open_existing_store(path: Path) -> Store:
    """The database of a command that only reads it, never created here: `status` or `search`
    run from the wrong directory (a relative `storage.path`) made an empty database there
    and showed nothing, exit 0, which reads as "no sources, no stories"."""
    if not path.exists():
        raise SyndicatorError(missing_database(path))
    return open_store(path)


def missing_database(path: Path) -> str:
    """Where a database was looked for and not found, and why there."""
    where = "" if path.is_absolute() else f", relative to the working directory {Path.cwd()}"
    return f"{path}: no database there yet (storage.path{where}); `syndicator run` makes it"


def utc_now() -> datetime:
    return datetime.now(UTC)


# Every command's `--help` ends with these, as typed at a shell.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "syndicator check",
        "syndicator run --once",
        "syndicator --config /etc/syndicator/syndicator.toml run",
        "syndicator search 'region:KZ AND protest*'",
    ),
    "run": (
        "syndicator run                 # the daemon, until SIGTERM or Ctrl-C",
        "syndicator run --once          # one cycle for cron: poll, publish, deliver",
        "syndicator --log-format json run",
    ),
    "serve": ("syndicator serve --host 0.0.0.0 --port 8080",),
    "check": ("syndicator check --config config/syndicator.toml",),
    "status": (
        "syndicator status",
        "syndicator status --json | jq '.[] | select(.state == \"failing\") | .url'",
    ),
    "publish": ("syndicator publish",),
    "explain": (
        "syndicator explain cluster:42",
        "syndicator explain story:1234 --json",
        "syndicator explain tag:news.example.org,2026-11-28:syndicator/cluster/42",
        "syndicator explain https://www.example.org/world/2026/11/28/story.html",
    ),
    "search": (
        "syndicator search earthquake",
        'syndicator search \'"state of emergency" AND region:"Central Asia"\' --limit 5',
        "syndicator search 'topic:conflict -sport' --json",
        "syndicator search -region:RU sanctions   # a query may start with '-'",
        "syndicator search --limit 5 -- -sport   # after '--', everything is the query",
    ),
    "tag": (
        'syndicator tag "Protests in Almaty as fuel prices rise"',
        "syndicator tag --file story.txt --region KZ --json",
        "syndicator tag --language fr 'Incendie à Marseille : trois morts'",
        "syndicator tag --jsonl < stories.jsonl > tags.jsonl",
    ),
    "retag": ("syndicator retag",),
    "recluster": ("syndicator recluster",),
    "sources": ("syndicator sources import feeds.opml", "syndicator sources export"),
    "sources import": (
        "syndicator sources import feeds.opml --dry-run",
        "syndicator sources import feeds.opml",
    ),
    "sources export": ("syndicator sources export --output feeds.opml",),
    "sources enable": ("syndicator sources enable https://example.com/rss",),
    "alerts": ("syndicator alerts status", "syndicator alerts test kz-unrest"),
    "alerts status": ("syndicator alerts status",),
    "alerts retry": ("syndicator alerts retry", "syndicator alerts retry --alert kz-unrest"),
    "alerts test": (
        "syndicator alerts test kz-unrest",
        "syndicator alerts test 'oil AND price*' --limit 5",
        "syndicator alerts test -- '-topic:sport region:KZ'",
    ),
    "backup": (
        "syndicator backup /var/backups/syndicator.db",
        'syndicator backup "/var/backups/syndicator-$(date +%F).db"   # in a nightly cron job',
    ),
    "vacuum": ("syndicator vacuum    # with the daemon stopped (systemctl stop syndicator)",),
    "demo": ("syndicator demo", "syndicator demo --port 0 --dir /tmp/syndicator-demo"),
}


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return port


def positive_count(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a `--limit`: 0 or -3 used to show
    one cluster, silently)."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of at least 1")
    return count


def _epilog(command: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[command])


class CommandParser(argparse.ArgumentParser):
    """argparse with the house rules: a usage mistake (an unknown command or option, a
    missing or malformed argument) is one line naming it and the help to read, exit 2 as
    DESIGN.md's interface says (argparse prints the whole usage first), and `--help` keeps
    the examples' layout. Exit 1 stays for user errors the command finds in what it was
    given: a bad config, a bad query, a store it cannot use.

    A command whose words are a query (`search`, `alerts test`: `takes_query`) reads a word
    starting with '-' ("-trump", "-region:UA") as a NOT of the query, not as an unknown
    option: argparse would refuse it ("the following arguments are required: words"), so
    before parsing, the command's own options (and their values) move to the front and the
    other words, in their order, after a '--'. Words after a '--' the user typed are query
    words too; an unknown "--option" stays an option, for argparse to refuse."""

    takes_query = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]  # one signature for typeshed's overloads
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self.takes_query and args is not None:  # a subcommand always gets its words
            args = self._query_words_last(list(args))
        return super().parse_known_args(args, namespace)

    def _query_words_last(self, args: list[str]) -> list[str]:
        options: list[str] = []
        words: list[str] = []
        index = 0
        while index < len(args):
            arg = args[index]
            if arg == "--":
                words += args[index + 1 :]
                break
            action = self._option_action(arg)
            if action is None:
                words.append(arg)
            else:
                options.append(arg)
                if action.nargs != 0 and "=" not in arg and index + 1 < len(args):
                    index += 1
                    options.append(args[index])  # the option's value, even "-1"
            index += 1
        return [*options, "--", *words]

    def _option_action(self, arg: str) -> argparse.Action | None:
        """The option `arg` names (exactly, as --opt=value, or as a unique abbreviation of a
        long option); None for a query word. An unknown "--word" counts as an option with
        no value, so that argparse reports it."""
        if not arg.startswith("-") or arg == "-":
            return None
        known = self._option_string_actions
        name = arg.split("=", 1)[0]
        if name in known:
            return known[name]
        if not arg.startswith("--"):
            return None  # "-trump": no short option is longer than one letter
        matches = {known[option] for option in known if option.startswith(name)}
        if len(matches) == 1:
            return matches.pop()
        return argparse.Action(option_strings=[name], dest="unknown", nargs=0)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The (sub)command parser the arguments chose: "sources import" for
    `syndicator sources import x.opml --bogus`."""
    chosen: Any = parser
    while True:
        subparsers = [
            action
            for action in chosen._actions  # argparse keeps no public list of its subcommands
            if isinstance(action, argparse._SubParsersAction)
        ]
        if not subparsers:
            return chosen
        name = getattr(args, subparsers[0].dest, None)
        if name not in subparsers[0].choices:
            return chosen
        chosen = subparsers[0].choices[name]


def _command(
    commands: Any,
    name: str,
    parents: list[argparse.ArgumentParser],
    summary: str,
    takes_query: bool = False,
) -> Any:
    """A subcommand (or an action, "sources import") with its examples."""
    parser = commands.add_parser(
        name.rsplit(" ", 1)[-1], parents=parents, help=summary, epilog=_epilog(name)
    )
    parser.takes_query = takes_query
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="syndicator",
        description="RSS/Atom syndication and alerting daemon: each story once, tagged, fast.",
        epilog=_epilog(""),
    )
    parser.add_argument("--version", action="version", version=f"syndicator {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $SYNDICATOR_CONFIG, else config/syndicator.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="log lines as readable text (default) or one JSON object each",
    )
    # The same options after the command ("syndicator run --config x.toml"), as people type
    # them; SUPPRESS leaves the value given before the command alone when they are absent.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=CommandParser
    )
    run = _command(commands, "run", [common], "run the daemon (or one cycle with --once)")
    run.add_argument("--once", action="store_true", help="one full cycle, then exit (for cron)")
    serve = _command(
        commands, "serve", [common], "serve the published feeds over HTTP (no polling)"
    )
    serve.add_argument("--host", help="listen address (default: server.host)")
    serve.add_argument(
        "--port", type=port_number, help="listen port (default: server.port; 0: any)"
    )
    _command(commands, "check", [common], "validate the config; list every problem")
    status = _command(commands, "status", [common], "one line per source: state, errors, next poll")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _command(commands, "publish", [common], "regenerate every feed now")
    explain = _command(commands, "explain", [common], "why a story is in its cluster")
    explain.add_argument(
        "id",
        help="a story id (story:N, or N alone), a cluster id (cluster:N, as `search` shows it),"
        " a feed entry's id (tag:...:syndicator/cluster/N) or an article's URL",
    )
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    search = _command(
        commands,
        "search",
        [common],
        "stored story clusters matching a query",
        takes_query=True,
    )
    search.add_argument(
        "words",
        nargs="+",
        help='a query in the alert language: words, "phrases", prefix*, AND, OR, NOT, -word, '
        '(groups), title:, source:, region:KZ, region:"Central Asia", topic:conflict, lang:ru',
    )
    search.add_argument(
        "--limit", type=positive_count, default=20, help="clusters shown (default 20)"
    )
    search.add_argument("--json", action="store_true", help="machine-readable output")
    tag = _command(
        commands, "tag", [common], "region and topic tags of a text, with their evidence"
    )
    tag.add_argument("text", nargs="?", help="the text (first line: the title); or --file, stdin")
    tag.add_argument("--file", type=Path, help="read the text from this file")
    tag.add_argument(
        "--region",
        default="",
        help="a source region prior, as sources[].region: KZ, UK, or an M49 name",
    )
    tag.add_argument(
        "--language",
        default="",
        help="the language its feed declares (fr, de-DE): a hint for text too short to tell",
    )
    tag.add_argument("--json", action="store_true", help="machine-readable output")
    tag.add_argument(
        "--jsonl",
        action="store_true",
        help='batch: {"id", "title", "text"} (and "language" if known) per line on stdin, '
        "one result per line on stdout",
    )
    _command(commands, "retag", [common], "tag every stored story again (after rules change)")
    _command(
        commands,
        "recluster",
        [common],
        "let lone stories join earlier near-duplicates (after [dedup] changes)",
    )
    sources = _command(commands, "sources", [common], "OPML import and export, re-enable a source")
    actions = sources.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=CommandParser
    )
    importer = _command(
        actions, "sources import", [common], "add the feeds of an OPML file to the config"
    )
    importer.add_argument("file", type=Path, metavar="FILE.opml")
    importer.add_argument(
        "--dry-run", action="store_true", help="print the [[sources]] tables, change nothing"
    )
    exporter = _command(
        actions, "sources export", [common], "write the configured sources as OPML 2.0"
    )
    exporter.add_argument("--output", type=Path, help="file to write (default: stdout)")
    enable = _command(actions, "sources enable", [common], "poll a disabled source again")
    enable.add_argument("url", help="the source URL as configured (or as now polled)")
    _add_alert_commands(commands, common)
    backup = _command(
        commands, "backup", [common], "an online copy of the database (safe while running)"
    )
    backup.add_argument("path", type=Path, help="the file to write (never overwritten)")
    _command(commands, "vacuum", [common], "compact the database file (stop the daemon first)")
    demo = _command(commands, "demo", [common], "everything offline on loopback")
    demo.add_argument(
        "--port", type=port_number, default=8080, help="HTTP port (a free one if taken)"
    )
    demo.add_argument("--dir", type=Path, default=DEFAULT_DEMO_DIR, help="demo data directory")
    return parser


def _add_alert_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    alerts = _command(commands, "alerts", [common], "alert deliveries: status, retry, test")
    alert_actions = alerts.add_subparsers(
        dest="alert_action", required=True, metavar="ACTION", parser_class=CommandParser
    )
    _command(
        alert_actions,
        "alerts status",
        [common],
        "waiting, queued, sent and dead alerts per channel",
    )
    retry = _command(
        alert_actions,
        "alerts retry",
        [common],
        "send dead deliveries again (and re-enable channels)",
    )
    retry.add_argument("--alert", help="only this alert's deliveries")
    tester = _command(
        alert_actions,
        "alerts test",
        [common],
        "what an alert would send from stored stories; sends nothing",
        takes_query=True,
    )
    tester.add_argument("target", nargs="+", help="an alert's name, or a query")
    tester.add_argument(
        "--limit", type=positive_count, default=20, help="stories shown at most (default 20)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # refused by the command's own parser, so the hint names its --help
        _chosen_parser(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    _tolerant_stdout()
    configure_logging(args.verbose, args.log_format)
    try:
        return _dispatch(args)
    except SyndicatorError as e:
        return _user_error(args, e)
    except BrokenPipeError:  # `syndicator tag ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        return _user_error(args, e)
    except KeyboardInterrupt:
        return 130


def print_json(value: object) -> None:
    """`value` as indented JSON on stdout, non-ASCII text as itself (Cyrillic readable, not
    \\u-escaped), unless stdout cannot encode it (PYTHONIOENCODING=ascii, a C locale
    without UTF-8 mode): then escaped, which is the same JSON value, rather than a crash."""
    text = _TERMINAL_CONTROLS.sub(_json_escape, json.dumps(value, indent=2, ensure_ascii=False))
    if not _encodable(text, sys.stdout):
        text = json.dumps(value, indent=2)
    print(text)


# What json.dumps leaves as itself with ensure_ascii=False yet a terminal obeys: the C1
# controls (U+009B is CSI, U+009D starts an OSC), which a feed's headline or title may hold,
# and the Unicode line separators. They can only occur inside strings, where \uXXXX is the
# same JSON value.
_TERMINAL_CONTROLS = re.compile("[\x7f-\x9f\u2028\u2029]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _encodable(text: str, stream: TextIO) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _tolerant_stdout() -> None:
    """On a stdout that cannot encode every character, write an escape for what it cannot
    (backslashreplace) instead of dying with a UnicodeEncodeError halfway through a table of
    headlines; stderr does so already."""
    stream = sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    if isinstance(stream, io.TextIOWrapper) and codecs.lookup(encoding).name != "utf-8":
        stream.reconfigure(errors="backslashreplace")


def _utf8_stdin() -> TextIO:
    """stdin as UTF-8 whatever the locale says (JSON lines are UTF-8 by RFC 8259, and so is
    nearly every text piped in); an ASCII locale would otherwise end `tag --jsonl` with a
    UnicodeDecodeError at the first Cyrillic headline. Undecodable bytes become U+FFFD."""
    stream = sys.stdin
    encoding = getattr(stream, "encoding", None) or "utf-8"
    if isinstance(stream, io.TextIOWrapper) and codecs.lookup(encoding).name != "utf-8":
        return io.TextIOWrapper(stream.buffer, encoding="utf-8", errors="replace")
    return stream


def _user_error(args: argparse.Namespace, error: Exception) -> int:
    """Say what went wrong in one line and return exit code 1. With `--log-format json` the
    line is a log record like the others, so a log that cron appends to stays all JSON."""
    if getattr(args, "log_format", "text") == "json":
        logging.getLogger("syndicator").error("%s", error)
    else:
        print(f"error: {error}", file=sys.stderr)
    return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from syndicator.demo import run_demo

        run_demo(args.dir, args.port)
        return 0
    config_path = resolve_config_path(args.config, os.environ)
    if args.command == "check":
        return _check(config_path)
    if args.command == "sources" and args.action == "import":
        return import_opml(config_path, args.file, dry_run=args.dry_run)
    if args.command == "sources" and args.action == "export":
        export_opml(_settings_without_secrets(config_path), args.output)
        return 0
    if args.command == "tag":
        explicit = bool(args.config or os.environ.get(CONFIG_ENV_VAR))
        return tag_command(args, _topic_settings(config_path, explicit))
    settings = load_settings(config_path)
    if args.command == "run":
        from syndicator.daemon import Daemon, TerminalProgress, Terminated, run_once

        if args.once:
            try:
                run_once(settings, on_progress=TerminalProgress("polling"))
            except Terminated as e:  # logged; the shell's convention for a signal's end
                return 128 + e.signal_number
        else:
            Daemon(config_path, settings).run()
        return 0
    if args.command == "serve":
        from syndicator.daemon import serve

        serve(settings, args.host, args.port)
        return 0
    return _dispatch_with_settings(args, settings)


def _dispatch_with_settings(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "status":
        show_status(settings, as_json=args.json)
    elif args.command == "publish":
        _publish(settings)
    elif args.command == "explain":
        return explain(settings, args.id, as_json=args.json)
    elif args.command == "search":
        search_stories(settings, query_from_arguments(args.words), args.limit, as_json=args.json)
    elif args.command == "retag":
        retag(settings)
    elif args.command == "recluster":
        recluster(settings)
    elif args.command == "alerts":
        return alerts_command(settings, args)
    elif args.command == "backup":
        _backup(settings, args.path, args.log_format)
    elif args.command == "vacuum":
        _vacuum(settings)
    elif args.action == "enable":
        return _enable(settings, args.url)
    return 0


def _backup(settings: Settings, target: Path, log_format: str) -> None:
    """`syndicator backup PATH`: the copy, then one line saying so."""
    from syndicator.daemon import TerminalProgress
    from syndicator.storage import backup_database

    progress = TerminalProgress("copying pages", threshold=2)
    size = backup_database(settings.storage.path, target, progress)
    done = f"{settings.storage.path} copied to {target} ({size:,} bytes, integrity ok)"
    if log_format == "json":  # a log record, so that the log cron appends to stays all JSON
        log.info("%s", done)
    else:
        print(done)


def alerts_command(settings: Settings, args: argparse.Namespace) -> int:
    """`alerts status`, `alerts retry [--alert NAME]`, `alerts test NAME-or-QUERY`."""
    from syndicator import alerts

    store = open_existing_store(settings.storage.path)
    try:
        if args.alert_action == "status":
            print("\n".join(alerts.status_lines(store, settings)))
        elif args.alert_action == "retry":
            if args.alert is not None and alerts.find_alert(settings, args.alert) is None:
                raise SyndicatorError(
                    f"no alert named {args.alert!r} ({alerts.defined_alerts(settings)})"
                )
            count = store.requeue_dead(utc_now(), args.alert)
            print(f"{count} dead deliver{'y' if count == 1 else 'ies'} queued again")
        else:
            target = query_from_arguments(args.target)
            if note := alerts.unknown_alert_note(settings, target):
                print(f"note: {note}", file=sys.stderr)
            print(alerts.preview_alert(store, settings, target, args.limit))
    finally:
        store.close()
    return 0


def _vacuum(settings: Settings) -> None:
    """Compact the database under the run lock (so no daemon or cron run writes meanwhile)."""
    from syndicator.daemon import hold_lock, lock_path

    path = settings.storage.path
    if not path.exists():
        raise SyndicatorError(missing_database(path))
    before = path.stat().st_size
    with hold_lock(lock_path(settings)):
        store = open_store(path)
        try:
            store.vacuum()
        finally:
            store.close()
    print(f"{path}: {before:,} bytes before, {path.stat().st_size:,} after")


def _check(config_path: Path) -> int:
    from syndicator.alerts import schedule_problems

    try:
        settings = load_settings(config_path)
        problems = schedule_problems(settings)
        if problems:
            raise ConfigError(str(config_path), problems)
    except ConfigError as e:
        print(f"{e.path}: {len(e.problems)} problem(s)")
        for problem in e.problems:
            print(f"  {problem}")
        _print_warnings(e.warnings)
        return 1
    counts = (
        (len(settings.sources), "source"),
        (len(settings.sections), "section"),
        (len(settings.alerts), "alert"),
        (len(settings.channels), "channel"),
    )
    print(f"{config_path}: OK ({', '.join(_plural(n, noun) for n, noun in counts)})")
    # Worth a look, but the config is valid.
    _print_warnings([*settings.warnings, *query_warnings(settings)])
    return 0


def _print_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        print(f"  warning: {warning}")


def _plural(count: int, noun: str) -> str:
    """ "1 alert", "2 alerts", "0 alerts" (the nouns here all take an s)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


_COLOURS = {"ok": "32", "failing": "33", "disabled": "31", "new": "2"}


def show_status(settings: Settings, as_json: bool = False) -> None:
    """One line per configured source; colour on a terminal, plain when piped, or JSON."""
    statuses = _configured_statuses(settings.sources, _stored_statuses(settings))
    if as_json:
        print_json([_status_record(status) for status in statuses])
        return
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    print(
        f"{'STATE':<9} {'STORIES':>7} {'304':>4}  {'LAST SUCCESS UTC':<16}  {'NEXT POLL UTC':<16}  "
        "SOURCE"
    )
    for status in statuses:
        for line in _status_lines(status):
            print(_coloured(line, status.source.state.value) if colour else line)


def _configured_statuses(
    sources: Sequence[SourceSettings], stored: Sequence[SourceStatus]
) -> list[SourceStatus]:
    """The config's sources in its order, each as the store knows it, or as new when no run
    has seen it yet: the store learns of sources when the daemon (re)loads the config, and
    `status` right after `sources import` or an edit should list what will run, not what ran."""
    by_config_url = {status.config_url: status for status in stored}
    return [
        _as_configured(by_config_url[source.url], source)
        if source.url in by_config_url
        else _unpolled_status(source)
        for source in sources
    ]


def _as_configured(status: SourceStatus, source: SourceSettings) -> SourceStatus:
    """A stored source with the config's `enabled` switch, which the store learns only when
    the daemon (re)loads the config: a source switched off shows as disabled, with no next
    poll, as soon as the file says so."""
    if status.enabled == source.enabled:
        return status
    if not source.enabled or status.disabled_reason:
        state = SourceState.DISABLED
    elif status.source.last_error:
        state = SourceState.FAILING
    elif status.source.last_success_at:
        state = SourceState.OK
    else:
        state = SourceState.NEW
    polled = dataclasses.replace(status.source, state=state)
    return dataclasses.replace(status, source=polled, enabled=source.enabled)


def _unpolled_status(source: SourceSettings) -> SourceStatus:
    """A configured source the store does not know yet: new (or disabled), nothing polled."""
    from syndicator.storage import SourceStatus

    state = SourceState.NEW if source.enabled else SourceState.DISABLED
    interval_s = source.interval.total_seconds() if source.interval else None
    polled = Source(0, source.url, source.name, source.region, source.language, state=state)
    return SourceStatus(polled, source.enabled, 0, None, 0, interval_s, config_url=source.url)


def _stored_statuses(settings: Settings) -> list[SourceStatus]:
    """What the store knows of the sources; none, with a note on stderr saying where it was
    looked for, when there is no database (it is not created here)."""
    path = settings.storage.path
    if not path.exists():
        print(f"note: {missing_database(path)}; no source has been polled", file=sys.stderr)
        return []
    store = open_store(path)
    try:
        return store.source_statuses()
    finally:
        store.close()


def _status_lines(status: SourceStatus) -> list[str]:
    source = status.source
    ratio = status.not_modified_ratio
    lines = [
        f"{source.state.value:<9} {status.stories:>7} {_percent(ratio):>4}  "
        f"{_when(source.last_success_at):<16}  {_next_poll(status):<16}  "
        f"{source.name or source.url} <{source.url}>"
    ]
    if status.disabled_reason:
        lines.append(f"{'':<9} disabled: {status.disabled_reason}")
    elif not status.enabled:
        lines.append(f"{'':<9} disabled: enabled = false in the config")
    elif source.last_error:
        lines.append(f"{'':<9} last error ({_when(status.last_error_at)}): {source.last_error}")
    # A name or an error may hold what a feed server sent: a line break or a terminal's
    # escape code in it would forge a line of this table or recolour the terminal.
    return [one_line(line) for line in lines]


def _next_poll(status: SourceStatus) -> str:
    return "-" if _not_polled(status) else _when(status.source.next_poll_at)


def _not_polled(status: SourceStatus) -> bool:
    """Disabled, by the store (410 Gone, its failure score) or by the config."""
    return bool(status.disabled_reason) or not status.enabled


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.0%}"


def _coloured(line: str, state: str) -> str:
    return f"\033[{_COLOURS.get(state, '0')}m{line}\033[0m"


def _status_record(status: SourceStatus) -> dict[str, object]:
    source = status.source
    return {
        "name": source.name,
        "url": source.url,
        "state": source.state.value,
        "stories": status.stories,
        "polls": status.polls,
        "not_modified_ratio": status.not_modified_ratio,
        "last_success_at": _iso(source.last_success_at),
        "next_poll_at": None if _not_polled(status) else _iso(source.next_poll_at),
        "last_error": source.last_error,
        "last_error_at": _iso(status.last_error_at),
        "disabled_reason": status.disabled_reason,
        "failure_score": status.failure_score,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def search_stories(settings: Settings, words: str, limit: int, as_json: bool = False) -> None:
    """Clusters with a story matching a query in the alert language, newest first: when
    published, how many copies, from which sources, and the representative's title; then how many
    match in all. Raises QueryError (with the column) for a malformed query."""
    from syndicator.alerts import describe_matches
    from syndicator.config import query_vocabulary
    from syndicator.query import lowercase_operator_hint, parse
    from syndicator.storage import QUERY_SCAN_LIMIT, ClusterFilter

    parse(words, query_vocabulary(settings.topics))  # unknown regions and topics are errors
    store = open_existing_store(settings.storage.path)
    try:
        found = store.search(ClusterFilter(query=words, limit=limit))
    finally:
        store.close()
    clusters = found.clusters
    if as_json:
        # On stderr, so that stdout stays one JSON value: a script (jq, pandas) reading 20
        # clusters of 132 should be told so, as the text output tells its reader.
        if hint := lowercase_operator_hint(words):
            print(f"note: lower-case operators are words to search for {hint}", file=sys.stderr)
        if len(clusters) < found.total or not found.complete:
            print(f"note: {describe_matches(found, words)} (--limit for more)", file=sys.stderr)
        print_json([_cluster_record(cluster) for cluster in clusters])
        return
    if not clusters and not found.complete:
        print(
            f"no match among the newest {QUERY_SCAN_LIMIT:,} stored story clusters, which is"
            f" as far as this query looks: {words} (a word or a region:, topic: or source:"
            " filter that every match has lets it look at all of them)"
        )
        return
    if not clusters:
        print(f"no stored story matches: {words} {lowercase_operator_hint(words)}".rstrip())
        return
    # The cluster column is what `syndicator explain` takes (a bare number is a story id).
    ids = [f"cluster:{cluster.id}" for cluster in clusters]
    width = max(len("CLUSTER"), *map(len, ids))
    # The time shown is the one the list is ordered by, the first source's publication:
    # when the story was first seen here says nothing of it for a new source's back
    # catalogue or an archive (every row would show the minute of the poll).
    print(f"{'PUBLISHED UTC':<16}  {'COPIES':>6}  {'CLUSTER':<{width}}  TITLE / SOURCES")
    for cluster, shown_id in zip(clusters, ids, strict=True):
        # Headlines and source names are what feed servers wrote: their control characters
        # (C1 ones survive the text cleaning) are shown as escapes, as `status` shows them.
        print(
            f"{_when(cluster.published_at):<16}  {len(cluster.copies):>6}  "
            f"{shown_id:<{width}}  {one_line(cluster.title)}"
        )
        sources = one_line(", ".join(_cluster_sources(cluster)))
        print(f"{'':<16}  {'':>6}  {'':<{width}}  {sources}")
    print(describe_matches(found, words))


_FIELD_ARGUMENT = re.compile(r"^([A-Za-z]+):(.+)$")


def query_from_arguments(arguments: Sequence[str]) -> str:
    """One query from the command line's words. One argument is the query as written
    (`'kazakhstan AND (protest OR unrest)'`). Among several, an argument with a space in it
    was quoted for the shell (`"state of emergency"`, `region:"Central Asia"`), so it stays a
    phrase or one field value."""
    if len(arguments) == 1:
        return arguments[0]
    parts = []
    for argument in arguments:
        if not any(char.isspace() for char in argument) or '"' in argument:
            parts.append(argument)
        elif match := _FIELD_ARGUMENT.match(argument):
            parts.append(f'{match[1]}:"{match[2]}"')
        else:
            parts.append(f'"{argument}"')
    return " ".join(parts)


_JOIN_REASONS = {
    "first": "first seen: it started the cluster",
    "canonical-url": "same canonical URL as {matched}",
    "guid": "same globally unique guid (permalink, urn: or tag:) as {matched}",
    "similar-text": "similar text: {score:.0%} of the shorter text is in {matched}",
}
_SHORT_TEXT_JOIN = (
    "similar text: it and {matched} have {score:.0%} of their word sequences in common"
    " (texts this short are compared whole)"
)
_UNKNOWN_MEASURE_JOIN = "similar text: scored {score:.0%} against {matched}"


def _join_template(story: StoredStory, shingles: Mapping[int, int]) -> str:
    """The explanation's wording. A near-duplicate's score is the share of the shorter text
    in the longer, unless that text is too short to measure it that way: then it is the
    share of both texts' shingles the two have in common (`fingerprint.similarity`). Which
    one is known while both fingerprints are kept (the clustering window)."""
    if story.join_reason != "similar-text":
        return _JOIN_REASONS.get(story.join_reason, story.join_reason)
    sizes = [shingles.get(story.id), shingles.get(story.joined_story_id or 0)]
    if None in sizes:
        return _UNKNOWN_MEASURE_JOIN
    if min(size or 0 for size in sizes) < MIN_CONTAINMENT_SHINGLES:
        return _SHORT_TEXT_JOIN
    return _JOIN_REASONS["similar-text"]


def _join_explanation(
    story: StoredStory, representative: StoredStory, shingles: Mapping[int, int]
) -> str:
    """Why the story is in its cluster, and whether it represents it: the copy published
    first does, which need not be the one that started the cluster."""
    template = _join_template(story, shingles)
    matched = f"story:{story.joined_story_id}" if story.joined_story_id else "an earlier member"
    why = template.format(matched=matched, score=story.join_score or 0.0)
    if story.id != representative.id:
        if story.join_reason == "first":
            return f"{why}; story:{representative.id}, published earlier, represents it"
        return why
    if story.join_reason == "first":
        return f"{why} and represents it"
    return f"{why}; published first ({_when(story.published_at)}), it represents the cluster"


# The id of a feed entry, Atom's <id> and JSON Feed's "id" (`atom.cluster_entry_id`): what a
# feed reader shows and copies, so `explain` takes it as the cluster it names.
_ENTRY_ID = re.compile(r"tag:[^,\s]+,\d{4}-\d{2}-\d{2}:syndicator/cluster/(\d+)")
_EXPLAIN_FORMS = (
    "expected story:N, cluster:N or N, a feed entry id (tag:...:syndicator/cluster/N)"
    " or an article's URL"
)


def _explain_target(reference: str) -> tuple[str, str]:
    """("story" or "cluster", the number) or ("url", the canonical URL) of what `explain`
    was given: the ids `search` shows, a feed entry's id, or the link of a story (from a
    feed entry, an alert message or `search --json`)."""
    reference = reference.strip()
    if match := _ENTRY_ID.fullmatch(reference):
        return "cluster", match[1]
    if re.match(r"https?://", reference, re.IGNORECASE):
        return "url", reference
    kind, _, number = reference.rpartition(":")
    kind = kind.strip().lower() or "story"
    if not number.strip().isdigit() or kind not in ("story", "cluster"):
        raise SyndicatorError(f"{reference!r}: {_EXPLAIN_FORMS}")
    return kind, number.strip()


def explain(settings: Settings, reference: str, as_json: bool = False) -> int:
    """Why each member of a cluster is there; exit 1 if there is no such story or cluster."""
    kind, value = _explain_target(reference)
    store = open_existing_store(settings.storage.path)
    try:
        if kind == "url":
            found = store.clusters_of_url(value)
            if len(found) > 1:  # one feed listing different entries at one address
                listed = ", ".join(f"cluster:{number}" for number in found)
                print(f"error: stories in {len(found)} clusters link {reference.strip()}:"
                      f" {listed}; explain one of them", file=sys.stderr)  # fmt: skip
                return 1
            cluster = store.cluster_of(cluster_id=found[0]) if found else None
        elif kind == "cluster":
            cluster = store.cluster_of(cluster_id=int(value))
        else:
            cluster = store.cluster_of(story_id=int(value))
        alerts = store.alerts_of(cluster.id) if cluster else []
        shingles = store.shingle_counts(_joined_pairs(cluster)) if cluster else {}
    finally:
        store.close()
    if cluster is None:
        missing = f"story links to {reference.strip()}" if kind == "url" else f"{kind} {value}"
        print(f"error: no {missing} in {settings.storage.path}", file=sys.stderr)
        return 1
    if as_json:
        record = _cluster_record(cluster)
        record["members"] = [_member_record(story) for story in cluster.copies]
        record["related"] = [
            {"cluster_id": link.cluster_id, "title": link.title, "score": round(link.score, 3)}
            for link in cluster.related
        ]
        record["tags"] = _tags_record(cluster.tags, settings.topics.labels())
        record["alerts"] = [
            {"alert": rule, "score": score, "matched_at": at, "channel": channel, "status": status}
            for rule, score, at, channel, status in alerts
        ]
        print_json(record)
        return 0
    _print_explanation(cluster, alerts, settings.topics.labels(), shingles)
    return 0


def _joined_pairs(cluster: Cluster) -> list[int]:
    """The near-duplicate members of a cluster and the stories they matched."""
    return [
        story_id
        for story in cluster.copies
        if story.join_reason == "similar-text"
        for story_id in (story.id, story.joined_story_id)
        if story_id is not None
    ]


def _show(line: str) -> None:
    """Print a line that holds what feed servers wrote (headlines, source names, datelines),
    its control characters as escapes (see `search`)."""
    print(one_line(line))


def _print_explanation(
    cluster: Cluster,
    alerts: Sequence[tuple[str, float, str, str, str]],
    labels: Mapping[str, str],
    shingles: Mapping[int, int],
) -> None:
    _show(f"cluster:{cluster.id}  {cluster.title}")
    _show(f"first seen {_when(cluster.first_seen_at)}, {len(cluster.copies)} member(s)")
    for story in cluster.copies:
        _show(
            f"  story:{story.id}  {_when(story.first_seen_at)}  {story.source_name}: {story.title}"
        )
        _show(f"      {_join_explanation(story, cluster.representative, shingles)}")
        if story.agency or story.place:
            _show(f"      dateline: {', '.join(p for p in (story.place, story.agency) if p)}")
    if cluster.related:
        _show("related coverage (other clusters on the same event, by headline words):")
        for link in cluster.related:
            _show(f"  cluster:{link.cluster_id}  {link.score:.2f}  {link.title}")
    if cluster.tags:
        _show("tags (the best evidence among the members):")
        _print_tags(cluster.tags, labels)
    if alerts:
        _show("alerts (score 1.0: the headline alone matched; 0.5: the text was needed):")
        for rule, score, at, channel, status in alerts:
            where = f" -> {channel}: {status}" if channel else " (no channel)"
            _show(f"  {rule}  {score:.1f}  matched {at[:16].replace('T', ' ')}{where}")


def _print_tags(tags: Sequence[Tag], labels: Mapping[str, str], indent: str = "  ") -> None:
    for kind in TagKind:
        chosen = [tag for tag in tags if tag.kind is kind]
        if not chosen:
            continue
        _show(f"{indent}{'regions' if kind is TagKind.REGION else 'topics'}:")
        for tag in chosen:
            role = "focus  " if tag.focus else "mention"
            label = _tag_label(tag, labels)
            name = f"{tag.code} ({label})" if label != tag.code else tag.code
            _show(f"{indent}  {name:<38} {role} {tag.score:.2f}  {'; '.join(tag.evidence)}")


def _tag_label(tag: Tag, topic_labels: Mapping[str, str]) -> str:
    if tag.kind is TagKind.REGION:
        return region_label(tag.code)
    return topic_labels.get(tag.code) or topic_label(tag.code)


def _tag_record(tag: Tag, labels: Mapping[str, str]) -> dict[str, object]:
    key = "code" if tag.kind is TagKind.REGION else "slug"
    return {
        key: tag.code,
        "label": _tag_label(tag, labels),
        "score": tag.score,
        "focus": tag.focus,
        "evidence": list(tag.evidence),
    }


def _tags_record(tags: Sequence[Tag], labels: Mapping[str, str]) -> dict[str, object]:
    return {
        "regions": [_tag_record(tag, labels) for tag in tags if tag.kind is TagKind.REGION],
        "topics": [_tag_record(tag, labels) for tag in tags if tag.kind is TagKind.TOPIC],
    }


def _topic_settings(config_path: Path, explicit: bool) -> TopicSettings:
    """The config's topic rules when there is a config; the built-in ones when there is none
    (so `syndicator tag` works anywhere). A config named by --config or $SYNDICATOR_CONFIG
    must exist: a typo there is an error, not a silent fallback."""
    if not explicit and not config_path.exists():
        return TopicSettings()
    return load_settings(config_path).topics


def tag_command(args: argparse.Namespace, topics: TopicSettings) -> int:
    """`syndicator tag`: one text (argument, --file or stdin), or --jsonl batches."""
    # The same values as a source's `region` prior (an M49 name is accepted, adds nothing).
    if args.region and (problem := source_region_problem(args.region)) is not None:
        raise SyndicatorError(f"--region: {problem}")
    region = (resolve_region(args.region) or "") if args.region else ""
    if args.language and (problem := source_language_problem(args.language)) is not None:
        raise SyndicatorError(f"--language: {problem}")
    context = TagContext(region, topics.overrides, topics.replace)
    if args.jsonl:
        return tag_jsonl(_utf8_stdin(), sys.stdout, context)
    if args.text is not None:
        text = args.text
    elif args.file is not None:
        text = _read_text(args.file)
    else:
        text = _utf8_stdin().read()
    title, _, body = text.strip().partition("\n")
    tags = tag_story(context, title.strip(), body.strip() or title.strip(), language=args.language)
    if args.json:
        print_json(_tags_record(tags, topics.labels()))
    elif tags:
        _print_tags(tags, topics.labels(), indent="")
    else:
        print("no region or topic found")
    return 0


JSONL_CHUNK = 500  # lines read, tagged and written at a time


def tag_jsonl(lines: TextIO, out: TextIO, context: TagContext) -> int:
    """The batch mode of DESIGN.md: one {"id", "title", "text"} object per input line, one
    {"id", "regions", "topics"} object per output line, in order. A bad line is reported on
    stderr with its number, answered with an "error" object, and the batch goes on; exit
    status 1 then. Read and written in chunks, so memory stays bounded however long the
    input. (Worker processes were measured slower here: each must learn the topic tagger's
    word memo again, and a forked copy of the gazetteer's sets is copied page by page.)"""
    results = (tag_lines(context, chunk) for chunk in _numbered_chunks(lines, JSONL_CHUNK))
    return 1 if _write_tagged(results, out) else 0


def _numbered_chunks(lines: TextIO, size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        chunk.append((number, line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_tagged(results: Iterable[list[TaggedLine]], out: TextIO) -> int:
    failed = 0
    for result in results:
        for line in result:
            if line.error is not None:
                failed += 1
                print(f"error: {line.error}", file=sys.stderr)
            output = line.output
            if not _encodable(output, out):  # the same JSON, escaped: see print_json
                output = json.dumps(json.loads(output))
            out.write(output + "\n")
    return failed


def retag(settings: Settings) -> None:
    store = open_existing_store(settings.storage.path)
    try:
        from syndicator.daemon import TerminalProgress
        from syndicator.pipeline import configured_sources, retag_clusters

        # The sources' regions as configured now, not as the last run stored them.
        store.sync_sources(configured_sources(settings.sources), utc_now())
        count = retag_clusters(store, settings.topics, TerminalProgress("retagging"))
    finally:
        store.close()
    print(f"re-tagged {count} cluster(s) in {settings.storage.path}")


def recluster(settings: Settings) -> None:
    """`Store.recluster_singletons` with the configured `[dedup]` rules, under the run lock
    (a daemon or cron run storing stories meanwhile would race the moves)."""
    from syndicator.daemon import TerminalProgress, hold_lock, lock_path
    from syndicator.pipeline import cluster_rules
    from syndicator.storage import open_store as open_sqlite_store

    if not settings.storage.path.exists():
        raise SyndicatorError(missing_database(settings.storage.path))
    with hold_lock(lock_path(settings)):
        store = open_sqlite_store(settings.storage.path, cluster_rules(settings))
        try:
            result = store.recluster_singletons(TerminalProgress("re-clustering"))
        finally:
            store.close()
    print(
        f"{result.joined} of {result.examined} lone stor{'y' if result.examined == 1 else 'ies'}"
        f" in the clustering window joined an earlier near-duplicate's cluster"
    )


def _member_record(story: StoredStory) -> dict[str, object]:
    return {
        "story_id": story.id,
        "source": story.source_name,
        "title": story.title,
        "url": story.url,
        "first_seen_at": _iso(story.first_seen_at),
        "published_at": _iso(story.published_at),
        "join_reason": story.join_reason,
        "join_score": None if story.join_score is None else round(story.join_score, 3),
        "joined_story_id": story.joined_story_id,
        "place": story.place,
        "agency": story.agency,
    }


def _cluster_sources(cluster: Cluster) -> list[str]:
    """The members' sources, the representative's (the first to publish) first."""
    first = cluster.representative
    members = [first, *(copy for copy in cluster.copies if copy.id != first.id)]
    return list(dict.fromkeys(copy.source_name or copy.source_url for copy in members))


def _cluster_record(cluster: Cluster) -> dict[str, object]:
    return {
        "cluster_id": cluster.id,
        "title": cluster.title,
        "first_seen_at": _iso(cluster.first_seen_at),
        "published_at": _iso(cluster.published_at),
        "copies": len(cluster.copies),
        "sources": _cluster_sources(cluster),
        "url": cluster.representative.url,
    }


def import_opml(config_path: Path, opml_path: Path, dry_run: bool = False) -> int:
    """Append the OPML file's feeds to the config as [[sources]] tables.

    The config file stays the single source of truth: imported feeds become ordinary
    `[[sources]]` entries (with their OPML folders as a comment), already configured URLs
    and invalid URLs are skipped, and the file is only written if the result is valid.
    """
    # Secrets the config names (${SMTP_PASSWORD}) are the daemon's; this shell may lack them.
    settings = load_settings(config_path, allow_unset=True)
    feeds = _read_opml(opml_path)
    if not feeds:  # the wrong file, or feeds under another attribute than OPML's xmlUrl
        print(f"warning: {opml_path}: no feeds: no outline has an xmlUrl", file=sys.stderr)
    known = _configured_feed_urls(settings)
    from syndicator.daemon import TerminalProgress

    progress = TerminalProgress("importing")
    fresh, skipped, invalid = [], 0, []
    dropped: list[str] = []
    twins = {_loose_url(url): url for url in sorted(known)}
    notes: list[str] = []
    for done, feed in enumerate(feeds, start=1):
        progress(done, len(feeds))
        if (problem := source_url_problem(feed.url)) is not None:
            invalid.append(f"{feed.url}: {problem}")
        elif canonical_url(feed.url) in known:
            skipped += 1
        else:
            known.add(canonical_url(feed.url))
            if (twin := twins.setdefault(_loose_url(feed.url), feed.url)) != feed.url:
                notes.append(f"{feed.url}: added; {twin} differs only in http(s) or a final /")
            fresh.append(_without_unusable_hints(feed, dropped))
    for line in invalid:
        print(f"skipped invalid: {line}", file=sys.stderr)
    for line in dropped:
        print(f"dropped: {line}", file=sys.stderr)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    if dry_run:
        print(sources_toml(fresh), end="")
        return 0
    if fresh:
        append_to_config(config_path, sources_toml(fresh), os.environ, allow_unset=True)
    print(
        f"{opml_path}: {len(fresh)} source(s) added to {config_path}, {skipped} already "
        f"configured, {len(invalid)} invalid. A running daemon picks them up on SIGHUP."
    )
    return 0


def _loose_url(url: str) -> str:
    """The canonical URL without its scheme and a trailing slash. Two feeds that differ only
    there are usually one (lists merged from two readers), but not always, so they are both
    imported, with a note: the config check and the store keep them apart too."""
    return canonical_url(url).split("://", 1)[-1].rstrip("/")


def _configured_feed_urls(settings: Settings) -> set[str]:
    """Canonical URLs of the configured sources: as written in the config, and where each is
    polled now, so that a list exported after a 301 or an autodiscovery adds nothing back."""
    statuses = _statuses_by_config_url(settings)
    written = [source.url for source in settings.sources]
    current = [statuses[url].source.url for url in written if url in statuses]
    return {canonical_url(url) for url in [*written, *current]}


def _without_unusable_hints(feed: OpmlFeed, dropped: list[str]) -> OpmlFeed:
    """The feed without a language or region the config would refuse, each noted in `dropped`
    (other readers write `language="unknown"`, as the OPML 2.0 spec's example does); one bad
    attribute should not keep the feed out, nor fail the whole import."""
    language, region = feed.language, feed.region
    if language.lower() == "unknown":
        language = ""
    elif language and (problem := source_language_problem(language)) is not None:
        dropped.append(f"{feed.url}: language: {problem}")
        language = ""
    if region and (problem := source_region_problem(region)) is not None:
        dropped.append(f"{feed.url}: region: {problem}")
        region = ""
    return dataclasses.replace(feed, language=language, region=region)


def _read_text(path: Path) -> str:
    """A text file (UTF-8, undecodable bytes replaced), or an error in the house style:
    "PATH: cannot read: No such file or directory", not Python's "[Errno 2] ..."."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise SyndicatorError(f"{path}: cannot read: {e.strerror or e}") from e


def _read_opml(path: Path) -> list[OpmlFeed]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SyndicatorError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        return parse_opml(data, strict=True)
    except OpmlError as strict_error:
        try:
            feeds = parse_opml(data)
        except OpmlError as e:
            raise SyndicatorError(f"{path}: {e}") from e
        print(f"warning: {path}: {strict_error}; read leniently", file=sys.stderr)
        return feeds


def _settings_without_secrets(config_path: Path) -> Settings:
    """The config as `sources export` needs it, in a shell without the daemon's secrets (as
    `sources import` reads it); a source value naming an unset variable goes out as written,
    which a warning says: another reader could not poll that URL."""
    settings = load_settings(config_path, allow_unset=True)
    for warning in settings.warnings:
        if warning.startswith("sources[") and "environment variable" in warning:
            print(f"warning: {config_path}: {warning}", file=sys.stderr)
    return settings


def export_opml(settings: Settings, output: Path | None) -> None:
    """The configured sources as OPML 2.0, in the folders of their `# categories:` comments,
    each where it is polled now (a source that moved by a permanent redirect or feed
    autodiscovery goes out at its feed's address: another reader does no discovery), with its
    site link and, for a source without a configured name, the feed's own title, when known."""
    statuses = _statuses_by_config_url(settings)
    config_text = _read_text(settings.path)
    folders = source_categories(config_text, len(settings.sources))
    feeds = [
        _exported_feed(source, statuses.get(source.url), categories)
        for source, categories in zip(settings.sources, folders, strict=True)
    ]
    document = render_opml(feeds, f"{settings.publish.title} sources", format_datetime(utc_now()))
    if output is None:
        # The bytes as they are: the document says it is UTF-8, whatever the locale encodes
        # text in (Windows' cp1252 for `> feeds.opml` wrote Cyrillic titles as "\u041d...").
        sys.stdout.flush()
        sys.stdout.buffer.write(document)
        sys.stdout.buffer.flush()
    else:
        try:
            output.write_bytes(document)
        except OSError as e:  # "PATH: cannot write: Is a directory", not "[Errno 21] ..."
            raise SyndicatorError(f"{output}: cannot write: {e.strerror or e}") from e
        print(f"{len(feeds)} source(s) written to {output}")


def _statuses_by_config_url(settings: Settings) -> dict[str, SourceStatus]:
    """What the store knows of each configured source, by its URL as the config writes it;
    empty when there is no database yet (nothing polled, nothing to create)."""
    if not settings.storage.path.exists():
        return {}
    store = open_store(settings.storage.path)
    try:
        return {status.config_url: status for status in store.source_statuses()}
    finally:
        store.close()


def _exported_feed(
    source: SourceSettings, status: SourceStatus | None, categories: tuple[str, ...]
) -> OpmlFeed:
    """A configured source as an OPML feed, completed from what its polls learned."""
    url, html_url, title = source.url, "", source.name
    if status is not None:
        url = status.source.url or source.url
        html_url = status.site_link
        title = title or status.feed_title
    return OpmlFeed(
        url, title, html_url, categories, source.language, source.region, source.enabled
    )


def _enable(settings: Settings, url: str) -> int:
    store = open_existing_store(settings.storage.path)
    try:
        found = store.enable_source(url)
        config_urls = {
            status.config_url
            for status in store.source_statuses()
            if url in {status.config_url, status.source.url}
        }
    finally:
        store.close()
    if not found:
        print(f"error: no source with URL {url}", file=sys.stderr)
        return 1
    off = [
        source
        for source in settings.sources
        if source.url in config_urls | {url} and not source.enabled
    ]
    if off:
        # What the store disabled is cleared, but the config's own switch still holds it: the
        # command said "enabled; it is polled at the next tick", and nothing was ever polled.
        print(
            f"error: {url}: `enabled = false` in {settings.path} keeps it from being polled; "
            "set it to true there (and reload a running daemon)",
            file=sys.stderr,
        )
        return 1
    print(f"{url}: enabled; it is polled at the next tick")
    return 0


def _publish(settings: Settings) -> None:
    store = open_store(settings.storage.path)
    try:
        from syndicator.daemon import publish_and_notify
        from syndicator.pipeline import configured_sources

        # The sources as configured now: a renamed source shows its new name in the feeds.
        store.sync_sources(configured_sources(settings.sources), utc_now())
        written = asyncio.run(publish_and_notify(store, settings, utc_now()))
    finally:
        store.close()
    print(f"{len(written)} file(s) written under {settings.publish.output_dir}")
    for path in written:
        print(f"  {path}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
