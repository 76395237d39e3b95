"""RFC 4287 checks on published Atom documents, shared by the end-to-end tests.

`check_atom(path)` is the light check the end-to-end tests have always used (exactly one
id/title/updated, one `rel="self"`, RFC 3339 dates, unique entry ids). `atom_problems(doc)` is
a strict checker of RFC 4287's MUST rules and returns every violation it finds as a `Problem`;
`check_atom_strict(path)` asserts there are none. The strict checker is itself tested against
the W3C Feed Validator's Atom test cases in tests/test_atom_strict.py.

What the strict checker enforces (section numbers are RFC 4287's):

- the document element is atom:feed or atom:entry in the Atom 1.0 namespace;
- 4.1.1 atom:feed: exactly one id, title, updated; at most one generator, icon, logo, rights,
  subtitle; an author unless every entry has one; at most one alternate link per (type,
  hreflang); no two entries with the same id and the same updated;
- 4.1.2 atom:entry: exactly one id, title, updated; at most one content, published, rights,
  source, summary; an author of its own, its atom:source's, or (in a feed) the feed's; a
  content or an alternate link; a summary when the content has `src` or is Base64 (a MIME
  type that is neither XML nor text/*); at most one alternate link per (type, hreflang);
- 4.2.11 atom:source: at most one generator, icon, id, logo, rights, subtitle, title, updated,
  and its children follow the same element rules;
- 3.1 text constructs (title, subtitle, summary, rights): type is text, html or xhtml; text
  and html hold no child elements; xhtml holds exactly one xhtml:div;
- 4.1.3 atom:content: type is text, html, xhtml or a non-composite MIME type; `src` content is
  empty and its type is a MIME type; xhtml holds one div; text/html/text-MIME/Base64 content
  holds no child elements; Base64 content decodes;
- 3.2 person constructs: exactly one name, at most one uri (an IRI reference) and one email
  (an addr-spec);
- 3.3 date constructs (updated, published): RFC 3339 date-time, upper-case T and Z, real dates;
- 4.2.6 atom:id: an absolute IRI; `tag:` ids follow RFC 4151 and `urn:` ids RFC 8141 (with
  `urn:uuid:` an RFC 4122 UUID);
- 4.2.7 atom:link: an href that is an IRI reference; rel, type, hreflang and length well
  formed; 4.2.2 atom:category: a term, a scheme that is an IRI; generator/@uri, icon, logo and
  content/@src are IRI references;
- no element of the Atom namespace where RFC 4287 does not define it (feed, entry, source,
  person constructs).

It does not check SHOULDs (a self link, distinct `updated` values, ...), xml:base or xml:lang,
or anything outside the Atom namespace.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM = f"{{{ATOM_NS}}}"
XHTML_NS = "http://www.w3.org/1999/xhtml"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def check_atom(path: Path) -> list[str]:
    """Assert the RFC 4287 requirements we rely on; return the entry ids in document order."""
    root = etree.parse(str(path)).getroot()
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, f"feed needs exactly one {name}"
    selfs = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert len(selfs) == 1
    assert RFC3339.match(root.findtext(f"{ATOM}updated") or "")
    ids = []
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, f"entry needs exactly one {name}"
        for name in ("updated", "published"):
            value = entry.findtext(f"{ATOM}{name}")
            assert value is None or RFC3339.match(value), f"{name} {value!r} is not RFC 3339"
        has_alternate = any(
            link.get("rel", "alternate") == "alternate" for link in entry.findall(f"{ATOM}link")
        )
        assert has_alternate or entry.find(f"{ATOM}content") is not None
        ids.append(entry.findtext(f"{ATOM}id") or "")
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    return ids


def check_atom_strict(path: Path) -> list[str]:
    """Assert that the Atom document at `path` breaks no RFC 4287 MUST rule (every problem
    is listed in the failure); return its entry ids in document order."""
    problems = atom_problems(path.read_bytes())
    assert not problems, f"{path}: not valid RFC 4287:\n" + "\n".join(map(str, problems))
    root = etree.fromstring(path.read_bytes(), _PARSER)
    return [entry.findtext(f"{ATOM}id") or "" for entry in root.iter(f"{ATOM}entry")]


# ---------------------------------------------------------------------------------------------
# The strict checker.


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: which (`rule`), on which element (`element`, child of `parent`)."""

    rule: str
    parent: str
    element: str
    message: str

    def __str__(self) -> str:
        return f"{self.parent}/{self.element}: {self.message} [{self.rule}]"


