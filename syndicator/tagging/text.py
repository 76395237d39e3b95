"""A story's text split into words once, for both taggers.

What it does: splits the dateline off the text, splits title and body into whitespace words
(quotes, brackets, dashes and hyphens count as spaces; full stops, commas and apostrophes stay
on their word, because the region tagger reads "U.S.", "Russia's" and "Paris, Texas"), and
counts the body's words. Splitting and counting a kilobyte story costs more than either
tagger's own matching on this class of machine, so it is done once per story, in C
(str.replace, str.split, collections.Counter).

What it does not do: fold case or diacritics (each tagger folds the few words it looks at).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_SEPARATORS = '"“”«»()[]{}—–-'
_BOUNDARIES = ":;?!"
# The dash after a date may touch it ("INDIANAPOLIS, IND., March 4- rest"): only there.
_DATELINE = re.compile(r"^\s*(?P<head>[A-ZА-ЯЁ][^\n]{1,80}?)(?:\s+|(?<=\d))[-–—]{1,2}\s")
_DATELINE_AGENCY = re.compile(r"\s*\([^)]{1,30}\)\s*$")
_DATELINE_DATE = re.compile(
    r",?\s*(?:[Jj]an|[Ff]eb|[Mm]ar|[Aa]pr|[Mm]ay|[Jj]un|[Jj]ul|[Aa]ug|[Ss]ep|[Oo]ct|[Nn]ov|[Dd]ec)"
    r"[a-z]*\.?\s+\d{1,2}\s*$"
)
_ALL_CAPS_PLACE = re.compile(r"[A-ZА-ЯЁ][A-ZА-ЯЁ.'’ -]+")
_SMALL_WORDS = re.compile(r"(?<=\s)(?:Of|The|And|De|Du|La|In|On|At|For)\b")
# The letters of Russian, Ukrainian, Belarusian and Kazakh words (the region tagger reads
# names by them too).
CYRILLIC_LOWER = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўқғүұәөһң")
CYRILLIC_UPPER = frozenset("АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯІЇЄҐЎҚҒҮҰӘӨҺҢ")
_CYRILLIC_LETTERS = CYRILLIC_LOWER | CYRILLIC_UPPER


def word_set(words: str) -> frozenset[str]:
    """The space-separated words of a literal, as a set (word lists kept readable in code)."""
    return frozenset(words.split())


# Function words of the languages news is often written in, to tell English text from text
# that English topic terms would misread (French "un", "par", "coup"; the text's own language
# tag is often wrong or missing). Words English text uses too are left out ("per cent", "met",
# "al-Assad").
_ENGLISH_WORDS = word_set("the and of to in is for on that with was are from by it")
_SURELY_ENGLISH = 6  # distinct English function words no other language's text has
_CLEARLY_OTHER = 3  # more distinct function words of another language than the declared one
_OTHER_FUNCTION_WORDS = {
    "fr": word_set("le la les des et est une du dans pour pas sur au aux qui avec à"),
    "de": word_set("der das und ist nicht mit von den ein eine für auf dem sich"),
    "es": word_set("el los las del y que por para una con es al su sus más pero como ha han muy"),
    "pt": word_set("os da dos das não uma com para em ao pelo pela foi também são"),
    "it": word_set(
        "il della che di non gli sono nel alla delle dei degli nella nelle dello sulla anche"
    ),
    "nl": word_set("het een van en niet op voor"),
    "pl": word_set("w i z na się nie że jest od po"),
    "tr": word_set("ve bir bu için ile olarak çok"),
    # Swedish games news quotes English titles: "Breath of the Wild" is not a war.
    "sv": word_set("och att det som på är för med av inte"),
    "sk": word_set("sa je pre ako aj ktorý ktorá ktoré bol bola boli podľa alebo"),
    "cs": word_set("se je pro jako také který která které byl byla bylo podle nebo jsou"),
}
# Letters that only one of those languages writes: a headline too short for function words
# still reads as Polish by them ("Polscy ratownicy wylatują do Turcji").
_OWN_LETTERS = {
    "pl": frozenset("ąęłśźżĄĘŁŚŹŻ"),
    "pt": frozenset("ãõÃÕ"),
    "sk": frozenset("ľĺŕĽĹŔ"),
    "cs": frozenset("ůřěŮŘĚ"),
}
# Function words of the languages written in Cyrillic (and Uzbek's Latin), for
# `detected_language`: Russian, and the languages a Russian list would otherwise claim (they
# share "на", "не", "за"), each list without the words the others write too.
_CYRILLIC_FUNCTION_WORDS = {
    "ru": word_set("что это как был была было были также который которая которые после его"
                   " она они из от или уже только если"),
    "uk": word_set("і та що це як був була було були також який яка які після його вона вони"
                   " із від або вже тільки якщо"),
    "be": word_set("і ў што гэта як быў была было былі таксама які якая якія пасля яго яна"
                   " яны ад або ўжо толькі калі"),
    "bg": word_set("че като са който която което които това тази този след също ще бе"),
    "sr": word_set("је да се који која које што као али није са од"),
    "mk": word_set("што е се да кој која кое ќе од со"),
    "kk": word_set("және мен бұл деп үшін туралы бойынша болып осы оның еді арқылы кейін"),
    "ky": word_set("жана менен бул деп үчүн тууралуу боюнча болуп ошол анын эле аркылуу кийин"),
    "uz": word_set("ва билан учун бу ҳам эди бўйича деб унинг орқали кейин"
                   " va bilan uchun bu ham edi bo‘yicha deb uning orqali keyin"),
    "tg": word_set("ва дар ба аз бо ки барои мебошад ин"),
}  # fmt: skip
# A language is detected when the text has at least this many distinct function words of it,
# and at least `_DETECTED_RATIO` times as many as of any other language: a headline alone
# has too few, and text that mixes languages (a quote, a bilingual site) is left unknown.
_DETECTED_AT_LEAST = 4
_DETECTED_RATIO = 2
_LETTERS_TO_TELL = 100  # letters a text needs for `cyrillic_language` (a headline has fewer)
_FOREIGN_LETTERS = 0.005  # the share of letters above which a language's own are its text
_CYRILLIC_ALPHABET = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўәғқңөұүһђјљњћџѓќѕҳҷӣӯҗ"
_OTHER_CYRILLIC = "ђјљњћџѓќѕҳҷӣӯҗ"
# Declared languages whose text the unmarked terms are for (English, and the Russian and
# Ukrainian stems that Belarusian, Kazakh and Kyrgyz news in Russian shares).
_UNMARKED_LANGUAGES = frozenset(("en", "ru", "uk", "be", "kk", "ky"))
_LETTERS_READ = 600  # characters of the body looked at for them


@dataclass(slots=True)
class StoryText:
    """A story as the taggers read it."""

    title: str  # an all-capitals title in title case
    body: str  # the text without its dateline
    place: str  # the dateline's place ("RIDGEFIELD, N.J."), or the one given, or ""
    title_words: list[str]
    body_words: list[str]
    body_counts: Counter[str]
    headline_cased: bool  # the title's capitals say nothing about names (`headline_cased`)
    declared: str = ""  # the language its feed declares ("fr"), lower case, or ""


def story_text(title: str, text: str, place: str = "", language: str = "") -> StoryText:
    """Split a story once: dateline off, title and body into words, body words counted.
    `language`: the tag its feed declares ("fr", "de-DE"), a hint for text too short to tell
    (`text_language`)."""
    dateline, body = split_dateline(text)
    readable = readable_title(title)
    body_words = split_words(body)
    return StoryText(
        readable,
        body,
        place or dateline,
        split_words(readable),
        body_words,
        Counter(body_words),
        headline_cased(readable),
        language.replace("_", "-").partition("-")[0].strip().lower(),
    )


def headline_cased(title: str) -> bool:
    """Whether most words of the title are capitalised (Headline Case), so a capital says
    nothing about a name. The first word is left out, capitalised in either style: in
    "Russian strikes hit Kharkiv" the capitals are names' own."""
    tokens = title.split()[1:]
    words = [word for word in tokens if len(word) > 3 and word[0].isalpha()]
    if sum(word[0] in _CYRILLIC_LETTERS for word in words) * 2 > len(words):
        return False  # Russian, Ukrainian, Kazakh: sentence case, capitals are names'
    if len(words) < 2:
        return False
    lower = sum(1 for word in words if not word[0].isupper())
    if lower == 0:
        return True
    # Two capitalised words in a row count once: a name ("Cúpula em Nova Délhi termina",
    # "Murdoch's Fox makes bid for Time Warner") does not make a sentence-case headline
    # Headline Case; longer runs are Headline Case's own ("Of The Future Could Stop You").
    capitalised = _capitalised_words(tokens)
    return capitalised >= 0.6 * (capitalised + lower)


