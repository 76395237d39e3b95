"""TOML file + environment -> frozen `Settings`; `ConfigError` lists every problem at once.

The accepted shape is declared once, in `KEYS`: every key with its type, default and help text.
Validation walks the document against that table, so an unknown key, a wrong type, a bad URL,
duration or region code, a duplicate source URL, section slug or alert name, and an alert naming
an undefined channel are each reported with their key path (`sources[3].url: ...`). Paths are
counted from 0, as in TOML arrays. `${NAME}` in any string reads the environment; a missing
variable is a problem too. This module reads the file and the environment, nothing else.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from syndicator.atomic import write_atomically
from syndicator.cron import parse_cron
from syndicator.errors import ConfigError
from syndicator.fingerprint import DEFAULT_COPY_THRESHOLD, DEFAULT_RELATED_THRESHOLD
from syndicator.models import LANGUAGE_TAG
from syndicator.normalize import canonical_url
from syndicator.query import (
    QueryError,
    Vocabulary,
    closest,
    ignored_wildcards,
    lowercase_operators,
    source_key,
)
from syndicator.query import parse as parse_query
from syndicator.tagging.regions import known_regions, resolve_region
from syndicator.tagging.topics import (
    TopicRule,
    builtin_rules,
    merge_rules,
    parse_overrides,
    topic_label,
    topic_slugs,
)

DEFAULT_CONFIG_PATH = Path("config/syndicator.toml")
CONFIG_ENV_VAR = "SYNDICATOR_CONFIG"

_REQUIRED: Any = object()  # marks a key that has no default


class _Invalid(ValueError):
    """A single value did not convert; the message says what was expected."""


class _Unset(_Invalid):
    """A value names an environment variable that is not set."""


@dataclass(frozen=True, slots=True)
class Key:
    """One configuration key: where it lives, how it converts, its default and its help."""

    table: str  # "polling", "sources[]", "channels.<name>", "channels.<name> (email)", ...
    name: str
    kind: str
    default: Any
    help: str

    @property
    def path(self) -> str:
        return f"{self.table}.{self.name}"

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


# ---------------------------------------------------------------------------------------------
# Converters: (value) -> converted value, raising _Invalid with what was expected.


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_toml_type(value)}")
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"expected an integer, got {_toml_type(value)}")
    if value < 0:
        raise _Invalid(f"expected a non-negative integer, got {value}")
    return value


def _to_port(value: Any) -> int:
    port = _to_int(value)
    if port > 65535:
        raise _Invalid(f"expected a port number 0-65535, got {port}")
    return port


def _to_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_toml_type(value)}")
    return value


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The longest duration accepted: the daemon adds durations to and subtracts them from now.
MAX_DURATION = timedelta(days=36500)


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '2h', '1d', or a sum such as '1h30m', at most 36500d (100 years).
    Raises ValueError otherwise."""
    compact = text.strip().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise _Invalid(f'expected a duration such as "90s", "15m", "2h" or "1d", got {text!r}')
    seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    if not seconds <= MAX_DURATION.total_seconds():  # also infinity, from 400 digits
        raise _Invalid(f"expected a duration of at most 36500d (100 years), got {text!r}")
    return timedelta(seconds=seconds)


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A bare number has no unit: seconds or minutes? Say how to write one instead.
        raise _Invalid(f'expected a duration such as "20s" or "5m", got the number {value}')
    return parse_duration(_to_str(value))


def _to_url(value: Any) -> str:
    text = _to_str(value).strip()
    return _http_url(text, text, "an absolute http:// or https:// URL") if text else ""


def _to_proxy_url(value: Any) -> str:
    """An http:// or https:// proxy URL, credentials allowed; they never appear in a problem."""
    text = _to_str(value).strip()
    if not text:
        return ""
    return _http_url(text, _without_password(text), "an http:// or https:// proxy URL")


def _http_url(text: str, shown: str, expected: str) -> str:
    """`text` if it is an absolute http(s) URL with a host; problems quote it as `shown`."""
    try:
        parts = urlsplit(text)  # raises ValueError on a malformed [IPv6] host
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as e:
        raise _Invalid(f"malformed URL {shown!r}: {e}") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Invalid(f"expected {expected}, got {shown!r}")
    if any(ch.isspace() for ch in text):
        raise _Invalid(f"malformed URL {shown!r}: contains white space")
    return text


