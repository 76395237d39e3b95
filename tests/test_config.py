"""Tests for syndicator.config: loading, typed values, durations, and every problem reported."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from syndicator.config import (
    KEYS,
    Settings,
    load_settings,
    parse_duration,
    parse_settings,
    resolve_config_path,
)
from syndicator.errors import ConfigError
from syndicator.pipeline import cluster_rules, plan_from_settings

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = ROOT / "config" / "syndicator.toml"
README = ROOT / "README.md"
CONFIG_PATH = Path("test.toml")

# The example configuration of DESIGN.md ("Public interface"), verbatim.
DESIGN_EXAMPLE = """
[storage]
path = "var/syndicator.db"

[publish]
output_dir = "var/feeds"          # static files, servable by any web server
base_url = "http://localhost:8080/"

[server]
host = "127.0.0.1"
port = 8080

[polling]
interval = "15m"                  # default; per source override; adaptive within bounds
min_interval = "5m"
max_interval = "24h"
timeout = "20s"
max_bytes = 10_000_000
allow_private_addresses = false   # SSRF guard; tests and the demo set it true

[[sources]]
url = "https://example.org/world/rss.xml"
name = "Example World"

[[sections]]
slug = "central-asia"
title = "Central Asia"
regions = ["KZ", "KG", "TJ", "TM", "UZ"]   # ISO 3166-1 alpha-2, or M49 region names
topics = []
query = ""                                  # same language as alerts
max_entries = 100

[[alerts]]
name = "kz-unrest"
query = 'kazakhstan AND (protest OR unrest OR "state of emergency")'
channels = ["desk", "hook"]
schedule = "immediate"            # or a cron expression for a digest, e.g. "0 7 * * *"

[channels.desk]
type = "email"
to = ["desk@example.org"]
from = "syndicator@example.org"
smtp_host = "localhost"
smtp_port = 587
tls = "starttls"                  # "none", "starttls" or "tls"
username = "${SMTP_USER}"         # optional
password = "${SMTP_PASSWORD}"     # optional

