"""A section and its clusters in, an RFC 4287 Atom document (bytes) out: the only feedgen user.

One entry per story cluster, with a stable tag-URI id derived from the cluster id, the
representative story's title and link, the other copies as `rel="related"` links, categories
for regions and topics, and the origin as `atom:source`. Content HTML is sanitised with nh3
(ammonia); every string is stripped of XML-invalid characters first, because one control
character makes feedgen refuse the whole document. Links are made valid IRIs (a source's
"a story?q=a b" is published "a%20story?q=a%20b"). No I/O: writing files is `publishing`'s job.

Entry links and `atom:source` are added after feedgen has rendered, with lxml: feedgen 1.0.0
loses the rel, type and title of entry links (in `FeedEntry.atom_entry` the loop variable
shadows the link dict), which would turn every "related" copy into a second "alternate", and
its `source()` cannot carry the origin feed's id.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import lxml.html
import nh3
from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator import __version__
from syndicator.errors import PublishError
from syndicator.models import LANGUAGE_TAG, Cluster, Section
from syndicator.normalize import clean_line, clean_xml_text, html_to_text, public_feed_url
from syndicator.tagging.regions import region_label
from syndicator.tagging.topics import topic_label

log = logging.getLogger(__name__)

# The version of how documents are rendered: raise it with every change to what an existing
# feed's document would say (escaping, elements, links). Publishing rewrites a feed only when
# what it is rendered from changes, and this is part of that, so a fix reaches quiet feeds
# too, once, at the first publish after an upgrade.
# 2: links percent-encoded into valid IRIs.
# 3: an entry's title, summary and content carry its language (xml:lang).
# 4: a source's feed URL published without its credential parameters (`public_feed_url`).
# 5: the content without the site furniture the clean text left out (`without_furniture`).
RENDERING = 5
_ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
_ATOM_NS = "http://www.w3.org/2005/Atom"
_HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
_HUGE_PARSER = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)


@dataclass(frozen=True, slots=True)
class FeedContext:
    """Where a feed lives: the public base URL, its own URL, and the HTML index."""

    base_url: str
    feed_url: str
    index_url: str
    hub_url: str = ""
    publisher: str = "syndicator"
    topic_labels: tuple[tuple[str, str], ...] = ()  # (slug, label); else the built-in label
    # RFC 5005: the newest archive page older than this document, and, in an archive page,
    # the subscription document's URL (which is also the feed id of every page).
    prev_archive_url: str = ""
    current_url: str = ""
    json_url: str = ""  # the same entries as JSON Feed, offered as an alternate


def cluster_entry_id(base_url: str, cluster: Cluster) -> str:
    """A stable tag URI (RFC 4151) for a cluster: the same cluster always gets the same id."""
    authority = urlsplit(base_url).hostname or "localhost"
    day = cluster.first_seen_at.strftime("%Y-%m-%d")
    return f"tag:{authority},{day}:syndicator/cluster/{cluster.id}"


def render_atom(
    section: Section,
    clusters: Sequence[Cluster],
    context: FeedContext,
    empty_updated: datetime,
    *,
    at_least: datetime | None = None,
) -> bytes:
    """Render a section as Atom. `updated` is the newest cluster change (or `empty_updated`),
    but never before `at_least` (when the feed last changed: see `publishing.publish_feed`).

    Clusters are rendered in the order given. Raises `PublishError` if feedgen fails.
    """
    generator = FeedGenerator()
    # A feed's id is its permanent public URL: the subscription document's, on every archive
    # page too, since they are one logical feed (RFC 5005 section 4).
    generator.id(context.current_url or context.feed_url)
    title = clean_line(section.title) or section.slug
    generator.title(title)
    generator.subtitle(clean_line(section.subtitle) or f"Stories for {title}")
    # RFC 4287 4.1.2: an entry without an author inherits the feed's, so the feed has one.
    generator.author(name=clean_line(context.publisher) or "syndicator")
    generator.link(href=context.feed_url, rel="self", type="application/atom+xml")
    generator.link(href=context.index_url, rel="alternate", type="text/html")
    if context.json_url:
        generator.link(href=context.json_url, rel="alternate", type="application/feed+json")
    if context.hub_url:
        generator.link(href=context.hub_url, rel="hub")  # WebSub discovery
    generator.generator("syndicator", version=__version__, uri="https://github.com/syndicator")
    labels = context.topic_labels
    clusters = [c for c in clusters if _added(generator, section, c, context.base_url, labels)]
    newest = max((c.updated_at for c in clusters), default=empty_updated)
    generator.updated(newest if at_least is None else max(newest, at_least))
    try:
        # huge_tree: a text node over 10 MB (one absurd story) must not stop the feed.
        root = etree.fromstring(generator.atom_str(pretty=False), _HUGE_PARSER)
        for element, cluster in zip(root.iterfind(f"{{{_ATOM_NS}}}entry"), clusters, strict=True):
            _add_links_and_source(element, cluster)
            _mark_language(element, cluster.representative.language)
        root = _with_archive_links(root, context)
        etree.indent(root, space="  ")
        document: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    except (ValueError, TypeError, etree.LxmlError) as e:
        raise PublishError(f"section {section.slug!r}: could not render Atom: {e}") from e
    return document + b"\n"


def with_feed_updated(document: bytes, updated: datetime) -> bytes:
    """A document of `render_atom` with the feed's own `updated` set to `updated` (the
    entries' untouched), byte for byte what rendering it with `at_least=updated` gives when
    that is later than every entry's: a publish learns that a feed must say "changed now"
    only once it has rendered it, and rendering it again cost a third of a publish."""
    root = etree.fromstring(document, _HUGE_PARSER)
    element = root.find(f"{{{_ATOM_NS}}}updated")
    if element is None:  # every document render_atom makes has one
        raise PublishError("an Atom document without a feed-level updated")
    element.text = updated.isoformat()  # as feedgen writes it
    serialised: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return serialised + b"\n"


def _with_archive_links(root: etree._Element, context: FeedContext) -> etree._Element:
    """RFC 5005 links, before the first entry: prev-archive, and in an archive page the
    `fh:archive` marker and a `current` link. Archive pages get no next-archive link (it is
    optional), so that a page never changes once written."""
    if not (context.prev_archive_url or context.current_url):
        return root
    if context.current_url:
        # Rebuild the root to declare the history namespace as `fh` on <feed>.
        nsmap = {None: _ATOM_NS, "fh": _HISTORY_NS}
        feed = etree.Element(root.tag, nsmap=nsmap)
        feed.extend(list(root))
        root = feed
    position = next(
        (i for i, child in enumerate(root) if child.tag == f"{{{_ATOM_NS}}}entry"), len(root)
    )
    extra = []
    if context.current_url:
        extra.append(etree.Element(f"{{{_HISTORY_NS}}}archive"))
        extra.append(_link(context.current_url, "current"))
    if context.prev_archive_url:
        extra.append(_link(context.prev_archive_url, "prev-archive"))
    for offset, element in enumerate(extra):
        root.insert(position + offset, element)
    return root


def _link(href: str, rel: str) -> etree._Element:
    return etree.Element(
        f"{{{_ATOM_NS}}}link", {"href": href, "rel": rel, "type": "application/atom+xml"}
    )


def _added(
    generator: FeedGenerator,
    section: Section,
    cluster: Cluster,
    base_url: str,
    topic_labels: tuple[tuple[str, str], ...],
) -> bool:
    """Add one cluster's entry; a cluster feedgen refuses is logged and left out, so one bad
    story never keeps a section from being published."""
    try:
        entry = _entry(cluster, base_url, topic_labels)
    except (ValueError, TypeError, AttributeError) as e:
        log.error("section %r: cluster %d left out of the feed: %s", section.slug, cluster.id, e)
        return False
    generator.add_entry(entry, order="append")
    return True


ENTRY_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=ENTRY_CACHE_SIZE)
def _entry(cluster: Cluster, base_url: str, topic_labels: tuple[tuple[str, str], ...]) -> FeedEntry:
    """A cluster's entry, built once per version of the cluster (the key is the whole frozen
    `Cluster`: any change to it, its members or tags is a new key). A cluster is in several
    feeds (its section, "all", its countries, regions and topics), each rendered again
    whenever one entry in it changes: filling entries was a third of an incremental publish.
    feedgen only reads a `FeedEntry` when it renders, so one object serves every feed."""
    entry = FeedEntry()
    _fill_entry(entry, cluster, base_url, dict(topic_labels))
    return entry


def _fill_entry(
    entry: FeedEntry, cluster: Cluster, base_url: str, topic_labels: dict[str, str]
) -> None:
    story = cluster.representative
    entry.id(cluster_entry_id(base_url, cluster))
    entry.title(clean_line(cluster.title) or "(untitled)")
    entry.published(cluster.published_at)  # the first source's publication time
    entry.updated(cluster.updated_at)
    if story.author:
        entry.author(name=clean_line(story.author))
    entry.summary(clean_xml_text(story.summary) or clean_line(cluster.title))
    entry.content(content_html(cluster), type="html")
    _add_categories(entry, cluster, base_url, topic_labels)


def _add_links_and_source(entry: etree._Element, cluster: Cluster) -> None:
    """The representative's link as alternate, every other copy as related, then the origin."""
    story = cluster.representative
    if _is_web_url(story.url):
        _sub(entry, "link", href=iri_reference(story.url), rel="alternate", type="text/html")
    for copy in cluster.copies:
        if copy.id != story.id and _is_web_url(copy.url):
            href, title = iri_reference(copy.url), clean_line(copy.source_name)
            _sub(entry, "link", href=href, rel="related", type="text/html", title=title)
    source = _sub(entry, "source")
    feed_url = iri_reference(public_feed_url(story.source_url))  # no `?apikey=`
    _sub(source, "id").text = feed_url
    _sub(source, "title").text = clean_line(story.source_name)
    _sub(source, "link", href=feed_url, rel="self")
    if _is_web_url(story.source_link) and story.source_link != story.source_url:
        link = iri_reference(story.source_link)
        _sub(source, "link", href=link, rel="alternate", type="text/html")


