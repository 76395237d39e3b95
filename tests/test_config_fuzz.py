"""Fuzzing the config loader (hypothesis) through `load_settings`, as the daemon and the CLI
call it: whatever the file holds, the result is `Settings` or a `ConfigError` that names the
file and each offending key, never another exception; `syndicator check` says so in a few
plain lines, never with a traceback.

Two searches: (a) arbitrary bytes and text, TOML-ish token soup, deep nesting, huge numbers;
(b) valid TOML built from the real keys of the schema (`KEYS`), with good, wrong-typed and
hostile values (bad durations, URLs, queries, cron, time zones, unknown keys). Budgets come
from `tests/fuzzing.py` (`make fuzz` searches 50 times longer).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from syndicator.alerts import in_quiet_hours, schedule_problems
from syndicator.config import KEYS, Settings, load_settings
from syndicator.errors import ConfigError
from tests.conftest import syndicator
from tests.fuzzing import budget

ENVIRON = {"SMTP_USER": "mailer", "HOOK_SECRET": "whsec_c2VjcmV0", "EMPTY": ""}
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

# A key path as the loader writes it: sources[3].url, channels.desk.to, a quoted odd key
# ("a b"), a term of a topic ('oil price', as Python shows it).
_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
_KEY_PATH = re.compile(rf"{_KEY}(?:\[\d+\])?(?:\.{_KEY}(?:\[\d+\])?)*")
_FILE_PROBLEMS = ("not valid TOML: ", "cannot read: ")
_PYTHON_LEAKS = re.compile(
    r"Traceback|\b(Key|Type|Attribute|Index|Overflow|Recursion|Unicode\w*)Error\b|<built-in|"
    r" object at 0x"
)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file, rewritten by every example (module scope: hypothesis runs many per test)."""
    return tmp_path_factory.mktemp("config-fuzz") / "syndicator.toml"


def _load(path: Path, data: bytes) -> Settings | ConfigError:
    """What `syndicator check` does: load, then ask APScheduler about digest schedules."""
    path.write_bytes(data)
    try:
        settings = load_settings(path, environ=ENVIRON)
        problems = schedule_problems(settings)
    except ConfigError as e:
        return e
    if problems:
        return ConfigError(str(path), problems)
    return settings


def _check_error(error: ConfigError, path: Path) -> None:
    """A ConfigError names the file, then one problem per entry, each led by its key path."""
    assert error.path == str(path)
    assert error.problems
    message = str(error)
    assert message.split("\n", maxsplit=1)[0] == f"{path}: {len(error.problems)} problem(s)"
    for problem in error.problems:
        lines = problem.split("\n")
        assert problem.splitlines() == lines, f"a stray line break in {problem!r}"
        assert not _PYTHON_LEAKS.search(problem), problem
        if problem.startswith(_FILE_PROBLEMS):
            assert len(lines) == 1, problem
            continue
        where, colon, _ = lines[0].partition(": ")
        assert colon, problem
        assert _KEY_PATH.fullmatch(where), f"no key path leads {problem!r}"
        if len(lines) > 1:  # a query error shows the query with a caret under the column
            assert where.endswith(".query"), problem
            assert len(lines) == 3, problem
            assert lines[2].strip() == "^", problem


def _check_settings(settings: Settings) -> None:
    """What the daemon computes from a loaded config does not raise either."""
    durations = [
        settings.storage.retention,
        settings.polling.interval,
        settings.polling.min_interval,
        settings.polling.max_interval,
        settings.polling.timeout,
        settings.dedup.window,
        *(source.interval for source in settings.sources if source.interval is not None),
    ]
    for duration in durations:
        assert NOW - duration <= NOW + duration  # neither overflows
    for source in settings.sources:
        assert source.url.startswith(("http://", "https://")), source
    for alert in settings.alerts:
        in_quiet_hours(alert, NOW)
    for channel in settings.channels.values():
        if channel.type == "webhook":
            assert str(channel.options["url"]).startswith(("http://", "https://")), channel


