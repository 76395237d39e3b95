"""The one query language of alerts, sections and `syndicator search`: text -> AST -> match.

One job: read a query into a tree of frozen values (`parse`), print it back canonically
(`to_text`, also `str(node)`), and decide whether one story matches it (`evaluate` against a
`MatchDoc`). It also owns the one folding function and the one tokenizer (`fold`,
`tokenize`, `index_text`) that both the queries and the story text go through, so that the
store's search index, the matcher and the evaluator agree on what a word is.

What it does not do: I/O, know which regions or topics exist (a caller that does passes a
`Vocabulary` and unknown values become errors), or match many rules at once (`matcher`).

The language (precedence NOT > AND > OR; adjacent terms are an implicit AND):

    kazakhstan protest                 both words, anywhere in the title or text
    "state of emergency"               consecutive words
    kazakh*                            a word starting with "kazakh" (at least 3 letters)
    a AND b, a OR b, NOT a, -a         operators are upper case: "and", "or" and "not"
                                       in lower case are plain words
    -"phrase", -(a OR b), NOT (a b)    NOT of a phrase or a group; a minus touches what it
                                       negates: "a - b", "a -" and "region:-UA" are errors
                                       (the last one's hint: "-region:UA")
    (a OR b) c                         parentheses group
    title:word  title:"a phrase"  title:pre*  title:(a OR b)     in the title only
    source:bbc  source:"bbc news"  source:example.org            a source's name, feed title or
                                       URL holds these consecutive words (word boundaries)
    region:KZ  region:"Central Asia"  region:central-asia        a focus region tag: ISO
                                       alpha-2 code or M49 name (rolled up by the tagger)
    topic:conflict                     a topic slug
    lang:ru                            the story's language: "ru" matches "ru" and "ru-RU"
                                       (a tag: 2 or 3 letters, then subtags; see LANGUAGE_TAG)

Words. Text is folded (NFKD, combining marks and format characters dropped, casefolded, and
letters that have no decomposition mapped, `FOLDED_LETTERS`: ı ł ø æ ə..., and Cyrillic қ ғ ң
ү ұ ө ә һ і є ґ ђ ћ ... to the Russian letters) and cut into words at
every character that is not a letter, a digit or a spacing mark (`str.isalnum` or Unicode
category Mc). So "Almaty" matches "ALMATY," and "Türkiye" matches "turkiye", "Тоқаев"
"токаев" and "Україна" "украина" (but Kazakh "Қазақстан" is "казакстан", not Russian
"казахстан": a different spelling, which `region:KZ` sees through). Apostrophes
separate words, as in SQLite's unicode61 tokenizer: "almaty's" is the two words "almaty s",
so `almaty` matches it and `almaty's` is the phrase "almaty s". A query word that folds to
several words ("U.S.", "e-mail", "COVID-19") is a phrase of them; one that folds to none
("&", "-", "—") is ignored. Scripts written without spaces (Chinese, Japanese, Thai) are one
"word" per run of letters: whole-word matching does not split them, as FTS5 does not either.

A word with a colon is a field filter: `http://x` is an error (unknown field "http"); quote
it (`"http://x"`) to search for the words. Limits keep every query cheap: at most
`QueryLimits.max_length` characters, `max_terms` terms and `max_depth` nested groups and
NOTs. Evaluation is set lookups and substring searches over the story's space-joined words,
linear in the story's size for each term; no regular expression is built from a query.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Final, TypeAlias

from syndicator import errors
from syndicator.models import LANGUAGE_TAG, REGION_CODE_ALIASES

# -- folding and tokenizing --------------------------------------------------------------------

# Letters that NFKD leaves whole, mapped to what a reader would type (after casefolding), and
# the modifier-letter apostrophes (ʼ, and Uzbek's ʻ in "Oʻzbekiston": letters to Unicode) to a
# plain one, which separates, so that "Oʻzbekiston", "O‘zbekiston" and "O'zbekiston" are one.
# Latin: the schwa (Azerbaijani "Əliyev") is "a", as Cyrillic "ә" and the press's "Aliyev".
# Cyrillic: the letters of the Turkic and Tajik alphabets (Kazakh қ ғ ң ү ұ ө ә һ і, Kyrgyz,
# Uzbek ҳ, Tajik ҷ, Tatar җ, Bashkir ҡ ҙ ҫ), Ukrainian і є ґ (so ї is і) and Serbian ђ ћ љ њ
# џ ј fold to the Russian letters their names are written with in Russian text and typed on
# a Russian keyboard: "Қазақстан" and "казахстан" stay different words, but "Тоқаев" is
# "токаев", "Україна" "украина", "Вучић" "вучич". (NFKD already takes й ё ў ї ӣ ӯ ѓ ќ to и е
# у і и у г к; ј becomes "и" as й does; ћ is ч as Latin "ć" and "č" are both "c".)
FOLDED_LETTERS: Final[dict[str, str]] = {
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t",
    "æ": "ae", "œ": "oe", "ð": "d", "þ": "th", "ŋ": "n", "ə": "a", "ʼ": "'", "ʻ": "'",
    "қ": "к", "ҡ": "к", "ғ": "г", "ґ": "г", "ң": "н", "ү": "у", "ұ": "у", "ө": "о",
    "ә": "а", "һ": "х", "ҳ": "х", "і": "и", "є": "е", "ҷ": "ч", "җ": "ж", "ҙ": "з",
    "ҫ": "с", "ђ": "дж", "ћ": "ч", "џ": "дж", "љ": "ль", "њ": "нь", "ј": "и", "ѕ": "дз",
}  # fmt: skip
# Non-ASCII separators common in news text, replaced by spaces before the isalnum check so
# that English text with typographic quotes and dashes takes the fast ASCII path.
_COMMON_SEPARATORS: Final = "’‘“”–—«»…•·€£¥°§©®±×÷¶″′„‚‹›\u00a0\u2009\u200a\u202f\u3000、。，"
# ASCII text folds and separates in one pass: upper case to lower, the rest to spaces.
_ASCII_WORDS: Final = str.maketrans(
    {chr(code): chr(code).lower() if chr(code).isalnum() else " " for code in range(128)}
)
_BYTE_SEPARATORS: Final = bytes(
    ord(" ") if code < 128 and not chr(code).isalnum() else code for code in range(256)
)
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")
_DROPPED: Final = frozenset(("Mn", "Me", "Cf"))  # combining, enclosing marks; format chars


@cache
def _bmp_classes() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(marks to drop, a word) for the Basic Multilingual Plane, from the Unicode database,
    once (about 0.05 s). Astral characters are rare and handled one by one instead: the
    regex engine tests BMP classes with a bitmap but astral ranges one after the other."""
    drop: list[int] = []
    spacing: list[int] = []
    for code in range(0x10000):
        category = unicodedata.category(chr(code))
        if category in _DROPPED:
            drop.append(code)
        elif category == "Mc":
            spacing.append(code)
    return re.compile(f"[{_ranges(drop)}]+"), re.compile(rf"(?:[^\W_]|[{_ranges(spacing)}])+")


