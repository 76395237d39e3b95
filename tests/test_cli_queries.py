"""The query commands on the command line (`search`, `alerts test`, `alerts retry --alert`)
and the other user-facing edges QA found: `--limit`, queries starting with '-', counts, JSON
output in any locale, `tag --file` and `--language`, and `check`'s query warnings. Each runs
the real CLI in a subprocess over a real SQLite store written through the writer's path."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from syndicator.cli import build_parser
from syndicator.models import Tag, TagKind
from syndicator.storage import QUERY_SCAN_LIMIT
from tests.conftest import FeedServer, Route, rss, syndicator, write_config
from tests.test_alerts import KZ_ALERT, NOW, _hook, _settings, _store, _story

ALERTS = KZ_ALERT + '\n[[alerts]]\nname = "oil-watch"\nquery = "oil"\nchannels = ["hook"]\n'


@pytest.fixture
def config(tmp_path: Path) -> str:
    """A config with two alerts and a store holding six Kazakhstan stories (region KZ) and
    one in Russian; its path."""
    settings = _settings(tmp_path, ALERTS, _hook("http://127.0.0.1:9/hook"))
    store = _store(settings)
    stories = [
        _story(f"s{n}", f"Kazakhstan protest {n} word{n}", text=f"Protest {n} in Kazakhstan.")
        for n in range(6)
    ]
    stories.append(_story("ru", "Протесты в Казахстане", text="Протесты в Алматы и Астане."))
    store.store_stories(stories, NOW)
    store.close()
    return str(settings.path)


def _run(
    config: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", config, *args],
        cwd=Path(config).parent,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=60,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )


def test_search_says_how_many_match_and_how_many_it_shows(config: str) -> None:
    some = _run(config, "search", "kazakhstan", "protest", "--limit", "2")
    assert some.returncode == 0, some.stderr
    assert some.stdout.count("cluster:") == 2
    assert some.stdout.rstrip().endswith("6 stored story clusters match, showing the newest 2")
    every = _run(config, "search", "kazakhstan", "protest")
    assert every.stdout.rstrip().endswith("6 stored story clusters match")


def test_alerts_test_says_how_many_match_not_how_many_it_shows(config: str) -> None:
    result = _run(config, "alerts", "test", "kz-unrest", "--limit", "2")
    assert result.returncode == 0, result.stderr
    assert "would send to: hook; 6 stored story clusters match, showing the newest 2" in (
        result.stdout
    )
    assert "kz-unrest: 2 new stories" in result.stdout
    assert "feeds/alerts/kz-unrest.atom" in result.stdout  # an alert has a feed
    assert 'the alert "kz-unrest" delivers to this address' in result.stdout


def test_alerts_test_of_a_query_shows_no_alert_footer_or_feed(config: str) -> None:
    result = _run(config, "alerts", "test", "protest AND word3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("query: protest AND word3\n1 stored story cluster matches\n")
    assert "Kazakhstan protest 3 word3" in result.stdout
    assert "feeds/alerts/" not in result.stdout
    assert "delivers to this address" not in result.stdout
    assert result.stderr == ""  # not name-like: no note


@pytest.mark.parametrize(
    "args",
    [
        ("search", "kazakhstan", "--limit", "0"),
        ("search", "--limit", "-3", "kazakhstan"),
        ("alerts", "test", "kz-unrest", "--limit", "0"),
    ],
)
def test_a_limit_below_one_is_a_usage_error(config: str, args: tuple[str, ...]) -> None:
    result = _run(config, *args)
    assert result.returncode == 2  # DESIGN.md: 2 usage
    assert "argument --limit: " in result.stderr
    assert "is not a number of at least 1" in result.stderr
    assert result.stdout == ""


def test_a_name_like_target_that_is_no_alert_gets_a_note(config: str) -> None:
    result = _run(config, "alerts", "test", "kz-unrst")
    assert result.returncode == 0
    assert result.stderr.strip() == (
        "note: no alert named 'kz-unrst' (defined: kz-unrest, oil-watch); read as a query"
    )
    assert result.stdout.startswith("query: kz-unrst\n")


def test_retry_of_an_unknown_alert_is_an_error_naming_the_alerts(config: str) -> None:
    result = _run(config, "alerts", "retry", "--alert", "nonexistent")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: no alert named 'nonexistent' (defined: kz-unrest, oil-watch)"
    )
    assert _run(config, "alerts", "retry", "--alert", "oil-watch").returncode == 0


def test_a_query_may_start_with_a_minus(config: str) -> None:
    negated = _run(config, "search", "-word3", "protest", "--limit", "20")
    assert negated.returncode == 0, negated.stderr
    assert "5 stored story clusters match" in negated.stdout
    assert "word3" not in negated.stdout.replace("-word3", "")
    nothing = _run(config, "search", "-region:KZ")
    assert nothing.stdout.startswith("no stored story matches: -region:KZ")
    test = _run(config, "alerts", "test", "-region:UA", "--limit", "1")
    assert test.returncode == 0, test.stderr
    assert "7 stored story clusters match, showing the newest 1" in test.stdout
    after_dashes = _run(config, "search", "--limit", "1", "--", "-region:UA")
    assert "showing the newest 1" in after_dashes.stdout


def test_query_words_and_options_are_told_apart() -> None:
    def parsed(*argv: str) -> tuple[list[str], int]:
        args = build_parser().parse_args(["search", *argv])
        return args.words, args.limit

    assert parsed("-trump") == (["-trump"], 20)
    assert parsed("-violence", "-v") == (["-violence"], 20)  # -v is --verbose, alone only
    assert parsed("oil", "--limit", "5", "-region:UA", "--json") == (["oil", "-region:UA"], 5)
    assert parsed("--lim=3", "-a", "OR", "b") == (["-a", "OR", "b"], 3)
    assert parsed("--", "--limit", "x") == (["--limit", "x"], 20)
    tester = build_parser().parse_args(["alerts", "test", "-region:UA", "--limit", "2"])
    assert (tester.target, tester.limit) == (["-region:UA"], 2)


def test_search_json_is_readable_utf8_and_survives_an_ascii_stdout(config: str) -> None:
    result = _run(config, "search", "казахстане", "--json")
    assert result.returncode == 0, result.stderr
    assert '"title": "Протесты в Казахстане"' in result.stdout  # not \u-escaped
    ascii_out = _run(config, "search", "казахстане", "--json", env={"PYTHONIOENCODING": "ascii"})
    assert ascii_out.returncode == 0, ascii_out.stderr
    assert "\\u041f" in ascii_out.stdout  # escaped, the same JSON value
    assert json.loads(ascii_out.stdout) == json.loads(result.stdout)
    plain = _run(config, "search", "казахстане", env={"PYTHONIOENCODING": "ascii"})
    assert plain.returncode == 0, plain.stderr
    assert "Traceback" not in plain.stderr


def test_lowercase_or_gets_a_hint_where_nothing_matches(config: str) -> None:
    search = _run(config, "search", "word1", "or", "word2")
    assert search.stdout.strip() == "no stored story matches: word1 or word2 (did you mean OR?)"
    test = _run(config, "alerts", "test", "word1 and word2")
    assert "0 stored story clusters match (did you mean AND?)" in test.stdout
    as_json = _run(config, "search", "word1", "or", "word2", "--json")
    assert json.loads(as_json.stdout) == []
    assert "(did you mean OR?)" in as_json.stderr


def test_a_star_that_is_no_prefix_gets_a_hint(config: str, tmp_path: Path) -> None:
    """`"turk* earthquake"` looked for "turk earthquake" and tur*key for "tur key": the '*'
    is punctuation there, dropped without a word, and the search found nothing."""
    search = _run(config, "search", '"turk* earthquake"', "tur*key")
    assert search.stdout.strip() == (
        "no stored story matches: \"turk* earthquake\" tur*key (a '*' inside quotes or a word "
        'is ignored: "turk* earthquake", tur*key; a prefix* ends a word outside quotes)'
    )
    as_json = _run(config, "search", '"turk* earthquake"', "--json")
    assert json.loads(as_json.stdout) == []
    assert as_json.stderr.startswith(
        "note: a '*' inside quotes or a word is ignored: \"turk* earthquake\""
    )
    alert = '[[alerts]]\nname = "a"\nquery = \'"turk* quake" OR earth*\'\n'
    checked = tmp_path / "c.toml"
    checked.write_text(f'[storage]\npath = "{tmp_path / "db"}"\n{alert}', encoding="utf-8")
    warned = syndicator("--config", str(checked), "check", cwd=tmp_path)
    assert warned.returncode == 0
    assert warned.stdout.splitlines()[1:] == [
        "  warning: alerts[0].query: the '*' in \"turk* quake\" is ignored (a prefix* ends a "
        "word outside quotes): it looks for the words without it"
    ]


def test_check_warns_about_lowercase_operators_and_refuses_bad_lang(tmp_path: Path) -> None:
    alert = '[[alerts]]\nname = "a"\nquery = "trump or biden"\n'
    section = '[[sections]]\nslug = "s"\nquery = "lang:english"\n'
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "db"}"\n{alert}', encoding="utf-8")
    warned = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert warned.returncode == 0
    assert warned.stdout.splitlines()[1:] == [
        "  warning: alerts[0].query: 'or' in lower case is a word to search for, not an "
        "operator (did you mean OR?)"
    ]
    config.write_text(f'[storage]\npath = "{tmp_path / "db"}"\n{section}', encoding="utf-8")
    refused = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert refused.returncode == 1
    assert "sections[0].query: 'lang:english' is not a language tag at column 6" in refused.stdout


def test_tag_file_and_language_errors_are_one_clear_line(tmp_path: Path) -> None:
    missing = syndicator("tag", "--file", str(tmp_path / "nonexistent"), cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr == (
        f"error: {tmp_path / 'nonexistent'}: cannot read: No such file or directory\n"
    )
    klingon = syndicator("tag", "--language", "klingon", "Protests in Almaty", cwd=tmp_path)
    assert klingon.returncode == 1
    assert klingon.stderr == (
        "error: --language: expected a language tag such as fr or de-DE, got 'klingon'\n"
    )
    fine = syndicator("tag", "--language", "ru-RU", "Протесты в Алматы", cwd=tmp_path)
    assert fine.returncode == 0, fine.stderr


def test_tag_jsonl_reads_and_writes_utf8_in_an_ascii_locale(tmp_path: Path) -> None:
    item = {"id": "Алматы-1", "title": "Протесты в Алматы", "text": "Протесты"}
    line = json.dumps(item, ensure_ascii=False)
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "tag", "--jsonl"],
        cwd=tmp_path,
        input=(line + "\n").encode("utf-8"),
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert result.returncode == 0, result.stderr
    [answer] = result.stdout.decode("ascii").splitlines()  # escaped: ASCII, the same JSON
    assert json.loads(answer)["id"] == "Алматы-1"
    assert json.loads(answer)["regions"][0]["code"] == "KZ"


# C1 control characters (U+0080-U+009F) are terminal controls too: U+009D starts an OSC
# (which swallows the output after it, or makes a hyperlink), U+0090 a DCS, U+009B a CSI.
# XML carries them, the text cleaning keeps them (stored keys depend on it), and a feed
# server can put them in a headline or its feed's title (the source name).
_C1 = re.compile("[\x80-\x9f]")


def test_search_and_explain_write_a_feeds_terminal_controls_as_escapes(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    title = "Kazakhstan protest \u009d8;;https://evil.example/\u009c grows \u0090q"
    feed_server.routes["/c1.rss"] = Route(
        rss([{"title": title, "link": "https://wire.example/c1", "guid": "c1"}]).replace(
            b"<title>Test Wire</title>", "<title>Wire \u009d0;pwned</title>".encode()
        )
    )
    config = write_config(tmp_path, [feed_server.url("/c1.rss")])
    run = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    search = _run(str(config), "search", "kazakhstan")
    explain = _run(str(config), "explain", "cluster:1")
    as_json = _run(str(config), "search", "kazakhstan", "--json")
    for result in (search, explain, as_json):
        assert result.returncode == 0, result.stderr
        assert not _C1.search(result.stdout), result.stdout
    assert "\\x9d8;;https://evil.example/" in search.stdout  # shown, as an escape
    assert "Wire \\x9d0;pwned" in search.stdout
    assert "\\x9d8;;https://evil.example/" in explain.stdout
    assert "Wire \\x9d0;pwned" in explain.stdout
    [record] = json.loads(as_json.stdout)  # the same JSON value, escaped
    assert "\u009d8;;https://evil.example/" in record["title"]
    assert "\\u009d" in as_json.stdout


def test_search_by_region_or_topic_alone_finds_old_stories_in_a_big_store(
    tmp_path: Path,
) -> None:
    """`region:KZ` or `topic:` alone gives the search index no word to narrow by: it used to
    evaluate only the newest 5,000 clusters, so in a store of a few days of many feeds the
    analyst's older Kazakhstan stories were missing ("at least 0 match"). The region and
    topic filters a query requires now come from the tag index, as a section's do."""
    settings = _settings(tmp_path, "", _hook("http://127.0.0.1:9/hook"))
    store = _store(settings)
    old = [
        dataclasses.replace(
            _story(
                f"kz{n}",
                f"Kazakhstan protest {n}",
                text=f"Protest number {n} in {['Almaty', 'Astana', 'Aktau'][n]} this week.",
                hours=-500 - n,
            ),
            tags=(
                Tag(TagKind.REGION, "KZ", 0.9, True, ("test",)),
                Tag(TagKind.REGION, "Central Asia", 0.9, True, ("test",)),
                Tag(TagKind.TOPIC, "conflict", 0.7, True, ("test",)),
            ),
        )
        for n in range(3)
    ]
    newer = [
        dataclasses.replace(
            _story(f"us{n}", f"Story {n}", text=f"Item number {n} of the day."),
            published_at=NOW - timedelta(minutes=n),
            tags=(Tag(TagKind.REGION, "US", 0.9, True, ("test",)),),
        )
        for n in range(QUERY_SCAN_LIMIT + 10)
    ]
    store.store_stories(old + newer, NOW)
    store.close()
    config = str(settings.path)

    for query in ("region:KZ", 'region:"central asia"', "topic:conflict", "region:kz OR region:KG"):
        found = _run(config, "search", query)
        assert found.returncode == 0, found.stderr
        assert found.stdout.rstrip().endswith("3 stored story clusters match"), query
    # Each row shows the time the list is ordered by, the first source's publication, not
    # the minute the store first saw it (the same for every story of one poll).
    rows = _run(config, "search", "region:KZ").stdout.splitlines()
    assert rows[0].startswith("PUBLISHED UTC ")
    published = NOW - timedelta(hours=500)
    assert rows[1].startswith(published.strftime("%Y-%m-%d %H:%M") + "       1  cluster:")
    as_json = json.loads(_run(config, "search", "region:KZ -protest", "--json").stdout)
    assert as_json == []
    none = _run(config, "search", "region:UZ")
    assert none.stdout.startswith("no stored story matches")
    # A script reading --json is told when it got fewer than match, as a reader is.
    first = _run(config, "search", "region:KZ", "--json", "--limit", "1")
    assert len(json.loads(first.stdout)) == 1
    assert "note: 3 stored story clusters match, showing the newest 1" in first.stderr
    assert _run(config, "search", "region:KZ", "--json").stderr == ""
    # A query no index narrows still looks at the newest clusters only, and says so
    # rather than "no stored story matches".
    unbounded = _run(config, "search", "-region:US")
    assert unbounded.stdout.startswith(
        f"no match among the newest {QUERY_SCAN_LIMIT:,} stored story clusters"
    )


