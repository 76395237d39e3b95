"""Alerts end to end: matched in the writer, composed into messages, delivered to a real
webhook receiver and a real SMTP server (aiosmtpd) on loopback, with a fake clock.

Stories are stored through `Store.store_stories` (the writer's path, in its transaction);
delivery runs through `alerts.deliver`, as the daemon's job does.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook

from syndicator.alerts import alert_index, deliver, preview_alert, readable_wait, status_lines
from syndicator.config import Settings, load_settings
from syndicator.models import Story, Tag, TagKind
from syndicator.publishing import publish_all
from syndicator.storage import ConfiguredSource, Store, open_store

from .conftest import syndicator

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_NEW = "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24="


@dataclass
class Receiver:
    """A webhook receiver on loopback that records requests and answers `script` in turn
    (then 204): a status, or (status, headers)."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, headers = receiver.script.pop(0) if receiver.script else (204, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(body) for _, body in self.seen]

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.seen]


class Mailbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.httpd.shutdown()
    receiver.httpd.server_close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _settings(tmp: Path, alerts: str, channels: str) -> Settings:
    config = tmp / "syndicator.toml"
    config.write_text(
        f"""
[storage]
path = "{tmp / "s.db"}"
[publish]
output_dir = "{tmp / "out"}"
base_url = "http://feeds.test/"
[polling]
allow_private_addresses = true
[[sources]]
url = "https://wire.example/rss"
name = "Steppe Wire"
[[sources]]
url = "https://copy.example/rss"
name = "Copy Daily"
{alerts}
{channels}
""",
        encoding="utf-8",
    )
    return load_settings(config)


def _hook(url: str, extra: str = "") -> str:
    return f'[channels.hook]\ntype = "webhook"\nurl = "{url}"\nsecret = "{SECRET}"\n{extra}'


def _store(settings: Settings) -> Store:
    store = open_store(settings.storage.path)
    store.sync_sources(
        [
            ConfiguredSource("https://wire.example/rss", "Steppe Wire", "", True, None),
            ConfiguredSource("https://copy.example/rss", "Copy Daily", "", True, None),
        ],
        NOW,
    )
    store.alerts = alert_index(settings)
    return store


_BODY = (
    "Police in Almaty detained dozens of people on Tuesday after protests over fuel prices "
    "spread to the largest city, officials said, as the government declared a state of "
    "emergency in the western region of Mangystau where the unrest began."
)


def _story(key: str, title: str, *, source: int = 1, text: str = _BODY, hours: float = 0) -> Story:
    url = f"https://wire.example/{key}" if source == 1 else f"https://copy.example/{key}"
    return Story(
        source_id=source,
        guid_key=f"guid:{key}",
        guid=key,
        url=url,
        canonical_url=url,
        title=title,
        summary=text[:120],
        content_html=f"<p>{text}</p>",
        text=text,
        author="",
        published_at=NOW + timedelta(hours=hours),
        content_hash=f"{title}|{text}",
        tags=(Tag(TagKind.REGION, "KZ", 0.9, True, ("test",)),),
    )


KZ_ALERT = """
[[alerts]]
name = "kz-unrest"
query = 'kazakhstan AND (protest* OR unrest OR "state of emergency")'
channels = ["hook"]
"""


def _deliver(store: Store, settings: Settings, now: datetime) -> None:
    asyncio.run(deliver(store, settings, now))


def test_a_match_is_sent_once_signed_and_never_again(tmp_path: Path, receiver: Receiver) -> None:
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread to Almaty")], NOW)
    _deliver(store, settings, NOW)
    assert len(receiver.seen) == 1
    headers, body = receiver.seen[0]
    Webhook(SECRET).verify(body, headers)  # the reference library checks the signature
    data = json.loads(body)
    assert data["type"] == "alert.matched"
    [item] = data["data"]["items"]
    assert item["title"] == "Kazakhstan protests spread to Almaty"
    assert {"code": "KZ", "label": "Kazakhstan"} in item["regions"]

    # The same entry re-sent, a copy from another source, a restart: nothing more.
    store.store_stories([_story("a", "Kazakhstan protests spread to Almaty")], NOW)
    copy = _story("b", "Protests in Kazakhstan spread to Almaty", source=2)
    store.store_stories([copy], NOW + timedelta(minutes=5))
    store.close()
    store = _store(settings)
    _deliver(store, settings, NOW + timedelta(minutes=10))
    assert len(receiver.seen) == 1
    assert store.alert_status() == [("kz-unrest", "hook", "sent", 1)]


