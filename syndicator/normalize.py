"""Pure text and URL normalisation: canonical URLs, HTML to clean text, XML-safe strings, hashes.

Everything here is a pure function of its arguments: no I/O, no clock, never raises on any text.
It does not decide identity (that is `dedup`); the syndication boilerplate rules are in
`boilerplate`, which `normalize_entry` applies.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lxml import etree

from syndicator.boilerplate import Dateline, split_dateline, strip_boilerplate, strip_site_suffix
from syndicator.logs import is_credential_name
from syndicator.models import ParsedEntry, Story

# Characters XML 1.0 forbids (C0 controls except tab/LF/CR, surrogates, U+FFFE/U+FFFF).
# feedgen/lxml refuse a whole document for one of these, so they go before rendering.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Zero-width and bidi control characters: invisible, yet they defeat matching and dedup.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_BLANK_LINES = re.compile(r"\n\s*\n+")

_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid",
        "_ga", "_gl", "ocid", "cmpid", "ncid", "sr_share", "at_medium", "at_campaign",
        "smid", "ref_src", "rss", "feature", "ito", "srcref",
    }
)  # fmt: skip
# ns_: comScore's (the Daily Mail's ns_campaign, ns_mchannel).
_TRACKING_PREFIXES = ("utm_", "ga_", "mtm_", "pk_", "__twitter", "at_", "ns_")
# Parameters that are tracking when they say the click came from a feed (WSJ's
# mod=rss_Technology, tvn24's source=rss); other values of theirs may choose the page.
_FEED_MARKERS = frozenset({"mod", "source", "src"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
        "pre", "table", "tr", "section", "article", "header", "footer", "figure", "figcaption",
        "hr", "dd", "dt",
    }
)  # fmt: skip
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe"})


def clean_xml_text(text: str) -> str:
    """Remove the characters XML 1.0 cannot carry (one of them makes feedgen refuse a feed)."""
    return _XML_INVALID.sub("", text)


def clean_line(text: str) -> str:
    """One line of plain text: no invisible or control characters, single spaces.

    Entities are not decoded: the input is text already (`parsing` turns HTML titles into
    text), so decoding again would turn a literal "&lt;" into "<". Idempotent.
    """
    text = unicodedata.normalize("NFC", clean_xml_text(_INVISIBLE.sub("", text)))
    return " ".join(text.split())  # every Unicode space and line break becomes one space


def html_to_line(markup: str) -> str:
    """One line of plain text from an HTML fragment such as an HTML-typed title."""
    return clean_line(html_to_text(markup))


# libxml2's HTML parser, in C: five times the speed of html.parser for feed-sized fragments.
_HTML = etree.HTMLParser(
    encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True,
    default_doctype=False,
)  # fmt: skip
_SKIPPED = tuple(_SKIPPED_TAGS)
# The start or end tag of a block element, as written in markup ("<p", "</DIV", "<br/").
_BLOCK_TAG = re.compile(
    "<(?=/?(?:" + "|".join(sorted(_BLOCK_TAGS, key=len, reverse=True)) + r")[\s/>])",
    re.IGNORECASE,
)
_C0_CONTROLS = bytes([*range(0, 9), 11, 12, *range(14, 32)])


def html_to_text(markup: str) -> str:
    """Clean text from HTML (or plain text): paragraphs kept as blank-line breaks.

    Tolerates any input, including broken markup and plain text with stray '<'.
    """
    if "<" not in markup and "&" not in markup:
        return clean_paragraphs(markup)  # plain text: nothing for a parser to do
    # A break goes in before every block element's start and end tag while the markup is
    # still text: one C-level substitution instead of a Python walk over the parsed tree, and
    # the tree is never written to (lxml refuses to set text holding a control character
    # that a reference such as &#1; decoded to).
    marked = _BLOCK_TAG.sub("\n\n<", markup)
    try:
        data = marked.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: broken input, dropped
        data = clean_xml_text(marked).encode("utf-8", "replace")
    try:
        # libxml2 stops at a NUL byte and C0 controls are never text: deleted in C.
        root = etree.fromstring(data.translate(None, _C0_CONTROLS), _HTML)
    except (etree.XMLSyntaxError, ValueError):
        root = None
    if root is None:  # libxml2 found nothing it could call a document
        return clean_paragraphs(html.unescape(markup))
    etree.strip_elements(root, *_SKIPPED, with_tail=False)
    return clean_paragraphs(etree.tostring(root, method="text", encoding="unicode"))


def clean_paragraphs(text: str) -> str:
    """Normalise whitespace within lines and collapse runs of blank lines to one."""
    if not text.isascii():  # NFC and the invisible characters concern non-ASCII text only
        text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = clean_xml_text(text)
    # str.split() is C and knows every Unicode space; a regex over each character is 20x slower.
    lines = [" ".join(line.split()) for line in text.replace("\r", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# The version of `canonical_url`'s rules: raise it whenever they give another URL for one
# that could be stored. A store keyed entries without a guid, and exact copies, by the old
# rules: it re-keys them once when it meets a newer version (`storage.open_store`), or a
# feed's next poll would store its entries a second time under their new keys.
# 2: redirectors unwrapped; comScore ns_*, ito, srcref and mod/source/src=rss* dropped.
# 3: session ids dropped (;jsessionid=, PHPSESSID, sessionid, session_id).
# 4: ASP.NET cookieless session segments dropped ("/(S(...))/").
# 5: "cid" kept: it is the article's id on many sites (moneyguruindia.com/article.php?cid=6880),
#    and dropping it made all of a site's articles one URL (one story, as a changing guid).
CANONICAL_RULES = 5


def canonical_url(url: str) -> str:
    """A canonical form of a URL for identity: the same article gives the same string.

    Lower-cases scheme and host, drops default ports, fragments and tracking parameters, sorts
    the query and folds the common AMP variants. Returns the input stripped when it is not an
    absolute http(s) URL.
    """
    canonical = _canonical(_unwrapped(url.strip()))
    # Folding an AMP host can reveal a redirector ("amp.www.google.com/url?url=..."): its
    # article, so that the result is its own canonical form.
    for _ in range(_MAX_LAYERS):  # bounded: re-encoding a query can lengthen a URL again
        if (inner := _wrapped_url(canonical)) is None:
            break
        canonical = _canonical(_unwrapped(inner))
    return canonical


def _canonical(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = _fold_amp_host(parts.hostname.lower().rstrip("."))
    if not host:  # "http://./x": no host to rebuild around (the path would become one)
        return url
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _fold_amp_path(_SESSION_PATH_PARAMETER.sub("", parts.path) or "/")
    while _SESSION_PATH_PARAMETER.search(path):  # folding revealed one: each pass is shorter
        path = _fold_amp_path(_SESSION_PATH_PARAMETER.sub("", path) or "/")
    query = urlencode(sorted(_kept_params(parts.query)))
    # rstrip: "http://h/a #x" loses its fragment and must not keep the space before it.
    return urlunsplit((scheme, netloc, path, query, "")).rstrip()


# Redirectors that wrap an article's URL: Google Alerts' RSS links every result through
# google.com/url, Bing News through apiclick.aspx, Facebook through l.php, and Folha (in UOL's
# feed) puts the article after a '*' in the path. The article is the identity, so that its
# copy from a feed that links it directly joins the same cluster.
_REDIRECT_PARAMS: Final = {
    ("google.com", "/url"): ("url", "q"),
    ("www.google.com", "/url"): ("url", "q"),
    ("bing.com", "/news/apiclick.aspx"): ("url",),
    ("www.bing.com", "/news/apiclick.aspx"): ("url",),
    ("l.facebook.com", "/l.php"): ("u",),
    ("lm.facebook.com", "/l.php"): ("u",),
}
_WRAPPED_IN_PATH = re.compile(r"/\*(https?://.+)", re.IGNORECASE | re.DOTALL)


_MAX_LAYERS: Final = 8

# Feed ad networks that insert whole entries ("Featured Advertiser" in The Washington Post's
# feeds, linking ads.pheedo.com/click.phdo): not stories, and each one another "story".
_AD_HOSTS: Final = frozenset(
    (
        "ads.pheedo.com",
        "feedads.g.doubleclick.net",
        "feedads.googleadservices.com",
        "ad.doubleclick.net",
    )
)


def is_feed_ad(url: str) -> bool:
    """Whether an entry's link goes to a feed ad network's click counter."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return False
    return host.lower() in _AD_HOSTS


