"""The SSRF matrix: URL forms of loopback, private, link-local and metadata addresses, with the
guard on, in seven places: as sources (`check`, `run --once`, `status --json`), as OPML imports
(`sources import`, then a run), as the target of a source's redirect, as webhook channels
(`alerts.deliver`), through `send_webhook` directly, as the target of a webhook's redirect,
and fetched through a configured proxy (which must not even be asked).

A victim listener on loopback (127.0.0.1, and [::1] on the same port when the host has IPv6)
counts every accepted connection, whatever is sent on it, and answers HTTP 200 with a small RSS
document, so a guard that let a form through would show as a fetched story or a sent webhook.
Each form is built to reach the victim if the guard failed, except the private, CGNAT and
metadata addresses, which no test may reach (no network but loopback): they are refused before
any connection or not at all. Every case gets its own path (`/ssrf/<where>/<form>`), so a
connection that reaches the victim is attributed to the case that made it.

Redirects: the only servers a test may run are on loopback, which the guard refuses at the
first hop. So the redirecting server listens on 127.0.0.2, and exactly that one address is
made "public" by wrapping `netguard.is_public_address` (in a fresh interpreter for the CLI run,
with `MonkeyPatch` for the webhook). Everything else is the real guard: the redirect target is
judged by the same rules as a configured URL, and the victim stays on 127.0.0.1.

Run with `-s` to see the table of every case: form, where, outcome and message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from syndicator.alerts import alert_index, deliver
from syndicator.config import load_settings
from syndicator.errors import FetchError
from syndicator.fetch import FeedClient, FetchLimits
from syndicator.models import Story, Tag, TagKind
from syndicator.notify import AlertMessage, Outcome
from syndicator.notify.webhook import send_webhook
from syndicator.storage import ConfiguredSource, open_store

from .conftest import FeedServer, LoopbackProxy, Route, syndicator

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PUBLIC_STAND_IN = "127.0.0.2"  # plays "a public server" for the first hop of a redirect

# Known guard failures, found by this matrix (see the module docstring of each culprit).
# netguard.refusal_reason judges a host of Unicode digits or dots ("①②⑦.⓪.⓪.①",
# "１２７．０．０．１", "127。0。0。1") a name and leaves it to the guarded resolver; yarl maps it
# (IDNA/UTS-46) to the literal 127.0.0.1, and aiohttp never resolves a literal: it connects.
# netguard.is_public_address trusts `is_global`, True on Python 3.11 for the reserved ::/8
# (IPv4-compatible ::a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d): let through, not refused
# (here the kernel cannot route them: a timeout or "cannot connect"; the victim is not reached).


@dataclass(frozen=True)
class Form:
    """One URL form; `{port}` is the victim's port, `{path}` the case's own path."""

    id: str
    label: str
    template: str
    bug: str = ""  # a known guard failure: the case is a strict xfail with this reason
    dns: bool = False  # a name this host may not resolve: a DNS failure is safe, not clear

    def url(self, port: int, path: str) -> str:
        return self.template.format(port=port, path=path)

    @property
    def http(self) -> bool:
        """Whether the config validator accepts it (http(s) with a host)."""
        return self.template.lower().startswith(("http://", "https://"))


FORMS = [
    # Loopback IPv4, canonical and legacy spellings.
    Form("v4", "loopback 127.0.0.1", "http://127.0.0.1:{port}{path}"),
    Form("v4-https", "https to loopback", "https://127.0.0.1:{port}{path}"),
    Form("v4-upper", "upper-case scheme", "HTTP://127.0.0.1:{port}{path}"),
    Form("v4-dot", "trailing dot 127.0.0.1.", "http://127.0.0.1.:{port}{path}"),
    Form("v4-other", "127.5.6.7 (rest of 127/8)", "http://127.5.6.7:{port}{path}"),
    Form("dec", "decimal 2130706433", "http://2130706433:{port}{path}"),
    Form("hex", "hex 0x7f000001", "http://0x7f000001:{port}{path}"),
    Form("hex-dots", "dotted hex 0x7f.0x0.0x0.0x1", "http://0x7f.0x0.0x0.0x1:{port}{path}"),
    Form("oct", "octal 0177.0.0.1", "http://0177.0.0.1:{port}{path}"),
    Form("oct-pad", "octal 0177.0000.0000.0001", "http://0177.0000.0000.0001:{port}{path}"),
    Form("zero-pad", "zero-padded 127.000.000.001", "http://127.000.000.001:{port}{path}"),
    Form("short", "short 127.1", "http://127.1:{port}{path}"),
    Form("short3", "short 127.0.1", "http://127.0.1:{port}{path}"),
    Form("zero", "0", "http://0:{port}{path}"),
    Form("any4", "unspecified 0.0.0.0", "http://0.0.0.0:{port}{path}"),
    # Loopback IPv6 and IPv4-mapped IPv6.
    Form("v6", "IPv6 loopback [::1]", "http://[::1]:{port}{path}"),
    Form("v6-scope", "[::1%25lo] with a zone id", "http://[::1%25lo]:{port}{path}"),
    Form("any6", "unspecified [::]", "http://[::]:{port}{path}"),
    Form("mapped", "IPv4-mapped [::ffff:127.0.0.1]", "http://[::ffff:127.0.0.1]:{port}{path}"),
    Form("mapped-hex", "IPv4-mapped [::ffff:7f00:1]", "http://[::ffff:7f00:1]:{port}{path}"),
    Form(
        "mapped-long",
        "IPv4-mapped [0:0:0:0:0:ffff:127.0.0.1]",
        "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}{path}",
    ),
    Form(
        "compat",
        "IPv4-compatible [::127.0.0.1]",
        "http://[::127.0.0.1]:{port}{path}",
    ),
    Form(
        "translated",
        "IPv4-translated [::ffff:0:127.0.0.1]",
        "http://[::ffff:0:127.0.0.1]:{port}{path}",
    ),
    # Names that resolve to loopback here.
    Form("localhost", "localhost", "http://localhost:{port}{path}"),
    Form("LOCALHOST", "LOCALHOST", "http://LOCALHOST:{port}{path}"),
    Form("localhost.", "localhost. (FQDN)", "http://localhost.:{port}{path}", dns=True),
    # Credentials and parser-confusion tricks.
    Form("user", "user@127.0.0.1", "http://user@127.0.0.1:{port}{path}"),
    Form("user-pass", "user:pass@127.0.0.1", "http://user:pass@127.0.0.1:{port}{path}"),
    Form("at-evil", "evil.example@127.0.0.1", "http://evil.example@127.0.0.1:{port}{path}"),
    Form(
        "backslash-at",
        "evil.example\\@127.0.0.1",
        "http://evil.example\\@127.0.0.1:{port}{path}",
    ),
    Form("host-at", "127.0.0.1:PORT@evil.example", "http://127.0.0.1:{port}@evil.example{path}"),
    Form("frag-at", "127.0.0.1/#@evil.example", "http://127.0.0.1:{port}{path}#@evil.example/"),
    Form("query-at", "127.0.0.1/?@evil.example", "http://127.0.0.1:{port}{path}?@evil.example/"),
    # Unicode digits and dots that IDNA maps to ASCII.
    Form("circled", "circled digits ①②⑦.⓪.⓪.①", "http://①②⑦.⓪.⓪.①:{port}{path}"),
    Form(
        "fullwidth",
        "full-width １２７．０．０．１",
        "http://１２７．０．０．１:{port}{path}",
    ),
    Form(
        "ideo-dot",
        "ideographic dots 127。0。0。1",
        "http://127。0。0。1:{port}{path}",
    ),
    # Private, CGNAT, link-local and cloud metadata (never reachable from a test).
    Form("metadata", "metadata 169.254.169.254", "http://169.254.169.254/latest/meta-data{path}"),
    Form("metadata-hex", "metadata 0xa9fea9fe", "http://0xa9fea9fe/latest/meta-data{path}"),
    Form("metadata-dec", "metadata 2852039166", "http://2852039166/latest/meta-data{path}"),
    Form(
        "metadata-mapped",
        "metadata [::ffff:169.254.169.254]",
        "http://[::ffff:169.254.169.254]/latest{path}",
    ),
    Form("metadata-v6", "AWS IPv6 metadata [fd00:ec2::254]", "http://[fd00:ec2::254]/latest{path}"),
    Form("link-local6", "link-local [fe80::1]", "http://[fe80::1]{path}"),
    Form("link-local6-zone", "link-local [fe80::1%25eth0]", "http://[fe80::1%25eth0]{path}"),
    Form("private10", "private 10.0.0.1", "http://10.0.0.1{path}"),
    Form("private192", "private 192.168.1.1", "http://192.168.1.1{path}"),
    Form("private172", "private 172.16.0.1", "http://172.16.0.1{path}"),
    Form("cgnat", "CGNAT 100.64.0.1", "http://100.64.0.1{path}"),
    Form("ula", "unique local [fc00::1]", "http://[fc00::1]{path}"),
    # Other schemes.
    Form("file", "file:///etc/passwd", "file:///etc/passwd"),
    Form("file-host", "file://localhost/etc/passwd", "file://localhost/etc/passwd"),
    Form("ftp", "ftp://127.0.0.1", "ftp://127.0.0.1:{port}{path}"),
    Form("gopher", "gopher://127.0.0.1/_GET", "gopher://127.0.0.1:{port}/_GET%20{path}"),
    Form("dict", "dict://127.0.0.1", "dict://127.0.0.1:{port}{path}"),
    Form("data", "data:text/xml,<rss/>", "data:text/xml,<rss/>"),
    Form("no-scheme", "scheme-relative //127.0.0.1", "//127.0.0.1:{port}{path}"),
]
FORMS_BY_ID = {form.id: form for form in FORMS}
assert len(FORMS_BY_ID) == len(FORMS) >= 30


def _case_path(where: str, form: Form) -> str:
    return f"/ssrf/{where}/{form.id}"


# ---------------------------------------------------------------------------------------------
# The victim, the redirector, the report.


@dataclass
class Connection:
    """One accepted connection and the first line sent on it (empty if none)."""

    listener: str
    peer: str
    first_line: str = ""

    @property
    def path(self) -> str:
        words = self.first_line.split()
        return words[1].split("?", 1)[0] if len(words) >= 2 else ""


VICTIM_FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>victim</title>'
    b"<link>http://victim.example/</link><description>reached</description>"
    b"<item><title>SSRF reached the victim</title><guid>victim-1</guid></item></channel></rss>"
)


class Victim:
    """Raw TCP listeners on 127.0.0.1 and [::1] (same port) recording every accept."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._handlers: list[threading.Thread] = []
        first = socket.create_server(("127.0.0.1", 0))
        self.port = int(first.getsockname()[1])
        self.listeners = [("127.0.0.1", first)]
        try:
            second = socket.create_server(("::1", self.port), family=socket.AF_INET6)
        except OSError:
            pass  # no IPv6 loopback here: the [::1] forms cannot reach anything anyway
        else:
            self.listeners.append(("[::1]", second))
        self._acceptors = [
            threading.Thread(target=self._accept, args=pair, daemon=True) for pair in self.listeners
        ]
        for thread in self._acceptors:
            thread.start()

    def _accept(self, name: str, listener: socket.socket) -> None:
        listener.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = Connection(name, str(peer))
            handler = threading.Thread(target=self._answer, args=(conn, record), daemon=True)
            with self._lock:
                self.connections.append(record)
                self._handlers.append(handler)
            handler.start()

    def _answer(self, conn: socket.socket, record: Connection) -> None:
        with conn:
            conn.settimeout(2)
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 16384:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            record.first_line = data.split(b"\r\n", 1)[0].decode("latin-1")
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                f"Content-Length: {len(VICTIM_FEED)}\r\nConnection: close\r\n\r\n"
            )
            with contextlib.suppress(OSError):
                conn.sendall(head.encode() + VICTIM_FEED)

    def settle(self) -> list[Connection]:
        """Every connection so far, once their handlers have read what was sent."""
        with self._lock:
            handlers = list(self._handlers)
        for handler in handlers:
            handler.join(timeout=5)
        with self._lock:
            return list(self.connections)

    def hits(self, path: str) -> list[Connection]:
        return [c for c in self.settle() if c.path == path]

    def stop(self) -> None:
        self._stop.set()
        for thread in self._acceptors:
            thread.join(timeout=5)
        for _, listener in self.listeners:
            listener.close()
        self.settle()


