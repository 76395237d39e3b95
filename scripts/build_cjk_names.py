"""Build `syndicator/tagging/data/cjk.json`: country names in Chinese and Japanese.

    .venv/bin/python scripts/build_cjk_names.py [--countries PATH]

Input: mledoze/countries (`--countries`, ODbL; default: the copy in ../shared/corpus), its
Chinese (`zho`) and Japanese (`jpn`) translations, common and official names. A name two
countries share is left out, and so are Chinese names of two characters that are mostly
something else inside longer words (`AMBIGUOUS`): 马里 is in 马里奥 (Mario), 阿曼 in 阿曼达
(Amanda), 苏丹 a sultan, 黑山 many a Chinese place. Their official names stay.

Chinese and Japanese write no spaces between words, so the tagger finds these names by
substring (`syndicator.tagging.regions`); curated names and the longer words that hold a
name but mean something else (印度洋, the Indian Ocean) are in `aliases.toml` ([cjk]).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COUNTRIES = (
    ROOT.parent / "shared" / "corpus" / "labelled-news" / "gazetteer" / "mledoze-countries.json"
)
OUTPUT = ROOT / "syndicator" / "tagging" / "data" / "cjk.json"
LANGUAGES = ("zho", "jpn")
AMBIGUOUS = frozenset({"马里", "阿曼", "苏丹", "黑山"})
CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")  # a Latin "UAE" is read already


def cjk_names(countries: list[dict[str, object]]) -> dict[str, str]:
    codes: dict[str, set[str]] = {}
    for country in countries:
        translations = country.get("translations")
        if not isinstance(translations, dict):
            continue
        for language in LANGUAGES:
            names = translations.get(language) or {}
            for kind in ("common", "official"):
                name = names.get(kind)
                if name and name not in AMBIGUOUS and CJK.search(name):
                    codes.setdefault(name, set()).add(str(country["cca2"]))
    return {name: next(iter(found)) for name, found in sorted(codes.items()) if len(found) == 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--countries", type=Path, default=DEFAULT_COUNTRIES)
    args = parser.parse_args()
    countries = json.loads(args.countries.read_text(encoding="utf-8"))
    data = {
        "attribution": "Derived from mledoze/countries (ODbL 1.0); see NOTICE.md.",
        "names": cjk_names(countries),
    }
    OUTPUT.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(data['names'])} names written to {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
