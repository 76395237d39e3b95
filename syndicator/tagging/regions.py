"""Region tagging: which countries a story is about (focus) and which it names in passing.

What it does: finds place names in a story's title, dateline and text with a gazetteer of
countries, demonyms, capitals, large cities, US states and curated aliases (English and
Cyrillic), weighs every occurrence by where it is, and returns ISO 3166-1 alpha-2 country tags
rolled up to UN M49 sub-regions and continents, each with a score and its evidence.

How it reads a name, in order:
1. Longest name first ("Papua New Guinea" before "Guinea", "New Mexico" before "Mexico"), and
   names that are not places at all ("Latin America", "Indian Ocean", "Morgan Stanley") are
   matched so that the country inside them is not read.
2. Case matters: "Turkey" is a country, "turkey" is not. An all-capitals title is read as
   title case first.
3. A city, a state or a name that is also a person's name ("Jordan", "Chad") is skipped when
   another capitalised name stands right next to it ("Michael Jordan", "Stanley Works").
4. A city that is a common word ("Nice", "Reading") or a person's name ("Stanley") counts only
   with support: its country named elsewhere, a following ", Texas", a place noun or a local
   one ("Sydney Airport", "Perth woman"), a context word of its reading ("Epsom" for
   Surrey), or the dateline. So do the cities of a headline written in title case, unless a
   preposition stands before them ("Two Dead In Houston Shooting"). A common word opening a
   sentence is the word ("Mobile networks...").
5. "listed in Luxembourg" and the like (a bond listing, a registered office) are not evidence.
6. An ambiguous name ("Georgia", "Congo") takes the reading whose context words the text has,
   then the reading whose country the text names elsewhere, then the first.
7. Cyrillic names are matched with their case endings and suffixes (Russian "России",
   Ukrainian "Україною", Kazakh "Қазақстанның"), and Russian and Ukrainian adjectives by stem
   ("российские", "російські"). Country names in other languages are in the gazetteer as
   written ("Allemagne", "Rosja"), and French and Italian elision is read ("l'Ukraine").

Focus versus mention: the dateline, the title, the lead and repeated mentions add up to a
score per country; a country with enough of it is the focus, any other named country is a
mention. A source's region prior is weak evidence: it adds a little to that country.

What it does not do: no I/O besides reading its own package data (`data/gazetteer.json`,
built by scripts/build_gazetteer.py, and `data/aliases.toml`), no clock, no network.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from operator import itemgetter
from typing import Any, Final

import pycountry

from syndicator.models import REGION_CODE_ALIASES, Tag, TagKind
from syndicator.tagging.text import (
    CYRILLIC_LOWER,
    CYRILLIC_UPPER,
    StoryText,
    readable_title,
    split_words,
    story_text,
    word_set,
)

# UN M49 (unstats.un.org/unsd/methodology/m49): continents and their sub-regions, by name.
M49_CONTINENTS: tuple[str, ...] = ("Africa", "Americas", "Asia", "Europe", "Oceania")
M49_SUBREGIONS: tuple[str, ...] = (
    "Northern Africa", "Sub-Saharan Africa", "Eastern Africa", "Middle Africa",
    "Southern Africa", "Western Africa", "Latin America and the Caribbean", "Caribbean",
    "Central America", "South America", "Northern America", "Central Asia", "Eastern Asia",
    "South-eastern Asia", "Southern Asia", "Western Asia", "Eastern Europe", "Northern Europe",
    "Southern Europe", "Western Europe", "Australia and New Zealand", "Melanesia",
    "Micronesia", "Polynesia",
)  # fmt: skip
# The two M49 groupings between a sub-region and its continent: a Kenyan story is also in
# Sub-Saharan Africa, a Brazilian one in Latin America and the Caribbean.
M49_GROUPINGS: dict[str, str] = {
    "Eastern Africa": "Sub-Saharan Africa",
    "Middle Africa": "Sub-Saharan Africa",
    "Southern Africa": "Sub-Saharan Africa",
    "Western Africa": "Sub-Saharan Africa",
    "Caribbean": "Latin America and the Caribbean",
    "Central America": "Latin America and the Caribbean",
    "South America": "Latin America and the Caribbean",
}

# How much one occurrence counts, by what the name is.
KIND_WEIGHT: dict[str, float] = {
    "country": 1.0,
    "demonym": 1.0,
    "capital": 1.0,
    "city": 0.8,
    "state": 0.8,
    "institution": 0.7,
    "leader": 0.7,
    "lowercase": 0.5,
}
DATELINE_BONUS = 4.0
TITLE_BONUS = 3.0
LEAD_BONUS = 1.0
PRIOR_BONUS = 1.0
LOWERCASE_CAP = 2.0  # "yen" forty times in a currency report is still one hint, not forty
FOCUS_MIN = 2.5  # the dateline alone, the title alone, or the lead and two more mentions
# When the dateline names a country, another country not in the title needs more: wire
# stories name many countries in passing (tuned on Reuters-21578 reut2-000..005).
FOCUS_BESIDE_DATELINE_MIN = 3.5
# The country named most is the focus even below FOCUS_MIN: a story is about somewhere.
TOP_FOCUS_MIN = 0.5
LEAD_WORDS = 50
_LEAD_KINDS = frozenset(("country", "demonym", "capital", "city", "state"))
CITY_SIZE_RATIO = 10  # a city ten times smaller than its namesake needs context words
SCORE_SCALE = 3.0  # score = 1 - exp(-raw / SCORE_SCALE): focus starts at 0.63

# Cyrillic as the region's outlets write it: Russian, Ukrainian, Belarusian, Kazakh, Kyrgyz.
_CYRILLIC = re.compile(r"[а-яёА-ЯЁіїєґўІЇЄҐЎқғүұәөһңҚҒҮҰӘӨҺҢ]")
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")  # kana and CJK ideographs
_KATAKANA = frozenset(map(chr, range(0x30A1, 0x30FB))) | {"ー"}  # not "・", a word break
_RU_LOWER = CYRILLIC_LOWER
_RU_UPPER = CYRILLIC_UPPER
# Quotes, brackets, dashes and hyphens separate words like spaces do: '"Kazakhstan"' is
# 'Kazakhstan', "Russia-Ukraine" is two names, and "Guinea-Bissau" is stored as two words.
_TOKEN_ENDINGS = ("", ".", ",", "'s", "’s")  # how names end in running text
# French and Italian elide "le", "la", "de" before a vowel: "l'Ukraine", "d'Israël", "l'Italia".
_ELISIONS = ("l'", "d'", "L'", "D'", "l’", "d’", "L’", "D’")
_VOWELS = frozenset("AEIOUYÀÁÂÄÉÈÊËÎÏÍÓÔÖÚÜ")
_LEADING = "\"'“‘«([{*"
# Words that end a company's name: a place name right before one is the firm's ("Whitehall
# Corp", "Sydney Holdings Ltd"), not the place.
_FIRM_SUFFIXES = word_set(
    "Corp Corporation Inc Incorporated Ltd Limited Co Plc PLC Holdings Bancorp LLC AG GmbH"
)
# Nouns after a city that make it the place, even where its name needs support: a given name
# or a common word is not followed by these ("Sydney Airport", "Reading Police", "Luton Town").
_PLACE_NOUNS = word_set("Airport Harbour Harbor Police Council Mayor Zoo Town")
# "Montgomery County": a county named after its city, in the countries that name them so
# (Leon County is Florida's, not Mexico's León).
_COUNTY_COUNTRIES = frozenset(("US", "GB", "KE", "TW", "CN"))
# Lower-case nouns after a city that local news puts there ("Sydney siblings", "Perth
# woman", "Darwin teen charged"): a person's name is followed by a surname or a verb.
_LOCAL_NOUNS = word_set(
    "man men woman women teen teens teenager teenagers boy boys girl girls couple mum mother "
    "dad father family families siblings resident residents home homes suburb suburbs "
    "school schools hospital beach beaches harbour harbor train trains police mayor council "
    "landlord landlords tenants renters commuters"
)
# In a Headline Case title, prepositions before a city that make it the place, where the
# capital of the next word says nothing ("Two Dead In Houston Shooting", "Fire in Paris
# Kills Three", and German, which capitalises every noun: "Explosion in München").
_PLACE_PREPOSITIONS = frozenset(("In", "Near", "Outside", "in", "near", "outside"))
# "anti-Israel comments", "pro-Russian separatists" (a hyphen splits words): the side a
# story's people take, a weak mention of that country wherever it stands.
_STANCE_WORDS = frozenset(("anti", "Anti", "ANTI", "pro", "Pro", "PRO"))
# A token ending so ends a sentence (";" stands for a paragraph's end in split text).
_SENTENCE_ENDS = frozenset(".!?:;")
# After a demonym, words that make it a language ("Spanish-language", "French-speaking",
# "Russian speakers"): a language is spoken far from its country.
_LANGUAGE_WORDS = word_set(
    "language languages speaking speaker speakers translation translations translated "
    "subtitles subtitled dubbed lessons"
)
# Words that end a phrase like "in Spanish": a noun would follow a demonym ("in Russian hands").
_CLAUSE_WORDS = word_set("and or with by as to for but on at than")
_TRAILING = ".,;:!?\"'”’»)]}…*"
_CURRENCY = word_set(
    "dollar dollars dlr dlrs cent cents currency franc francs crown crowns pound pounds mark marks"
)
_WEAK_VERBS = word_set(
    "listed quoted traded registered incorporated domiciled denominated payable redeemable listing"
)
_RU_ENDINGS = (
    "ами", "ями", "ого", "его", "ому", "ему", "ой", "ей", "ом", "ем", "ах", "ях", "ию", "ии",
    "ия", "а", "я", "у", "ю", "е", "и", "ы", "ь", "й", "о",
    # the instrumental of surnames in -ов, -ев, -ин: "с Токаевым", "с Путиным"
    "ым",
    # Ukrainian: "Україною", "Росією", "Китаєм", "Україні", "Росії"
    "ою", "єю", "єм", "і", "ї",
    # Kazakh and Kyrgyz suffixes, added to the whole name: "Қазақстанның", "Ресейде"
    "ның", "нің", "дың", "дің", "тың", "тің", "нын", "нин", "дын", "дин", "тын", "тин",
    "дан", "ден", "тан", "тен", "нан", "нен", "мен", "бен", "пен",
    # and where: "Тараздағы зауыт", "Алматыдағы", "Шымкенттегі"
    "дағы", "дегі", "тағы", "тегі",
    "ға", "ге", "қа", "ке", "га", "ка", "да", "де", "та", "те", "ны", "ні", "ды", "ді", "ты", "ті",
)  # fmt: skip
_RU_STEM_MIN = 4
# Polish, Czech, Slovak and Croatian case endings, longest first ("Ukrainie", "Rosję",
# "Německu", "Chinach"), read only in text with those languages' letters.
_SLAVIC_LATIN_ENDINGS = (
    "ach", "ami", "ách", "ích", "ům", "om", "em", "ie", "ii", "ji", "ją", "ję", "ou", "oj",
    "i", "y", "ę", "ą", "u", "a", "e", "ě", "o", "í", "é", "",
)  # fmt: skip
# (Slovak's own too: "v Turecku a Sýrii" has no other.) Or the feed declares the language:
# "Prezident hovoril v Rusku o vojne na Ukrajine" is all ASCII.
_SLAVIC_LATIN_LANGUAGES = frozenset(("pl", "cs", "sk", "hr", "sl", "bs", "sr"))
_SLAVIC_LATIN_LETTERS = re.compile("[ąęłńśźżěůřčšžćđýľĺŕťďňĄĘŁŃŚŹŻĚŮŘČŠŽĆĐÝĽĹŔŤĎŇ]")
# Turkish writes a name's suffixes after an apostrophe: "Türkiye'de", "Rusya'nın".
_TURKISH_LETTERS = re.compile("[ğşıİĞŞ]")
# An American politician's party and state: "Sen. Steve Daines (R-Mont.)", "(D-N.Y.)",
# "Rep. James Comer, R-Ky., said". Two patterns, each led by a literal that the regex engine
# can skip to: one alternation "(?:\(|, )" tried at every character cost 5 us a story.
_PARTY_STATE = (
    re.compile(r"\([RDI]-([A-Z][A-Za-z.]{1,8}?)\)"),
    re.compile(r", [RDI]-([A-Z][A-Za-z.]{1,8}?),"),
)
_MONTHS = (
    "January February March April May June July August September October November December "
    "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec"
)
# Capitalised words that are not names: sentence starts, days, months. A place next to them is
# still a place ("In Jordan", "On Monday Georgia").
_NOT_NAMES = word_set(
    "In The At From For On And But By With To Of As After Before While When Where Since "
    "Across Near Outside Inside Like Both All Many Some Only Even Also Via Than That This "
    "These Those Is Was Are Were It Its He She They We I A An Not No Why How What Who "
    "Meanwhile However Neither Nor Or If Under Over Between Against Amid Among During "
    "Until Despite Through Throughout Into Onto Upon Within Without About Above Below "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Today Yesterday Tomorrow "
    "Breaking Update Updated Live Watch Video Photos Analysis Opinion Exclusive "
    # Headline openers before a place: "Top Maine elections official", "Former Ohio Gov."
    "Top Former Ex Senior Acting Veteran Rural Several Most Every Each Another Two Three Four "
    "Five Six Ten Dozens Hundreds Thousands " + _MONTHS
)
# Words that follow or precede a place inside a longer name that is still about the place:
# "Tokyo Stock Exchange", "Jordan Valley", "Mayor of London", "Georgia State".
_PLACE_WORDS = word_set(
    "Stock Exchange City Province Region Oblast Airport Police Mayor Court Olympics Games "
    "Summit Conference Metro Port Harbour Harbor Bay River Sea Lake Valley Canal "
    "Declaration Agreement Accord Accords Protocol Treaty Talks Process Embassy Consulate "
    "Government Administration Office Parliament Assembly Council Governor Prime President "
    "Minister Ministry Foreign Defence Defense Army Navy Air Force Forces Central National "
    "Federal State Supreme Republic Islands Island Street Square Cup Federation Union "
    "North South East West Northern Southern Eastern Western Upper Lower Greater "
    "Capital Senate House Legislature Election Elections Prefecture County "
    "District Municipality Mountains Coast Peninsula Gulf Strait Border Crisis War Cabinet "
    # A city's landmarks ("Gaziantep Castle", "Aleppo Citadel", "Manchester Arena").
    "Castle Citadel Fortress Mosque Cathedral Palace Museum Stadium Arena "
    # A city's communities ("San Francisco Jewish center", "Birmingham Muslim leaders").
    "Jewish Muslim Catholic Islamic Orthodox Hindu Sikh Buddhist Anglican "
    "Says Said "
    # Officials, bodies and clubs named after the place they serve ("Vermont Gov. Phil Scott",
    # "Ohio Sen.", "Texas Democrats", "Blackburn Rovers").
    "Gov Sen Rep Lt AG Sheriff Attorney Governors Lawmakers Legislators Officials Authorities "
    "Democrats Republicans Democrat Republican Democratic Senator Senators Congressman "
    "Congresswoman Lawmaker Legislator Dem Dems GOP Voters Residents Schools School "
    "University Department Hospital Firefighters Judge Prosecutors Zoo United Rovers "
    "Athletic Wanderers Albion Town "
    "FTSE CAC DAX Nikkei Sensex Hang"  # "the London FTSE 100", "the Paris CAC 40"
) | word_set(
    # Clubs are their city's: the words of North American teams' names after the city
    # ("Philadelphia Eagles", "Boston Red Sox", "Toronto Maple Leafs") and those before a
    # European club's city ("Real Madrid", "Bayern Munich").
    "Cardinals Falcons Ravens Bills Panthers Bears Bengals Browns Cowboys Broncos Lions "
    "Packers Texans Colts Jaguars Chiefs Raiders Chargers Rams Dolphins Vikings Patriots "
    "Saints Giants Jets Eagles Steelers 49ers Seahawks Buccaneers Titans Commanders Hawks "
    "Celtics Nets Hornets Bulls Cavaliers Mavericks Nuggets Pistons Warriors Rockets Pacers "
    "Clippers Lakers Grizzlies Heat Bucks Timberwolves Pelicans Knicks Thunder Magic 76ers "
    "Suns Trail Kings Spurs Raptors Jazz Wizards Diamondbacks Braves Orioles Red White Blue "
    "Cubs Reds Guardians Rockies Tigers Astros Royals Angels Dodgers Marlins Brewers Twins "
    "Mets Yankees Athletics Phillies Pirates Padres Mariners Rays Rangers Nationals Ducks "
    "Coyotes Bruins Sabres Flames Hurricanes Blackhawks Avalanche Stars Oilers Wild "
    "Canadiens Predators Devils Islanders Senators Flyers Penguins Sharks Kraken Blues "
    "Lightning Maple Canucks Golden Capitals "
    "Real Inter Atletico Sporting Dynamo Dinamo Lokomotiv Spartak Olympique Borussia Bayern"
)


@dataclass(frozen=True, slots=True)
class Reading:
    """One thing a name can mean: a country code, what kind of name it is, and its context."""

    code: str
    kind: str
    population: int = 0
    context: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlaceName:
    """A name in the gazetteer with its readings, the first being the default."""

    text: str
    readings: tuple[Reading, ...]
    needs_support: bool = False
    person_like: bool = False
    # A common English word ("Mobile", "Reading", "Split"), as the build found: its capital
    # at the start of a sentence says nothing.
    common_word: bool = False

    @property
    def is_place(self) -> bool:
        return bool(self.readings)


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name: str
    subregion: str
    continent: str


@dataclass(slots=True)
class Gazetteer:
    """Every known name, indexed for one pass over a text. Build it with `load_gazetteer`."""

    countries: dict[str, Country]
    single: dict[str, PlaceName] = field(default_factory=dict)
    # (first word, second word) -> (the other words, name), longest first
    multi: dict[tuple[str, str], list[tuple[tuple[str, ...], PlaceName]]] = field(
        default_factory=dict
    )
    stems: dict[str, PlaceName] = field(default_factory=dict)  # Russian names without ending
    # Chinese and Japanese names, found by substring (no spaces between words); a name
    # without readings is a longer word that holds one ("印度洋", the Indian Ocean)
    cjk: dict[str, PlaceName] = field(default_factory=dict)
    cjk_pattern: re.Pattern[str] | None = None
    # Polish, Czech, Slovak, Croatian names without their ending ("Rosj" for "Rosja")
    latin_stems: dict[str, PlaceName] = field(default_factory=dict)
    lowercase: dict[str, PlaceName] = field(default_factory=dict)
    lower_prefixes: dict[str, list[tuple[str, PlaceName]]] = field(default_factory=dict)
    # Person-like names that are mostly the place: named without doubt in running text.
    mostly_places: frozenset[str] = frozenset()
    # every token that can start a name, as split from text: "Kazakhstan," "Russia's" "New"
    starts: frozenset[str] = frozenset()
    first_words: frozenset[str] = frozenset()  # of names of two words or more
    abbreviations: dict[str, PlaceName] = field(default_factory=dict)  # "N.J.", "Calif."
    # The abbreviations written with a full stop, as tokens after a place ("Calif.,").
    comma_states: frozenset[str] = frozenset()
    # Names written with "The" ("The Hague"), by their second word: after "the" that word is
    # the place even where alone it needs support ("William Hague").
    after_the: dict[str, str] = field(default_factory=dict)
    # M49 sub-region -> its continent ("" for a continent): what a region named in text
    # ("Central Asian leaders") rolls up to.
    region_parents: dict[str, str] = field(default_factory=dict)

    def add(self, name: PlaceName) -> None:
        """Add or replace a name (call `finish` once after the last)."""
        if not name.text[:1].isupper():
            return  # names are capitalised; lower-case hints live in `lowercase`
        first, *rest = split_words(name.text)
        if rest and first in _NOT_NAMES:
            # "The Hague", "A Coruña": read from the second word, so that "The", "A" and "He"
            # (a fifth of all capitalised words) never start a lookup.
            article, (first, *rest) = first, rest
            if article == "The" and not rest and name.readings:
                self.after_the[first] = name.readings[0].code
        if rest:
            self.multi.setdefault((first, rest[0]), []).append((tuple(rest[1:]), name))
            return
        self.single[name.text] = name
        if _CYRILLIC.search(name.text[-1:]):
            self.stems[_russian_stem(name.text)] = name
            if name.text.endswith(("ів", "їв")):
                # Ukrainian closes the last syllable's vowel: "Київ", "Києві"; "Харків", "Харкова"
                opened = name.text[:-2] + ("ов" if name.text[-2] == "і" else "єв")
                self.stems.setdefault(opened, name)

    def finish(self) -> None:
        """Longest names first, and the last added of two equal names wins (curated data)."""
        for first, entries in self.multi.items():
            latest = dict(entries)
            self.multi[first] = sorted(latest.items(), key=lambda entry: -len(entry[0]))
        self.first_words = frozenset(first for first, _ in self.multi)
        plain = (
            *(name + ending for name in self.single for ending in _TOKEN_ENDINGS),
            *(first for first, _ in self.multi),
        )
        elided = (
            elision + form
            for form in plain
            if form[:1] in _VOWELS and form[-1:] not in "s"  # no elided possessives
            for elision in _ELISIONS
        )
        self.starts = frozenset((*plain, *elided))

    def lookup(self, text: str) -> PlaceName | None:
        """The name spelled exactly so, if the gazetteer has it (tests and `explain`)."""
        first, *rest = split_words(text) or [""]
        if not rest:
            return self.single.get(first)
        entries = self.multi.get((first, rest[0]), [])
        return next((name for words, name in entries if list(words) == rest[1:]), None)


def _russian_stem(name: str) -> str:
    return name[:-1] if name[-1] in "аяьйоеыи" else name


def _latin_stem(name: str) -> str:
    return name.rstrip("aeiouyáéíóúýě")


@dataclass(slots=True)
class _Occurrence:
    name: PlaceName
    index: int  # the token it starts at
    where: str  # "dateline", "title" or "body"
    support: str = ""  # the code a following ", Texas" gives it
    stance: bool = False  # after "anti-" or "pro-": a side taken, not a place (`_count`)


@dataclass(slots=True)
class _Evidence:
    raw: float = 0.0
    lowercase: float = 0.0
    dateline: str = ""
    title: str = ""
    lead: str = ""
    prior: bool = False
    # A plain dict, not a Counter: a story makes several of these, and a Counter's
    # constructor (Python code) cost more than the rest of the evidence together.
    mentions: dict[str, int] = field(default_factory=dict)


# -- loading ------------------------------------------------------------------------------


@cache
def load_gazetteer() -> Gazetteer:
    """The compiled gazetteer from the package data (cached: built once per process)."""
    data_dir = resources.files("syndicator.tagging").joinpath("data")
    compiled = json.loads(data_dir.joinpath("gazetteer.json").read_text(encoding="utf-8"))
    aliases = tomllib.loads(data_dir.joinpath("aliases.toml").read_text(encoding="utf-8"))
    cjk = json.loads(data_dir.joinpath("cjk.json").read_text(encoding="utf-8"))["names"]
    return build_gazetteer(compiled, aliases, cjk)


def build_gazetteer(
    compiled: Mapping[str, Any], aliases: Mapping[str, Any], cjk: Mapping[str, str] | None = None
) -> Gazetteer:
    """A gazetteer from the compiled data and the curated aliases (which win on a clash);
    `cjk`: Chinese and Japanese country names (`cjk.json`)."""
    countries = {
        code: Country(code, name, subregion, continent)
        for code, (name, subregion, continent) in compiled["countries"].items()
    }
    gazetteer = Gazetteer(countries)
    needs_support = set(aliases.get("needs_support", {}).get("names", []))
    person_like = set(aliases.get("person_like", {}).get("names", []))
    for text, readings in compiled["names"].items():
        common_word = any(len(r) > 3 for r in readings)
        gazetteer.add(
            PlaceName(
                text,
                tuple(Reading(code, kind, population) for code, kind, population, *_ in readings),
                needs_support=text in needs_support or common_word,
                person_like=text in person_like,
                common_word=common_word,
            )
        )
    for name in _curated_names(aliases, needs_support, person_like):
        gazetteer.add(name)
    gazetteer.mostly_places = frozenset(aliases.get("person_like", {}).get("mostly_places", []))
    _add_russian_declensions(gazetteer)
    gazetteer.finish()
    _add_latin_stems(gazetteer, compiled.get("inflected_latin", ()))
    gazetteer.region_parents = _region_parents(countries)
    _add_lowercase(gazetteer, aliases.get("lowercase", {}))
    gazetteer.abbreviations = {
        form: PlaceName(text, (Reading(code, "state"),))
        for text, code in aliases.get("abbreviation", {}).items()
        for form in (text, text.rstrip("."))  # "Fla." and "Fla"
    }
    gazetteer.comma_states = frozenset(
        text + mark
        for text in aliases.get("abbreviation", {})
        if text.endswith(".")
        for mark in ("", ",", ";", ":")
    )
    _add_cjk(gazetteer, {**(cjk or {}), **aliases.get("cjk", {})})
    return gazetteer


def _add_cjk(gazetteer: Gazetteer, names: Mapping[str, str]) -> None:
    """Index the Chinese and Japanese names for one regex pass, longest first (so that
    印度尼西亚 is Indonesia, not India, and 印度洋 the ocean it holds)."""
    gazetteer.cjk = {
        text: PlaceName(text, (Reading(code, "country"),) if code else ())
        for text, code in names.items()
    }
    if names:
        gazetteer.cjk_pattern = re.compile(_trie_pattern(list(names)))


def _trie_pattern(words: list[str]) -> str:
    """One regex for many literal words, as a trie ("印度(?:尼西亚|洋)?"): a word tried at
    each position is found after a few character tests, not one per word (a 1,500-character
    Chinese story: 64 us against 244 for a flat alternation of the 900 names), and the
    longest word at a position wins."""
    by_first: dict[str, list[str]] = {}
    for word in words:
        by_first.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in sorted(by_first.items()):
        longer = sorted((rest for rest in rests if rest), key=lambda rest: (-len(rest), rest))
        inner = f"(?:{_trie_pattern(longer)}){'?' if '' in rests else ''}" if longer else ""
        parts.append(re.escape(first) + inner)
    return "|".join(parts)


# Russian two-word names, adjective and noun, in the oblique cases: (adjective ending, its
# case forms) and (noun ending, its case forms), the cases in the same order (genitive,
# dative, accusative, instrumental, prepositional) so that they pair up.
_RU_ADJECTIVE_CASES: Final = (
    ("ая", ("ой", "ой", "ую", "ой", "ой")),
    ("ое", ("ого", "ому", "ое", "ым", "ом")),
    ("ый", ("ого", "ому", "ый", "ым", "ом")),
    ("ий", ("ого", "ому", "ий", "им", "ом")),
)
_RU_NOUN_CASES: Final = (
    ("ия", ("ии", "ии", "ию", "ией", "ии")),
    ("я", ("и", "е", "ю", "ей", "е")),
    ("а", ("ы", "е", "у", "ой", "е")),
    ("о", ("а", "у", "о", "ом", "е")),
    ("", ("а", "у", "", "ом", "е")),
)
_TWO_RUSSIAN_WORDS = re.compile(r"[А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+")


def _add_russian_declensions(gazetteer: Gazetteer) -> None:
    """'Южной Корее', 'Саудовскую Аравию', 'Южного Судана': the two-word Russian names
    (adjective and noun) in their oblique cases, which the stems of single names miss."""
    names = [
        name
        for names in gazetteer.multi.values()
        for _, name in names
        if name.readings and _TWO_RUSSIAN_WORDS.fullmatch(name.text)
    ]
    for name in names:
        for form in _russian_case_forms(name.text):
            if gazetteer.lookup(form) is None:
                gazetteer.add(PlaceName(form, name.readings, name.needs_support))


def _russian_case_forms(text: str) -> list[str]:
    adjective, noun = text.split(" ")
    adjective_cases = next((c for end, c in _RU_ADJECTIVE_CASES if adjective.endswith(end)), ())
    if not adjective_cases:
        return []
    if adjective.endswith("ний"):  # soft: "Нижний" -> "Нижнего"
        adjective_cases = ("его", "ему", "ий", "им", "ем")
    noun_end, noun_cases = next((e, c) for e, c in _RU_NOUN_CASES if noun.endswith(e))
    if noun_end == "а" and noun[-2:-1] in "гкхжшчщ":  # "Республика" -> "Республики"
        noun_cases = ("и", *noun_cases[1:])
    adjective_stem = adjective[:-2]
    noun_stem = noun[: len(noun) - len(noun_end)]
    if noun_end == "" and noun[-1:] in "йь":
        return []  # other declensions; rare among place names
    return [
        f"{adjective_stem}{a} {noun_stem}{n}"
        for a, n in zip(adjective_cases, noun_cases, strict=True)
    ]


def _add_latin_stems(gazetteer: Gazetteer, texts: Iterable[str]) -> None:
    """Index the Polish, Czech, Slovak and Croatian names by stem (not given names)."""
    for text in texts:
        found = gazetteer.single.get(text)
        if found is not None and not found.person_like and len(stem := _latin_stem(text)) >= 4:
            gazetteer.latin_stems.setdefault(stem, found)


def _region_parents(countries: Mapping[str, Country]) -> dict[str, str]:
    parents = dict.fromkeys(M49_CONTINENTS, "")
    for country in countries.values():
        if country.subregion:
            parents.setdefault(country.subregion, country.continent)
    # The two M49 groupings no country names as its own sub-region.
    parents |= {"Latin America and the Caribbean": "Americas", "Sub-Saharan Africa": "Africa"}
    return parents


def _curated_names(
    aliases: Mapping[str, Any], needs_support: set[str], person_like: set[str]
) -> Iterator[PlaceName]:
    for kind in ("country", "institution", "leader", "region", "city", "state"):
        for text, code in aliases.get(kind, {}).items():
            readings: tuple[Reading, ...] = (Reading(code, kind),) if code else ()
            yield PlaceName(text, readings, text in needs_support, text in person_like)
    for text in aliases.get("not_a_place", {}).get("names", []):
        yield PlaceName(text, ())
        if (headline := _headline_case(text)) != text:  # "Mexican Restaurant" in a title
            yield PlaceName(headline, ())
    for entry in aliases.get("ambiguous", []):
        readings = tuple(
            Reading(
                reading["code"],
                reading.get("kind", "country"),
                0,
                tuple(reading.get("context", ())),
            )
            for reading in entry["readings"]
        )
        text = entry["name"]
        yield PlaceName(text, readings, text in needs_support, text in person_like)


def _headline_case(text: str) -> str:
    """Every word of a name with a capital, as a Headline Case title writes it."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))


