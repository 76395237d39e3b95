"""Alert delivery: matched story clusters into messages, messages to email and webhooks.

Matching happens in the writer (`storage.AlertIndex`, compiled here by `alert_index`): a
match is stored in the same transaction as the story that caused it, one `alert_matches`
row per (alert, cluster) and one `outbox` row per channel, so syndicated copies, re-polls
and restarts never match twice. This module takes it from there, in two steps per run:

1. Compose (`compose_due`): for each (alert, channel) with waiting matches, when the alert
   may speak (an immediate alert at once; a digest when its cron schedule has fired since the
   last one, with what was waiting at that time; never inside quiet hours; never above
   `max_per_hour` messages), the oldest `max_items` matches become one `deliveries` row, in
   one transaction (fewer, when the channel shows fewer stories a message: Discord 10,
   Slack 40); with more waiting it makes as many messages as the rate limit allows (a
   digest: until all that was waiting when it fired is out). What does not fit waits for
   the next message and is counted in this one ("and 3 more"): nothing is dropped.
2. Send (`send_due`): each due delivery is rendered from the stored clusters and sent by
   `notify`. Sent: done. A temporary failure (timeout, 5xx, 429, SMTP 4xx) is retried with
   exponential backoff and jitter (30 s doubling, at most 6 h, or the peer's Retry-After),
   for three days, then the delivery is dead with its last error. A permanent failure is
   dead at once; a webhook's 410 Gone (or Slack's or Discord's answer for a deleted
   webhook) also disables the channel, with the reason, until
   `syndicator alerts retry`.

A delivery's id is made once, when it is composed, and is the webhook-id and the root of
the email's Message-ID: after a crash between sending and recording, the same message goes
out again under the same id, which receivers use to drop the repeat. Secrets stay in the
channel options: what is logged and stored is `SendResult.detail`, which never holds one.
"""

from __future__ import annotations

import logging
import random
import re
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from syndicator.config import AlertSettings, ChannelSettings, Settings, query_vocabulary
from syndicator.metrics import Metrics
from syndicator.models import Cluster, StoredStory
from syndicator.notify import AlertItem, AlertMessage, Outcome, SendResult
from syndicator.notify.email import render_text, send_email
from syndicator.notify.webhook import max_items_per_message, send_webhook
from syndicator.query import parse, query_hints
from syndicator.scheduler import next_cron_time
from syndicator.storage import (
    AlertIndex,
    AlertRule,
    ClusterFilter,
    Delivery,
    SearchResult,
    Store,
)
from syndicator.tagging.regions import region_label
from syndicator.tagging.topics import topic_label

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=6)
LONGEST_RETRY_AFTER = timedelta(days=1)  # a peer's Retry-After is honoured up to this
GIVE_UP_AFTER = timedelta(days=3)
RATE_WINDOW = timedelta(hours=1)
_QUIET = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def alert_index(settings: Settings) -> AlertIndex | None:
    """Every configured alert compiled once for the writer; None without alerts."""
    if not settings.alerts:
        return None
    vocabulary = query_vocabulary(settings.topics)
    return AlertIndex(
        [
            AlertRule(
                name=alert.name,
                query=parse(alert.query, vocabulary),
                channels=alert.channels,
                min_score=alert.min_score,
                on_update=alert.on_update,
            )
            for alert in settings.alerts
        ]
    )


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    composed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    problems: list[str] = field(default_factory=list)


async def deliver(
    store: Store, settings: Settings, now: datetime, metrics: Metrics | None = None
) -> DeliveryReport:
    """Compose what may be sent now, then send every due message."""
    commit_open_group(store)
    report = DeliveryReport(composed=compose_due(store, settings, now))
    await send_due(store, settings, now, report, metrics)
    return report


def commit_open_group(store: Store) -> None:
    """Commit a poll's open write group before an outbox write.

    The daemon delivers between the awaits of a poll, on the same connection, so a write
    group (`Store.begin_group`) may be open. A delivery composed inside it would be lost with
    the group by a kill before its commit, after being sent: the restart would compose the
    matches again and send them under a new webhook-id. Every ingest in the group is complete
    (ingest never awaits), so committing here is what `GroupCommit` would do a moment later.
    """
    store.end_group()