def _outcome(path: Path, data: bytes) -> Settings | ConfigError:
    result = _load(path, data)
    if isinstance(result, ConfigError):
        _check_error(result, path)
    else:
        _check_settings(result)
    return result


# ---------------------------------------------------------------------------------------------
# (a) Anything at all in the file.

TOML_TOKENS = st.sampled_from(
    [
        "[", "]", "[[", "]]", "{", "}", "=", ",", ".", '"', "'", '"""', "'''", "\\", "\\u0000",
        "\\uD800", "\\U00110000", "\\n", "\n", "\r\n", "\r", "\t", " ", "#", "\x00", "\x7f",
        "\ufeff", "\u2028", "true", "false", "nan", "+inf", "-inf", "0x", "0xff", "0o8",
        "0b2", "1e999", "-1e-999", "1_000", "_1", "9223372036854775808", "-9223372036854775809",
        "1979-05-27T07:32:00Z", "1979-05-27", "1979-13-45", "07:32:00", "24:00:00",
        "storage", "polling", "sources", "channels", "[storage]", "[polling]", "[[sources]]",
        "[[sections]]", "[[alerts]]", "[[topics]]", "[channels.x]", "[channels.x.y]", "url",
        "interval", "port", "query", "= 1\n", '= "x"\n', '"http://[::1"', '"999999999999d"',
        '"America"', '"${SMTP_USER}"', '"${NOT_SET}"', "a.b.c", '"a\\nb"',
    ]
)  # fmt: skip
TOML_SOUP = st.lists(TOML_TOKENS | st.text(max_size=6), max_size=40).map("".join)
_BRACKETS = st.sampled_from([("[", "]"), ("{a = ", "}"), ("[{a = ", "}]"), ("{a = [", "]}")])
DEEP_NESTING = st.builds(
    lambda key, depth, pair: f"{key} = {pair[0] * depth}1{pair[1] * depth}\n",
    st.sampled_from(["a", "storage", "sources"]),
    st.integers(1, 3000),
    _BRACKETS,
)
HUGE_NUMBERS = st.builds(
    lambda key, digits, sign: f"[server]\n{key} = {sign}{'9' * digits}\n",
    st.sampled_from(["port", "host", "unknown"]),
    st.integers(1, 6000),
    st.sampled_from(["", "-", "+"]),
)
ENCODINGS = st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig", "utf-32"])
ANY_FILE = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda text, encoding: text.encode(encoding, errors="replace"),
        st.text(max_size=200) | TOML_SOUP,
        ENCODINGS,
    ),
    (TOML_SOUP | DEEP_NESTING | HUGE_NUMBERS).map(lambda text: text.encode("utf-8", "replace")),
)


@budget(300)
@given(ANY_FILE)
@example(b"a = " + b"[" * 2000 + b"]" * 2000)  # RecursionError in tomllib
@example(b"a = " + b"{b = " * 2000 + b"1" + b"}" * 2000)
@example(b"[server]\nport = " + b"9" * 5000)  # ValueError: over 4300 digits
@example(b"\xff\xfe[server]")
@example(b'"a\\nb" = 1\n[channels."x\\ny"]\ntype = "webhook"\nurl = "http://h.example/"')
def test_any_file_gives_settings_or_a_config_error(config_file: Path, data: bytes) -> None:
    _outcome(config_file, data)


# ---------------------------------------------------------------------------------------------
# (b) Valid TOML with the schema's keys and hostile values.

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    assert isinstance(value, dict)
    pairs = (f"{_toml_key(key)} = {_toml_value(item)}" for key, item in value.items())
    return "{ " + ", ".join(pairs) + " }"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table_lines(values: Mapping[str, Any]) -> Iterator[str]:
    for key, value in values.items():
        yield f"{_toml_key(key)} = {_toml_value(value)}"


