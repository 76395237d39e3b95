"""The strict RFC 4287 checker (tests/atom_checks.py), validated against the W3C Feed
Validator's Atom test cases, then applied to every feed a real `run --once` publishes.

The validator's cases live in shared/corpus/feeds-conformance/feedvalidator/testcases/atom/.
Each holds an `Expect:` comment listing validator messages: `!Error` means "no error at all",
`Name{parent:..,element:..}` means the validator must raise that message there, and `!Name`
that it must not. The checker targets only RFC 4287's MUST rules, so only the messages that
are about those rules (`TARGETED`) are compared; SHOULD-level warnings, HTML-in-text hints,
extension namespaces, xml:base and xml:lang are left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from tests.atom_checks import ATOM, Problem, atom_problems, check_atom_strict
from tests.conftest import SHARED, FeedServer, Route, rss, syndicator, write_config

CASES = SHARED / "corpus" / "feeds-conformance" / "feedvalidator" / "testcases" / "atom"
REAL = SHARED / "corpus" / "feeds-real"

# Validator messages about the MUST rules the checker enforces -> the checker's rule names.
TARGETED: dict[str, set[str]] = {
    "MissingElement": {"missing"},
    "MissingXhtmlDiv": {"xhtml-div"},
    "MissingContentOrAlternate": {"content-or-alternate"},
    "MissingSummary": {"summary"},
    "DuplicateElement": {"duplicate"},
    "DuplicateAtomLink": {"alternate"},
    "DuplicateEntries": {"duplicate-entry"},
    "InvalidRFC3339Date": {"date"},
    "InvalidTextType": {"text-type"},
    "InvalidMIMEType": {"mime", "text-type", "content"},
    "NotBase64": {"base64"},
    "MissingHref": {"attribute"},
    "MissingAttribute": {"attribute"},
    "InvalidFullLink": {"iri"},
    "InvalidLink": {"iri"},
    "InvalidUriChar": {"iri"},
    "InvalidTAG": {"iri"},
    "InvalidURN": {"iri"},
    "InvalidUUID": {"iri"},
    "UnexpectedWhitespace": {"iri", "date"},
    "InvalidContact": {"email"},
    "InvalidAddrSpec": {"email"},
    "UndefinedElement": {"undefined"},
    "InvalidNamespace": {"root"},
    "MissingNamespace": {"root"},
    "ObsoleteNamespace": {"root"},
}
# "The validator found this element valid" messages -> the rules that must then stay silent.
# (ValidMIMEAttribute only says the attribute is a well-formed MIME type: the old "must/"
# cases put MIME types on text constructs, which RFC 4287 3.1.1 forbids.)
VALID_ELEMENT: dict[str, set[str]] = {
    "ValidTAG": {"iri"},
    "ValidURN": {"iri"},
    "ValidURI": {"iri"},
    "ValidW3CDTFDate": {"date"},
    "ValidContact": {"email"},
    "ValidMIMEAttribute": {"mime"},
    "ValidAtomLinkRel": {"link"},
}
# "!Name" says nothing about our rule when Name is scheme-specific: "foo tag:x" is not an
# InvalidTAG (it is no tag URI at all) but it is still no IRI.
NOT_NEGATABLE = {"InvalidTAG", "InvalidURN", "InvalidUUID"}
PERSON_OR_CONTAINER = {"feed", "entry", "source", "author", "contributor"}


@dataclass(frozen=True)
class Expectation:
    negated: bool
    name: str
    params: dict[str, str]

    @property
    def element(self) -> str:
        element = self.params.get("element", "")
        return {"href": "link"}.get(element, element)  # the validator names href as element

    def concerns_our_rules(self) -> bool:
        element = self.params.get("element", "")
        if ":" in element:
            return False  # an extension element or xml:base/xml:lang, not an Atom rule
        if self.name == "UndefinedElement":
            return self.params.get("parent") in PERSON_OR_CONTAINER
        if self.name == "MissingNamespace":
            return element == "feed"  # not undeclared prefixes inside xhtml content
        return True

    def matched_by(self, problem: Problem, rules: set[str]) -> bool:
        if problem.rule not in rules:
            return False
        names = {problem.parent, problem.element}
        return not self.element or self.element in names or self.params.get("attr") in names


@dataclass(frozen=True)
class Case:
    path: Path
    expectations: tuple[Expectation, ...]

    @property
    def name(self) -> str:
        return str(self.path.relative_to(CASES))


_EXPECT = re.compile(rb"Expect:[ \t]*([^\r\n]*)")
_ITEM = re.compile(r"(!?)(\w+)(?:\{([^}]*)\})?")


def _cases() -> list[Case]:
    cases = []
    for path in sorted(CASES.rglob("*.xml")):
        match = _EXPECT.search(path.read_bytes())
        if match is None:
            continue
        expectations = tuple(
            Expectation(
                bang == "!",
                name,
                dict(pair.strip().split(":", 1) for pair in args.split(",") if ":" in pair),
            )
            for bang, name, args in _ITEM.findall(match.group(1).decode("utf-8", "replace"))
        )
        cases.append(Case(path, expectations))
    return cases


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    assert CASES.is_dir(), f"the Feed Validator test cases are missing: {CASES}"
    found = _cases()
    assert len(found) > 700
    return found


def _listing(problems: list[Problem]) -> str:
    return "; ".join(map(str, problems)) or "no problem found"


def test_checker_accepts_every_valid_atom_case(cases: list[Case]) -> None:
    """Every `Expect: !Error` case, feed and entry documents alike (65 in the 43dabeb
    snapshot), passes the checker with no problem at all."""
    valid = [case for case in cases if Expectation(True, "Error", {}) in case.expectations]
    assert len(valid) >= 60
    wrong = {case.name: atom_problems(case.path.read_bytes()) for case in valid}
    assert not {name: problems for name, problems in wrong.items() if problems}


def test_checker_is_silent_where_the_validator_finds_an_element_valid(cases: list[Case]) -> None:
    """The per-element expectations about our rules: `ValidTAG`/`ValidURN`/`ValidURI`,
    `ValidW3CDTFDate`, `ValidContact`, `ValidMIMEAttribute`, `ValidAtomLinkRel`, and `!Name`
    for a targeted Name (122 in 122 cases in the 43dabeb snapshot). These documents are
    often fragments that break other rules; only the named element must not be flagged by
    the matching rule."""
    checked, wrong = 0, []
    for case in cases:
        problems = None
        for expectation in case.expectations:
            if expectation.negated and expectation.name not in NOT_NEGATABLE:
                rules = TARGETED.get(expectation.name)
            else:
                rules = None if expectation.negated else VALID_ELEMENT.get(expectation.name)
            if not rules or not expectation.concerns_our_rules():
                continue
            checked += 1
            problems = atom_problems(case.path.read_bytes()) if problems is None else problems
            flagged = [p for p in problems if expectation.matched_by(p, rules)]
            if flagged:
                wrong.append(f"{case.name}: {expectation} but {_listing(flagged)}")
    assert checked >= 100
    assert not wrong, "\n".join(wrong)


def test_checker_rejects_invalid_cases_for_the_expected_reason(cases: list[Case]) -> None:
    """Every case expecting a targeted validator error (290 expectations in 290 cases in the
    43dabeb snapshot: dates 78, tag/urn/uuid ids 57, duplicate elements 42, missing elements
    17, MIME types 14, IRIs 18, alternate links 10, e-mail addresses 11, undefined Atom
    elements 8, namespaces 9, whitespace 8, xhtml divs 5, ...) is rejected: all 290 with at
    least one problem, 289 with a problem of the matching rule on the named element. The one
    left, must/feed_unknown_element_core_namespace.xml, binds the Atom namespace only to a
    prefix, so its unprefixed root is no Atom element: we reject the root itself."""
    targeted, not_for_reason, not_rejected = 0, [], []
    for case in cases:
        problems = atom_problems(case.path.read_bytes())
        for expectation in case.expectations:
            rules = TARGETED.get(expectation.name)
            if expectation.negated or not rules or not expectation.concerns_our_rules():
                continue
            targeted += 1
            if not problems:
                not_rejected.append(f"{case.name}: {expectation}")
            elif not any(expectation.matched_by(problem, rules) for problem in problems):
                not_for_reason.append(f"{case.name}: {expectation}: {_listing(problems)}")
    assert targeted >= 280
    assert not not_rejected, "\n".join(not_rejected)
    assert len(not_for_reason) <= 0.01 * targeted, "\n".join(not_for_reason)


def test_checker_catches_what_our_own_feeds_could_get_wrong() -> None:
    """A handful of targeted mistakes on an otherwise valid document, one at a time."""
    valid = (CASES / "1.1" / "brief-noerror.xml").read_text(encoding="utf-8")
    assert atom_problems(valid) == []
    entry_id = "<id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>"
    mistakes = {
        "date": ("<updated>2003-12-13T18:30:02Z</updated>", "<updated>2003-12-13 18:30Z</updated>"),
        "iri": (entry_id, "<id>tag:feeds.test,2026-02-30:syndicator/cluster/1</id>"),
        "duplicate-entry": ("</feed>", valid[valid.index("<entry>") : valid.index("</feed>")]),
        "alternate": (
            '<link href="http://example.org/2003/12/13/atom03"/>',
            '<link href="http://a.example/"/><link rel="alternate" href="http://b.example/"/>',
        ),
        "text-type": ("<summary>", '<summary type="text/plain">'),
        "summary": ("<summary>Some text.</summary>", '<content src="http://a.example/x"/>'),
        "content-or-alternate": ('<link href="http://example.org/2003/12/13/atom03"/>', ""),
    }
    for rule, (old, new) in mistakes.items():
        document = valid.replace(old, new + (old if rule == "duplicate-entry" else ""), 1)
        assert rule in {problem.rule for problem in atom_problems(document)}, rule


# ---------------------------------------------------------------------------------------------
# Every feed a real run publishes.

KZ_WIRE = {
    "title": "Protesters clash with police in Kazakhstan's largest city",
    "link": "https://steppe.example/news/almaty-unrest",
    "guid": "steppe-1",
    "description": "<p>ALMATY (Reuters) - Security forces fired on protesters in Almaty on "
    "Wednesday as unrest over fuel prices spread across <b>Kazakhstan</b>, and the government "
    "declared a state of emergency. Troops patrolled the streets after clashes left dozens "
    'dead, officials said. <a href="/news/background">Background</a></p>',
}
KZ_COPY = {
    "title": "Kazakhstan: protesters clash with police in Almaty",
    "link": "https://STEPPE.example/news/almaty-unrest?utm_source=rss#top",
    "guid": "copy-9",
    "description": "Security forces fired on protesters in Almaty.",
}
ODD = [
    {"title": "Fuel \x0b prices &amp; rents rise in Bishkek &lt;again&gt;", "guid": "odd-1",
     "link": "https://steppe.example/odd/1", "description": "Kyrgyzstan's prices."},
    {"title": "No guid, link only: Tajikistan floods", "link": "https://steppe.example/odd/2"},
    {"title": "Odd date in Turkmenistan", "guid": "odd-3", "link": "https://steppe.example/3",
     "date": "Tue, 31 Feb 2026 25:61:00 +0000"},
    {"title": "Spaces in a link from Tashkent, Uzbekistan", "guid": "odd-4",
     "link": "https://steppe.example/odd/a story?q=a b|c&amp;p=100%#top#x"},
]  # fmt: skip
REAL_FEEDS = (
    "rssparser_guardian.rss",  # 55 world-news items: many regions and topics
    "feeder_rss_theguardian.xml",  # ill-formed XML (bozo): what can be read still counts
    "feeder_rss_lemonde.xml",
    "netnewswire_livemint.xml",
    "rssparser_heise.atom",
    "nodefeedparser_tpm-with-fragment-base.atom",  # xml:base with a fragment
    "feedrs_atom_xml_base.xml",
    "rssparser_uolNoticias.rss",  # declared encoding overridden
)
SECTIONS = """
[[sections]]
slug = "central-asia"
title = "Central Asia & <friends>"
regions = ["KZ", "KG", "TJ", "TM", "UZ"]

