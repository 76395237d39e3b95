"""The batch form of tagging (`syndicator tag --jsonl`): JSON lines in, JSON lines out.

What it does: turns numbered input lines, each a `{"id", "title", "text"}` object (with an
optional "language", the tag its feed declares), into
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

from syndicator.models import TagKind
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
    try:
        item = json.loads(line)
        if not isinstance(item, dict):
            raise ValueError("expected a JSON object")
        title, text = str(item.get("title") or ""), str(item.get("text") or "")
        language = str(item.get("language") or "")
    except ValueError as e:
        message = f"stdin line {number}: {e}"
        return TaggedLine(json.dumps({"id": None, "line": number, "error": str(e)}), message)
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