def _capitalised_words(words: list[str]) -> int:
    """Capitalised words of more than three letters, a pair of them in a row counted once."""
    total = in_run = 0
    for word in [*words, "."]:
        if word[:1].isupper():
            in_run += len(word) > 3
            continue
        total += 1 if in_run == 2 else in_run
        in_run = 0
    return total


def split_words(text: str) -> list[str]:
    """Whitespace words, quotes, brackets and dashes treated as spaces, and colons, semicolons,
    question and exclamation marks as words of their own ("Ukraine:" is "Ukraine" and ":", so
    the name is read and still does not run on into the next word); a paragraph's end (a
    blank line) is a ";" too. (str.replace for each mark present is several times faster
    than str.translate on a kilobyte of text.)"""
    for mark in _SEPARATORS:
        if mark in text:
            text = text.replace(mark, " ")
    if "\n\n" in text:  # "... Royal Festival Hall, London" / "Edward Gardner ..." are two names
        text = text.replace("\n\n", " ; ")
    for mark in _BOUNDARIES:
        if mark in text:
            text = text.replace(mark, f" {mark} ")
    return text.split()


def split_dateline(text: str) -> tuple[str, str]:
    """("RIDGEFIELD, N.J.", rest) for "RIDGEFIELD, N.J., March 2 - rest"; also
    "ALMATY (Reuters) - rest" and "Almaty, Jan 5 (AP) — rest". ("", text) when there is none."""
    match = _DATELINE.match(text[:120])
    if match is None:
        return "", text
    head = match["head"]
    marked = False
    for mark in (_DATELINE_AGENCY, _DATELINE_DATE):
        if (found := mark.search(head)) is not None:
            head, marked = head[: found.start()], True
    place = head.strip(" ,")
    first = place.split(",")[0]
    if not place or len(first.split()) > 4 or not (marked or _ALL_CAPS_PLACE.fullmatch(first)):
        return "", text  # "Kazakhstan - the facts" is a title, not a dateline
    return place, text[match.end() :]