def _ranges(codes: Iterable[int]) -> str:
    """A regex character class body for the code points (escaped, consecutive as ranges)."""
    parts: list[str] = []
    start = previous = -2
    for code in [*codes, -2]:
        if code == previous + 1:
            previous = code
            continue
        if start >= 0:
            first, last = re.escape(chr(start)), re.escape(chr(previous))
            parts.append(first if start == previous else f"{first}-{last}")
        start = previous = code
    return "".join(parts)


def is_word_char(char: str) -> bool:
    """A letter, a digit or a spacing mark: what words are made of once folded."""
    return char.isalnum() or unicodedata.category(char) == "Mc"


def fold(text: str) -> str:
    """Text as matching sees it: NFKD, casefolded, combining marks and format characters
    dropped, `FOLDED_LETTERS` mapped. Idempotent; ASCII text is only lower-cased."""
    if text.isascii():
        return text.lower()
    # Twice: casefolding can give decomposable characters, NFKD upper-case ones ("㎒").
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    text = _bmp_classes()[0].sub("", text)
    if _ASTRAL.search(text) is not None:
        for char in set(_ASTRAL.findall(text)):
            if unicodedata.category(char) in _DROPPED:
                text = text.replace(char, "")
    # A scan per letter (about 0.07 us for a kilobyte: 2 us in all, against 8 us for one
    # pass of a regex character class that finds them), a replace for each one present.
    for letter, replacement in FOLDED_LETTERS.items():
        if letter in text:
            text = text.replace(letter, replacement)
    return text


def tokenize(text: str) -> list[str]:
    """The folded words of a text, in order: runs of letters, digits and spacing marks.

    The same function cuts stories and queries. Fast paths (all C string methods) give the
    same words as the general one: ASCII text is translated and split; other text is split
    when, spaces aside, nothing but letters and digits is left."""
    if text.isascii():
        return text.translate(_ASCII_WORDS).split()
    # Before folding, not after: English text with typographic quotes and dashes is then
    # ASCII and skips NFKD altogether (folding maps no other character to one of these, and
    # any left over are split off by the general path below).
    for mark in _COMMON_SEPARATORS:
        if mark in text:
            text = text.replace(mark, " ")
    if text.isascii():
        return text.translate(_ASCII_WORDS).split()
    text = fold(text)
    if text.isascii():
        return text.translate(_ASCII_WORDS).split()
    # str.translate is slow on non-ASCII strings; bytes.translate is not (UTF-8 keeps ASCII).
    text = (
        text.encode("utf-8", "surrogatepass")
        .translate(_BYTE_SEPARATORS)
        .decode("utf-8", "surrogatepass")
    )
    words = text.split()
    if "".join(words).isalnum():
        return words
    return [part for word in words for part in _split_word(word)]