def test_a_story_that_does_not_match_sends_nothing(tmp_path: Path, receiver: Receiver) -> None:
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan wins the cup", text="A football match.")], NOW)
    _deliver(store, settings, NOW)
    assert receiver.seen == []


def test_failures_are_retried_with_the_same_webhook_id(tmp_path: Path, receiver: Receiver) -> None:
    receiver.script = [(500, {}), (429, {"Retry-After": "120"})]
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW)
    _deliver(store, settings, NOW)  # 500
    _deliver(store, settings, NOW + timedelta(seconds=10))  # not due yet: backoff
    assert len(receiver.seen) == 1
    _deliver(store, settings, NOW + timedelta(minutes=2))  # 429, Retry-After 120 s
    _deliver(store, settings, NOW + timedelta(minutes=3))  # not due: Retry-After honoured
    assert len(receiver.seen) == 2
    _deliver(store, settings, NOW + timedelta(minutes=5))  # sent
    assert len(receiver.seen) == 3
    assert len(set(receiver.ids())) == 1  # one message, one id, on every attempt
    assert store.alert_status() == [("kz-unrest", "hook", "sent", 1)]


def test_a_delivery_failing_for_three_days_is_dead_and_can_be_retried(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.script = [(503, {})] * 100
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW)
    moment = NOW
    while moment < NOW + timedelta(days=3, hours=7):
        _deliver(store, settings, moment)
        moment += timedelta(hours=1)
    assert store.alert_status() == [("kz-unrest", "hook", "dead", 1)]
    status = "\n".join(status_lines(store, settings))
    assert "gave up after 3 days" in status
    assert "HTTP 503" in status
    assert SECRET not in status

    receiver.script = []
    assert store.requeue_dead(moment) == 1
    _deliver(store, settings, moment)
    assert store.alert_status() == [("kz-unrest", "hook", "sent", 1)]
    assert len(set(receiver.ids())) == 1


def test_410_disables_the_channel_with_the_reason(tmp_path: Path, receiver: Receiver) -> None:
    receiver.script = [(410, {})]
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW)
    _deliver(store, settings, NOW)
    assert "hook" in store.disabled_channels()
    store.store_stories([_story("b", "Kazakhstan unrest grows", text="Unrest in Aktau.")], NOW)
    _deliver(store, settings, NOW + timedelta(hours=1))
    assert len(receiver.seen) == 1  # nothing more to a disabled channel
    status = "\n".join(status_lines(store, settings))
    assert "channel 'hook' disabled" in status
    assert "410" in status


def test_rotation_signs_with_both_secrets(tmp_path: Path, receiver: Receiver) -> None:
    channel = _hook(receiver.url).replace(SECRET, SECRET_NEW)
    channel += f'previous_secret = "{SECRET}"\n'
    settings = _settings(tmp_path, KZ_ALERT, channel)
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW)
    _deliver(store, settings, NOW)
    headers, body = receiver.seen[0]
    Webhook(SECRET).verify(body, headers)
    Webhook(SECRET_NEW).verify(body, headers)