def _add_lowercase(gazetteer: Gazetteer, table: Mapping[str, str]) -> None:
    for text, code in table.items():
        name = PlaceName(text.rstrip("*"), (Reading(code, "lowercase"),) if code else ())
        if text.endswith("*"):
            gazetteer.lower_prefixes.setdefault(name.text[:5], []).append((name.text, name))
            continue
        # Tokens are split on whitespace, so "yen," and "yen." are keys too.
        for variant in (text, *(text + mark for mark in ".,;:)")):
            gazetteer.lowercase[variant] = name


# -- region identifiers ------------------------------------------------------------------------


@cache
def _country_names() -> dict[str, str]:
    # ISO codes from pycountry, readable names ("Russia", not "Russian Federation") from the
    # small countries.json the gazetteer build writes: config validation and publishing need
    # names, not the gazetteer's 30 MB of matching tables, in the main process.
    data_dir = resources.files("syndicator.tagging").joinpath("data")
    common = json.loads(data_dir.joinpath("countries.json").read_text(encoding="utf-8"))
    return {country.alpha_2: country.name for country in pycountry.countries} | {
        code: name for code, (name, *_) in common.items()
    }


@cache
def _m49_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in (*M49_CONTINENTS, *M49_SUBREGIONS)}


def resolve_region(identifier: str) -> str | None:
    """The canonical form of a region identifier, or None if it names no known region.

    An ISO 3166-1 alpha-2 code in any case resolves to upper case ("kz" -> "KZ"), "UK" to the
    United Kingdom's code "GB"; an M49 name in any case resolves to its official spelling
    ("central asia" -> "Central Asia").
    """
    text = identifier.strip()
    code = REGION_CODE_ALIASES.get(text.upper(), text.upper())
    if len(text) == 2 and code in _country_names():
        return code
    return _m49_by_folded_name().get(text.casefold())


