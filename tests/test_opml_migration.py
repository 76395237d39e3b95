"""Moving a desk's subscriptions in and out: `sources import`, `run`, `status`, `sources export`
as real subprocesses, with OPML as other readers (Miniflux, FreshRSS, Inoreader, Feedly,
NetNewsWire, Thunderbird, Newsboat) write it, and feeds on a loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from syndicator.opml import parse_opml
from tests.conftest import FeedServer, Route, rss, syndicator, write_config

# As Miniflux and Inoreader export it: one level of folders, a feed may be in two of them.
FOLDERS_OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Miniflux</title></head>
  <body>
    <outline text="World" title="World">
      <outline title="Wire" text="Wire" xmlUrl="https://wire.example/rss"
               htmlUrl="https://wire.example/"/>
      <outline title="Asia" text="Asia">
        <outline title="Eurasianet" text="Eurasianet" xmlUrl="https://eurasianet.org/rss"/>
      </outline>
    </outline>
    <outline title="Loose" text="Loose" xmlUrl="https://loose.example/feed"/>
    <outline text="Tech &amp; Science" title="Tech &amp; Science">
      <outline title="A &lt;b&gt; &amp; &quot;c&quot;" text="abc" xmlUrl="https://abc.example/f"/>
    </outline>
  </body>
</opml>
"""


