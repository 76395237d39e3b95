"""Logging set-up for every command: one event per line on stderr (stdlib only).

Readable text by default (`2026-11-27 16:35:33,657 INFO    syndicator.alerts: ...`), or one
JSON object per line with `--log-format json` for log collectors: `time` (UTC, RFC 3339),
`level`, `logger`, `message`, and `exception` (the traceback) when there is one. Secrets
never reach a log line: nothing logs channel options, delivery errors are scrubbed where
they are made (`notify`), and the credential parameters of URLs (`?apikey=`, a source's key)
are masked here (`mask_credentials`). A text message is one line whatever it carries: its control
characters are written as escapes (`one_line`), so a feed's title cannot forge a log line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from urllib.parse import unquote

LOG_FORMATS = ("text", "json")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Words of a query parameter's name that say its value is a credential: a paid wire's
# `?apikey=`, a private feed's `?token=` or `&auth=`, a signed URL's `X-Amz-Signature=`.
_CREDENTIAL_WORDS = frozenset(
    {
        "key", "apikey", "authkey", "accesskey", "privatekey", "token", "authtoken", "auth",
        "secret", "password", "passwd", "pass", "pwd", "sig", "signature", "session",
        "sessionid", "credential", "credentials",
    }
)  # fmt: skip
_NAME_WORDS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")
_QUERY_PARAMETER = re.compile(r"([?&])([^\s=&#?\"'<>]+)=([^\s&#\"'<>]*)")


def is_credential_name(name: str) -> bool:
    """Whether a query parameter's name (`apikey`, `access_token`, `X-Amz-Signature`; not
    `keywords` or `monkey`) says that its value is a credential, by the words of the name."""
    words = _NAME_WORDS.split(unquote(name))
    return any(word.lower() in _CREDENTIAL_WORDS for word in words)


def mask_credentials(text: str) -> str:
    """`text` with the value of every credential query parameter of the URLs in it written
    `…`: a source's URL is in many log lines (a parser warning, a move, a failure), and a
    paid or private feed's URL holds its key, often from the environment (`${FEED_KEY}`)."""
    if "=" not in text:
        return text
    return _QUERY_PARAMETER.sub(_masked_parameter, text)


def _masked_parameter(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    return f"{separator}{name}=…" if value and is_credential_name(name) else match.group()


def one_line(text: str) -> str:
    """`text` with its line breaks, escape (ANSI colour codes) and other control characters
    written as Python escapes (`\\n`, `\\x1b`): for a log line or a line of `status`, where
    what a feed server sent (its title, an error it caused) is shown to an operator."""
    return _CONTROL.sub(lambda match: ascii(match.group())[1:-1], text)


class TextFormatter(logging.Formatter):
    """The readable format; the message is kept to one line (the traceback is not)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(mask_credentials(record.message))
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_credentials(record.getMessage()),
        }
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


def configure_logging(verbose: bool = False, log_format: str = "text") -> None:
    """One line per event on stderr, which systemd and container runtimes collect."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
    )
    # APScheduler warns each time a tick is skipped because the previous one still runs,
    # which is the intended max_instances=1 behaviour; its errors still come through.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