def test_max_items_and_the_rate_limit_fold_into_the_next_message(
    tmp_path: Path, receiver: Receiver
) -> None:
    alert = KZ_ALERT + "max_items = 2\nmax_per_hour = 1\n"
    settings = _settings(tmp_path, alert, _hook(receiver.url))
    store = _store(settings)
    texts = [f"Protest number {n} in Kazakhstan as unrest grows in town {n}." for n in range(3)]
    store.store_stories(
        [_story(f"s{n}", f"Kazakhstan protest {n} word{n}", text=t) for n, t in enumerate(texts)],
        NOW,
    )
    _deliver(store, settings, NOW)
    first = receiver.bodies()[0]["data"]
    assert len(first["items"]) == 2
    assert first["held_back"] == 1
    _deliver(store, settings, NOW + timedelta(minutes=30))  # rate limit: one an hour
    assert len(receiver.seen) == 1
    _deliver(store, settings, NOW + timedelta(minutes=61))
    assert len(receiver.seen) == 2
    assert len(receiver.bodies()[1]["data"]["items"]) == 1  # type: ignore[index]


def test_a_digest_waits_for_its_schedule(tmp_path: Path, receiver: Receiver) -> None:
    alert = KZ_ALERT.replace('channels = ["hook"]', 'channels = ["hook"]\nschedule = "0 7 * * *"')
    settings = _settings(tmp_path, alert, _hook(receiver.url))
    store = _store(settings)
    _deliver(store, settings, NOW)  # 09:00: the digest's clock starts
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW + timedelta(hours=1))
    _deliver(store, settings, NOW + timedelta(hours=2))
    assert receiver.seen == []
    _deliver(store, settings, NOW + timedelta(hours=22, minutes=1))  # 07:01 next day
    assert len(receiver.seen) == 1
    assert receiver.bodies()[0]["type"] == "alert.digest"
    store.store_stories(
        [_story("b", "Kazakhstan unrest again", text="Unrest.")], NOW + timedelta(hours=23)
    )
    _deliver(store, settings, NOW + timedelta(hours=24))  # after 07:00, before the next one
    assert len(receiver.seen) == 1


@pytest.mark.parametrize(("fmt", "shown"), [("discord", 10), ("slack", 40)])
def test_stories_past_what_slack_or_discord_can_show_come_in_the_next_message(
    tmp_path: Path, receiver: Receiver, fmt: str, shown: int
) -> None:
    """Discord shows 10 embeds and Slack 40 sections a message. With more matches than that
    in one message (max_items 20 by default), the rest were announced as "in the next
    message" and never sent: their delivery was done."""
    alert = KZ_ALERT + f"max_items = {shown + 5}\n"
    settings = _settings(tmp_path, alert, _hook(receiver.url, f'format = "{fmt}"\n'))
    store = _store(settings)
    stories = [
        _story(f"s{n}", f"Kazakhstan protest number {n} in town {n}", text=f"Unrest {n}.", hours=n)
        for n in range(shown + 5)
    ]
    store.store_stories(stories, NOW)
    _deliver(store, settings, NOW)
    _deliver(store, settings, NOW + timedelta(minutes=1))
    bodies = receiver.bodies()
    if fmt == "discord":
        counts = [len(body["embeds"]) for body in bodies]  # type: ignore[arg-type]
        first_text = str(bodies[0]["content"])
    else:
        blocks = [body["blocks"] for body in bodies]
        counts = [sum(b["type"] == "section" for b in part) - 1 for part in blocks]  # type: ignore[union-attr,index]
        first_text = json.dumps(bodies[0]["blocks"])
    assert counts == [shown, 5], "every story reaches the channel, none only announced"
    assert "And 5 more matches in the next message." in first_text


def test_a_digest_larger_than_discord_shows_comes_in_parts(
    tmp_path: Path, receiver: Receiver
) -> None:
    alert = KZ_ALERT.replace('channels = ["hook"]', 'channels = ["hook"]\nschedule = "0 7 * * *"')
    settings = _settings(tmp_path, alert, _hook(receiver.url, 'format = "discord"\n'))
    store = _store(settings)
    stories = [
        _story(f"s{n}", f"Kazakhstan protest number {n} in town {n}", text=f"Unrest {n}.", hours=n)
        for n in range(25)
    ]
    store.store_stories(stories, NOW)
    _deliver(store, settings, NOW)  # 09:00: the digest's clock starts
    _deliver(store, settings, NOW + timedelta(hours=22, minutes=1))  # 07:01: all 25
    assert [len(body["embeds"]) for body in receiver.bodies()] == [10, 10, 5]  # type: ignore[arg-type]
    assert "And 15 more matches" in str(receiver.bodies()[0]["content"])
    assert "And 5 more matches" in str(receiver.bodies()[1]["content"])
    _deliver(store, settings, NOW + timedelta(hours=46, minutes=1))  # the next morning
    assert len(receiver.seen) == 3