def _import(config: Path, opml: Path, *more: str) -> str:
    result = syndicator(
        "--config", str(config), "sources", "import", str(opml), *more, cwd=opml.parent
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _export(config: Path) -> bytes:
    result = syndicator("--config", str(config), "sources", "export", cwd=config.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout.encode("utf-8")


def test_export_gives_back_the_folders_the_import_read(tmp_path: Path) -> None:
    """Folders come in as `# categories:` comments and go out as nested folder outlines, the
    only form Miniflux, Feedly or NetNewsWire read back (they ignore a `category` attribute)."""
    config = write_config(tmp_path, [])
    opml = tmp_path / "miniflux.opml"
    opml.write_text(FOLDERS_OPML, encoding="utf-8")
    _import(config, opml)

    exported = _export(config)
    folders = {(feed.url, feed.categories) for feed in parse_opml(exported, strict=True)}
    assert folders == {(feed.url, feed.categories) for feed in parse_opml(opml.read_bytes())}
    assert b"category=" not in exported
    assert b'<outline text="World" title="World">' in exported
    assert b'<outline text="Tech &amp; Science" title="Tech &amp; Science">' in exported

    # The export moves to a second installation with its folders and titles intact.
    (tmp_path / "other").mkdir()
    other = write_config(tmp_path / "other", [])
    moved = tmp_path / "other" / "export.opml"
    moved.write_bytes(exported)
    assert "4 source(s) added" in _import(other, moved)
    assert config.read_text().splitlines()[-16:] == other.read_text().splitlines()[-16:]
    sources = tomllib.loads(other.read_text())["sources"]
    assert {s["name"] for s in sources} == {"Wire", "Eurasianet", "Loose", 'A <b> & "c"'}


def test_a_moved_source_is_exported_where_its_feed_is(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A 301 and an HTML page found by autodiscovery: the export names the feeds polled, with
    their sites (another reader does not look for a feed in a page), and importing that export
    back adds nothing."""
    feed_server.routes["/old.rss"] = Route(
        b"", status=301, headers={"Location": feed_server.url("/new.rss")}
    )
    feed_server.routes["/new.rss"] = Route(rss([{"title": "Moved", "guid": "m-1"}], "Moved"))
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/found.rss">'
    feed_server.routes["/news/"] = Route(page, content_type="text/html; charset=utf-8")
    feed_server.routes["/found.rss"] = Route(rss([{"title": "Found", "guid": "f-1"}], "Found"))
    config = write_config(tmp_path, [feed_server.url("/old.rss"), feed_server.url("/news/")])
    ran = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr

    exported = parse_opml(_export(config), strict=True)
    assert [(feed.url, feed.html_url, feed.title) for feed in exported] == [
        (feed_server.url("/new.rss"), "https://wire.example/", "Moved"),
        (feed_server.url("/found.rss"), "https://wire.example/", "Found"),
    ]
    back = tmp_path / "export.opml"
    back.write_bytes(_export(config))
    assert "0 source(s) added to" in _import(config, back)
    assert "2 already configured" in _import(config, back)


def test_status_lists_imported_sources_before_their_first_poll(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`status` right after an import shows what will run: the new sources as new, and not a
    source the config no longer has (the store learns both at the next run or SIGHUP)."""
    feed_server.routes["/wire.rss"] = Route(rss([{"title": "Hello", "guid": "h-1"}], "Wire"))
    config = write_config(tmp_path, [feed_server.url("/wire.rss")])
    ran = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    opml = tmp_path / "newsboat.opml"
    opml.write_text(
        '<opml version="1.0"><body>\n'
        '<outline type="rss" text="Fresh" xmlUrl="https://fresh.example/rss"/>\n'
        '<outline type="rss" text="Later" xmlUrl="https://later.example/rss"/>\n'
        "</body></opml>\n",
        encoding="utf-8",
    )
    _import(config, opml)
    text = config.read_text().replace('later.example/rss"', 'later.example/rss"\nenabled = false')
    config.write_text(text, encoding="utf-8")

    result = syndicator("--config", str(config), "status", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(s["url"], s["state"], s["stories"]) for s in json.loads(result.stdout)] == [
        (feed_server.url("/wire.rss"), "ok", 1),
        ("https://fresh.example/rss", "new", 0),
        ("https://later.example/rss", "disabled", 0),
    ]
    table = syndicator("--config", str(config), "status", cwd=tmp_path).stdout
    assert (
        "new             0    -  -                 -                 Fresh <https://fresh" in table
    )

    wire_table = f'[[sources]]\nurl = "{feed_server.url("/wire.rss")}"\n'
    config.write_text(text.replace(wire_table, ""), encoding="utf-8")
    again = syndicator("--config", str(config), "status", "--json", cwd=tmp_path)
    assert [s["url"] for s in json.loads(again.stdout)] == [
        "https://fresh.example/rss",
        "https://later.example/rss",
    ]


def test_import_rewrites_a_symlinked_config_where_it_lives(tmp_path: Path) -> None:
    """/etc/syndicator/syndicator.toml is often a link into a checkout: the link stays a link,
    and the file it points to gets the sources (the link was replaced by a new file)."""
    (tmp_path / "checkout").mkdir()
    real = write_config(tmp_path / "checkout", [])
    real.chmod(0o640)
    link = tmp_path / "syndicator.toml"
    link.symlink_to(real)
    opml = tmp_path / "subs.opml"
    opml.write_text(FOLDERS_OPML, encoding="utf-8")
    assert "4 source(s) added" in _import(link, opml)
    assert link.is_symlink()
    assert len(tomllib.loads(real.read_text())["sources"]) == 4
    assert real.stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_sudo_import_keeps_the_config_readable_by_the_daemons_user(tmp_path: Path) -> None:
    """The unit runs as User=syndicator; `sudo syndicator sources import` gave the config to
    root (mode 0640 kept), so the daemon could no longer read it on SIGHUP or at its restart."""
    config = write_config(tmp_path, [])
    os.chown(config, 4242, 4343)
    config.chmod(0o640)
    opml = tmp_path / "subs.opml"
    opml.write_text(FOLDERS_OPML, encoding="utf-8")
    _import(config, opml)
    written = config.stat()
    assert (written.st_uid, written.st_gid, written.st_mode & 0o777) == (4242, 4343, 0o640)
    assert len(tomllib.loads(config.read_text())["sources"]) == 4


def test_an_imported_url_never_carries_an_environment_secret(
    tmp_path: Path, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config reads `${NAME}` as an environment variable: a shared OPML with
    `xmlUrl="...?k=${SMTP_PASSWORD}"` was imported as such and the daemon sent the password to
    that server; a title with `${title}` (a template left in a feed) failed the whole import."""
    monkeypatch.setenv("SYNDICATOR_TEST_SMTP_PASSWORD", "s3cret-pw")
    feed_server.routes["/rss"] = Route(rss([{"title": "Bait", "guid": "b-1"}], "Bait"))
    bait = feed_server.url("/rss") + "?k=${SYNDICATOR_TEST_SMTP_PASSWORD}"
    blog = feed_server.url("/blog")
    config = write_config(tmp_path, [])
    opml = tmp_path / "shared.opml"
    opml.write_text(
        '<opml version="2.0"><body>\n'
        f'<outline text="Bait" xmlUrl="{bait}"/>\n'
        f'<outline text="Blog ${{title}}" xmlUrl="{blog}"/>\n'
        "</body></opml>\n",
        encoding="utf-8",
    )
    assert "2 source(s) added" in _import(config, opml)
    ran = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr

    assert sorted(request.path for request in feed_server.requests) == [
        "/blog",
        "/rss?k=$%7BSYNDICATOR_TEST_SMTP_PASSWORD%7D",
    ]
    exported = parse_opml(_export(config), strict=True)
    assert [(feed.url, feed.title) for feed in exported] == [
        (bait, "Bait"),
        (blog, "Blog ${title}"),
    ]


def test_export_to_a_path_it_cannot_write_says_so_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["https://a.example/rss"])
    for target, why in [(tmp_path / "no" / "such.opml", "No such file"), (tmp_path, "directory")]:
        result = syndicator(
            "--config", str(config), "sources", "export", "--output", str(target), cwd=tmp_path
        )
        assert result.returncode == 1
        assert result.stderr.startswith(f"error: {target}: cannot write: ")
        assert why in result.stderr
        assert "Errno" not in result.stderr


def test_import_keeps_the_configs_text_byte_for_byte_crlf_included(tmp_path: Path) -> None:
    """What was in the file stays as it was, comments and Windows line endings too (every
    CRLF became LF), and the new tables end their lines as the file does."""
    lf = write_config(tmp_path, ["https://wire.example/rss"]).read_text(encoding="utf-8")
    config = tmp_path / "windows.toml"
    original = ("# Desk config, edited in Notepad\n" + lf).replace("\n", "\r\n").encode("utf-8")
    config.write_bytes(original)
    opml = tmp_path / "miniflux.opml"
    opml.write_text(FOLDERS_OPML, encoding="utf-8")
    assert "3 source(s) added" in _import(config, opml)
    written = config.read_bytes()
    assert written.startswith(original)
    assert b"\n" not in written.replace(b"\r\n", b"")
    assert len(tomllib.loads(written.decode("utf-8"))["sources"]) == 4


def test_import_does_not_need_the_daemons_secrets(tmp_path: Path) -> None:
    """The unit reads secrets from an EnvironmentFile; the shell that imports a list has none
    of them, and the import failed on "environment variable(s) not set". `check` still needs
    them; a problem that is not an unset variable still keeps the file as it was."""
    channel = """
[channels.hook]
type = "webhook"
url = "${SYNDICATOR_TEST_UNSET_HOOK_URL}"
secret = "${SYNDICATOR_TEST_UNSET_SECRET}"
"""
    config = write_config(tmp_path, [], extra=channel)
    opml = tmp_path / "subs.opml"
    opml.write_text(FOLDERS_OPML, encoding="utf-8")
    assert "4 source(s) added" in _import(config, opml)
    assert len(tomllib.loads(config.read_text())["sources"]) == 4
    checked = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert checked.returncode == 1
    assert (
        "channels.hook.secret: environment variable(s) not set" in checked.stdout + checked.stderr
    )

    broken = config.read_text().replace('type = "webhook"', 'type = "pigeon"')
    config.write_text(broken, encoding="utf-8")
    opml.write_text(FOLDERS_OPML.replace("example", "example.net"), encoding="utf-8")
    refused = syndicator("--config", str(config), "sources", "import", str(opml), cwd=tmp_path)
    assert refused.returncode == 1
    assert "channels.hook.type" in refused.stderr
    assert "not set" not in refused.stderr
    assert config.read_text() == broken


def test_export_does_not_need_the_daemons_secrets(tmp_path: Path) -> None:
    """As import: the channel's secret is the daemon's business. A source URL naming an unset
    variable goes out as written, with a warning (another reader could not poll it)."""
    channel = '\n[channels.hook]\ntype = "webhook"\nurl = "https://hooks.example/"\n'
    channel += 'secret = "${SYNDICATOR_TEST_UNSET_SECRET}"\n'
    paid = "https://paid.example/rss?key=${SYNDICATOR_TEST_UNSET_KEY}"
    config = write_config(tmp_path, ["https://free.example/rss", paid], extra=channel)
    result = syndicator("--config", str(config), "sources", "export", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    exported = parse_opml(result.stdout.encode("utf-8"), strict=True)
    assert [feed.url for feed in exported] == ["https://free.example/rss", paid]
    assert result.stderr == (
        f"warning: {config}: sources[1].url: environment variable(s) not set: "
        "SYNDICATOR_TEST_UNSET_KEY (kept as written, not checked)\n"
    )


def test_a_source_without_a_name_goes_out_under_its_address(tmp_path: Path) -> None:
    """A source with no `name`, not yet polled, went out as `text=""`: OPML 2.0 requires a
    text, and readers (Miniflux, NetNewsWire) listed it as a blank line. Read back, the
    address is not taken for a name (which would hide the feed's own title for good)."""
    unnamed = "https://unnamed.example/rss"
    config = write_config(tmp_path, [unnamed, ("https://named.example/rss", 'name = "Named"')])
    exported = _export(config)
    assert f'<outline type="rss" text="{unnamed}" xmlUrl="{unnamed}" />'.encode() in exported
    assert b'text="Named" title="Named"' in exported

    (tmp_path / "other").mkdir()
    other = write_config(tmp_path / "other", [])
    moved = tmp_path / "other" / "export.opml"
    moved.write_bytes(exported)
    assert "2 source(s) added" in _import(other, moved)
    sources = tomllib.loads(other.read_text())["sources"]
    assert [source.get("name") for source in sources] == [None, "Named"]


def test_a_list_without_feeds_says_so(tmp_path: Path) -> None:
    """An outline document of links, or feeds under `url` instead of OPML's `xmlUrl`: the
    import said only "0 source(s) added, 0 already configured, 0 invalid"."""
    config = write_config(tmp_path, [])
    before = config.read_text()
    opml = tmp_path / "links.opml"
    opml.write_text(
        '<opml version="1.0"><body><outline text="Blogs">'
        '<outline type="rss" text="A" url="https://a.example/rss"/>'
        "</outline></body></opml>",
        encoding="utf-8",
    )
    result = syndicator("--config", str(config), "sources", "import", str(opml), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"warning: {opml}: no feeds: no outline has an xmlUrl\n"
    assert config.read_text() == before


def test_a_config_saved_with_a_byte_order_mark_is_read_and_kept(tmp_path: Path) -> None:
    """Notepad's UTF-8 starts with a BOM: `check` and the import said "not valid TOML:
    Invalid statement (at line 1, column 1)"."""
    config = write_config(tmp_path, ["https://wire.example/rss"])
    original = b"\xef\xbb\xbf" + config.read_bytes()
    config.write_bytes(original)
    checked = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    opml = tmp_path / "miniflux.opml"
    opml.write_text(FOLDERS_OPML, encoding="utf-8")
    assert "3 source(s) added" in _import(config, opml)
    assert config.read_bytes().startswith(original)


def test_a_disabled_source_moves_as_disabled(tmp_path: Path) -> None:
    """`enabled = false` goes out as OPML 2.0's isComment="true" and comes back as itself: the
    second installation polled a source the desk had switched off."""
    config = write_config(
        tmp_path, ["https://on.example/rss", ("https://off.example/rss", "enabled = false")]
    )
    (tmp_path / "other").mkdir()
    other = write_config(tmp_path / "other", [])
    moved = tmp_path / "other" / "export.opml"
    moved.write_bytes(_export(config))
    assert "2 source(s) added" in _import(other, moved)
    sources = tomllib.loads(other.read_text())["sources"]
    assert [(s["url"], s.get("enabled", True)) for s in sources] == [
        ("https://on.example/rss", True),
        ("https://off.example/rss", False),
    ]


def test_the_same_feed_by_http_and_https_is_pointed_out(tmp_path: Path) -> None:
    """Lists merged from two readers hold http://a/feed/ and https://a/feed: both go in (they
    can differ), with a note, rather than silently polling one feed twice."""
    config = write_config(tmp_path, ["http://ab.example/feed/"])
    opml = tmp_path / "merged.opml"
    opml.write_text(
        '<opml version="2.0"><body>\n'
        '<outline text="AB" xmlUrl="https://ab.example/feed"/>\n'
        '<outline text="CD" xmlUrl="https://cd.example/rss"/>\n'
        '<outline text="CD again" xmlUrl="http://CD.example/rss/"/>\n'
        "</body></opml>\n",
        encoding="utf-8",
    )
    result = syndicator("--config", str(config), "sources", "import", str(opml), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 source(s) added" in result.stdout
    assert result.stderr.splitlines() == [
        "note: https://ab.example/feed: added; http://ab.example/feed/ differs only in http(s)"
        " or a final /",
        "note: http://CD.example/rss/: added; https://cd.example/rss differs only in http(s)"
        " or a final /",
    ]


def test_export_to_stdout_is_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """`syndicator sources export > feeds.opml` where stdout is cp1252 (Windows, a Latin-1
    locale): the document says UTF-8, and a Cyrillic title came out as "\\u041d..." text."""
    config = write_config(tmp_path, [("https://kz.example/rss", 'name = "Новости Казахстана"')])
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "sources", "export"],
        cwd=tmp_path,
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "cp1252"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [feed] = parse_opml(result.stdout, strict=True)
    assert feed.title == "Новости Казахстана"