def _without_password(url: str) -> str:
    """The URL with the password of its user part replaced by ***, if it has one."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, user_part = head.rpartition("//")
    user = user_part.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}" if scheme else f"{user}:***@{tail}"


def _to_base_url(value: Any) -> str:
    url = _to_url(value)
    return url if url.endswith("/") else url + "/"


def _to_str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid(f"expected a list of strings, got {_toml_type(value)}")
    return tuple(value)


def _to_addresses(value: Any) -> tuple[str, ...]:
    addresses = _to_str_list(value)
    if not addresses:
        raise _Invalid("expected at least one address, got an empty list")
    return tuple(map(_address, addresses))


def _to_address(value: Any) -> str:
    return _address(_to_str(value))


def _address(text: str) -> str:
    """`text` if it is an address, local@domain, or one with a display name, "Desk
    <desk@example.org>" (the envelope, the Message-ID domain and List-Unsubscribe are derived
    from the address part: an odd one went out as `MAIL FROM:<>`)."""
    bare = parseaddr(text)[1] if "<" in text else text
    local, at, domain = bare.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or any(char.isspace() or not char.isprintable() for char in bare)
        or any(not char.isprintable() for char in text)
    ):
        raise _Invalid(
            "expected an email address such as desk@example.org or "
            f'"Desk <desk@example.org>", got {text!r}'
        )
    return text


def _to_host(value: Any) -> str:
    text = _to_str(value).strip()
    if not text or any(char.isspace() or not char.isprintable() for char in text):
        raise _Invalid(f"expected a host name or IP address such as smtp.example.org, got {text!r}")
    return text


def _to_listen_address(value: Any) -> str:
    # Empty is refused, not passed on: the HTTP server would listen on every interface,
    # IPv4 and IPv6, for a value that usually means a ${VARIABLE} set to nothing.
    if isinstance(value, str) and not value.strip():
        raise _Invalid(
            'expected an address to listen on such as "127.0.0.1", got "" (which would mean '
            'every interface: write "0.0.0.0" or "::" for that)'
        )
    return _to_host(value)


def _to_path(value: Any) -> str:
    # Empty is "." to pathlib: the working directory itself, wherever that is.
    text = _to_str(value)
    if not text.strip() or "\0" in text:
        raise _Invalid(f"expected a file system path, got {text!r}")
    return text


def _to_region(value: Any) -> str:
    text = _to_str(value)
    if not text:
        return ""
    resolved = resolve_region(text)
    if resolved is None:
        raise _Invalid(
            f"unknown region {_with_hint(text, known_regions())}: expected an ISO 3166-1 "
            "alpha-2 code or an M49 region name"
        )
    return resolved


def _with_hint(value: str, known: Sequence[str]) -> str:
    """`value` quoted, with the known value it is most likely a typo of:
    "'Centrl Asia' (did you mean 'Central Asia'?)"."""
    close = closest(value, known)
    return f"{value!r} (did you mean {close!r}?)" if close else repr(value)


def _to_language(value: Any) -> str:
    text = _to_str(value).strip()
    if text and not LANGUAGE_TAG.fullmatch(text):
        raise _Invalid(f"expected a language tag such as fr or de-DE, got {text!r}")
    return text


def _to_region_list(value: Any) -> tuple[str, ...]:
    items = _to_str_list(value)
    unknown = [item for item in items if resolve_region(item) is None]
    if unknown:
        known = known_regions()
        raise _Invalid(
            f"unknown region(s) {', '.join(_with_hint(item, known) for item in unknown)}: "
            "expected ISO 3166-1 alpha-2 codes or M49 region names"
        )
    return tuple(str(resolve_region(item)) for item in items)


_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


# Folders of the automatic feeds (`publishing`): no section may be called so.
RESERVED_SLUGS: Final[dict[str, str]] = {
    "regions": "the automatic feeds of countries, sub-regions and continents",
    "topics": "the automatic feeds of topics",
    "alerts": "the alerts' feeds",
    "archive": "every feed's archive pages",
}


def _to_slug(value: Any) -> str:
    text = _to_str(value)
    if not _SLUG.match(text):
        raise _Invalid(f"expected lower-case letters, digits, '-' or '_', got {text!r}")
    return text


def _to_positive_int(value: Any) -> int:
    number = _to_int(value)
    if number < 1:
        raise _Invalid(f"expected a positive integer, got {number}")
    return number


def _to_fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected a number between 0 and 1, got {_toml_type(value)}")
    if not 0 < value <= 1:
        raise _Invalid(f"expected a number above 0 and at most 1, got {value}")
    return float(value)


def _to_score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"expected a number from 0 to 1, got {_toml_type(value)}")
    if not 0 <= value <= 1:
        raise _Invalid(f"expected a number from 0 to 1, got {value}")
    return float(value)


def _one_of(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        text = _to_str(value)
        if text not in choices:
            raise _Invalid(f"expected one of {', '.join(map(repr, choices))}, got {text!r}")
        return text

    return convert


def _to_schedule(value: Any) -> str:
    text = _to_str(value).strip()
    if text == "immediate":
        return text
    if len(text.split()) != 5:
        raise _Invalid(
            f'expected "immediate" or a 5-field cron expression such as "0 7 * * *", got {text!r}'
        )
    try:
        parse_cron(text)  # here, not when the digest is due: with every other problem
    except ValueError as e:
        raise _Invalid(f"{text!r}: {e}") from e
    return text


def _to_webhook_secret(value: Any) -> str:
    text = _to_str(value)
    if text and not text.startswith("whsec_"):
        raise _Invalid('expected a Standard Webhooks secret starting with "whsec_"')
    return text


def _to_time_zone(value: Any) -> str:
    text = _to_str(value).strip()
    try:
        zoneinfo.ZoneInfo(text)
    # OSError: a name that is a directory of the zone database ("America"), or too long
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise _Invalid(
            f"unknown time zone {_with_hint(text, _time_zone_names())}: expected an IANA name "
            'like "Asia/Almaty"'
        ) from e
    return text


@functools.cache
def _time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


_QUIET_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _to_quiet_hours(value: Any) -> str:
    text = _to_str(value).strip()
    if text and not _QUIET_HOURS.match(text):
        raise _Invalid(f'expected "HH:MM-HH:MM" such as "22:00-07:00", got {text!r}')
    return text


def _to_term_weights(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise _Invalid(
            'expected a table of terms and weights ({ "oil price" = 2.0 }), '
            f"got {_toml_type(value)}"
        )
    bad = [
        term
        for term, weight in value.items()
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0
    ]
    if bad:
        raise _Invalid(
            f"weights must be numbers of 0 or more (0 removes a term): {', '.join(map(repr, bad))}"
        )
    return {str(term): float(weight) for term, weight in value.items()}


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_str,
    "integer": _to_int,
    "positive integer": _to_positive_int,
    "fraction": _to_fraction,
    "score": _to_score,
    "port": _to_port,
    "boolean": _to_bool,
    "duration": _to_duration,
    "URL": _to_url,
    "base URL": _to_base_url,
    "proxy URL": _to_proxy_url,
    "list of strings": _to_str_list,
    "list of email addresses": _to_addresses,
    "email address": _to_address,
    "host name": _to_host,
    "listen address": _to_listen_address,
    "path": _to_path,
    "region": _to_region,
    "language tag": _to_language,
    "list of regions": _to_region_list,
    "slug": _to_slug,
    "schedule": _to_schedule,
    '"none", "starttls" or "tls"': _one_of("none", "starttls", "tls"),
    '"email" or "webhook"': _one_of("email", "webhook"),
    "webhook secret": _to_webhook_secret,
    "time zone": _to_time_zone,
    "quiet hours": _to_quiet_hours,
    '"standard", "slack" or "discord"': _one_of("standard", "slack", "discord"),
    "table of term weights": _to_term_weights,
}


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key_name(name: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted with its odd characters
    escaped, so a key path in a problem message stays on one line."""
    if _BARE_KEY.fullmatch(name):
        return name
    return '"' + "".join(map(_escaped, name)) + '"'


