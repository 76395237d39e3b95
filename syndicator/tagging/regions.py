"""Region codes and names: ISO 3166-1 alpha-2 countries and UN M49 sub-regions and continents.

This module knows which region identifiers exist and how to label them; it does not yet find
places in text (the gazetteer matcher comes with the tagging issue). Pure: no I/O beyond the
data that pycountry ships in its package.
"""

from __future__ import annotations

from functools import cache

import pycountry

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


@cache
def _country_names() -> dict[str, str]:
    return {country.alpha_2: country.name for country in pycountry.countries}


@cache
def _m49_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in (*M49_CONTINENTS, *M49_SUBREGIONS)}


def resolve_region(identifier: str) -> str | None:
    """The canonical form of a region identifier, or None if it names no known region.

    An ISO 3166-1 alpha-2 code in any case resolves to upper case ("kz" -> "KZ"); an M49 name
    in any case resolves to its official spelling ("central asia" -> "Central Asia").
    """
    text = identifier.strip()
    if len(text) == 2 and text.upper() in _country_names():
        return text.upper()
    return _m49_by_folded_name().get(text.casefold())


def region_label(code: str) -> str:
    """A readable name for a canonical region identifier (the code itself when unknown)."""
    return _country_names().get(code, code)