def known_regions() -> tuple[str, ...]:
    """Every region identifier a filter may name: ISO codes, M49 sub-regions, continents."""
    return (*sorted(_country_names()), *M49_SUBREGIONS, *M49_CONTINENTS)


def region_label(code: str) -> str:
    """A readable name for a canonical region identifier (the code itself when unknown)."""
    return _country_names().get(code, code)


def region_rollup(code: str, gazetteer: Gazetteer | None = None) -> tuple[str, ...]:
    """The M49 sub-region, grouping and continent a country belongs to ("KZ" -> Central
    Asia, Asia; "KE" -> Eastern Africa, Sub-Saharan Africa, Africa)."""
    country = (gazetteer or load_gazetteer()).countries.get(code)
    if country is None:
        return ()
    grouping = M49_GROUPINGS.get(country.subregion, "")
    return tuple(part for part in (country.subregion, grouping, country.continent) if part)


def countries_in(region: str, gazetteer: Gazetteer | None = None) -> tuple[str, ...]:
    """The country codes inside a region identifier (itself for a country code)."""
    table = (gazetteer or load_gazetteer()).countries
    if region in table:
        return (region,)
    return tuple(
        sorted(
            code
            for code, c in table.items()
            if region in (c.subregion, M49_GROUPINGS.get(c.subregion), c.continent)
        )
    )