class Redirector:
    """HTTP on 127.0.0.2: GET or POST /r/<form> answers a 3xx to `targets[<form>]`."""

    def __init__(self) -> None:
        self.targets: dict[str, str] = {}
        self.seen: list[str] = []
        redirector = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                redirector.seen.append(self.path)
                form = self.path.rsplit("/", 1)[-1]
                target = redirector.targets.get(form)
                if target is None:
                    self.send_error(404)
                    return
                codes = (301, 302, 303, 307, 308)
                self.send_response(codes[list(redirector.targets).index(form) % len(codes)])
                # Raw bytes: a real server may send UTF-8 in Location, which latin-1 cannot hold.
                self._headers_buffer.append(f"Location: {target}\r\n".encode())
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((PUBLIC_STAND_IN, 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, form: Form) -> str:
        return f"http://{PUBLIC_STAND_IN}:{self.port}/r/{form.id}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@dataclass
class Row:
    """What happened to one form in one place."""

    form: Form
    where: str
    message: str | None  # the error or detail the user sees; None: nothing reported
    hits: int  # connections the victim attributed to this case
    rejected_by: str = ""  # "check" or "import" when refused before anything ran
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        if self.hits:
            return "REACHED VICTIM"
        if self.message is None:
            return "NOT REPORTED"
        if self.rejected_by:
            return f"rejected by {self.rejected_by}"
        if "not followed" in self.message:
            return "redirect not followed"
        if _says_refused(self.message):
            return "refused"
        if self.form.dns and _is_dns_failure(self.message):
            return "unresolved"
        return "error, not a refusal"


def _says_refused(message: str) -> bool:
    """The guard's wording ("refused non-public address", "refused: credentials", ...), not
    the kernel's "Connection refused" of a closed port."""
    return re.search(r"(^|: )refused[ :]", message) is not None


def _is_dns_failure(message: str) -> bool:
    return any(text in message for text in ("Name or service not known", "resolve", "DNS"))


ROWS: list[Row] = []


def _table(rows: Sequence[Row]) -> str:
    lines = [f"{'FORM':<18} {'WHERE':<9} {'OUTCOME':<22} MESSAGE"]
    for row in rows:
        message = (row.message or "-").replace("\n", " ")
        if len(message) > 150:
            message = message[:149] + "…"
        lines.append(f"{row.form.id:<18} {row.where:<9} {row.outcome:<22} {message}")
    return "\n".join(lines)


def _check_row(row: Row) -> None:
    """The case's verdict: the victim saw nothing from it, and the user was told why."""
    assert row.hits == 0, f"the victim was reached:\n{_table([row])}"
    acceptable = row.outcome in ("refused", "unresolved") or row.rejected_by
    assert acceptable, f"not refused clearly:\n{_table([row])}"


# ---------------------------------------------------------------------------------------------
# Config, CLI and results.


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _write_config(tmp: Path, sources: Sequence[str], extra: str = "") -> Path:
    tables = "".join(f"\n[[sources]]\nurl = {_toml(url)}\n" for url in sources)
    path = tmp / "syndicator.toml"
    path.write_text(
        f"""
[storage]
path = {_toml(str(tmp / "db" / "syndicator.db"))}

[publish]
output_dir = {_toml(str(tmp / "feeds"))}
base_url = "http://feeds.test/"

[server]
port = 0

[polling]
min_interval = "1s"
timeout = "3s"
allow_private_addresses = false
{tables}
{extra}
""",
        encoding="utf-8",
    )
    return path


# The CLI in a fresh interpreter where exactly PUBLIC_STAND_IN counts as a public address.
_STAND_IN_CLI = f"""
import sys
import syndicator.netguard as guard
real = guard.is_public_address
guard.is_public_address = lambda address: address.split("%")[0] == {PUBLIC_STAND_IN!r} or real(
    address
)
from syndicator.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _stand_in_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _STAND_IN_CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _check_problems(config: Path, forms: Sequence[Form], key: str) -> dict[str, str]:
    """`syndicator check`: form id -> the problem line naming `key` for it."""
    result = syndicator("--config", str(config), "check", cwd=config.parent)
    assert "Traceback" not in result.stdout + result.stderr
    problems: dict[str, str] = {}
    for index, form in enumerate(forms):
        name = key.format(index=index)
        lines = [line.strip() for line in result.stdout.splitlines() if f"{name}:" in line]
        if lines:
            problems[form.id] = lines[0]
    assert (result.returncode == 1) == bool(problems), result.stdout + result.stderr
    return problems


def _run_and_status(
    config: Path, *, stand_in: bool = False
) -> tuple[dict[str, dict[str, object]], str]:
    """`run --once` then `status --json`: records by configured URL, and the run's output."""
    cli = _stand_in_cli if stand_in else syndicator
    run = cli("--config", str(config), "run", "--once", cwd=config.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    status = syndicator("--config", str(config), "status", "--json", cwd=config.parent)
    assert status.returncode == 0, status.stderr
    records = json.loads(status.stdout)
    return {str(record["url"]): record for record in records}, run.stdout + run.stderr


def _source_row(form: Form, where: str, url: str, records: dict[str, dict[str, object]]) -> Row:
    """The source's status: its last error, or that it was fetched (None: not in the status)."""
    record = records.get(url)
    if record is None:
        return Row(form, where, None, 0)
    extra = {"stories": record["stories"], "polls": record["polls"]}
    error = record.get("last_error")
    message = str(error) if error else f"no error: fetched, {record['stories']} story(ies) stored"
    return Row(form, where, message, 0, extra=extra)


def _attribute(rows: list[Row], victim: Victim) -> list[Row]:
    for row in rows:
        row.hits = len(victim.hits(_case_path(row.where, row.form)))
    ROWS.extend(rows)
    return rows


# ---------------------------------------------------------------------------------------------
# Fixtures: one batch per place, results per form.


@pytest.fixture(scope="module")
def victim() -> Iterator[Victim]:
    target = Victim()
    yield target
    target.stop()


@pytest.fixture(scope="module")
def redirector() -> Iterator[Redirector]:
    server = Redirector()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def as_sources(tmp_path_factory: pytest.TempPathFactory, victim: Victim) -> dict[str, Row]:
    """Every form as a [[sources]] url: `check`, then `run --once` and `status --json`."""
    tmp = tmp_path_factory.mktemp("sources")
    urls = {form.id: form.url(victim.port, _case_path("source", form)) for form in FORMS}
    config = _write_config(tmp, list(urls.values()))
    problems = _check_problems(config, FORMS, "sources[{index}].url")
    accepted = [form for form in FORMS if form.id not in problems]
    config = _write_config(tmp, [urls[form.id] for form in accepted])
    records, _ = _run_and_status(config)
    rows = []
    for form in FORMS:
        if form.id in problems:
            rows.append(Row(form, "source", problems[form.id], 0, rejected_by="check"))
        else:
            rows.append(_source_row(form, "source", urls[form.id], records))
    return {row.form.id: row for row in _attribute(rows, victim)}


@pytest.fixture(scope="module")
def as_opml(tmp_path_factory: pytest.TempPathFactory, victim: Victim) -> dict[str, Row]:
    """Every form as an OPML xmlUrl: `sources import`, then `run --once` and `status --json`."""
    tmp = tmp_path_factory.mktemp("opml")
    urls = {form.id: form.url(victim.port, _case_path("opml", form)) for form in FORMS}
    outlines = "".join(
        f"<outline text={quoteattr(form.id)} type='rss' xmlUrl={quoteattr(urls[form.id])}/>\n"
        for form in FORMS
    )
    opml = tmp / "ssrf.opml"
    opml.write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0"><head><title>t</title>'
        f"</head><body>\n{outlines}</body></opml>\n",
        encoding="utf-8",
    )
    config = _write_config(tmp, [])
    imported = syndicator("--config", str(config), "sources", "import", str(opml), cwd=tmp)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "Traceback" not in imported.stdout + imported.stderr
    skipped = {
        line.removeprefix("skipped invalid: ")
        for line in imported.stderr.splitlines()
        if line.startswith("skipped invalid: ")
    }
    records, _ = _run_and_status(config)
    rows = []
    for form in FORMS:
        said = next((line for line in skipped if line.startswith(urls[form.id] + ": ")), None)
        if said is not None:
            rows.append(Row(form, "opml", f"skipped invalid: {said}", 0, rejected_by="import"))
        else:
            rows.append(_source_row(form, "opml", urls[form.id], records))
    return {row.form.id: row for row in _attribute(rows, victim)}


@pytest.fixture(scope="module")
def as_redirects(
    tmp_path_factory: pytest.TempPathFactory, victim: Victim, redirector: Redirector
) -> dict[str, Row]:
    """Every form as the Location of a source's first hop (the stand-in public server)."""
    tmp = tmp_path_factory.mktemp("redirects")
    for form in FORMS:
        redirector.targets[form.id] = form.url(victim.port, _case_path("redirect", form))
    config = _write_config(tmp, [redirector.url(form) for form in FORMS])
    records, _ = _run_and_status(config, stand_in=True)
    rows = [_source_row(form, "redirect", redirector.url(form), records) for form in FORMS]
    for row in rows:
        row.extra["first hop"] = f"/r/{row.form.id}" in redirector.seen
    return {row.form.id: row for row in _attribute(rows, victim)}


def _message() -> AlertMessage:
    return AlertMessage(
        delivery_id="msg_ssrf",
        alert="ssrf",
        query="kazakhstan",
        items=(),
        held_back=0,
        created_at=NOW,
        feed_url="http://feeds.test/feeds/alerts/ssrf.atom",
        digest=False,
    )


def _send_all(urls: dict[str, str]) -> dict[str, tuple[Outcome, str]]:
    async def run() -> dict[str, tuple[Outcome, str]]:
        results = {}
        for form_id, url in urls.items():
            result = await send_webhook(
                {"url": url}, _message(), now=NOW, timeout_s=3, allow_private_addresses=False
            )
            results[form_id] = (result.outcome, result.detail)
        return results

    return asyncio.run(run())


@pytest.fixture(scope="module")
def as_webhooks(tmp_path_factory: pytest.TempPathFactory, victim: Victim) -> dict[str, Row]:
    """Every form as a webhook channel: `check`, then `alerts.deliver` with one channel per
    form; and every form (the ones the config refuses too) through `send_webhook` directly."""
    tmp = tmp_path_factory.mktemp("webhooks")
    urls = {form.id: form.url(victim.port, _case_path("webhook", form)) for form in FORMS}
    names = {form.id: f"hook{index:02d}" for index, form in enumerate(FORMS)}

    def channels(forms: Sequence[Form]) -> str:
        alert = '[[alerts]]\nname = "ssrf"\nquery = "kazakhstan"\n'
        alert += f"channels = {json.dumps([names[form.id] for form in forms])}\n"
        return alert + "".join(
            f'\n[channels.{names[form.id]}]\ntype = "webhook"\nurl = {_toml(urls[form.id])}\n'
            for form in forms
        )

    config = _write_config(tmp, ["https://wire.example/rss"], channels(FORMS))
    problems = _check_problems(config, FORMS, "channels.hook{index:02d}.url")
    accepted = [form for form in FORMS if form.id not in problems]
    config = _write_config(tmp, ["https://wire.example/rss"], channels(accepted))
    settings = load_settings(config)
    assert settings.polling.allow_private_addresses is False
    store = open_store(settings.storage.path)
    try:
        source = ConfiguredSource("https://wire.example/rss", "Wire", "", True, None)
        store.sync_sources([source], NOW)
        store.alerts = alert_index(settings)
        store.store_stories([_story()], NOW)
        report = asyncio.run(deliver(store, settings, NOW))
        deliveries = {
            d.channel: d
            for status in ("dead", "sent", "pending")
            for d in store.deliveries(status, limit=1000)
        }
    finally:
        store.close()
    assert report.composed == len(accepted)
    rows = []
    for form in FORMS:
        if form.id in problems:
            rows.append(Row(form, "webhook", problems[form.id], 0, rejected_by="check"))
            continue
        delivery = deliveries.get(names[form.id])
        message = None if delivery is None else f"{delivery.status}: {delivery.last_error}"
        rows.append(Row(form, "webhook", message, 0))
    _attribute(rows, victim)
    direct = _send_all({form.id: form.url(victim.port, _case_path("send", form)) for form in FORMS})
    sent = [Row(form, "send", f"{direct[form.id][0]}: {direct[form.id][1]}", 0) for form in FORMS]
    for row in _attribute(sent, victim):
        row.extra["outcome"] = direct[row.form.id][0]
    return {row.form.id: row for row in rows} | {f"send:{row.form.id}": row for row in sent}


@pytest.fixture(scope="module")
def as_webhook_redirects(victim: Victim, redirector: Redirector) -> dict[str, Row]:
    """Every form as the Location a (stand-in public) webhook receiver answers with."""
    for form in FORMS:
        redirector.targets[form.id] = form.url(victim.port, _case_path("hook-3xx", form))
    with pytest.MonkeyPatch.context() as patch:
        import syndicator.netguard as guard

        real = guard.is_public_address
        patch.setattr(
            guard,
            "is_public_address",
            lambda address: address.split("%")[0] == PUBLIC_STAND_IN or real(address),
        )
        direct = _send_all({form.id: redirector.url(form) for form in FORMS})
    rows = [
        Row(form, "hook-3xx", f"{o}: {d}", 0)
        for form, (o, d) in zip(FORMS, direct.values(), strict=True)
    ]
    for row in rows:
        row.extra["outcome"] = direct[row.form.id][0]
    return {row.form.id: row for row in _attribute(rows, victim)}


def _story() -> Story:
    text = "Protests in Kazakhstan spread to Almaty as fuel prices rise."
    return Story(
        source_id=1,
        guid_key="guid:ssrf",
        guid="ssrf",
        url="https://wire.example/ssrf",
        canonical_url="https://wire.example/ssrf",
        title="Kazakhstan protests spread",
        summary=text,
        content_html=f"<p>{text}</p>",
        text=text,
        author="",
        published_at=NOW,
        content_hash=text,
        tags=(Tag(TagKind.REGION, "KZ", 0.9, True, ("test",)),),
    )


# ---------------------------------------------------------------------------------------------
# One test per (form, place).


def _params() -> list[object]:
    return [
        pytest.param(
            form,
            id=form.id,
            marks=[pytest.mark.xfail(strict=True, raises=AssertionError, reason=form.bug)],
        )
        if form.bug
        else pytest.param(form, id=form.id)
        for form in FORMS
    ]


@pytest.mark.parametrize("form", _params())
def test_as_a_source_the_form_is_refused(form: Form, as_sources: dict[str, Row]) -> None:
    row = as_sources[form.id]
    _check_row(row)
    if not form.http:
        assert "sources[" in (row.message or "")  # `check` names the key
    assert row.extra.get("stories", 0) == 0


@pytest.mark.parametrize("form", _params())
def test_as_an_opml_import_the_form_is_refused(form: Form, as_opml: dict[str, Row]) -> None:
    row = as_opml[form.id]
    _check_row(row)
    assert row.extra.get("stories", 0) == 0


@pytest.mark.parametrize("form", _params())
def test_as_a_redirect_target_the_form_is_refused(form: Form, as_redirects: dict[str, Row]) -> None:
    row = as_redirects[form.id]
    assert row.extra["first hop"], "the stand-in public server was not asked: nothing tested"
    _check_row(row)
    assert row.extra.get("stories", 0) == 0


@pytest.mark.parametrize("form", _params())
def test_as_a_webhook_channel_the_form_is_refused(form: Form, as_webhooks: dict[str, Row]) -> None:
    row = as_webhooks[form.id]
    _check_row(row)
    if not row.rejected_by and row.outcome == "refused":
        assert (row.message or "").startswith("dead: "), _table([row])  # FAILED: dead at once


@pytest.mark.parametrize("form", _params())
def test_send_webhook_refuses_the_form(form: Form, as_webhooks: dict[str, Row]) -> None:
    row = as_webhooks[f"send:{form.id}"]
    _check_row(row)
    if row.outcome == "refused":
        assert row.extra["outcome"] is Outcome.FAILED, _table([row])


@pytest.mark.parametrize("form", _params())
def test_through_a_proxy_the_form_is_refused_before_the_proxy_is_asked(
    form: Form, proxy: LoopbackProxy
) -> None:
    # A proxy resolves and connects for us, so what the guard lets through is what a real
    # proxy would fetch: every form must be refused here, and the proxy asked nothing.
    url = form.url(9, _case_path("proxied", form))
    proxy.answers[url] = b"<rss version='2.0'><channel><title>x</title></channel></rss>"

    async def fetch() -> None:
        async with FeedClient(FetchLimits(timeout_s=5, proxy=proxy.url())) as client:
            await client.fetch(url)

    with pytest.raises(FetchError) as caught:
        asyncio.run(fetch())
    assert proxy.seen == [], f"{form.label}: the proxy was asked for {url}"
    assert caught.value.kind == "refused", str(caught.value)


@pytest.mark.parametrize("form", [pytest.param(form, id=form.id) for form in FORMS])
def test_a_webhook_redirect_to_the_form_is_not_followed(
    form: Form, as_webhook_redirects: dict[str, Row]
) -> None:
    row = as_webhook_redirects[form.id]
    assert row.hits == 0, _table([row])
    assert row.extra["outcome"] is Outcome.FAILED, _table([row])
    assert "redirect to" in (row.message or "")
    assert "not followed" in (row.message or "")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://[::1]:8080/hook", "http://[::1]:8080/hook"),
        ("http://[::]:8080/hook", "http://[::]:8080/hook"),
        ("data:text/xml,<rss/>", "data:text/xml,<rss/>"),
        ("//127.0.0.1:8080/hook", "//127.0.0.1:8080/hook"),
    ],
    ids=["v6", "any6", "data", "no-scheme"],
)
def test_a_refused_webhook_detail_shows_the_url_as_written(url: str, shown: str) -> None:
    """The detail of a refusal is what the user reads to find the bad channel: 'http://:::8080'
    or 'data://text/xml' is not the URL they configured."""
    result = asyncio.run(send_webhook({"url": url}, _message(), now=NOW))
    assert result.outcome is Outcome.FAILED
    assert result.detail.startswith(f"{shown}: refused")


