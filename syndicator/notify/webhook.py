"""Alert webhook: one `AlertMessage` -> one signed JSON POST, classified for the outbox.

`build_webhook` is pure: the body in the channel's `format` ("standard", "slack" or "discord")
and the Standard Webhooks headers (`webhook-id` = delivery id, `webhook-timestamp` = send time
in whole seconds, `webhook-signature` = `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`,
one entry per secret while a key is being rotated). `send_webhook` POSTs it with aiohttp and
returns a `SendResult`: 2xx SENT; 410 GONE (and a Slack or Discord webhook's "deleted"
answers); 408, 429 and 5xx RETRY (with Retry-After);
other 4xx FAILED; timeouts and connection errors RETRY. It never retries, schedules or stores.

Decisions:
- Redirects are not followed: a 3xx is FAILED, naming the Location. A webhook that moved
  should be reconfigured, and re-POSTing a signed body to wherever a peer points is how
  SSRF and leaks happen.
- The SSRF guard is `syndicator.netguard`, the one `fetch` applies to sources (same rules,
  same wording), checked before any connection and again after DNS resolution.
- The body's `timestamp` is when the alert was made (`created_at`), as Standard Webhooks
  defines it; only the signed `webhook-timestamp` header is the send time. A retry carries
  the same webhook-id and the same stories; their details are read again at each attempt,
  so a copy that joined a story in between is listed too.
- Through a proxy (the channel's `proxy`), the client connects to the proxy only; the URL is
  judged as written, and its host name refused if it resolves here to a non-public address
  (one that resolves only at the proxy is the proxy's to judge), as `fetch` does.
- Secrets never leave this module: not in a detail, an exception message or a repr. Details
  show URLs without query and with token-like path segments masked, because Slack and
  Discord put their credential in the webhook URL's path.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import quote, urljoin, urlsplit

import aiohttp

from syndicator import __version__
from syndicator.errors import DeliveryError
from syndicator.netguard import RefusedAddress, refusal_reason
from syndicator.netresolve import GuardedResolver, proxied_refusal
from syndicator.notify import (
    AlertItem,
    AlertMessage,
    Outcome,
    SendResult,
    clean_line,
    headline,
    is_web_url,
    shorten,
    shown_time,
)

USER_AGENT = f"syndicator/{__version__} (+https://github.com/syndicator/syndicator)"
FORMATS = ("standard", "slack", "discord")
SECRET_PREFIX = "whsec_"
MAX_RETRY_AFTER = timedelta(days=1)  # a peer cannot park a delivery for longer than this
SUMMARY_CHARS = 2000  # machine-readable payload
DISPLAY_SUMMARY_CHARS = 300  # Slack and Discord
RESPONSE_SNIPPET_BYTES = 300
SLACK_MAX_ITEMS = 40  # Slack allows 50 blocks: a heading, the items, a footer
SLACK_SECTION_CHARS = 3000
SLACK_LINK_CHARS = 600
DISCORD_MAX_EMBEDS = 10
DISCORD_CONTENT_CHARS = 2000
DISCORD_TITLE_CHARS = 256
DISCORD_DESCRIPTION_CHARS = 4096
DISCORD_EMBEDS_TOTAL_CHARS = 6000
MAX_SOURCES_SHOWN = 5


def _format_of(options: Mapping[str, Any]) -> str:
    """The channel's body format: "standard" (the default), "slack" or "discord"."""
    return str(options.get("format") or "standard")


def max_items_per_message(options: Mapping[str, Any]) -> int | None:
    """How many stories one message in the channel's format can show (Slack's sections,
    Discord's embeds), or None when it shows every one. The composer puts no more than that
    in a message, so that what it says comes "in the next message" does."""
    fmt = _format_of(options)
    return {"slack": SLACK_MAX_ITEMS, "discord": DISCORD_MAX_EMBEDS}.get(fmt)


