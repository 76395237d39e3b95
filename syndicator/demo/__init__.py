"""`syndicator demo`: the whole system offline, on loopback.

Serves the bundled newsroom (six fictional outlets in RSS and Atom, with wire stories that
several of them republish) from a local HTTP server, writes a config that points at it under
`var/demo/`, and runs the real daemon on it: polling, storing, publishing and serving feeds.
Nothing here is simulated except the outlets themselves; no network beyond 127.0.0.1 is used.

It also starts a local mail server (aiosmtpd) and a local webhook receiver, and configures an
alert that delivers to both: every message that arrives is printed (the mail's subject and
recipients, the webhook's id and whether its Standard Webhooks signature checks out) and the
mails are kept under `var/demo/mailbox/`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import shutil
import socket
import threading
from collections.abc import Callable
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from syndicator.config import load_settings
from syndicator.daemon import Daemon
from syndicator.errors import SyndicatorError
from syndicator.server import RunningServer, build_directory_app, start_server

NEWSROOM_DIR = Path(__file__).parent / "newsroom"
DEFAULT_DEMO_DIR = Path("var/demo")

# (file, outlet name, region prior)
OUTLETS: tuple[tuple[str, str, str], ...] = (
    ("steppe-wire.rss", "Steppe Wire", "KZ"),
    ("caspian-herald.atom", "Caspian Herald", "Central Asia"),
    ("northern-ledger.rss", "The Northern Ledger", "Northern Europe"),
    ("pacific-daily.atom", "Pacific Daily", "Eastern Asia"),
    ("sahel-monitor.rss", "Sahel Monitor", "Western Africa"),
    ("evraziya-segodnya.rss", "Евразия сегодня", "Central Asia"),
)


class Newsroom:
    """The bundled feeds served from a background thread with its own event loop."""

    def __init__(self, directory: Path = NEWSROOM_DIR) -> None:
        self.directory = directory
        self._loop = asyncio.new_event_loop()
        self._server: RunningServer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="newsroom", daemon=True)

    def start(self) -> str:
        """Start serving; returns the base URL, e.g. http://127.0.0.1:41234/."""
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._server is None:
            raise OSError("demo newsroom: the loopback server did not start")
        return self._server.url

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = build_directory_app(self.directory)
        self._server = self._loop.run_until_complete(start_server(app, "127.0.0.1", 0))
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._server is not None:
            future = asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop)
            future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens there, else a free port chosen by the kernel."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


class DemoMailbox:
    """A local SMTP server (aiosmtpd) that keeps each mail as a .eml file and says so."""

    def __init__(self, directory: Path, say: Callable[[str], None]) -> None:
        self.directory = directory
        self.say = say
        self.port = free_port(0)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: every SMTP verb
        self._controller.start()
        self._started = True

    def stop(self) -> None:
        # Not started when the demo failed before (an unwritable --dir): aiosmtpd would
        # assert that it is running, hiding the error that stopped the demo.
        if getattr(self, "_started", False):
            self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.content
        count = len(list(self.directory.glob("*.eml"))) + 1
        (self.directory / f"{count:04d}.eml").write_bytes(data)
        mail = message_from_bytes(data)
        subject = str(make_header(decode_header(mail.get("Subject", ""))))
        self.say(f"[mail]    to {', '.join(envelope.rcpt_tos)}: {subject}")
        return "250 OK"


