"""The README's configuration reference is generated from the key table and kept current."""

from __future__ import annotations

import re
from pathlib import Path

from syndicator.config import reference_table
from syndicator.errors import ConfigError

README = Path(__file__).resolve().parent.parent / "README.md"


def test_configuration_reference_is_current() -> None:
    assert reference_table() in README.read_text(encoding="utf-8"), (
        "README.md is out of date: run .venv/bin/python scripts/update_readme.py"
    )


def test_every_command_is_documented() -> None:
    readme = README.read_text(encoding="utf-8")
    for command in (
        "syndicator run",
        "syndicator run --once",
        "syndicator check",
        "syndicator status",
        "syndicator publish",
        "syndicator sources import",
        "syndicator sources export",
        "syndicator sources enable",
        "syndicator demo",
        "syndicator serve",
        "syndicator search",
        "syndicator explain",
        "syndicator tag",
        "syndicator retag",
        "syndicator recluster",
    ):
        assert f"`{command}" in readme, command


def test_every_default_in_the_reference_is_a_value_the_config_accepts() -> None:
    """A reader copies a default from the table into the file: `threshold = "0.45"`, as the
    table showed it, was refused ("expected a number between 0 and 1, got a string")."""
    from syndicator.config import KEYS

    table = reference_table()
    shown = dict(re.findall(r"^\| `([^`]+)` \| [^|]+ \| ([^|]+?) \|", table, re.MULTILINE))
    written = {
        key.path: shown[key.path]
        for key in KEYS
        if key.path in shown and shown[key.path] not in ("required", "(empty)")
    }
    assert written["dedup.threshold"] == "0.45"
    for path, value in written.items():
        table_name, name = path.rsplit(".", 1)
        if table_name.endswith("[]"):
            config = f"[[{table_name[:-2]}]]\n{name} = {value}\n"
        elif table_name == "channels.<name>":
            continue  # their defaults are strings and numbers of the kinds checked above
        else:
            config = f"[{table_name}]\n{name} = {value}\n"
        problem_key = f"{table_name[:-2]}[0].{name}" if table_name.endswith("[]") else path
        assert not [p for p in _problems(config) if p.startswith(f"{problem_key}:")], (path, value)


def _problems(config: str) -> list[str]:
    """What the config loader says of a file (other required keys of a table may be missing)."""
    from syndicator.config import parse_settings

    try:
        parse_settings(config, Path("defaults.toml"), {})
    except ConfigError as e:
        return e.problems
    return []


def test_the_reference_has_no_angle_brackets_markdown_would_take_for_html() -> None:
    """`feeds/<slug>.atom` outside backquotes showed as "feeds/.atom" on GitHub: Markdown
    passes `<slug>` through as an HTML tag, and the renderer drops it."""
    outside_code = re.sub(r"`[^`]*`", "", reference_table())
    assert not re.findall(r"<[A-Za-z][^>\s]*>", outside_code)
