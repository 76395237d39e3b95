"""The one rooted exception tree of syndicator (stdlib only).

Every error a user can cause or meet is a `SyndicatorError`; `str(e)` says what went wrong and
where. Third-party exceptions are wrapped with `raise ... from e` at the module that calls the
library, so no caller ever needs to know which library was underneath.
"""

from __future__ import annotations

from collections.abc import Sequence


class SyndicatorError(Exception):
    """Base of every error syndicator raises on purpose."""


class ConfigError(SyndicatorError):
    """The configuration is invalid; `problems` lists every one as 'key.path: message'
    (and `warnings` what `syndicator check` also prints, in the same form)."""

    def __init__(self, path: str, problems: list[str], warnings: Sequence[str] = ()) -> None:
        self.path = path
        self.problems = list(problems)
        self.warnings = tuple(warnings)  # doubts that alone would not make the config invalid
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{path}: {len(self.problems)} problem(s)\n{lines}")


class SourceError(SyndicatorError):
    """A source could not be read; recorded on the source, never fatal to the cycle."""


class FetchError(SourceError):
    """The HTTP fetch of a source failed (network, status, limits).

    `kind` classifies it for the failure score ("network", "timeout", "http", "limit",
    "refused"); `status` and `retry_after` carry the HTTP status and Retry-After header.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "network",
        status: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


class ParseError(SourceError):
    """The fetched document yielded no feed entries we could read."""


class StorageError(SyndicatorError):
    """The SQLite store could not be opened, migrated or written."""


class PublishError(SyndicatorError):
    """A feed document could not be rendered or written."""


class DeliveryError(SyndicatorError):
    """An alert could not be delivered over a channel."""


class QueryError(SyndicatorError):
    """A query in the alert language is malformed."""


class LockError(SyndicatorError):
    """Another run holds the lock file."""