_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_TEXT_ELEMENTS = tuple(f"{{{_ATOM_NS}}}{name}" for name in ("title", "summary", "content"))


def _mark_language(entry: etree._Element, language: str) -> None:
    """xml:lang on the entry's own text (its title, summary and content), not on the whole
    entry: its category labels and source name are ours, in English. A reader then shows
    Arabic or Hebrew right to left, and hyphenates and reads aloud in the right language."""
    if not LANGUAGE_TAG.fullmatch(language):
        return
    tag = language.replace("_", "-")
    for child in entry:
        if child.tag in _TEXT_ELEMENTS:
            child.set(_XML_LANG, tag)


# What RFC 3987 allows nowhere in an IRI: controls, space, the delimiters <>"{}|\^`, the
# bidirectional formatting marks (section 4.1), and a "%" that starts no escape. Feeds do
# link to "https://site/a story/?q=a b": published as is, the href is no IRI (RFC 4287
# 4.2.7.1), the W3C validator rejects the feed and some readers cut the link at the space.
_NOT_IN_IRI = re.compile(
    r'[\x00-\x20\x7f-\x9f<>"{}|\\^`\u200e\u200f\u202a-\u202e\u2066-\u2069]|%(?![0-9A-Fa-f]{2})'
)


@functools.lru_cache(maxsize=8192)
def iri_reference(url: str) -> str:
    """`url` as a valid IRI reference: what no IRI may hold percent-encoded (UTF-8), and every
    "#" after the first (a fragment holds none) too. Letters of any script and existing
    escapes are kept: the link a reader opens is the same one."""
    cleaned = clean_xml_text(url).strip()
    head, hash_mark, fragment = cleaned.partition("#")
    escaped = _NOT_IN_IRI.sub(_percent_encoded, head)
    if hash_mark:
        escaped += "#" + _NOT_IN_IRI.sub(_percent_encoded, fragment).replace("#", "%23")
    return escaped


