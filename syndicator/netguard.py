"""The SSRF guard's rules: which URLs and which resolved addresses may be connected to.

One guard for every adapter that connects to a URL taken from configuration or a peer
(`fetch` for sources, `notify.webhook` for alert webhooks), so they cannot drift apart. It
decides only: it opens no connection, resolves no name and imports no HTTP library. Each
adapter applies it twice: `refusal_reason` before any DNS lookup, and `public_results` on
what its resolver returned, at connect time (a thin aiohttp resolver in each adapter).
Through a proxy, which resolves names itself, an adapter looks the name up and applies
`non_public_reason` to what it finds instead.

Rules, unless private addresses are allowed: only http(s), no credentials in the URL, no
numeric host spellings other than canonical IPs (2130706433, 0x7f.1, 0177.0.0.1), and no
loopback, private, link-local, CGNAT, multicast, unspecified or reserved address, IPv4-mapped
IPv6 included. Scheme, credentials and a host are required even when private addresses are
allowed.
"""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

_Result = TypeVar("_Result", bound=Mapping[str, Any])
_IPV6_RESERVED_TOP = 1 << 120  # everything below is ::/8


class RefusedAddress(OSError):
    """Raised inside an HTTP client's connect when the guard refuses a resolved address."""


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    elif isinstance(ip, ipaddress.IPv6Address) and int(ip) < _IPV6_RESERVED_TOP:
        # ::/8 is reserved (IPv4-compatible ::a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d), yet
        # Python 3.11 counts some of it as global.
        return False
    return ip.is_global and not ip.is_multicast


def refusal_reason(url: str, allow_private_addresses: bool = False) -> str | None:
    """Why the guard refuses to connect to `url` before any DNS lookup, or None if it may go
    on (a host name is judged later, on the addresses it resolves to: `public_results`)."""
    try:
        parts = urlsplit(url)
        host = client_host(parts.hostname or "")
    except ValueError as e:
        return f"malformed URL: {e}"
    if parts.scheme not in ("http", "https"):
        return f"refused scheme {parts.scheme or '(none)'!r}: only http and https"
    if parts.username is not None or parts.password is not None:
        return "refused: credentials in the URL"
    if not host:
        return "refused: no host"
    if allow_private_addresses:
        return None
    if _is_ip_literal(host):
        return None if is_public_address(host) else f"refused non-public address {host}"
    if _is_numeric_spelling(host):
        return f"refused numeric host spelling {host!r} (not a canonical IP address)"
    return None  # a name: checked after resolution by the guarded resolver


def client_host(host: str) -> str:
    """The host as an HTTP client will connect to it: a non-ASCII host is IDNA-encoded
    first, which maps full-width and circled digits and ideographic full stops to ASCII, so
    "１２７．０．０．１" or "①②⑦.⓪.⓪.①" is judged as the 127.0.0.1 it becomes (aiohttp's URL
    library does the same). ValueError when the host cannot be encoded."""
    if not host.isascii():
        try:
            host = unicodedata.normalize("NFKC", host).encode("idna").decode("ascii")
        except UnicodeError as e:
            raise ValueError(f"host {host!r} cannot be encoded: {e}") from e
    return host.rstrip(".").lower()


def public_results(host: str, results: Sequence[_Result]) -> list[_Result]:
    """The resolver's `results` (mappings with the address under "host", as aiohttp's
    `ResolveResult`) whose address is public. Raises `RefusedAddress` when none is."""
    public = [result for result in results if is_public_address(str(result["host"]))]
    if not public:
        addresses = ", ".join(sorted({str(result["host"]) for result in results}))
        raise RefusedAddress(f"{host} resolves to a non-public address ({addresses})")
    return public


def proxied_name_reason(host: str) -> str | None:
    """Why a host name is refused through a proxy before any lookup, or None: a localhost
    name, or a single-label name (only an internal resolver knows one, and a proxy's may).
    Without a proxy these reach the resolver guard, which judges their addresses."""
    name = host.rstrip(".").lower()
    if _is_ip_literal(name) or _is_numeric_spelling(name):
        return None  # judged by `refusal_reason` and `non_public_reason`
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is a localhost name"
    if "." not in name:
        return f"{host} is a single-label name, known only to an internal resolver"
    return None


def non_public_reason(host: str, addresses: Sequence[str]) -> str | None:
    """Why a name is refused when any of the addresses it resolves to is not public (a
    proxy may connect to any of them), or None. For adapters going through a proxy, which
    look the name up themselves: the guard itself resolves no name."""
    private = sorted({address for address in addresses if not is_public_address(address)})
    if private:
        return f"{host} resolves to a non-public address ({', '.join(private)})"
    return None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _is_numeric_spelling(host: str) -> bool:
    """Legacy IPv4 spellings libc still accepts (127.1, 2130706433, 0x7f000001, 0177.0.0.1)."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True
