"""The README's configuration reference is generated from the key table and kept current."""

from __future__ import annotations

from pathlib import Path

from syndicator.config import reference_table

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