def build_webhook(
    options: Mapping[str, Any], message: AlertMessage, *, now: datetime
) -> tuple[dict[str, str], bytes]:
    """The POST's headers and body for the channel's format; pure. Raises `DeliveryError` for
    an unknown format or a malformed secret (the message names the key, never the value)."""
    fmt = _format_of(options)
    render = _RENDERERS.get(fmt)
    if render is None:
        raise DeliveryError(f"unknown webhook format {fmt!r}: expected one of {FORMATS}")
    payload = render(message)
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    body = text.encode("utf-8", "replace")  # a lone surrogate becomes "?", never an error
    msg_id = _header_token(message.delivery_id)
    timestamp = str(math.floor(_utc(now).timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
    }
    keys = _signing_keys(options)
    if keys:
        headers["webhook-signature"] = sign_payload(keys, msg_id, timestamp, body)
    return headers, body


def sign_payload(keys: list[bytes], msg_id: str, timestamp: str, body: bytes) -> str:
    """Space-separated `v1,<signature>` entries, one per key (Standard Webhooks)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


async def send_webhook(
    options: Mapping[str, Any],
    message: AlertMessage,
    *,
    now: datetime,
    timeout_s: float = 15.0,
    allow_private_addresses: bool = False,
) -> SendResult:
    """POST one alert; never raises for a delivery problem, returns its `SendResult`."""
    url = str(options.get("url", ""))
    proxy = str(options.get("proxy") or "")
    shown = display_url(url)
    if reason := refusal_reason(url, allow_private_addresses):
        return SendResult(Outcome.FAILED, f"{shown}: {_scrub(reason, url, options)}")
    host = urlsplit(url).hostname or ""
    if proxy and not allow_private_addresses and (reason := await proxied_refusal(host)):
        return SendResult(Outcome.FAILED, f"{shown}: refused: {_scrub(reason, url, options)}")
    try:
        headers, body = build_webhook(options, message, now=now)
        async with asyncio.timeout(timeout_s):
            status, response_headers, snippet = await _post(
                url, headers, body, allow_private_addresses, proxy
            )
        result = _classify_response(
            url, status, response_headers, snippet, now=now, fmt=_format_of(options)
        )
    except TimeoutError:
        result = SendResult(Outcome.RETRY, f"timed out after {timeout_s:g}s")
    except Exception as e:  # every failure is a classified outcome, never a crash
        result = _classify_error(e)
    detail = f"{shown}: {_scrub(result.detail, url, options)}"
    return SendResult(result.outcome, detail, result.retry_after)


async def _post(
    url: str, headers: dict[str, str], body: bytes, allow_private_addresses: bool, proxy: str = ""
) -> tuple[int, Mapping[str, str], str]:
    # Through a proxy the connector only ever connects to the proxy: it is not judged.
    resolver = None if allow_private_addresses or proxy else GuardedResolver()
    try:
        connector = aiohttp.TCPConnector(resolver=resolver, limit=1, force_close=True)
        async with (
            aiohttp.ClientSession(
                connector=connector, trust_env=False, proxy=proxy or None
            ) as session,
            session.post(url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            raw = await response.content.read(RESPONSE_SNIPPET_BYTES)
            snippet = clean_line(raw.decode("utf-8", "replace"), 200)
            return response.status, dict(response.headers), snippet
    finally:
        if resolver is not None:
            await resolver.close()


def _classify_response(
    url: str,
    status: int,
    headers: Mapping[str, str],
    snippet: str,
    *,
    now: datetime,
    fmt: str = "",
) -> SendResult:
    """2xx SENT, 410 GONE (and Slack's or Discord's answers for a deleted webhook, see
    `_deleted_webhook`), 408/429/5xx RETRY (with Retry-After), anything else FAILED."""
    said = f": {snippet}" if snippet else ""
    if 200 <= status < 300:
        return SendResult(Outcome.SENT, f"HTTP {status}")
    if status == 410 or _deleted_webhook(fmt, status, snippet):
        return SendResult(
            Outcome.GONE,
            f"HTTP {status}{said}: the receiver says this webhook no longer exists; "
            "remove or fix the channel",
        )
    if status in (408, 429) or 500 <= status < 600:
        retry_after = parse_retry_after(_header(headers, "Retry-After"), now=now)
        wait = f" (Retry-After {retry_after.total_seconds():g}s)" if retry_after else ""
        return SendResult(Outcome.RETRY, f"HTTP {status}{wait}{said}", retry_after)
    if 300 <= status < 400:
        location = _header(headers, "Location")
        target = display_url(urljoin(url, location.strip())) if location else "(no Location)"
        return SendResult(
            Outcome.FAILED,
            f"HTTP {status} redirect to {target} not followed: "
            "set the channel's url to the new address",
        )
    return SendResult(Outcome.FAILED, f"HTTP {status}{said}")


# What Discord and Slack answer once a webhook is deleted or its token revoked: Discord 404
# {"message": "Unknown Webhook", "code": 10015} or 401 {"message": "Invalid Webhook Token",
# "code": 50027}; Slack 404 "no_service" / "channel_not_found", 403 "invalid_token" /
# "no_team" / "team_disabled". Every later message would be refused the same way: like a
# 410, the channel is disabled (one message dead, not every one for good), not retried.
_DISCORD_GONE: Final = ("unknown webhook", "invalid webhook token")
_SLACK_GONE: Final = (
    "no_service",
    "channel_not_found",
    "invalid_token",
    "no_team",
    "team_disabled",
)


def _deleted_webhook(fmt: str, status: int, snippet: str) -> bool:
    """Whether a Slack or Discord webhook's answer says the webhook is gone for good."""
    said = snippet.lower()
    if fmt == "discord" and status in (401, 404):
        return any(marker in said for marker in _DISCORD_GONE)
    if fmt == "slack" and status in (403, 404):
        return any(marker in said for marker in _SLACK_GONE)
    return False


def _classify_error(error: Exception) -> SendResult:
    if isinstance(error, DeliveryError):
        return SendResult(Outcome.FAILED, str(error))
    if isinstance(error, RefusedAddress):
        return SendResult(Outcome.FAILED, f"refused: {error}")
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return SendResult(Outcome.FAILED, "TLS certificate not trusted")
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, RefusedAddress):
            return SendResult(Outcome.FAILED, f"refused: {error.os_error}")
        cause = error.os_error.strerror or type(error.os_error).__name__
        return SendResult(Outcome.RETRY, f"cannot connect: {cause}")
    if isinstance(error, aiohttp.ClientError | OSError):
        return SendResult(Outcome.RETRY, f"{type(error).__name__}: {error}")
    return SendResult(Outcome.FAILED, f"{type(error).__name__}: {error}")


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """Retry-After as a delay: delay-seconds or an HTTP date, clamped to 0..MAX_RETRY_AFTER."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = (_utc(when) - _utc(now)).total_seconds()
    if math.isnan(seconds):
        return None
    return timedelta(seconds=min(max(seconds, 0.0), MAX_RETRY_AFTER.total_seconds()))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)


# ---------------------------------------------------------------------------------------------
# Secrets and what may be shown.


def _signing_keys(options: Mapping[str, Any]) -> list[bytes]:
    keys = []
    for name in ("secret", "previous_secret"):
        value = str(options.get(name) or "").strip()
        if not value:
            continue
        encoded = value.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not key:
            raise DeliveryError(
                f'channel {name} is not a Standard Webhooks secret ("whsec_" + base64)'
            )
        keys.append(key)
    return keys


def _scrub(text: str, url: str, options: Mapping[str, Any]) -> str:
    """`text` without the URL's query or token-like path segments (where Slack and Discord
    keep their credential) or a secret, in case a library or the peer echoed one."""
    try:
        parts = urlsplit(url)
        hidden = [url, parts.query, *filter(_looks_like_token, parts.path.split("/"))]
    except ValueError:
        hidden = [url]
    for name in ("secret", "previous_secret"):
        value = str(options.get(name) or "")
        hidden += [value, value.removeprefix(SECRET_PREFIX)]
    if proxy := str(options.get("proxy") or ""):
        with contextlib.suppress(ValueError):
            hidden += [proxy, urlsplit(proxy).password or ""]
    for value in sorted(filter(None, hidden), key=len, reverse=True):
        text = text.replace(value, "…")
    return text


_TOKEN_SEGMENT = re.compile(r"[A-Za-z0-9_\-.~%+=]{16,}")


def display_url(url: str) -> str:
    """`url` fit for a log line: no credentials, query or fragment, and path segments that
    look like tokens masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(malformed URL)"
    segments = ["…" if _looks_like_token(segment) else segment for segment in parts.path.split("/")]
    query = "?…" if parts.query else ""
    # The authority as written (brackets of an IPv6 host kept), minus any credentials; and
    # "//" only where the URL had one ("data:text/xml,...", "//host/path" stay as written).
    authority = parts.netloc.rpartition("@")[2]
    scheme = f"{parts.scheme}:" if parts.scheme else ""
    slashes = "//" if parts.netloc or url[len(scheme) :].startswith("//") else ""
    return clean_line(f"{scheme}{slashes}{authority}{'/'.join(segments)}{query}", 200)


