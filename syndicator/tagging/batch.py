"""The batch form of tagging (`syndicator tag --jsonl`): JSON lines in, JSON lines out.

What it does: turns numbered input lines, each a `{"id", "title", "text"}` object (with an
optional "language", the tag its feed declares, checked), into
output lines `{"id", "regions": [{"code", "score", "focus"}], "topics": [{"slug", "score",
"focus"}]}`, in order; a line that is not such an object (not JSON, or a title or text
that is not a string) becomes `{"id": null, "line": N, "error": ...}` (its "id" when it
has one) with a message naming its line, and the others go on.

What it does not do: read stdin or write stdout, or run processes (the CLI does; chunks of
lines are independent, so it can hand them to worker processes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from syndicator.models import LANGUAGE_TAG, TagKind
from syndicator.tagging.tagger import TagContext, tag_story


@dataclass(frozen=True, slots=True)
class TaggedLine:
    """One output line, and the error message for stderr when the input line was bad."""

    output: str
    error: str | None = None


def tag_lines(context: TagContext, lines: Sequence[tuple[int, str]]) -> list[TaggedLine]:
    """Tag numbered JSON lines; blank lines give nothing."""
    return [_tag_line(context, number, line) for number, line in lines if line.strip()]


def _tag_line(context: TagContext, number: int, line: str) -> TaggedLine:
    item: object = None
    try:
        item = json.loads(line)
        if not isinstance(item, dict):
            raise ValueError("expected a JSON object")
        title, text = _text(item, "title"), _text(item, "text")
        language = _language(item.get("language"))
    except ValueError as e:
        known = item.get("id") if isinstance(item, dict) else None
        message = f"stdin line {number}: {e}"
        error = {"id": known, "line": number, "error": str(e)}
        return TaggedLine(json.dumps(error, ensure_ascii=False), message)
    tags = tag_story(context, title, text, language=language)
    result = {
        "id": item.get("id"),
        "regions": [
            {"code": t.code, "score": t.score, "focus": t.focus}
            for t in tags
            if t.kind is TagKind.REGION
        ],
        "topics": [
            {"slug": t.code, "score": t.score, "focus": t.focus}
            for t in tags
            if t.kind is TagKind.TOPIC
        ],
    }
    return TaggedLine(json.dumps(result, ensure_ascii=False))


def _text(item: dict[str, object], key: str) -> str:
    """A line's "title" or "text": a string, or absent or null for none. Anything else is
    a mistake in the script that wrote the line (a list of paragraphs, an object), which
    tagging its Python repr would hide."""
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
        shown = shown if len(shown) <= 40 else f"{shown[:37]}..."
        raise ValueError(f'"{key}": expected a string, got {shown}')
    return value


def _language(value: object) -> str:
    """The "language" of a line: absent, null or "" for none, else a tag such as "pt-BR"."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not LANGUAGE_TAG.fullmatch(value.strip()):
        shown = json.dumps(value, ensure_ascii=False)
        raise ValueError(
            f'"language": expected a language tag such as "fr" or "pt-BR", got {shown}'
        )
    return value.strip()