def test_a_digest_sends_all_it_waited_for_and_never_falls_behind(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A daily digest of `max_items = 2` on an alert that matches five stories a day sent two
    each morning and kept the rest for the next: the backlog grew by three a day, and a
    week later each digest was about the week before. Every story that matched before the
    digest fired goes out when it fires, in messages of `max_items`; `max_per_hour` still
    spaces them, and what matched after the fire waits for the next one."""
    alert = KZ_ALERT.replace('channels = ["hook"]', 'channels = ["hook"]\nschedule = "0 7 * * *"')
    alert += "max_items = 2\nmax_per_hour = 2\n"
    settings = _settings(tmp_path, alert, _hook(receiver.url))
    store = _store(settings)
    for day in range(2):
        stories = [
            _story(f"d{day}s{n}", f"Kazakhstan protest {day} {n} in town {n}", text=f"Unrest {n}.")
            for n in range(5)
        ]
        store.store_stories(stories, NOW + timedelta(days=day))
        _deliver(store, settings, NOW + timedelta(days=day))  # Monday 09:00: the clock starts
        morning = NOW + timedelta(days=day, hours=22)  # 07:00 the next day
        _deliver(store, settings, morning + timedelta(minutes=1))
        late = _story(f"late{day}", f"Kazakhstan protest late {day}", text="Later unrest.")
        store.store_stories([late], morning + timedelta(minutes=30))
        _deliver(store, settings, morning + timedelta(minutes=31))  # max_per_hour: held
        _deliver(store, settings, morning + timedelta(minutes=62))  # the last part
        _deliver(store, settings, morning + timedelta(hours=5))
        sizes = [len(body["data"]["items"]) for body in receiver.bodies()]  # type: ignore[index]
        # Day 0: 2 + 2 at 07:01, 1 at 08:02. Day 1: the late one of day 0 comes first.
        assert sizes == ([2, 2, 1] if day == 0 else [2, 2, 1, 2, 2, 2])
    titles = [
        item["title"]
        for body in receiver.bodies()
        for item in body["data"]["items"]  # type: ignore[index]
    ]
    assert len(titles) == len(set(titles)) == 11
    assert titles[5] == "Kazakhstan protest late 0"
    assert store.alert_status() == [
        ("kz-unrest", "hook", "pending", 1),
        ("kz-unrest", "hook", "sent", 11),
    ]


def test_a_daily_digest_comes_once_on_the_night_the_clock_goes_back(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Berlin goes from 03:00 summer time back to 02:00 on 25 October 2026: a digest at 02:30
    comes at the first 02:30 only; what matched in the repeated hour waits for the next day."""
    alert = KZ_ALERT.replace(
        'channels = ["hook"]',
        'channels = ["hook"]\nschedule = "30 2 * * *"\ntimezone = "Europe/Berlin"',
    )
    settings = _settings(tmp_path, alert, _hook(receiver.url))
    store = _store(settings)
    saturday = datetime(2026, 10, 24, 12, tzinfo=UTC)
    _deliver(store, settings, saturday)  # the digest's clock starts
    store.store_stories([_story("a", "Kazakhstan protests spread")], saturday)
    between = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 02:00 winter time, the second pass
    clock = saturday
    while clock < datetime(2026, 10, 25, 12, tzinfo=UTC):
        clock += timedelta(minutes=10)
        if clock == between:
            story = _story("b", "Kazakhstan unrest again", text="Unrest in Kazakhstan.")
            store.store_stories([story], clock)
        _deliver(store, settings, clock)
    assert len(receiver.seen) == 1, "one daily digest, not a second one an hour later"
    sunday_night = datetime(2026, 10, 26, 1, 31, tzinfo=UTC)  # 02:31 in Berlin on Monday
    _deliver(store, settings, sunday_night)
    assert len(receiver.seen) == 2
    items = [body["data"]["items"] for body in receiver.bodies()]  # type: ignore[index]
    assert [[i["title"] for i in part] for part in items] == [  # type: ignore[index]
        ["Kazakhstan protests spread"],
        ["Kazakhstan unrest again"],
    ]


def test_a_digest_after_an_empty_morning_waits_for_the_next_morning(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A daily 07:00 digest with nothing waiting at 07:00 on Wednesday: a story matched at
    15:00 waits for Thursday 07:00. It went out at once, dated Wednesday 07:00, eight hours
    before it matched: every quiet morning turned the digest into an immediate alert."""
    alert = KZ_ALERT.replace('channels = ["hook"]', 'channels = ["hook"]\nschedule = "0 7 * * *"')
    settings = _settings(tmp_path, alert, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW)
    _deliver(store, settings, NOW)  # Monday 09:00: the digest's clock starts
    _deliver(store, settings, NOW + timedelta(hours=22, minutes=1))  # Tuesday 07:01
    assert len(receiver.seen) == 1
    _deliver(store, settings, NOW + timedelta(hours=46, minutes=1))  # Wednesday 07:01: none
    wednesday = NOW + timedelta(hours=54)  # 15:00
    story = _story("b", "Kazakhstan unrest again", text="Unrest in Kazakhstan.")
    store.store_stories([story], wednesday)
    for hour in range(16):  # the daemon delivers after every poll
        _deliver(store, settings, wednesday + timedelta(hours=hour))
    assert len(receiver.seen) == 1, "the digest waits for its schedule"
    _deliver(store, settings, NOW + timedelta(hours=70, minutes=1))  # Thursday 07:01
    assert len(receiver.seen) == 2
    assert receiver.bodies()[1]["timestamp"] == "2026-03-05T07:00:00Z"


def test_quiet_hours_hold_messages_until_they_end(tmp_path: Path, receiver: Receiver) -> None:
    alert = KZ_ALERT + 'quiet_hours = "22:00-07:00"\ntimezone = "Asia/Almaty"\n'
    settings = _settings(tmp_path, alert, _hook(receiver.url))
    store = _store(settings)
    night = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # 01:00 in Almaty (UTC+5)
    store.store_stories([_story("a", "Kazakhstan protests spread")], night)
    _deliver(store, settings, night)
    assert receiver.seen == []
    _deliver(store, settings, night + timedelta(hours=6, minutes=1))  # 07:01 in Almaty
    assert len(receiver.seen) == 1


def test_min_score_keeps_headline_matches_only(tmp_path: Path, receiver: Receiver) -> None:
    alert = KZ_ALERT.replace("query = ", "min_score = 0.8\nquery = ")
    settings = _settings(tmp_path, alert, _hook(receiver.url))
    store = _store(settings)
    store.store_stories(
        [
            _story("a", "Kazakhstan protests spread"),
            _story("b", "Oil prices today", text="Kazakhstan: protests over oil in Aktau."),
        ],
        NOW,
    )
    _deliver(store, settings, NOW)
    titles = [i["title"] for b in receiver.bodies() for i in b["data"]["items"]]  # type: ignore[index]
    assert titles == ["Kazakhstan protests spread"]


def test_email_names_the_alert_and_the_count(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    channel = (
        '[channels.desk]\ntype = "email"\nto = ["desk@example.org"]\n'
        f'from = "alerts@example.org"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\ntls = "none"\n'
    )
    settings = _settings(tmp_path, KZ_ALERT.replace('"hook"', '"desk"'), channel)
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread\r\nBcc: evil@example.org")], NOW)
    _deliver(store, settings, NOW)
    [raw] = box.messages
    mail = message_from_bytes(raw)
    assert "kz-unrest" in mail["Subject"]
    assert "1" in mail["Subject"]
    assert mail["Bcc"] is None  # a title never injects a header
    assert mail["List-Id"]
    assert mail["List-Unsubscribe"]


def test_alert_feed_preview_and_status(tmp_path: Path, receiver: Receiver) -> None:
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW)
    publish_all(store, settings, NOW)
    feed = (tmp_path / "out" / "feeds" / "alerts" / "kz-unrest.atom").read_text()
    assert "Kazakhstan protests spread" in feed
    preview = preview_alert(store, settings, "kz-unrest", 10, NOW)
    assert "Kazakhstan protests spread" in preview
    assert "would send to: hook" in preview
    assert receiver.seen == []  # the preview sends nothing
    _deliver(store, settings, NOW)
    status = "\n".join(status_lines(store, settings))
    assert "kz-unrest" in status
    assert SECRET not in status


def test_cli_alerts_commands(tmp_path: Path, receiver: Receiver) -> None:
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW)
    store.close()
    config = str(settings.path)
    result = syndicator("--config", config, "alerts", "test", "kz-unrest", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Kazakhstan protests spread" in result.stdout
    result = syndicator("--config", config, "alerts", "test", "kazakhstan AND (", cwd=tmp_path)
    assert result.returncode == 1
    assert "column" in result.stderr
    assert "Traceback" not in result.stderr
    result = syndicator("--config", config, "alerts", "status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "kz-unrest" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_check_reports_bad_queries_and_schedules(tmp_path: Path, receiver: Receiver) -> None:
    alerts = KZ_ALERT.replace('channels = ["hook"]', 'channels = ["hook"]\nschedule = "99 * * * *"')
    alerts += '\n[[alerts]]\nname = "broken"\nquery = "kazakhstan AND (riot"\n'
    alerts += '\n[[sections]]\nslug = "x"\nquery = "region:Atlantis"\n'
    config = tmp_path / "bad.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "s.db"}"\n{alerts}\n{_hook(receiver.url)}',
        encoding="utf-8",
    )
    result = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 1
    assert "alerts[1].query" in result.stdout
    assert "column" in result.stdout
    assert "sections[0].query" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    good = config.read_text().replace('[[alerts]]\nname = "broken"', '[[alerts]]\nname = "ok"')
    good = good.replace("(riot", "(riot)").replace("region:Atlantis", "region:KZ")
    config.write_text(good, encoding="utf-8")
    result = syndicator("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 1
    assert "alerts[0].schedule" in result.stdout


def test_explain_shows_the_alerts_a_cluster_triggered(tmp_path: Path, receiver: Receiver) -> None:
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread")], NOW)
    _deliver(store, settings, NOW)
    store.close()
    config = str(settings.path)
    result = syndicator("--config", config, "explain", "cluster:1", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [alert] = json.loads(result.stdout)["alerts"]
    assert (alert["alert"], alert["channel"], alert["status"], alert["score"]) == (
        "kz-unrest",
        "hook",
        "sent",
        1.0,
    )
    text = syndicator("--config", config, "explain", "cluster:1", cwd=tmp_path).stdout
    assert "kz-unrest  1.0" in text
    assert "-> hook: sent" in text


def test_an_immediate_backlog_goes_out_in_one_run(tmp_path: Path, receiver: Receiver) -> None:
    settings = _settings(tmp_path, KZ_ALERT + "max_items = 1\n", _hook(receiver.url))
    store = _store(settings)
    texts = [f"Protest number {n} in Kazakhstan as unrest grows in town {n}." for n in range(3)]
    store.store_stories(
        [_story(f"s{n}", f"Kazakhstan protest {n} word{n}", text=t) for n, t in enumerate(texts)],
        NOW,
    )
    _deliver(store, settings, NOW)
    assert len(receiver.seen) == 3
    assert len(set(receiver.ids())) == 3


def test_a_backlog_larger_than_a_batch_goes_out_in_one_run(
    tmp_path: Path, receiver: Receiver
) -> None:
    # `run --once` delivers once per cron run: a first poll of thousands of sources makes
    # thousands of messages, and only the first batch (100) went, the rest hours later.
    settings = _settings(tmp_path, KZ_ALERT + "max_items = 1\n", _hook(receiver.url))
    store = _store(settings)
    titles = _store_backlog(store, 130)
    _deliver(store, settings, NOW + timedelta(hours=130))
    assert len(receiver.seen) == 130
    assert [body["data"]["items"][0]["title"] for body in receiver.bodies()] == titles  # type: ignore[index]
    assert store.alert_status() == [("kz-unrest", "hook", "sent", 130)]


def _store_backlog(store: Store, count: int) -> list[str]:
    """`count` matching stories, an hour apart, oldest first; their titles in that order."""
    titles = [f"Kazakhstan protest {n} word{n}" for n in range(count)]
    store.store_stories(
        [
            _story(f"s{n}", title, text=f"Protest {n} in Kazakhstan as unrest grows.", hours=n)
            for n, title in enumerate(titles)
        ],
        NOW,
    )
    return titles


def test_the_parts_of_a_backlog_go_out_in_story_order(tmp_path: Path, receiver: Receiver) -> None:
    # Six parts: sent in the order of their random ids, one run in 720 would pass.
    settings = _settings(tmp_path, KZ_ALERT + "max_items = 1\n", _hook(receiver.url))
    store = _store(settings)
    titles = _store_backlog(store, 6)
    _deliver(store, settings, NOW + timedelta(hours=6))
    bodies = [body["data"] for body in receiver.bodies()]
    assert [data["items"][0]["title"] for data in bodies] == titles  # type: ignore[index]
    assert [data["held_back"] for data in bodies] == [5, 4, 3, 2, 1, 0]  # type: ignore[index]


def test_the_parts_of_a_backlog_are_mailed_in_story_order(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    channel = (
        '[channels.desk]\ntype = "email"\nto = ["desk@example.org"]\n'
        f'from = "alerts@example.org"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\ntls = "none"\n'
    )
    alert = KZ_ALERT.replace('"hook"', '"desk"') + "max_items = 2\n"
    settings = _settings(tmp_path, alert, channel)
    store = _store(settings)
    titles = _store_backlog(store, 10)
    _deliver(store, settings, NOW + timedelta(hours=10))
    texts = [_text_part(raw) for raw in box.messages]
    firsts = [next(line for line in text.splitlines() if line.startswith("1. ")) for text in texts]
    assert firsts == [f"1. {title}" for title in titles[::2]]
    assert "And 8 more matches in the next message." in texts[0]
    assert "more in the next message" not in texts[-1]


def _text_part(raw: bytes) -> str:
    mail = message_from_bytes(raw)
    part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def test_a_delivery_is_committed_before_a_kill_of_the_poll_write_group(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The daemon delivers between a poll's awaits, on its connection, while a write group may
    be open. A kill before that group's commit must not lose the sent delivery: a restart would
    send the match again under a new webhook-id."""
    settings = _settings(tmp_path, KZ_ALERT, _hook(receiver.url))
    store = _store(settings)
    store.begin_group()  # a poll cycle stores a feed ...
    store.store_stories([_story("a", "Kazakhstan protests spread to Almaty")], NOW)
    _deliver(store, settings, NOW)  # ... the deliver job runs between two of its awaits ...
    store.begin_group()  # ... the poll goes on storing ...
    store.store_stories([_story("c", "Almaty weather", text="Sunny.")], NOW)
    store.db.conn.close()  # ... and SIGKILL: nothing more is committed

    store = _store(settings)
    store.store_stories([_story("a", "Kazakhstan protests spread to Almaty")], NOW)  # re-poll
    _deliver(store, settings, NOW + timedelta(minutes=1))
    ids = {headers["webhook-id"] for headers, _ in receiver.seen}
    assert len(ids) == 1, f"the match went out under {len(ids)} webhook-ids"
    assert store.alert_status() == [("kz-unrest", "hook", "sent", 1)]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30.114427, "30 s"), (119, "119 s"), (480.5, "8 min"), (6 * 3600, "6.0 h"), (0.2, "0 s")],
)
def test_retry_waits_read_as_operators_read_them(seconds: float, text: str) -> None:
    assert readable_wait(timedelta(seconds=seconds)) == text
