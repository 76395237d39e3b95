"""The batch form of tagging (`syndicator tag --jsonl`): JSON lines in, JSON lines out.

What it does: turns numbered input lines, each a `{"id", "title", "text"}` object (with an
optional "language", the tag its feed declares, checked), into
output lines `{"id", "regions": [{"code", "score", "focus"}], "topics": [{"slug", "score",
"focus"}]}`, in order; a line that is not such an object becomes `{"id": null, "line": N,
"error": ...}` with a message naming its line, and the others go on.

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
        title, text = str(item.get("title") or ""), str(item.get("text") or "")
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
