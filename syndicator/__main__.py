"""`python -m syndicator` is the `syndicator` command."""

from syndicator.cli import main

raise SystemExit(main())