def compose_due(store: Store, settings: Settings, now: datetime) -> int:
    """Turn waiting matches into messages where the alert may speak now; returns messages."""
    alerts = {alert.name: alert for alert in settings.alerts}
    disabled = store.disabled_channels()
    composed = 0
    for rule, channel, _ in store.pending_alerts():
        alert = alerts.get(rule)
        if alert is None or channel not in alert.channels or channel not in settings.channels:
            continue  # no longer configured: the matches wait (`alerts status` shows them)
        if channel in disabled or in_quiet_hours(alert, now):
            continue
        per_message = items_per_message(alert, settings.channels[channel])
        while not _over_rate(store, alert, channel, now):
            made = _compose(store, alert, channel, now, per_message)
            composed += made
            if not made:
                break
    return composed


def _over_rate(store: Store, alert: AlertSettings, channel: str, now: datetime) -> bool:
    """Whether the alert has sent `max_per_hour` messages to the channel in the last hour:
    then what matched folds into the next message the limit allows."""
    if not alert.max_per_hour:
        return False
    return store.messages_since(alert.name, channel, now - RATE_WINDOW) >= alert.max_per_hour


def items_per_message(alert: AlertSettings, channel: ChannelSettings) -> int:
    """The alert's `max_items`, or fewer when the channel cannot show that many in one message
    (Discord 10, Slack 40): a digest then comes in as many parts as `max_items` needs."""
    shown = max_items_per_message(channel.options) if channel.type == "webhook" else None
    return min(alert.max_items, shown) if shown else alert.max_items


def _compose(
    store: Store, alert: AlertSettings, channel: str, now: datetime, per_message: int
) -> int:
    """One message of at most `per_message` stories, if one may go now: 1, else 0.

    An immediate alert takes the oldest waiting matches. A digest, when its schedule has
    fired since it last did, takes those that were waiting when it fired, and so on, one
    message after another, until every one of them is out: a digest is all that matched
    before it fired, in as many messages as `max_items` (and the channel) need, never a
    backlog that grows by what exceeds `max_items` a day. `max_per_hour` may hold parts
    back: they follow as it allows, still before anything that matched after the fire."""
    if alert.schedule == "immediate":
        items = store.compose_delivery(
            alert.name, channel, per_message, now, digest=False, delivery_id=new_id()
        )
        return 1 if items else 0
    last = store.last_digest(alert.name, channel)
    if last is None:  # a new digest: its schedule starts now
        store.start_digest_clock(alert.name, channel, now)
        return 0
    try:
        fired = last_fire_time(alert, last, now)
    except ValueError as e:  # `syndicator check` reports it too
        log.error("alert %r: schedule %r: %s", alert.name, alert.schedule, e)
        return 0
    if fired is None:  # between fires: the rest of the last one's digest, if any is left
        if not store.digest_sent_at(alert.name, channel, last):
            return 0  # `last` was a start or an empty fire: nothing was held back
        fired = last
    if _digest_message(store, alert, channel, fired, per_message):
        return 1
    if fired != last:
        store.skip_digest(alert.name, channel, fired)
    return 0


def _digest_message(
    store: Store, alert: AlertSettings, channel: str, fired: datetime, per_message: int
) -> bool:
    """One message of a digest that fired at `fired`: what was waiting then, oldest first."""
    items = store.compose_delivery(
        alert.name,
        channel,
        per_message,
        fired,
        digest=True,
        delivery_id=new_id(),
        matched_by=fired,  # what was waiting then; what matched since waits for the next
    )
    return items > 0


def schedule_problems(settings: Settings) -> list[str]:
    """Digest schedules that APScheduler cannot turn into a trigger, as `syndicator check`
    lists problems. The config already checks each schedule as cron reads it
    (`syndicator.cron`), so this is a safety net that should find nothing."""
    problems = []
    for index, alert in enumerate(settings.alerts):
        if alert.schedule == "immediate":
            continue
        try:
            next_cron_time(alert.schedule, alert.timezone, datetime.now(UTC))
        except ValueError as e:
            problems.append(f"alerts[{index}].schedule: {alert.schedule!r}: {e}")
    return problems


