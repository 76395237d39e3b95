"""OPML subscription lists in and out: bytes -> `OpmlFeed`s, `OpmlFeed`s -> OPML 2.0 or TOML.

One job: translate between OPML documents and plain feed values. `parse_opml` reads every outline
that has an `xmlUrl`, at any depth, with the enclosing folders as categories; `render_opml` writes
OPML 2.0 with the categories as nested folders; `sources_toml` writes `[[sources]]` tables to
append to a config file, the categories in a comment that `source_categories` reads back.

What it does not do: read or write files, fetch URLs, read the clock (`now_rfc822` is passed in),
validate or canonicalise URLs (the config check does that; duplicates here are only the same URL
with a different case of scheme or host; the only translations are the `feed:` pseudo-scheme,
read as the http(s) URL it names, and a doubly escaped `&amp;amp;`), or merge with sources
already configured.

Safety: the XML goes through expat directly so that a DOCTYPE with an internal subset (where
entity declarations live: "billion laughs", external entities) is refused before any declaration
is read. A bare `<!DOCTYPE opml>` is harmless and accepted, as defusedxml does by default.

Recovery: real exporters write Latin-1 text declared as UTF-8 or not declared at all (read as
Windows-1252), HTML's named references (`Caf&eacute;`, `&nbsp;`), which XML does not define,
and markup unescaped inside attribute values (a `description` with `<a href="...">` in it, a
bare `&` in a URL). When strict parsing fails, the text is decoded so, HTML's named references
become numeric ones, and if parsing then fails inside an `<outline>` start tag, every outline
start tag is rebuilt from the attributes found leniently; the result must then parse strictly.
Anything else (truncated, mismatched tags, not OPML) stays an `OpmlError` that says what it is
and where.
`parse_opml(data, strict=True)` skips recovery, so a caller can tell the user it happened.

A feed's `language` is OPML 2.0's own outline attribute; its region prior travels in a
`region` attribute of our own (OPML allows any attribute; other readers ignore it).

Limits of the round trip: categories are a path of folders, so OPML's `category` attribute
("/Boston/Weather,/Politics") comes in as more folders of that path and goes out as folders; in
the config comment the parts are joined with " / ", so a category containing " / " comes back
split there.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.entities import html5
from xml.etree import ElementTree as ET
from xml.parsers import expat

__all__ = [
    "OpmlError",
    "OpmlFeed",
    "parse_opml",
    "render_opml",
    "source_categories",
    "sources_toml",
]


class OpmlError(ValueError):
    """Not a usable OPML document; `str(e)` says what and where (1-based line and column)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        where = ""
        if line is not None:
            where = f" (line {line}, column {column})" if column is not None else f" (line {line})"
        super().__init__(f"{message}{where}")


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription: feed URL, title ("" if none), site URL ("" if none), folder path,
    the language and region prior of its stories ("" if none), and whether it is polled
    (OPML 2.0 marks one that is not, a commented-out outline, `isComment="true"`)."""

    url: str
    title: str
    html_url: str = ""
    categories: tuple[str, ...] = ()
    language: str = ""
    region: str = ""
    enabled: bool = True


# --- parsing -----------------------------------------------------------------------------------


def parse_opml(data: bytes, *, strict: bool = False) -> list[OpmlFeed]:
    """Every outline with a non-empty xmlUrl, in document order, first of each URL kept.

    Raises `OpmlError` for XML that is not well-formed (after recovery unless `strict`), a root
    other than <opml>, a missing <body>, or a DOCTYPE with an internal subset.
    """
    try:
        return _Collector().parse(data)
    except _Malformed as malformed:
        error = malformed.as_error(data)
        if strict:
            raise error from None
        try:
            return _recover(data)
        except (_Malformed, OpmlError):
            raise error from None


def _recover(data: bytes) -> list[OpmlFeed]:
    """The feeds of a document that is not well-formed, as far as the known faults of real
    exporters explain it: Latin-1 meant as UTF-8 (see `_decode`), HTML's named character
    references (`&eacute;`, `&nbsp;`: XML knows only five), then markup unescaped inside
    outline start tags. Raises `_Malformed` or `OpmlError` for any other fault."""
    text = _decode(data)
    if text is None:
        raise OpmlError("undecodable")
    text = _HTML_REFERENCE.sub(_numeric_reference, text)
    try:
        return _Collector().parse(text)
    except _Malformed as malformed:
        if not _inside_outline_tag(text.encode("utf-8"), malformed.byte_index):
            raise
        return _Collector().parse(_rebuild_outline_tags(text))


class _Malformed(Exception):
    """Expat's well-formedness error, with the byte offset that recovery needs."""

    def __init__(
        self, error: expat.ExpatError, byte_index: int, unclosed: Sequence[tuple[str, int]] = ()
    ) -> None:
        super().__init__(str(error))
        self.code = error.code
        self.reason = expat.ErrorString(error.code) or "not well-formed"
        self.line = error.lineno
        self.column = error.offset + 1
        self.byte_index = byte_index
        self.unclosed = tuple(unclosed)  # (name, line) of the elements open at the error

    def as_error(self, data: bytes) -> OpmlError:
        what = "malformed XML"
        if not data.strip():
            return OpmlError("not an OPML document: the file is empty")
        if b"<html" in data[:4096].lower():
            what = "not an OPML document (this looks like an HTML page)"
        elif self.unclosed and self.code in _CUT_SHORT:  # a copy or a download cut short
            name, line = self.unclosed[-1]
            what = f"truncated: the file ends inside <{name}> (opened on line {line})"
        elif _meant_as_utf8(data):
            what = "not UTF-8 text, and no other encoding declared"
        elif self.unclosed and self.code == _MISMATCH:
            name, line = self.unclosed[-1]
            what = f"malformed XML: <{name}> (opened on line {line}) is still open here"
        return OpmlError(f"{what}: {self.reason}", self.line, self.column)