def _percent_encoded(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8"))


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{_ATOM_NS}}}{tag}", attributes)


def _add_categories(
    entry: object, cluster: Cluster, base_url: str, topic_labels: dict[str, str]
) -> None:
    category = entry.category  # type: ignore[attr-defined]
    for code in cluster.regions:
        category(term=code, scheme=f"{base_url}regions", label=region_label(code))
    for slug in cluster.topics:
        label = topic_labels.get(slug) or topic_label(slug)
        category(term=slug, scheme=f"{base_url}topics", label=label)


def content_html(cluster: Cluster) -> str:
    """The entry's sanitised HTML: the representative's content, then "Also reported by"."""
    story = cluster.representative
    others = tuple(
        (clean_line(copy.source_name), copy.url)
        for copy in cluster.copies
        if copy.id != cluster.representative.id
    )
    markup = story.content_html or story.summary
    if not markup.strip():
        # Readers show the content before the summary: an empty one was a blank entry (a
        # WaPo ad, a UOL item with no description). The headline is all there is to show.
        markup = f"<p>{html.escape(clean_line(cluster.title) or '(untitled)')}</p>"
    # Relative links resolve against the feed's URL: `href=""` or `href="?p=2"` would
    # otherwise publish the feed's credential parameters.
    # The clean text's first line is what followed a wire dateline, if the body had one.
    after_dateline = story.text.split("\n", 1)[0].strip() if story.place or story.agency else ""
    return _content(markup, story.text, after_dateline, public_feed_url(story.source_url), others)


