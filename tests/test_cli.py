"""The command line, run as a real subprocess against a loopback feed server."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from syndicator.cli import EXAMPLES, build_parser, main
from tests.atom_checks import check_atom
from tests.conftest import DATA, SHARED, FeedServer, Route, rss, syndicator, write_config
from tests.test_clustering import QUAKE_WIRE

WIRE = [
    {"title": "Russian-led troops leaving Kazakhstan", "guid": "w-1",
     "link": "https://wire.example/kz-troops", "description": "<p>Almaty: the CSTO leaves.</p>"},
    {"title": "Fuel prices \x0b rise in Almaty", "guid": "w-2", "link": "https://wire.example/2"},
    {"title": "No guid, link only", "link": "https://wire.example/3"},
]  # fmt: skip
COPY = [
    {"title": "Kazakhstan: troops begin to leave", "guid": "copy-77",
     "link": "https://WIRE.example/kz-troops?utm_source=rss#top"},
]  # fmt: skip


def _served(feed_server: FeedServer) -> list[str]:
    feed_server.routes["/wire.rss"] = Route(rss(WIRE, "Test Wire"))
    feed_server.routes["/copy.rss"] = Route(rss(COPY, "Copycat Daily"))
    feed_server.routes["/broken"] = Route(b"\x89PNG not a feed", content_type="image/png")
    return [feed_server.url(p) for p in ("/wire.rss", "/copy.rss", "/broken")]


def test_run_once_twice_stores_the_same_stories_with_the_same_ids(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, _served(feed_server), extra=SECTION)
    first = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    feeds = tmp_path / "feeds" / "feeds"
    ids_all = check_atom(feeds / "all.atom")
    ids_wire = check_atom(feeds / "wire-only.atom")
    assert len(ids_all) == 3  # the copy joined the wire story's cluster by canonical URL
    assert len(ids_wire) == 3
    atom = (feeds / "all.atom").read_text()
    assert 'rel="related"' in atom  # the copy is linked from the wire story's entry
    assert "Copycat Daily" in atom
    before = (feeds / "all.atom").read_bytes()

    second = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert check_atom(feeds / "all.atom") == ids_all
    assert (feeds / "all.atom").read_bytes() == before  # unchanged feed: file untouched
    assert (tmp_path / "feeds" / "index.html").exists()
    assert (tmp_path / "feeds" / "feeds.opml").exists()

    status = syndicator("--config", str(config), "status", cwd=tmp_path)
    assert status.returncode == 0
    assert status.stdout.count("\nok ") + status.stdout.startswith("ok ") >= 0
    lines = status.stdout.splitlines()
    assert sum(line.startswith("ok") for line in lines) == 2
    assert sum(line.startswith("failing") for line in lines) == 1
    assert "not a feed" in status.stdout


SECTION = """
[[sections]]
slug = "wire-only"
title = "Wire only"
sources = ["Test Wire"]
"""


def test_check_on_a_broken_config_lists_every_problem(tmp_path: Path) -> None:
    result = syndicator("--config", str(DATA / "broken.toml"), "check", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    expected = [
        "colour: unknown key",
        "polling.intervall: unknown key",
        'did you mean "interval"',
        "server.port: expected an integer, got a string",
        "sources[0].url: expected an absolute http:// or https:// URL",
        "sources[2].url: duplicate",
        "sources[3].region: unknown region 'XX'",
        "sections[1].slug: duplicate 'asia'",
        "sections[0].regions: unknown region(s) 'Atlantis'",
        "alerts[0].channels: no channel named 'pager'",
        "channels.hook.secret: environment variable(s) not set: SYNDICATOR_TEST_UNSET",
        "sources[4].url: required key is missing",
    ]
    for fragment in expected:
        assert fragment in result.stdout, f"missing: {fragment}\n{result.stdout}"
    assert "11 problem(s)" in result.stdout


def test_check_on_the_default_config_passes(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parent.parent / "config" / "syndicator.toml"
    result = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "OK (" in result.stdout


def test_check_counts_what_it_checked_in_proper_plurals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[sources]]\nurl = "https://example.org/a"\n'
        '[[alerts]]\nname = "a"\nquery = "q"\nchannels = ["hook"]\n'
        '[channels.hook]\ntype = "webhook"\nurl = "https://h.example.org/"\n'
    )
    assert main(["--config", str(config), "check"]) == 0
    expected = f"{config}: OK (1 source, 0 sections, 1 alert, 1 channel)\n"
    assert capsys.readouterr().out == expected


def test_check_prints_warnings_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[sources]]\nurl = "https://example.org/a"\nname = "Guardian World"\n'
        '[[sections]]\nslug = "s"\nsources = ["guardian world", "Guardain World"]\n'
    )
    assert main(["--config", str(config), "check"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  warning: sections[0].sources: 'Guardain World' names no configured source (did you "
        "mean 'Guardian World'?); it can still match a feed's own title"
    ]


def test_an_unattended_run_logs_the_config_warnings(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The daemon and cron runs have no `check` to show them: the log does."""
    feed_server.routes["/wire.rss"] = Route(rss([{"title": "Troops leave", "link": "https://w/1"}]))
    config = write_config(
        tmp_path,
        [(feed_server.url("/wire.rss"), 'name = "Guardian World"')],
        '[[sections]]\nslug = "s"\nsources = ["Guardain World"]\n',
    )
    result = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "config: sections[0].sources: 'Guardain World' names no configured source" in (
        result.stderr
    )