[[sections]]
slug = "europe"
title = "Europe"
regions = ["Europe"]
max_entries = 5
"""


@dataclass(frozen=True)
class Published:
    output_dir: Path
    feeds: list[Path]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """One `run --once` over synthetic and real corpus feeds, served on loopback."""
    tmp = tmp_path_factory.mktemp("strict")
    server = FeedServer()
    server.start()
    try:
        server.routes["/steppe.rss"] = Route(rss([KZ_WIRE, *ODD], "Steppe Wire"))
        server.routes["/copy.rss"] = Route(rss([KZ_COPY], "Copy & Paste Daily"))
        for name in REAL_FEEDS:
            server.routes[f"/{name}"] = Route(
                (REAL / name).read_bytes(), content_type="application/xml"
            )
        sources = [server.url(path) for path in server.routes]
        config = write_config(tmp, sources, extra=SECTIONS)
        result = syndicator("--config", str(config), "run", "--once", cwd=tmp)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    finally:
        server.stop()
    output_dir = tmp / "feeds"
    return Published(output_dir, sorted(output_dir.rglob("*.atom")))


@pytest.mark.slow
def test_every_published_feed_passes_the_strict_checker(published: Published) -> None:
    relative = {str(path.relative_to(published.output_dir)) for path in published.feeds}
    assert {"feeds/all.atom", "feeds/central-asia.atom", "feeds/europe.atom"} <= relative
    assert "feeds/regions/kz.atom" in relative
    assert any(
        name.startswith("feeds/regions/") and name != "feeds/regions/kz.atom" for name in relative
    )
    assert any(name.startswith("feeds/topics/") for name in relative)
    failures = []
    entries = 0
    for path in published.feeds:
        try:
            entries += len(check_atom_strict(path))
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n\n".join(failures)
    assert entries >= 100


@pytest.mark.slow
def test_every_published_feed_parses_back_with_feedparser_without_bozo(
    published: Published,
) -> None:
    for path in published.feeds:
        data = path.read_bytes()
        parsed = feedparser.parse(data, response_headers={"content-type": "application/atom+xml"})
        assert not parsed.bozo, f"{path}: {parsed.get('bozo_exception')!r}"
        assert parsed.version == "atom10", path
        root = etree.fromstring(data)
        assert len(parsed.entries) == len(root.findall(f"{ATOM}entry")), path
        for entry in parsed.entries:
            assert entry.id.startswith("tag:feeds.test,"), entry.id
            assert entry.title
            assert entry.link


@pytest.mark.slow
def test_the_copy_and_the_odd_items_are_where_they_belong(published: Published) -> None:
    feed = feedparser.parse((published.output_dir / "feeds" / "central-asia.atom").read_bytes())
    titles = [entry.title for entry in feed.entries]
    # One cluster for the wire story and its copy, titled by whichever of the two sources the
    # cycle stored first (both are polled at once, so either may be first seen).
    (kz,) = [entry for entry in feed.entries if entry.title in (KZ_WIRE["title"], KZ_COPY["title"])]
    assert any(link.rel == "related" for link in kz.links)
    assert "Fuel prices & rents rise in Bishkek <again>" in titles


SPACED_LINK = "https://steppe.example/odd/a%20story?q=a%20b%7Cc&p=100%25#top%23x"


@pytest.mark.slow
def test_a_link_with_spaces_is_published_as_a_valid_iri(published: Published) -> None:
    """A feed linking to "a story?q=a b" (spaces, a "|", a bare %): the href must be an IRI
    (RFC 4287 4.2.7.1), the same link percent-encoded, in the Atom entry and the JSON item."""
    feeds = published.output_dir / "feeds"
    feed = feedparser.parse((feeds / "central-asia.atom").read_bytes())
    (entry,) = [entry for entry in feed.entries if entry.title.startswith("Spaces in a link")]
    assert entry.link == SPACED_LINK
    items = json.loads((feeds / "central-asia.json").read_text(encoding="utf-8"))["items"]
    (item,) = [item for item in items if item["title"].startswith("Spaces in a link")]
    assert item["url"] == SPACED_LINK
    assert item["_syndicator"]["sources"][0]["url"] == SPACED_LINK
