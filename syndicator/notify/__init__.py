"""Alert delivery values shared by the senders: one message in, one `SendResult` out.

`AlertMessage` is what the outbox hands to a sender (`notify.email.send_email`,
`notify.webhook.send_webhook`); `SendResult` is what comes back, classified so the outbox knows
whether to mark the row sent, retry it later, give up, or disable a channel the peer says is
gone. The small text helpers keep both senders' wording and trimming alike.

This module is stdlib only and does no I/O: it neither sends, schedules, retries nor stores.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One matched story (cluster) as an alert shows it."""

    cluster_id: int
    title: str
    link: str  # the representative story's URL ("" if none)
    summary: str  # clean text, may be long: senders trim it for display
    published_at: datetime  # UTC-aware
    regions: tuple[tuple[str, str], ...]  # (code, readable label), e.g. ("KZ", "Kazakhstan")
    topics: tuple[tuple[str, str], ...]  # (slug, label)
    sources: tuple[tuple[str, str], ...]  # (source name, story URL), first source first


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One delivery of one alert over one channel: an immediate alert or a digest."""

    delivery_id: str  # stable across retries: the webhook-id and the email's Message-ID
    alert: str  # the alert's name (a slug)
    query: str
    items: tuple[AlertItem, ...]
    held_back: int  # matched items left for the next message (max items / rate limit)
    created_at: datetime  # UTC; when the message was made, not when it is sent
    feed_url: str  # the alert's Atom feed (feeds/alerts/<name>.atom), for "see all"
    digest: bool  # a scheduled digest (True) or an immediate alert (False)
    timezone: str = "UTC"  # the alert's `timezone`: the times a reader is shown are in it


class Outcome(StrEnum):
    """What the outbox should do with a delivery after one attempt."""

    SENT = "sent"
    RETRY = "retry"  # transient: try again later (after `retry_after` when given)
    GONE = "gone"  # the peer says the endpoint no longer exists: disable the channel
    FAILED = "failed"  # permanent: retrying the same message cannot succeed


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one send attempt. `detail` is readable and never holds a secret."""

    outcome: Outcome
    detail: str
    retry_after: timedelta | None = None  # from the peer's Retry-After, when it gave one


# ---------------------------------------------------------------------------------------------
# Text helpers shared by the senders (pure).

# Characters that end or fake a line anywhere (CR, LF, NEL, U+2028/9, other C0/C1 controls)
# and invisible direction overrides that could make a title display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES = re.compile(r"\s+")


def clean_line(text: str, limit: int | None = None) -> str:
    """`text` as one safe line: controls and line breaks become spaces, runs of white space
    collapse, lone surrogates become U+FFFD; shortened to `limit` characters when given."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be encoded
    chars = (
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if ch not in _BIDI_CONTROLS
    )
    line = _SPACES.sub(" ", "".join(chars)).strip()
    return shorten(line, limit) if limit is not None else line


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near, with an
    ellipsis when anything was cut."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def count_phrase(message: AlertMessage) -> str:
    """'1 new story', '3 new stories', or 'digest: 12 stories' (the count of this message)."""
    count = len(message.items)
    noun = "story" if count == 1 else "stories"
    return f"digest: {count} {noun}" if message.digest else f"{count} new {noun}"


def headline(message: AlertMessage) -> str:
    """'kz-unrest: 3 new stories', the line every sender leads with."""
    return f"{clean_line(message.alert, 100)}: {count_phrase(message)}"


def is_web_url(url: str) -> bool:
    """True for an http(s) URL that is safe to make a link of (no javascript:, data: ...)."""
    has_host = len(url.split("//", 1)[-1]) > 0
    plain = not any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url)
    return url.lower().startswith(("http://", "https://")) and has_host and plain


def shown_time(moment: datetime, zone: str) -> str:
    """A time as a message shows it to a reader: in the alert's zone, with the zone's
    abbreviation ("2026-11-29 17:12 +05", "2026-11-29 13:12 CET", "... UTC")."""
    try:
        local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # `syndicator check` names it
        local = moment.astimezone(UTC)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or 'UTC'}"
