"""Tests for syndicator.fingerprint: property tests (hypothesis) and concrete examples."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from syndicator.fingerprint import (
    DEFAULT_COPY_THRESHOLD,
    DEFAULT_RELATED_THRESHOLD,
    SKETCH_SIZE,
    Fingerprint,
    fingerprint,
    is_copy,
    jaccard,
    line_keys,
    lsh_keys,
    similarity,
    title_keys,
    title_similarity,
    title_tokens,
)
from tests.fuzzing import budget

# The same examples on every run in CI; `make fuzz` searches longer (tests/fuzzing.py).
deterministic = budget(200)

ANY_TEXT = st.text() | st.lists(
    st.sampled_from(["word", "Word,", " ", "\n", "\n\n", "\u2019", "\ud800", "\x00", "é", "—"])
    | st.text(max_size=6),
    max_size=60,
).map("".join)

ARTICLE = "\n\n".join(
    [
        "Kazakhstan declared a state of emergency in Almaty on Wednesday after protesters "
        "stormed the mayor's office and set it on fire, the interior ministry said.",
        "The unrest began at the weekend in the west of the country over a sharp rise in the "
        "price of liquefied petroleum gas, which many people use to fuel their cars.",
        "President Kassym-Jomart Tokayev accepted the resignation of the government and said "
        "that the cap on fuel prices would be restored for six months while talks went on.",
        "Police used tear gas and stun grenades against crowds of several thousand people in "
        "the main square, and internet access across the country was cut for most of the day.",
        "Russia and other members of a security alliance said they would send troops at the "
        "request of the president, a move that drew criticism from Western capitals.",
    ]
)

OTHER_ARTICLE = "\n\n".join(
    [
        "Wheat futures climbed to a two-month high in Chicago as dry weather across the "
        "southern plains threatened the winter crop and export demand stayed firm.",
        "Traders said the Agriculture Department's latest crop report showed a smaller share of "
        "the harvest in good or excellent condition than analysts had expected last week.",
        "Corn and soybeans followed wheat higher, while the dollar's fall against the euro made "
        "American grain cheaper for buyers in Europe, North Africa and the Middle East.",
    ]
)

BOILERPLATE = "\n\n".join(
    [
        "Home / World / Asia",
        "Share this",
        "Advertisement",
        "ALMATY (Reuters) - " + ARTICLE.split("\n\n")[0],
        ARTICLE.split("\n\n")[1],
        ARTICLE.split("\n\n")[2],
        "Read more: Oil prices jump as Kazakhstan unrest spreads",
        "Leave a Reply Cancel reply",
        "© 2024 Steppe Wire. All rights reserved.",
    ]
)


# ---------------------------------------------------------------------------------------------
# Properties.


@deterministic
@given(ANY_TEXT)
@example("")
@example("   \n\n  ")
@example("one")
@example("\ud800\udfff lone surrogates \x00")
def test_fingerprint_never_raises_and_round_trips(text: str) -> None:
    fp = fingerprint(text)

    assert Fingerprint.from_bytes(fp.to_bytes()) == fp
    assert len(fp.hashes) <= SKETCH_SIZE
    assert list(fp.hashes) == sorted(set(fp.hashes))
    assert 0.0 <= similarity(fp, fp) <= 1.0
    assert isinstance(lsh_keys(fp), list)
    assert isinstance(line_keys(text), list)
    assert isinstance(title_keys(title_tokens(text)), list)


@deterministic
@given(ANY_TEXT, ANY_TEXT)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    fa, fb = fingerprint(a), fingerprint(b)

    assert similarity(fa, fb) == similarity(fb, fa)
    assert 0.0 <= similarity(fa, fb) <= 1.0
    assert 0.0 <= jaccard(fa, fb) <= 1.0
    assert 0.0 <= title_similarity(title_tokens(a), title_tokens(b)) <= 1.0


@deterministic
@given(ANY_TEXT.filter(lambda t: any(ch.isalnum() for ch in t)))
def test_identical_text_is_similarity_one(text: str) -> None:
    assert similarity(fingerprint(text), fingerprint(text)) == 1.0


# ---------------------------------------------------------------------------------------------
# Concrete examples.


def test_fingerprint_is_deterministic_across_processes() -> None:
    # Python's str hash() is salted per process; a stored fingerprint must survive a restart.
    code = (
        "from syndicator.fingerprint import fingerprint, title_keys, title_tokens;"
        "print(fingerprint('Police used tear gas against crowds in Almaty today').to_bytes().hex(),"
        " title_keys(title_tokens('Kazakhstan unrest: police use tear gas')))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }

    assert len(runs) == 1


def test_empty_text_matches_nothing() -> None:
    empty = fingerprint("")

    assert empty.is_empty
    assert lsh_keys(empty) == []
    assert similarity(empty, empty) == 0.0
    assert similarity(empty, fingerprint(ARTICLE)) == 0.0


def test_a_copy_with_boilerplate_dateline_and_truncation_is_a_copy() -> None:
    original, copy = fingerprint(ARTICLE), fingerprint(BOILERPLATE)

    assert similarity(original, copy) >= 0.8
    assert is_copy(original, copy)
    assert set(lsh_keys(original)) & set(lsh_keys(copy))


def test_unrelated_articles_score_low() -> None:
    assert similarity(fingerprint(ARTICLE), fingerprint(OTHER_ARTICLE)) < 0.1
    assert not is_copy(fingerprint(ARTICLE), fingerprint(OTHER_ARTICLE))


def test_a_short_teaser_is_not_contained_in_every_article_that_quotes_it() -> None:
    teaser = fingerprint("Read more: Kazakhstan declared a state of emergency")

    assert similarity(teaser, fingerprint(ARTICLE)) < DEFAULT_COPY_THRESHOLD


def test_learned_boilerplate_lines_are_skipped() -> None:
    banner = (
        "We use cookies to ensure that we give you the best experience on our website.\n\n"
        "Your email address will not be published and required fields are marked with a star.\n\n"
        "Save my name, email, and website in this browser for the next time I comment here."
    )
    page_a = banner + "\n\n" + ARTICLE
    page_b = banner + "\n\n" + "Short table\n\nShr 71 cts vs 43 cts\n\nNet 7.2 mln vs 4.4 mln"
    learned = set(line_keys(banner))

    assert similarity(fingerprint(page_a), fingerprint(page_b)) >= DEFAULT_COPY_THRESHOLD
    assert (
        similarity(
            fingerprint(page_a, boilerplate=learned), fingerprint(page_b, boilerplate=learned)
        )
        < DEFAULT_COPY_THRESHOLD
    )


def test_huge_text_costs_only_its_lead() -> None:
    huge = ARTICLE + "\n\n" + "filler words go here again " * 200_000

    assert fingerprint(huge) == fingerprint(huge[: len(ARTICLE) + 10_000])


def test_from_bytes_rejects_foreign_bytes() -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        Fingerprint.from_bytes(b"\x01")
    with pytest.raises(ValueError, match="fingerprint"):
        Fingerprint.from_bytes(fingerprint(ARTICLE).to_bytes()[:-1])


def test_title_tokens_drop_stopwords_punctuation_and_plural() -> None:
    assert title_tokens("The Apple's new iPhones: what we know") == frozenset(
        {"apple", "iphone", "know"}
    )


def test_headlines_of_one_event_are_related_but_others_are_not() -> None:
    a = title_tokens("Kazakhstan declares state of emergency after Almaty protests")
    b = title_tokens("State of emergency declared in Kazakhstan's Almaty as protests grow")
    c = title_tokens("Wheat futures climb on dry weather in the plains")

    assert title_similarity(a, b) >= DEFAULT_RELATED_THRESHOLD
    assert title_similarity(a, c) == 0.0
    assert set(title_keys(a)) & set(title_keys(b))