def _looks_like_token(segment: str) -> bool:
    """16+ URL-safe characters mixing letters with digits, or upper with lower case: a random
    credential rather than a word (Slack's and Discord's webhook tokens are such)."""
    if not _TOKEN_SEGMENT.fullmatch(segment):
        return False
    digits = any(ch.isdigit() for ch in segment)
    letters = any(ch.isalpha() for ch in segment)
    mixed_case = any(ch.isupper() for ch in segment) and any(ch.islower() for ch in segment)
    return (digits and letters) or mixed_case


def _header_token(delivery_id: str) -> str:
    """The delivery id when it is printable ASCII without spaces, else a stable hash of it."""
    if 0 < len(delivery_id) <= 200 and all("!" <= ch <= "~" for ch in delivery_id):
        return delivery_id
    return "h" + hashlib.sha256(delivery_id.encode("utf-8", "replace")).hexdigest()[:40]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# Payloads.


def render_standard(message: AlertMessage) -> dict[str, Any]:
    """The Standard Webhooks event: type, timestamp (when made) and data."""
    return {
        "type": "alert.digest" if message.digest else "alert.matched",
        "timestamp": _iso(message.created_at),
        "data": {
            "alert": message.alert,
            "query": message.query,
            "delivery_id": message.delivery_id,
            "held_back": message.held_back,
            "feed_url": message.feed_url,
            "items": [_standard_item(item) for item in message.items],
        },
    }