@functools.lru_cache(maxsize=8192)
def _content(
    markup: str, text: str, after_dateline: str, base_url: str, others: tuple[tuple[str, str], ...]
) -> str:
    # Memoised: one cluster is in several feeds (its section, "all", its countries, regions
    # and topics) and in both the Atom and the JSON document of each, and sanitising is the
    # dearest part of rendering an entry. The key is everything the result depends on.
    body = without_furniture(markup, text, after_dateline)
    body = sanitise_html(absolute_links(body, base_url))
    if others:
        body += _also_reported_by(others)
    return body


# Elements holding one paragraph's worth of text, each a candidate for removal as a whole.
_TEXT_BLOCKS = frozenset({
    "p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "figcaption", "div",
    "section", "aside", "nav", "footer", "header", "article", "figure", "form", "address",
    "center", "ul", "ol",
})  # fmt: skip
# Inside these, a line of the clean text is a row or a cell, not the element: left as is.
_WHOLE = frozenset({"table", "pre", "code", "dl"})


def without_furniture(markup: str, text: str, after_dateline: str = "") -> str:
    """The body's HTML without the paragraphs the clean text left out: ads, share and
    subscribe lines, "Check Also" teasers, comment forms, copyright and crumbs (what
    `boilerplate.strip_boilerplate` dropped), so that subscribers see the article the
    summary and the clustering saw, not the page around it. A paragraph stays when one of
    its lines is a line of the text (or ends with `after_dateline`, the text's first line
    when a wire dateline was taken off it); tables and preformatted blocks stay whole; if
    nothing with text would be left, the body stays as it was. `text` is the story's clean
    text."""
    if not text.strip() or "<" not in markup:
        return markup
    kept = {line.strip() for line in text.split("\n") if line.strip()}
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.LxmlError, ValueError):
        return markup
    furniture = [
        element
        for element in root.iter(*_TEXT_BLOCKS)
        if element is not root and _is_furniture(element, kept, after_dateline)
    ]
    if not furniture:
        return markup
    for element in furniture:
        element.drop_tree()  # its tail (text after it) stays
    if not root.text_content().strip():
        return markup
    return "".join(
        [html.escape(root.text or "", quote=False)]
        + [lxml.html.tostring(child, encoding="unicode") for child in root]
    )