def _split_word(word: str) -> list[str]:
    if word.isalnum():
        return [word]
    if _ASTRAL.search(word) is None:
        return _bmp_classes()[1].findall(word)
    parts, current = [], ""
    for char in word:
        if is_word_char(char):
            current += char
        elif current:
            parts.append(current)
            current = ""
    return [*parts, current] if current else parts


def index_text(text: str) -> str:
    """The text's folded words joined by spaces: what a search index should store, so that
    SQLite's unicode61 tokenizer finds the words `tokenize` finds (it also cuts a word at a
    spacing mark, as in Hindi, but cuts the words of an FTS5 query the same way)."""
    return " ".join(tokenize(text))


def search_text(text: str) -> str:
    """What the search index stores for a text: `index_text`, or for ASCII text the same
    words separated by runs of spaces (the tokenizer reads the same words, for a tenth of
    the cost). Deterministic: the index's delete trigger computes it again, so a change to
    what it (or `tokenize`) returns needs a migration that rebuilds the index, as 0015 did."""
    if not text.isascii():
        # Typographic quotes and dashes are all most English text has beyond ASCII.
        for mark in _COMMON_SEPARATORS:
            if mark in text:
                text = text.replace(mark, " ")
        if not text.isascii():
            return index_text(text)
    return text.translate(_ASCII_WORDS)


def _joined(words: Sequence[str]) -> str:
    """ " a b c ": a phrase is then a substring search, a prefix a search for " pre"."""
    return f" {' '.join(words)} "


# -- the tree ----------------------------------------------------------------------------------


class _Node:
    __slots__ = ()

    def __str__(self) -> str:
        return to_text(self)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Word(_Node):
    """One folded word, in the title or text (`title`: in the title only)."""

    word: str
    title: bool = False


@dataclass(frozen=True, slots=True)
class Phrase(_Node):
    """Two or more folded words, consecutive."""

    words: tuple[str, ...]
    title: bool = False


@dataclass(frozen=True, slots=True)
class Prefix(_Node):
    """A word starting with `stem` (folded, at least `QueryLimits.min_prefix` characters)."""

    stem: str
    title: bool = False


@dataclass(frozen=True, slots=True)
class Region(_Node):
    """A focus region: `region_key` of an ISO code ("KZ") or an M49 name ("central asia")."""

    key: str


@dataclass(frozen=True, slots=True)
class Topic(_Node):
    """A topic slug, folded ("conflict", "human-interest")."""

    slug: str


@dataclass(frozen=True, slots=True)
class Source(_Node):
    """Words that one of the story's sources (name, feed title or URL) holds consecutively."""

    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lang(_Node):
    """A language tag, folded ("ru", "pt-br"); it matches itself and its subtags."""

    tag: str


@dataclass(frozen=True, slots=True)
class Not(_Node):
    child: Query


@dataclass(frozen=True, slots=True)
class And(_Node):
    """Two or more children, all required (never nested in another And: `parse` flattens)."""

    children: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class Or(_Node):
    """Two or more children, any one enough (never nested in another Or)."""

    children: tuple[Query, ...]


Query: TypeAlias = Word | Phrase | Prefix | Region | Topic | Source | Lang | Not | And | Or
FIELDS: Final = ("title", "source", "region", "topic", "lang")


@lru_cache(maxsize=4096)  # a story's regions, topics and sources come from small sets
def region_key(identifier: str) -> str:
    """How regions compare: a two-letter code upper case ("kz" -> "KZ", and "uk" -> "GB"), a
    name as its folded words ("Central Asia", "central-asia" -> "central asia"); "" when it
    has no words."""
    words = tokenize(identifier)
    if len(words) == 1 and len(words[0]) == 2 and words[0].isascii() and words[0].isalpha():
        code = words[0].upper()
        return REGION_CODE_ALIASES.get(code, code)  # "uk" -> "GB"
    return " ".join(words)


@lru_cache(maxsize=4096)
def slug_key(value: str) -> str:
    """How topics and languages compare: folded words joined by "-" ("pt_BR" -> "pt-br")."""
    return "-".join(tokenize(value))


def to_text(node: Query) -> str:
    """The canonical text of a query: `parse(to_text(q)) == q` for every parsed q."""
    match node:
        case Word(word, title):
            return f"title:{word}" if title else word
        case Phrase(words, title):
            return f'{"title:" if title else ""}"{" ".join(words)}"'
        case Prefix(stem, title):
            return f"{'title:' if title else ''}{stem}*"
        case Region(key):
            return f"region:{key.replace(' ', '-')}"
        case Topic(slug):
            return f"topic:{slug}"
        case Source(words):
            return f"source:{words[0]}" if len(words) == 1 else f'source:"{" ".join(words)}"'
        case Lang(tag):
            return f"lang:{tag}"
        case Not(child):
            return f"NOT {_grouped(child)}"
        case And(children):
            return " AND ".join(_grouped(child) for child in children)
        case Or(children):
            return " OR ".join(_grouped(child) for child in children)
    raise TypeError(f"not a query node: {node!r}")