# Country acronyms that are no English word, kept in capitals when a capitals title is
# title-cased ("US" is left out: "TELL US" is a pronoun).
_ACRONYM_TITLED = re.compile(r"\b(?:Uae|Uk|Usa|Ussr|Drc|Prc|Dprk)\b")


def readable_title(text: str) -> str:
    """An all-capitals title in title case, so that its names can be read ("NEW YORK")."""
    if not text.isupper():  # C speed; True for every all-capitals title (and a few more)
        return text
    letters = [char for char in text if char.isalpha()]
    if len(letters) > 3 and all(char.isupper() for char in letters):
        titled = re.sub(r"['’]S\b", "'s", text.title())
        titled = _SMALL_WORDS.sub(lambda match: match.group().lower(), titled)
        if _ACRONYM_TITLED.search(titled):  # "HIT OFF UAE" stays the UAE, not "Uae"
            titled = _ACRONYM_TITLED.sub(lambda match: match.group().upper(), titled)
        return titled
    return text


def text_language(story: StoryText) -> str:
    """The story's language as the topic terms need it: the language its feed declares, if
    one of French, German, Spanish, Portuguese, Italian, Dutch, Polish, Turkish, Swedish,
    Slovak or Czech and the text has not clearly more function words of another (or of
    English); else one of those when the story has more distinct function words of it than
    of English, and at least two (a name's "van" or "de" is not a language); with fewer than
    two English function words, also any other language its feed declares (a Japanese
    headline is no English one), or a letter only one of them writes ("ł", "ą": Polish).
    Else "": English, or it cannot tell (short text, Cyrillic)."""
    counts = story.body_counts
    in_body = counts.__contains__
    title_only = frozenset(word for word in story.title_words if word not in counts)

    def distinct(words: frozenset[str]) -> int:  # C-level loops over a dozen words
        return sum(map(in_body, words)) + len(words & title_only)

    english = distinct(_ENGLISH_WORDS)
    if english >= _SURELY_ENGLISH:
        return ""  # most stories: no other language has to be counted
    found = {code: distinct(words) for code, words in _OTHER_FUNCTION_WORDS.items()}
    if (declared := found.get(story.declared)) is not None and (
        max(english, *found.values()) - declared < _CLEARLY_OTHER
    ):
        # The feed's word, unless the text clearly says otherwise: Slovak "i na druhom
        # stupni" has two Polish function words and none of the Slovak ones.
        return story.declared
    most, language = max((count, code) for code, count in found.items())
    if most > max(english, 1):
        return language
    if english < 2:
        if story.declared in _OTHER_FUNCTION_WORDS:
            return story.declared  # "Incendie à Marseille: trois morts" in a French feed
        if story.declared and story.declared not in _UNMARKED_LANGUAGES:
            return story.declared  # Japanese, Hungarian...: no terms, English ones must not read it
        for code, letters in _OWN_LETTERS.items():
            if not (
                letters.isdisjoint(story.title) and letters.isdisjoint(story.body[:_LETTERS_READ])
            ):
                return code
    return ""