# Expat's codes for a document that ends before its root element does.
_CUT_SHORT = {
    expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS],
    expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN],
    expat.errors.codes[expat.errors.XML_ERROR_PARTIAL_CHAR],
}
_MISMATCH = expat.errors.codes[expat.errors.XML_ERROR_TAG_MISMATCH]


class _Collector:
    """Expat handlers that keep outline feeds and the stack of enclosing folder labels."""

    def __init__(self) -> None:
        self.parser = expat.ParserCreate()
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self.doctype
        self.parser.EntityDeclHandler = self.entity
        self.parser.ExternalEntityRefHandler = self.external_entity
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.path: list[str] = []  # lower-case names of the open elements
        self.opened: list[tuple[str, int]] = []  # their names as written, and their lines
        self.folders: list[str] = []  # labels of the open outlines inside <body>
        self.commented: list[bool] = []  # whether each is commented out, itself or by a parent
        self.feeds: list[OpmlFeed] = []
        self.seen: set[str] = set()
        self.saw_body = False

    def parse(self, data: bytes | str) -> list[OpmlFeed]:
        try:
            self.parser.Parse(data, True)
        except expat.ExpatError as e:
            raise _Malformed(e, self.parser.ErrorByteIndex, self.opened) from e
        if not self.saw_body:
            raise OpmlError("not an OPML document: <opml> has no <body> element")
        return self.feeds

    def error(self, message: str) -> OpmlError:
        line, column = self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber + 1
        return OpmlError(message, line, column)

    def doctype(self, name: str, system: str | None, public: str | None, subset: bool) -> None:
        if subset:
            raise self.error(
                f"refused: <!DOCTYPE {name} [...]> has an internal subset; OPML needs no DTD, "
                "and entity declarations there could expand without bound"
            )

    def entity(self, name: str, *_: object) -> None:
        raise self.error(f"refused: entity declaration {name!r}; OPML needs no entities")

    def external_entity(self, *_: object) -> int:
        raise self.error("refused: external entity reference; OPML needs no entities")

    def start(self, name: str, attributes: dict[str, str]) -> None:
        tag = name.lower()
        if not self.path and tag != "opml":
            raise self.error(f"not an OPML document: the root element is <{name}>, not <opml>")
        if self.path == ["opml"] and tag == "body":
            self.saw_body = True
        if tag == "outline" and self.in_body():
            folded = _fold_names(attributes)
            # OPML 2.0: "if an outline is commented, all subordinate outlines are too".
            commented = folded.get("iscomment", "").strip().lower() == "true"
            commented = commented or (bool(self.commented) and self.commented[-1])
            self.add(folded, commented)
            self.folders.append(_label(folded, ""))
            self.commented.append(commented)
        self.path.append(tag)
        self.opened.append((name, self.parser.CurrentLineNumber))

    def end(self, name: str) -> None:
        tag = self.path.pop()
        self.opened.pop()
        if tag == "outline" and self.in_body():
            self.folders.pop()
            self.commented.pop()

    def in_body(self) -> bool:
        """True when the open elements are <opml><body> and outlines only."""
        return self.path[:2] == ["opml", "body"] and all(t == "outline" for t in self.path[2:])

    def add(self, attributes: dict[str, str], commented: bool) -> None:
        url = _without_feed_scheme(_escaped_once(attributes.get("xmlurl", "").strip()))
        key = _url_key(url)
        if not url or key in self.seen:
            return
        self.seen.add(key)
        categories = _categories(self.folders, attributes.get("category", ""))
        html_url = attributes.get("htmlurl", "").strip()
        language = attributes.get("language", "").strip()
        region = attributes.get("region", "").strip()
        label = _label(attributes, url)
        feed = OpmlFeed(url, label, html_url, categories, language, region, not commented)
        self.feeds.append(feed)


