"""Topic tagging: the IPTC Media Topics taxonomy (top level) and the matcher that tags a story.

One job: given a story's title, text, feed categories and URL, say which of the configured
topics it is about, how strongly (a score in [0, 1]), which one(s) it is mainly about (`focus`)
and why (readable evidence). The taxonomy is data: `data/topics.toml` ships the 17 IPTC top
level subjects with weighted terms (English plus common Russian stems), feed-category hints
and URL-path hints; a user's configuration extends or overrides it with the same shape
(`parse_overrides` + `merge_rules`).

Matching is on whole words, case- and diacritics-insensitive. A term is a word ("war"), a
phrase ("fuel prices") or a prefix ("econom*", "войн*"). Phrases are matched first and take
their words away from single-word terms, so "trade war" counts for economy and not for
conflict. The rules are compiled once into dictionaries (`compile_taxonomy`); tagging a
story is one regex pass to split it into words and one dictionary lookup per word, whatever
the size of the taxonomy.

What it does not do: read files other than its own package data, detect the language, find
places (that is `regions`), or learn anything: the weights are the readable data file.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from syndicator.errors import ConfigError
from syndicator.models import Tag, TagKind
from syndicator.tagging.text import StoryText, split_words, story_text, text_language

# How much one piece of evidence weighs against a body term of weight 1 seen once. A title
# says what the story is about; a feed's own category or URL section is the editor's label.
TITLE_WEIGHT: Final = 1.5
CATEGORY_WEIGHT: Final = 4.0
PATH_WEIGHT: Final = 3.0
# A topic is reported when its evidence reaches MIN_EVIDENCE and MIN_SHARE of the best
# topic's: a single weak word in a long story about something else is noise, not a topic.
MIN_EVIDENCE: Final = 1.0
MIN_SHARE: Final = 0.12
# A topic is a focus (the story is about it) when it has FOCUS_SHARE of the best evidence and
# at least FOCUS_EVIDENCE (about two good words, or one in the title).
FOCUS_SHARE: Final = 0.5
FOCUS_EVIDENCE: Final = 2.0
# Evidence e maps to confidence e / (e + SATURATION): 4 -> 0.5, 12 -> 0.75, 36 -> 0.9.
SATURATION: Final = 4.0
# Shortest prefix a "prefix*" term may have: "an*" would match half the dictionary.
MIN_PREFIX: Final = 3
MAX_TERMS_SHOWN: Final = 6

_WORD = re.compile(r"\w+")
_TERM_WORD = re.compile(r"\w+\*?")
# "pl:" before a term: it counts only in text that reads as that language (`text_language`).
_LANGUAGE_PREFIX = re.compile(r"\s*(?P<code>[A-Za-z]{2}):")
TERM_LANGUAGES: Final = frozenset(
    ("fr", "de", "es", "pt", "it", "nl", "pl", "tr", "sv", "sk", "cs")
)
_BAD_STAR = re.compile(r"(?<!\w)\*|\*\w")
_MARKS = re.compile(r"[\u0300-\u036f]")
# Letters NFKD leaves alone but a reader sees as a plain letter with a mark.
_SPECIAL = str.maketrans({"ß": "ss", "ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "ı": "i"})
_RULE_KEYS: Final = frozenset(
    {"slug", "label", "iptc", "terms", "capitalised", "categories", "paths", "replace"}
)


def fold(text: str) -> str:
    """Lower case without diacritics ("Café" -> "cafe"); ASCII text only pays for lower()."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    # NFKD splits "é" into "e" + a combining accent, which the regex then drops. The Russian
    # "й" is a letter of its own, not "и" with a mark, so it is put back together; "ё" does
    # fold to "е", as Russian writers themselves usually write it.
    decomposed = unicodedata.normalize("NFKD", lowered).replace("и\u0306", "й")
    return _MARKS.sub("", decomposed).translate(_SPECIAL)


# ---------------------------------------------------------------------------------------------
# Rules: the readable form, as in topics.toml and the user's configuration.


@dataclass(frozen=True, slots=True)
class TopicRule:
    """One topic as written in data: its slug, label, IPTC code, weighted terms and hints.

    `terms` maps a term ("war", "fuel prices", "econom*") to its weight; `categories` are feed
    category names and `paths` URL path segments that count as evidence for the topic.
    `capitalised` names single-word terms that count only where the text writes them with a
    capital: a team's nickname ("the Bears", "Arsenal") is sport, the common word ("bears",
    "a nuclear arsenal") is not.
    """

    slug: str
    label: str
    iptc: str = ""
    terms: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    categories: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    capitalised: frozenset[str] = frozenset()