# -- tagging -------------------------------------------------------------------------------


def tag_regions(
    gazetteer: Gazetteer,
    title: str,
    text: str,
    *,
    place: str = "",
    prior: str = "",
) -> tuple[Tag, ...]:
    """Region tags of one story: countries (focus or mention), then their M49 roll-ups.

    `place` is a dateline place already split off the text ("ALMATY"); a dateline at the start
    of `text` is found here too. `prior` is the source's region code, weak evidence.
    """
    return regions_of(gazetteer, story_text(title, text, place), prior)


def regions_of(gazetteer: Gazetteer, story: StoryText, prior: str = "") -> tuple[Tag, ...]:
    """`tag_regions` for a story already split into words (shared with the topic tagger)."""
    title_tokens, body_tokens = story.title_words, story.body_words
    headline_cased = story.headline_cased
    body = _find(gazetteer, body_tokens, "body", story.body_counts)
    occurrences = [
        *_dateline_occurrences(gazetteer, story.place),
        *_find(gazetteer, title_tokens, "title", capitals_name=not headline_cased),
        *body,
        *_party_states(gazetteer, story.title, "title"),
        *_party_states(gazetteer, story.body, "body"),
        *(
            _comma_states(gazetteer, body_tokens, story.body_counts, body)
            if _COMMA_STATE.search(story.body)
            else ()
        ),
    ]
    if not (story.title.isascii() and story.body.isascii()) and _CYRILLIC.search(
        f"{story.title} {story.body}"
    ):
        for tokens, where in ((title_tokens, "title"), (body_tokens, "body")):
            occurrences += _inflected_tokens(
                gazetteer,
                tokens,
                where,
                _russian_token,
                _is_cyrillic_capital,
                skip=_words_of_names(occurrences, where),
            )
        occurrences += _cyrillic_adjectives(gazetteer, [*title_tokens, *body_tokens])
    elif (slavic := story.declared[:2] in _SLAVIC_LATIN_LANGUAGES) or not (
        story.title.isascii() and story.body.isascii()  # a headline alone, too
    ):
        text = f"{story.title} {story.body}"
        read = (
            _slavic_latin_token
            if slavic or _SLAVIC_LATIN_LETTERS.search(text)
            else _suffixed_token
            if story.declared[:2] == "tr" or _TURKISH_LETTERS.search(text)
            else None
        )
        if read is not None:
            # Not the words of a longer name read already: "na Zachodnim Brzegu Jordanu" (the
            # West Bank of the river) names no Jordan.
            for tokens, where in ((title_tokens, "title"), (body_tokens, "body")):
                occurrences += _inflected_tokens(
                    gazetteer, tokens, where, read, skip=_words_of_names(occurrences, where)
                )
    if not (story.title.isascii() and story.body.isascii()):
        occurrences += _cjk_occurrences(gazetteer, story.title, "title")
        occurrences += _cjk_occurrences(gazetteer, story.body, "body")
    evidence = _weigh(gazetteer, occurrences, story.body, headline_cased)
    _add_lowercase_hints(gazetteer, evidence, title_tokens, story.body_counts)
    if prior and prior in gazetteer.countries:
        evidence.setdefault(prior, _Evidence()).prior = True
    return _tags(gazetteer, evidence)


