"""The matcher: all rules compiled once, and exactly the rules the naive loop would match."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator import matcher as matcher_module
from syndicator.matcher import Matcher, Selectivity, anchors_of, compile_predicate, is_exact
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
    evaluate,
    match_doc,
    parse,
    to_text,
)
from tests.fuzzing import budget

# The same examples on every run in CI; `make fuzz` searches longer (tests/fuzzing.py).
deterministic = budget(300)


def naive(rules: Sequence[tuple[str, Query]], doc: MatchDoc) -> list[str]:
    return [name for name, query in rules if evaluate(query, doc)]


def rules_of(*queries: str) -> list[tuple[str, Query]]:
    return [(f"r{i}", parse(query)) for i, query in enumerate(queries)]


DOC = match_doc(
    "Kazakhstan declares state of emergency",
    "Protests spread from Zhanaozen to Almaty; Tokayev sacked the government.",
    sources=["Reuters World", "https://www.reuters.com/world/rss"],
    regions=["KZ", "Central Asia", "Asia"],
    topics=["conflict"],
    language="en-GB",
)


def test_match_names_the_matching_rules_in_rule_order() -> None:
    rules = rules_of(
        "kazakhstan AND (protest* OR unrest)",  # r0: yes
        "kyrgyzstan",  # r1: no
        '"state of emergency"',  # r2: yes
        "region:central-asia topic:conflict",  # r3: yes
        "NOT almaty",  # r4: no (no anchor: evaluated on every story)
        "NOT bishkek",  # r5: yes
        "source:reuters title:tokayev",  # r6: no (not in the title)
        "lang:en zhanao*",  # r7: yes
    )
    compiled = Matcher.compile(rules)
    assert compiled.match(DOC) == ["r0", "r2", "r3", "r5", "r7"] == naive(rules, DOC)
    assert len(compiled) == 8
    assert (compiled.stats.rules, compiled.stats.always) == (8, 2)


def test_a_story_meets_only_the_rules_it_could_match() -> None:
    rules = rules_of("kazakhstan protest", "oil AND price", "bitcoin", "region:RU", "NOT x")
    compiled = Matcher.compile(rules)
    assert compiled.candidates(DOC) == {0, 4}  # r0 by "kazakhstan", r4 always
    assert compiled.match(DOC) == ["r4"]  # r0 needs "protest" too


def test_and_anchors_on_its_rarest_child() -> None:
    rarity = Selectivity({"kazakhstan": 0.001, "protest": 0.05, "region:KZ": 0.01})
    assert anchors_of(parse("protest kazakhstan"), rarity) == {("word", "kazakhstan")}
    assert anchors_of(parse("protest region:KZ"), rarity) == {("region", "KZ")}
    guess = Selectivity(None)  # without frequencies: a longer word is rarer
    assert anchors_of(parse("oil kazakhstan"), guess) == {("word", "kazakhstan")}
    assert anchors_of(parse('"state of emergency" x'), guess) == {("word", "emergency")}


def test_or_anchors_on_all_children_and_not_on_nothing() -> None:
    rarity = Selectivity(None)
    assert anchors_of(parse("a OR bee* OR topic:economy"), rarity) == {
        ("word", "a"), ("prefix", "bee"), ("topic", "economy"),
    }  # fmt: skip
    assert anchors_of(parse("-a"), rarity) is None
    assert anchors_of(parse("a OR -b"), rarity) is None
    assert anchors_of(parse("a -b"), rarity) == {("word", "a")}
    assert anchors_of(parse("source:\"bbc news\""), Selectivity({"source:bbc": 0.01})) == {
        ("source", "bbc"),
    }  # fmt: skip


def test_exact_rules_need_no_evaluation() -> None:
    assert all(map(is_exact, map(parse, ["a", "abc*", "region:KZ", "a OR bee* OR lang:ru"])))
    assert not any(
        map(is_exact, map(parse, ["title:a", '"a b"', "a b", "source:x", "-a", "a OR title:b"]))
    )


def test_prefixes_are_learnt_per_word_and_forgotten_past_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(matcher_module, "MAX_REMEMBERED", 3)
    rules = rules_of("kazakh*", "almat*", "tok* region:KZ", "title:kaz*")
    compiled = Matcher.compile(rules)
    docs = [
        DOC,
        match_doc("Kazakh oil", "nothing else"),
        match_doc("Almaty", "Kazakhstan's capital was Almaty, then Astana; then Kazakh."),
        DOC,
        match_doc("unrelated", "words only here"),
        match_doc("Kazakh", ""),
    ]
    for doc in docs:
        assert compiled.match(doc) == naive(rules, doc)


def test_rules_with_the_same_name_are_each_reported() -> None:
    rules = [("same", parse("kazakhstan")), ("same", parse("almaty"))]
    assert Matcher.compile(rules).match(DOC) == ["same", "same"]


def test_no_rules() -> None:
    assert Matcher.compile([]).match(DOC) == []


# -- matcher == naive loop -----------------------------------------------------------------

WORDS = ["kazakhstan", "almaty", "protest", "protests", "oil", "price", "state", "of",
         "emergency", "turkiye", "казахстан", "bank", "tokayev", "zhanaozen"]  # fmt: skip
STEMS = ["kaz", "prot", "almat", "emerg", "каза", "tok", "oil"]
REGIONS = ["KZ", "RU", "Central Asia", "Asia", "Europe"]
TOPICS = ["conflict", "economy", "politics"]
SOURCES = ["BBC News", "Reuters World", "https://example.org/rss", "Kazinform"]
LANGUAGES = ["en", "en-GB", "ru", "kk", ""]

title_flag = st.booleans()
phrase_words = st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(tuple)
source_words = st.sampled_from([("bbc",), ("bbc", "news"), ("reuters",), ("example", "org")])
terms = st.one_of(
    st.builds(Word, st.sampled_from(WORDS), title_flag),
    st.builds(Phrase, phrase_words, title_flag),
    st.builds(Prefix, st.sampled_from(STEMS), title_flag),
    st.builds(Region, st.sampled_from(["KZ", "RU", "central asia", "asia", "europe"])),
    st.builds(Topic, st.sampled_from(TOPICS)),
    st.builds(Lang, st.sampled_from(["en", "en-gb", "ru", "kk"])),
    st.builds(Source, source_words),
)
trees = st.recursive(
    terms,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.builds(And, st.lists(children, min_size=2, max_size=4).map(tuple)),
        st.builds(Or, st.lists(children, min_size=2, max_size=4).map(tuple)),
    ),
    max_leaves=12,
)
# Through the printer and the parser, as rules arrive: flattened, canonical.
queries = trees.map(lambda tree: parse(to_text(tree)))
text_words = st.lists(
    st.one_of(st.sampled_from(WORDS), st.sampled_from(["the", "kazakhs", "almatyville", "x"])),
    max_size=30,
)
marks = st.sampled_from([" ", ", ", "'s ", ". ", " — "])


def _with_marks(words: list[str]) -> st.SearchStrategy[str]:
    between = st.lists(marks, min_size=len(words), max_size=len(words))
    return between.map(lambda found: "".join(w + m for w, m in zip(words, found, strict=True)))


texts = text_words.flatmap(_with_marks)
docs = st.builds(
    lambda title, body, sources, regions, topics, language: match_doc(
        title.upper() if len(title) % 3 == 0 else title,
        body,
        sources=sources,
        regions=regions,
        topics=topics,
        language=language,
    ),
    texts,
    texts,
    st.lists(st.sampled_from(SOURCES), max_size=3),
    st.lists(st.sampled_from(REGIONS), max_size=3),
    st.lists(st.sampled_from(TOPICS), max_size=2),
    st.sampled_from(LANGUAGES),
)
frequency_tables = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from([*WORDS, "region:KZ", "topic:conflict", "lang:en", "source:bbc"]),
        st.floats(min_value=0.0, max_value=1.0),
    ),
)


@deterministic
@given(st.lists(queries, max_size=30), st.lists(docs, min_size=1, max_size=5), frequency_tables)
def test_the_matcher_matches_what_the_naive_loop_matches(
    rule_trees: list[Query], stories: list[MatchDoc], frequencies: dict[str, float] | None
) -> None:
    rules = [(f"r{i}", tree) for i, tree in enumerate(rule_trees)]
    compiled = Matcher.compile(rules, frequencies=frequencies)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matcher_module, "MAX_REMEMBERED", 4)  # the memo forgets now and then
        forgetful = Matcher.compile(rules, frequencies=frequencies)
        for doc in stories:  # several stories: the prefix memo carries over between them
            expected = naive(rules, doc)
            assert compiled.match(doc) == expected
            assert forgetful.match(doc) == expected


@deterministic
@given(queries, docs, frequency_tables)
def test_a_compiled_rule_is_its_evaluation(
    query: Query, doc: MatchDoc, frequencies: dict[str, float] | None
) -> None:
    assert compile_predicate(query, Selectivity(frequencies))(doc) is evaluate(query, doc)


@deterministic
@given(queries, docs)
def test_a_matching_story_meets_an_anchor_of_the_rule(query: Query, doc: MatchDoc) -> None:
    anchors = anchors_of(query, Selectivity(None))
    if anchors is not None and evaluate(query, doc):
        compiled = Matcher.compile([("rule", query)])
        assert compiled.candidates(doc) == {0}