@cache
def builtin_rules() -> tuple[TopicRule, ...]:
    """The taxonomy shipped in `data/topics.toml`, parsed and checked (once per process)."""
    source = resources.files("syndicator.tagging").joinpath("data/topics.toml")
    where = "syndicator/tagging/data/topics.toml"
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(where, [f"not valid TOML: {e}"]) from e
    return merge_rules((), parse_rules(data, where), where=where)


def parse_rules(data: Mapping[str, Any], where: str) -> tuple[TopicRule, ...]:
    """The `[[topics]]` of TOML-shaped `data` as rules; ConfigError lists every bad field.

    A rule's label may be left out here (an override of a built-in topic keeps its label);
    `merge_rules` insists on one for a new topic. Terms are normalised (folded, one space
    between words), so "Fuel  Prices" and "fuel prices" are the same term.
    """
    rules, _ = parse_overrides(data, where)
    return rules


def parse_overrides(
    data: Mapping[str, Any], where: str
) -> tuple[tuple[TopicRule, ...], frozenset[str]]:
    """Like `parse_rules`, plus the slugs whose rule says `replace = true`."""
    problems: list[str] = []
    rules: list[TopicRule] = []
    replace: set[str] = set()
    entries = data.get("topics", [])
    if not isinstance(entries, list):
        raise ConfigError(where, ["topics: expected an array of tables ([[topics]])"])
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        key = f"topics[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{key}: expected a table, got {type(entry).__name__}")
            continue
        rule, replaces = _parse_rule(entry, key, problems)
        if rule is None:
            continue
        if rule.slug in seen:
            problems.append(f"{key}.slug: topic {rule.slug!r} is defined twice")
            continue
        seen.add(rule.slug)
        rules.append(rule)
        if replaces:
            replace.add(rule.slug)
    if problems:
        raise ConfigError(where, problems)
    return tuple(rules), frozenset(replace)