def _grouped(node: Query) -> str:
    return f"({to_text(node)})" if isinstance(node, And | Or) else to_text(node)


def _all_of(children: Sequence[Query]) -> Query:
    flat = tuple(
        c for child in children for c in (child.children if isinstance(child, And) else (child,))
    )
    return flat[0] if len(flat) == 1 else And(flat)


def _any_of(children: Sequence[Query]) -> Query:
    flat = tuple(
        c for child in children for c in (child.children if isinstance(child, Or) else (child,))
    )
    return flat[0] if len(flat) == 1 else Or(flat)


def walk(node: Query) -> Iterable[Query]:
    """Every node of the tree, parents before children."""
    yield node
    match node:
        case Not(child):
            yield from walk(child)
        case And(children) | Or(children):
            for child in children:
                yield from walk(child)


# -- errors and limits -------------------------------------------------------------------------


class QueryError(errors.QueryError):
    """A query that does not parse: `reason`, the 1-based `column` it points at, the `query`
    and maybe a `hint`. `str(e)` is "reason at column N[; hint]", then the query with a caret
    under column N. (A subclass of `errors.QueryError`, which callers may catch instead.)"""

    def __init__(self, reason: str, query: str, column: int, hint: str = "") -> None:
        self.reason = reason
        self.query = query
        self.column = column
        self.hint = hint
        more = f"; {hint}" if hint else ""
        super().__init__(f"{reason} at column {column}{more}\n{caret_lines(query, column)}")