# A capitalised abbreviation with a full stop after a comma: the few stories that may have a
# "Place, St." (a C-speed scan; the token set is looked at only for those).
_COMMA_STATE = re.compile(r", (?:[A-Z][a-z]{1,4}|[A-Z]\.[A-Z][a-z]?)\.")


def _comma_states(
    gazetteer: Gazetteer, tokens: list[str], counts: Counter[str], found: list[_Occurrence]
) -> list[_Occurrence]:
    """'Manhattan Beach, Calif.', 'Kembla Grange, N.S.W.': a state's abbreviation after a
    place the gazetteer does not know (a known one, "Sacramento, Calif.", is read already,
    with the state as its support)."""
    hits = gazetteer.comma_states.intersection(counts)
    if not hits:
        return []
    read = {occurrence.index for occurrence in found}
    states = []
    for index in _positions(tokens, hits):
        previous = tokens[index - 1] if index > 0 else ""
        if not (previous.endswith(",") and previous[:1].isupper()):
            continue
        if read.intersection(range(index - 4, index)):
            continue  # the place before it was read, and the state with it
        name = gazetteer.abbreviations.get(tokens[index].rstrip(",;:"))
        if name is not None:
            states.append(_Occurrence(name, index, "body"))
    return states


def _party_states(gazetteer: Gazetteer, text: str, where: str) -> list[_Occurrence]:
    """The states of "(R-Mont.)" and ", D-N.Y.," after American politicians' names, by the
    abbreviations datelines use: often the only place a story about Washington politics
    names."""
    if "-" not in text:
        return []
    found = []
    matches = [match for pattern in _PARTY_STATE for match in pattern.finditer(text)]
    for match in sorted(matches, key=lambda match: match.start()):
        state = match.group(1)
        # A state written out ("R-Texas") is read as a name already; only the abbreviations
        # that datelines use are left to read here.
        name = gazetteer.abbreviations.get(state) or gazetteer.abbreviations.get(state.rstrip("."))
        if name is not None and name.readings and name.readings[0].code == "US":
            found.append(_Occurrence(name, text.count(" ", 0, match.start()), where))
    return found


def _dateline_occurrences(gazetteer: Gazetteer, place: str) -> list[_Occurrence]:
    """The dateline's place: its most specific known part wins ("PARIS, Texas" is the US,
    "RIDGEFIELD, N.J." is the US through the state, "ALMATY" is Kazakhstan)."""
    parts = [readable_title(part.strip(" *")) for part in place.split(",") if part.strip(" *")]
    names = [_dateline_name(gazetteer, part) for part in parts]
    for name in (*names[1:][::-1], *names[:1]):
        if name is not None and name.is_place:
            # "ATLANTA, Georgia": the state's reading that shares the city's country.
            city = names[0]
            support = (
                _reading_beside(name, city).code
                if len(name.readings) > 1 and city is not None and city is not name
                else ""
            )
            return [_Occurrence(name, 0, "dateline", support)]
    return []


def _dateline_name(gazetteer: Gazetteer, part: str) -> PlaceName | None:
    # .title(): "ILL." is too short for `readable_title`, "La paz" is a lower-cased wire
    # copy; names drop a leading "The" ("THE HAGUE").
    return (
        gazetteer.abbreviations.get(part)
        or gazetteer.abbreviations.get(part.title())
        or gazetteer.lookup(part)
        or gazetteer.lookup(part.title())
        or gazetteer.lookup(part.removeprefix("The "))
    )


def _find(
    gazetteer: Gazetteer,
    tokens: list[str],
    where: str,
    counts: Counter[str] | None = None,
    *,
    capitals_name: bool = True,
) -> list[_Occurrence]:
    """Every place name among the whitespace-split `tokens`, longest first, with the
    person-name and trap rules. `capitals_name`: whether a capitalised word says it is a name
    (not in a Headline Case or capitals title, where every word has a capital).

    Speed: a set intersection with every token form that can start a name (C speed) finds
    the few tokens worth reading; only those are looked at in Python.
    """
    hits = gazetteer.starts.intersection(tokens if counts is None else counts)
    if not hits:
        return []
    found: list[_Occurrence] = []
    covered = -1
    # "Atlanta, Georgia": the state after a city's comma is read as the city's (index, code).
    after_city = (-1, "")
    listed = -1  # where a name listed after a country stands ("Israel, Jordan", "Niger and Chad")
    for index in _positions(tokens, hits):
        if index <= covered:
            continue  # inside a longer name already read
        match = _match_at(gazetteer, tokens, index, tokens[index])
        if match is None:
            continue
        names, covered = match
        if (
            _weak_context(tokens, index)
            or _starts_a_sentence(names[0], tokens, index)
            or _names_a_currency(tokens, covered)
            or _names_a_language(names[0], tokens, index, covered)
            or _beside_a_name(
                gazetteer, names[0], tokens, index, covered, capitals_name=capitals_name
            )
        ):
            continue
        if index == after_city[0] and _has_reading(names[0], after_city[1]):
            support = after_city[1]
        elif index == listed and (support := _listed_country(names[0])):
            pass
        elif support := _following_support(gazetteer, names[0], tokens, covered):
            after_city = (covered + 1, support)
        else:
            support = (
                (
                    _listing_support(gazetteer, names[0], tokens, covered)
                    if names[0].person_like
                    else ""
                )
                or _noun_support(names[0], tokens, covered)
                or (
                    _person_like_support(names[0], tokens, index)
                    if capitals_name
                    else _preposition_support(names[0], tokens, index)
                )
                or _article_support(gazetteer, tokens, index)
            )
        if names[0].readings and names[0].readings[0].kind == "country":
            if tokens[covered].endswith(","):
                listed = covered + 1
            elif covered + 2 < len(tokens) and tokens[covered + 1] in ("and", "And", "&"):
                listed = covered + 2
        stance = index > 0 and tokens[index - 1] in _STANCE_WORDS
        found += [
            _Occurrence(name, index, where, support, stance) for name in names if name.is_place
        ]
    return found