def _escaped(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if char.isprintable():
        return char
    return f"\\u{ord(char):04X}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08X}"


def _toml_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------
# The declarative table of every key. The README's configuration reference documents each one.

KEYS: tuple[Key, ...] = (
    Key("storage", "path", "path", "var/syndicator.db", "SQLite database file (WAL mode)."),
    Key(
        "storage",
        "retention",
        "duration",
        "90d",
        "Story clusters whose newest story was first seen longer ago are deleted hourly (and "
        "by every `run --once`, and at once by a reload that changes it), with the sent alert "
        "messages about them, and leave the published feeds at once; their space is given "
        "back to the file system; their entries are remembered, so a feed "
        'still listing them adds nothing (see Story clusters); "0s" keeps everything.',
    ),
    Key(
        "publish",
        "output_dir",
        "path",
        "var/feeds",
        "Directory the Atom files, index and OPML are written to.",
    ),
    Key(
        "publish",
        "base_url",
        "base URL",
        "http://localhost:8080/",
        "Public URL of the output directory; feed links, ids and schemes derive from it.",
    ),
    Key(
        "publish",
        "title",
        "string",
        "syndicator",
        "Title of the HTML index and of the OPML list.",
    ),
    Key("publish", "hub", "URL", "", "WebSub hub advertised in every feed (empty: none)."),
    Key(
        "server",
        "host",
        "listen address",
        "127.0.0.1",
        'Address the HTTP server listens on ("0.0.0.0" or "::": every interface).',
    ),
    Key("server", "port", "port", 8080, "Port the HTTP server listens on (0 picks a free port)."),
    Key("polling", "interval", "duration", "15m", "Default time between two polls of a source."),
    Key("polling", "min_interval", "duration", "5m", "No source is polled more often than this."),
    Key("polling", "max_interval", "duration", "24h", "No source waits longer than this."),
    Key(
        "polling",
        "timeout",
        "duration",
        "20s",
        "Total deadline of one fetch: connect, headers and body.",
    ),
    Key(
        "polling",
        "max_bytes",
        "positive integer",
        10_000_000,
        "Largest response body accepted, after decompression.",
    ),
    Key("polling", "concurrency", "positive integer", 32, "Fetches in flight at once."),
    Key(
        "polling",
        "per_host_concurrency",
        "positive integer",
        2,
        "Fetches in flight at once to one host.",
    ),
    Key(
        "polling",
        "disable_after_score",
        "positive integer",
        20,
        "A source whose weighted failure score reaches this is disabled, with its reason.",
    ),
    Key(
        "polling",
        "allow_private_addresses",
        "boolean",
        False,
        "Allow loopback and private addresses (SSRF guard off); for tests and the demo.",
    ),
    Key(
        "polling",
        "user_agent_contact",
        "URL",
        "",
        "Contact URL in the User-Agent header, `syndicator/<version> (+URL)`, for feed owners to "
        "reach you; empty: the project's homepage.",
    ),
    Key(
        "polling",
        "proxy",
        "proxy URL",
        "",
        "HTTP proxy every fetch goes through (http://host:port; credentials in the URL are "
        "never shown). The private-address guard still judges each URL, and each host name "
        "that resolves here; the proxy resolves the rest. Empty: fetch directly.",
    ),
    Key(
        "dedup",
        "threshold",
        "fraction",
        DEFAULT_COPY_THRESHOLD,
        "How much of the shorter of two story texts must be in the longer (shingle "
        "containment) for the later story to join the earlier one's cluster as a copy.",
    ),
    Key(
        "dedup",
        "related_threshold",
        "fraction",
        DEFAULT_RELATED_THRESHOLD,
        "Headline word overlap (Jaccard) at which two clusters are linked as related: one "
        "event told by different outlets, kept as separate clusters.",
    ),
    Key(
        "dedup",
        "window",
        "duration",
        "72h",
        "Stories published further apart than this are never compared.",
    ),
    Key("sources[]", "url", "URL", _REQUIRED, "Feed URL (RSS, Atom, RDF or JSON Feed)."),
    Key(
        "sources[]",
        "name",
        "string",
        "",
        "Display name (default: the feed's own title, else its URL).",
    ),
    Key(
        "sources[]",
        "interval",
        "duration",
        "",
        "Poll interval for this source (default: polling.interval).",
    ),
    Key(
        "sources[]",
        "region",
        "region",
        "",
        "Region prior: the ISO 3166-1 alpha-2 country the source mostly covers; weak "
        "evidence for the tagger (an M49 name is accepted but adds no evidence).",
    ),
    Key(
        "sources[]",
        "language",
        "language tag",
        "",
        "The language of its stories, for a feed that declares none or the wrong one "
        "(default: the feed's own, RSS `<language>` or Atom `xml:lang`, else the one its text "
        "clearly reads as); what `lang:` finds "
        "and what the topic tagger reads a headline too short to tell in.",
    ),
    Key(
        "sources[]",
        "enabled",
        "boolean",
        True,
        "Set false to keep a source configured but not polled.",
    ),
    Key(
        "sections[]",
        "slug",
        "slug",
        _REQUIRED,
        "Identifier and file name: `feeds/<slug>.atom` (not regions, topics, alerts or archive: "
        "the automatic feeds' folders).",
    ),
    Key("sections[]", "title", "string", "", "Feed title (default: the slug)."),
    Key(
        "sections[]",
        "regions",
        "list of regions",
        [],
        "ISO 3166-1 alpha-2 codes or M49 region names; empty: any region.",
    ),
    Key("sections[]", "topics", "list of strings", [], "Topic slugs; empty: any topic."),
    Key(
        "sections[]",
        "sources",
        "list of strings",
        [],
        "Sources by URL (exactly) or by name or feed title (in any case); empty: every source.",
    ),
    Key(
        "sections[]",
        "query",
        "string",
        "",
        'A query in the alert query language (words, "phrases", AND/OR/NOT, title:, '
        "region:, topic:, source:, lang:) that one of a cluster's stories must match; "
        "empty: no query filter.",
    ),
    Key(
        "sections[]",
        "min_score",
        "score",
        0.0,
        "Lowest score (0 to 1) of the region and topic tags the section filters on, to keep "
        "only stories that are strongly about them; needs regions or topics.",
    ),
    Key(
        "sections[]",
        "max_entries",
        "positive integer",
        100,
        "Newest entries in the feed document; older ones move to RFC 5005 archive pages "
        "of this size.",
    ),
    Key(
        "topics[]",
        "slug",
        "slug",
        _REQUIRED,
        "A built-in topic to extend or change (conflict, politics, economy, ...), or a new one.",
    ),
    Key("topics[]", "label", "string", "", "Readable name; required for a new topic."),
    Key(
        "topics[]",
        "terms",
        "table of term weights",
        {},
        'Words, "phrases" and prefix* terms with weights: { "oil price" = 2.0 }; 0 removes one.',
    ),
    Key(
        "topics[]",
        "capitalised",
        "list of strings",
        [],
        'Single-word terms that count only when written with a capital (a team: "Bears").',
    ),
    Key("topics[]", "categories", "list of strings", [], "Feed categories that mean this topic."),
    Key("topics[]", "paths", "list of strings", [], "URL path segments that mean it (/sport/)."),
    Key(
        "topics[]",
        "replace",
        "boolean",
        False,
        "True: this topic's built-in terms and hints are dropped, only these count.",
    ),
    Key(
        "alerts[]",
        "name",
        "slug",
        _REQUIRED,
        "Identifier of the alert (also its feed: `feeds/alerts/<name>.atom`).",
    ),
    Key("alerts[]", "query", "string", _REQUIRED, "What to match, in the alert query language."),
    Key(
        "alerts[]",
        "channels",
        "list of strings",
        [],
        "Names of `[channels.<name>]` tables to deliver to.",
    ),
    Key(
        "alerts[]",
        "schedule",
        "schedule",
        "immediate",
        '"immediate", or a cron expression for a digest, e.g. "0 7 * * *" or '
        '"0 7 * * 1-5", read as standard cron reads it (0 or 7 is Sunday, 1 Monday; a '
        'restricted day of month and weekday: either day, "0 7 1 * 1" is the 1st and '
        "every Monday).",
    ),
    Key(
        "alerts[]",
        "timezone",
        "time zone",
        "UTC",
        "IANA time zone of the schedule, the quiet hours and the times a message shows, e.g. "
        '"Asia/Almaty".',
    ),
    Key(
        "alerts[]",
        "max_items",
        "positive integer",
        20,
        "Stories in one message at most (Discord shows 10 a message and Slack 40, so fewer "
        "there); more waiting makes more messages (a digest sends all that was waiting when "
        "it fired).",
    ),
    Key(
        "alerts[]",
        "max_per_hour",
        "integer",
        0,
        "Messages per hour and channel at most (0: no limit); the rest folds into the next.",
    ),
    Key(
        "alerts[]",
        "min_score",
        "score",
        0.0,
        "Above 0.5: only stories whose headline alone matches (Google Alerts' "
        '"only the best results"); 0: any match.',
    ),
    Key(
        "alerts[]",
        "quiet_hours",
        "quiet hours",
        "",
        'Hours without messages, e.g. "22:00-07:00" (in `timezone`); what matches then waits.',
    ),
    Key(
        "alerts[]",
        "on_update",
        "boolean",
        False,
        "Alert again when a matched story cluster changes (a new headline or text).",
    ),
    Key("channels.<name>", "type", '"email" or "webhook"', _REQUIRED, "Kind of channel."),
    Key(
        "channels.<name> (email)",
        "to",
        "list of email addresses",
        _REQUIRED,
        'Recipients, `"desk@example.org"` or `"Desk <desk@example.org>"`.',
    ),
    Key(
        "channels.<name> (email)",
        "from",
        "email address",
        _REQUIRED,
        'Sender address, plain or with a name (`"Alerts <alerts@example.org>"`); its address is '
        "the envelope sender and gives the Message-ID its domain.",
    ),
    Key("channels.<name> (email)", "smtp_host", "host name", "localhost", "SMTP server."),
    Key("channels.<name> (email)", "smtp_port", "port", 587, "SMTP port."),
    Key(
        "channels.<name> (email)",
        "tls",
        '"none", "starttls" or "tls"',
        "starttls",
        "Transport security.",
    ),
    Key("channels.<name> (email)", "username", "string", "", 'SMTP user, usually "${SMTP_USER}".'),
    Key(
        "channels.<name> (email)",
        "password",
        "string",
        "",
        'SMTP password, usually "${SMTP_PASSWORD}".',
    ),
    Key("channels.<name> (webhook)", "url", "URL", _REQUIRED, "Where the signed POST goes."),
    Key(
        "channels.<name> (webhook)",
        "secret",
        "webhook secret",
        "",
        'Standard Webhooks secret, "whsec_" + base64; empty: unsigned.',
    ),
    Key(
        "channels.<name> (webhook)",
        "previous_secret",
        "webhook secret",
        "",
        "The secret being rotated out: bodies are signed with both until it is removed.",
    ),
    Key(
        "channels.<name> (webhook)",
        "proxy",
        "proxy URL",
        "",
        "HTTP proxy the POST goes through, as `polling.proxy` (often the same value); "
        "empty: directly.",
    ),
    Key(
        "channels.<name> (webhook)",
        "format",
        '"standard", "slack" or "discord"',
        "standard",
        "Body: Standard Webhooks JSON, or a Slack or Discord incoming-webhook message.",
    ),
)

_TOP_LEVEL = (
    "storage",
    "publish",
    "server",
    "polling",
    "dedup",
    "sources",
    "sections",
    "topics",
    "alerts",
    "channels",
)


def keys_of(table: str) -> tuple[Key, ...]:
    """The keys declared for one table of `KEYS`."""
    return tuple(key for key in KEYS if key.table == table)


# ---------------------------------------------------------------------------------------------
# Settings: the typed, validated result.


@dataclass(frozen=True, slots=True)
class StorageSettings:
    path: Path
    retention: timedelta


@dataclass(frozen=True, slots=True)
class PublishSettings:
    output_dir: Path
    base_url: str
    title: str
    hub: str


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class PollingSettings:
    interval: timedelta
    min_interval: timedelta
    max_interval: timedelta
    timeout: timedelta
    max_bytes: int
    concurrency: int
    per_host_concurrency: int
    disable_after_score: int
    allow_private_addresses: bool
    user_agent_contact: str
    proxy: str = ""


@dataclass(frozen=True, slots=True)
class DedupSettings:
    threshold: float
    related_threshold: float
    window: timedelta


@dataclass(frozen=True, slots=True)
class TopicSettings:
    """The `[[topics]]` overrides of the built-in taxonomy, and the slugs they replace."""

    overrides: tuple[TopicRule, ...] = ()
    replace: frozenset[str] = frozenset()

    def slugs(self) -> tuple[str, ...]:
        """Every topic slug the taxonomy will have, built-in and configured."""
        return tuple(dict.fromkeys((*topic_slugs(), *(rule.slug for rule in self.overrides))))

    def labels(self) -> dict[str, str]:
        """Every topic's readable label, a configured label winning over the built-in one."""
        labels = {slug: topic_label(slug) for slug in topic_slugs()}
        labels.update({rule.slug: rule.label for rule in self.overrides if rule.label})
        return labels


@dataclass(frozen=True, slots=True)
class SourceSettings:
    url: str
    name: str
    interval: timedelta | None
    region: str
    enabled: bool
    language: str = ""


@dataclass(frozen=True, slots=True)
class SectionSettings:
    slug: str
    title: str
    regions: tuple[str, ...]
    topics: tuple[str, ...]
    sources: tuple[str, ...]
    query: str
    max_entries: int
    min_score: float = 0.0


@dataclass(frozen=True, slots=True)
class AlertSettings:
    name: str
    query: str
    channels: tuple[str, ...]
    schedule: str
    timezone: str = "UTC"
    max_items: int = 20
    max_per_hour: int = 0
    min_score: float = 0.0
    quiet_hours: str = ""
    on_update: bool = False


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole validated configuration."""

    path: Path
    storage: StorageSettings
    publish: PublishSettings
    server: ServerSettings
    polling: PollingSettings
    dedup: DedupSettings
    sources: tuple[SourceSettings, ...]
    sections: tuple[SectionSettings, ...]
    alerts: tuple[AlertSettings, ...]
    channels: Mapping[str, ChannelSettings]
    topics: TopicSettings = field(default_factory=TopicSettings)
    warnings: tuple[str, ...] = ()  # what `syndicator check` prints without failing


# ---------------------------------------------------------------------------------------------
# Loading and validation.


def resolve_config_path(cli_path: str | None, environ: Mapping[str, str]) -> Path:
    """--config, else $SYNDICATOR_CONFIG, else config/syndicator.toml."""
    return Path(cli_path or environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def load_settings(
    path: Path, environ: Mapping[str, str] | None = None, *, allow_unset: bool = False
) -> Settings:
    """Read and validate a config file. Raises `ConfigError` listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(str(path), [_not_found(path)]) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), [f"cannot read: {e}"]) from e
    environ = os.environ if environ is None else environ
    return parse_settings(text, path, environ, allow_unset=allow_unset)