STORMS = "Storms in London and Almaty\nStorms hit London, England, and Almaty, Kazakhstan."


@pytest.mark.parametrize(("region", "code"), [("uk", "GB"), ("KZ", "KZ"), ("Central Asia", "")])
def test_tag_takes_the_region_priors_a_source_may_have(
    region: str,
    code: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no config here: tag uses the built-in topics
    monkeypatch.delenv("SYNDICATOR_CONFIG", raising=False)
    assert main(["tag", STORMS, "--region", region, "--json"]) == 0
    regions = json.loads(capsys.readouterr().out)["regions"]
    # The prior is weak evidence for a country; an M49 name adds none, as in the config.
    assert [r["code"] for r in regions if "source region" in r["evidence"]] == (
        [code] if code else []
    )


def test_tag_suggests_a_region_for_a_typo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNDICATOR_CONFIG", raising=False)
    assert main(["tag", "Storm", "--region", "Centrl Asia"]) == 1
    assert "did you mean 'Central Asia'?" in capsys.readouterr().err


def test_missing_config_is_a_user_error(tmp_path: Path) -> None:
    result = syndicator("--config", str(tmp_path / "nope.toml"), "run", "--once", cwd=tmp_path)
    assert result.returncode == 1
    assert "file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_path_through_a_file_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a directory")
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "afile" / "db.sqlite"}"\n')
    result = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'afile' / 'db.sqlite.lock'}: cannot take the run lock beside "
        "the database: a file is in the way"
    ]