def _parse_rule(
    entry: Mapping[str, Any], key: str, problems: list[str]
) -> tuple[TopicRule | None, bool]:
    before = len(problems)
    for name in sorted(set(entry) - _RULE_KEYS):
        problems.append(f"{key}.{name}: unknown key (expected one of {sorted(_RULE_KEYS)})")
    slug = entry.get("slug")
    if not isinstance(slug, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        problems.append(f"{key}.slug: expected lower-case letters, digits and '-', got {slug!r}")
        slug = ""
    label = _parse_str(entry, "label", key, problems)
    iptc = _parse_str(entry, "iptc", key, problems)
    replace = entry.get("replace", False)
    if not isinstance(replace, bool):
        problems.append(f"{key}.replace: expected true or false, got {replace!r}")
    terms = _parse_terms(entry.get("terms", {}), f"{key}.terms", problems)
    capitalised = _parse_capitalised(entry.get("capitalised", []), f"{key}.capitalised", problems)
    categories = _parse_hints(entry.get("categories", []), f"{key}.categories", problems)
    paths = _parse_hints(entry.get("paths", []), f"{key}.paths", problems)
    if len(problems) > before:
        return None, False
    rule = TopicRule(slug, label, iptc, MappingProxyType(terms), categories, paths, capitalised)
    return rule, replace is True


def _parse_str(entry: Mapping[str, Any], name: str, key: str, problems: list[str]) -> str:
    value = entry.get(name, "")
    if not isinstance(value, str):
        problems.append(f"{key}.{name}: expected a string, got {value!r}")
        return ""
    return value.strip()


def _parse_terms(value: object, key: str, problems: list[str]) -> dict[str, float]:
    if not isinstance(value, Mapping):
        problems.append(f'{key}: expected a table of "term" = weight, got {value!r}')
        return {}
    terms: dict[str, float] = {}
    for raw, weight in value.items():
        where = f"{key}.{raw!r}" if isinstance(raw, str) else key
        # bool is an int in Python; `"war" = true` is a mistake, not a weight of 1.
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            problems.append(f"{where}: weight must be a number, got {weight!r}")
            continue
        if not math.isfinite(weight) or not 0 <= weight <= 100:
            problems.append(f"{where}: weight must be between 0 and 100, got {weight!r}")
            continue
        term, problem = normalise_term(str(raw))
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        terms[term] = float(weight)
    return terms


def normalise_term(raw: str) -> tuple[str, str]:
    """A term as the matcher sees it ("Fuel-Prices" -> "fuel prices"), or ("", why not). A
    language prefix stays on it ("pl:Wojna" -> "pl:wojna"): see `split_language`."""
    language = ""
    if (found := _LANGUAGE_PREFIX.match(raw)) is not None:
        language, raw = found["code"].lower(), raw[found.end() :]
        if language not in TERM_LANGUAGES:
            known = ", ".join(sorted(TERM_LANGUAGES))
            return "", f"unknown language {language!r} (one of {known})"
    words = _TERM_WORD.findall(fold(raw))
    if not words:
        return "", "a term needs at least one letter or digit"
    if _BAD_STAR.search(raw):
        return "", "'*' may only end a word (a prefix such as \"econom*\")"
    for word in words:
        if word.endswith("*") and len(word) - 1 < MIN_PREFIX:
            return "", f"a prefix needs at least {MIN_PREFIX} letters before '*'"
    return f"{language}:" * bool(language) + " ".join(words), ""


def split_language(term: str) -> tuple[str, str]:
    """("pl", "wojn*") for a normalised "pl:wojn*"; ("", "war") for "war", a term read in text
    that reads as English, Russian or Ukrainian (any text `text_language` cannot place)."""
    language, _, bare = term.rpartition(":")
    return language, bare


def _parse_capitalised(value: object, key: str, problems: list[str]) -> frozenset[str]:
    """Single-word terms (as normalised) that count only when capitalised in the text."""
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        problems.append(f"{key}: expected an array of words, got {value!r}")
        return frozenset()
    words: set[str] = set()
    for raw in value:
        term, problem = normalise_term(raw)
        if problem or " " in term or ":" in term or "*" in term:
            why = problem or "one word, without a language prefix or '*'"
            problems.append(f"{key}: {raw!r}: {why}")
            continue
        words.add(term)
    return frozenset(words)


def _parse_hints(value: object, key: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        problems.append(f"{key}: expected an array of strings, got {value!r}")
        return ()
    hints = (" ".join(_WORD.findall(fold(item))) for item in value)
    return tuple(dict.fromkeys(hint for hint in hints if hint))


def merge_rules(
    base: Sequence[TopicRule],
    overrides: Sequence[TopicRule],
    replace_slugs: frozenset[str] = frozenset(),
    *,
    where: str = "topics",
) -> tuple[TopicRule, ...]:
    """The base rules with the overrides applied, as a config's `[[topics]]` does.

    Same slug: terms are added or reweighted, weight 0 removes a term, categories and paths
    are added, a non-empty label or IPTC code replaces the old one; a slug in `replace_slugs`
    keeps only the override's terms and hints. A new slug adds a topic, which needs a label.
    Weight 0 terms never reach the result. Order: base topics first, then new ones.
    """
    merged: dict[str, TopicRule] = {}
    problems: list[str] = []
    for rule in base:
        merged[rule.slug] = _without_zero_terms(rule)
    for rule in overrides:
        old = merged.get(rule.slug)
        if old is None:
            if not rule.label:
                problems.append(f"topics.{rule.slug}.label: a new topic needs a label")
                continue
            merged[rule.slug] = _without_zero_terms(rule)
        elif rule.slug in replace_slugs:
            merged[rule.slug] = _without_zero_terms(
                TopicRule(
                    rule.slug,
                    rule.label or old.label,
                    rule.iptc or old.iptc,
                    rule.terms,
                    rule.categories,
                    rule.paths,
                    rule.capitalised,
                )
            )
        else:
            terms = {**old.terms, **rule.terms}
            merged[rule.slug] = _without_zero_terms(
                TopicRule(
                    rule.slug,
                    rule.label or old.label,
                    rule.iptc or old.iptc,
                    terms,
                    tuple(dict.fromkeys((*old.categories, *rule.categories))),
                    tuple(dict.fromkeys((*old.paths, *rule.paths))),
                    old.capitalised | rule.capitalised,
                )
            )
    if problems:
        raise ConfigError(where, problems)
    return tuple(merged.values())


def _without_zero_terms(rule: TopicRule) -> TopicRule:
    terms = {term: weight for term, weight in rule.terms.items() if weight > 0}
    return TopicRule(
        rule.slug,
        rule.label,
        rule.iptc,
        MappingProxyType(terms),
        rule.categories,
        rule.paths,
        rule.capitalised,
    )


# ---------------------------------------------------------------------------------------------
# The compiled taxonomy: dictionaries keyed by word.

# (topic index, weight, language) of what one matched term gives: the language its text must
# read as ("" for English, Russian, Ukrainian and any text `text_language` cannot place).
_Hits = tuple[tuple[int, float, str], ...]
# (topic index, weight, term, language) of a word or phrase of text.
_TermHits = tuple[tuple[int, float, str, str], ...]


@dataclass(frozen=True, slots=True, eq=False)
class _Phrase:
    term: str
    rest: tuple[str, ...]  # the words after the first; a word ending in '*' is a prefix
    hits: _TermHits


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: entries are counted per story
class _WordEntry:
    """What one word of a text can start: single-word terms and phrases."""

    word: str  # the folded word, as phrases compare it
    terms: tuple[str, ...]
    phrases: tuple[_Phrase, ...] = ()  # longest first
    hits: _TermHits = ()  # of `terms`
    # A cheap pre-check before trying the phrases: the exact words that may follow, and
    # whether some phrase's second word is a prefix (then every next word must be tried).
    seconds: frozenset[str] = frozenset()
    open_second: bool = False


# The per-word memo is dropped when it grows past this: news vocabulary is Zipfian, so a few
# hundred thousand words cover almost every lookup, and memory stays bounded in a daemon.
_MEMO_LIMIT: Final = 50_000  # tokens remembered (about 12 MB), then forgotten at once
_MISSING: Final = _WordEntry("", ())


class Taxonomy:
    """Topic rules compiled for matching: built once, then shared by every tagging call.

    Holds dictionaries from a word to the terms it matches (exact words, prefixes, phrase
    starts) and a memo from each word of text seen so far to its entry (None for the many
    words that match nothing), so tagging costs one lookup per word of text. The memo is the
    only mutable part; a lost race between threads only recomputes an entry.
    """

    __slots__ = (
        "_by_word",
        "_capital_only",
        "_capital_words",
        "_category_first",
        "_exact",
        "_folded",
        "_known",
        "_matching",
        "_memo",
        "_path_hints",
        "_phrase_first",
        "_prefix_lengths",
        "_prefixes",
        "_stems",
        "hits",
        "languages",
        "rules",
        "slugs",
    )

    def __init__(self, rules: Sequence[TopicRule]) -> None:
        self.rules: tuple[TopicRule, ...] = tuple(rules)
        self.slugs: tuple[str, ...] = tuple(rule.slug for rule in self.rules)
        hits: dict[str, dict[tuple[int, str], float]] = {}
        # (term, topic index) of the terms a topic counts only when written with a capital.
        self._capital_only: frozenset[tuple[str, int]] = frozenset(
            (word, index) for index, rule in enumerate(self.rules) for word in rule.capitalised
        )
        # Their words: the only words whose capital makes a difference to a token's entry.
        self._capital_words = frozenset(word for word, _ in self._capital_only)
        category_first: dict[str, list[tuple[tuple[str, ...], int, str]]] = {}
        path_hints: dict[str, list[int]] = {}
        for index, rule in enumerate(self.rules):
            for raw, weight in rule.terms.items():
                # Rules built in code may hold unfolded terms; a term that is no term is
                # skipped here (parse_rules reports it when it comes from a file).
                term, problem = normalise_term(raw)
                if weight > 0 and not problem:
                    language, bare = split_language(term)
                    hits.setdefault(bare, {})[(index, language)] = weight
            for hint in rule.categories:
                words = tuple(hint.split())
                category_first.setdefault(words[0], []).append((words, index, hint))
            for segment in rule.paths:
                path_hints.setdefault(segment.replace(" ", "-"), []).append(index)
        self.hits: dict[str, _Hits] = {
            term: tuple((index, weight, language) for (index, language), weight in found.items())
            for term, found in hits.items()
        }
        self.languages = frozenset(language for found in hits.values() for _, language in found)
        self._exact: set[str] = set()
        self._prefixes: set[str] = set()
        phrase_first: dict[str, list[_Phrase]] = {}
        for term in self.hits:
            parts = term.split(" ")
            if len(parts) > 1:
                phrase = _Phrase(term, tuple(parts[1:]), self._term_hits([term]))
                phrase_first.setdefault(parts[0], []).append(phrase)
            elif term.endswith("*"):
                self._prefixes.add(term[:-1])
            else:
                self._exact.add(term)
        self._phrase_first = {
            first: tuple(sorted(found, key=lambda p: -len(p.rest)))
            for first, found in phrase_first.items()
        }
        self._prefix_lengths = sorted(
            {len(word) - 1 for word in self._phrase_first if word.endswith("*")}
            | {len(prefix) for prefix in self._prefixes}
        )
        self._stems = self._prefixes | {
            word[:-1] for word in self._phrase_first if word.endswith("*")
        }
        self._category_first = {k: tuple(v) for k, v in category_first.items()}
        self._path_hints = {k: tuple(v) for k, v in path_hints.items()}
        self._memo: dict[str, _WordEntry | None] = {}
        self._matching: set[str] = set()  # the memo's words that match something
        self._known: set[str] = set()  # the memo's words
        self._folded: dict[str, str] = {}  # token -> its first folded word, for phrases
        # Tokens that fold to the same word ("war", "“war", "WAR") share one entry, so a story
        # counts them together.
        self._by_word: dict[str, _WordEntry | None] = {}

    def _term_hits(self, terms: Iterable[str]) -> _TermHits:
        return tuple(
            (index, weight, term, language)
            for term in terms
            for index, weight, language in self.hits[term]
        )

    def entry(self, token: str) -> _WordEntry | None:
        """The terms and phrases a token of text starts, or None (memoised)."""
        found = self._memo.get(token, _MISSING)
        if found is _MISSING:
            return self._learn(token)
        return found

    def _learn(self, token: str) -> _WordEntry | None:
        if len(self._memo) >= _MEMO_LIMIT:
            self._forget()
        return self._remember(token)

    def _learn_text(self, tokens: Collection[str]) -> None:
        """Learn the new ones of one text's distinct tokens. When they would overflow the
        memo, forget first and learn them all: forgetting halfway through, or keeping only
        the new ones, would drop words of this text from its tally (its topics would then
        depend on the stories tagged before it)."""
        memo = self._memo
        unknown = [token for token in tokens if token not in memo]
        if len(memo) + len(unknown) > _MEMO_LIMIT:
            self._forget()
            unknown = list(tokens)
        for token in unknown:
            self._remember(token)

    def _forget(self) -> None:
        self._memo.clear()
        self._by_word.clear()
        self._matching.clear()
        self._known.clear()

    def _remember(self, token: str) -> _WordEntry | None:
        found = self._resolve(token)
        self._memo[token] = found
        self._known.add(token)
        if found is not None:
            self._matching.add(token)
        return found

    def _resolve(self, token: str) -> _WordEntry | None:
        # Tokens are split on whitespace only, so punctuation stays attached ("war,", "U.S.",
        # "kazakhstan’s"); such a token counts as its words, and a phrase compares its first.
        parts = _parts(token)
        if not parts:
            return None
        # A capital matters for the first word only: "Bears'" is a team, "U.S.-Bears" is not.
        capital = bool(self._capital_words) and _is_capitalised(token)
        if len(parts) == 1:
            key = parts[0].upper() if capital and parts[0] in self._capital_words else parts[0]
            shared = self._by_word.get(key, _MISSING)
            if shared is _MISSING:
                shared = self._by_word[key] = self._entry_of(parts, capital)
            return shared
        return self._entry_of(parts, capital)

    def _entry_of(self, parts: list[str], capital: bool = False) -> _WordEntry | None:
        terms: list[str] = []
        hits: list[tuple[int, float, str, str]] = []
        phrases: list[_Phrase] = []
        for n, part in enumerate(parts):
            part_terms, part_phrases = self._lookup(part)
            part_hits = self._most_specific(part_terms, capital=capital and n == 0)
            hits.extend(part_hits)
            terms.extend(dict.fromkeys(term for _, _, term, _ in part_hits))
            if n == 0:
                phrases.extend(part_phrases)
        if not terms and not phrases:
            return None
        phrases.sort(key=lambda p: -len(p.rest))
        return _WordEntry(
            parts[0],
            tuple(terms),
            tuple(phrases),
            tuple(hits),
            frozenset(p.rest[0] for p in phrases),
            any(p.rest[0].endswith("*") for p in phrases),
        )

    def _lookup(self, word: str) -> tuple[list[str], list[_Phrase]]:
        terms: list[str] = []
        phrases: list[_Phrase] = list(self._phrase_first.get(word, ()))
        if word in self._exact:
            terms.append(word)
        stems = self._stems  # prefixes of prefix terms and of phrases starting with a prefix
        for length in self._prefix_lengths:
            if length > len(word):
                break
            stem = word[:length]
            if stem not in stems:
                continue
            if stem in self._prefixes:
                terms.append(stem + "*")
            phrases.extend(self._phrase_first.get(stem + "*", ()))
        return terms, phrases

    def _most_specific(self, terms: list[str], *, capital: bool = False) -> _TermHits:
        """What the terms one word matches give, a topic (in a language) once: "fossils"
        matches "fossil*" and "fossils" in science, and only the most specific term (the
        exact word, else the longest prefix) counts. A topic's `capitalised` terms count
        only for a `capital` word."""
        if len(terms) > 1:
            terms = sorted(terms, key=lambda term: (term.endswith("*"), -len(term)))
        covered: set[tuple[int, str]] = set()
        hits: list[tuple[int, float, str, str]] = []
        capital_only = self._capital_only
        for term in terms:
            for index, weight, language in self.hits[term]:
                if not capital and (term, index) in capital_only:
                    continue
                if (index, language) not in covered:
                    covered.add((index, language))
                    hits.append((index, weight, term, language))
        return tuple(hits)

    def folded(self, token: str) -> str:
        """A token as phrases compare it: folded, attached punctuation dropped (memoised)."""
        word = self._folded.get(token)
        if word is None:
            if len(self._folded) >= _MEMO_LIMIT:
                self._folded.clear()
            parts = _parts(token)
            word = self._folded[token] = parts[0] if parts else ""
        return word

    def category_topics(self, category: str) -> set[int]:
        """Indexes of the topics whose category hints occur (as whole words) in `category`."""
        words = _WORD.findall(fold(category))
        found: set[int] = set()
        for i, word in enumerate(words):
            for hint, index, _ in self._category_first.get(word, ()):
                if tuple(words[i : i + len(hint)]) == hint:
                    found.add(index)
        return found

    def path_topics(self, url: str) -> list[tuple[int, str]]:
        """(topic index, segment) for each URL path segment that is a topic's path hint."""
        try:
            path = urlsplit(url).path
        except ValueError:
            return []
        found: list[tuple[int, str]] = []
        for segment in path.split("/"):
            if segment:
                for index in self._path_hints.get(fold(segment), ()):
                    found.append((index, segment))
        return found


def compile_taxonomy(rules: Sequence[TopicRule]) -> Taxonomy:
    """Rules compiled into a `Taxonomy` (do it once per configuration, not per story)."""
    return Taxonomy(rules)


@cache
def default_taxonomy() -> Taxonomy:
    """The built-in taxonomy, compiled once per process."""
    return compile_taxonomy(builtin_rules())


def configured_taxonomy(data: Mapping[str, Any], where: str) -> Taxonomy:
    """The built-in taxonomy with a configuration's `[[topics]]` applied, compiled."""
    overrides, replace = parse_overrides(data, where)
    return compile_taxonomy(merge_rules(builtin_rules(), overrides, replace, where=where))


def topic_slugs(taxonomy: Taxonomy | None = None) -> tuple[str, ...]:
    """Every topic slug, in taxonomy order."""
    return (taxonomy or default_taxonomy()).slugs


def topic_label(slug: str, taxonomy: Taxonomy | None = None) -> str:
    """A topic's readable label ("conflict" -> "Conflict, war and peace"); the slug if unknown."""
    for rule in (taxonomy or default_taxonomy()).rules:
        if rule.slug == slug:
            return rule.label
    return slug


# ---------------------------------------------------------------------------------------------
# Tagging.


# Every ASCII character that is not a letter or digit becomes a space.
_ASCII_SEPARATORS: Final = {code: " " for code in range(128) if not chr(code).isalnum()}


def _is_capitalised(token: str) -> bool:
    """Whether the token's first letter or digit is a capital ("Bears", "'Arsenal")."""
    for char in token:
        if char.isalnum():
            return char.isupper()
    return False


def _parts(token: str) -> list[str]:
    """The folded words of one whitespace token ("U.S.-led" -> ["u", "s", "led"]). A negated
    contraction is one word ("won't" -> ["wont"]): split, "won't" was sport's "won"."""
    token = token.lower()
    if "n't" in token or "n’t" in token:
        token = token.replace("n't", "nt").replace("n’t", "nt")
    if token.isascii():
        return token.translate(_ASCII_SEPARATORS).split()
    return _WORD.findall(fold(token))


def _tally(taxonomy: Taxonomy, text: str, language: str = "") -> dict[_WordEntry | _Phrase, int]:
    """How often each matching word entry or phrase occurs in `text`."""
    words = split_words(text)
    return _tally_words(taxonomy, words, Counter(words), language)


def _tally_words(
    taxonomy: Taxonomy, words: list[str], counts: Counter[str], language: str
) -> dict[_WordEntry | _Phrase, int]:
    """How often each matching word entry or phrase occurs among `words` (whitespace tokens,
    `counts` their counts).

    Speed: set operations (C speed) find the few distinct words that match anything; only
    those are looked at in Python, and only phrase starts need their positions. A Python loop
    over every word of a kilobyte story costs more than all the rest of the tagger.
    """
    memo = taxonomy._memo
    if not counts.keys() <= taxonomy._known:  # C speed, no copy; usually every word is known
        taxonomy._learn_text(counts.keys())
    present = taxonomy._matching.intersection(counts)
    tally: dict[_WordEntry | _Phrase, int] = {}
    if not present:
        return tally
    consumed = _phrases_in(taxonomy, words, present, tally, language=language)
    for word in present:
        found = memo[word]
        if found is not None and found.hits:
            count = counts[word] - consumed.get(word, 0)
            if count > 0:
                tally[found] = tally.get(found, 0) + count
    return tally


def _phrases_in(
    taxonomy: Taxonomy,
    words: list[str],
    present: set[str],
    tally: dict[_WordEntry | _Phrase, int],
    *,
    language: str,
) -> dict[str, int]:
    """Count the phrases of `words` into `tally`, left to right, a phrase taking its words;
    returns how many occurrences of each word the phrases took. Only phrases of the text's
    `language` are read: a German "super bowl" must not take the words of English text."""
    memo = taxonomy._memo
    starts = {word for word in present if (entry := memo[word]) is not None and entry.phrases}
    consumed: dict[str, int] = {}
    if not starts:
        return consumed
    skip_to = 0
    # One pass over the words: a story has a dozen start words ("year", "world", "first"),
    # and a list.index scan per occurrence cost 18 us a BBC story against 7 for this.
    positions = [i for i, word in enumerate(words) if word in starts]
    for i in positions:
        found = memo[words[i]]
        if i < skip_to or found is None or i + 1 >= len(words):
            continue
        if found.open_second or taxonomy.folded(words[i + 1]) in found.seconds:
            phrase = _match_phrase(taxonomy, found.phrases, words, i, language)
            if phrase is not None:
                tally[phrase] = tally.get(phrase, 0) + 1
                skip_to = i + 1 + len(phrase.rest)
                for word in words[i:skip_to]:
                    consumed[word] = consumed.get(word, 0) + 1
    return consumed


def _match_phrase(
    taxonomy: Taxonomy, phrases: Iterable[_Phrase], words: list[str], i: int, language: str
) -> _Phrase | None:
    for phrase in phrases:
        if not any(hit[3] == language for hit in phrase.hits):
            continue
        rest = phrase.rest
        if i + len(rest) >= len(words):
            continue
        for offset, want in enumerate(rest, start=i + 1):
            got = taxonomy.folded(words[offset])
            if got != want and not (want[-1] == "*" and got.startswith(want[:-1])):
                break
        else:
            return phrase
    return None


# sqrt(count) for the counts a story usually has.
_ROOTS: Final = tuple(math.sqrt(n) for n in range(64))


def tag_topics(
    taxonomy: Taxonomy,
    title: str,
    text: str,
    *,
    categories: Sequence[str] = (),
    url: str = "",
) -> tuple[Tag, ...]:
    """The topics of a story, strongest first, each with score, focus and evidence.

    Evidence: a term in the title weighs TITLE_WEIGHT times its weight (once, however often it
    is repeated there); a term in the body weighs its weight times the square root of its
    count (repetition says more, but less and less); a feed category or URL path segment that
    names the topic weighs CATEGORY_WEIGHT or PATH_WEIGHT. Returns () when nothing matches.
    """
    return topics_of(taxonomy, story_text(title, text), categories=categories, url=url)


def topics_of(
    taxonomy: Taxonomy, story: StoryText, *, categories: Sequence[str] = (), url: str = ""
) -> tuple[Tag, ...]:
    """`tag_topics` for a story already split into words (shared with the region tagger)."""
    totals = [0.0] * len(taxonomy.slugs)
    # (topic index, weight gained, term, count in the body; 0 for the title), for the reasons
    evidence: list[tuple[int, float, str, int]] = []
    add = evidence.append
    # Terms count in text of their language: unmarked ones (English, Russian, Ukrainian) in
    # text that reads as English or cannot be placed, "pl:" ones in Polish text. Text of a
    # language with no terms has only the editor's section (categories, URL path) to tell.
    language = text_language(story)
    read = language in taxonomy.languages
    if story.title_words and read:
        title_words = story.title_words
        if story.headline_cased and taxonomy._capital_words:
            # Every word has a capital here, so none can say "the team, not the animal".
            title_words = [word.lower() for word in title_words]
        for item in _tally_words(taxonomy, title_words, Counter(title_words), language):
            for index, weight, term, wanted in item.hits:
                if wanted != language:
                    continue
                gain = TITLE_WEIGHT * weight
                totals[index] += gain
                add((index, gain, term, 0))
    if story.body_words and read:
        roots = _ROOTS
        tally = _tally_words(taxonomy, story.body_words, story.body_counts, language)
        for item, count in tally.items():
            root = roots[count] if count < 64 else math.sqrt(count)
            for index, weight, term, wanted in item.hits:
                if wanted != language:
                    continue
                gain = weight * root
                totals[index] += gain
                add((index, gain, term, count))
    hints: dict[int, list[tuple[float, str]]] = {}
    if categories or url:
        _add_hints(taxonomy, categories, url, totals, hints)
    # The words are summed in set order, which differs between processes (string hashing);
    # rounded, the same story gets the same totals everywhere, so a topic at exactly half the
    # best (FOCUS_SHARE) is a focus in every process, not in some.
    totals = [round(total, 9) if total else 0.0 for total in totals]  # round() costs 0.2 us
    best = max(totals)
    if best < MIN_EVIDENCE:
        return ()
    cut = max(MIN_EVIDENCE, MIN_SHARE * best)
    chosen = sorted([(-total, index) for index, total in enumerate(totals) if total >= cut])
    tags: list[Tag] = []
    for negative, index in chosen:
        total = -negative
        share = total / best
        # Confidence grows with the evidence and saturates; a runner-up is scaled down by how
        # far it trails the winner, so a passing mention scores low beside a clear subject.
        score = total / (total + SATURATION) * math.sqrt(share)
        focus = share >= FOCUS_SHARE and total >= FOCUS_EVIDENCE
        mine = [item for item in evidence if item[0] == index]
        reasons = _reasons(mine, hints.get(index))
        tags.append(Tag(TagKind.TOPIC, taxonomy.slugs[index], round(score, 3), focus, reasons))
    return tuple(tags)


def _add_hints(
    taxonomy: Taxonomy,
    categories: Sequence[str],
    url: str,
    totals: list[float],
    hints: dict[int, list[tuple[float, str]]],
) -> None:
    """Feed categories and URL path segments as evidence, each counted once per topic."""
    for category in categories:
        for index in taxonomy.category_topics(category):
            if index not in hints:  # one category is enough: the next says the same
                hints[index] = [(CATEGORY_WEIGHT, f"feed category {category.strip()!r}")]
                totals[index] += CATEGORY_WEIGHT
    if url:
        for index, segment in taxonomy.path_topics(url):
            found = hints.setdefault(index, [])
            if not any(reason.startswith("URL path") for _, reason in found):
                found.append((PATH_WEIGHT, f"URL path /{segment}/"))
                totals[index] += PATH_WEIGHT


def _reasons(
    evidence: list[tuple[int, float, str, int]], hints: list[tuple[float, str]] | None
) -> tuple[str, ...]:
    """Readable evidence of one topic, strongest group first, strongest term first."""
    reasons = hints[:] if hints else []
    title = sorted([(-gain, term) for _, gain, term, count in evidence if not count])
    if title:
        shown = ", ".join([f'"{term}"' for _, term in title[:MAX_TERMS_SHOWN]])
        reasons.append((-sum([gain for gain, _ in title]), f"title: {shown}"))
    body = sorted([(-gain, term, count) for _, gain, term, count in evidence if count])
    if body:
        shown = ", ".join(
            [
                f'"{term}" x{count}' if count > 1 else f'"{term}"'
                for _, term, count in body[:MAX_TERMS_SHOWN]
            ]
        )
        if len(body) > MAX_TERMS_SHOWN:
            shown += f" (+{len(body) - MAX_TERMS_SHOWN} more)"
        reasons.append((-sum([gain for gain, _, _ in body]), f"terms: {shown}"))
    if len(reasons) > 1:
        reasons.sort(key=lambda reason: -reason[0])
    return tuple([reason for _, reason in reasons])