def test_search_by_source_alone_finds_old_stories_in_a_big_store(tmp_path: Path) -> None:
    """`source:` alone gives the search index no word either: with thousands of sources the
    newest 5,000 clusters are minutes of news, and one source's stories from before them
    were never found ("no match among the newest 5,000"). The sources a query requires now
    come from the stories' source index."""
    settings = _settings(tmp_path, "", _hook("http://127.0.0.1:9/hook"))
    store = _store(settings)
    old = [
        _story(f"c{n}", f"Kazakhstan protest {n}", source=2, text=f"Copy {n}.", hours=-500 - n)
        for n in range(3)
    ]
    newer = [
        dataclasses.replace(
            _story(f"w{n}", f"Story {n}", text=f"Item number {n} of the day."),
            published_at=NOW - timedelta(minutes=n),
        )
        for n in range(QUERY_SCAN_LIMIT + 10)
    ]
    store.store_stories(old + newer, NOW)
    store.close()
    config = str(settings.path)

    for query in (
        "source:copy",
        'source:"copy daily"',
        "source:copy.example",  # a word of its URL
        "source:copy OR source:nothing",
        "source:copy.example OR source:nowhere",
        "source:copy protest*",
    ):
        found = _run(config, "search", query)
        assert found.returncode == 0, found.stderr
        assert found.stdout.rstrip().endswith("3 stored story clusters match"), query
    assert (
        _run(config, "search", "source:copy 1")
        .stdout.rstrip()
        .endswith("1 stored story cluster matches")
    )
    assert _run(config, "search", "source:nothing").stdout.startswith("no stored story matches")
    # Not required of every match: still the newest clusters only, as said.
    either = _run(config, "search", "source:copy OR -kazakhstan")
    assert either.stdout.rstrip().endswith(
        f"at least {QUERY_SCAN_LIMIT:,} stored story clusters match, showing the newest 20"
    )