def _unwrapped(url: str) -> str:
    """The article's URL inside a redirector's, as many layers deep as there are (each
    layer is shorter, so this ends); the URL itself when it wraps none."""
    while (inner := _wrapped_url(url)) is not None:
        url = inner.strip()
    return url


# What every wrapper holds; most URLs hold neither, and a search is cheaper than a split.
_MAY_WRAP = re.compile(r"[*=]https?(?::|%3a)", re.IGNORECASE)


def _wrapped_url(url: str) -> str | None:
    if _MAY_WRAP.search(url) is None:
        return None
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not host:
        return None
    if (found := _WRAPPED_IN_PATH.search(parts.path)) is not None:
        # The wrapped URL's own query and fragment were split off as the wrapper's.
        query = f"?{parts.query}" if parts.query else ""
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        inner = found.group(1) + query + fragment
        return inner if len(inner) < len(url) else None
    for name in _REDIRECT_PARAMS.get((host, parts.path), ()):
        for key, value in parse_qsl(parts.query):
            if key == name and value.lower().startswith(("http://", "https://")):
                return value if len(value) < len(url) else None
    return None


def _kept_params(query: str) -> list[tuple[str, str]]:
    pairs = parse_qsl(query, keep_blank_values=True)
    return [(key, value) for key, value in pairs if not _is_tracking_param(key.lower(), value)]