[channels.hook]
type = "webhook"
url = "https://hooks.example.org/syndicator"
secret = "${SYNDICATOR_WEBHOOK_SECRET}"   # Standard Webhooks secret, "whsec_" + base64
"""

DESIGN_ENVIRON = {
    "SMTP_USER": "mailer",
    "SMTP_PASSWORD": "s3cret",
    "SYNDICATOR_WEBHOOK_SECRET": "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=",
}


def _parse(text: str, environ: dict[str, str] | None = None) -> Settings:
    return parse_settings(text, CONFIG_PATH, environ or {})


def _problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _parse(text, environ)
    return caught.value.problems


# ---------------------------------------------------------------------------------------------
# Valid configurations.


def test_empty_config_gives_the_defaults() -> None:
    settings = _parse("")

    assert settings.path == CONFIG_PATH
    assert settings.storage.path == Path("var/syndicator.db")
    assert settings.publish.base_url == "http://localhost:8080/"
    assert settings.server.port == 8080
    assert settings.polling.interval == timedelta(minutes=15)
    assert settings.polling.max_bytes == 10_000_000
    assert settings.polling.allow_private_addresses is False
    assert settings.sources == ()
    assert settings.sections == ()
    assert settings.alerts == ()
    assert dict(settings.channels) == {}
    assert settings.dedup.threshold == 0.45
    assert settings.dedup.window == timedelta(hours=72)


def test_dedup_settings_become_the_stores_cluster_rules() -> None:
    settings = _parse('[dedup]\nthreshold = 0.6\nrelated_threshold = 1\nwindow = "24h"\n')
    rules = cluster_rules(settings)
    assert (rules.copy_threshold, rules.related_threshold) == (0.6, 1.0)
    assert rules.window == timedelta(hours=24)


def test_minimal_config_loads_with_typed_values() -> None:
    text = """
    [publish]
    base_url = "https://news.example.org/feeds"

    [polling]
    interval = "1h30m"

    [[sources]]
    url = "https://example.org/rss.xml"
    region = "kz"
    interval = "90s"

    [[sections]]
    slug = "steppe"
    regions = ["kz", "central asia"]
    """
    settings = _parse(text)

    assert settings.publish.base_url == "https://news.example.org/feeds/"
    assert settings.polling.interval == timedelta(hours=1, minutes=30)
    (source,) = settings.sources
    assert source.url == "https://example.org/rss.xml"
    assert source.name == ""
    assert source.region == "KZ"
    assert source.interval == timedelta(seconds=90)
    assert source.enabled is True
    (section,) = settings.sections
    assert section.slug == "steppe"
    assert section.title == "steppe"  # the slug when no title is given
    assert section.regions == ("KZ", "Central Asia")
    assert section.max_entries == 100


def test_source_without_interval_has_none() -> None:
    settings = _parse('[[sources]]\nurl = "https://example.org/rss.xml"\n')

    assert settings.sources[0].interval is None


def test_design_example_config_loads() -> None:
    settings = _parse(DESIGN_EXAMPLE, DESIGN_ENVIRON)

    assert settings.storage.path == Path("var/syndicator.db")
    assert settings.publish.output_dir == Path("var/feeds")
    assert settings.publish.base_url == "http://localhost:8080/"
    assert settings.publish.base_url.endswith("/")
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8080

    polling = settings.polling
    assert polling.interval == timedelta(minutes=15)
    assert polling.min_interval == timedelta(minutes=5)
    assert polling.max_interval == timedelta(hours=24)
    assert polling.timeout == timedelta(seconds=20)
    assert polling.max_bytes == 10_000_000
    assert polling.allow_private_addresses is False

    (source,) = settings.sources
    assert source.url == "https://example.org/world/rss.xml"
    assert source.name == "Example World"

    (section,) = settings.sections
    assert section.slug == "central-asia"
    assert section.title == "Central Asia"
    assert section.regions == ("KZ", "KG", "TJ", "TM", "UZ")
    assert section.topics == ()
    assert section.query == ""
    assert section.max_entries == 100

    (alert,) = settings.alerts
    assert alert.name == "kz-unrest"
    assert alert.query == 'kazakhstan AND (protest OR unrest OR "state of emergency")'
    assert alert.channels == ("desk", "hook")
    assert alert.schedule == "immediate"

    assert set(settings.channels) == {"desk", "hook"}
    desk = settings.channels["desk"]
    assert desk.type == "email"
    assert desk.options["to"] == ("desk@example.org",)
    assert desk.options["from"] == "syndicator@example.org"
    assert desk.options["smtp_port"] == 587
    assert desk.options["tls"] == "starttls"
    assert desk.options["username"] == "mailer"
    assert desk.options["password"] == "s3cret"
    hook = settings.channels["hook"]
    assert hook.type == "webhook"
    assert hook.options["url"] == "https://hooks.example.org/syndicator"
    assert hook.options["secret"] == DESIGN_ENVIRON["SYNDICATOR_WEBHOOK_SECRET"]


def test_design_example_without_environment_names_the_variables() -> None:
    problems = _problems(DESIGN_EXAMPLE, {})

    assert len(problems) == 3
    assert any(p.startswith("channels.desk.username:") and "SMTP_USER" in p for p in problems)
    assert any(p.startswith("channels.desk.password:") and "SMTP_PASSWORD" in p for p in problems)
    assert any(
        p.startswith("channels.hook.secret:") and "SYNDICATOR_WEBHOOK_SECRET" in p for p in problems
    )


def test_a_doubled_dollar_is_a_literal_reference() -> None:
    """`$${NAME}` is "${NAME}" as written (how `sources import` keeps an OPML's text literal);
    an unset NAME is then no problem."""
    text = (
        '[[sources]]\nurl = "https://a.example/rss?k=$${KEY}&t=${TOKEN}"\n'
        'name = "$$${KEY} and $${UNSET}"\n'
    )
    [source] = parse_settings(text, CONFIG_PATH, {"KEY": "secret", "TOKEN": "t0k"}).sources
    assert source.url == "https://a.example/rss?k=${KEY}&t=t0k"
    assert source.name == "$${KEY} and ${UNSET}"


def test_shipped_config_loads_without_problems() -> None:
    settings = load_settings(SHIPPED_CONFIG, environ={})

    assert 20 <= len(settings.sources) <= 30
    assert len({source.url for source in settings.sources}) == len(settings.sources)


# ---------------------------------------------------------------------------------------------
# Durations.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["15", "m", "abc", "1x", ""])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


# ---------------------------------------------------------------------------------------------
# Every problem at once.

BROKEN_CONFIG = """
colour = "blue"

[server]
port = "eighty"

[polling]
intervall = "10m"

[[sources]]
url = "https://example.org/world/rss.xml"
name = "World"

[[sources]]
url = "not a url"

[[sources]]
url = "https://EXAMPLE.org/world/rss.xml?utm_source=feedly"

[[sources]]
url = "ftp://example.org/feed.xml"

[[sources]]
url = "https://example.net/rss"
region = "XX"

[[sources]]
name = "Nameless"

[[sections]]
slug = "central-asia"
regions = ["KZ", "XX"]

[[sections]]
slug = "central-asia"

[[alerts]]
name = "kz-unrest"
query = "kazakhstan"
channels = ["desk", "pager"]

[channels.desk]
type = "email"
to = ["desk@example.org"]
from = "syndicator@example.org"
password = "${NOT_SET}"
"""

# (key path prefix, a fragment of the message) for each problem planted above.
BROKEN_EXPECTED = [
    ("colour:", "unknown key"),
    ("server.port:", "expected an integer"),
    ("polling.intervall:", 'did you mean "interval"'),
    ("sources[1].url:", "not a url"),
    ("sources[2].url:", "duplicate"),
    ("sources[3].url:", "ftp://example.org/feed.xml"),
    ("sources[4].region:", "'XX'"),
    ("sources[5].url:", "required key is missing"),
    ("sections[0].regions:", "'XX'"),
    ("sections[1].slug:", "duplicate"),
    ("alerts[0].channels:", "'pager'"),
    ("channels.desk.password:", "NOT_SET"),
]


def test_broken_config_reports_every_problem_with_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(BROKEN_CONFIG)
    problems = caught.value.problems

    for prefix, fragment in BROKEN_EXPECTED:
        matching = [p for p in problems if p.startswith(prefix)]
        assert len(matching) == 1, f"expected one problem for {prefix!r} in {problems}"
        assert fragment in matching[0]
    assert len(problems) == len(BROKEN_EXPECTED), problems
    assert str(CONFIG_PATH) in str(caught.value)


# Each planted problem on its own must also come out as a ConfigError (not another exception).
SINGLE_PROBLEMS = {
    "unknown-top-level-key": ('colour = "blue"\n', "colour:"),
    "unknown-polling-key": ('[polling]\nintervall = "10m"\n', "polling.intervall:"),
    "wrong-type-port": ('[server]\nport = "eighty"\n', "server.port:"),
    "bad-duration": ('[polling]\ninterval = "15"\n', "polling.interval:"),
    "bad-base-url": ('[publish]\nbase_url = "not a url"\n', "publish.base_url:"),
    "duplicate-source-url": (
        '[[sources]]\nurl = "https://example.org/a"\n'
        '[[sources]]\nurl = "https://Example.ORG/a?utm_medium=rss"\n',
        "sources[1].url:",
    ),
    "duplicate-section-slug": (
        '[[sections]]\nslug = "world"\n[[sections]]\nslug = "world"\n',
        "sections[1].slug:",
    ),
    # A section called "regions" archived into feeds/archive/regions/, the countries' archive
    # folders: a change of its filter deleted them all.
    "reserved-section-slug": ('[[sections]]\nslug = "regions"\n', "sections[0].slug:"),
    "reserved-section-slug-alerts": ('[[sections]]\nslug = "alerts"\n', "sections[0].slug:"),
    "malformed-source-url": ('[[sources]]\nurl = "not a url"\n', "sources[0].url:"),
    "ftp-source-url": ('[[sources]]\nurl = "ftp://example.org/feed.xml"\n', "sources[0].url:"),
    "unknown-source-region": (
        '[[sources]]\nurl = "https://example.org/a"\nregion = "XX"\n',
        "sources[0].region:",
    ),
    "unknown-section-region": (
        '[[sections]]\nslug = "world"\nregions = ["XX"]\n',
        "sections[0].regions:",
    ),
    "undefined-alert-channel": (
        '[[alerts]]\nname = "a"\nquery = "q"\nchannels = ["pager"]\n',
        "alerts[0].channels:",
    ),
    "missing-env-in-channel": (
        '[channels.hook]\ntype = "webhook"\nurl = "https://h.example.org/"\n'
        'secret = "${NOT_SET}"\n',
        "channels.hook.secret:",
    ),
    "missing-env-in-source": (
        '[[sources]]\nurl = "https://example.org/a"\nname = "${NOT_SET}"\n',
        "sources[0].name:",
    ),
    "source-without-url": ('[[sources]]\nname = "Nameless"\n', "sources[0].url:"),
    "dedup-threshold-above-one": ("[dedup]\nthreshold = 1.5\n", "dedup.threshold:"),
    "dedup-threshold-zero": ("[dedup]\nrelated_threshold = 0\n", "dedup.related_threshold:"),
    "dedup-threshold-text": ('[dedup]\nthreshold = "high"\n', "dedup.threshold:"),
    "dedup-window-zero": ('[dedup]\nwindow = "0s"\n', "dedup.window:"),
    "alert-without-query": ('[[alerts]]\nname = "a"\n', "alerts[0].query:"),
    "section-without-slug": ('[[sections]]\ntitle = "World"\n', "sections[0].slug:"),
    "source-language-not-a-tag": (
        '[[sources]]\nurl = "https://a.example/rss"\nlanguage = "français!"\n',
        "sources[0].language:",
    ),
    "email-to-nobody": (
        '[channels.desk]\ntype = "email"\nto = []\nfrom = "s@example.org"\n',
        "channels.desk.to:",
    ),
    "email-to-a-header": (
        '[channels.desk]\ntype = "email"\nto = ["a@b.org\\r\\nBcc: c@d.org"]\n'
        'from = "s@example.org"\n',
        "channels.desk.to:",
    ),
    "email-from-empty": (
        '[channels.desk]\ntype = "email"\nto = ["a@b.org"]\nfrom = ""\n',
        "channels.desk.from: expected an email address",
    ),
    "email-from-not-an-address": (
        '[channels.desk]\ntype = "email"\nto = ["a@b.org"]\nfrom = "not an address"\n',
        "channels.desk.from: expected an email address",
    ),
    "email-from-no-domain": (
        '[channels.desk]\ntype = "email"\nto = ["a@b.org"]\nfrom = "syndicator@"\n',
        "channels.desk.from: expected an email address",
    ),
    "email-to-no-local-part": (
        '[channels.desk]\ntype = "email"\nto = ["@b.org"]\nfrom = "s@example.org"\n',
        "channels.desk.to: expected an email address",
    ),
    "email-from-display-name-without-address": (
        '[channels.desk]\ntype = "email"\nto = ["a@b.org"]\nfrom = "Alerts <>"\n',
        "channels.desk.from: expected an email address",
    ),
    "email-smtp-host-empty": (
        '[channels.desk]\ntype = "email"\nto = ["a@b.org"]\nfrom = "s@example.org"\n'
        'smtp_host = ""\n',
        "channels.desk.smtp_host: expected a host name",
    ),
}


@pytest.mark.parametrize(
    ("text", "prefix"), list(SINGLE_PROBLEMS.values()), ids=list(SINGLE_PROBLEMS)
)
def test_single_problem_is_a_config_error(text: str, prefix: str) -> None:
    problems = _problems(text)

    assert len(problems) == 1, problems
    assert problems[0].startswith(prefix), problems


def test_not_toml_gives_one_clear_problem() -> None:
    problems = _problems("this is [not = toml\n")

    assert len(problems) == 1
    assert problems[0].startswith("not valid TOML")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    with pytest.raises(ConfigError, match="file not found") as caught:
        load_settings(missing, environ={})
    assert str(missing) in str(caught.value)


def test_load_settings_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "syndicator.toml"
    path.write_text('[[sources]]\nurl = "https://example.org/a"\n', encoding="utf-8")

    settings = load_settings(path, environ={})

    assert settings.path == path
    assert settings.sources[0].url == "https://example.org/a"


# ---------------------------------------------------------------------------------------------
# Where the config file is.


def test_resolve_config_path_prefers_the_command_line() -> None:
    environ = {"SYNDICATOR_CONFIG": "from-env.toml"}

    assert resolve_config_path("from-cli.toml", environ) == Path("from-cli.toml")


def test_resolve_config_path_falls_back_to_the_environment() -> None:
    environ = {"SYNDICATOR_CONFIG": "from-env.toml"}

    assert resolve_config_path(None, environ) == Path("from-env.toml")


def test_resolve_config_path_defaults_to_config_dir() -> None:
    assert resolve_config_path(None, {}) == Path("config/syndicator.toml")


# ---------------------------------------------------------------------------------------------
# Documentation.


_CHANNEL_KIND = re.compile(r" \((email|webhook)\)$")


def _documented_path(table: str, name: str) -> str:
    """`channels.<name> (email)` + `to` -> `channels.<name>.to`."""
    return f"{_CHANNEL_KIND.sub('', table)}.{name}"


def test_documented_path_strips_channel_kind() -> None:
    assert _documented_path("channels.<name> (email)", "to") == "channels.<name>.to"
    assert _documented_path("channels.<name> (webhook)", "url") == "channels.<name>.url"
    assert _documented_path("sources[]", "url") == "sources[].url"


def test_every_key_is_documented_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")

    missing = [
        _documented_path(key.table, key.name)
        for key in KEYS
        if _documented_path(key.table, key.name) not in readme
    ]

    assert missing == [], f"README.md does not document: {', '.join(missing)}"


def test_a_proxy_is_read_from_the_environment_and_its_password_is_never_shown() -> None:
    settings = _parse(
        '[polling]\nproxy = "${HTTPS_PROXY}"\n', {"HTTPS_PROXY": "http://desk:s3cret@10.0.0.5:3128"}
    )
    assert settings.polling.proxy == "http://desk:s3cret@10.0.0.5:3128"
    assert plan_from_settings(settings).limits.proxy == settings.polling.proxy
    assert _parse("").polling.proxy == ""
    [problem] = _problems('[polling]\nproxy = "socks5://desk:s3cret@10.0.0.5:1080"\n')
    assert "expected an http:// or https:// proxy URL" in problem
    assert "desk:***@10.0.0.5" in problem
    assert "s3cret" not in problem
    hook = '[channels.hook]\ntype = "webhook"\nurl = "https://hooks.example/x"\nproxy = "{}"\n'
    channel = _parse(hook.format("http://desk:s3cret@10.0.0.5:3128")).channels["hook"]
    assert channel.options["proxy"] == "http://desk:s3cret@10.0.0.5:3128"
    [problem] = _problems(hook.format("ftp://desk:s3cret@10.0.0.5"))
    assert problem.startswith("channels.hook.proxy: ")
    assert "s3cret" not in problem


@pytest.mark.parametrize("number", ["20", "0", "1.5"])
def test_a_duration_given_as_a_number_asks_for_a_unit(number: str) -> None:
    assert _problems(f"[polling]\ntimeout = {number}\n") == [
        f'polling.timeout: expected a duration such as "20s" or "5m", got the number {number}'
    ]


def test_the_section_query_is_documented_as_the_query_language() -> None:
    (query,) = [key for key in KEYS if key.path == "sections[].query"]
    assert "alert query language" in query.help
    assert "replaces" not in query.help  # it did land: no "when it lands" any more


def test_uk_is_accepted_as_the_united_kingdom_wherever_a_region_is() -> None:
    settings = _parse(
        '[[sources]]\nurl = "https://example.org/a"\nregion = "uk"\n'
        '[[sections]]\nslug = "britain"\nregions = ["UK", "Europe"]\nquery = "region:UK"\n'
    )
    assert settings.sources[0].region == "GB"
    assert settings.sections[0].regions == ("GB", "Europe")


def test_unknown_regions_and_topics_get_a_did_you_mean() -> None:
    problems = _problems(
        '[[sources]]\nurl = "https://example.org/a"\nregion = "Centrl Asia"\n'
        '[[sections]]\nslug = "s"\nregions = ["KZ", "easten europe", "XX"]\n'
        'topics = ["politcs", "nonsense-topic"]\n'
    )
    assert problems[0].startswith(
        "sources[0].region: unknown region 'Centrl Asia' (did you mean 'Central Asia'?): "
    )
    assert problems[1].startswith(
        "sections[0].regions: unknown region(s) 'easten europe' (did you mean "
        "'Eastern Europe'?), 'XX': "
    )
    assert problems[2].startswith(
        "sections[0].topics: unknown topic(s) 'politcs' (did you mean 'politics'?), "
        "'nonsense-topic': expected one of "
    )


def test_a_bad_schedule_and_a_bad_time_zone_are_both_reported() -> None:
    problems = _problems(
        '[[alerts]]\nname = "a"\nquery = "q"\nschedule = "0 7 * * 8"\ntimezone = "Asia/Almati"\n'
    )
    assert problems == [
        "alerts[0].schedule: '0 7 * * 8': day of week 8 is out of range 0-7 (0 and 7 are Sunday)",
        "alerts[0].timezone: unknown time zone 'Asia/Almati' (did you mean 'Asia/Almaty'?): "
        'expected an IANA name like "Asia/Almaty"',
    ]


@pytest.mark.parametrize("schedule", ["0 7 * * 7", "0 7 1 * 1", "30 7 * * mon-fri", "0 */6 * * *"])
def test_cron_schedules_that_cron_accepts_are_accepted(schedule: str) -> None:
    settings = _parse(f'[[alerts]]\nname = "a"\nquery = "q"\nschedule = "{schedule}"\n')
    assert settings.alerts[0].schedule == schedule


SECTION_SOURCES = """
[[sources]]
url = "https://example.org/a.xml"
name = "QA Wire"

[[sources]]
url = "https://example.org/b.xml"
name = "Guardian World"

[[sources]]
url = "https://example.org/c.xml"

[[sections]]
slug = "s"
sources = ["qa wire", "Guardain World", "https://example.org/c.xml", "https://example.org/d.xml"]
"""


def test_a_section_source_naming_no_configured_source_is_a_warning() -> None:
    settings = _parse(SECTION_SOURCES)  # valid: a name can still be a feed's own title
    assert settings.warnings == (
        "sections[0].sources: 'Guardain World' names no configured source (did you mean "
        "'Guardian World'?); it can still match a feed's own title",
        "sections[0].sources: 'https://example.org/d.xml' is no configured source's url "
        "(did you mean 'https://example.org/c.xml'?); a url must match exactly",
    )


def test_section_source_warnings_come_with_the_problems_too() -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(SECTION_SOURCES + "[server]\nport = -1\n")
    assert len(caught.value.warnings) == 2


def test_problems_are_listed_in_file_order() -> None:
    problems = _problems(
        '[[alerts]]\nname = "a"\nquery = "q"\ntimezone = "Nowhere/City"\nschedule = "bad"\n'
        '[[sections]]\nslug = "s"\ntopics = ["politcs"]\nregions = ["XX"]\n'
        "[polling]\ntimeout = 20\n"
        '[channels.b]\ntype = "email"\nto = ["a@b.org"]\nfrom = ""\n'
        '[channels.a]\ntype = "email"\nto = []\nfrom = "s@example.org"\n'
    )
    assert [problem.split(":")[0] for problem in problems] == [
        "alerts[0].timezone",
        "alerts[0].schedule",
        "sections[0].topics",
        "sections[0].regions",
        "polling.timeout",
        "channels.b.from",
        "channels.a.to",
    ]


def test_addresses_may_carry_a_display_name() -> None:
    """ "Syndicator Alerts <alerts@news.example.org>" is how a sender is usually written; the
    mail code takes the address part for the envelope and the Message-ID."""
    text = (
        '[channels.desk]\ntype = "email"\nto = ["Desk <desk@example.org>", "b@example.org"]\n'
        'from = "Syndicator Alerts <alerts@news.example.org>"\n'
    )
    settings = parse_settings(text, Path("t.toml"), {})
    desk = settings.channels["desk"].options
    assert desk["from"] == "Syndicator Alerts <alerts@news.example.org>"
    assert desk["to"] == ("Desk <desk@example.org>", "b@example.org")


def test_an_empty_listen_address_or_path_is_a_problem_not_a_default() -> None:
    """`host = "${BIND_HOST}"` with the variable set to nothing passed, and the HTTP server
    then listened on every interface, IPv4 and IPv6 (`/metrics` and all, on a machine meant
    to serve loopback only); an empty `storage.path` or `publish.output_dir` is "." to
    pathlib, the working directory itself, which under systemd is the state directory."""
    text = (
        '[storage]\npath = "${DATA}"\n[publish]\noutput_dir = " "\n'
        '[server]\nhost = "${BIND_HOST}"\n'
    )
    problems = _problems(text, {"BIND_HOST": "", "DATA": ""})
    assert [problem.split(":")[0] for problem in problems] == [
        "storage.path",
        "publish.output_dir",
        "server.host",
    ]
    assert 'write "0.0.0.0" or "::" for that' in problems[2]
    assert _parse('[server]\nhost = "0.0.0.0"\n').server.host == "0.0.0.0"
    assert _parse('[server]\nhost = "::1"\n').server.host == "::1"
    assert _parse('[server]\nhost = "localhost"\n').server.host == "localhost"