# Rule names, as the checker reports them and the corpus test maps the validator's onto them.
MISSING = "missing"  # a required element is absent
DUPLICATE = "duplicate"  # an element that may appear at most once appears more often
UNDEFINED = "undefined"  # an Atom-namespace element where RFC 4287 defines none
DATE = "date"  # not an RFC 3339 date-time
IRI = "iri"  # not an (absolute) IRI, or not one of its scheme (tag:, urn:)
ALTERNATE = "alternate"  # two alternate links with the same type and hreflang
AUTHOR = "author"  # an entry with no author from itself, its source or its feed
CONTENT_OR_ALTERNATE = "content-or-alternate"
SUMMARY = "summary"  # content with src or Base64 content, and no summary
TEXT_TYPE = "text-type"  # a text construct's type is not text, html or xhtml
CHILDREN = "children"  # child elements where only text is allowed
XHTML_DIV = "xhtml-div"  # xhtml content that is not exactly one xhtml:div
CONTENT = "content"  # content's type/src misuse (composite type, src with text, non-empty src)
BASE64 = "base64"  # Base64 content that does not decode
ATTRIBUTE = "attribute"  # a required attribute is absent
MIME = "mime"  # a type attribute that is not a MIME media type
LINK = "link"  # a malformed rel, hreflang or length
EMAIL = "email"  # not an addr-spec
DUPLICATE_ENTRY = "duplicate-entry"  # two entries with the same id and the same updated
ROOT = "root"  # not an Atom 1.0 feed or entry document
XML = "xml"  # not well-formed

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

TEXT_CONSTRUCTS = ("title", "subtitle", "summary", "rights")
PERSON_CONSTRUCTS = ("author", "contributor")
_COMMON = {"author", "category", "contributor", "id", "link", "rights", "title", "updated"}
ALLOWED = {
    "feed": _COMMON | {"generator", "icon", "logo", "subtitle", "entry"},
    "entry": _COMMON | {"content", "published", "source", "summary"},
    "source": _COMMON | {"generator", "icon", "logo", "subtitle"},
}
AT_MOST_ONE = {
    "feed": ("generator", "icon", "logo", "rights", "subtitle"),
    "entry": ("content", "published", "rights", "source", "summary"),
    "source": ("generator", "icon", "id", "logo", "rights", "subtitle", "title", "updated"),
}
EXACTLY_ONE = {"feed": ("id", "title", "updated"), "entry": ("id", "title", "updated")}
ALTERNATE_RELS = ("alternate", "http://www.iana.org/assignments/relation/alternate")

_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Characters no IRI holds: controls, space, the delimiters RFC 3987 excludes, and "%" not
# starting a percent-encoding.
_NOT_IRI = re.compile(r'[\x00-\x20\x7f-\x9f<>"{}|\\^`]|%(?![0-9A-Fa-f]{2})')
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MIME = re.compile(
    rf'^{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=({_TOKEN}|"([^"\\]|\\.)*"))*\s*$', re.ASCII
)
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
_ISEGMENT_NZ_NC = re.compile(r"^([A-Za-z0-9._~!$&'()*+,;=@-]|%[0-9A-Fa-f]{2}|[^\x00-\x7f])+$")
_ADDR_SPEC = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
# RFC 4151 tag URIs.
_DNS_NAME = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
_PCHAR = r"([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2}|[^\x00-\x7f])"
_TAG = re.compile(
    rf"^tag:(?P<authority>{_DNS_NAME}|[A-Za-z0-9._-]+@{_DNS_NAME}),"
    rf"(?P<date>\d{{4}}(-\d{{2}}(-\d{{2}})?)?):{_PCHAR}*(#{_PCHAR}*)?$"
)
# RFC 8141 URNs (a NID of 2 to 32 letters, digits and hyphens, not starting or ending with a
# hyphen), and RFC 4122 UUIDs for urn:uuid.
_URN = re.compile(
    rf"^urn:(?P<nid>[A-Za-z0-9][A-Za-z0-9-]{{0,30}}[A-Za-z0-9]):(?P<nss>{_PCHAR}+)"
    rf"(\?[+=]{_PCHAR}*)*(#{_PCHAR}*)?$",
    re.IGNORECASE,
)
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def atom_problems(document: bytes | str) -> list[Problem]:
    """Every RFC 4287 MUST rule the document breaks (empty: valid, as far as checked)."""
    data = document.encode("utf-8") if isinstance(document, str) else document
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:
        return [Problem(XML, "document", "", f"not well-formed XML: {e}")]
    problems: list[Problem] = []
    if root.tag == f"{ATOM}feed":
        _check_feed(root, problems)
    elif root.tag == f"{ATOM}entry":
        _check_entry(root, problems, feed_has_author=False)
    else:
        problems.append(
            Problem(ROOT, "document", _local(root), f"root {root.tag} is not atom:feed/entry")
        )
    return problems