def to_toml(document: Mapping[str, Any]) -> str:
    """The document as TOML with [table], [[array]] and [channels.name] headers."""
    lines = []
    headed = {}
    for name, value in document.items():
        if name == "channels" and isinstance(value, dict):
            if all(isinstance(item, dict) for item in value.values()):
                headed[name] = value
            else:  # a channel that is not a table: the whole channels table inline
                lines.append(f"channels = {_toml_value(value)}")
        elif isinstance(value, dict) or _is_table_array(value):
            headed[name] = value
        else:  # a wrong type: before any header, at the top level
            lines.append(f"{_toml_key(name)} = {_toml_value(value)}")
    for name, value in headed.items():
        if name == "channels" and isinstance(value, dict) and value:
            for channel, table in value.items():
                lines += ["", f"[channels.{_toml_key(channel)}]", *_table_lines(table)]
        elif isinstance(value, dict):
            lines += ["", f"[{_toml_key(name)}]", *_table_lines(value)]
        else:
            for item in value:
                lines += ["", f"[[{_toml_key(name)}]]", *_table_lines(item)]
    return "\n".join(lines) + "\n"


ODD_TEXT = st.text(max_size=12) | st.sampled_from(
    ["", " ", "\n", "\x00", "\u2028", "${SMTP_USER}", "${NOT_SET}", "${EMPTY}", "$", "${",
     "a" * 300, "é", "\ufeff", "NaN"]
)  # fmt: skip
TOML_SCALARS = st.one_of(
    ODD_TEXT,
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 1, 65535, 65536, 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.dates(),
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ODD_TEXT, inner, max_size=3),
    max_leaves=8,
)

DURATIONS = st.one_of(
    st.sampled_from(
        ["90s", "15m", "2h", "1d", "1w", "1h30m", "0s", "0.5s", "250ms", "1.5h", "1 h 30 m",
         " 5m ", "15", "m", "-5m", "1x", "", "1e3s", "99999999999999d", "9" * 400 + "s",
         "999999999d", "36500d", "36501d", "5215w", "100000000000000000000ms", "1.s", ".5s"]
    ),
    st.from_regex(r"(\d{1,20}(\.\d{1,3})?(ms|s|m|h|d|w)){1,3}", fullmatch=True),
)  # fmt: skip
URLS = st.sampled_from(
    ["https://example.org/feed.xml", "http://news.example/rss", "http://[::1]:8080/", "",
     " ", "not a url", "ftp://example.org/x", "http://[::1", "http://[x]/", "http://h:99999/",
     "http://h:-1/", "http://h:port/", "http://h/a b", "https://", "http://.//b.org/x",
     "${SMTP_USER}", "https://exa mple.org/", "http://\u0000/", "javascript:alert(1)",
     "https://EXAMPLE.org/world/rss.xml?utm_source=x"]
) | ODD_TEXT  # fmt: skip
QUERIES = st.sampled_from(
    ["kazakhstan", 'kazakhstan AND (protest OR "state of emergency")', "region:KZ",
     'region:"Central Asia"', "topic:conflict", "topic:nope", "region:XX", "(((", ")", "NOT",
     "a OR", '"unclosed', "title:", "lang:ru", "-x", "x*", "*", "(" * 300 + "x" + ")" * 300,
     "x " * 1500, "", " ", "\n", "a\nb", "AND AND"]
) | ODD_TEXT  # fmt: skip
SCHEDULES = st.sampled_from(
    ["immediate", "0 7 * * *", "*/15 * * * *", "99 * * * *", "a b c d e", "* * * *",
     "* * * * * *", "0 0 31 2 *", "*/0 * * * *", "1-0 * * * *", "* * * * 7", "0 0 29 2 *",
     "0 0 L * *", "9" * 30 + " * * * *", "", "IMMEDIATE", "0\n7 * * *"]
) | ODD_TEXT  # fmt: skip
ZONES = st.sampled_from(
    ["UTC", "Asia/Almaty", "America/New_York", "Factory", "EST5EDT", "", "America", "Asia",
     "a" * 300, "../../etc/passwd", "/etc/localtime", "UTC\x00", "Mars/Olympus", "utc",
     "right/UTC", "posixrules", "."]
) | ODD_TEXT  # fmt: skip
REGIONS = st.sampled_from(["KZ", "kz", "Central Asia", "Europe", "World", "XX", "", "UK", "EU"])
SLUGS = st.sampled_from(["world", "a-b", "a_b", "0", "A", "", "-a", "conflict", "economy"])

