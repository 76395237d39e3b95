"""Regenerate the configuration reference in README.md from `syndicator.config.KEYS`.

Usage: .venv/bin/python scripts/update_readme.py  (tests/test_readme.py checks it is current)
"""

from __future__ import annotations

from pathlib import Path

from syndicator.config import reference_table

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->\n"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    README.write_text(before + START + reference_table() + END + after, encoding="utf-8")


if __name__ == "__main__":
    main()