def _check_feed(feed: etree._Element, problems: list[Problem]) -> None:
    _check_container(feed, "feed", problems)
    entries = feed.findall(f"{ATOM}entry")
    feed_has_author = feed.find(f"{ATOM}author") is not None
    if not feed_has_author:
        for entry in entries:
            if entry.find(f"{ATOM}author") is None:
                problems.append(
                    Problem(MISSING, "feed", "author", "no feed author and an entry has none")
                )
                break
    for entry in entries:
        _check_entry(entry, problems, feed_has_author)
    seen = Counter(
        (entry.findtext(f"{ATOM}id"), entry.findtext(f"{ATOM}updated")) for entry in entries
    )
    for (entry_id, updated), count in seen.items():
        if count > 1:
            problems.append(
                Problem(
                    DUPLICATE_ENTRY,
                    "entry",
                    "id",
                    f"{count} entries with id {entry_id!r} and updated {updated!r}",
                )
            )


def _check_entry(entry: etree._Element, problems: list[Problem], feed_has_author: bool) -> None:
    _check_container(entry, "entry", problems)
    source = entry.find(f"{ATOM}source")
    if source is not None:
        _check_container(source, "source", problems)
    has_author = (
        entry.find(f"{ATOM}author") is not None
        or (source is not None and source.find(f"{ATOM}author") is not None)
        or feed_has_author
    )
    if not has_author:
        problems.append(Problem(MISSING, "entry", "author", "no author (own, source's or feed's)"))
    content = entry.find(f"{ATOM}content")
    if content is not None:
        _check_content(content, problems)
    if content is None and not _links_with_rel(entry, ALTERNATE_RELS):
        problems.append(
            Problem(CONTENT_OR_ALTERNATE, "entry", "content", "neither content nor alternate")
        )
    if content is not None and entry.find(f"{ATOM}summary") is None:
        if content.get("src") is not None:
            problems.append(Problem(SUMMARY, "entry", "summary", "content has src, no summary"))
        elif _content_kind(content.get("type")) == "base64":
            problems.append(Problem(SUMMARY, "entry", "summary", "Base64 content, no summary"))


def _check_container(element: etree._Element, name: str, problems: list[Problem]) -> None:
    """The rules feed, entry and source share: which children, how many, and each child."""
    counts = Counter(_local(child) for child in element if _is_atom(child))
    for child_name in EXACTLY_ONE.get(name, ()):
        if counts[child_name] == 0:
            problems.append(Problem(MISSING, name, child_name, f"atom:{name} has no {child_name}"))
        elif counts[child_name] > 1:
            problems.append(
                Problem(DUPLICATE, name, child_name, f"{counts[child_name]} {child_name}s")
            )
    for child_name in AT_MOST_ONE[name]:
        if counts[child_name] > 1:
            problems.append(
                Problem(DUPLICATE, name, child_name, f"{counts[child_name]} {child_name}s")
            )
    for child in element:
        if not _is_atom(child):
            continue  # foreign markup (extensions) is allowed anywhere
        child_name = _local(child)
        if child_name not in ALLOWED[name]:
            problems.append(Problem(UNDEFINED, name, child_name, f"atom:{child_name} not allowed"))
        _check_child(child, name, problems)
    _check_alternates(element, name, problems)


def _check_child(child: etree._Element, parent: str, problems: list[Problem]) -> None:
    name = _local(child)
    if name in TEXT_CONSTRUCTS:
        _check_text_construct(child, parent, problems)
    elif name in PERSON_CONSTRUCTS:
        _check_person(child, problems)
    elif name in ("updated", "published"):
        _check_date(child, parent, problems)
    elif name == "id":
        _check_id(child.text or "", parent, problems)
    elif name in ("icon", "logo"):
        _check_iri_reference(child.text or "", parent, name, problems)
    elif name == "generator" and child.get("uri") is not None:
        _check_iri_reference(child.get("uri", ""), parent, "generator", problems)
    elif name == "link":
        _check_link(child, parent, problems)
    elif name == "category":
        _check_category(child, parent, problems)