# Session ids that some sites write into every link of a feed, new on each request (Java's
# ";jsessionid=" path parameter, PHP's trans-sid PHPSESSID): not part of the article's address.
_SESSION_PARAMS: Final = frozenset({"jsessionid", "phpsessid", "sessionid", "session_id"})
# Java's ";jsessionid=...", and ASP.NET's cookieless session segment "/(S(lit3py55t21z5))/"
# (also "/(X(1)S(...)A(...))/"), which such sites write into every link they serve.
_SESSION_PATH_PARAMETER = re.compile(
    r";jsessionid=[^/;?#]*|/\((?:[a-z]\([a-z0-9_-]*\))+\)(?=/)", re.IGNORECASE
)


def without_session_id(url: str) -> str:
    """A link without the session id a site put in it (`;jsessionid=...`, `PHPSESSID=...`),
    otherwise as written: a reader's link must not carry someone's session, and a link that
    changes on every request would make its entry new on every poll."""
    if ";" not in url and "))/" not in url and "sess" not in url.lower():
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return url
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair.split("=", 1)[0].lower() not in _SESSION_PARAMS
    )
    path = _SESSION_PATH_PARAMETER.sub("", parts.path)
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def public_feed_url(url: str) -> str:
    """A source's feed URL fit to publish: without the query parameters that carry a
    credential (`apikey`, `access_token`, `auth`, `sig` ...; by the words of their names,
    so `keywords=` stays), otherwise exactly as written.

    The feed URL is what the daemon polls, and the published feeds name it (an entry's
    `atom:source`, relative links in its content): a key for a paid or private feed, often
    `?apikey=${FEED_KEY}` from the environment to keep it out of the config file, must not
    reach every subscriber of every feed.
    """
    head, question, rest = url.partition("?")
    if not question:
        return url
    query, hash_mark, fragment = rest.partition("#")
    kept = [pair for pair in query.split("&") if not is_credential_name(pair.split("=", 1)[0])]
    if len(kept) == query.count("&") + 1:
        return url
    return head + ("?" + "&".join(kept) if kept else "") + hash_mark + fragment


def _is_tracking_param(key: str, value: str) -> bool:
    return (
        key in _TRACKING_PARAMS
        or key in _SESSION_PARAMS
        or key.startswith(_TRACKING_PREFIXES)
        or key in {"amp", "outputtype"}
        or (key in _FEED_MARKERS and value.lower().startswith("rss"))
    )


def _fold_amp_host(host: str) -> str:
    """amp.example.org -> example.org, but never a registered name such as amp.dev."""
    while host.startswith("amp.") and host.count(".") >= 2:
        host = host[4:]
    return host


def _fold_amp_path(path: str) -> str:
    """Strip AMP path markers (/amp, /amp/, .amp.html, a leading /amp/) until none is left."""
    while True:
        folded = _fold_amp_path_once(path)
        if folded == path:
            return path
        path = folded