def caret_lines(query: str, column: int, width: int = 72) -> str:
    """The query (a window of it when long; control characters as spaces) and a caret line."""
    shown = "".join(" " if char.isspace() or not char.isprintable() else char for char in query)
    start = max(0, min(column - 1 - width // 2, len(shown) - width + 1))
    window = shown[start : start + width]
    before = "…" if start > 0 else ""
    after = "…" if start + width < len(shown) else ""
    return f"  {before}{window}{after}\n  {' ' * (len(before) + column - 1 - start)}^"


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """What one query may hold: keeps parsing and matching cheap whatever a user writes."""

    max_length: int = 2000
    max_terms: int = 200
    max_depth: int = 20  # nested parentheses and NOTs
    min_prefix: int = 3


LIMITS: Final = QueryLimits()


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The regions and topics that exist (as `region_key` / `slug_key`); `None`: any value."""

    regions: frozenset[str] | None = None
    topics: frozenset[str] | None = None

    @classmethod
    def of(
        cls, regions: Iterable[str] | None = None, topics: Iterable[str] | None = None
    ) -> Vocabulary:
        """From region identifiers ("KZ", "Central Asia") and topic slugs as written."""
        return cls(
            None if regions is None else frozenset(map(region_key, regions)),
            None if topics is None else frozenset(map(slug_key, topics)),
        )


# -- lexing ------------------------------------------------------------------------------------

_FIELD: Final = re.compile(r"([A-Za-z]+):")  # fixed pattern: never built from a query
_KEYWORDS: Final = frozenset(("AND", "OR", "NOT"))
_SPECIAL: Final = '()"'


@dataclass(frozen=True, slots=True)
class _Lexeme:
    """kind: "(", ")", "AND", "OR", "NOT", "-", "word", "quoted" or "field" (text = name,
    value = the inline value after the colon or None)."""

    kind: str
    text: str
    start: int  # 0-based offset in the query
    value: str | None = None
    value_start: int = 0


class _Lexer:
    def __init__(self, query: str) -> None:
        self.query = query

    def fail(self, reason: str, offset: int) -> QueryError:
        return QueryError(reason, self.query, offset + 1)

    def lexemes(self) -> list[_Lexeme]:
        text, out, i = self.query, [], 0
        while i < len(text):
            char = text[i]
            if char.isspace():
                i += 1
            elif char in "()":
                out.append(_Lexeme(char, char, i))
                i += 1
            elif char == '"':
                i = self._quoted(i, out)
            elif char == "-":
                i = self._minus(i, out)
            else:
                i = self._bare(i, out)
        return out

    def _minus(self, start: int, out: list[_Lexeme]) -> int:
        """A '-' right before a term negates it. One with nothing right after it ("trump -",
        "trump - memo", "a --") is an error rather than punctuation to skip: skipping it
        searched for what its writer wanted excluded ("- memo" meaning "-memo")."""
        following = self.query[start + 1 : start + 2]
        if not following or following.isspace() or following == ")":
            raise QueryError(
                "a '-' with no term right after it",
                self.query,
                start + 1,
                "write -word (no space) to exclude a word, or remove the '-'",
            )
        out.append(_Lexeme("-", "-", start))
        return start + 1

    def _quoted(self, start: int, out: list[_Lexeme]) -> int:
        end = self.query.find('"', start + 1)
        if end < 0:
            raise self.fail("unclosed '\"'", start)
        if end + 1 < len(self.query) and self.query[end + 1] == "*":
            raise self.fail("a quoted phrase cannot be a prefix* (remove the quotes)", end + 1)
        out.append(_Lexeme("quoted", self.query[start + 1 : end], start))
        return end + 1

    def _bare(self, start: int, out: list[_Lexeme]) -> int:
        text, end = self.query, start
        while end < len(text) and not text[end].isspace() and text[end] not in _SPECIAL:
            end += 1
        raw = text[start:end]
        if raw in _KEYWORDS:
            out.append(_Lexeme(raw, raw, start))
        elif (field_match := _FIELD.match(raw)) is not None:
            name, value = field_match[1], raw[field_match.end() :]
            out.append(_Lexeme("field", name, start, value or None, start + field_match.end()))
        elif tokenize(raw.rstrip("*")):
            out.append(_Lexeme("word", raw, start))
        # else: punctuation alone ("&", "*") is no term and is skipped
        return end


# -- parsing -----------------------------------------------------------------------------------

_TERM_STARTS: Final = frozenset(("word", "quoted", "field", "(", "NOT", "-"))


def parse(query: str, vocabulary: Vocabulary | None = None, limits: QueryLimits = LIMITS) -> Query:
    """The tree of a query; QueryError (with the column) for anything malformed or too big."""
    if len(query) > limits.max_length:
        raise QueryError(
            f"query too long ({len(query):,} characters, at most {limits.max_length:,})",
            query,
            limits.max_length + 1,
        )
    return _Parser(query, vocabulary or Vocabulary(), limits).parse()


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary ([AND] unary)*;
    unary := (NOT | -) unary | primary; primary := ( or ) | field | term."""

    def __init__(self, query: str, vocabulary: Vocabulary, limits: QueryLimits) -> None:
        self.lexer = _Lexer(query)
        self.query = query
        self.vocabulary = vocabulary
        self.limits = limits
        self.items: list[_Lexeme] = []
        self.at = 0
        self.depth = 0
        self.terms = 0
        self.field: _Lexeme | None = None  # inside `field:( ... )`

    def parse(self) -> Query:
        if not self.query.strip():
            raise QueryError("empty query", self.query, 1)
        self.items = self.lexer.lexemes()
        if not self.items:
            raise QueryError("the query has no words", self.query, 1)
        node = self._or()
        if self.at < len(self.items):
            raise self._unexpected(self.items[self.at])
        return node

    # helpers

    def _peek(self) -> _Lexeme | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def _fail(self, reason: str, offset: int, hint: str = "") -> QueryError:
        return QueryError(reason, self.query, offset + 1, hint)

    def _unexpected(self, lexeme: _Lexeme) -> QueryError:
        shown = lexeme.text if lexeme.kind != "field" else f"{lexeme.text}:"
        return self._fail(f"unexpected '{shown}'", lexeme.start)

    def _need_term(self, after: _Lexeme) -> None:
        following = self._peek()
        if following is None:
            raise self._fail(f"expected a term after '{after.text}'", len(self.query))
        if following.kind not in _TERM_STARTS:
            raise self._unexpected(following)

    def _nest(self, lexeme: _Lexeme) -> None:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise self._fail(
                f"too deeply nested (more than {self.limits.max_depth} groups and NOTs)",
                lexeme.start,
            )

    def _count_term(self, offset: int) -> None:
        self.terms += 1
        if self.terms > self.limits.max_terms:
            raise self._fail(f"too many terms (more than {self.limits.max_terms})", offset)

    # grammar

    def _or(self) -> Query:
        children = [self._and()]
        while (lexeme := self._peek()) is not None and lexeme.kind == "OR":
            self.at += 1
            self._need_term(lexeme)
            children.append(self._and())
        return _any_of(children)

    def _and(self) -> Query:
        children = [self._unary()]
        while (lexeme := self._peek()) is not None:
            if lexeme.kind == "AND":
                self.at += 1
                self._need_term(lexeme)
            elif lexeme.kind not in _TERM_STARTS:
                break
            children.append(self._unary())
        return _all_of(children)

    def _unary(self) -> Query:
        lexeme = self._peek()
        if lexeme is not None and lexeme.kind in ("NOT", "-"):
            self.at += 1
            self._need_term(lexeme)
            self._nest(lexeme)
            child = self._unary()
            self.depth -= 1
            return Not(child)
        return self._primary()

    def _primary(self) -> Query:
        lexeme = self._peek()
        if lexeme is None:
            raise self._fail("expected a term", len(self.query))
        self.at += 1
        if lexeme.kind == "(":
            return self._group(lexeme)
        if lexeme.kind == "field":
            return self._field(lexeme)
        if lexeme.kind == "word":
            return self._term(lexeme.text, lexeme.start, quoted=False)
        if lexeme.kind == "quoted":
            return self._term(lexeme.text, lexeme.start, quoted=True)
        raise self._unexpected(lexeme)

    def _group(self, opening: _Lexeme) -> Query:
        self._nest(opening)
        following = self._peek()
        if following is None:
            raise self._fail("unclosed '('", opening.start)
        if following.kind not in _TERM_STARTS:
            raise self._unexpected(following)
        node = self._or()
        closing = self._peek()
        if closing is None or closing.kind != ")":
            if closing is None:
                raise self._fail("unclosed '('", opening.start)
            raise self._unexpected(closing)
        self.at += 1
        self.depth -= 1
        return node

    def _field(self, lexeme: _Lexeme) -> Query:
        name = lexeme.text.lower()
        if name not in FIELDS:
            close = difflib.get_close_matches(name, FIELDS, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}:'? " if close else ""
            known = ", ".join(f"{f}:" for f in FIELDS)
            raise self._fail(
                f"unknown field '{lexeme.text}:'", lexeme.start, f"{hint}(fields: {known})"
            )
        if self.field is not None:
            raise self._fail(f"field '{lexeme.text}:' inside '{self.field.text}:( )'", lexeme.start)
        if lexeme.value is not None and lexeme.value.startswith("-"):
            raise self._negated_value(lexeme, lexeme.value)
        if lexeme.value is not None:
            return self._value(name, lexeme.value, lexeme.value_start, quoted=False)
        following = self._peek()
        value_at = lexeme.start + len(lexeme.text) + 1
        if (
            following is None
            or following.start != value_at
            or following.kind not in ("(", "quoted")
        ):
            raise self._fail(f"expected a value right after '{lexeme.text}:'", value_at)
        self.at += 1
        if following.kind == "quoted":
            return self._value(name, following.text, following.start, quoted=True)
        self.field = lexeme
        try:
            return self._group(following)
        finally:
            self.field = None

    def _negated_value(self, lexeme: _Lexeme, value: str) -> QueryError:
        """`region:-UA` would read as `region:UA` (the value's words drop the '-'), the
        opposite of what was meant; the NOT goes before the field, as for any term."""
        shown = value.lstrip("-") or "…"
        return self._fail(
            f"a '-' after '{lexeme.text}:' does not exclude",
            lexeme.value_start,
            f"put the minus before the field: -{lexeme.text}:{shown}",
        )

    def _term(self, raw: str, offset: int, quoted: bool) -> Query:
        if self.field is not None:
            return self._value(self.field.text.lower(), raw, offset, quoted)
        return self._text(raw, offset, quoted, title=False)

    def _value(self, name: str, raw: str, offset: int, quoted: bool) -> Query:
        if name == "title":
            return self._text(raw, offset, quoted, title=True)
        if not quoted and raw.endswith("*"):
            raise self._fail(f"'{name}:' takes no prefix*", offset)
        self._count_term(offset)
        if name == "region":
            return self._region(raw, offset)
        if name == "topic":
            return self._topic(raw, offset)
        words = tokenize(raw)
        if not words:
            raise self._fail(f"'{name}:' needs a value with letters or digits", offset)
        if name == "lang":
            return self._lang("-".join(words), raw, offset)
        return Source(tuple(words))

    def _lang(self, tag: str, raw: str, offset: int) -> Lang:
        # The same shape as a source's `language` in the config: a misspelt "lang:english"
        # would otherwise match nothing, silently.
        if not LANGUAGE_TAG.fullmatch(tag):
            raise self._fail(
                f"'lang:{raw}' is not a language tag",
                offset,
                "expected a tag such as ru, en-GB or pt_BR (2 or 3 letters first)",
            )
        return Lang(tag)

    def _region(self, raw: str, offset: int) -> Region:
        key = region_key(raw)
        if not key:
            raise self._fail("'region:' needs a code or a name", offset)
        known = self.vocabulary.regions
        if known is not None and key not in known:
            raise self._fail(f"unknown region '{raw}'", offset, _did_you_mean(key, known))
        return Region(key)

    def _topic(self, raw: str, offset: int) -> Topic:
        slug = slug_key(raw)
        if not slug:
            raise self._fail("'topic:' needs a slug", offset)
        known = self.vocabulary.topics
        if known is not None and slug not in known:
            raise self._fail(f"unknown topic '{raw}'", offset, _did_you_mean(slug, known))
        return Topic(slug)

    def _text(self, raw: str, offset: int, quoted: bool, title: bool) -> Query:
        self._count_term(offset)
        if not quoted and raw.endswith("*"):
            return self._prefix(raw, offset, title)
        words = tokenize(raw)
        if not words:
            raise self._fail("empty phrase" if quoted else "no word here", offset)
        return Word(words[0], title) if len(words) == 1 else Phrase(tuple(words), title)

    def _prefix(self, raw: str, offset: int, title: bool) -> Prefix:
        words = tokenize(raw.rstrip("*"))
        if len(words) != 1:
            raise self._fail(f"a prefix* is one word: '{raw}'", offset)
        if len(words[0]) < self.limits.min_prefix:
            raise self._fail(
                f"prefix '{raw}' too short (at least {self.limits.min_prefix} letters)", offset
            )
        return Prefix(words[0], title)


_TERM_ENDS: Final = frozenset(("word", "quoted", "field", ")"))
_LOWER_OPERATORS: Final = frozenset(("or", "and"))


def lowercase_operators(query: str) -> tuple[str, ...]:
    """The lower-case "or" and "and" (as written) standing between two terms of a query,
    as in "trump or biden": search words by the grammar, but more likely meant as OR and
    AND. For a hint, not a change of meaning; () for a query that does not even lex."""
    try:
        items = _Lexer(query).lexemes()
    except QueryError:
        return ()
    found = [
        middle.text
        for before, middle, after in zip(items, items[1:], items[2:], strict=False)
        if middle.kind == "word"
        and middle.text.lower() in _LOWER_OPERATORS
        and before.kind in _TERM_ENDS
        and after.kind in _TERM_STARTS
    ]
    return tuple(dict.fromkeys(found))


def ignored_wildcards(query: str) -> tuple[str, ...]:
    """Terms (as written) with a '*' the language does not read as a prefix: inside quotes
    ("turk* earthquake") or inside a word (tur*key), where it is punctuation and dropped, so
    the term looks for "turk earthquake" or "tur key". For a hint, not a change of meaning;
    () for a query that does not even lex."""
    try:
        items = _Lexer(query).lexemes()
    except QueryError:
        return ()
    found = [
        f'"{item.text}"' if item.kind == "quoted" else item.text
        for item in items
        if (item.kind == "quoted" and "*" in item.text)
        or (item.kind == "word" and "*" in item.text.rstrip("*"))
    ]
    return tuple(dict.fromkeys(found))


def query_hints(query: str) -> str:
    """Everything a query's writer may have meant otherwise, in one parenthesis: lower-case
    operators and '*'s that are no prefix; "" when there is nothing to say."""
    hints = [hint] if (hint := lowercase_operator_hint(query).strip("()")) else []
    if wildcards := ignored_wildcards(query):
        hints.append(
            f"a '*' inside quotes or a word is ignored: {', '.join(wildcards)}; "
            "a prefix* ends a word outside quotes"
        )
    return f"({'; '.join(hints)})" if hints else ""


def lowercase_operator_hint(query: str) -> str:
    """ "(did you mean OR?)" for a query with a lower-case "or" between terms (and so on for
    "and"); "" when there is none."""
    operators = dict.fromkeys(word.upper() for word in lowercase_operators(query))
    return f"(did you mean {' and '.join(operators)}?)" if operators else ""


def _did_you_mean(value: str, known: Iterable[str]) -> str:
    close = closest(value, known)
    return f"did you mean '{close}'?" if close else ""


def closest(value: str, known: Iterable[str]) -> str | None:
    """The known value most like `value`, ignoring case, if one is close enough to be a typo:
    the "did you mean" of an unknown region or topic, here and in the config."""
    by_folded = {item.casefold(): item for item in sorted(known)}
    close = difflib.get_close_matches(value.casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[close[0]] if close else None


# -- matching ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchDoc:
    """A story (or cluster) as a query sees it; build it with `match_doc`.

    `title` and `body` are folded words; `sources` the folded words of each source
    identifier (name, feed title, URL); `regions` `region_key`s of its focus region tags,
    roll-ups included; `topics` its topic slugs; `language` its folded language tag. The
    rest is derived once here, so that every term is a set lookup or a substring search."""

    title: tuple[str, ...]
    body: tuple[str, ...]
    sources: tuple[tuple[str, ...], ...] = ()
    regions: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    language: str = ""
    title_words: frozenset[str] = field(init=False, repr=False, compare=False)
    words: frozenset[str] = field(init=False, repr=False, compare=False)
    source_words: frozenset[str] = field(init=False, repr=False, compare=False)
    languages: frozenset[str] = field(init=False, repr=False, compare=False)
    # " title words " and " body words ", joined when first asked for (phrases, prefixes).
    _texts: tuple[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Per story and on the hot path: plain calls, and only what every match needs.
        title_words = frozenset(self.title)
        setter = object.__setattr__
        setter(self, "title_words", title_words)
        setter(self, "words", title_words.union(self.body))
        setter(self, "source_words", _source_word_set(self.sources))
        setter(self, "languages", _language_set(self.language))

    @property
    def title_text(self) -> str:
        """The title's words joined by spaces, with a space before and after."""
        return (self._texts or self._join())[0]

    @property
    def body_text(self) -> str:
        """The body's words joined by spaces, with a space before and after."""
        return (self._texts or self._join())[1]

    @property
    def source_texts(self) -> tuple[str, ...]:
        """Each source identifier's words joined by spaces, with a space before and after."""
        return tuple(map(_source_text, self.sources))

    def _join(self) -> tuple[str, str]:
        texts = (_joined(self.title), _joined(self.body))
        object.__setattr__(self, "_texts", texts)
        return texts


@lru_cache(maxsize=4096)
def _source_text(words: tuple[str, ...]) -> str:
    return _joined(words)


@lru_cache(maxsize=4096)
def _source_word_set(sources: tuple[tuple[str, ...], ...]) -> frozenset[str]:
    return frozenset(word for words in sources for word in words)


@lru_cache(maxsize=1024)
def _language_set(tag: str) -> frozenset[str]:
    return frozenset(language_chain(tag))


@lru_cache(maxsize=4096)
def identifier_words(identifier: str) -> tuple[str, ...]:
    """The folded words of a source's name, feed title or URL."""
    return tuple(tokenize(identifier))


def source_key(name: str) -> str:
    """How a section's `sources` entry and a source's name or feed title compare: their folded
    words, as `source:` reads them ("QA Wire", "qa wire" and "QA-Wire" are one source)."""
    return " ".join(identifier_words(name))


def language_chain(tag: str) -> tuple[str, ...]:
    """A folded language tag and its shorter forms: "pt-br" -> ("pt", "pt-br")."""
    parts = tag.split("-") if tag else []
    return tuple("-".join(parts[: i + 1]) for i in range(len(parts)))


def match_doc(
    title: str,
    body: str = "",
    *,
    sources: Iterable[str] = (),
    regions: Iterable[str] = (),
    topics: Iterable[str] = (),
    language: str = "",
) -> MatchDoc:
    """A MatchDoc from plain strings: a source as its name, feed title or URL (pass each),
    regions as codes or M49 names ("KZ", "Central Asia", "Asia"), topics as slugs."""
    # (An empty key or source can stay: no parsed query term is empty.)
    return MatchDoc(
        tuple(tokenize(title)),
        tuple(tokenize(body)),
        tuple(map(identifier_words, sources)),
        frozenset(map(region_key, regions)),
        frozenset(map(slug_key, topics)),
        slug_key(language),
    )


def evaluate(node: Query, doc: MatchDoc) -> bool:
    """Whether the story matches the query (the reference the matcher must agree with)."""
    match node:
        case Word(word, title):
            return word in (doc.title_words if title else doc.words)
        case Phrase(words, title):
            return _in_text(_joined(words), doc, title)
        case Prefix(stem, title):
            return _in_text(f" {stem}", doc, title)
        case Region(key):
            return key in doc.regions
        case Topic(slug):
            return slug in doc.topics
        case Source(words):
            needle = _joined(words)
            return any(needle in text for text in doc.source_texts)
        case Lang(tag):
            return tag in doc.languages
        case Not(child):
            return not evaluate(child, doc)
        case And(children):
            return all(evaluate(child, doc) for child in children)
        case Or(children):
            return any(evaluate(child, doc) for child in children)
    raise TypeError(f"not a query node: {node!r}")


def _in_text(needle: str, doc: MatchDoc, title: bool) -> bool:
    return needle in doc.title_text or (not title and needle in doc.body_text)


# -- search index ------------------------------------------------------------------------------


def to_fts5(node: Query) -> str | None:
    """An SQLite FTS5 MATCH expression that every story matching the query matches (a
    prefilter to evaluate exactly after), or None when the words cannot narrow the search
    (a NOT, or an OR with a field filter). Columns `title` and `text` are assumed; it is
    exact for the words when the index holds `index_text` of each column."""
    match node:
        case Word(word, title):
            return _fts_column(f'"{word}"', title)
        case Phrase(words, title):
            # The index keeps no positions (detail=column): a phrase narrows by its words.
            return " AND ".join(_fts_column(f'"{word}"', title) for word in words)
        case Prefix(stem, title):
            return _fts_column(f'"{stem}" *', title)
        case And(children):
            parts = [part for child in children if (part := to_fts5(child)) is not None]
            return " AND ".join(f"({part})" for part in parts) if parts else None
        case Or(children):
            ors = [to_fts5(child) for child in children]
            if any(part is None for part in ors):
                return None
            return " OR ".join(f"({part})" for part in ors)
    return None  # Not, Region, Topic, Source, Lang: not in the text index


def _fts_column(expression: str, title: bool) -> str:
    return f"title : {expression}" if title else expression