def detected_language(story: StoryText) -> str:
    """The story's language read from its text alone, for a feed that declares none; ""
    unless it is clear. Two readings, which must not disagree: function words (at least
    `_DETECTED_AT_LEAST` distinct ones of a language in the title and body, and at least
    `_DETECTED_RATIO` times as many as of any other), and, for Cyrillic text of at least
    `_LETTERS_TO_TELL` letters, the letters each alphabet writes and the others do not
    (`cyrillic_language`): a two-sentence Ukrainian summary has three function words but
    its "і", "ї" and no "ы". A headline alone, text mixing languages, or a language neither
    reading knows stays "": a story left unknown is not wrongly filtered by `lang:` or
    marked for a reader's hyphenation."""
    by_words = _language_by_words(story)
    by_letters = cyrillic_language(f"{story.title} {story.body[:_LETTERS_READ]}")
    if by_words and by_letters and by_words != by_letters:
        return ""
    return by_words or by_letters


def _language_by_words(story: StoryText) -> str:
    counts = story.body_counts
    in_body = counts.__contains__
    title_only = frozenset(word for word in story.title_words if word not in counts)

    def distinct(words: frozenset[str]) -> int:
        return sum(map(in_body, words)) + len(words & title_only)

    found = sorted(
        (distinct(words), code)
        for code, words in (
            ("en", _ENGLISH_WORDS),
            *_OTHER_FUNCTION_WORDS.items(),
            *_CYRILLIC_FUNCTION_WORDS.items(),
        )
    )
    (second, _), (most, language) = found[-2:]
    if most >= _DETECTED_AT_LEAST and most >= _DETECTED_RATIO * second:
        return language
    return ""


def cyrillic_language(text: str) -> str:
    """Russian, Ukrainian, Belarusian, Kazakh or Kyrgyz by their letters, for text that is
    mostly Cyrillic with at least `_LETTERS_TO_TELL` letters; else "". Each alphabet has
    letters the others lack: Ukrainian ї є ґ and і but no ы э ъ ё; Belarusian ў and і but no
    и; Kazakh і with қ ғ ұ ә; Kyrgyz ң ө ү without those; Russian none of them. Serbian,
    Macedonian, Bulgarian, Uzbek, Tajik and Tatar letters (or none of the telling ones where
    Bulgarian writes no ы) leave it "", as does a Russian text quoting a Kazakh name once."""
    lower = text.lower()
    letters = sum(map(str.isalpha, lower))
    if letters < _LETTERS_TO_TELL:
        return ""
    cyrillic = sum(map(lower.count, _CYRILLIC_ALPHABET))
    if cyrillic < 0.8 * letters:
        return ""

    def share(chars: str) -> float:
        return sum(map(lower.count, chars)) / cyrillic

    if share(_OTHER_CYRILLIC) > 0:
        return ""  # Serbian, Macedonian, Uzbek, Tajik, Tatar: not told apart here
    kazakh, kyrgyz = share("әғқұ"), share("ңөү")
    if kazakh + kyrgyz > _FOREIGN_LETTERS:  # more than a quoted name
        if "і" in lower and kazakh > 0 and "ў" not in lower:
            return "kk"
        if "і" not in lower and kazakh == 0:
            return "ky"
        return ""
    if kazakh + kyrgyz > 0:
        return ""  # a few: a name in Russian text, or a short Kazakh one
    if share("їєґ") > 0 and share("і") > _FOREIGN_LETTERS and share("ыэъёў") == 0:
        return "uk"
    if "ў" in lower and "і" in lower and "и" not in lower:
        return "be"
    if share("іїєґў") == 0 and share("ы") > _FOREIGN_LETTERS:
        return "ru"  # Bulgarian writes no ы, Serbian and Macedonian have letters of their own
    return ""