def _standard_item(item: AlertItem) -> dict[str, Any]:
    # Links are http(s) or empty: a story keeps the link its feed wrote, `javascript:` and
    # `data:` ones too, and whatever reads this body (a dashboard, a workflow tool) is
    # likely to make an `<a href>` of it, as the Atom and JSON feeds and the other
    # messages never do.
    return {
        "cluster_id": item.cluster_id,
        "title": item.title,
        "link": _web_link(item.link),
        "summary": shorten(item.summary, SUMMARY_CHARS),
        "published_at": _iso(item.published_at),
        "regions": [{"code": code, "label": label} for code, label in item.regions],
        "topics": [{"slug": slug, "label": label} for slug, label in item.topics],
        "sources": [{"name": name, "url": _web_link(url)} for name, url in item.sources],
    }


def _web_link(url: str) -> str:
    return url if is_web_url(url) else ""


def render_slack(message: AlertMessage) -> dict[str, Any]:
    """A Slack incoming-webhook message: a fallback `text` and mrkdwn section blocks."""
    shown = message.items[:SLACK_MAX_ITEMS]
    more = message.held_back + len(message.items) - len(shown)
    query = _slack_escape(clean_line(message.query, 500))
    heading = f"*{_slack_escape(headline(message))}*\nAlert query: {query}"
    blocks: list[dict[str, Any]] = [_slack_section(heading)]
    blocks += [_slack_section(_slack_item(item, message.timezone)) for item in shown]
    footer = [_more_line(more)] if more else []
    if is_web_url(message.feed_url):
        footer.append(_slack_link(message.feed_url, "See every match of this alert"))
    if footer:
        text = " · ".join(footer)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return {"text": f"[syndicator] {headline(message)}", "blocks": blocks}


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _slack_item(item: AlertItem, zone: str) -> str:
    """The item's section text, at most `SLACK_SECTION_CHARS` once escaped (Slack refuses the
    whole message, every item of a digest with it, for one section over the limit): the
    linked title and the facts, then the sources (linked while they fit, else by name), then
    as much of the summary as is left room for."""
    title = clean_line(item.title, 250) or "(untitled)"
    facts = _slack_cut(_slack_escape(_facts(item, zone)), 500)
    text = f"*{_slack_link(item.link, title)}*\n{facts}"
    summary = clean_line(item.summary, DISPLAY_SUMMARY_CHARS)
    quoted = "> " + _slack_escape(summary) if summary else ""
    if item.sources:
        shown = item.sources[:MAX_SOURCES_SHOWN]
        names = [clean_line(name, 100) for name, _ in shown]
        linked = [_slack_link(url, name) for name, (_, url) in zip(names, shown, strict=True)]
        by_name = [_slack_escape(name) for name in names]
        lines = [_reported_by(found, len(item.sources)) for found in (linked, by_name)]
        fits = [
            line for line in lines if len(text) + len(line) + len(quoted) + 2 <= SLACK_SECTION_CHARS
        ]
        text += "\n" + (
            fits[0] if fits else _slack_cut(lines[1], SLACK_SECTION_CHARS - len(text) - 1)
        )
    room = SLACK_SECTION_CHARS - len(text) - 1
    if quoted and room >= 20:
        text += "\n" + _slack_cut(quoted, room)
    return text