def _fold_names(attributes: dict[str, str]) -> dict[str, str]:
    """Attribute names in lower case (xmlUrl, xmlurl, XMLURL); the first spelling wins."""
    folded: dict[str, str] = {}
    for name, value in attributes.items():
        folded.setdefault(name.lower(), value)
    return folded


def _label(attributes: dict[str, str], url: str) -> str:
    """The feed's name: its title, else its text, unless that is only its address again
    (what an export writes for a source with no name; a name would pin it for good)."""
    label = attributes.get("title", "").strip() or attributes.get("text", "").strip()
    return "" if label == url else label


def _categories(folders: Iterable[str], category: str) -> tuple[str, ...]:
    """Folder labels, outermost first, then the parts of the OPML `category` attribute.

    `category` is comma-separated, each a slash-delimited path ("/Boston/Weather,/Politics").
    """
    parts = [*folders, *(part for path in category.split(",") for part in path.split("/"))]
    kept = (part.strip() for part in parts)
    return tuple(dict.fromkeys(part for part in kept if part))


def _escaped_once(url: str) -> str:
    """The URL with a literal `&amp;` as `&`: an exporter that escapes a URL it stored escaped
    writes `&amp;amp;` (FreshRSS keeps some URLs HTML-escaped), and no feed takes a query
    parameter named "amp;..."."""
    return url.replace("&amp;", "&")


_FEED_SCHEME = re.compile(r"^feed:(?://|(?=https?://))", re.IGNORECASE)


def _without_feed_scheme(url: str) -> str:
    """`feed://host/x` as `http://host/x`, `feed:https://host/x` as `https://host/x`: the
    "feed" pseudo-scheme (browsers' subscribe links; some readers keep it in their lists)
    names an http(s) feed."""
    match = _FEED_SCHEME.match(url)
    if match is None:
        return url
    rest = url[match.end() :]
    return rest if match.group().endswith(":") else "http://" + rest


_SCHEME_AND_HOST = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)(.*)$", re.DOTALL)


def _url_key(url: str) -> str:
    """The URL with scheme and host in lower case: the duplicate test, nothing more."""
    match = _SCHEME_AND_HOST.match(url)
    return match.group(1).lower() + match.group(2) if match else url


# --- recovery from unescaped markup in outline attributes ---------------------------------------