def test_the_victim_counts_every_connection_even_without_a_request() -> None:
    """The matrix's zero means something: a silent connect counts, on every listener."""
    probe = Victim()
    try:
        for name, listener in probe.listeners:
            family, address = listener.family, listener.getsockname()[:2]
            with socket.socket(family) as silent:
                silent.connect(address)
            with socket.create_connection(address[:2]) as speaking:
                speaking.sendall(f"GET /probe/{name} HTTP/1.0\r\n\r\n".encode())
                assert speaking.recv(12).startswith(b"HTTP/1.1 200")
        seen = probe.settle()
    finally:
        probe.stop()
    assert len(seen) == 2 * len(probe.listeners)
    assert sorted(c.path for c in seen if c.path) == sorted(
        f"/probe/{n}" for n, _ in probe.listeners
    )


# ---------------------------------------------------------------------------------------------
# The per-hop guard when private addresses are allowed (tests and the demo): what still holds.


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1:{port}/allowed",
        "gopher://127.0.0.1:{port}/_GET%20/allowed",
        "data:text/xml,<rss/>",
        "http://user:pass@127.0.0.1:{port}/allowed",
        "http://evil.example@127.0.0.1:{port}/allowed",
    ],
)
def test_with_private_allowed_a_redirect_still_needs_http_and_no_credentials(
    target: str, feed_server: FeedServer, victim: Victim
) -> None:
    location = target.format(port=victim.port)
    feed_server.routes["/hop"] = Route(status=302, headers={"Location": location})
    before = len(victim.settle())

    async def fetch() -> None:
        async with FeedClient(FetchLimits(timeout_s=3, allow_private_addresses=True)) as client:
            await client.fetch(feed_server.url("/hop"))

    with pytest.raises(FetchError) as caught:
        asyncio.run(fetch())
    assert caught.value.kind == "refused"
    assert "refused" in str(caught.value)
    assert len(feed_server.requests_to("/hop")) == 1
    assert len(victim.settle()) == before