def last_fire_time(alert: AlertSettings, last: datetime, now: datetime) -> datetime | None:
    """The latest time in (last, now] the digest's schedule fired, or None."""
    fired = None
    moment = next_cron_time(alert.schedule, alert.timezone, last)
    while moment <= now:
        fired = moment
        moment = next_cron_time(alert.schedule, alert.timezone, moment)
    return fired


def in_quiet_hours(alert: AlertSettings, now: datetime) -> bool:
    """Whether `now` falls in the alert's quiet hours (in its time zone; they may wrap
    midnight: "22:00-07:00")."""
    match = _QUIET.match(alert.quiet_hours)
    if match is None:
        return False
    start = time(int(match[1]), int(match[2]))
    end = time(int(match[3]), int(match[4]))
    local = now.astimezone(zoneinfo.ZoneInfo(alert.timezone)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def new_id() -> str:
    """A delivery id: the webhook-id of every attempt of one message."""
    return f"msg_{uuid.uuid4().hex}"


async def send_due(
    store: Store,
    settings: Settings,
    now: datetime,
    report: DeliveryReport,
    metrics: Metrics | None = None,
) -> None:
    """Send every due message once; record each outcome.

    The store hands out due messages a batch at a time; batches follow one another until
    none is due, since `run --once` delivers only here, once per cron run: a first poll of
    thousands of sources composes thousands of messages, and stopping after one batch left
    all but 100 for later runs (a backlog of hours at a 15-minute cron). A message tried
    here is not due again in this run (a retry waits at least 24 s); `tried` makes sure."""
    tried: set[str] = set()
    while batch := [d for d in store.due_deliveries(now) if d.id not in tried]:
        tried.update(delivery.id for delivery in batch)
        await _send_batch(store, settings, now, report, batch, metrics=metrics)


async def _send_batch(
    store: Store,
    settings: Settings,
    now: datetime,
    report: DeliveryReport,
    batch: Sequence[Delivery],
    *,
    metrics: Metrics | None,
) -> None:
    disabled = store.disabled_channels()
    for delivery in batch:
        commit_open_group(store)  # a poll may have opened one while the last message went
        channel = settings.channels.get(delivery.channel)
        if channel is None:
            _dead(store, delivery, now, report, "channel no longer configured")
            continue
        if delivery.channel in disabled:
            _dead(store, delivery, now, report, f"channel disabled: {disabled[delivery.channel]}")
            continue
        message = build_message(store, settings, delivery)
        if not message.items:
            _dead(store, delivery, now, report, "its stories were removed by retention")
            continue
        result = await send(channel, message, settings)
        _record(store, delivery, result, now, report)
        if result.outcome is Outcome.GONE:
            disabled = store.disabled_channels()
        if metrics is not None and result.outcome is not Outcome.RETRY:
            metrics.record_alert(result.outcome is Outcome.SENT)


async def send(channel: ChannelSettings, message: AlertMessage, settings: Settings) -> SendResult:
    """One attempt over one channel."""
    if channel.type == "email":
        return await send_email(channel.options, message)
    return await send_webhook(
        channel.options,
        message,
        # The webhook-timestamp is the wall clock, whatever clock schedules the deliveries:
        # receivers check it against theirs (Standard Webhooks: within five minutes).
        now=datetime.now(UTC),
        allow_private_addresses=settings.polling.allow_private_addresses,
    )


def _record(
    store: Store, delivery: Delivery, result: SendResult, now: datetime, report: DeliveryReport
) -> None:
    what = f"alert {delivery.rule!r} to {delivery.channel!r} ({delivery.id})"
    commit_open_group(store)  # the same, while this message was on its way
    if result.outcome is Outcome.SENT:
        store.finish_delivery(delivery.id, "sent", now)
        report.sent += 1
        log.info("%s sent", what)
    elif result.outcome is Outcome.GONE:
        reason = f"{result.detail} (the receiver says it is gone: channel disabled)"
        store.disable_channel(delivery.channel, reason, now)
        _dead(store, delivery, now, report, reason)
    elif result.outcome is Outcome.FAILED:
        _dead(store, delivery, now, report, result.detail)
    elif now - delivery.created_at >= GIVE_UP_AFTER:
        _dead(store, delivery, now, report, f"gave up after 3 days: {result.detail}")
    else:
        wait = retry_delay(delivery.attempts, result.retry_after)
        store.retry_delivery(delivery.id, now + wait, result.detail)
        report.retried += 1
        log.warning("%s failed, retry in %s: %s", what, readable_wait(wait), result.detail)


def _dead(
    store: Store, delivery: Delivery, now: datetime, report: DeliveryReport, reason: str
) -> None:
    store.finish_delivery(delivery.id, "dead", now, reason)
    report.dead += 1
    problem = f"alert {delivery.rule!r} to {delivery.channel!r} ({delivery.id}) dead: {reason}"
    report.problems.append(problem)
    log.error("%s", problem)


def readable_wait(wait: timedelta) -> str:
    """A wait as an operator reads it in a log line: "30 s", "8 min", "6.0 h"."""
    seconds = round(wait.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def retry_delay(attempts: int, retry_after: timedelta | None = None) -> timedelta:
    """30 s doubling per attempt up to 6 h, times a jitter of 0.8 to 1.2 (so many failed
    deliveries do not come back at once), or the peer's Retry-After when that is longer."""
    base = min(FIRST_RETRY * (2 ** min(attempts, 20)), LONGEST_RETRY)
    delay: timedelta = base * random.uniform(0.8, 1.2)  # jitter
    if retry_after is not None:
        delay = max(delay, min(retry_after, LONGEST_RETRY_AFTER))
    return delay


def build_message(store: Store, settings: Settings, delivery: Delivery) -> AlertMessage:
    """The message of a delivery, from the clusters as they are stored now."""
    alert = next((a for a in settings.alerts if a.name == delivery.rule), None)
    matched = {
        cluster_id: n for n, cluster_id in enumerate(store.delivery_cluster_ids(delivery.id))
    }
    clusters = store.clusters_by_id(matched)
    # Oldest first; stories published at the same time (feeds without dates) in the order
    # they matched, not newest-id first as `clusters_by_id` returns them.
    clusters.sort(key=lambda cluster: (cluster.published_at, matched[cluster.id]))
    labels = settings.topics.labels()
    return AlertMessage(
        delivery_id=delivery.id,
        alert=delivery.rule,
        query=alert.query if alert else "",
        items=tuple(alert_item(cluster, labels) for cluster in clusters),
        held_back=delivery.held_back,
        created_at=delivery.created_at,
        feed_url=f"{settings.publish.base_url}feeds/alerts/{delivery.rule}.atom",
        digest=delivery.digest,
        timezone=alert.timezone if alert else "UTC",
    )


def alert_item(cluster: Cluster, topic_labels: dict[str, str]) -> AlertItem:
    story = cluster.representative
    return AlertItem(
        cluster_id=cluster.id,
        title=cluster.title,
        link=story.url,
        summary=story.summary,
        published_at=cluster.published_at,
        regions=tuple((code, region_label(code)) for code in cluster.regions),
        topics=tuple(
            (slug, topic_labels.get(slug) or topic_label(slug)) for slug in cluster.topics
        ),
        sources=tuple((copy.source_name, copy.url) for copy in _first_first(cluster)),
    )


def _first_first(cluster: Cluster) -> Sequence[StoredStory]:
    first = cluster.representative
    return [first, *(copy for copy in cluster.copies if copy.id != first.id)]


def status_lines(store: Store, settings: Settings) -> list[str]:
    """`syndicator alerts status`: per alert and channel, matches waiting for a message,
    queued in one, sent and dead; then the dead deliveries with their last error, and the
    disabled channels with the reason. Channel options (and so secrets) are never shown."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for rule, channel, status, count in store.alert_status():
        counts.setdefault((rule, channel), {})[status] = count
    for alert in settings.alerts:
        for channel in alert.channels:
            counts.setdefault((alert.name, channel), {})
    lines = [f"{'ALERT':<24} {'CHANNEL':<16} {'WAITING':>7} {'QUEUED':>7} {'SENT':>7} {'DEAD':>7}"]
    for (rule, channel), by_status in sorted(counts.items()):
        numbers = (by_status.get(status, 0) for status in ("pending", "queued", "sent", "dead"))
        lines.append(f"{rule:<24} {channel:<16} " + " ".join(f"{n:>7}" for n in numbers))
    if not counts:  # a header alone read as "the command is broken"
        lines.append(f"(no alerts: {settings.path} has no [[alerts]] table, and none has sent)")
    dead = store.deliveries("dead")
    if dead:
        lines.append("")
        lines.append("dead deliveries (`syndicator alerts retry` sends them again):")
        lines += [
            f"  {d.id}  {d.rule} -> {d.channel}, {d.attempts} attempt(s): {d.last_error}"
            for d in dead
        ]
    for channel, reason in sorted(store.disabled_channels().items()):
        lines.append(f"channel {channel!r} disabled: {reason}")
    return lines


def preview_alert(
    store: Store, settings: Settings, target: str, limit: int, now: datetime | None = None
) -> str:
    """`syndicator alerts test`: the message an alert (by name) or a query would send from
    the stored stories, as text, after how many clusters match in all. Nothing is sent and
    nothing is recorded. A query is no alert: no channel, feed or signature is shown."""
    alert = find_alert(settings, target)
    query = alert.query if alert else target
    parse(query, query_vocabulary(settings.topics))  # QueryError with the column
    found = store.search(ClusterFilter(query=query, limit=limit))
    labels = settings.topics.labels()
    message = AlertMessage(
        delivery_id="msg_test",
        alert=alert.name if alert else "query",
        query=query,
        items=tuple(alert_item(cluster, labels) for cluster in found.clusters),
        held_back=0,
        created_at=now or datetime.now(UTC),
        feed_url=f"{settings.publish.base_url}feeds/alerts/{alert.name}.atom" if alert else "",
        digest=alert is not None and alert.schedule != "immediate",
        timezone=alert.timezone if alert else "UTC",
    )
    if alert is None:
        head = f"query: {query}\n{describe_matches(found, query)}\n"
    else:
        channels = ", ".join(alert.channels) or "no channel"
        head = f"alert {alert.name!r}: {query}\n"
        head += f"would send to: {channels}; {describe_matches(found, query)}\n"
    if not message.items:
        return head + "(nothing to send)"
    return head + "\n" + render_text(message, signature=alert is not None)


def find_alert(settings: Settings, name: str) -> AlertSettings | None:
    """The configured alert of this name, or None."""
    return next((alert for alert in settings.alerts if alert.name == name), None)


_NAME_LIKE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def unknown_alert_note(settings: Settings, target: str) -> str:
    """For `alerts test X`: a note when X reads like an alert's name (one word: letters,
    digits, "-" and "_") but no alert has that name, as a typo would; "" otherwise. X is
    then read as a query, which is rarely what the typist wanted to see."""
    if find_alert(settings, target) is not None or not _NAME_LIKE.fullmatch(target):
        return ""
    return f"no alert named {target!r} ({defined_alerts(settings)}); read as a query"


def defined_alerts(settings: Settings) -> str:
    """ "defined: a, b" (or "no alert is defined"), for messages about an unknown name."""
    names = ", ".join(alert.name for alert in settings.alerts)
    return f"defined: {names}" if names else "no alert is defined"


def describe_matches(found: SearchResult, query: str) -> str:
    """ "132 stored story clusters match, showing the newest 20", or for a query with a
    lower-case "or" and no match, "0 stored story clusters match (did you mean OR?)" (or a
    '*' that is no prefix: `query.query_hints`)."""
    at_least = "" if found.complete else "at least "
    what = "cluster matches" if found.total == 1 else "clusters match"
    text = f"{at_least}{found.total:,} stored story {what}"
    if len(found.clusters) < found.total:
        text += f", showing the newest {len(found.clusters):,}"
    hint = query_hints(query)
    return f"{text} {hint}" if hint and not found.total else text
