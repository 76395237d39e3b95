"""All alert rules compiled once, matched against one story at a time.

One job: given many parsed queries (`query.parse`), say which of them a story matches, as
exactly as `query.evaluate` would, but without evaluating every rule on every story.

How: every rule gets a set of *anchors*, conditions that any story it matches must meet
(a word, a prefix, a region, a topic, a language, a source word): a word, a prefix or a
field filter anchors on itself, a phrase on its rarest word, an OR on the union of its
children's anchors, an AND on the anchors of its most selective child, and a NOT on
nothing. A rule with no anchor (a pure NOT, an OR with a NOT in it) is evaluated on every
story. The anchors are indexed in dictionaries; a story is matched by intersecting its sets
(words, regions, topics, languages, source words) with the index's keys, collecting the
rules of the anchors it meets and evaluating only those, each compiled once into a closure
that checks its rarest terms first. A rule that is its anchors (a word, a prefix, a region,
a topic, a language, or an OR of them) needs no evaluation at all.

Selectivity comes from `frequencies` (the share of stories holding each word, e.g. from the
store) when given, else from word length (a longer word is rarer, as a rule of thumb).

Prefixes join the word index as the words that carry them are met: the first time the
matcher sees a word, it looks up the word's own prefixes of the lengths in use among the
stems and remembers the rules of those it finds with the word's own (a memo of a pure
function of the word, bounded by `MAX_REMEMBERED`), or that the word has none, as most words
do. A story then costs one set difference (its words less those known to have no rules) and
a lookup for each of the few words left: 8% less per story than an intersection with the
words that have rules plus a difference with the words seen (10,000 rules, one core, 48.5
against 44.4 us per match). Measured on 10,000 generated rules (563 prefixes) and real
stories, one core: finding a story's candidate rules took 34 us with the earlier memo and 48
us with an Aho-Corasick pass (pyahocorasick) over the story's words for the prefixes (that
pass alone: 24 us); the prefix step alone took 185 us with stems indexed by their first
three letters and checked by substring search. So no third-party code is needed
(`benchmarks/alerts.py` measures the whole matcher against the naive loop).

What it does not do: parse queries, read the store or deliver anything (`alerts` and
`notify` do). It keeps no state between stories but that memo, which never changes a result.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Final, TypeAlias

from syndicator.query import (
    And,
    Lang,
    MatchDoc,
    Not,
    Or,
    Phrase,
    Prefix,
    Query,
    Region,
    Source,
    Topic,
    Word,
)

Predicate: TypeAlias = Callable[[MatchDoc], bool]
# An anchor: (kind, key). Kinds: "word" (in the story's words), "prefix" (a word starting
# with key), "region", "topic", "lang", "source" (a word of one of its sources).
Anchor: TypeAlias = tuple[str, str]

# Share of stories assumed to meet a field filter when the frequencies do not say.
FIELD_SHARE: Final[dict[str, float]] = {
    "region": 0.05,
    "topic": 0.1,
    "lang": 0.5,
    "source": 0.05,
}
MAX_REMEMBERED: Final = 200_000  # words whose prefix anchors are memoised (some 20 MB)
UNSEEN_WORD_SHARE: Final = 1e-5  # a word the frequency table does not have is rare


@dataclass(frozen=True, slots=True)
class MatcherStats:
    """How the rules were indexed: how many are anchored, how many always evaluated."""

    rules: int
    anchored: int
    always: int
    anchors: int


class Selectivity:
    """The estimated share of stories a term or a tree matches (used only to rank).

    `frequencies` maps folded words to the share of stories holding them, and may map
    "region:KEY", "topic:SLUG", "lang:TAG" and "source:WORD" to the share of stories with
    that field value; what it lacks is estimated (`FIELD_SHARE`, `UNSEEN_WORD_SHARE`), and
    without it a word's share is guessed from its length."""

    def __init__(self, frequencies: Mapping[str, float] | None) -> None:
        self.frequencies = frequencies
        self._sorted: list[str] = []
        self._cumulative: list[float] = []

    def word(self, word: str) -> float:
        if self.frequencies is None:
            return 0.5 ** max(len(word) - 1, 1)
        return self.frequencies.get(word, UNSEEN_WORD_SHARE)

    def prefix(self, stem: str) -> float:
        """The summed share of the words starting with `stem` (at most 1)."""
        if self.frequencies is None:
            return min(1.0, 4 * self.word(stem))
        if not self._cumulative:
            self._sorted = sorted(word for word in self.frequencies if ":" not in word)
            self._cumulative = [0.0, *itertools.accumulate(map(self.word, self._sorted))]
        low = bisect.bisect_left(self._sorted, stem)
        high = bisect.bisect_left(self._sorted, stem + "\U0010ffff")
        return min(1.0, max(UNSEEN_WORD_SHARE, self._cumulative[high] - self._cumulative[low]))

    def field(self, kind: str, key: str) -> float:
        default = FIELD_SHARE[kind]
        return (
            default if self.frequencies is None else self.frequencies.get(f"{kind}:{key}", default)
        )

    def anchor(self, anchor: Anchor) -> float:
        kind, key = anchor
        if kind == "word":
            return self.word(key)
        if kind == "prefix":
            return self.prefix(key)
        return self.field(kind, key)

    def of(self, node: Query) -> float:
        """The share of stories the tree matches, assuming its terms independent."""
        match node:
            case Phrase(words):
                return min(map(self.word, words)) / 2
            case Source(words):
                return min(self.field("source", word) for word in words)
            case Not(child):
                return 1.0 - self.of(child)
            case And(children):
                return math.prod(self.of(child) for child in children)
            case Or(children):
                return 1.0 - math.prod(1.0 - self.of(child) for child in children)
        return self.anchor(term_anchor(node, self))