_OUTLINE_BOUNDARY = re.compile(r"<outline\b|</outline\s*>|</body\s*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""(?<![\w.:-])([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REFERENCE = re.compile(r"&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
# A named reference other than XML's five; only with its ";", as a URL's "&copy=1" is no reference.
_HTML_REFERENCE = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ENCODING_DECLARATION = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _inside_outline_tag(data: bytes, byte_index: int) -> bool:
    """True when the error lies between an `<outline` and the next `<`: in its start tag.

    Expat puts some attribute errors (an undefined entity) at the `<` of the tag itself.
    """
    start = data.lower().rfind(b"<outline", 0, byte_index + len(b"<outline"))
    return start >= 0 and b"<" not in data[start + 1 : byte_index]


def _decode(data: bytes) -> str | None:
    """The document as text (UTF-8 BOM, else the XML declaration, else UTF-8); None if undecodable.

    Text meant to be UTF-8 that is not is read as Windows-1252: what a file saved by a Windows
    editor, or an exporter that declares UTF-8 and writes Latin-1, holds. UTF-16 is None.
    """
    if data.startswith(_UTF16_BOMS):
        return None  # expat reads UTF-16 itself; its errors are real ones
    encoding = _declared_encoding(data)
    try:
        return data.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except (LookupError, UnicodeDecodeError):
        pass
    if not _meant_as_utf8(data):
        return None
    try:
        return data.decode("windows-1252")
    except UnicodeDecodeError:
        return None


def _declared_encoding(data: bytes) -> str:
    declared = _ENCODING_DECLARATION.match(data.removeprefix(codecs.BOM_UTF8).lstrip())
    return declared.group(1).decode("ascii") if declared else "utf-8"


def _meant_as_utf8(data: bytes) -> bool:
    """True when the document is read as UTF-8 (declared, or by default) and is not UTF-8."""
    if data.startswith(_UTF16_BOMS) or _declared_encoding(data).lower() not in ("utf-8", "utf8"):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _rebuild_outline_tags(text: str) -> str:
    """Each `<outline ...>` start tag, up to its last `>` before the next outline boundary,
    rewritten from its attributes as found leniently and escaped properly."""
    bounds = list(_OUTLINE_BOUNDARY.finditer(text))
    limits = [match.start() for match in bounds[1:]] + [len(text)]
    pieces, position = [], 0
    for match, limit in zip(bounds, limits, strict=True):
        tag_end = text.rfind(">", match.start(), limit)
        if not match.group().lower().startswith("<outline") or tag_end < 0:
            continue
        pieces += [text[position : match.start()], _rebuild_tag(text[match.start() : tag_end + 1])]
        position = tag_end + 1
    return "".join([*pieces, text[position:]])


def _rebuild_tag(tag: str) -> str:
    name, closing = tag[1:8], "/>" if tag.endswith("/>") else ">"
    attributes: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(tag, 8, len(tag) - len(closing)):
        raw = match.group(2) if match.group(2) is not None else match.group(3)
        attributes.setdefault(match.group(1), _unescape(re.sub(r"[\t\n\r]", " ", raw)))
    written = "".join(f' {key}="{_escape_attribute(value)}"' for key, value in attributes.items())
    return f"<{name}{written}{closing}"


def _numeric_reference(match: re.Match[str]) -> str:
    """An HTML named reference as XML's numeric one; left alone if HTML does not name it."""
    characters = html5.get(match.group(1) + ";")
    return "".join(f"&#{ord(c)};" for c in characters) if characters else match.group(0)


def _unescape(value: str) -> str:
    """XML's predefined and numeric references only; any other `&` is a literal ampersand."""
    return _REFERENCE.sub(_resolve_reference, value)


def _resolve_reference(match: re.Match[str]) -> str:
    name = match.group(1)
    if not name.startswith("#"):
        return _PREDEFINED[name]
    code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
    character = chr(code) if code <= 0x10FFFF else ""
    return _xml_text(character) or match.group(0)


def _escape_attribute(value: str) -> str:
    escaped = _xml_text(value).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return escaped.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


# --- rendering ---------------------------------------------------------------------------------

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 cannot carry at all (NUL, most C0 controls, ...)."""
    return _NOT_XML.sub("", value)


def render_opml(feeds: Sequence[OpmlFeed], title: str, now_rfc822: str) -> bytes:
    """An OPML 2.0 document (UTF-8, pretty-printed), one `type="rss"` outline per feed.

    A feed with categories sits inside nested folder outlines, one per category, outermost
    first: folders are how Miniflux, FreshRSS, Inoreader, Feedly, NetNewsWire and Thunderbird
    read categories back (they ignore OPML's `category` attribute). Feeds keep their order
    within a folder; a folder appears where its first feed would.
    Characters XML cannot carry (C0 controls but tab, CR, LF) are dropped from every value.
    """
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = _xml_text(title)
    ET.SubElement(head, "dateCreated").text = _xml_text(now_rfc822)
    body = ET.SubElement(opml, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}
    for feed in feeds:
        parent = _folder(folders, tuple(_xml_text(part) for part in feed.categories))
        ET.SubElement(parent, "outline", _outline_attributes(feed))
    ET.indent(opml)
    document = ET.tostring(opml, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + document.encode("utf-8") + b"\n"


def _folder(folders: dict[tuple[str, ...], ET.Element], path: tuple[str, ...]) -> ET.Element:
    """The folder outline for `path`, made (with its parents) the first time it is needed."""
    if path not in folders:
        parent = _folder(folders, path[:-1])
        folders[path] = ET.SubElement(parent, "outline", {"text": path[-1], "title": path[-1]})
    return folders[path]


def _outline_attributes(feed: OpmlFeed) -> dict[str, str]:
    # OPML 2.0 requires `text`, and readers show it as the feed's name: a source with no
    # name that was never polled (so no feed title either) goes out under its address, not
    # as a blank line in the reader's list (`_label` does not read it back as a name).
    attributes = {"type": "rss", "text": feed.title or feed.url}
    if feed.title:
        attributes["title"] = feed.title
    attributes["xmlUrl"] = feed.url
    if feed.html_url:
        attributes["htmlUrl"] = feed.html_url
    if feed.language:
        attributes["language"] = feed.language
    if feed.region:
        attributes["region"] = feed.region
    if not feed.enabled:
        attributes["isComment"] = "true"
    return {key: _xml_text(value) for key, value in attributes.items()}


# --- TOML ---------------------------------------------------------------------------------------

_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_CONTROL = re.compile("[\x00-\x1f\x7f]")
# What the config expands as an environment variable (config.py's _ENV_REFERENCE): ${NAME}, and
# $${NAME} (its escape), so that each gets one more "$" and both read back as written.
_ENV_LIKE = re.compile(r"\$+\{[A-Za-z_][A-Za-z0-9_]*\}")


def sources_toml(feeds: Sequence[OpmlFeed]) -> str:
    """`[[sources]]` tables (url; name, language and region when not empty; `enabled = false`
    for a feed that is not) to append to a config; the config check, not this, decides
    whether their values are valid.

    Categories go in a `# categories: a / b` comment above each table: sources have no such key.
    Raises `ValueError` for a lone surrogate, which no TOML string can hold.
    """
    return "".join(_source_table(feed) for feed in feeds)


_CATEGORIES_COMMENT = "# categories: "
_CATEGORY_SEPARATOR = " / "
# A `[[sources]]` header line, as TOML allows it to be spaced and followed by a comment.
_SOURCES_HEADER = re.compile(r"""^\s*\[\[\s*(sources|"sources"|'sources')\s*\]\]\s*(#.*)?$""")


def source_categories(config_text: str, count: int) -> list[tuple[str, ...]]:
    """The categories of each of the config's `count` sources, from the `# categories: a / b`
    comment line directly above its `[[sources]]` header (as `sources_toml` writes it, or as
    a user edits it); () for a source without one.

    All () when the headers found are not `count` (sources written as an inline array, or a
    header inside a multi-line string): categories are a convenience, never a guess.
    """
    found: list[tuple[str, ...]] = []
    comments: list[str] = []  # the comment lines directly above the current line
    for line in config_text.removeprefix("\ufeff").splitlines():
        stripped = line.strip()
        if _SOURCES_HEADER.match(line):
            found.append(_categories_from_comments(comments))
        if stripped.startswith("#"):
            comments.append(stripped)
        else:
            comments = []
    return found if len(found) == count else [()] * count


def _categories_from_comments(comments: Sequence[str]) -> tuple[str, ...]:
    for comment in reversed(comments):
        if comment.startswith(_CATEGORIES_COMMENT.rstrip()):
            listed = comment[len(_CATEGORIES_COMMENT.rstrip()) :].split(_CATEGORY_SEPARATOR)
            return tuple(dict.fromkeys(part.strip() for part in listed if part.strip()))
    return ()


def _source_table(feed: OpmlFeed) -> str:
    lines = [""]  # a blank line first: separates the table from whatever the file ends with
    if feed.categories:
        joined = _CATEGORY_SEPARATOR.join(feed.categories)
        lines.append(_CATEGORIES_COMMENT + _CONTROL.sub(" ", joined))
    lines += ["[[sources]]", f"url = {_toml_string(feed.url)}"]
    if feed.title:
        lines.append(f"name = {_toml_string(feed.title)}")
    if feed.language:
        lines.append(f"language = {_toml_string(feed.language)}")
    if feed.region:
        lines.append(f"region = {_toml_string(feed.region)}")
    if not feed.enabled:
        lines.append("enabled = false")
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped, the rest kept;
    and "${NAME}" as "$${NAME}", which the config reads as itself, not as the environment
    variable NAME (an OPML shared by someone else must not put a secret in a polled URL)."""
    literal = _ENV_LIKE.sub(r"$\g<0>", value)
    return '"' + "".join(_toml_character(character) for character in literal) + '"'


def _toml_character(character: str) -> str:
    if character in _TOML_ESCAPES:
        return _TOML_ESCAPES[character]
    if _CONTROL.match(character):
        return f"\\u{ord(character):04X}"
    if "\ud800" <= character <= "\udfff":
        raise ValueError(f"lone surrogate U+{ord(character):04X} cannot be written as TOML")
    return character