# ---------------------------------------------------------------------------------------------
# The victim's total, and the table.

ALL_PLACES = ("as_sources", "as_opml", "as_redirects", "as_webhooks", "as_webhook_redirects")


def _all_rows(request: pytest.FixtureRequest) -> list[Row]:
    for name in ALL_PLACES:
        request.getfixturevalue(name)
    return ROWS


def test_no_connection_reached_the_victim_but_the_known_bypasses(
    request: pytest.FixtureRequest, victim: Victim
) -> None:
    """Every accepted connection must come from a case marked as a known bug: a connection
    from any other case, or one that sent no request line at all, fails here."""
    rows = _all_rows(request)
    known = {_case_path(row.where, row.form) for row in rows if row.form.bug}
    unexpected = [c for c in victim.settle() if c.path not in known]
    assert unexpected == [], f"{unexpected}\n{_table(rows)}"


def test_the_victim_saw_zero_connections(request: pytest.FixtureRequest, victim: Victim) -> None:
    rows = _all_rows(request)
    connections = victim.settle()
    assert connections == [], f"{len(connections)} connection(s)\n{_table(rows)}"


def test_the_matrix_report(request: pytest.FixtureRequest, victim: Victim) -> None:
    """Prints the table (run with -s) and the counts per place and outcome."""
    rows = _all_rows(request)
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[(row.where, row.outcome)] = counts.get((row.where, row.outcome), 0) + 1
    summary = "\n".join(f"  {where:<9} {outcome:<22} {n}" for (where, outcome), n in counts.items())
    listeners = ", ".join(name for name, _ in victim.listeners)
    print(f"\nSSRF matrix: {len(FORMS)} forms x {len(ALL_PLACES) + 1} places = {len(rows)} cases")
    print(f"victim on {listeners} port {victim.port}: {len(victim.settle())} connection(s)")
    print(_table(rows))
    print("counts:\n" + summary)
    assert len(rows) == len(FORMS) * (len(ALL_PLACES) + 1)