def _positions(tokens: list[str], hits: AbstractSet[str]) -> list[int]:
    """The indices of every token in `hits`, in order: one pass over the tokens (a BBC
    story meets about six distinct name starts, eight times; a `list.index` scan per
    occurrence cost 2 us more a story)."""
    return [index for index, token in enumerate(tokens) if token in hits]


def _words_of_names(occurrences: Iterable[_Occurrence], where: str) -> set[int]:
    """The token indices inside the names of several words already read in `where`."""
    return {
        index
        for occurrence in occurrences
        if occurrence.where == where and len(words := split_words(occurrence.name.text)) > 1
        for index in range(occurrence.index, occurrence.index + len(words))
    }


def _inflected_tokens(
    gazetteer: Gazetteer,
    tokens: list[str],
    where: str,
    read: Callable[[Gazetteer, str], PlaceName | None],
    capital: Callable[[str], bool] = str.isupper,
    *,
    skip: AbstractSet[int] = frozenset(),
) -> list[_Occurrence]:
    """Capitalised words no name starts with, read by `read` as a name with an ending: a
    slower pass, only for text in a language that needs it; `skip`: indices of words inside
    a longer name read already ("Южном Судане" is South Sudan, not Sudan too)."""
    found: list[_Occurrence] = []
    for index, token in enumerate(tokens):
        if capital(token[:1]) and token not in gazetteer.starts and index not in skip:
            name = read(gazetteer, token)
            if name is not None and name.is_place:
                found.append(_Occurrence(name, index, where))
    return found