def _is_furniture(element: lxml.html.HtmlElement, kept: set[str], after_dateline: str) -> bool:
    """Whether a paragraph-like element with no such element inside holds text that the
    clean text does not."""
    if next(element.iterdescendants(*_TEXT_BLOCKS), None) is not None:
        return False  # a container: its paragraphs are judged one by one
    if any(ancestor.tag in _WHOLE for ancestor in element.iterancestors()):
        return False
    own = [
        line.strip()
        for line in html_to_text(
            lxml.html.tostring(element, encoding="unicode", with_tail=False)
        ).split("\n")
        if line.strip()
    ]
    return bool(own) and not any(
        line in kept or (after_dateline and line.endswith(after_dateline)) for line in own
    )


def _also_reported_by(copies: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<li>{_source_link(name, url)}</li>" for name, url in copies)
    return f"<p>Also reported by:</p><ul>{items}</ul>"


def _source_link(name: str, url: str) -> str:
    if not _is_web_url(url):
        return html.escape(name)
    return f'<a href="{html.escape(iri_reference(url), quote=True)}">{html.escape(name)}</a>'


_RELATIVE_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']?(?![a-z][a-z0-9+.-]*:|//|#)""", re.I)


def absolute_links(markup: str, base_url: str) -> str:
    """Resolve relative href/src against the feed's URL, as a reader would need them."""
    lowered = markup.lower()  # two substring scans in C reject most bodies before the regex
    if ("href" not in lowered and "src" not in lowered) or not _RELATIVE_LINK.search(markup):
        return markup
    try:
        resolved: str = lxml.html.make_links_absolute(markup, base_url)
    except (ValueError, etree.LxmlError):
        return markup  # unresolvable links stay relative; sanitising still applies
    return resolved


def sanitise_html(markup: str) -> str:
    """HTML safe to embed in a reader: no script, style, frames, forms, handlers or odd URLs.

    Markup that would make the sanitiser take superlinear time (elements nested thousands
    deep, a text of hundreds of thousands of character references) is published as its
    escaped text instead: no article looks like that, and one such entry stalled publishing
    for minutes (nh3's parser is quadratic in the nesting depth: 100,000 <div>s took 125 s).
    """
    if _too_complex(markup):
        return _as_plain_text(markup)
    cleaned: str = nh3.clean(
        clean_xml_text(markup),
        url_schemes=_ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return cleaned


MAX_NESTING = 1_000  # at this depth nh3 takes 5 ms; at 20,000 it took 1.5 s
MAX_CHARACTER_REFERENCES = 20_000  # 50 ms; 100,000 of them took 1.1 s
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)[^>]*?(/?)>")
# Elements that nest nothing (void) or that the next sibling closes (<p>, <li> without their
# end tag): they add no depth however many there are.
_FLAT_ELEMENTS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "dt",
        "dd",
        "option",
        "optgroup",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "colgroup",
        "rt",
        "rp",
    ]
)


def _too_complex(markup: str) -> bool:
    """Whether nesting or character references exceed what the sanitiser does quickly. One
    regular-expression scan, and none at all for markup with fewer tags than `MAX_NESTING`."""
    if markup.count("&") > MAX_CHARACTER_REFERENCES:
        return True
    if markup.count("<") <= MAX_NESTING:
        return False
    depth = 0
    for match in _TAG.finditer(markup):
        closing, name, self_closing = match.groups()
        if self_closing or name.lower() in _FLAT_ELEMENTS:
            continue
        depth += -1 if closing else 1
        if depth > MAX_NESTING:
            return True
    return False


_ANY_TAG = re.compile(r"<[^>]*>")


def _as_plain_text(markup: str) -> str:
    """The text between the tags, in one paragraph. Character references stay as they are (a
    reader's HTML parser reads them; `html.unescape` took 2 s on 800,000 of them)."""
    text = " ".join(_ANY_TAG.sub(" ", clean_xml_text(markup)).split())
    return "<p>" + text.replace("<", "&lt;").replace(">", "&gt;") + "</p>"


def _is_web_url(url: str) -> bool:
    # A prefix test, not urlsplit: it runs for every link of every entry of every feed.
    return url[:8].lower().startswith(("http://", "https://"))
