"""Search budgets of the property tests (hypothesis): fixed in CI, longer on demand.

A test module says `deterministic = budget(300)` and decorates its properties with it.

- By default (CI, `make test`) that is the same 300 examples on every run: derandomized, no
  example database, no deadline (a slow machine does not make a test flaky).
- `SYNDICATOR_FUZZ=50` (`make fuzz`) multiplies every budget by 50 and searches at random, a
  new search on each run. Failing examples are kept in `.hypothesis/` at the repository root,
  and the next fuzz run replays them first, until they pass.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

FUZZ_ENV_VAR = "SYNDICATOR_FUZZ"
EXAMPLE_DATABASE = Path(__file__).resolve().parents[1] / ".hypothesis" / "examples"


def fuzz_factor() -> int:
    """$SYNDICATOR_FUZZ: how many times the CI budget a fuzz run searches; 0 when unset."""
    raw = os.environ.get(FUZZ_ENV_VAR, "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{FUZZ_ENV_VAR} must be a positive whole number, got {raw!r}")
    return int(raw)


def budget(examples: int) -> settings:
    """The hypothesis settings of a property test whose CI run tries `examples` inputs."""
    factor = fuzz_factor()
    if not factor:
        return settings(derandomize=True, database=None, deadline=None, max_examples=examples)
    return settings(
        derandomize=False,
        database=DirectoryBasedExampleDatabase(EXAMPLE_DATABASE),
        deadline=None,
        max_examples=examples * factor,
    )