def _cjk_occurrences(gazetteer: Gazetteer, text: str, where: str) -> list[_Occurrence]:
    """Chinese and Japanese names in `text`, by substring. A katakana name must not run on
    into more katakana: "インド" (India) is not in "ウインドウ" (window), nor "タイ" (Thailand)
    in "タイトル" (title). The index is a word's, roughly (two characters a word)."""
    if gazetteer.cjk_pattern is None or _CJK.search(text) is None:
        return []
    found = []
    for match in gazetteer.cjk_pattern.finditer(text):
        name = gazetteer.cjk[match.group()]
        start, end = match.span()
        if not name.readings or (
            (name.text[0] in _KATAKANA and start and text[start - 1] in _KATAKANA)
            or (name.text[-1] in _KATAKANA and end < len(text) and text[end] in _KATAKANA)
        ):
            continue
        found.append(_Occurrence(name, start // 2, where))
    return found


def _is_cyrillic_capital(letter: str) -> bool:
    return letter in _RU_UPPER


def _russian_token(gazetteer: Gazetteer, token: str) -> PlaceName | None:
    """'России' -> Россия: a Cyrillic name with a case ending or suffix."""
    return _russian_name(gazetteer, _clean(token))


def _slavic_latin_token(gazetteer: Gazetteer, token: str) -> PlaceName | None:
    """'Rosji', 'Ukrainie', 'Německu': a Polish, Czech, Slovak or Croatian name with an ending."""
    word = _clean(token)
    for ending in _SLAVIC_LATIN_ENDINGS:
        if word.endswith(ending) and (
            name := gazetteer.latin_stems.get(word[: len(word) - len(ending)])
        ):
            return name
    return None


def _suffixed_token(gazetteer: Gazetteer, token: str) -> PlaceName | None:
    """'Türkiye'de', 'Ankara’nın': a name with a suffix after an apostrophe (Turkish)."""
    name, mark, suffix = token.replace("’", "'").partition("'")
    return gazetteer.single.get(name) if mark and suffix[:1].islower() else None


def _match_at(
    gazetteer: Gazetteer, tokens: list[str], index: int, raw: str
) -> tuple[list[PlaceName], int] | None:
    """The names starting at token `index` and the index of their last token."""
    if raw[1:2] in ("'", "’") and raw[2:3] in _VOWELS:
        raw = raw[2:]  # "l'Ukraine"
    word = _clean(raw)
    if word == raw and index + 1 < len(tokens):
        second = tokens[index + 1]
        entries = gazetteer.multi.get((word, second)) or gazetteer.multi.get((word, _clean(second)))
        if not entries and _is_cyrillic_capital(second[:1]):
            entries = _with_russian_ending(gazetteer, word, _clean(second))
        for rest, name in entries or ():
            last = index + 1 + len(rest)
            if not rest or (last < len(tokens) and _continues(tokens, index + 1, rest)):
                return [name], last
    single = gazetteer.single.get(word)
    return ([single], index) if single is not None else None


def _with_russian_ending(
    gazetteer: Gazetteer, first: str, second: str
) -> list[tuple[tuple[str, ...], PlaceName]]:
    """Two-word names whose second word has a Russian case ending ("Джалал-Абаде",
    "Усть-Каменогорска"): hyphenated names decline their last part."""
    for ending in _RU_ENDINGS:
        if second.endswith(ending) and len(second) - len(ending) >= _RU_STEM_MIN:
            entries = gazetteer.multi.get((first, second[: -len(ending)]))
            if entries:
                return [(rest, name) for rest, name in entries if not rest]
    return []


def _continues(tokens: list[str], index: int, rest: tuple[str, ...]) -> bool:
    """Whether the tokens after `index` spell `rest`, punctuation allowed after the last.
    (The second word of a name is matched by the caller, with punctuation allowed.)"""
    for offset, expected in enumerate(rest, start=1):
        token = tokens[index + offset]
        if offset == len(rest):
            return _clean(token) == expected
        if token != expected:
            return False
    return True


def _russian_name(gazetteer: Gazetteer, word: str) -> PlaceName | None:
    """'России' -> Россия, 'Казахстане' -> Казахстан: a Russian name with a case ending."""
    for ending in _RU_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _RU_STEM_MIN:
            stem = word[: -len(ending)]
            name = gazetteer.stems.get(stem) or gazetteer.single.get(stem)
            if name is not None:
                return name
    return _russian_adjective(gazetteer, word.lower())


def _russian_adjective(gazetteer: Gazetteer, word: str) -> PlaceName | None:
    for prefix, name in gazetteer.lower_prefixes.get(word[:5], ()):
        if word.startswith(prefix):
            return name
    return None


def _clean(raw: str) -> str:
    word = raw.rstrip(_TRAILING)
    if word[-2:] in ("'s", "’s", "'S", "’S"):
        word = word[:-2]
    if raw[len(word) : len(word) + 1] == "." and word.count(".") and word[-1:] != ".":
        word += "."  # "U.S." keeps its last full stop; "Kazakhstan." does not
    return word


def _weak_context(tokens: list[str], index: int) -> bool:
    """'listed in Luxembourg', 'incorporated in the Netherlands': a formality, not a place."""
    # Called for every name found: the common answer (no "in"/"on" before it) comes first.
    if index < 2:
        return False
    previous = tokens[index - 1].lower()
    if previous == "the":
        if index < 3:
            return False
        previous, verb = tokens[index - 2].lower(), tokens[index - 3]
    else:
        verb = tokens[index - 2]
    return previous in ("in", "on") and verb.lower() in _WEAK_VERBS


def _starts_a_sentence(name: PlaceName, tokens: list[str], index: int) -> bool:
    """'Mobile networks seek a boost': a common word opening a sentence is the word."""
    return name.common_word and (index == 0 or tokens[index - 1][-1:] in _SENTENCE_ENDS)


def _names_a_currency(tokens: list[str], last: int) -> bool:
    """'U.S. dollars', 'Canadian dlr bond': a currency, not a place."""
    return last + 1 < len(tokens) and tokens[last + 1].rstrip(".,;:").lower() in _CURRENCY


def _names_a_language(name: PlaceName, tokens: list[str], index: int, last: int) -> bool:
    """'Spanish-language', 'Russian speakers', 'published in Spanish.': a language, not the
    country ("in Russian hands" is still Russia: a noun follows)."""
    if not name.readings or name.readings[0].kind != "demonym":
        return False
    after = tokens[last + 1].rstrip(".,;:").lower() if last + 1 < len(tokens) else ""
    if after in _LANGUAGE_WORDS:
        return True
    before = tokens[index - 1].lower() if index > 0 else ""
    clause_ends = not after or tokens[last][-1:] in ".,;:!?" or after in _CLAUSE_WORDS
    return before in ("in", "into", "from", "fluent") and clause_ends


def _beside_a_name(
    gazetteer: Gazetteer,
    name: PlaceName,
    tokens: list[str],
    index: int,
    last: int,
    *,
    capitals_name: bool = True,
) -> bool:
    """'Michael Jordan', 'Morgan Stanley': a place-like name inside a person's or a firm's;
    'Whitehall Corp': any name but a country's before a company suffix. Where every word is
    capitalised ("Fire In Paris Kills Three") a capital beside it says nothing: such titles
    count a city only when the text names its country (`_supported`)."""
    if not name.readings:
        return False
    kind = name.readings[0].kind
    after = tokens[last + 1].rstrip(".,;:") if last + 1 < len(tokens) else ""
    if (
        kind not in ("country", "demonym")
        and after in _FIRM_SUFFIXES
        # An office of a state is not a firm suffix ("Minnesota AG": the attorney general).
        and not (kind == "state" and after in _PLACE_WORDS)
    ):
        return True
    if not capitals_name or not (name.person_like or kind in ("city", "capital", "state")):
        return False
    if not name.person_like and _CYRILLIC.match(name.text):
        # Russian puts a city in the genitive between an office and a person's name ("Аким
        # Алматы Ерболат Досаев", "Жители Астаны"): capitals beside it say nothing.
        return False
    previous = tokens[index - 1] if index > 0 else ""
    possessive = previous.endswith(("'s", "’s"))  # "Pence's Indiana home" is in Indiana
    if (
        previous[-1:].isalpha()
        and not possessive
        and _is_other_name(gazetteer, previous, before_the_place=True)
    ):
        return True
    if last + 1 < len(tokens) and tokens[last][-1:].isalnum():
        following = tokens[last + 1]
        if _is_other_name(gazetteer, following):
            return True
        # "Smith" starts some place's name ("Smith Falls"), but "Chad Smith" names none (the
        # lookup only for such words: it cost 4 us a story made for every name).
        return (
            _clean(following) in gazetteer.first_words
            and _match_at(gazetteer, tokens, last + 1, following) is None
            and _is_other_name(gazetteer, following, starts_no_place=True)
        )
    return False


def _is_other_name(
    gazetteer: Gazetteer, raw: str, *, before_the_place: bool = False, starts_no_place: bool = False
) -> bool:
    """A capitalised word, not a place, not a sentence opener, directly beside (no comma).
    A word that starts some longer place name ("Joan" of an alias "Joan Pessoa") is still
    a person's name right before the place: had the two made a longer name, it would have
    been read as one ("Joan Jordan" is a footballer); after the place, when no place name
    starts there (`starts_no_place`)."""
    if not raw[:1].isupper():
        return False
    word = _clean(raw)
    if word in _NOT_NAMES or word in _PLACE_WORDS or len(word) < 2:
        return False
    if (known := gazetteer.single.get(word)) is not None:
        # A place's name is no person's, unless it is a surname too, after the place:
        # "Irvine Welsh" is the novelist, not Irvine, California.
        return not before_the_place and known.person_like and word[1:].islower()
    return before_the_place or starts_no_place or word not in gazetteer.first_words


def _following_support(gazetteer: Gazetteer, name: PlaceName, tokens: list[str], last: int) -> str:
    """'Paris, Texas' -> 'US': a city followed by its state or country."""
    if (
        not tokens[last].endswith(",")
        or last + 1 >= len(tokens)
        or not name.readings
        or name.readings[0].kind not in ("city", "capital", "state")
    ):
        return ""
    raw = tokens[last + 1]
    if (abbreviation := gazetteer.abbreviations.get(raw.rstrip(",;:"))) is not None:
        return abbreviation.readings[0].code
    found = _match_at(gazetteer, tokens, last + 1, raw) if raw[:1].isupper() else None
    if found is None or not found[0][0].readings:
        return ""
    reading = _reading_beside(found[0][0], name)
    return reading.code if reading.kind in ("country", "state", "demonym") else ""


def _listing_support(gazetteer: Gazetteer, name: PlaceName, tokens: list[str], last: int) -> str:
    """'India, France and ...', 'Israel And Jordan Sign ...': a country that is also a given
    name, listed before another country, is the country (a Headline Case title says nothing
    of it otherwise)."""
    if not name.person_like or not _listed_country(name):
        return ""
    after = last + 1
    if not tokens[last].endswith(","):
        if after + 1 >= len(tokens) or tokens[after] not in ("and", "And", "&"):
            return ""
        after += 1
    if after >= len(tokens) or not tokens[after][:1].isupper():
        return ""
    found = _match_at(gazetteer, tokens, after, tokens[after])
    first = found[0][0].readings[0] if found is not None and found[0][0].readings else None
    return name.readings[0].code if first is not None and first.kind == "country" else ""


def _listed_country(name: PlaceName) -> str:
    """A country that is also a given name ("Jordan", "Chad"), listed after another country:
    the country."""
    first = name.readings[0] if name.readings else None
    if first is None or first.kind != "country" or not name.person_like:
        return ""
    return _one_country(name)


def _reading_beside(name: PlaceName, city: PlaceName) -> Reading:
    """The reading of a name after a city's comma that shares the city's country: in
    "Atlanta, Georgia" and "Columbus, Georgia" the state, not the country (the first reading
    when none does: "Tbilisi, Georgia")."""
    codes = {reading.code for reading in city.readings}
    return next((r for r in name.readings if r.code in codes), name.readings[0])


def _has_reading(name: PlaceName, code: str) -> bool:
    return any(reading.code == code for reading in name.readings)


def _noun_support(name: PlaceName, tokens: list[str], last: int) -> str:
    """'Sydney Airport', 'Perth Harbour': a place noun after a city (a given name, a common
    word) says it is the place, the biggest of that name; so does a local noun ("Sydney
    siblings", "Perth woman") after a city of one country that is no common word."""
    if last + 1 >= len(tokens) or not name.readings:
        return ""
    first = name.readings[0]
    if first.kind not in ("city", "capital"):
        return ""
    after = _clean(tokens[last + 1])
    if after in _PLACE_NOUNS or (after == "County" and first.code in _COUNTY_COUNTRIES):
        return first.code
    if after in _LOCAL_NOUNS and not name.common_word:
        return _one_country(name)
    return ""


def _one_country(name: PlaceName) -> str:
    """The country of a name whose readings all lie in one ("" for "Georgia", "Victoria")."""
    code = name.readings[0].code if name.readings else ""
    return "" if any(reading.code != code for reading in name.readings) else code


def _article_support(gazetteer: Gazetteer, tokens: list[str], index: int) -> str:
    """'The Hague': the place a name written with "The" is, after "the"."""
    if index == 0 or tokens[index - 1] not in ("The", "the"):
        return ""
    return gazetteer.after_the.get(_clean(tokens[index]), "")


def _preposition_support(name: PlaceName, tokens: list[str], index: int) -> str:
    """'In Houston', 'Near Sydney' in a Headline Case title: the place, when the name has
    one country (for "In Georgia" the state and the country stay to be told apart) and is
    not a common word ("In Most Cases", "In Reading" stay in need of support)."""
    if index == 0 or tokens[index - 1] not in _PLACE_PREPOSITIONS or name.needs_support:
        return ""
    return _one_country(name)


# Lower-case prepositions before a name that is also a given name, in sentence-case text:
# "King Abdullah II of Jordan", "voters in Kenya", "flights from Israel" are the places ("to"
# is not: "the ball went to Jordan").
_PLACE_PREPOSITIONS_LOWER = frozenset(("in", "of", "from", "into", "across", "near"))


def _person_like_support(name: PlaceName, tokens: list[str], index: int) -> str:
    """'King Abdullah II of Jordan': a country that is also a given name, after a
    lower-case preposition (and no capitalised word beside it, `_beside_a_name`), is the
    place, and supports the same name in a Headline Case title."""
    if not name.person_like or index == 0 or tokens[index - 1] not in _PLACE_PREPOSITIONS_LOWER:
        return ""
    # Countries only: a city so supported would name its country for others ("in Paris" made
    # "Decision Angers Banks" the French city).
    return _listed_country(name)


def _cyrillic_adjectives(gazetteer: Gazetteer, tokens: list[str]) -> list[_Occurrence]:
    """Lower-case Russian adjectives ("российские войска"): weak mentions anywhere."""
    found = []
    for index, token in enumerate(tokens):
        if token[:1] in _RU_LOWER and len(token) >= 5:
            name = _russian_adjective(gazetteer, token)
            if name is not None and name.is_place:
                found.append(_Occurrence(name, index, "body"))
    return found


def _weigh(
    gazetteer: Gazetteer, occurrences: list[_Occurrence], body: str, headline_cased: bool
) -> dict[str, _Evidence]:
    direct = _directly_named(occurrences, gazetteer.mostly_places)
    evidence: dict[str, _Evidence] = {}
    for occurrence in occurrences:
        reading = _reading_of(occurrence, body, direct)
        if not reading.code or not _supported(occurrence, reading, direct, headline_cased, body):
            continue
        code = occurrence.support or reading.code
        if code not in gazetteer.countries and code not in gazetteer.region_parents:
            continue
        _count(evidence.setdefault(code, _Evidence()), occurrence, reading)
    return evidence


def _directly_named(
    occurrences: Iterable[_Occurrence], mostly_places: AbstractSet[str]
) -> Counter[str]:
    """How often each country is named without doubt: its name, a demonym, a capital, the
    dateline, a name its neighbour settles ("Columbus, Georgia", "Sydney Airport"), a name
    that is mostly the place in running text ("Israel urged the United Nations")."""
    direct = Counter(
        occurrence.name.readings[0].code
        for occurrence in occurrences
        if len({reading.code for reading in occurrence.name.readings}) == 1
        and not occurrence.name.needs_support
        and (
            not occurrence.name.person_like
            or (occurrence.where == "body" and occurrence.name.text in mostly_places)
        )
        and (occurrence.where == "dateline" or occurrence.name.readings[0].kind != "city")
    )
    direct.update(occurrence.support for occurrence in occurrences if occurrence.support)
    return direct


def _reading_of(occurrence: _Occurrence, body: str, direct: Counter[str]) -> Reading:
    """The reading with the most context words in the text; failing that, a reading whose
    country the text names (unless the default is a far bigger city: "London" stays in
    England in a story about Quebec); failing that, the first."""
    readings = occurrence.name.readings
    if len(readings) == 1:
        return readings[0]
    if occurrence.support:  # "Atlanta, Georgia": the state of the city before it
        for reading in readings:
            if reading.code == occurrence.support:
                return reading
    default = readings[0]

    def strength(reading: Reading) -> tuple[int, int]:
        comparable = reading.population * CITY_SIZE_RATIO >= default.population
        return sum(word in body for word in reading.context), direct[reading.code] * comparable

    best = max(readings, key=strength)
    return best if strength(best) > strength(default) else default


def _supported(
    occurrence: _Occurrence,
    reading: Reading,
    direct: Counter[str],
    headline_cased: bool,
    body: str,
) -> bool:
    """Whether a name that needs support has it: a dateline, a following state or place
    noun, its country named without doubt, or one of its reading's context words ("Epsom"
    for Surrey in England, "Melbourne" for Victoria in Australia)."""
    if occurrence.where == "dateline" or occurrence.support:
        return True
    name = occurrence.name
    doubtful = name.needs_support or (
        headline_cased
        and occurrence.where == "title"
        and (name.person_like or reading.kind in ("city", "state"))
    )
    return not doubtful or reading.code in direct or any(word in body for word in reading.context)


def _count(evidence: _Evidence, occurrence: _Occurrence, reading: Reading) -> None:
    label = occurrence.name.text
    if occurrence.stance:
        evidence.lowercase = min(LOWERCASE_CAP, evidence.lowercase + KIND_WEIGHT["lowercase"])
        evidence.mentions[label] = evidence.mentions.get(label, 0) + 1
        return
    if occurrence.where == "dateline":
        evidence.dateline = evidence.dateline or label
        return
    if occurrence.where == "title":
        evidence.title = evidence.title or label
        return
    if occurrence.index < LEAD_WORDS and not evidence.lead and reading.kind in _LEAD_KINDS:
        evidence.lead = label
    evidence.raw += KIND_WEIGHT.get(reading.kind, 1.0)
    evidence.mentions[label] = evidence.mentions.get(label, 0) + 1


def _add_lowercase_hints(
    gazetteer: Gazetteer,
    evidence: dict[str, _Evidence],
    title_tokens: list[str],
    body_counts: Counter[str],
) -> None:
    """Currency words ("yen", "tenge"): a set intersection, so free when there are none."""
    for tokens, count in (
        (title_tokens, title_tokens.count),
        (body_counts.keys(), body_counts.get),
    ):
        # Sorted: a set's order follows the process's string hashes, and the evidence
        # ("8 mentions: ... renminbi, yuan") must read the same in every process.
        for token in sorted(gazetteer.lowercase.keys() & tokens):
            name = gazetteer.lowercase[token]
            if not name.readings:
                continue
            entry = evidence.setdefault(name.readings[0].code, _Evidence())
            hits = count(token) or 0
            entry.lowercase = min(LOWERCASE_CAP, entry.lowercase + hits * KIND_WEIGHT["lowercase"])
            entry.mentions[name.text] = entry.mentions.get(name.text, 0) + hits


def _raw_score(evidence: _Evidence) -> float:
    return (
        evidence.raw
        + evidence.lowercase
        + (DATELINE_BONUS if evidence.dateline else 0.0)
        + (TITLE_BONUS if evidence.title else 0.0)
        + (LEAD_BONUS if evidence.lead else 0.0)
        + (PRIOR_BONUS if evidence.prior else 0.0)
    )


_second = itemgetter(1)  # most mentioned first; ties in order of first mention (a stable sort)


def _reasons(evidence: _Evidence) -> tuple[str, ...]:
    reasons: list[str] = []
    if evidence.dateline:
        reasons.append(f'dateline: "{evidence.dateline}"')
    if evidence.title:
        reasons.append(f'title: "{evidence.title}"')
    if evidence.lead:
        reasons.append(f'lead: "{evidence.lead}"')
    if evidence.mentions:
        total = sum(evidence.mentions.values())
        names = ", ".join(
            f"{name} x{count}" if count > 1 else name
            for name, count in sorted(evidence.mentions.items(), key=_second, reverse=True)
        )
        reasons.append(f"{total} mention{'s' if total > 1 else ''}: {names}")
    if evidence.prior:
        reasons.append("source region")
    return tuple(reasons)


def _tags(gazetteer: Gazetteer, evidence: Mapping[str, _Evidence]) -> tuple[Tag, ...]:
    raws = {code: _raw_score(entry) for code, entry in evidence.items()}
    # The country named most is a focus; a region named in the text competes only with
    # regions ("European markets" does not take the focus from the country they are in).
    top = max((raw for code, raw in raws.items() if code in gazetteer.countries), default=0.0)
    top_region = max(
        (raw for code, raw in raws.items() if code not in gazetteer.countries), default=0.0
    )
    has_dateline = any(entry.dateline for entry in evidence.values())
    countries: list[Tag] = []
    for code, entry in evidence.items():
        raw = raws[code]
        if raw <= 0 or (entry.prior and raw == PRIOR_BONUS):
            continue  # a source's region alone tags nothing
        needed = (
            FOCUS_BESIDE_DATELINE_MIN
            if has_dateline and not (entry.dateline or entry.title)
            else FOCUS_MIN
        )
        # A region is a focus for being named most only beside no stronger country: one
        # passing "Sahel" in a story about Uzbekistan is a mention, not Western Africa's.
        most = top if code in gazetteer.countries else max(top, top_region)
        focus = raw >= needed or (raw == most and raw >= TOP_FOCUS_MIN)
        score = round(1.0 - math.exp(-raw / SCORE_SCALE), 3)
        countries.append(Tag(TagKind.REGION, code, score, focus, _reasons(entry)))
    countries.sort(key=lambda tag: (-tag.focus, -tag.score, tag.code))
    named = [tag for tag in countries if tag.code in gazetteer.region_parents]
    countries = [tag for tag in countries if tag.code not in gazetteer.region_parents]
    return (*countries, *_rollups(gazetteer, countries, named))


def _rollups(
    gazetteer: Gazetteer, countries: Sequence[Tag], named: Sequence[Tag] = ()
) -> list[Tag]:
    """Sub-region and continent tags: those of the focus countries (a passing mention of a
    country does not put a story in its continent's feed), and regions the text names itself
    ("Central Asian leaders"), which roll up to their continent when they are a focus."""
    groups: dict[str, list[Tag]] = {}
    for tag in countries:
        if tag.focus:
            for region in region_rollup(tag.code, gazetteer):
                groups.setdefault(region, []).append(tag)
    for tag in named:
        if not tag.focus:
            continue
        for parent in (M49_GROUPINGS.get(tag.code), gazetteer.region_parents.get(tag.code)):
            if parent:
                groups.setdefault(parent, []).append(tag)
    rollups = {
        region: Tag(
            TagKind.REGION,
            region,
            max(tag.score for tag in members),
            True,
            (f"from {', '.join(tag.code for tag in members)}",),
        )
        for region, members in groups.items()
    }
    for tag in named:  # named in the text: its own evidence, and the roll-up's if any
        rolled = rollups.get(tag.code)
        if rolled is None:
            rollups[tag.code] = tag
        else:
            rollups[tag.code] = Tag(
                TagKind.REGION,
                tag.code,
                max(tag.score, rolled.score),
                True,
                (*tag.evidence, *rolled.evidence),
            )
    return sorted(rollups.values(), key=lambda tag: (-tag.focus, -tag.score, tag.code))
