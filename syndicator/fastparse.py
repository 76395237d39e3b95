"""A fast reader for the common case, well-formed RSS 2.0, RSS 1.0 and Atom 1.0, that reads
it exactly as `parsing` reads it through feedparser; anything else it declines (returns None).

Why exact: an entry's identity (its guid, else its link) is derived from what the parser
returns, and a feed that is well-formed today and broken tomorrow is read by the fast path one
day and by feedparser the next. If the two disagreed on an id, the same story would be stored
twice. So this module reproduces feedparser's rules for the fields syndicator keeps: ids
resolved against the feed URL (and xml:base) when the guid is a permalink, the first permalink
guid standing in for a missing link, the first title, "description wins over content:encoded
as the summary" (with feedparser's content flag, which even leaks from the channel into the
first item), titles that look like HTML, last-date-wins, the UTF-8-as-Latin-1 and cp1252
repairs. It borrows feedparser's own date parser, HTML heuristic and URL joins as
`FeedparserRules` from `parsing` (the only importer of feedparser).
`benchmarks/parser_agreement.py` measures the agreement over the real-feed corpus;
`tests/test_fastparse.py` checks it on both corpora, on generated documents and quirk by quirk.

It declines, and feedparser reads the document instead, on: a body lxml rejects as XML, a
DOCTYPE, a media type feedparser would warn about, an HTTP charset that contradicts the
declared encoding, an encoding libiconv and Python might decode differently (UTF-16/32,
windows-1252, gb2312), a root other than `<rss>`, `<rdf:RDF>` or an Atom `<feed>`, and any
element inside an entry whose meaning under feedparser it does not reproduce (XHTML or base64
content, itunes/media categories, images, several Atom authors, markup inside a text element,
...). Declining is always safe; guessing is not.

It does no I/O, no sanitising (publishing sanitises) and no normalisation (`normalize` does).
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from syndicator.models import ParsedEntry, ParsedFeed
from syndicator.normalize import html_to_line


@dataclass(frozen=True, slots=True)
class FeedparserRules:
    """The parts of feedparser that decide values, borrowed so both paths agree exactly."""

    parse_date: Callable[[str], datetime | None]  # feedparser's, in UTC
    looks_like_html: Callable[[str], bool]
    urljoin: Callable[[str, str], str]
    cp1252: Mapping[int, str]
    safe_join: Callable[[str, str], str]  # how an xml:base attribute moves the base URL
    handled: frozenset[str]  # element names feedparser has a handler for ("dc_creator")


class Declined(Exception):
    """The document holds something only feedparser reads the way feedparser does."""


ATOM = "http://www.w3.org/2005/Atom"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

# feedparser's names for the namespaces whose elements it reads: the RSS and Atom family have
# no prefix, the modules their usual one. Any other namespace keeps the document's own prefix,
# as in feedparser.
_PREFIXES = {
    "": "", "http://backend.userland.com/rss": "", "http://blogs.law.harvard.edu/tech/rss": "",
    "http://purl.org/rss/1.0/": "", "http://my.netscape.com/rdf/simple/0.9/": "",
    ATOM.lower(): "", "http://purl.org/rss/1.0/modules/rss091#": "",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/dc/elements/1.1/": "dc", "http://purl.org/dc/terms/": "dcterms",
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    "http://search.yahoo.com/mrss": "media", "http://search.yahoo.com/mrss/": "media",
    "http://purl.org/rss/1.0/modules/syndication/": "sy",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
}  # fmt: skip
# Namespaces feedparser knows under a prefix syndicator does not read: a document may not
# reuse those prefixes for something else, so their elements are declined rather than guessed.
_OTHER_KNOWN = ("http://purl.org/atom/ns#", "http://purl.org/echo/", "http://purl.org/pie/")

# Elements inside an entry that feedparser reads into keys syndicator never looks at.
_HARMLESS = frozenset({
    "cc_license", "creativeCommons_license", "creativecommons_license", "copyright", "rights",
    "dc_rights", "created", "dcterms_created", "dcterms_valid", "enclosure", "expirationdate",
    "feedburner_browserfriendly", "generator", "geom", "georss_box", "georss_line",
    "georss_point", "georss_polygon", "georss_where", "georssgeom", "gml_exterior",
    "gml_linearring", "gml_linestring", "gml_point", "gml_polygon", "gml_pos", "gml_poslist",
    "where", "height", "width", "itunes_block", "itunes_explicit", "itunes_image",
    "itunes_subtitle", "subtitle", "tagline", "info", "media_content", "media_credit",
    "media_group", "media_license", "media_player", "media_rating", "media_restriction",
    "media_thumbnail", "psc_chapter", "psc_chapters", "newlocation", "cloud", "dc_publisher",
    "webmaster",
})  # fmt: skip
# Elements whose whole subtree feedparser files away from the entry's own fields.
_SKIPPED = frozenset({"contributor", "dc_contributor"})
# Keys syndicator reads that a handler-less element of the same name would overwrite.
_READ_KEYS = frozenset({"tags", "content", "links", "title_detail", "author_detail"})

_RDF_ROOT_CHILDREN = frozenset({"channel", "item", "image", "textinput"})
_TITLES = frozenset({"title", "dc_title"})
_SUMMARIES = frozenset({"description", "dc_description", "media_description"})
_ATOM_SUMMARIES = frozenset({"summary", "itunes_summary"})
_CONTENTS = frozenset({"content", "content_encoded", "fullitem"})
_PUBLISHED = frozenset({"pubdate", "published", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_AUTHORS = frozenset({"author", "dc_author", "dc_creator", "itunes_author"})
_CATEGORIES = frozenset({"category", "dc_subject", "keywords"})
_LANGUAGES = frozenset({"language", "dc_language"})

# Resolving no entities and loading no DTD: a document that needs either is declined anyway.
_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True,
    remove_pis=True, huge_tree=False, recover=False,
)  # fmt: skip
_CONTENT_TYPES = {"text": "text/plain", "html": "text/html", "text/plain": "text/plain",
                  "text/html": "text/html"}  # fmt: skip
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_XML_TYPES = frozenset({
    "application/xml", "application/xml-dtd", "application/xml-external-parsed-entity",
    "text/xml", "text/xml-external-parsed-entity",
})  # fmt: skip
# Encodings whose every byte libiconv (lxml) and Python (feedparser) decode alike. Not
# windows-1252 (five undefined bytes) nor gb2312 (feedparser reads it as gb18030).
_SAFE_CODECS = frozenset(
    {"utf-8", "cp1251", "koi8-r", "koi8-u"} | {f"iso8859-{n}" for n in (*range(1, 11), 13, 14, 15)}
)
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)", re.ASCII)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)
_LINK_REFERENCE = re.compile("&([A-Za-z0-9_]+);")
_EMAIL_AND_NAME = re.compile(r"^\S+@\S+\s+\((.+)\)$")
# An absolute http(s) URL that urljoin (and feedparser's slash fix before it) returns as it
# is: lower-case scheme, a host, no empty query or fragment, no dot segments, no spaces.
# Not: parameters (";", which urlparse splits off and drops when empty), brackets and
# non-ASCII hosts (which urlsplit may refuse, and feedparser then keeps nothing).
_PLAIN_ABSOLUTE = re.compile(
    r"https?://[A-Za-z0-9.\-_~%!$&'()*+,=:@]+(?:/(?!\.\.?(?:/|$|[?#]))[^/?#;\s\x00-\x1f\\]*)*"
    r"(?:\?[^#\s\x00-\x1f]+)?(?:#[^\s\x00-\x1f]+)?\Z"
)
_C1 = re.compile("[\x80-\x9f]")
_ODD_CASE_ENTRIES = (b"<Item", b"<ITEM", b"<Entry", b"<ENTRY", b":Item", b":Entry")


def read_feed(
    body: bytes, url: str, headers: Mapping[str, str], rules: FeedparserRules
) -> ParsedFeed | None:
    """The feed in `body`, or None when feedparser must read it."""
    if not _encodings_agree(body, headers) or any(odd in body for odd in _ODD_CASE_ENTRIES):
        return None
    try:
        root = etree.fromstring(body, _XML)
        if root.getroottree().docinfo.doctype:
            return None
        reader = _Reader(url, rules, headers.get("content-language"), b"base=" in body)
        if root.tag == "rss":
            return reader.feed(root, root.find("channel"), atom=False)
        if root.tag == RDF + "RDF":
            return reader.feed(root, root.find("{http://purl.org/rss/1.0/}channel"), atom=False)
        if root.tag == "{" + ATOM + "}feed":
            return reader.feed(root, root, atom=True)
    except (etree.XMLSyntaxError, Declined):
        return None
    return None


def _encodings_agree(body: bytes, headers: Mapping[str, str]) -> bool:
    """lxml and feedparser decode the body alike, and feedparser has nothing to warn about:
    an XML media type, the HTTP charset (when sent) equal to the declared encoding, a BOM
    only for UTF-8, and an encoding whose decoding libiconv and Python agree on."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00", b"\x3c\x00")):
        return False  # UTF-16/32: feedparser sniffs those its own way
    declaration = _DECLARED_ENCODING.match(body.removeprefix(b"\xef\xbb\xbf"))
    declared = _codec(declaration.group(1).decode("ascii")) if declaration else "utf-8"
    if declared not in _SAFE_CODECS or (body.startswith(b"\xef\xbb\xbf") and declared != "utf-8"):
        return False
    content_type = headers.get("content-type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    charset = _CHARSET.search(content_type)
    if charset:
        return _is_xml_type(mime) and _codec(charset.group(1)) == declared
    if mime.startswith("text/"):
        # RFC 3023: text/* without a charset is US-ASCII, and feedparser follows it.
        return _is_xml_type(mime) and body.isascii()
    return _is_xml_type(mime)


def _is_xml_type(mime: str) -> bool:
    """What feedparser reads without a NonXMLContentType warning."""
    return mime in _XML_TYPES or (
        mime.startswith(("application/", "text/")) and mime.endswith("+xml")
    )


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "unknown:" + name


def _name(element: etree._Element) -> str:
    """The element's name as feedparser dispatches on it: "title", "dc_creator", "media_title"."""
    tag = element.tag
    if not isinstance(tag, str):
        return "#"  # an entity reference left unresolved: lxml leaves it as a node
    key = (tag, element.prefix)
    name = _NAMES.get(key)
    if name is None:
        name = _dispatch_name(tag, element.prefix)
        if len(_NAMES) < _NAMES_KEPT:  # a hostile feed cannot grow the cache without bound
            _NAMES[key] = name
    return name


_NAMES: dict[tuple[str, str | None], str] = {}
_NAMES_KEPT = 4096


def _dispatch_name(tag: str, document_prefix: str | None) -> str:
    namespace, _, local = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
    lowered = namespace.lower()
    if "backend.userland.com/rss" in lowered:
        lowered = "http://backend.userland.com/rss"
    prefix = _PREFIXES.get(lowered)
    if prefix is None:
        if lowered in _OTHER_KNOWN:
            raise Declined(f"element of {namespace}")
        prefix = document_prefix or ""
    return f"{prefix}_{local.lower()}" if prefix else local.lower()


class _Reader:
    """One document's reading: the base URL, the language and feedparser's rules."""

    def __init__(
        self, url: str, rules: FeedparserRules, language: str | None, has_bases: bool
    ) -> None:
        self.base = url
        self.has_bases = has_bases  # any xml:base (or bare base) attribute in the document
        self.rules = rules
        self.language = (language or "").replace("_", "-")
        self.atom = False

    def feed(
        self, root: etree._Element, channel: etree._Element | None, *, atom: bool
    ) -> ParsedFeed:
        if channel is None:
            raise Declined("no channel")
        self.atom = atom
        # feedparser compares the root's name with "rdf:RDF" after lowercasing it: an RSS 1.0
        # root's xml:lang never reaches the feed.
        lang = root.get("{http://www.w3.org/XML/1998/namespace}lang")
        if lang and root.tag != RDF + "RDF":
            self.language = lang.replace("_", "-")
        fields = _Fields()
        # RSS 1.0 puts its items beside the channel, in the root.
        ordered = list(channel)
        if channel is not root:
            ordered += [child for child in root if child is not channel]
            if any(_name(child) not in _RDF_ROOT_CHILDREN for child in root):
                raise Declined("RDF statements beside the channel")
        entries: list[ParsedEntry] = []
        for child in ordered:
            if _name(child) in ("item", "entry"):
                entries.append(self._entry(child, fields.has_content))
                fields.has_content = False  # feedparser resets it when an item ends
            else:
                self._feed_element(fields, child)
        if len(entries) != len(_entries(root)):
            raise Declined("items outside the channel")
        link = fields.link if fields.link is not None else fields.guid_link
        return ParsedFeed(
            title=fields.title or "",
            link=link or "",
            language=self.language,
            entries=tuple(entries),
            ttl_minutes=_int_or_none(fields.ttl),
            update_period=fields.period or None,
            update_frequency=fields.frequency or None,
        )

    def _feed_element(self, fields: _Fields, element: etree._Element) -> None:
        name = _name(element)
        if name in _TITLES or name == "media_title":
            fields.add_title(self._title(element), 1, media=name == "media_title")
        elif name in ("image", "textinput"):
            fields.title_depth = -1  # feedparser forgets the title's depth in these
        elif name == "link":
            self._link(fields, element, entry=False)
        elif name in ("guid", "id"):
            self._guid(fields, element, _attr(element, "ispermalink", "true") == "true", 1)
        elif name in _LANGUAGES:
            self.language = self._text(element)
        elif name == "ttl":
            fields.ttl = self._text(element)
        elif name == "sy_updateperiod":
            fields.period = self._text(element)
        elif name == "sy_updatefrequency":
            fields.frequency = self._text(element)
        elif name in _SUMMARIES or name in _ATOM_SUMMARIES or name in _CONTENTS:
            fields.feed_summary_or_content(name)

    # --- entries ----------------------------------------------------------------------------

    def _entry(self, element: etree._Element, has_content: bool) -> ParsedEntry:
        fields = _Fields()
        fields.has_content = has_content  # left over from the feed's own elements
        about = element.get(RDF + "about")
        if about:
            fields.guid = about  # RSS 1.0: the item's URI is its id, taken as it is
        self._walk(fields, element, 1)
        return fields.parsed()

    def _walk(self, fields: _Fields, parent: etree._Element, depth: int) -> None:
        """Every element of the entry in document order, as feedparser's handlers see them."""
        for element in parent:
            name = _name(element)
            if name in _SKIPPED:
                continue
            if self._entry_element(fields, element, name, depth):
                continue
            if name in _HARMLESS or (name not in self.rules.handled and name not in _READ_KEYS):
                self._walk(fields, element, depth + 1)
                continue
            raise Declined(f"entry element {element.tag!s}")

    def _entry_element(
        self, fields: _Fields, element: etree._Element, name: str, depth: int
    ) -> bool:
        """Read one element feedparser turns into a field syndicator keeps; False if not one."""
        if name in _TITLES or name == "media_title":
            fields.add_title(self._title(element), depth, media=name == "media_title")
        elif name == "link":
            self._link(fields, element, entry=True)
        elif name in ("guid", "id"):
            permalink = _attr(element, "ispermalink", "true") == "true"
            self._guid(fields, element, permalink, depth)
        elif name in _SUMMARIES or name in _ATOM_SUMMARIES:
            fields.add_summary(self._content(element), depth)
        elif name in _CONTENTS:
            fields.add_content(self._content(element))
        elif name in _PUBLISHED:
            fields.published = self._date(element)
        elif name in _UPDATED:
            fields.updated = self._date(element)
        elif name in _AUTHORS:
            fields.authors.append(self._author(element))
        elif name in _CATEGORIES:
            scheme = _attr(element, "scheme") or _attr(element, "domain")
            term, label = _attr(element, "term"), _attr(element, "label")
            fields.add_category(term, scheme, label, self._text(element))
        elif name in _LANGUAGES:
            fields.language = self._text(element)
        elif name == "source" and len(element) == 0:
            # RSS <source url="...">Name</source>: where the item came from. feedparser
            # forgets the title's depth on it, so a later title replaces the first.
            fields.title_depth = -1
        else:
            return False
        return True

    def _link(self, fields: _Fields, element: etree._Element, *, entry: bool) -> None:
        """An Atom link (with href) when it is the alternate HTML page, else RSS link text."""
        href = _href(element)
        if href is not None:
            rel = _attr(element, "rel") or "alternate"
            default_type = "application/atom+xml" if rel == "self" else "text/html"
            if rel == "alternate" and (_attr(element, "type") or default_type) in _HTML_TYPES:
                fields.link = self.rules.urljoin(self._base_of(element), href)  # even if empty
            return
        link = self._resolved(self._text(element), element)
        if entry:
            link = link.replace("&amp;", "&")
        fields.link = _LINK_REFERENCE.sub(r"&\1", link)

    def _guid(
        self, fields: _Fields, element: etree._Element, is_permalink: bool, depth: int
    ) -> None:
        """A guid is kept unless one was read above it; a permalink one stands in for the
        link, the first such one only."""
        guid = self._text(element)
        if is_permalink and guid:
            guid = self._resolved(guid, element)
        if fields.guid_depth is None or depth <= fields.guid_depth:
            fields.guid, fields.guid_depth = guid, depth
        if is_permalink and fields.link is None and fields.guid_link is None:
            fields.guid_link = guid

    def _title(self, element: etree._Element) -> tuple[str, bool]:
        """The title as `parsing` keeps it (HTML decoded to a line), and whether feedparser
        saw any text in it."""
        kind = self._content_type(element, "text/plain")
        title = self._text(element)
        if kind == "text/plain" and not self.atom and self.rules.looks_like_html(title):
            kind = "text/html"
        return (html_to_line(title) if kind == "text/html" else title), bool(title)

    def _content(self, element: etree._Element) -> str:
        self._content_type(element, "text/html")
        if _attr(element, "src") is not None:
            raise Declined("out-of-line content")
        return self._text(element)

    def _content_type(self, element: etree._Element, default: str) -> str:
        if _attr(element, "mode") is not None:
            raise Declined("Atom 0.3 content mode")
        kind = _attr(element, "type")
        mapped = _CONTENT_TYPES.get(kind) if kind is not None else default
        if mapped is None:
            raise Declined(f"content of type {kind}")  # XHTML, base64 or another medium
        return mapped

    def _author(self, element: etree._Element) -> _Author:
        """An RSS author's text, or an Atom author's parts (None for a part not there)."""
        if len(element) == 0:
            return _Author(text=self._text(element))
        parts = {_name(child): child for child in element}
        name, email = (self._text(parts[p]) if p in parts else None for p in ("name", "email"))
        own_text = self._repaired((element.text or "").strip())
        return _Author(text=own_text, name=name, email=email, structured=True)

    # --- values -----------------------------------------------------------------------------

    def _text(self, element: etree._Element) -> str:
        """The element's text as feedparser pops it: stripped and repaired. Markup inside a
        text element is serialised by feedparser in its own way: declined."""
        if len(element):
            raise Declined(f"markup inside {element.tag!s}")
        return self._repaired((element.text or "").strip())

    def _repaired(self, text: str) -> str:
        """feedparser's two repairs of every value: UTF-8 read as Latin-1, and cp1252 C1."""
        if text.isascii():
            return text
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            text = text.encode("iso-8859-1").decode("utf-8")
        # translate() with a dict is a Python lookup per character: only when there are C1s.
        return text.translate(self.rules.cp1252) if _C1.search(text) else text

    def _resolved(self, uri: str, element: etree._Element) -> str:
        if not uri:
            return uri
        if _PLAIN_ABSOLUTE.match(uri):
            return uri  # what urljoin gives back for it anyway, without its cost
        return self.rules.urljoin(self._base_of(element), uri)

    def _base_of(self, element: etree._Element) -> str:
        """feedparser's base at `element`: each xml:base (or base) on the way down moves it,
        unless the move would leave http(s)."""
        if not self.has_bases:
            return self.base
        base = self.base
        for ancestor in reversed([element, *element.iterancestors()]):
            moved = ancestor.get(XML_BASE) or ancestor.get("base")
            if moved:
                base = self.rules.safe_join(base, moved) or base
        return base

    def _date(self, element: etree._Element) -> datetime | None:
        return self.rules.parse_date(self._text(element))


def _entries(root: etree._Element) -> list[etree._Element]:
    """Items and entries wherever they are (RSS 1.0 puts them beside the channel), not nested."""
    found: list[etree._Element] = []
    stack = [root]
    while stack:
        for child in stack.pop():
            if _name(child) in ("item", "entry"):
                found.append(child)
            elif len(child):
                stack.append(child)
    found.sort(key=lambda element: element.sourceline or 0)
    return found


@dataclass(frozen=True, slots=True)
class _Author:
    """One author element: an RSS one's text, or an Atom one's parts and own text."""

    text: str
    name: str | None = None
    email: str | None = None
    structured: bool = False


class _Fields:
    """A feed's or an entry's fields being read, with feedparser's precedence rules."""

    def __init__(self) -> None:
        self.guid: str | None = None
        self.guid_depth: int | None = None
        self.link: str | None = None
        self.guid_link: str | None = None
        self.title: str | None = None
        self.title_depth = -1
        self.summary: str | None = None
        self.summary_depth: int | None = None
        self.content: list[str] = []
        self.has_content = False  # feedparser's hasContent flag
        self.feed_summary = False  # the feed level has a "summary" key
        self.authors: list[_Author] = []
        self.published: datetime | None = None
        self.updated: datetime | None = None
        self.tags: list[list[str | None]] = []  # [term, scheme, label], as feedparser keeps them
        self.language = ""
        self.ttl: str | None = None
        self.period: str | None = None
        self.frequency: str | None = None

    def add_title(self, title: tuple[str, bool], depth: int, *, media: bool = False) -> None:
        """feedparser's title rule: each title is stored unless one was already read at this
        depth or above; a non-empty one claims its depth, except a media:title (feedparser
        restores the depth marker after one)."""
        if -1 < self.title_depth <= depth:
            return
        self.title = title[0]
        if title[1] and not media:
            self.title_depth = depth

    def feed_summary_or_content(self, name: str) -> None:
        """What a feed-level summary, description or content does to feedparser's state: a
        second summary, or any content, sets its content flag, which the next entry inherits."""
        if name in _CONTENTS or (self.feed_summary and not self.has_content):
            self.has_content = True
            self.feed_summary = True
        elif name in _ATOM_SUMMARIES:
            self.feed_summary = True

    def add_summary(self, value: str, depth: int) -> None:
        """feedparser: a second summary before any content becomes content; otherwise a
        summary replaces one at its depth or deeper."""
        if self.summary is not None and not self.has_content:
            self.add_content(value)
        elif self.summary_depth is None or depth <= self.summary_depth:
            self.summary, self.summary_depth = value, depth

    def add_content(self, value: str) -> None:
        self.has_content = True
        self.content.append(value)
        if self.summary is None:
            self.summary = value  # copied, without claiming a depth

    def add_category(
        self, term: str | None, scheme: str | None, label: str | None, text: str
    ) -> None:
        """feedparser's tag rules: a tag from the attributes (if any is set, and not already
        there), whose missing term the element's text then fills, or a tag of its own."""
        self._add_tag(term, scheme, label)
        if not text:
            return
        if self.tags and not self.tags[-1][0]:
            self.tags[-1][0] = text
        else:
            self._add_tag(text, None, None)

    def _add_tag(self, term: str | None, scheme: str | None, label: str | None) -> None:
        tag: list[str | None] = [term, scheme, label]
        if (term or scheme or label) and tag not in self.tags:
            self.tags.append(tag)

    def author(self) -> str:
        """The name `parsing` makes of feedparser's author fields.

        feedparser keeps one author string, overwritten by each RSS author element; how it
        merges several Atom authors depends on which parts each has, so a document with
        more than one Atom author in an entry is left to feedparser.
        """
        if not self.authors:
            return ""
        last = self.authors[-1]
        if not last.structured:
            if any(author.structured for author in self.authors):
                raise Declined("RSS and Atom authors mixed")
            return self._text_author(last.text)
        if len(self.authors) > 1:
            raise Declined("several Atom authors")
        name, email = last.name, last.email
        combined = f"{name} ({email})" if name and email else name or email or last.text
        return (name or combined) if "@" in combined else combined

    def _text_author(self, text: str) -> str:
        if match := _EMAIL_AND_NAME.match(text):
            return match.group(1).strip()
        if "@" not in text:
            return text
        if len(self.authors) > 1:
            raise Declined("several authors, the last one an address")
        return _name_beside_address(text) or text

    def parsed(self) -> ParsedEntry:
        """The entry as `parsing` builds it from feedparser's: ids, links and author
        stripped (after feedparser's repairs, which may leave new edge spaces)."""
        link = self.link if self.link is not None else self.guid_link
        return ParsedEntry(
            guid=(self.guid or "").strip() or None,
            link=(link or "").strip() or None,
            title=self.title or "",
            summary_html=self.summary or "",
            content_html=max(self.content, key=len, default=""),
            author=self.author().strip(),
            published=self.published,
            updated=self.updated,
            categories=tuple(term for term, _, _ in self.tags if term),
            language=self.language,
        )


_ADDRESS = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)


def _name_beside_address(author: str) -> str:
    """What feedparser keeps as the name of "Name <address>" and the like."""
    if address := _ADDRESS.search(author):
        author = author.replace(address.group(0), "")
        for pair in ("()", "<>", "&lt;&gt;"):
            author = author.replace(pair, "")
        author = author.strip()
        author = author[1:] if author.startswith("(") else author
        author = author[:-1] if author.endswith(")") else author
    return author.strip()


def _href(element: etree._Element) -> str | None:
    """A link's target as feedparser's _enforce_href finds it: url, uri, then href."""
    for name in ("url", "uri", "href"):
        if (value := _attr(element, name)) is not None:
            if value or name == "href":
                return value
            return _attr(element, "href")  # an empty url/uri leaves href as it was
    return None


def _attr(element: etree._Element, name: str, default: str | None = None) -> str | None:
    """An attribute as feedparser's strict parser sees it: any case of the name, with rel
    and type lowercased."""
    for key, value in element.attrib.items():
        if key.lower() == name:
            return value.lower() if name in ("rel", "type") else value
    return default


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value else None
    except ValueError:
        return None