def _not_found(path: Path) -> str:
    """Where a missing config was looked for: a relative path is read from the working
    directory, which under cron is $HOME and under a bare systemd unit `/`, and the default
    path is used only when neither --config nor $SYNDICATOR_CONFIG says otherwise."""
    if path.is_absolute():
        return "file not found"
    hint = f"file not found in the working directory {Path.cwd()}"
    if path == DEFAULT_CONFIG_PATH:
        hint += f" (the default: give --config PATH or set {CONFIG_ENV_VAR})"
    return hint


def parse_settings(
    text: str, path: Path, environ: Mapping[str, str], *, allow_unset: bool = False
) -> Settings:
    """Validate TOML text as a configuration; `path` is only used in messages and Settings.

    `allow_unset`: a value naming an environment variable that is not set is kept as written,
    unchecked, with a warning, instead of being a problem. For commands that edit the file
    rather than run it (`sources import`): the secrets live in the daemon's environment
    (the unit's EnvironmentFile), not in the shell of whoever adds feeds.
    """
    try:
        # A byte order mark, as Windows editors write one, is no TOML but no problem either.
        document = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), [f"not valid TOML: {e}"]) from e
    except ValueError as e:  # int() refuses a number of more digits than Python converts
        limit = sys.get_int_max_str_digits()
        raise ConfigError(str(path), [f"not valid TOML: a number of over {limit} digits"]) from e
    except RecursionError as e:  # tomllib recurses once per nested array or inline table
        raise ConfigError(str(path), ["not valid TOML: arrays or tables nested too deeply"]) from e
    return _Validator(environ, allow_unset).settings(document, path)