def _slack_cut(escaped: str, limit: int) -> str:
    """Escaped mrkdwn text cut to `limit` characters with an ellipsis, never inside an
    entity (`&amp;`)."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _slack_escape(text: str) -> str:
    """The three characters Slack's mrkdwn needs escaped, escaped as Slack says."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    """`<url|label>`, or the escaped label alone when the URL cannot be a safe link."""
    text = _slack_escape(label or url)
    if not is_web_url(url) or len(url) > SLACK_LINK_CHARS:
        return text
    target = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{target}|{text.replace('|', '¦')}>"


def render_discord(message: AlertMessage) -> dict[str, Any]:
    """A Discord webhook message: `content` and up to 10 embeds, within Discord's limits,
    mentions disabled so a title saying @everyone pings nobody."""
    shown = message.items[:DISCORD_MAX_EMBEDS]
    more = message.held_back + len(message.items) - len(shown)
    lines = [f"**{_discord_escape(headline(message))}**"]
    lines.append(f"Alert query: {_discord_escape(clean_line(message.query, 500))}")
    if more:
        lines.append(_more_line(more))
    if is_web_url(message.feed_url):
        lines.append(f"See every match of this alert: <{_discord_url(message.feed_url)}>")
    titles = [clean_line(item.title, DISCORD_TITLE_CHARS) or "(untitled)" for item in shown]
    room = (DISCORD_EMBEDS_TOTAL_CHARS - sum(map(len, titles))) // max(len(shown), 1)
    room = min(room, DISCORD_DESCRIPTION_CHARS)
    embeds = [
        _discord_embed(item, title, room, message.timezone)
        for item, title in zip(shown, titles, strict=True)
    ]
    return {
        "content": shorten("\n".join(lines), DISCORD_CONTENT_CHARS),
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
    }


def _discord_embed(item: AlertItem, title: str, room: int, zone: str) -> dict[str, Any]:
    parts = [_discord_escape(_facts(item, zone))]
    if item.sources:
        names = [
            f"[{_discord_escape(clean_line(name, 100))}]({_discord_url(url)})"
            if is_web_url(url) and len(url) <= 512
            else _discord_escape(clean_line(name, 100))
            for name, url in item.sources[:MAX_SOURCES_SHOWN]
        ]
        parts.append(_reported_by(names, len(item.sources)))
    if summary := clean_line(item.summary, DISPLAY_SUMMARY_CHARS):
        parts.append(_discord_escape(summary))
    description = "\n".join(parts)
    if len(description) > room:  # cut whole source links rather than through one
        description = shorten("\n".join([parts[0], parts[-1]]), room)
    embed: dict[str, Any] = {"title": title, "description": description}
    if is_web_url(item.link) and len(item.link) <= 2048:
        embed["url"] = item.link
    embed["timestamp"] = _iso(item.published_at)
    return embed


_DISCORD_MARKUP = re.compile(r"([\\*_~`|\[\]()<>#])")


def _discord_escape(text: str) -> str:
    return _DISCORD_MARKUP.sub(r"\\\1", text)


def _discord_url(url: str) -> str:
    """A URL that cannot close a markdown link or an angle bracket early."""
    return quote(url, safe=":/?#[]@!$&'*+,;=%-._~")  # percent-encodes ( ) < > and spaces


def _facts(item: AlertItem, zone: str) -> str:
    facts = [shown_time(item.published_at, zone)]
    if item.regions:
        facts.append(", ".join(clean_line(label or code) for code, label in item.regions))
    if item.topics:
        facts.append(", ".join(clean_line(label or slug) for slug, label in item.topics))
    return " · ".join(facts)


def _reported_by(names: list[str], total: int) -> str:
    first, *others = names
    if total > len(names):
        others.append(f"{total - len(names)} more")
    also = f"; also reported by {', '.join(others)}" if others else ""
    return f"First reported by {first}{also}"


def _more_line(count: int) -> str:
    return f"And {count} more {'match' if count == 1 else 'matches'} in the next message."


_RENDERERS: dict[str, Callable[[AlertMessage], dict[str, Any]]] = {
    "standard": render_standard,
    "slack": render_slack,
    "discord": render_discord,
}