def _check_text_construct(element: etree._Element, parent: str, problems: list[Problem]) -> None:
    name = _local(element)
    kind = element.get("type", "text")
    if kind not in ("text", "html", "xhtml"):
        problems.append(Problem(TEXT_TYPE, parent, name, f"type {kind!r} is not text/html/xhtml"))
    elif kind == "xhtml":
        _check_xhtml_div(element, parent, problems)
    elif len(element):
        problems.append(Problem(CHILDREN, parent, name, f"type {kind} holds child elements"))


def _check_xhtml_div(element: etree._Element, parent: str, problems: list[Problem]) -> None:
    children = list(element)
    stray = (element.text or "").strip() or any((c.tail or "").strip() for c in children)
    if len(children) != 1 or children[0].tag != f"{{{XHTML_NS}}}div" or stray:
        problems.append(
            Problem(XHTML_DIV, parent, _local(element), "xhtml must hold exactly one xhtml:div")
        )


def _content_kind(kind: str | None) -> str:
    """How RFC 4287 4.1.3.3 says to read content of this type: text, html, xhtml, xml,
    text (a text/* MIME type) or base64."""
    if kind is None or kind in ("text", "html", "xhtml"):
        return kind or "text"
    media = kind.split(";")[0].strip().lower()
    if media.endswith(("+xml", "/xml")):
        return "xml"
    if media.startswith("text/"):
        return "text"
    return "base64"


def _check_content(content: etree._Element, problems: list[Problem]) -> None:
    kind = content.get("type")
    src = content.get("src")
    if kind is not None and kind not in ("text", "html", "xhtml"):
        if not _MIME.match(kind):
            problems.append(Problem(MIME, "entry", "content", f"type {kind!r} is not a MIME type"))
            return
        if kind.lower().startswith(("multipart/", "message/")):
            problems.append(Problem(CONTENT, "entry", "content", f"composite type {kind!r}"))
    if src is not None:
        _check_iri_reference(src, "entry", "content", problems)
        if kind in ("text", "html", "xhtml"):
            problems.append(Problem(CONTENT, "entry", "content", f"src with type {kind!r}"))
        if len(content) or (content.text or "").strip():
            problems.append(Problem(CONTENT, "entry", "content", "src and a non-empty body"))
        return
    how = _content_kind(kind)
    if how == "xhtml":
        _check_xhtml_div(content, "entry", problems)
    elif how != "xml" and len(content):
        problems.append(Problem(CHILDREN, "entry", "content", f"{how} content holds elements"))
    elif how == "base64":
        try:
            base64.b64decode(re.sub(r"\s+", "", content.text or ""), validate=True)
        except (binascii.Error, ValueError):
            problems.append(Problem(BASE64, "entry", "content", "content is not Base64"))


def _check_person(person: etree._Element, problems: list[Problem]) -> None:
    name = _local(person)
    counts = Counter(_local(child) for child in person if _is_atom(child))
    if counts["name"] != 1:
        rule = MISSING if counts["name"] == 0 else DUPLICATE
        problems.append(Problem(rule, name, "name", f"{counts['name']} names, must be one"))
    for child_name in ("uri", "email"):
        if counts[child_name] > 1:
            problems.append(Problem(DUPLICATE, name, child_name, f"{counts[child_name]}"))
    for child in person:
        if not _is_atom(child):
            continue
        child_name = _local(child)
        if child_name not in ("name", "uri", "email"):
            problems.append(Problem(UNDEFINED, name, child_name, "not a person construct child"))
        elif child_name == "uri":
            _check_iri_reference(child.text or "", name, "uri", problems)
        elif child_name == "email" and not _ADDR_SPEC.match(child.text or ""):
            problems.append(Problem(EMAIL, name, "email", f"{child.text!r} is not an addr-spec"))


def _check_date(element: etree._Element, parent: str, problems: list[Problem]) -> None:
    text = element.text or ""
    if not _valid_date(text):
        problems.append(Problem(DATE, parent, _local(element), f"{text!r} is not RFC 3339"))


def _valid_date(text: str) -> bool:
    match = _DATE.match(text)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return False
    if hour > 23 or minute > 59 or second > 60:  # 60: a leap second
        return False
    if match.group(9) is not None:
        return int(match.group(9)) <= 23 and int(match.group(10)) <= 59
    return True


def _check_id(text: str, parent: str, problems: list[Problem]) -> None:
    problem = id_problem(text)
    if problem:
        problems.append(Problem(IRI, parent, "id", problem))