# ${NAME}, or $${NAME}: the escape for a literal "${NAME}" (a feed title or URL written by
# `sources import` must reach the config as itself, never as a variable's value).
_ENV_REFERENCE = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Validator:
    """Collects every problem while converting a TOML document into `Settings`."""

    def __init__(self, environ: Mapping[str, str], allow_unset: bool = False) -> None:
        self.environ = environ
        self.allow_unset = allow_unset
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def warning(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: {message}")

    def settings(self, document: dict[str, Any], path: Path) -> Settings:
        self.reject_unknown(document, _TOP_LEVEL, "")
        storage = self.table(document, "storage")
        publish = self.table(document, "publish")
        server = self.table(document, "server")
        polling = self.table(document, "polling")
        dedup = self.table(document, "dedup")
        sources = self.array(document, "sources")
        sections = self.array(document, "sections")
        alerts = self.array(document, "alerts")
        channels = self.channels(document)
        topics = self.topics(document)
        self.check_section_topics(sections, topics)
        self.check_unique(sources, "sources", "url", canonical_url)
        self.check_unique(sections, "sections", "slug", str)
        self.check_reserved_slugs(sections)
        self.check_unique(alerts, "alerts", "name", str)
        self.check_alert_channels(alerts, channels)
        self.check_queries(sections, alerts, topics)
        self.check_section_sources(sections, sources)
        self.check_interval_bounds(polling)
        self.check_window(dedup)
        if self.problems:  # some values are missing: no Settings can be built from them
            raise ConfigError(
                str(path),
                _in_file_order(self.problems, document),
                _in_file_order(self.warnings, document),
            )
        return Settings(
            path=path,
            storage=StorageSettings(path=Path(storage["path"]), retention=storage["retention"]),
            publish=PublishSettings(
                output_dir=Path(publish["output_dir"]),
                base_url=publish["base_url"],
                title=publish["title"],
                hub=publish["hub"],
            ),
            server=ServerSettings(**server),
            polling=PollingSettings(**polling),
            dedup=DedupSettings(**dedup),
            sources=tuple(_source(values) for values in sources),
            sections=tuple(_section(values) for values in sections),
            alerts=tuple(AlertSettings(**values) for values in alerts),
            channels=channels,
            topics=topics,
            warnings=tuple(_in_file_order(self.warnings, document)),
        )

    def table(self, document: Mapping[str, Any], name: str) -> dict[str, Any]:
        raw = document.get(name, {})
        if not isinstance(raw, dict):
            self.problem(name, f"expected a table [{name}], got {_toml_type(raw)}")
            raw = {}
        return self.convert(raw, keys_of(name), name)

    def array(self, document: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
        raw = document.get(name, [])
        if not isinstance(raw, list):
            self.problem(name, f"expected an array of tables [[{name}]], got {_toml_type(raw)}")
            return []
        converted = []
        for index, item in enumerate(raw):
            where = f"{name}[{index}]"
            if not isinstance(item, dict):
                self.problem(where, f"expected a table, got {_toml_type(item)}")
                continue
            converted.append(self.convert(item, keys_of(f"{name}[]"), where))
        return converted

    def topics(self, document: Mapping[str, Any]) -> TopicSettings:
        """`[[topics]]`: types checked here, term syntax and merging by the topic tagger."""
        values = self.array(document, "topics")
        if self.problems:
            return TopicSettings()
        try:
            overrides, replace = parse_overrides({"topics": values}, "topics")
            merge_rules(builtin_rules(), overrides, replace)
        except ConfigError as e:
            self.problems += e.problems
            return TopicSettings()
        return TopicSettings(overrides, replace)

    def check_section_topics(
        self, sections: Sequence[Mapping[str, Any]], topics: TopicSettings
    ) -> None:
        known = topics.slugs()
        for index, section in enumerate(sections):
            if section.get("min_score") and not (section.get("regions") or section.get("topics")):
                self.problem(
                    f"sections[{index}].min_score",
                    "applies to the section's region and topic tags: set regions or topics",
                )
            unknown = [slug for slug in section.get("topics", ()) if slug not in known]
            if unknown:
                self.problem(
                    f"sections[{index}].topics",
                    f"unknown topic(s) {', '.join(_with_hint(slug, known) for slug in unknown)}: "
                    f"expected one of {', '.join(known)}",
                )

    def channels(self, document: Mapping[str, Any]) -> dict[str, ChannelSettings]:
        raw = document.get("channels", {})
        if not isinstance(raw, dict):
            self.problem("channels", f"expected a table of named channels, got {_toml_type(raw)}")
            return {}
        result = {}
        for name, item in raw.items():
            where = f"channels.{_key_name(name)}"
            if not isinstance(item, dict):
                self.problem(where, f"expected a table [{where}], got {_toml_type(item)}")
                continue
            channel_type = item.get("type")
            specific = keys_of(f"channels.<name> ({channel_type})") if channel_type else ()
            values = self.convert(item, keys_of("channels.<name>") + specific, where)
            if "type" in values:
                options = {key: value for key, value in values.items() if key != "type"}
                result[name] = ChannelSettings(name=name, type=values["type"], options=options)
        return result

    def convert(self, raw: Mapping[str, Any], keys: tuple[Key, ...], where: str) -> dict[str, Any]:
        self.reject_unknown(raw, tuple(key.name for key in keys), where)
        values: dict[str, Any] = {}
        for key in keys:
            key_path = f"{where}.{key.name}"
            if key.name not in raw:
                if key.required:
                    self.problem(key_path, f"required key is missing ({key.kind})")
                else:
                    values[key.name] = self.default(key)
                continue
            try:
                values[key.name] = _CONVERTERS[key.kind](self.expand(raw[key.name]))
            except _Unset as e:
                if not self.allow_unset:
                    self.problem(key_path, str(e))
                    continue
                values[key.name] = raw[key.name]
                self.warning(key_path, f"{e} (kept as written, not checked)")
            except _Invalid as e:
                self.problem(key_path, str(e))
                continue
            if key.required and key.kind == "URL" and not values[key.name]:
                self.problem(key_path, "required key is empty (URL)")
        return values

    def default(self, key: Key) -> Any:
        if key.kind == "duration" and key.default:
            return parse_duration(key.default)
        if key.kind == "duration":
            return None
        if isinstance(key.default, list):
            return tuple(key.default)
        return key.default

    def expand(self, value: Any) -> Any:
        """Replace ${NAME} with the environment variable NAME, and $${NAME} with a literal
        ${NAME}, in strings and string lists."""
        if isinstance(value, list):
            return [self.expand(item) for item in value]
        if not isinstance(value, str):
            return value
        references = _ENV_REFERENCE.findall(value)
        missing = [name for escaped, name in references if not escaped and name not in self.environ]
        if missing:
            raise _Unset(f"environment variable(s) not set: {', '.join(missing)}")
        return _ENV_REFERENCE.sub(self.expanded, value)

    def expanded(self, match: re.Match[str]) -> str:
        escaped, name = match.groups()
        return "${" + name + "}" if escaped else self.environ[name]

    def reject_unknown(self, raw: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
        for name in raw:
            if name in known:
                continue
            key_path = f"{where}.{_key_name(name)}" if where else _key_name(name)
            suggestion = difflib.get_close_matches(name, known, n=1)
            hint = f'; did you mean "{suggestion[0]}"?' if suggestion else ""
            self.problem(key_path, f"unknown key (expected one of: {', '.join(known)}){hint}")

    def check_unique(
        self, items: list[dict[str, Any]], table: str, name: str, fold: Callable[[str], str]
    ) -> None:
        seen: dict[str, int] = {}
        for index, values in enumerate(items):
            if name not in values:
                continue
            folded = fold(values[name])
            if folded in seen:
                self.problem(
                    f"{table}[{index}].{name}",
                    f"duplicate {values[name]!r}, already at {table}[{seen[folded]}]",
                )
            else:
                seen[folded] = index

    def check_reserved_slugs(self, sections: Sequence[Mapping[str, Any]]) -> None:
        """No section takes the name of a folder the automatic feeds live in: its archive
        pages would go into theirs (feeds/archive/regions/), and a change of its filter,
        which starts its archive afresh, would delete every country's archive with it."""
        for index, section in enumerate(sections):
            slug = section.get("slug")
            if isinstance(slug, str) and slug in RESERVED_SLUGS:
                self.problem(
                    f"sections[{index}].slug",
                    f"{slug!r} is reserved: feeds/{slug}/ holds {RESERVED_SLUGS[slug]}; "
                    "choose another slug",
                )

    def check_queries(
        self,
        sections: Sequence[Mapping[str, Any]],
        alerts: Sequence[Mapping[str, Any]],
        topics: TopicSettings,
    ) -> None:
        """Every section and alert query parses, naming only regions and topics that exist."""
        vocabulary = query_vocabulary(topics)
        for table, items in (("sections", sections), ("alerts", alerts)):
            for index, item in enumerate(items):
                text = item.get("query")
                if text is None or (table == "sections" and not text.strip()):
                    continue  # a missing alert query is already reported
                try:
                    parse_query(text, vocabulary)
                except QueryError as e:
                    self.problem(f"{table}[{index}].query", str(e))

    def check_section_sources(
        self, sections: Sequence[Mapping[str, Any]], sources: Sequence[Mapping[str, Any]]
    ) -> None:
        """A warning for each `sections[].sources` entry that names no configured source: not
        its URL (exactly) nor its name (in any case, as the section's filter compares them).
        Only a warning: the filter also matches a feed's own title, which the config does
        not know ("Guardian World" for a source configured by its URL alone)."""
        urls = [source["url"] for source in sources if source.get("url")]
        names = [source["name"] for source in sources if source.get("name")]
        keys = {source_key(name) for name in names}
        for index, section in enumerate(sections):
            for entry in section.get("sources", ()):
                if entry in urls or (source_key(entry) and source_key(entry) in keys):
                    continue
                self.warning(f"sections[{index}].sources", _unknown_source(entry, names, urls))

    def check_alert_channels(
        self, alerts: list[dict[str, Any]], channels: Mapping[str, ChannelSettings]
    ) -> None:
        for index, values in enumerate(alerts):
            for name in values.get("channels", ()):
                if name not in channels:
                    defined = ", ".join(map(_key_name, sorted(channels))) or "none"
                    self.problem(
                        f"alerts[{index}].channels",
                        f"no channel named {name!r} (defined: {defined})",
                    )

    def check_interval_bounds(self, polling: Mapping[str, Any]) -> None:
        low, high = polling.get("min_interval"), polling.get("max_interval")
        if low is not None and high is not None and low > high:
            self.problem("polling.min_interval", "must not be greater than polling.max_interval")

    def check_window(self, dedup: Mapping[str, Any]) -> None:
        window = dedup.get("window")
        if window is not None and window <= timedelta(0):
            self.problem("dedup.window", "must be longer than 0s")


_PATH_SEGMENT = re.compile(r'\.?(?:([A-Za-z0-9_-]+)|"([^"\\]*)")|\[(\d+)\]')


def _in_file_order(problems: list[str], document: Mapping[str, Any]) -> list[str]:
    """The problems sorted by where their key path is in the file (tomllib keeps the file's
    order of keys), so they read top to bottom; a missing key sorts at the end of its table,
    and problems of one place keep the order they were found in."""
    return sorted(problems, key=lambda problem: _file_position(problem, document))


def _file_position(problem: str, document: Mapping[str, Any]) -> list[int]:
    position: list[int] = []
    node: Any = document
    at = 0
    while (match := _PATH_SEGMENT.match(problem, at)) is not None:
        at = match.end()
        name, quoted, index = match.groups()
        if index is not None and isinstance(node, list):
            position.append(int(index))
            node = node[int(index)] if int(index) < len(node) else None
        elif index is None and isinstance(node, dict):
            keys = list(node)
            key = name if name is not None else quoted
            position.append(keys.index(key) if key in keys else len(keys))
            node = node.get(key)
        else:
            break
    return position


def _unknown_source(entry: str, names: Sequence[str], urls: Sequence[str]) -> str:
    """Why a section's source entry may be a mistake, with the closest configured one."""
    if "://" in entry:
        close = closest(entry, urls)
        hint = f" (did you mean {close!r}?)" if close else ""
        return f"{entry!r} is no configured source's url{hint}; a url must match exactly"
    close = closest(entry, names)
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"{entry!r} names no configured source{hint}; it can still match a feed's own title"


def _source(values: Mapping[str, Any]) -> SourceSettings:
    return SourceSettings(
        url=values["url"],
        name=values["name"],
        interval=values["interval"],
        region=values["region"],
        enabled=values["enabled"],
        language=values["language"],
    )


def _section(values: Mapping[str, Any]) -> SectionSettings:
    return SectionSettings(
        slug=values["slug"],
        title=values["title"] or values["slug"],
        regions=values["regions"],
        topics=values["topics"],
        sources=values["sources"],
        query=values["query"],
        max_entries=values["max_entries"],
        min_score=values["min_score"],
    )


def query_vocabulary(topics: TopicSettings) -> Vocabulary:
    """The regions (ISO codes, M49 sub-regions and continents) and topics a query may name."""
    return Vocabulary.of(regions=known_regions(), topics=topics.slugs())


def query_warnings(settings: Settings) -> list[str]:
    """What `syndicator check` points out without failing: a lower-case "or" or "and"
    between two terms of a section or alert query, which the language reads as a word to
    search for ("trump or biden" needs the word "or"), not as an operator; a '*' inside
    quotes or inside a word, which is no prefix and is dropped."""
    queries = [
        *((f"sections[{index}]", section.query) for index, section in enumerate(settings.sections)),
        *((f"alerts[{index}]", alert.query) for index, alert in enumerate(settings.alerts)),
    ]
    warnings = []
    for key, query in queries:
        for word in lowercase_operators(query):
            warnings.append(
                f"{key}.query: {word!r} in lower case is a word to search for, "
                f"not an operator (did you mean {word.upper()}?)"
            )
        for term in ignored_wildcards(query):
            warnings.append(
                f"{key}.query: the '*' in {term} is ignored (a prefix* ends a word outside "
                "quotes): it looks for the words without it"
            )
    return warnings


def source_url_problem(url: str) -> str | None:
    """Why `url` cannot be a `[[sources]]` url, or None when it can."""
    problem = _problem_of(_to_url, url)
    return problem if problem is not None or url.strip() else "empty URL"


def source_language_problem(tag: str) -> str | None:
    """Why `tag` cannot be a `[[sources]]` language, or None when it can."""
    return _problem_of(_to_language, tag)


def source_region_problem(region: str) -> str | None:
    """Why `region` cannot be a `[[sources]]` region prior, or None when it can."""
    return _problem_of(_to_region, region)


def _problem_of(convert: Callable[[Any], Any], value: str) -> str | None:
    try:
        convert(value)
    except _Invalid as e:
        return str(e)
    return None


def append_to_config(
    path: Path, extra_toml: str, environ: Mapping[str, str], *, allow_unset: bool = False
) -> Settings:
    """Append TOML tables to the config file, only if the result is still a valid config.

    The file is replaced atomically (temp file + rename), so a running daemon reloading on
    SIGHUP never reads half of it. Comments, layout and line endings of the existing text are
    kept (the new lines get the file's: CRLF in a file edited on Windows), and so
    are its mode and owner (`sudo syndicator sources import` must leave the daemon's user
    able to read it) and a symbolic link to it (the file it points to is the one rewritten).
    Raises `ConfigError` (and leaves the file untouched) when the result would be invalid.
    """
    with path.open(encoding="utf-8", newline="") as handle:  # as written: CRLF stays CRLF
        text = handle.read()
    newline = "\r\n" if "\r\n" in text else "\n"
    combined = text + ("" if text.endswith("\n") else newline) + extra_toml.replace("\n", newline)
    settings = parse_settings(combined, path, environ, allow_unset=allow_unset)
    target = path.resolve()
    status = target.stat()
    write_atomically(
        target,
        combined.encode("utf-8"),
        mode=status.st_mode & 0o777,
        owner=(status.st_uid, status.st_gid),
    )
    return settings


def reference_table() -> str:
    """The configuration reference as a Markdown table (the README embeds it verbatim)."""
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key in KEYS:
        table, _, kind = key.table.partition(" (")
        scope = f" ({kind.rstrip(')')} channels)" if kind else ""
        rows.append(
            f"| `{table}.{key.name}` | {key.kind} | {_shown_default(key)} | {key.help}{scope} |"
        )
    return "\n".join(rows) + "\n"


def _shown_default(key: Key) -> str:
    if key.required:
        return "required"
    if key.default == "":
        return "(empty)"
    if isinstance(key.default, bool):
        return str(key.default).lower()
    if isinstance(key.default, list):
        return "[]"
    if isinstance(key.default, dict):
        return "{}"
    if isinstance(key.default, int):
        return f"{key.default:_}" if key.default > 9999 else str(key.default)
    if isinstance(key.default, float):  # a TOML number, as it is written: "0.45" is refused
        return str(key.default)
    return f'"{key.default}"'
