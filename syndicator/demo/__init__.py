"""`syndicator demo`: the whole system offline, on loopback.

Serves the bundled newsroom (six fictional outlets in RSS and Atom, with wire stories that
several of them republish) from a local HTTP server, writes a config that points at it under
`var/demo/`, and runs the real daemon on it: polling, storing, publishing and serving feeds.
Nothing here is simulated except the outlets themselves; no network beyond 127.0.0.1 is used.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from syndicator.config import load_settings
from syndicator.daemon import Daemon
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


def demo_config(newsroom_url: str, work_dir: Path, port: int) -> str:
    """The TOML the demo runs on: every outlet, a few sections, fast polling, loopback allowed."""
    sources = "".join(
        f'\n[[sources]]\nurl = "{newsroom_url}{file}"\nname = "{name}"\nregion = "{region}"\n'
        for file, name, region in OUTLETS
    )
    return f"""# Written by `syndicator demo`; safe to delete.
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
"""


def prepare_demo(work_dir: Path, newsroom_url: str, port: int) -> Path:
    """A fresh demo directory (old demo data removed) with its config; returns the path."""
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    config_path = work_dir / "syndicator.toml"
    config_path.write_text(demo_config(newsroom_url, work_dir, port), encoding="utf-8")
    return config_path


def run_demo(
    work_dir: Path = DEFAULT_DEMO_DIR,
    port: int = 8080,
    say: Callable[[str], None] = print,
) -> None:
    """Run the demo until SIGINT/SIGTERM, telling the user where to look."""
    newsroom = Newsroom()
    newsroom_url = newsroom.start()
    try:
        config_path = prepare_demo(work_dir.resolve(), newsroom_url, free_port(port))
        settings = load_settings(config_path)

        def ready(daemon: Daemon) -> None:
            base = settings.publish.base_url
            say(f"Demo newsroom: {len(OUTLETS)} outlets served at {newsroom_url}")
            say(f"Config:        {config_path}")
            say(f"Feed index:    {base}")
            say(f"All stories:   {base}feeds/all.atom")
            for section in settings.sections:
                say(f"Section:       {base}feeds/{section.slug}.atom")
            say(f"Files:         {settings.publish.output_dir}")
            say("Press Ctrl-C to stop.")

        Daemon(config_path, settings).run(on_ready=ready)
    finally:
        newsroom.stop()