def test_a_usage_mistake_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """DESIGN.md's exit codes: 1 user error (bad config, bad query), 2 usage. Earlier
    releases exited 1 for both, so a script could not tell a typo from a broken config."""
    mistakes = (
        ("frobnicate",),
        (),
        ("run", "--bogus"),
        ("search",),
        ("status", "--limit", "x"),
        ("serve", "--port", "99999"),
        ("demo", "--port", "http"),
    )
    for args in mistakes:
        result = syndicator(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "error:" in lines[0]
        assert "--help" in lines[0]
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["status", "--bogus"], "syndicator status --help"),
        (["sources", "import", "feeds.opml", "--bogus"], "syndicator sources import --help"),
        (["alerts", "status", "--bogus"], "syndicator alerts status --help"),
    ],
)
def test_an_unknown_option_points_to_its_commands_help(
    args: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status --bogus` said "syndicator: error: unrecognized arguments" and pointed to the
    top-level help, which does not list status's options."""
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in error
    assert error.rstrip().endswith(f"(see: {hint})")


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_every_help_ends_with_examples_that_parse(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command.split(), "--help"])
    assert exit_.value.code == 0
    assert "examples:\n  syndicator" in capsys.readouterr().out
    for example in EXAMPLES[command]:
        words = shlex.split(example.split("#")[0].split("|")[0].split("<")[0], posix=True)
        assert words[0] == "syndicator", example
        words = words[1:]
        build_parser().parse_args(words)  # an example that no longer parses fails here


def test_run_once_refuses_while_another_run_holds_the_lock(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, _served(feed_server))
    lock = tmp_path / "db" / "syndicator.db.lock"
    lock.parent.mkdir(parents=True)
    with lock.open("w") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        result = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert result.returncode == 1
    assert "locked" in result.stderr
    assert feed_server.requests == []


def test_publish_regenerates_feeds(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path, _served(feed_server))
    syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    (tmp_path / "feeds" / "feeds" / "all.atom").unlink()
    result = syndicator("--config", str(config), "publish", cwd=tmp_path)
    assert result.returncode == 0
    assert "feeds/all.atom" in result.stdout
    check_atom(tmp_path / "feeds" / "feeds" / "all.atom")


def test_status_json_and_plain_text_when_piped(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path, _served(feed_server))
    syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    result = syndicator("--config", str(config), "status", "--json", cwd=tmp_path)
    assert result.returncode == 0
    records = json.loads(result.stdout)
    by_url = {record["url"]: record for record in records}
    wire = by_url[feed_server.url("/wire.rss")]
    assert (wire["state"], wire["stories"], wire["polls"]) == ("ok", 3, 1)
    assert wire["not_modified_ratio"] == 0
    broken = by_url[feed_server.url("/broken")]
    assert broken["state"] == "failing"
    assert "not a feed" in broken["last_error"]
    # `status --help`'s jq example picks the failing sources by fields a record has (it used
    # `.errors`, which none has, so it printed nothing at all).
    (jq_example,) = [example for example in EXAMPLES["status"] if "jq" in example]
    assert set(re.findall(r"\.([a-z_]+)", jq_example.split("jq", 1)[1])) <= set(wire)
    assert '.state == "failing"' in jq_example
    assert "failing" in {r["state"] for r in records}
    plain = syndicator("--config", str(config), "status", cwd=tmp_path).stdout
    assert "\033[" not in plain  # no colour codes when piped
    assert "last error" in plain


def test_a_renamed_source_shows_its_new_name_in_the_feeds(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The feeds' signatures did not cover the sources: a rename in the config never reached
    the published feeds, and `publish` wrote nothing."""
    url = feed_server.url("/wire.rss")
    feed_server.routes["/wire.rss"] = Route(rss([{"title": "Troops leave", "link": "https://w/1"}]))
    config = write_config(tmp_path, [(url, 'name = "Old Wire"')])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    everything = tmp_path / "feeds" / "feeds" / "all.atom"
    assert "Old Wire" in everything.read_text()
    config.write_text(config.read_text().replace("Old Wire", "New Wire"))
    published = syndicator("--config", str(config), "publish", cwd=tmp_path)
    assert published.returncode == 0, published.stderr
    text = everything.read_text()
    assert "New Wire" in text
    assert "Old Wire" not in text
    assert "feeds/all.atom" in published.stdout


def test_export_names_an_unnamed_source_by_its_feed_title(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Readers show an outline's text: an empty one for every source without a `name`."""
    feed_server.routes["/wire.rss"] = Route(rss([{"title": "Troops leave", "link": "https://w/1"}]))
    config = write_config(tmp_path, [feed_server.url("/wire.rss")])
    before = syndicator("--config", str(config), "sources", "export", cwd=tmp_path).stdout
    url = feed_server.url("/wire.rss")
    assert f'text="{url}" xmlUrl="{url}"' in before  # never polled: its address, no title
    syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    after = syndicator("--config", str(config), "sources", "export", cwd=tmp_path).stdout
    assert 'text="Test Wire" title="Test Wire"' in after


def test_a_cron_run_with_nothing_due_says_so(tmp_path: Path, feed_server: FeedServer) -> None:
    """A second `run --once` polled nothing and printed nothing: silence reads as a broken
    cron job."""
    feed_server.routes["/wire.rss"] = Route(rss([{"title": "Troops leave", "link": "https://w/1"}]))
    config = write_config(tmp_path, [(feed_server.url("/wire.rss"), 'interval = "1h"')])
    first = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert "no source due" not in first.stderr
    second = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert second.returncode == 0
    assert re.search(r"cycle: no source due; the next is due at \S+ \(in \d+ min\)", second.stderr)


def test_a_story_linked_directly_and_through_a_redirector_is_one_cluster(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """UOL's feed lists a Folha story twice, once through redir.folha.com.br/.../*https://...:
    without a guid, the link is the entry's identity, and both links are the article's."""
    body = (SHARED / "corpus" / "feeds-real" / "rssparser_uolNoticias.rss").read_bytes()
    feed_server.routes["/uol.rss"] = Route(body)
    config = write_config(tmp_path, [feed_server.url("/uol.rss")])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    found = syndicator(
        "--config", str(config), "search", "match", "eleitoral", "--json", cwd=tmp_path
    )
    [cluster] = json.loads(found.stdout)
    assert cluster["copies"] == 1  # one story: the source's link (no guid) is its identity
    assert cluster["url"] == (
        "https://www1.folha.uol.com.br/poder/2018/09/"
        "match-eleitoral-ja-soma-mais-de-500-mil-testes-completos-ache-seu-candidato.shtml"
    )


def test_posts_on_one_page_with_anchors_are_separate_clusters(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Scripting News: 48 posts, each the day's page with its own anchor, were 7 clusters of
    "the same canonical URL", and only each cluster's first post was in the feeds."""
    body = (SHARED / "corpus" / "feeds-real" / "netnewswire_scriptingNews.rss").read_bytes()
    feed_server.routes["/scripting.rss"] = Route(body)
    config = write_config(tmp_path, [feed_server.url("/scripting.rss")])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    found = syndicator(
        "--config",
        str(config),
        "search",
        "source:scripting",
        "--limit",
        "100",
        "--json",
        cwd=tmp_path,
    )
    clusters = json.loads(found.stdout)
    assert len(clusters) == 48
    assert {cluster["copies"] for cluster in clusters} == {1}


def test_opml_import_appends_sources_and_skips_duplicates(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["https://www.theguardian.com/world/rss"])
    opml = tmp_path / "subs.opml"
    opml.write_text(
        """<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="News">
    <outline text="Guardian" type="rss" xmlUrl="https://www.theguardian.com/world/rss"/>
    <outline text="Eurasianet" type="rss" xmlUrl="https://eurasianet.org/rss"/>
    <outline text="Bad" type="rss" xmlUrl="javascript:alert(1)"/>
  </outline>
  <outline text="Meduza &amp; co" type="rss" xmlUrl="https://meduza.io/rss/en/all"/>
</body></opml>
""",
        encoding="utf-8",
    )
    dry = syndicator(
        "--config", str(config), "sources", "import", str(opml), "--dry-run", cwd=tmp_path
    )
    assert dry.returncode == 0
    assert "https://eurasianet.org/rss" in dry.stdout
    assert "eurasianet" not in config.read_text()
    result = syndicator("--config", str(config), "sources", "import", str(opml), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 source(s) added" in result.stdout
    assert "1 already configured, 1 invalid" in result.stdout
    text = config.read_text()
    assert "# categories: News" in text
    assert 'name = "Meduza & co"' in text
    again = syndicator("--config", str(config), "sources", "import", str(opml), cwd=tmp_path)
    assert "0 source(s) added" in again.stdout
    assert syndicator("--config", str(config), "check", cwd=tmp_path).returncode == 0

    exported = syndicator("--config", str(config), "sources", "export", cwd=tmp_path)
    assert exported.returncode == 0
    assert exported.stdout.count("<outline ") == 4  # three feeds, one of them in a folder
    assert 'xmlUrl="https://eurasianet.org/rss"' in exported.stdout


def test_opml_language_and_region_are_imported_and_exported(tmp_path: Path) -> None:
    """OPML 2.0's `language` and our `region` become the source's keys; a value the config
    would refuse ("unknown", as in the OPML spec's own example) is dropped, not fatal."""
    config = write_config(tmp_path, [])
    opml = tmp_path / "subs.opml"
    opml.write_text(
        """<opml version="2.0"><body>
  <outline text="Tengri" type="rss" xmlUrl="https://tengrinews.kz/rss" language="ru"
           region="kz"/>
  <outline text="Spec" type="rss" xmlUrl="https://spec.example/rss" language="unknown"/>
  <outline text="Odd" type="rss" xmlUrl="https://odd.example/rss" language="en us!"
           region="Atlantis"/>
</body></opml>
""",
        encoding="utf-8",
    )
    result = syndicator("--config", str(config), "sources", "import", str(opml), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 source(s) added" in result.stdout
    assert "https://odd.example/rss: language: expected a language tag" in result.stderr
    assert "https://odd.example/rss: region: unknown region 'Atlantis'" in result.stderr
    assert "spec.example" not in result.stderr
    sources = tomllib.loads(config.read_text())["sources"]
    assert [(s["url"], s.get("language"), s.get("region")) for s in sources] == [
        ("https://tengrinews.kz/rss", "ru", "kz"),
        ("https://spec.example/rss", None, None),
        ("https://odd.example/rss", None, None),
    ]
    exported = syndicator("--config", str(config), "sources", "export", cwd=tmp_path).stdout
    assert 'xmlUrl="https://tengrinews.kz/rss" language="ru" region="KZ"' in exported


def test_import_of_a_broken_opml_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    bad = tmp_path / "bad.opml"
    bad.write_text("<html><body>not opml</body></html>")
    result = syndicator("--config", str(config), "sources", "import", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.opml" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_says_where_a_moved_source_was_configured(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """After a 301 the source's line showed another URL than the config's, without a word."""
    feed_server.routes["/old.rss"] = Route(status=301, headers={"Location": "/new.rss"})
    feed_server.routes["/new.rss"] = Route(rss([{"title": "Moved", "guid": "m-1"}]))
    config = write_config(tmp_path, [feed_server.url("/old.rss")])
    syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    status = syndicator("--config", str(config), "status", cwd=tmp_path).stdout
    assert f"<{feed_server.url('/new.rss')}>" in status
    assert f"moved: configured as <{feed_server.url('/old.rss')}>" in status
    as_json = syndicator("--config", str(config), "status", "--json", cwd=tmp_path).stdout
    [record] = json.loads(as_json)
    assert (record["url"], record["config_url"]) == (
        feed_server.url("/new.rss"),
        feed_server.url("/old.rss"),
    )


def test_enable_brings_back_a_gone_source(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/gone"] = Route(b"", status=410)
    config = write_config(tmp_path, [feed_server.url("/gone")])
    syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    status = syndicator("--config", str(config), "status", cwd=tmp_path).stdout
    assert f"disabled: HTTP 410 Gone: {feed_server.url('/gone')}\n" in status  # said once
    enabled = syndicator(
        "--config", str(config), "sources", "enable", feed_server.url("/gone"), cwd=tmp_path
    )
    assert enabled.returncode == 0
    assert "disabled" not in syndicator("--config", str(config), "status", cwd=tmp_path).stdout
    unknown = syndicator(
        "--config", str(config), "sources", "enable", "https://nope.example/", cwd=tmp_path
    )
    assert unknown.returncode == 1


def test_search_lists_clusters_with_every_word(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path, _served(feed_server))
    syndicator("--config", str(config), "run", "--once", cwd=tmp_path)

    result = syndicator("--config", str(config), "search", "ALMATY", "csto", "--json", cwd=tmp_path)

    assert result.returncode == 0
    [cluster] = json.loads(result.stdout)
    # The wire story and its copy, joined by canonical URL; whichever was stored first (the
    # two feeds are fetched at once) represents the cluster.
    assert cluster["copies"] == 2
    assert cluster["title"] in {
        "Russian-led troops leaving Kazakhstan",
        "Kazakhstan: troops begin to leave",
    }
    assert sorted(cluster["sources"]) == ["Copycat Daily", "Test Wire"]
    plain = syndicator("--config", str(config), "search", "almaty", cwd=tmp_path).stdout
    assert "Fuel prices rise in Almaty" in plain
    # Each line names its cluster the way `explain` takes it.
    assert f"cluster:{cluster['cluster_id']}" in plain
    shown = re.search(r"cluster:\d+", plain)
    assert shown is not None
    explained = syndicator("--config", str(config), "explain", shown.group(0), cwd=tmp_path)
    assert explained.returncode == 0
    assert explained.stdout.startswith(shown.group(0))
    assert plain.count("Test Wire") == 2  # both clusters list their sources
    none = syndicator("--config", str(config), "search", 'troops" OR "x', "zzz", cwd=tmp_path)
    assert none.returncode == 0
    assert "no stored story matches" in none.stdout


def test_explain_says_why_each_story_is_in_its_cluster(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, _served(feed_server))
    syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    [found] = json.loads(
        syndicator("--config", str(config), "search", "csto", "--json", cwd=tmp_path).stdout
    )

    # `id` is what explain takes (a bare number there is a story id).
    assert found["id"] == f"cluster:{found['cluster_id']}"
    result = syndicator("--config", str(config), "explain", found["id"], "--json", cwd=tmp_path)

    assert result.returncode == 0
    assert json.loads(result.stdout)["id"] == found["id"]
    members = json.loads(result.stdout)["members"]
    assert sorted(member["join_reason"] for member in members) == ["canonical-url", "first"]
    joined = next(member for member in members if member["join_reason"] == "canonical-url")
    plain = syndicator(
        "--config", str(config), "explain", f"story:{joined['story_id']}", cwd=tmp_path
    ).stdout
    assert "same canonical URL as story:" in plain
    missing = syndicator("--config", str(config), "explain", "story:999", cwd=tmp_path)
    assert missing.returncode == 1
    assert "no story 999" in missing.stderr
    wrong = syndicator("--config", str(config), "explain", "item:3", cwd=tmp_path)
    assert wrong.returncode == 1
    assert "expected story:N, cluster:N or N, a feed entry id" in wrong.stderr


def test_explain_takes_a_feed_entry_id_and_an_article_url(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """What a reader of the feeds has in hand is an entry's id (Atom <id>, JSON Feed "id")
    and its links, not a cluster number: `explain` takes those too."""
    sources = _served(feed_server)
    # NixOS-style: different entries of one feed at one address, no guid: two clusters.
    feed_server.routes["/news.rss"] = Route(
        rss(
            [
                {"title": "Release 23.05", "link": "https://nixos.example/news.html"},
                {"title": "Release 23.11", "link": "https://nixos.example/news.html"},
            ],
            "Nix News",
        )
    )
    config = write_config(tmp_path, [*sources, feed_server.url("/news.rss")])
    syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    [found] = json.loads(
        syndicator("--config", str(config), "search", "csto", "--json", cwd=tmp_path).stdout
    )
    feed = json.loads((tmp_path / "feeds" / "feeds" / "all.json").read_text())
    [item] = [
        item for item in feed["items"] if item["_syndicator"]["cluster_id"] == found["cluster_id"]
    ]
    atom = (tmp_path / "feeds" / "feeds" / "all.atom").read_text()
    assert f"<id>{item['id']}</id>" in atom  # the same id in both feeds

    def explained(reference: str) -> subprocess.CompletedProcess[str]:
        return syndicator("--config", str(config), "explain", reference, cwd=tmp_path)

    by_entry = explained(item["id"])
    assert by_entry.returncode == 0, by_entry.stderr
    assert by_entry.stdout.startswith(f"cluster:{found['cluster_id']}  ")
    # The copy's link, with its tracking parameters and upper-case host, names its cluster.
    by_copy = explained("https://WIRE.example/kz-troops?utm_source=rss#top")
    assert by_copy.returncode == 0, by_copy.stderr
    assert by_copy.stdout == by_entry.stdout
    assert explained(found["url"]).stdout == by_entry.stdout
    unknown = explained("https://wire.example/never-published")
    assert unknown.returncode == 1
    assert "no story links to https://wire.example/never-published" in unknown.stderr
    shared = explained("https://nixos.example/news.html")
    assert shared.returncode == 1
    assert re.search(r"stories in 2 clusters .*: cluster:\d+, cluster:\d+;", shared.stderr)
    assert "Traceback" not in shared.stderr + unknown.stderr


def test_options_may_follow_the_command(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["https://www.theguardian.com/world/rss"])
    after = syndicator("check", "--config", str(config), "-v", cwd=tmp_path)
    before = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert after.returncode == before.returncode == 0
    assert after.stdout == before.stdout


def test_recluster_after_a_looser_threshold_joins_a_copy_and_says_so(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    wire = " ".join(QUAKE_WIRE)
    edited = wire.replace("said", "reported").replace("the", "a")
    # Inside the clustering window (72 h): fingerprints older than that are not kept.
    date = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    feed_server.routes["/a.rss"] = Route(
        rss(
            [
                {
                    "title": "Quake",
                    "guid": "a-1",
                    "link": "https://a.example/1",
                    "description": wire,
                    "date": date,
                }
            ]
        )
    )
    feed_server.routes["/b.rss"] = Route(
        rss([{"title": "Quake, edited", "guid": "b-1", "link": "https://b.example/1",
              "description": edited, "date": date}], title="Copycat")
    )  # fmt: skip
    sources = [feed_server.url("/a.rss"), feed_server.url("/b.rss")]
    config = write_config(tmp_path, sources, extra="[dedup]\nthreshold = 1.0\n")
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    found = syndicator("--config", str(config), "search", "quake", "--json", cwd=tmp_path)
    assert len(json.loads(found.stdout)) == 2  # apart under the strict threshold

    config.write_text(config.read_text().replace("threshold = 1.0", "threshold = 0.45"))
    result = syndicator("--config", str(config), "recluster", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 of 2 lone stories in the clustering window joined" in result.stdout
    assert result.stderr == ""  # no progress bar when not on a terminal
    [cluster] = json.loads(
        syndicator("--config", str(config), "search", "quake", "--json", cwd=tmp_path).stdout
    )
    assert cluster["copies"] == 2


def test_status_before_any_run_lists_the_sources_and_creates_no_database(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Run from another directory than the daemon's (a relative `storage.path`), `status`
    made an empty database there and printed only its header, exit 0: "no sources". Now it
    lists the configured sources as never polled, says where it looked, and makes nothing;
    the commands that need stored stories say so and exit 1."""
    config = write_config(tmp_path, [(feed_server.url("/wire.rss"), 'name = "Wire"')])
    config.write_text(
        config.read_text().replace(f'"{tmp_path / "db" / "syndicator.db"}"', '"var/s.db"')
    )
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    status = syndicator("--config", str(config), "status", cwd=elsewhere)
    assert status.returncode == 0, status.stderr
    [header, line] = status.stdout.splitlines()
    assert "LAST SUCCESS UTC" in header
    assert line.split()[:2] == ["new", "0"]
    assert f"Wire <{feed_server.url('/wire.rss')}>" in line
    assert f"relative to the working directory {elsewhere}" in status.stderr
    for command in (["search", "almaty"], ["alerts", "status"], ["explain", "cluster:1"]):
        result = syndicator("--config", str(config), *command, cwd=elsewhere)
        assert result.returncode == 1, (command, result.stderr)
        assert "var/s.db: no database there yet" in result.stderr
        assert "Traceback" not in result.stderr
    assert list(elsewhere.iterdir()) == []  # no stray var/s.db


def test_status_lists_a_source_added_since_the_last_run(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A source added to the config was missing from `status` until a run or a reload synced
    it, which reads as "my change did not take"."""
    config = write_config(tmp_path, _served(feed_server)[:1])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    config.write_text(
        config.read_text() + f'\n[[sources]]\nurl = "{feed_server.url("/copy.rss")}"\n'
    )
    status = syndicator("--config", str(config), "status", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    states = {record["url"]: record["state"] for record in json.loads(status.stdout)}
    assert states == {feed_server.url("/wire.rss"): "ok", feed_server.url("/copy.rss"): "new"}


def test_a_source_switched_off_in_the_config_is_disabled_and_not_promised_a_poll(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A source with `enabled = false` showed a next poll time (never kept) and no reason in
    `status`, and `sources enable` answered "enabled; it is polled at the next tick" with
    exit 0 while the config kept it off: it was never polled."""
    wire, copy = _served(feed_server)[:2]
    config = write_config(tmp_path, [wire, (copy, "enabled = false")])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    status = syndicator("--config", str(config), "status", "--json", cwd=tmp_path)
    by_url = {record["url"]: record for record in json.loads(status.stdout)}
    assert by_url[copy]["state"] == "disabled"
    assert by_url[copy]["next_poll_at"] is None
    assert by_url[wire]["next_poll_at"] is not None
    plain = syndicator("--config", str(config), "status", cwd=tmp_path).stdout
    assert "disabled: enabled = false in the config" in plain
    enable = syndicator("--config", str(config), "sources", "enable", copy, cwd=tmp_path)
    assert enable.returncode == 1
    assert "enabled = false" in enable.stderr
    assert str(config) in enable.stderr
    assert "polled at the next tick" not in enable.stdout
    # Switched off in the file after a run (no reload yet): `status` follows the file.
    config.write_text(
        config.read_text().replace(f'url = "{wire}"', f'url = "{wire}"\nenabled = false')
    )
    status = syndicator("--config", str(config), "status", "--json", cwd=tmp_path)
    assert {record["state"] for record in json.loads(status.stdout)} == {"disabled"}


def test_alerts_status_without_alerts_says_there_are_none(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """With no [[alerts]] (the default config), `alerts status` printed its header alone."""
    config = write_config(tmp_path, _served(feed_server)[:1])
    assert syndicator("--config", str(config), "run", "--once", cwd=tmp_path).returncode == 0
    status = syndicator("--config", str(config), "alerts", "status", cwd=tmp_path)
    assert status.returncode == 0
    assert status.stdout.splitlines()[1:] == [
        f"(no alerts: {config} has no [[alerts]] table, and none has sent)"
    ]


def test_a_missing_default_config_says_where_it_was_looked_for(tmp_path: Path) -> None:
    """Under cron (cwd $HOME) without SYNDICATOR_CONFIG, every command said only
    "config/syndicator.toml: file not found", which does not say where, nor how to point
    it at the real one."""
    environment = {key: value for key, value in os.environ.items() if key != "SYNDICATOR_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "run", "--once"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"file not found in the working directory {tmp_path}" in result.stderr
    assert "give --config PATH or set SYNDICATOR_CONFIG" in result.stderr
    assert "Traceback" not in result.stderr