# -- anchors -----------------------------------------------------------------------------------


def anchors_of(node: Query, selectivity: Selectivity) -> frozenset[Anchor] | None:
    """Conditions at least one of which every story matching `node` meets; None if there is
    no such set (the node can match a story that meets none of them, as NOT can)."""
    match node:
        case Not():
            return None
        case And(children):
            options = [a for child in children if (a := anchors_of(child, selectivity))]
            if not options:
                return None
            return min(options, key=lambda anchors: _cost(anchors, selectivity))
        case Or(children):
            union: set[Anchor] = set()
            for child in children:
                anchors = anchors_of(child, selectivity)
                if anchors is None:
                    return None
                union |= anchors
            return frozenset(union)
    return frozenset({term_anchor(node, selectivity)})


def term_anchor(term: Query, selectivity: Selectivity) -> Anchor:
    """The one condition a term needs: a phrase or a source its rarest word."""
    match term:
        case Word(word):
            return ("word", word)
        case Phrase(words):
            return ("word", min(words, key=selectivity.word))
        case Prefix(stem):
            return ("prefix", stem)
        case Region(key):
            return ("region", key)
        case Topic(slug):
            return ("topic", slug)
        case Lang(tag):
            return ("lang", tag)
        case Source(words):
            return ("source", min(words, key=lambda word: selectivity.field("source", word)))
    raise TypeError(f"not a query term: {term!r}")


def is_exact(node: Query) -> bool:
    """Whether meeting any of the node's anchors is matching it: a word or a prefix anywhere,
    a region, topic or language, or an OR of those. Such rules need no evaluation."""
    match node:
        case Word(_, title) | Prefix(_, title):
            return not title
        case Region() | Topic() | Lang():
            return True
        case Or(children):
            return all(map(is_exact, children))
    return False


def _always_true(doc: MatchDoc) -> bool:
    return True


def _cost(anchors: frozenset[Anchor], selectivity: Selectivity) -> float:
    """Stories expected to meet one of the anchors, plus a little per anchor for the lookups."""
    return sum(selectivity.anchor(anchor) for anchor in anchors) + 1e-6 * len(anchors)


# -- predicates --------------------------------------------------------------------------------