def id_problem(text: str) -> str | None:
    """Why `text` is not a valid atom:id (an absolute IRI; tag: and urn: ids must follow
    their scheme's grammar), or None."""
    if not _SCHEME.match(text) or _NOT_IRI.search(text) or text.count("#") > 1:
        return f"{text!r} is not an absolute IRI"
    if _bad_web_iri(text):
        return f"{text!r} is an http(s) IRI without a host"
    scheme = text.split(":", 1)[0].lower()
    if scheme == "tag":
        match = _TAG.match(text)
        if not match or not _valid_tag_date(match.group("date")):
            return f"{text!r} is not an RFC 4151 tag URI"
    elif scheme == "urn":
        match = _URN.match(text)
        if not match:
            return f"{text!r} is not an RFC 8141 URN"
        if match.group("nid").lower() == "uuid" and not _UUID.match(match.group("nss")):
            return f"{text!r} is not an RFC 4122 UUID URN"
    return None


def _valid_tag_date(text: str) -> bool:
    parts = [int(part) for part in text.split("-")]
    if len(parts) >= 2 and not 1 <= parts[1] <= 12:
        return False
    return len(parts) < 3 or 1 <= parts[2] <= calendar.monthrange(parts[0], parts[1])[1]


def _check_iri_reference(text: str, parent: str, element: str, problems: list[Problem]) -> None:
    if _NOT_IRI.search(text) or text.count("#") > 1 or _bad_web_iri(text):
        problems.append(Problem(IRI, parent, element, f"{text!r} is not an IRI reference"))


def _bad_web_iri(text: str) -> bool:
    """An http(s) IRI without an authority ("http:/x"): RFC 9110 requires "//" and a host."""
    scheme, colon, rest = text.partition(":")
    return bool(colon) and scheme.lower() in ("http", "https") and not re.match(r"//[^/?#]", rest)


def _check_link(link: etree._Element, parent: str, problems: list[Problem]) -> None:
    href = link.get("href")
    if href is None:
        problems.append(Problem(ATTRIBUTE, parent, "link", "link without href"))
    else:
        _check_iri_reference(href, parent, "link", problems)
    rel = link.get("rel")
    if rel is not None and not (
        _ISEGMENT_NZ_NC.match(rel) or (_SCHEME.match(rel) and not _NOT_IRI.search(rel))
    ):
        problems.append(Problem(LINK, parent, "link", f"rel {rel!r} is malformed"))
    kind = link.get("type")
    if kind is not None and not _MIME.match(kind):
        problems.append(Problem(MIME, parent, "link", f"type {kind!r} is not a MIME type"))
    hreflang = link.get("hreflang")
    if hreflang is not None and not _LANGUAGE_TAG.match(hreflang):
        problems.append(Problem(LINK, parent, "link", f"hreflang {hreflang!r} is malformed"))
    length = link.get("length")
    if length is not None and not length.isdigit():
        problems.append(Problem(LINK, parent, "link", f"length {length!r} is not a number"))


def _check_alternates(element: etree._Element, name: str, problems: list[Problem]) -> None:
    keys = Counter(
        ((link.get("type") or "").lower(), (link.get("hreflang") or "").lower())
        for link in _links_with_rel(element, ALTERNATE_RELS)
    )
    for (kind, hreflang), count in keys.items():
        if count > 1:
            problems.append(
                Problem(
                    ALTERNATE,
                    name,
                    "link",
                    f"{count} alternate links with type {kind!r} and hreflang {hreflang!r}",
                )
            )


def _check_category(category: etree._Element, parent: str, problems: list[Problem]) -> None:
    if category.get("term") is None:
        problems.append(Problem(ATTRIBUTE, parent, "category", "category without term"))
    scheme = category.get("scheme")
    if scheme is not None and (not _SCHEME.match(scheme) or _NOT_IRI.search(scheme)):
        problems.append(Problem(IRI, "category", "scheme", f"scheme {scheme!r} is not an IRI"))


def _links_with_rel(element: etree._Element, rels: tuple[str, ...]) -> list[etree._Element]:
    """atom:link children whose rel is one of `rels` (no rel means "alternate", 4.2.7.2)."""
    return [
        link
        for link in element.findall(f"{ATOM}link")
        if link.get("rel", "alternate").strip() in rels
    ]


def _is_atom(element: etree._Element) -> bool:
    return isinstance(element.tag, str) and element.tag.startswith(ATOM)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""