# Values that fit each kind of key, most of the time.
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "string": ODD_TEXT,
    "integer": st.integers(-5, 2**63 - 1),
    "positive integer": st.integers(-5, 2**63 - 1),
    "fraction": st.floats(-1, 2) | st.sampled_from([0, 1, 0.5]),
    "score": st.floats(-1, 2) | st.sampled_from([0, 1, 0.5]),
    "port": st.integers(-5, 70000),
    "boolean": st.booleans(),
    "duration": DURATIONS,
    "URL": URLS,
    "base URL": URLS,
    "proxy URL": URLS
    | st.sampled_from(
        ["http://u:p@10.0.0.5:3128", "socks5://u:p@h:1080", "http://u:p@", "http://:p@h/", "@"]
    ),
    "list of strings": st.lists(ODD_TEXT | SLUGS, max_size=4),
    "list of email addresses": st.lists(
        st.sampled_from(
            ["desk@example.org", "Desk <desk@example.org>", "a@b", "", "no-at", "x@y\r\nBcc: z@w"]
        )
        | ODD_TEXT,
        max_size=3,
    ),
    "email address": st.sampled_from(
        ["s@example.org", "Alerts <s@example.org>", "a@b", "", "not an address", "@b", "a@", "A <>"]
    )
    | ODD_TEXT,
    "host name": st.sampled_from(["localhost", "smtp.example.org", "127.0.0.1", "", " ", "a b"])
    | ODD_TEXT,
    "listen address": st.sampled_from(["127.0.0.1", "0.0.0.0", "::", "::1", "", " ", "a b"])
    | ODD_TEXT,
    "path": st.sampled_from(["var/s.db", "/var/lib/syndicator/feeds", "", " ", "a\x00b", "."])
    | ODD_TEXT,
    "region": REGIONS | ODD_TEXT,
    "language tag": st.sampled_from(["fr", "de-DE", "pt_BR", "zh-Hant-TW", "", "f", "français!"])
    | ODD_TEXT,
    "list of regions": st.lists(REGIONS, max_size=4),
    "slug": SLUGS | ODD_TEXT,
    "schedule": SCHEDULES,
    "time zone": ZONES,
    "quiet hours": st.sampled_from(["22:00-07:00", "00:00-00:00", "24:00-07:00", "", "7-8"]),
    "webhook secret": st.sampled_from(["", "whsec_c2VjcmV0", "secret", "${HOOK_SECRET}"]),
    "table of term weights": st.dictionaries(
        ODD_TEXT | st.sampled_from(["oil price", '"war"', "prefix*", "*", "a b c d e f g h"]),
        st.floats(allow_nan=True) | st.integers(-5, 1000) | st.booleans() | ODD_TEXT,
        max_size=4,
    ),
}
SPECIAL: dict[str, st.SearchStrategy[Any]] = {"query": QUERIES}


def _value_for(key_name: str, kind: str) -> st.SearchStrategy[Any]:
    if key_name in SPECIAL:
        good = SPECIAL[key_name]
    elif kind.startswith('"'):  # one of a few words: "email" or "webhook"
        good = st.sampled_from(re.findall(r'"([^"]+)"', kind)) | ODD_TEXT
    else:
        good = GOOD[kind]
    return st.one_of(good, good, good, TOML_VALUES)


