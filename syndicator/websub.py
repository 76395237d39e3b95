"""WebSub publishing: tell the hub (`publish.hub`) which of our feeds just changed.

Every published feed advertises the hub (`link rel="hub"` in Atom, `hubs` in JSON Feed);
after a publish writes a feed, the hub is sent the usual publisher ping, one form-encoded
POST per changed topic URL: `hub.mode=publish&hub.url=<feed URL>` (the convention of
PubSubHubbub 0.4 that WebSub's section 4 leaves to hubs, and that the public hubs accept).
The hub then fetches the feed and pushes it to its subscribers.

A failed ping is logged and returned, never raised and never retried: subscribers that
miss a push still get the change at their next poll (conditional GET), and the next change
pings again. Nothing here reads or writes the store or the files.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aiohttp

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 10.0
PARALLEL_PINGS = 4


async def notify_hub(
    hub_url: str, topic_urls: Sequence[str], user_agent: str = "syndicator"
) -> list[str]:
    """Ping the hub once per topic URL; returns one problem line per failed ping."""
    if not hub_url or not topic_urls:
        return []
    limit = asyncio.Semaphore(PARALLEL_PINGS)
    timeout = aiohttp.ClientTimeout(total=PING_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": user_agent}) as http:

        async def ping(topic: str) -> str | None:
            async with limit:
                return await _ping(http, hub_url, topic)

        results = await asyncio.gather(*(ping(topic) for topic in topic_urls))
    problems = [problem for problem in results if problem]
    for problem in problems:
        log.warning("websub: %s", problem)
    if len(problems) < len(topic_urls):
        log.info("websub: hub %s told of %d changed feed(s)", hub_url, len(topic_urls))
    return problems


async def _ping(http: aiohttp.ClientSession, hub_url: str, topic: str) -> str | None:
    form = {"hub.mode": "publish", "hub.url": topic}
    try:
        async with http.post(hub_url, data=form, allow_redirects=False) as response:
            if 200 <= response.status < 300:
                return None
            body = (await response.content.read(200)).decode("utf-8", "replace").strip()
            return f"hub {hub_url} refused {topic}: HTTP {response.status} {body}".rstrip()
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
        return f"hub {hub_url} unreachable for {topic}: {type(e).__name__}: {e}"