class DemoReceiver:
    """A local webhook receiver that checks the Standard Webhooks signature and says what
    arrived."""

    def __init__(self, secret: str, say: Callable[[str], None]) -> None:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received(key, self.headers, body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.say = say
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # shutdown() waits for serve_forever to end: if it never began (the demo failed
        # before, at an unwritable --dir), it waited forever and the demo hung, saying nothing.
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def received(self, key: bytes, headers: Any, body: bytes) -> None:
        message_id = headers.get("webhook-id", "")
        signed = f"{message_id}.{headers.get('webhook-timestamp', '')}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        offered = [part.split(",", 1)[-1] for part in headers.get("webhook-signature", "").split()]
        verdict = "signature ok" if expected in offered else "BAD SIGNATURE"
        try:
            data = json.loads(body)["data"]
            what = f"{data['alert']}: {len(data['items'])} stories"
        except (ValueError, KeyError, TypeError):
            what = f"{len(body)} bytes"
        self.say(f"[webhook] {message_id} ({verdict}) {what}")


def demo_config(
    newsroom_url: str,
    work_dir: Path,
    port: int,
    *,
    smtp_port: int = 2525,
    hook_url: str = "http://127.0.0.1:9/hook",
    secret: str = "whsec_ZGVtbw==",
) -> str:
    """The TOML the demo runs on: every outlet, a few sections, an alert delivered by email
    and webhook to the local receivers, fast polling, loopback allowed."""
    sources = "".join(
        f'\n[[sources]]\nurl = "{newsroom_url}{file}"\nname = "{name}"\nregion = "{region}"\n'
        for file, name, region in OUTLETS
    )
    return f"""{DEMO_MARKER}; safe to delete.
[storage]
path = "{work_dir / "syndicator.db"}"

[publish]
output_dir = "{work_dir / "feeds"}"
base_url = "http://127.0.0.1:{port}/"
title = "syndicator demo"

[server]
host = "127.0.0.1"
port = {port}

[polling]
interval = "20s"
min_interval = "2s"
timeout = "10s"
allow_private_addresses = true   # the newsroom is on loopback
{sources}
[[sections]]
slug = "central-asia-desk"
title = "Central Asia desk"
sources = ["Steppe Wire", "Caspian Herald", "Евразия сегодня"]

[[sections]]
slug = "wire"
title = "Steppe Wire and its republications"
sources = ["Steppe Wire"]
max_entries = 50

[[alerts]]
name = "kazakhstan"
query = 'region:KZ OR kazakhstan OR казахстан'
channels = ["desk-mail", "desk-hook"]
max_items = 10

[channels.desk-mail]
type = "email"
to = ["desk@demo.local"]
from = "syndicator@demo.local"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
tls = "none"

[channels.desk-hook]
type = "webhook"
url = "{hook_url}"
secret = "{secret}"
"""


def prepare_demo(work_dir: Path, newsroom_url: str, port: int, **receivers: Any) -> Path:
    """A fresh demo directory (old demo data removed) with its config; returns the path.
    `receivers`: smtp_port, hook_url and secret of the local mail and webhook receivers.
    Raises SyndicatorError for a directory that holds anything but an earlier demo's data."""
    _clear_earlier_demo(work_dir)
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SyndicatorError(f"--dir {work_dir}: cannot create it: {e.strerror}") from e
    config_path = work_dir / "syndicator.toml"
    config_path.write_text(demo_config(newsroom_url, work_dir, port, **receivers), encoding="utf-8")
    return config_path


# What a demo directory holds: its config (which starts with DEMO_MARKER), the database with
# its WAL, journal and lock files, the published feeds and the mailbox.
DEMO_MARKER = "# Written by `syndicator demo`"
DEMO_ENTRIES = frozenset(
    {"syndicator.toml", "feeds", "mailbox"}
    | {f"syndicator.db{suffix}" for suffix in ("", "-wal", "-shm", "-journal", ".lock")}
)


def _clear_earlier_demo(work_dir: Path) -> None:
    """Remove an earlier demo's data from `work_dir`. A directory holding anything else is
    refused: `demo --dir ~/news` removed the whole directory, whatever it held."""
    if not work_dir.exists():
        return
    if not work_dir.is_dir():
        raise SyndicatorError(f"--dir {work_dir}: not a directory")
    entries = {entry.name for entry in work_dir.iterdir()}
    config = work_dir / "syndicator.toml"
    earlier_demo = config.is_file() and config.read_bytes().startswith(DEMO_MARKER.encode())
    if entries and not (earlier_demo and entries <= DEMO_ENTRIES):
        raise SyndicatorError(
            f"--dir {work_dir}: holds files of its own, not an earlier demo's data; the demo "
            "starts afresh and would remove them: give it a new or empty directory"
        )
    for name in entries:
        path = work_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def run_demo(
    work_dir: Path = DEFAULT_DEMO_DIR,
    port: int = 8080,
    say: Callable[[str], None] = print,
) -> None:
    """Run the demo until SIGINT/SIGTERM, telling the user where to look."""
    newsroom = Newsroom()
    newsroom_url = newsroom.start()
    work_dir = work_dir.resolve()
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    mailbox = DemoMailbox(work_dir / "mailbox", say)
    receiver = DemoReceiver(secret, say)
    try:
        config_path = prepare_demo(
            work_dir,
            newsroom_url,
            free_port(port),
            smtp_port=mailbox.port,
            hook_url=receiver.url,
            secret=secret,
        )
        mailbox.start()
        receiver.start()
        settings = load_settings(config_path)

        def ready(daemon: Daemon) -> None:
            base = settings.publish.base_url
            say(f"Demo newsroom: {len(OUTLETS)} outlets served at {newsroom_url}")
            say(f"Config:        {config_path}")
            say(f"Feed index:    {base}")
            say(f"All stories:   {base}feeds/all.atom")
            for section in settings.sections:
                say(f"Section:       {base}feeds/{section.slug}.atom")
            say(f"Alert feed:    {base}feeds/alerts/kazakhstan.atom")
            say(f"Mail server:   127.0.0.1:{mailbox.port} (mails in {mailbox.directory})")
            say(f"Webhooks to:   {receiver.url}")
            say(f"Files:         {settings.publish.output_dir}")
            say("Press Ctrl-C to stop.")

        Daemon(config_path, settings).run(on_ready=ready)
    finally:
        receiver.stop()
        mailbox.stop()
        newsroom.stop()
