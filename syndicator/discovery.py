"""Feed autodiscovery: which feeds does an HTML page advertise, and is a body HTML at all.

One job: read the markup of a page someone gave us instead of a feed and return the absolute
URLs of the feeds it advertises with `<link rel="alternate" type="..." href="...">`, best
first; and tell an HTML page from a feed document so that the caller knows which to do.

It does not fetch anything (the caller fetches the page, then tries the candidates in order),
check that a candidate really is a feed (the parser decides that), guess conventional paths
such as /feed or /rss.xml, follow `<a>` links, or judge whether an address is safe to fetch
(the SSRF guard belongs to `fetch`). Pure: no I/O, no clock, standard library only, and it
never raises on any markup.

Choices worth knowing:

- Ranking: Atom and RSS 2.0 first (also labelled `application/atom` or `application/rss`,
  without the `+xml`, as some pages do), then RDF (RSS 1.0, but `application/rdf+xml` also labels
  FOAF and other metadata), then JSON Feed, then plain `application/json` (JSON Feed 1.0's
  old type, but also what WordPress uses for its REST API on every page). Within a rank the
  page's own order is kept: authors list their preferred feed first. A URL advertised twice
  keeps its best rank and its first position.
- `<base href>`: the first one with an href counts, for links *after* it only (HTML 4, and the
  diveintomark autodiscovery suite's html4-052). It is resolved against the page URL; a base
  that is not http(s) is ignored.
- URLs are resolved by RFC 3986 section 5.2 here rather than with `urllib.parse.urljoin`,
  which drops empty path segments (`.../web/2010/http://host/...` became `http:/host`).
- Parsing follows browsers where html.parser does not: the content of `<textarea>`, `<title>`
  and the like is text, `<![...]>` is a bogus comment, and a tag, comment or quote left open
  swallows the rest of the page.
- Decoding bytes: a byte-order mark (or UTF-16 seen in `<` plus NUL) wins, then a charset
  declared in a `<meta>` within the first 1024 bytes (as browsers prescan), else UTF-8; bad
  bytes become U+FFFD. A caller that has the HTTP header's charset should decode and pass str.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["discover_feed_urls", "looks_like_html"]

# Feed media types and their rank (lower is better); see the module docstring.
_FEED_TYPE_RANKS = {
    "application/atom+xml": 0,
    "application/rss+xml": 0,
    # Without "+xml", as some sites write them (cowboyprogrammer.org, beside a JSON Feed).
    "application/atom": 0,
    "application/rss": 0,
    "application/rdf+xml": 1,
    "application/feed+json": 2,
    "application/json": 3,
}
_HTML_MEDIA_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Content types that name a feed outright: no need to sniff the body.
_FEED_MEDIA_TYPES = frozenset(_FEED_TYPE_RANKS)
_FEED_ROOT_NAMES = frozenset({"rss", "feed", "rdf"})  # local names, lower case
_FETCHABLE_SCHEMES = frozenset({"http", "https"})
# Elements whose content browsers read as text, never as tags (html.parser only knows script
# and style): a <link> shown inside a <textarea> is not advertised.
_TEXT_ONLY_ELEMENTS = frozenset({"textarea", "title", "xmp", "iframe", "noembed", "noframes"})

_ASCII_WHITESPACE = " \t\n\f\r"
_ASCII_WHITESPACE_RUN = re.compile(r"[ \t\n\f\r]+")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
# What the WHATWG URL parser strips around an href: C0 controls and space.
_URL_EDGE_JUNK = "".join(chr(code) for code in range(0x21))

_PRESCAN_BYTES = 1024
_META_CHARSET = re.compile(
    rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:+-]+)", re.IGNORECASE
)
# Labels browsers read as windows-1252 (a UTF-16/32 label is read as UTF-8: the meta was
# found by reading the bytes as ASCII, so the document is ASCII-compatible).
_WINDOWS_1252_ALIASES = frozenset({"iso8859-1", "ascii"})

_SNIFF_BYTES = 4096
_PROLOG_ITEM = re.compile(r"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DOCTYPE_OR_TAG = re.compile(r"<(?:!doctype\s+)?([A-Za-z][\w:.-]*)", re.IGNORECASE)


class _Candidate(NamedTuple):
    rank: int
    url: str


def discover_feed_urls(html: bytes | str, page_url: str) -> list[str]:
    """Absolute http(s) URLs of the feeds `html` advertises, best first, without duplicates.

    `page_url` is the address the page was fetched from (after redirects); relative hrefs are
    resolved against it, or against the page's `<base href>`.
    """
    text = html if isinstance(html, str) else _decode_html(html)
    collector = _FeedLinkCollector(page_url)
    collector.feed(_without_marked_sections(text))
    # No close(): as in a browser, a tag, comment or quoted value still open at the end of
    # the input swallows the rest. close() would instead re-scan the rest once per "<" left,
    # which is quadratic on hostile input with CPython 3.11's html.parser (CVE-2025-6069).
    return _best_first(collector.candidates)


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    """True when a response is an HTML page (run discovery), False for a feed or anything else.

    A body that opens as a feed (`<rss`, `<feed`, `<rdf:RDF`, or JSON) is never HTML, whatever
    the server claims: servers label feeds text/html often enough. Otherwise an HTML or XHTML
    content type decides; a feed content type says no; and with no or an unhelpful content
    type (text/plain, application/octet-stream, XML) the body must open with `<html` or
    `<!DOCTYPE html`, after an optional BOM, XML declaration, comments and whitespace.
    """
    root = _sniff_root_name(body)
    if _is_feed_root(root) or _starts_like_json(body):
        return False
    media_type = _media_type(content_type or "")
    if media_type in _HTML_MEDIA_TYPES:
        return True
    if media_type in _FEED_MEDIA_TYPES:
        return False
    return root == "html"


def _decode_html(data: bytes) -> str:
    """Text of an HTML document: BOM, else `<meta>` charset, else UTF-8; never raises."""
    encoding = _sniff_unicode_encoding(data) or _declared_charset(data[:_PRESCAN_BYTES])
    return data.decode(encoding or "utf-8", errors="replace")


class _FeedLinkCollector(HTMLParser):
    """Collects feed links in document order; comments and text-only contents are not markup."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self._base_url = page_url
        self._page_url = page_url
        self._saw_base = False
        self._open_text_only_element: str | None = None
        self.candidates: list[_Candidate] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._open_text_only_element:
            return
        if tag in _TEXT_ONLY_ELEMENTS:
            self._open_text_only_element = tag
        elif tag == "link":
            self._collect_link(_first_attribute_values(attrs))
        elif tag == "base":
            self._adopt_base(_first_attribute_values(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open_text_only_element:
            self._open_text_only_element = None

    def _collect_link(self, attributes: dict[str, str]) -> None:
        rank = _FEED_TYPE_RANKS.get(_media_type(attributes.get("type", "")))
        if rank is None or not _is_alternate(attributes.get("rel", "")):
            return
        url = _resolve_fetchable_url(self._base_url, attributes.get("href", ""))
        if url is not None:
            self.candidates.append(_Candidate(rank, url))

    def _adopt_base(self, attributes: dict[str, str]) -> None:
        href = attributes.get("href", "")
        if self._saw_base or not _clean_href(href):
            return
        self._saw_base = True  # only the first base with an href counts, even a bad one
        self._base_url = _resolve_fetchable_url(self._page_url, href) or self._page_url


def _without_marked_sections(text: str) -> str:
    """`<![...` as the bogus comment HTML makes of it; html.parser 3.11 raises on some."""
    return text.replace("<![", "<!-[")


def _best_first(candidates: list[_Candidate]) -> list[str]:
    """Candidate URLs by rank, document order within a rank, each URL once."""
    ranked = sorted(candidates, key=lambda candidate: candidate.rank)  # sorted() is stable
    return list(dict.fromkeys(candidate.url for candidate in ranked))


def _first_attribute_values(attrs: list[tuple[str, str | None]]) -> dict[str, str]:
    """Attribute values by name; the first of repeated attributes wins, as in browsers."""
    values: dict[str, str] = {}
    for name, value in attrs:
        values.setdefault(name, value or "")
    return values


def _is_alternate(rel: str) -> bool:
    """A `rel` naming an alternate version, but not an alternate stylesheet."""
    tokens = {token.lower() for token in _ASCII_WHITESPACE_RUN.split(rel) if token}
    return "alternate" in tokens and "stylesheet" not in tokens


def _media_type(content_type: str) -> str:
    """`type/subtype` in lower case, without parameters or surrounding whitespace."""
    return content_type.split(";", 1)[0].strip(_ASCII_WHITESPACE).lower()


def _clean_href(href: str) -> str:
    """An href as URL parsers see it: no surrounding spaces/controls, no tabs or newlines."""
    return _TAB_OR_NEWLINE.sub("", href.strip(_URL_EDGE_JUNK))


def _resolve_fetchable_url(base_url: str, href: str) -> str | None:
    """`href` made absolute against `base_url`; None unless it is a usable http(s) URL."""
    reference = _clean_href(href)
    if not reference:
        return None
    try:
        url = _resolve_reference(urlsplit(base_url), urlsplit(reference), reference)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if url.scheme not in _FETCHABLE_SCHEMES or not url.hostname:
        return None
    return urlunsplit(url)


def _resolve_reference(base: SplitResult, ref: SplitResult, raw_ref: str) -> SplitResult:
    """RFC 3986 section 5.2.2; `http:path` with the base's scheme counts as relative."""
    if ref.scheme and (ref.scheme != base.scheme or ref.netloc):
        return ref._replace(path=_remove_dot_segments(ref.path))
    if ref.netloc:
        return ref._replace(scheme=base.scheme, path=_remove_dot_segments(ref.path))
    if not ref.path:
        has_query = "?" in raw_ref.split("#", 1)[0]
        query = ref.query if has_query else base.query
        return base._replace(query=query, fragment=ref.fragment)
    path = ref.path if ref.path.startswith("/") else _merge_paths(base, ref.path)
    return base._replace(path=_remove_dot_segments(path), query=ref.query, fragment=ref.fragment)


def _merge_paths(base: SplitResult, relative_path: str) -> str:
    """RFC 3986 section 5.2.3: the relative path replaces the base path's last segment."""
    if base.netloc and not base.path:
        return "/" + relative_path
    return base.path[: base.path.rfind("/") + 1] + relative_path


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, keeping empty segments (`a//b` stays `a//b`)."""
    absolute = path.startswith("/")
    segments = path.split("/")[1:] if absolute else path.split("/")
    output: list[str] = []
    for segment in segments:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if segments and segments[-1] in {".", ".."}:
        output.append("")  # "a/b/.." names the directory "a/"
    return ("/" if absolute else "") + "/".join(output)


def _sniff_unicode_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark announces, or UTF-16 recognised by `<` beside a NUL."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # this codec reads and drops the BOM
    if data.startswith(b"<\x00") and not data.startswith(b"<\x00\x00"):
        return "utf-16-le"
    if data.startswith(b"\x00<"):
        return "utf-16-be"
    return None


def _declared_charset(head: bytes) -> str | None:
    """The Python codec for a `<meta charset>` or `http-equiv` Content-Type, if usable."""
    match = _META_CHARSET.search(head)
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return "cp1252" if name in _WINDOWS_1252_ALIASES else name


def _sniff_root_name(body: bytes) -> str | None:
    """Lower-case name of the doctype, or else of the first element, at the start of `body`."""
    head = body[:_SNIFF_BYTES]
    text = head.decode(_sniff_unicode_encoding(head) or "latin-1", errors="replace")
    position = 0
    while match := _PROLOG_ITEM.match(text, position):
        position = match.end()
    name = _DOCTYPE_OR_TAG.match(text, position)
    return name.group(1).lower() if name else None


def _is_feed_root(name: str | None) -> bool:
    """`rss`, `feed` or `rdf:RDF`, with any namespace prefix."""
    return name is not None and name.rpartition(":")[2] in _FEED_ROOT_NAMES


def _starts_like_json(body: bytes) -> bool:
    """A JSON object or array (a JSON Feed, an API answer) cannot be an HTML page."""
    return body.lstrip(codecs.BOM_UTF8).lstrip()[:1] in {b"{", b"["}