def _table(table: str, extra_keys: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the table's keys with values, maybe an unknown or misspelt key."""
    keys = [key for key in KEYS if key.table == table or key.table in extra_keys]
    values = st.fixed_dictionaries(
        {}, optional={key.name: _value_for(key.name, key.kind) for key in keys}
    )
    names = [key.name for key in keys]
    unknown = st.dictionaries(
        st.sampled_from([name + "s" for name in names] + [name[:-1] for name in names]) | ODD_TEXT,
        TOML_VALUES,
        max_size=2,
    )
    return st.builds(lambda known, odd: {**odd, **known}, values, st.just({}) | unknown)


def _tables(table: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(_table(table), max_size=3)


CHANNELS = st.dictionaries(
    st.sampled_from(["desk", "hook", "a b", "x\ny", ""]) | ODD_TEXT,
    _table("channels.<name>", ("channels.<name> (email)", "channels.<name> (webhook)")),
    max_size=3,
)
SECTIONS = {
    "storage": _table("storage"),
    "publish": _table("publish"),
    "server": _table("server"),
    "polling": _table("polling"),
    "dedup": _table("dedup"),
    "sources": _tables("sources[]"),
    "sections": _tables("sections[]"),
    "topics": _tables("topics[]"),
    "alerts": _tables("alerts[]"),
    "channels": CHANNELS,
}
DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={name: strategy | TOML_VALUES for name, strategy in SECTIONS.items()}
    | {"colour": TOML_VALUES},
)


@budget(200)
@given(DOCUMENTS)
@example({"polling": {"interval": "99999999999999d"}})  # OverflowError in timedelta
@example({"polling": {"max_interval": "999999999d"}})  # now + max_interval overflows
@example({"storage": {"retention": "9" * 400 + "s"}})  # float infinity
@example({"publish": {"hub": "http://[::1"}})  # ValueError from urlsplit
@example({"sources": [{"url": "http://[x]/"}]})
@example({"sources": [{"url": ""}]})  # a required URL left empty
@example({"alerts": [{"name": "a", "query": "x", "timezone": "America"}]})  # IsADirectoryError
@example({"alerts": [{"name": "a", "query": "x", "timezone": "a" * 300}]})  # name too long
@example({"alerts": [{"name": "a", "query": "(((", "schedule": "99 * * * *"}]})
@example({"channels": {"x\ny": {"type": "webhook", "url": ""}}, "a\u2028b": 1})
@example({"alerts": [{"channels": [""]}], "channels": {"\n": {"type": "email"}}})  # make fuzz
def test_schema_shaped_toml_gives_settings_or_a_config_error(
    config_file: Path, document: dict[str, Any]
) -> None:
    text = to_toml(document)
    tomllib.loads(text)  # the generator writes valid TOML: the loader sees a document

    _outcome(config_file, text.encode("utf-8"))


def test_the_toml_writer_round_trips() -> None:
    document = {
        "odd key": [1, 2.5, "x\ny"],
        "storage": {"path": "a\x00b", "retention": "90d"},
        "sources": [{"url": "https://example.org/", "enabled": False}],
        "channels": {"a b": {"type": "webhook", "url": "https://h.example/"}},
    }

    assert tomllib.loads(to_toml(document)) == document


# ---------------------------------------------------------------------------------------------
# (c) `syndicator check` on configs the search found broken: exit 1, a few plain lines.

FOUND_BAD = {
    "deep-nesting": "a = " + "[" * 3000 + "]" * 3000 + "\n",
    "huge-integer": "[server]\nport = " + "9" * 5000 + "\n",
    "duration-overflow": '[polling]\ninterval = "99999999999999d"\n',
    "bracketed-url": '[[sources]]\nurl = "http://[::1"\n',
    "zone-directory": '[[alerts]]\nname = "a"\nquery = "x"\ntimezone = "America"\n',
    "cron-and-query": '[[alerts]]\nname = "a"\nquery = "((("\nschedule = "99 * * * *"\n',
    "line-break-in-key": '"a\\nb" = 1\n',
}


@pytest.mark.parametrize("text", list(FOUND_BAD.values()), ids=list(FOUND_BAD))
def test_check_reports_a_found_bad_config_without_a_traceback(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")

    result = syndicator("check", "--config", str(path), cwd=tmp_path)

    assert result.returncode == 1, result
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == ""
    head, *problems = result.stdout.rstrip("\n").split("\n")
    assert re.fullmatch(rf"{re.escape(str(path))}: \d problem\(s\)", head), result.stdout
    assert problems
    assert all(line.startswith("  ") for line in problems), result.stdout
    expected = _load(path, text.encode("utf-8"))
    assert isinstance(expected, ConfigError)
    assert len(problems) == sum(len(p.split("\n")) for p in expected.problems)