def _fold_amp_path_once(path: str) -> str:
    for suffix in ("/amp/", "/amp", ".amp.html", ".amp"):
        if path.endswith(suffix) and len(path) > len(suffix):
            base = path[: -len(suffix)]
            return base + ("/" if suffix.endswith("/") else ".html" if "html" in suffix else "")
    if path.startswith("/amp/"):
        return path[4:]
    return path


def content_hash(*parts: str) -> str:
    """A stable hex digest of text parts (order matters); used to notice changed entries."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:32]


def bytes_hash(data: bytes) -> str:
    """A stable hex digest of raw bytes; used to skip re-parsing an unchanged response."""
    return hashlib.sha256(data).hexdigest()[:32]


def summarise(text: str, limit: int = 400) -> str:
    """The first `limit` characters of clean text, cut at a word boundary, with an ellipsis."""
    # Flattening a long text's head gives the head of the flattened text: when that head is
    # already longer than the limit, the rest (most of an article) need not be split at all.
    head = " ".join(text[: 2 * limit + 64].split())
    flat = head if len(head) > limit else " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + "…"


# A headline longer than this is cut at a word, with an ellipsis: the longest real ones are a
# few hundred characters (a Telegram bridge puts a whole post in the title), and a 3 MB one
# made every feed holding it 3 MB, and every `search` listing print it.
MAX_TITLE_CHARS = 1_000

# No news feed item predates RSS: earlier dates are a CMS's zero values (Unix time 0, "Thu,
# 01 Jan 1970", Go's year 1) for "no date". Taken at their word they dated a new story
# decades back, out of every feed's newest entries, and a copy so dated joining a cluster
# took its place as "first published" and moved the whole cluster back with it.
EARLIEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)


def _plausible(date: datetime | None) -> datetime | None:
    return date if date is not None and date >= EARLIEST_DATE else None


def normalize_entry(
    source_id: int,
    entry: ParsedEntry,
    guid_key: str,
    now: datetime,
    site_names: Iterable[str] = (),
    *,
    feed_language: str = "",
) -> Story:
    """A `Story` from a parsed entry: clean title and text, canonical URL, a UTC date, and
    the entry's language, else its feed's (`feed_language`: RSS declares it per channel).

    The text loses the syndication furniture (`boilerplate.strip_boilerplate`) and its wire
    dateline, which is kept as the story's place and agency; the title loses an outlet suffix
    (" | Reuters", or one of `site_names`, such as the feed's own title). A missing, future
    (beyond a day of clock skew) or impossible date (before `EARLIEST_DATE`) becomes `now`,
    the time first seen.
    """
    body_html = entry.content_html or entry.summary_html
    dateline, text = article_text(body_html)
    # Most feeds give one body: its summary is the same text, converted once.
    summary_text = text if entry.summary_html == body_html else article_text(entry.summary_html)[1]
    title = clean_line(entry.title)
    if len(title) > MAX_TITLE_CHARS:  # a whole post as a title, or a hostile one
        title = summarise(title, MAX_TITLE_CHARS)
    else:
        title = strip_site_suffix(title, site_names)
    title = title or summarise(text, 90) or "(untitled)"
    # A redirector's link (Google Alerts' google.com/url) is the article's, for readers too.
    url = without_session_id(_unwrapped(clean_xml_text(entry.link or "").strip()))
    published = _plausible(entry.published) or _plausible(entry.updated)
    if published is None or published > now + timedelta(days=1):
        published = now
    return Story(
        source_id=source_id,
        guid_key=guid_key,
        guid=entry.guid,
        url=url,
        canonical_url=canonical_url(url) if url else "",
        title=title,
        summary=summarise(summary_text or text),
        content_html=clean_xml_text(body_html),
        text=text,
        author=clean_line(entry.author),
        published_at=published,
        content_hash=content_hash(title, text, url),
        categories=tuple(clean_line(term) for term in entry.categories if clean_line(term)),
        language=clean_line(entry.language or feed_language),
        place=dateline.place if dateline else "",
        agency=dateline.agency if dateline else "",
    )


def article_text(markup: str) -> tuple[Dateline | None, str]:
    """The article's own text from a feed body: furniture lines out, the dateline apart."""
    return split_dateline(strip_boilerplate(html_to_text(markup)))
