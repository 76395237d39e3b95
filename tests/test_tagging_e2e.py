"""Region and topic tagging end to end: `syndicator tag` (one text, --json, --jsonl batches, no
config, --region), `run --once` against loopback feeds, then `search` filters, `explain` tags,
the automatic region and topic feeds, sections by region, `[[topics]]` in the config, `retag`,
and re-polls that must not double a cluster's tags.

Every command runs as a user runs it, in a fresh interpreter. The read-only queries on the
polled store (most `search` filters, some `explain`s) call the CLI's own functions in-process,
as each fresh interpreter costs a second or two. One `run --once` (a module fixture) serves every
test; a test that changes the store or the config works on a copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from syndicator.cli import build_parser, explain, search_stories, tag_command
from syndicator.config import TopicSettings, load_settings
from syndicator.tagging.topics import parse_overrides
from tests.atom_checks import ATOM, check_atom
from tests.conftest import FeedServer, Route, rss, syndicator, write_config

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED = SHARED / "seed" / "000_ca4b3b679c3f7ead.txt"

KZ_TITLE = "Protesters clash with police in Kazakhstan's largest city"
FOOTBALL_TITLE = "Liverpool beat Chelsea 3-1 in the Premier League"
GEORGIA_TITLE = "Georgia governor signs voting bill in Atlanta"
KZ_STORY = {
    "title": KZ_TITLE,
    "link": "https://steppe.example/news/almaty-unrest",
    "guid": "steppe-1",
    "description": "ALMATY (Reuters) - Security forces fired on protesters in Almaty on "
    "Wednesday as unrest over fuel prices spread across Kazakhstan, and the government "
    "declared a state of emergency. Troops patrolled the streets after clashes left dozens "
    "dead, officials said. An oil pipeline near the city was shut down.",
}
FOOTBALL_STORY = {
    "title": FOOTBALL_TITLE,
    "link": "https://world.example/football/liverpool-chelsea",
    "guid": "world-1",
    "description": "Mohamed Salah scored twice as Liverpool beat Chelsea 3-1 at Anfield on "
    "Saturday. The striker's second goal came in the final minutes of the football match, "
    "lifting the club to the top of the league table.",
}
GEORGIA_STORY = {  # the US state: not the country (GE)
    "title": GEORGIA_TITLE,
    "link": "https://world.example/politics/georgia-voting",
    "guid": "world-2",
    "description": "Georgia Governor Brian Kemp signed a sweeping election bill at the state "
    "Capitol in Atlanta on Thursday, as Democrats in the state legislature protested the new "
    "voting restrictions ahead of the next election.",
}
ENERGY_TOPIC = """
[[topics]]
slug = "energy"
label = "Energy"
terms = { "pipeline" = 3, "oil" = 2 }
"""


def _cli(
    *args: str, cwd: Path, stdin: str | None = None, hash_seed: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter, with text on stdin and no $SYNDICATOR_CONFIG (and
    $PYTHONHASHSEED set when `hash_seed` is)."""
    env = {name: value for name, value in os.environ.items() if name != "SYNDICATOR_CONFIG"}
    if hash_seed is not None:
        env["PYTHONHASHSEED"] = hash_seed  # set iteration order follows the string hashes
    return subprocess.run(
        [sys.executable, "-m", "syndicator", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def _config(tmp: Path, sources: Sequence[tuple[str, str]], extra: str = "") -> Path:
    """A config under tmp (store and output there, loopback allowed); each source is its URL
    and extra TOML lines for its table."""
    return write_config(tmp, sources, extra)


def _by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def _tag_rows(tmp: Path) -> list[tuple[Any, ...]]:
    """Every row of cluster_tags, in a stable order."""
    with closing(sqlite3.connect(tmp / "db" / "syndicator.db")) as conn:
        return conn.execute(
            "SELECT cluster_id, kind, code, score, focus, evidence FROM cluster_tags "
            "ORDER BY cluster_id, kind, code"
        ).fetchall()


def _ids(tmp: Path, title: str) -> tuple[int, int]:
    """The (story id, cluster id) of the stored story with this title."""
    with closing(sqlite3.connect(tmp / "db" / "syndicator.db")) as conn:
        rows = conn.execute("SELECT id, cluster_id FROM stories WHERE title = ?", [title])
        found = rows.fetchall()
    assert len(found) == 1, (title, found)
    story_id, cluster_id = found[0]
    return int(story_id), int(cluster_id)


def _cluster_tags(tmp: Path, title: str) -> dict[str, tuple[Any, ...]]:
    """The tags of the cluster holding the story with this title: code -> (focus, evidence)."""
    _, cluster_id = _ids(tmp, title)
    return {
        code: (bool(focus), evidence)
        for cluster, _, code, _, focus, evidence in _tag_rows(tmp)
        if cluster == cluster_id
    }


# ---------------------------------------------------------------------------------------------
# `syndicator tag`: one text, batches, no config, a region prior.


def test_tag_on_the_seed_page_finds_kazakhstan_as_the_focus_with_its_regions_and_topics(
    tmp_path: Path,
) -> None:
    result = _cli("tag", "--file", str(SEED), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tags = json.loads(result.stdout)
    regions = _by(tags["regions"], "code")
    assert regions["KZ"]["focus"] is True
    assert regions["KZ"]["label"] == "Kazakhstan"
    assert regions["KZ"]["evidence"]
    assert regions["Central Asia"]["focus"] is True
    assert regions["Asia"]["focus"] is True
    assert regions["US"]["focus"] is False  # Blinken's "US": named in passing
    assert "GE" not in regions
    topics = _by(tags["topics"], "slug")
    assert {"conflict", "politics", "economy"} <= topics.keys()
    assert topics["conflict"]["focus"] is True
    assert all(0 < tag["score"] <= 1 for tag in [*tags["regions"], *tags["topics"]])

    plain = _cli("tag", "--file", str(SEED), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    kz = next(line for line in lines if "KZ (Kazakhstan)" in line)
    assert "focus" in kz
    us = next(line for line in lines if line.strip().startswith("US "))
    assert "mention" in us
    assert "focus" not in us


JSONL_GOOD = [
    {
        "id": "kz-1",
        "title": "Clashes in Almaty",
        "text": "Troops fired on protesters in Almaty, Kazakhstan, as unrest spread.",
    },
    {
        "id": 42,
        "title": FOOTBALL_TITLE,
        "text": "The striker scored twice in the football match at Anfield.",
    },
    {"id": "plain", "title": "Minutes", "text": "Nothing of note was said at all."},
]


def test_tag_jsonl_answers_every_line_in_order_and_reports_a_bad_one(tmp_path: Path) -> None:
    good = [json.dumps(item) for item in JSONL_GOOD]
    batch = [good[0], good[1], "this is not JSON {", good[2]]
    result = _cli("tag", "--jsonl", cwd=tmp_path, stdin="\n".join(batch) + "\n")
    assert result.returncode == 1
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer["id"] for answer in answers] == ["kz-1", 42, None, "plain"]
    bad = answers[2]
    assert bad["line"] == 3
    assert bad["error"]
    assert "line 3" in result.stderr
    assert "Traceback" not in result.stderr
    kz = answers[0]
    assert set(kz) == {"id", "regions", "topics"}
    kz_region = _by(kz["regions"], "code")["KZ"]
    assert kz_region["focus"] is True
    assert set(kz_region) == {"code", "score", "focus"}
    assert "conflict" in _by(kz["topics"], "slug")
    assert set(_by(kz["topics"], "slug")["conflict"]) == {"slug", "score", "focus"}
    assert _by(answers[1]["topics"], "slug")["sport"]["focus"] is True

    clean = _cli("tag", "--jsonl", cwd=tmp_path, stdin="\n".join(good) + "\n")
    assert clean.returncode == 0, clean.stderr
    again = [json.loads(line) for line in clean.stdout.splitlines()]
    assert again == [answer for answer in answers if answer["id"] is not None]
    assert "error" not in clean.stderr


def test_tag_jsonl_checks_the_language_of_a_line(tmp_path: Path) -> None:
    """A "language" that is no language tag is an error on its line (with the line's id), as
    `--language` and a source's `language` are; null or "" is none."""
    lines = [
        {"id": "es-1", "title": "Terremoto en Chile deja dos muertos", "language": "es"},
        {"id": "bad-1", "title": "Terremoto en Chile", "language": 5},
        {"id": "bad-2", "title": "Terremoto en Chile", "language": "Spanish please"},
        {"id": "none", "title": "Earthquake in Chile", "language": None},
    ]
    batch = "\n".join(json.dumps(line) for line in lines) + "\n"
    result = _cli("tag", "--jsonl", cwd=tmp_path, stdin=batch)
    assert result.returncode == 1
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer["id"] for answer in answers] == ["es-1", "bad-1", "bad-2", "none"]
    assert _by(answers[0]["topics"], "slug")["disaster"]["focus"] is True
    assert answers[1] == {
        "id": "bad-1",
        "line": 2,
        "error": '"language": expected a language tag such as "fr" or "pt-BR", got 5',
    }
    assert answers[2]["line"] == 3
    assert 'got "Spanish please"' in answers[2]["error"]
    assert "disaster" in _by(answers[3]["topics"], "slug")
    assert "stdin line 2" in result.stderr
    assert "stdin line 3" in result.stderr


def test_tag_jsonl_refuses_a_title_or_text_that_is_not_a_string(tmp_path: Path) -> None:
    """A script that writes its paragraphs as a list, or a nested object, made a bad line
    that was tagged as the Python repr of the value ("['Almaty', ...]": no Kazakhstan, and
    no error). It is an error on its line; null is no text, as absent is."""
    lines = [
        {"id": "list", "title": "Clashes", "text": ["Troops fired in Almaty.", "Unrest."]},
        {"id": "number", "title": 2023, "text": "Troops fired on protesters in Almaty."},
        {"id": "null", "title": "Clashes in Almaty, Kazakhstan", "text": None},
    ]
    batch = "\n".join(json.dumps(line) for line in lines) + "\n"
    result = _cli("tag", "--jsonl", cwd=tmp_path, stdin=batch)
    assert result.returncode == 1
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert answers[0] == {
        "id": "list",
        "line": 1,
        "error": '"text": expected a string, got ["Troops fired in Almaty.", "Unrest."]',
    }
    assert answers[1]["error"] == '"title": expected a string, got 2023'
    assert _by(answers[2]["regions"], "code")["KZ"]["focus"] is True
    assert "stdin line 1" in result.stderr
    assert "stdin line 2" in result.stderr
    assert "line 3" not in result.stderr


def test_tag_needs_no_config_and_takes_a_source_region_prior(tmp_path: Path) -> None:
    assert not (tmp_path / "config" / "syndicator.toml").exists()
    text = "Clashes in Almaty\nTroops fired on protesters in Almaty, Kazakhstan, on Wednesday."
    result = _cli("tag", text, "--region", "KZ", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    kz = _by(json.loads(result.stdout)["regions"], "code")["KZ"]
    assert kz["focus"] is True
    assert "source region" in kz["evidence"]
    assert any("Almaty" in reason for reason in kz["evidence"])

    unknown = _cli("tag", text, "--region", "XX", cwd=tmp_path)
    assert unknown.returncode == 1
    assert "--region" in unknown.stderr
    assert "'XX'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert unknown.stdout == ""


def test_tag_takes_the_feeds_language_for_a_headline_too_short_to_tell(tmp_path: Path) -> None:
    title = "Incendie à Marseille : trois morts"
    plain = _cli("tag", title, "--json", cwd=tmp_path)
    french = _cli("tag", title, "--language", "fr-FR", "--json", cwd=tmp_path)
    assert plain.returncode == french.returncode == 0, plain.stderr + french.stderr
    assert "disaster" not in _by(json.loads(plain.stdout)["topics"], "slug")  # read as English
    assert _by(json.loads(french.stdout)["topics"], "slug")["disaster"]["focus"] is True

    line = json.dumps({"id": "m", "title": title, "text": "", "language": "fr"})
    batch = _cli("tag", "--jsonl", cwd=tmp_path, stdin=line + "\n")
    assert batch.returncode == 0, batch.stderr
    assert "disaster" in _by(json.loads(batch.stdout)["topics"], "slug")


def test_tag_evidence_reads_the_same_in_every_process(tmp_path: Path) -> None:
    text = (
        "China's currency slips\nThe yuan fell as the renminbi traded lower in Beijing; "
        "the tenge and the rouble held."
    )
    outputs = set()
    for seed in ("1", "2", "3", "4", "5", "6"):
        result = _cli("tag", text, "--json", cwd=tmp_path, hash_seed=seed)
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_a_topic_at_exactly_half_the_best_is_a_focus_in_every_process(tmp_path: Path) -> None:
    """Daring Fireball's Amicus story (feeds-real): economy's evidence is exactly half of
    science's, so the order the words were summed in (string hashing) used to decide whether
    it was a focus; under seeds 20, 27 and 30 it was not."""
    story = {
        "title": "Microsoft Will File Amicus Brief Supporting Apple",
        "text": "Dina Bass, reporting for Bloomberg:\n\nMicrosoft Corp. backs Apple Inc. in its "
        "fight with the U.S.\ngovernment over unlocking a terrorist\u2019s iPhone, said "
        "President and\nChief Legal Officer Brad Smith.\n\nThe company will file an amicus "
        "brief to support Apple next week,\nSmith said at a congressional hearing to discuss "
        "the need for new\nlegislation to govern privacy, security and law enforcement in the\n"
        "age of Internet-based cloud services.\n\nNice.\n\n\u2605",
    }
    outputs = set()
    for seed in ("1", "20", "27", "30"):
        result = _cli("tag", "--jsonl", cwd=tmp_path, stdin=json.dumps(story), hash_seed=seed)
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    (output,) = outputs
    assert _by(json.loads(output)["topics"], "slug")["economy"]["focus"] is True


# ---------------------------------------------------------------------------------------------
# `run --once` on two loopback feeds, then search, explain, the automatic feeds and a section.


@dataclass(frozen=True)
class Polled:
    """One `run --once` over the two test feeds: where it ran and what it polled."""

    root: Path
    config: Path
    steppe: str  # the source with region = "KZ"
    world: str


STEPPE_LINES = 'name = "Steppe"\nregion = "KZ"'


SECTION = """
[[sections]]
slug = "central-asia"
title = "Central Asia"
regions = ["Central Asia"]
"""


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polled]:
    server = FeedServer()
    server.start()
    try:
        server.routes["/steppe.rss"] = Route(rss([KZ_STORY], "Steppe News"))
        server.routes["/world.rss"] = Route(rss([FOOTBALL_STORY, GEORGIA_STORY], "World Wire"))
        root = tmp_path_factory.mktemp("polled")
        steppe, world = server.url("/steppe.rss"), server.url("/world.rss")
        config = _config(root, [(steppe, STEPPE_LINES), (world, "")], SECTION)
        result = syndicator("--config", str(config), "run", "--once", cwd=root)
        assert result.returncode == 0, result.stderr
        for title in (KZ_TITLE, FOOTBALL_TITLE, GEORGIA_TITLE):  # a source failing exits 0
            _ids(root, title)
        yield Polled(root, config, steppe, world)
    finally:
        server.stop()


def _copy(polled: Polled, tmp: Path, world_lines: str = "", extra: str = SECTION) -> Path:
    """The polled store and feeds copied under tmp, with a config for them there."""
    shutil.copytree(polled.root / "db", tmp / "db")
    shutil.copytree(polled.root / "feeds", tmp / "feeds")
    return _config(tmp, [(polled.steppe, STEPPE_LINES), (polled.world, world_lines)], extra)


def _search(config: Path, query: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The titles `syndicator search QUERY --json` prints (in-process)."""
    capsys.readouterr()
    search_stories(load_settings(config), query, 20, as_json=True)
    return [cluster["title"] for cluster in json.loads(capsys.readouterr().out)]


def _explain(config: Path, reference: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What `syndicator explain REFERENCE --json` prints (in-process)."""
    capsys.readouterr()
    assert explain(load_settings(config), reference, as_json=True) == 0
    record: dict[str, Any] = json.loads(capsys.readouterr().out)
    return record


def _entries(path: Path) -> list[etree._Element]:
    check_atom(path)
    return etree.parse(str(path)).getroot().findall(f"{ATOM}entry")


def _titles(path: Path) -> list[str]:
    return [entry.findtext(f"{ATOM}title") or "" for entry in _entries(path)]


def test_search_filters_by_region_and_topic_focus(
    polled: Polled, capsys: pytest.CaptureFixture[str]
) -> None:
    config = polled.config
    assert _search(config, "region:KZ", capsys) == [KZ_TITLE]
    assert _search(config, "region:kz", capsys) == [KZ_TITLE]
    assert _search(config, 'region:"Central Asia"', capsys) == [KZ_TITLE]
    assert _search(config, "region:Asia", capsys) == [KZ_TITLE]
    assert _search(config, "topic:sport", capsys) == [FOOTBALL_TITLE]
    assert _search(config, "topic:conflict", capsys) == [KZ_TITLE]
    assert _search(config, "region:GE", capsys) == []  # Georgia the US state
    assert _search(config, "region:US topic:politics", capsys) == [GEORGIA_TITLE]
    assert _search(config, "protesters region:KZ", capsys) == [KZ_TITLE]
    assert _search(config, "football region:KZ", capsys) == []
    assert _search(config, "source:Steppe", capsys) == [KZ_TITLE]
    everywhere = _search(config, "region:KZ OR region:US", capsys)
    assert sorted(everywhere) == sorted([KZ_TITLE, GEORGIA_TITLE])
    assert _search(config, "region:KZ region:US", capsys) == []  # both at once: none
    assert _search(config, "region:Asia -topic:sport", capsys) == [KZ_TITLE]

    unknown = syndicator("--config", str(config), "search", "region:XX", cwd=polled.root)
    assert unknown.returncode == 1
    assert "region:XX" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_explain_shows_each_tag_with_its_evidence(
    polled: Polled, capsys: pytest.CaptureFixture[str]
) -> None:
    story_id, cluster_id = _ids(polled.root, KZ_TITLE)
    result = syndicator(
        "--config", str(polled.config), "explain", f"story:{story_id}", "--json", cwd=polled.root
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["cluster_id"] == cluster_id
    regions = _by(record["tags"]["regions"], "code")
    assert {"KZ", "Central Asia", "Asia"} <= regions.keys()
    kz = regions["KZ"]
    assert kz["label"] == "Kazakhstan"
    assert kz["focus"] is True
    assert 'dateline: "Almaty"' in kz["evidence"]
    assert "source region" in kz["evidence"]  # the Steppe source has region = "KZ"
    assert regions["Central Asia"]["evidence"] == ["from KZ"]
    topics = _by(record["tags"]["topics"], "slug")
    assert topics["conflict"]["focus"] is True
    for tag in [*record["tags"]["regions"], *record["tags"]["topics"]]:
        assert isinstance(tag["evidence"], list)
        assert tag["evidence"]
        assert all(isinstance(reason, str) and reason for reason in tag["evidence"])

    georgia_id, _ = _ids(polled.root, GEORGIA_TITLE)
    georgia = _by(_explain(polled.config, f"story:{georgia_id}", capsys)["tags"]["regions"], "code")
    assert georgia["US"]["focus"] is True
    assert "GE" not in georgia
    assert "Northern America" in georgia


def test_publishing_writes_region_and_topic_feeds_and_fills_sections_by_region(
    polled: Polled,
) -> None:
    out = polled.root / "feeds"
    feeds = out / "feeds"
    kz_feed = feeds / "regions" / "kz.atom"
    assert _titles(kz_feed) == [KZ_TITLE]
    categories = [
        (c.get("term"), c.get("scheme"), c.get("label"))
        for c in _entries(kz_feed)[0].findall(f"{ATOM}category")
    ]
    assert ("KZ", "http://feeds.test/regions", "Kazakhstan") in categories
    assert ("Central Asia", "http://feeds.test/regions", "Central Asia") in categories
    assert _titles(feeds / "regions" / "central-asia.atom") == [KZ_TITLE]
    assert _titles(feeds / "regions" / "asia.atom") == [KZ_TITLE]
    assert _titles(feeds / "regions" / "us.atom") == [GEORGIA_TITLE]
    assert _titles(feeds / "topics" / "sport.atom") == [FOOTBALL_TITLE]
    assert _titles(feeds / "topics" / "conflict.atom") == [KZ_TITLE]
    assert _titles(feeds / "regions" / "africa.atom") == []  # every M49 region, even empty
    assert _titles(feeds / "topics" / "weather.atom") == []  # every topic, even empty
    assert not (feeds / "regions" / "ge.atom").exists()  # no story is about Georgia
    assert not (feeds / "regions" / "cn.atom").exists()  # countries only with a story
    # The configured section holds only the story about a Central Asian country.
    assert _titles(feeds / "central-asia.atom") == [KZ_TITLE]
    assert sorted(_titles(feeds / "all.atom")) == sorted([KZ_TITLE, FOOTBALL_TITLE, GEORGIA_TITLE])

    opml = etree.parse(str(out / "feeds.opml")).getroot()
    listed = [outline.get("xmlUrl") or "" for outline in opml.iter("outline")]
    assert "http://feeds.test/feeds/regions/kz.atom" in listed
    assert "http://feeds.test/feeds/regions/central-asia.atom" in listed
    assert "http://feeds.test/feeds/topics/sport.atom" in listed
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "feeds/regions/kz.atom" in index
    assert "feeds/topics/conflict.atom" in index


# ---------------------------------------------------------------------------------------------
# `[[topics]]` in the config, `check`, and `retag`.


def test_check_names_a_bad_topics_table_and_a_section_with_an_unknown_topic(
    tmp_path: Path,
) -> None:
    config = _config(
        tmp_path,
        [],
        '[[topics]]\nslug = "conflict"\ncolour = "red"\n\n'
        '[[sections]]\nslug = "wars"\ntopics = ["conflict", "nosuch"]\n',
    )
    result = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 1
    assert "topics[0].colour: unknown key" in result.stdout
    problem = next(line for line in result.stdout.splitlines() if "sections[0].topics" in line)
    assert "'nosuch'" in problem
    assert "'conflict'" not in problem
    assert "Traceback" not in result.stdout + result.stderr


def test_a_configured_topic_tags_texts_and_sections_may_name_it(tmp_path: Path) -> None:
    config = _config(
        tmp_path, [], ENERGY_TOPIC + '\n[[sections]]\nslug = "energy"\ntopics = ["energy"]\n'
    )
    checked = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    text = "New oil pipeline opens\nThe pipeline carries crude oil from the Caspian coast."
    result = syndicator("--config", str(config), "tag", text, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _by(json.loads(result.stdout)["topics"], "slug")["energy"]["focus"] is True


def test_check_says_a_new_topic_needs_a_label(tmp_path: Path) -> None:
    config = _config(tmp_path, [], '[[topics]]\nslug = "energy"\nterms = { "oil" = 2 }\n')
    result = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 1
    problems = result.stdout.splitlines()[1:]
    assert len(problems) == 1, problems
    assert "energy" in problems[0]
    assert "label" in problems[0]


def test_tag_labels_a_configured_topic_with_its_configured_label(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In-process with the settings a valid [[topics]] table gives, past the config bug above.
    overrides, replace = parse_overrides(
        {"topics": [{"slug": "energy", "label": "Energy", "terms": {"pipeline": 3, "oil": 2}}]},
        "topics",
    )
    args = build_parser().parse_args(["tag", "Oil pipeline opens\nThe oil pipeline", "--json"])
    assert tag_command(args, TopicSettings(overrides, replace)) == 0
    energy = _by(json.loads(capsys.readouterr().out)["topics"], "slug")["energy"]
    assert energy["label"] == "Energy"


def test_a_repoll_keeps_the_tags_and_retag_applies_a_new_source_region_idempotently(
    polled: Polled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _copy(polled, tmp_path, world_lines='region = "US"')
    before = _tag_rows(tmp_path)
    assert before
    # The second `run --once` polls the same entries again: nothing is stored twice, no tag
    # row is added or changed. The run syncs the new region into the store's sources table,
    # but it does not tag the stories it already has: that is what `retag` is for.
    ran = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert _tag_rows(tmp_path) == before  # same rows, same scores, same evidence
    assert _titles(tmp_path / "feeds" / "feeds" / "regions" / "kz.atom") == [KZ_TITLE]
    assert "source region" not in _cluster_tags(tmp_path, GEORGIA_TITLE)["US"][1]

    retagged = syndicator("--config", str(config), "retag", cwd=tmp_path)
    assert retagged.returncode == 0, retagged.stderr
    assert retagged.stdout.startswith("re-tagged 3 cluster(s) in ")
    georgia_id, _ = _ids(tmp_path, GEORGIA_TITLE)
    us = _by(_explain(config, f"story:{georgia_id}", capsys)["tags"]["regions"], "code")["US"]
    assert "source region" in us["evidence"]
    assert us["focus"] is True
    assert "US" not in _cluster_tags(tmp_path, FOOTBALL_TITLE)  # a prior alone tags nothing
    after = _tag_rows(tmp_path)
    assert len(after) == len(before)  # replaced, not added to

    again = syndicator("--config", str(config), "retag", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _tag_rows(tmp_path) == after


def test_retag_right_after_a_region_is_added_to_a_source_uses_it(
    polled: Polled, tmp_path: Path
) -> None:
    config = _copy(polled, tmp_path, world_lines='region = "US"')
    retagged = syndicator("--config", str(config), "retag", cwd=tmp_path)
    assert retagged.returncode == 0, retagged.stderr
    assert "source region" in _cluster_tags(tmp_path, GEORGIA_TITLE)["US"][1]


def test_retag_after_a_new_topic_is_configured_tags_stored_stories_with_it(
    polled: Polled, tmp_path: Path
) -> None:
    config = _copy(polled, tmp_path, extra=SECTION + ENERGY_TOPIC)
    count = len(_tag_rows(tmp_path))
    retagged = syndicator("--config", str(config), "retag", cwd=tmp_path)
    assert retagged.returncode == 0, retagged.stderr
    assert "re-tagged 3 cluster(s)" in retagged.stdout
    assert "energy" in _cluster_tags(tmp_path, KZ_TITLE)  # "oil pipeline" in the Almaty story
    assert len(_tag_rows(tmp_path)) == count + 1