def compile_predicate(node: Query, selectivity: Selectivity) -> Predicate:
    """`query.evaluate(node, doc)` as a closure: the words an AND needs checked as one subset
    test, then its other children, the least likely to hold first."""
    match node:
        case Word(word, title):
            if title:
                return lambda doc: word in doc.title_words
            return lambda doc: word in doc.words
        case Phrase(words, title):
            return _phrase_search(words, title)
        case Prefix(stem, title):
            return _text_search(f" {stem}", title)
        case Region(key):
            return lambda doc: key in doc.regions
        case Topic(slug):
            return lambda doc: slug in doc.topics
        case Lang(tag):
            return lambda doc: tag in doc.languages
        case Source(words):
            needle = f" {' '.join(words)} "
            return lambda doc: any(needle in text for text in doc.source_texts)
        case Not(child):
            inner = compile_predicate(child, selectivity)
            return lambda doc: not inner(doc)
        case And(children):
            return _all_of(children, selectivity)
        case Or(children):
            return _any_of(children, selectivity)
    raise TypeError(f"not a query node: {node!r}")


def _phrase_search(words: tuple[str, ...], title: bool) -> Predicate:
    """Every word present (a set test) before the substring search for them in a row."""
    needed, needle = frozenset(words), f" {' '.join(words)} "
    if title:
        return lambda doc: needed <= doc.title_words and needle in doc.title_text
    return lambda doc: needed <= doc.words and (needle in doc.title_text or needle in doc.body_text)


def _text_search(needle: str, title: bool) -> Predicate:
    if title:
        return lambda doc: needle in doc.title_text
    return lambda doc: needle in doc.title_text or needle in doc.body_text


def _plain_words(children: Iterable[Query]) -> tuple[frozenset[str], list[Query]]:
    words = frozenset(c.word for c in children if isinstance(c, Word) and not c.title)
    rest = [c for c in children if not (isinstance(c, Word) and not c.title)]
    return words, rest


def _all_of(children: Sequence[Query], selectivity: Selectivity) -> Predicate:
    needed, rest = _plain_words(children)
    rest.sort(key=selectivity.of)
    checks = [compile_predicate(child, selectivity) for child in rest]
    if not checks:
        return lambda doc: needed <= doc.words
    if not needed:
        if len(checks) == 2:
            first, second = checks
            return lambda doc: first(doc) and second(doc)
        return lambda doc: all(check(doc) for check in checks)
    if len(checks) == 1:
        (only,) = checks
        return lambda doc: needed <= doc.words and only(doc)
    return lambda doc: needed <= doc.words and all(check(doc) for check in checks)


def _any_of(children: Sequence[Query], selectivity: Selectivity) -> Predicate:
    wanted, rest = _plain_words(children)
    rest.sort(key=selectivity.of, reverse=True)
    checks = [compile_predicate(child, selectivity) for child in rest]
    if not checks:
        return lambda doc: not wanted.isdisjoint(doc.words)
    if not wanted:
        return lambda doc: any(check(doc) for check in checks)
    return lambda doc: not wanted.isdisjoint(doc.words) or any(check(doc) for check in checks)


# -- the matcher -------------------------------------------------------------------------------

_FIELD_KINDS: Final = ("region", "topic", "lang", "source")
# Where a story keeps the values each kind of field anchor is looked up in.
_DOC_VALUES: Final = {
    "region": "regions",
    "topic": "topics",
    "lang": "languages",
    "source": "source_words",
}


