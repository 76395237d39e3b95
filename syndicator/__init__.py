"""syndicator: an RSS/Atom syndication and alerting daemon.

Polls news sources, keeps each story once, tags it by region and topic, publishes per-section
Atom feeds and sends keyword alerts. See README.md and shared/DESIGN.md for the architecture.
"""

__version__ = "0.1.0"