class Matcher:
    """Rules compiled once (`Matcher.compile`); `match(doc)` names the rules a story matches,
    in the order they were given, exactly as evaluating each rule would. `match` updates the
    prefix memo: share a Matcher between processes (each gets its copy), not threads."""

    __slots__ = (
        "_always",
        "_anchor_words",
        "_field_tables",
        "_fields",
        "_learned",
        "_names",
        "_plain",
        "_predicates",
        "_stem_lengths",
        "_stems",
        "stats",
    )

    def __init__(self, names: Sequence[str], predicates: Sequence[Predicate]) -> None:
        self._names = tuple(names)
        self._predicates = tuple(predicates)
        self._always: frozenset[int] = frozenset()
        # Word anchors -> rules. The memo of words seen so far: `_learned` those with rules
        # (their anchors' and those of the prefix anchors in `_stems` they start with),
        # `_plain` those without (most words), so one set difference leaves of a story's
        # words only the few to look up or learn.
        self._anchor_words: dict[str, tuple[int, ...]] = {}
        self._learned: dict[str, tuple[int, ...]] = {}
        self._plain: set[str] = set()
        self._stems: dict[str, tuple[int, ...]] = {}
        self._stem_lengths: tuple[int, ...] = ()  # shortest first
        self._fields: dict[str, dict[str, list[int]]] = {kind: {} for kind in _FIELD_KINDS}
        self._field_tables: tuple[
            tuple[Callable[[MatchDoc], frozenset[str]], frozenset[str], dict[str, list[int]]], ...
        ] = ()
        self.stats = MatcherStats(len(names), 0, 0, 0)

    @classmethod
    def compile(
        cls,
        rules: Sequence[tuple[str, Query]],
        *,
        frequencies: Mapping[str, float] | None = None,
    ) -> Matcher:
        """Index the rules by their anchors and compile each into a predicate, once.
        `frequencies`: the share of stories holding each folded word, if known."""
        selectivity = Selectivity(frequencies)
        matcher = cls(
            [name for name, _ in rules],
            [
                _always_true if is_exact(query) else compile_predicate(query, selectivity)
                for _, query in rules
            ],
        )
        always: list[int] = []
        by_anchor: dict[Anchor, list[int]] = {}
        for index, (_, query) in enumerate(rules):
            anchors = anchors_of(query, selectivity)
            if anchors is None:
                always.append(index)
                continue
            for anchor in anchors:
                by_anchor.setdefault(anchor, []).append(index)
        matcher._index(by_anchor, always)
        return matcher

    def _index(self, by_anchor: dict[Anchor, list[int]], always: list[int]) -> None:
        self._always = frozenset(always)
        for (kind, key), indexes in by_anchor.items():
            if kind == "word":
                self._anchor_words[key] = tuple(indexes)
            elif kind == "prefix":
                self._stems[key] = tuple(indexes)
            else:
                self._fields[kind][key] = indexes
        self._forget()
        self._field_tables = tuple(
            (attrgetter(_DOC_VALUES[kind]), frozenset(table), table)
            for kind, table in self._fields.items()
            if table
        )
        self._stem_lengths = tuple(sorted({len(stem) for stem in self._stems}))
        anchored = len(self._names) - len(always)
        self.stats = MatcherStats(len(self._names), anchored, len(always), len(by_anchor))

    def candidates(self, doc: MatchDoc) -> set[int]:
        """The rules (by index) that `doc` meets an anchor of, and those always evaluated."""
        found = set(self._always)
        if len(self._plain) + len(self._learned) > MAX_REMEMBERED:
            self._forget()
        learned = self._learned
        for word in doc.words - self._plain:  # words with rules, and words never seen
            rules = learned.get(word)
            found.update(self._learn(word) if rules is None else rules)
        for values_of, keys, values_table in self._field_tables:
            for value in values_of(doc) & keys:
                found.update(values_table[value])
        return found

    def _learn(self, word: str) -> tuple[int, ...]:
        """The rules of a word's anchor and of the prefix anchors it starts with, memoised (a
        pure function of the word)."""
        indexes = self._anchor_words.get(word, ())
        for length in self._stem_lengths:
            if length > len(word):
                break
            if (rules := self._stems.get(word[:length])) is not None:
                indexes += rules
        if indexes:
            self._learned[word] = indexes
        else:
            self._plain.add(word)
        return indexes

    def _forget(self) -> None:
        self._learned = {}
        self._plain = set()

    def match(self, doc: MatchDoc) -> list[str]:
        """The names of the rules the story matches, in rule order."""
        predicates = self._predicates
        names = self._names
        return [names[i] for i in sorted(self.candidates(doc)) if predicates[i](doc)]

    def __len__(self) -> int:
        return len(self._names)
