"""Tests for syndicator.boilerplate: property tests (hypothesis), rules, datelines, titles."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from syndicator.boilerplate import (
    Dateline,
    split_dateline,
    strip_boilerplate,
    strip_site_suffix,
)
from syndicator.normalize import html_to_text
from tests.conftest import SHARED
from tests.fuzzing import budget

# The same examples on every run in CI; `make fuzz` searches longer (tests/fuzzing.py).
deterministic = budget(200)

SEED = SHARED / "seed" / "000_ca4b3b679c3f7ead.txt"

# Pieces of syndicated pages (boilerplate and prose) and messy characters, mixed with text.
PAGE_TOKENS = st.sampled_from(
    [
        "\n", "\n\n", " ", "\r\n", "\t", "\u00a0", "\u2028", "Advertisement", "Check Also",
        "Related:", "Leave a Reply", "Comment", "Name*", "Share this:", "Tweet", "© 2022",
        "All rights reserved", "Home / WORLD / ", " » ", "Like this:", "Loading...", "Tags:",
        "Kwork.ru - ", "Thursday , March 28 2024", "Read more", "…", "...", ".", "“", "”",
        "ALMATY", "(Reuters)", " - ", " — ", " | ", "/TASS/", "Kazakhstan", "the year",
        "He said he would share the data.", "Reuters", "RT World News", "(", ")", "/", ":",
    ]
)  # fmt: skip
PAGE_TEXT = st.lists(PAGE_TOKENS | st.text(max_size=8), max_size=40).map("".join)
ANY_TEXT = st.text() | PAGE_TEXT


# ---------------------------------------------------------------------------------------------
# Properties: never raise, idempotent, only whole input lines kept, in order.


def _is_subsequence(kept: list[str], lines: list[str]) -> bool:
    remaining = iter(lines)
    return all(line in remaining for line in kept)


@deterministic
@given(ANY_TEXT)
@example("Check Also\n\nLeave a Reply\n\nText after.")
@example("Text.\n\nLeave a Reply\n\nRelated\n\nTeaser")
def test_strip_boilerplate_is_idempotent_and_keeps_whole_lines_in_order(text: str) -> None:
    once = strip_boilerplate(text)

    assert strip_boilerplate(once) == once
    kept = [line for line in once.split("\n") if line]
    assert _is_subsequence(kept, text.split("\n"))
    assert "\n\n\n" not in once


@deterministic
@given(ANY_TEXT)
def test_strip_boilerplate_keeps_clean_prose_unchanged(text: str) -> None:
    prose = html_to_text(text)
    paragraphs = [p for p in prose.split("\n\n") if len(p) > 300 and "\n" not in p]
    article = "\n\n".join(paragraphs)

    assert strip_boilerplate(article) == article


@deterministic
@given(ANY_TEXT)
@example("ALMATY (Reuters) - (AFP) - text")
@example("(AP) —")
def test_split_dateline_is_idempotent(text: str) -> None:
    dateline, body = split_dateline(text)

    assert split_dateline(body) == (None, body)
    if dateline is None:
        assert body == text


@deterministic
@given(ANY_TEXT, st.lists(ANY_TEXT, max_size=3))
@example("Troops leave Kazakhstan | World news | The Guardian", [])
@example("a b - c d - Reuters - RT", ["c d - Reuters - RT"])
def test_strip_site_suffix_is_idempotent_and_a_prefix(title: str, names: list[str]) -> None:
    once = strip_site_suffix(title, names)

    assert strip_site_suffix(once, names) == once
    assert title.startswith(once)
    if once != title:
        assert len(once.split()) >= 2


# ---------------------------------------------------------------------------------------------
# The seed page: a syndicated RT story on a third-party site.

SEED_ARTICLE = [
    "Russian-led troops leaving Kazakhstan",
    "Soldiers from the Collective Security Treaty Organization (CSTO) are leaving Kazakhstan "
    "having achieved their objectives, now that the region has been stabilized, the head of "
    "the six-member military alliance announced on Thursday.",
    "At a ceremony in Almaty, CSTO Secretary General Stanislav Zas said that Kazakh leaders had "
    "decided that unrest had subsided to a level that would allow the peacekeepers to withdraw.",
    "“It’s obvious that [the pullout] was not early,” he clarified. “The situation here in "
    "Almaty has been placed under the control of law-enforcement personnel, and that is why "
    "the task has been fulfilled.”",
    "“A conclusion was made that the situation had stabilized and the local forces are "
    "sufficient,” the chief went on. “The withdrawal of the forces is beginning today, stage by "
    "stage and in a calm manner, within ten days or perhaps earlier and will depend on weather. "
    "We will return all the peacekeepers home.”",
    "Kazakh President Kassym-Jomart Tokayev requested assistance from the Russian-led military "
    "alliance last week, after days of mass unrest that started following a sharp spike in fuel "
    "prices and quickly turned violent, leading to clashes with authorities. Several thousand "
    "troops, mostly Russian, entered the country and were assigned the task of protecting key "
    "strategic facilities.",
    "Last Friday, US Secretary of State Antony Blinken suggested that Moscow could have ulterior "
    "motives with the troop deployment, saying, “I think one lesson in recent history is that "
    "once Russians are in your house, it’s sometimes very difficult to get them to leave.” On "
    "Thursday, however, the forces began their withdrawal.",
    "Kazakh authorities reported this week that they had detained around 12,000 people during "
    "the demonstrations, and that over 160 people, civilians and security personnel, had been "
    "killed. In addition to the rising cost of fuel, the protests were also directed against "
    "the perceived failure of the government to deal with widespread economic inequality and "
    "provide systems of social support.",
    "In a series of statements this week, Tokayev announced that he will require wealthy Kazakh "
    "businesses to contribute to a “national fund” for social services, and promised to "
    "introduce new political reforms across a range of areas in September. Kazakhstan “will "
    "continue its course towards political modernization,” the president vowed.",
]
SEED_BOILERPLATE = [
    "Thursday , March 28 2024",
    "Kwork.ru",
    "Home / WORLD /",
    "© 2022, paradox. All rights reserved.",
    "Check Also",
    "Putin calls for",
    "Creativity, humanism and mercy",
    "Leave a Reply",
    "Your email address will not be published.",
]


def test_seed_page_keeps_exactly_the_article_paragraphs() -> None:
    assert SEED.is_file(), f"{SEED} is missing: the seed test needs /work/shared"
    text = html_to_text(SEED.read_text(encoding="utf-8"))

    stripped = strip_boilerplate(text)

    assert stripped.split("\n\n") == SEED_ARTICLE
    for fragment in SEED_BOILERPLATE:
        assert fragment in text
        assert fragment not in stripped
    assert split_dateline(stripped) == (None, stripped)


# ---------------------------------------------------------------------------------------------
# strip_boilerplate: each kind of line goes, article sentences with the same words stay.

ARTICLE = "The ministry said the talks in Almaty would resume next week."


@pytest.mark.parametrize(
    "line",
    [
        # ads
        "Advertisement", "ADVERTISEMENT", "Sponsored", "Sponsored content", "Story continues below",
        "Kwork.ru - услуги фрилансеров от 500 руб.", "Scroll to continue reading",
        # inline teasers and read-more links
        "Read more: Kazakhstan lifts state of emergency", "Related: Tokayev sacks government",
        "Also read: Fuel prices capped", "READ MORE", "Read more »", "Continue reading",
        "Continue reading the main story", "Read the full story here",
        "The post Troops leave Kazakhstan appeared first on Example News.",
        # comment forms
        "Your email address will not be published. Required fields are marked *",
        "Required fields are marked *", "Comment", "Name*", "Email*", "Website", "Name *",
        "Save my name, email, and website in this browser for the next time I comment.",
        "Cancel reply", "Post Comment", "12 Comments",
        # share widgets
        "Share this:", "Share on Facebook", "Tweet", "WhatsApp", "Facebook Twitter WhatsApp",
        "Share: Facebook | Twitter | Telegram", "Click to share on Twitter (Opens in new window)",
        "Email", "Print",
        # copyright
        "© 2023 Example Media", "© 2022, paradox. All rights reserved.", "Copyright 2024 AP",
        "Copyright © Kazinform", "(c) 2021 Example", "Example Media Group. All Rights Reserved.",
        # breadcrumbs
        "Home / WORLD / Russian-led troops leaving Kazakhstan", "Home » News » Asia",
        "You are here: Home > World", "News » World » Central Asia",
        # WordPress widgets
        "Like this:", "Like Loading...", "Loading...",
        # tags
        "Tags: Kazakhstan, CSTO, Russia", "Filed under: World", "Topics: Central Asia",
        # subscription prompts
        "Subscribe", "Subscribe to our newsletter", "Sign up for our daily briefing",
        "Follow us on Telegram", "Get the latest news delivered to your inbox",
        "Get our morning and afternoon news emails, free app or daily news podcast",
        "Sign up for Guardian Australia’s free morning and afternoon email newsletters for your "
        "daily news roundup", "Follow our Australia news live blog for the latest updates",
        "Sign up to receive First Thing – our daily briefing by email", "undefined",
        # page dates
        "Thursday , March 28 2024", "March 28, 2024", "2024-03-28",
        "Posted on March 3, 2024 by admin",
        # other languages: inline teasers and ad labels
        "Lire aussi | Le gouvernement recule sur la réforme", "À lire aussi : la chronique",
        "Читайте также: Власти объявили о мерах", "Читайте також: Уряд ухвалив рішення",
        "Czytaj także: Rząd ogłosił nowe przepisy", "Lesen Sie auch: Die Regierung plant",
        "Leer más: El Gobierno aprueba el plan", "Leia também: Governo anuncia medidas",
        "Leggi anche: Il governo approva", "Реклама", "Publicité", "Anzeige", "Reklama",
        # the furniture of Russian-, Ukrainian- and Kazakh-language sites
        "Реклама 18+", "Фото: © РИА Новости / Алексей Никольский", "Фото: Tengrinews.kz",
        "Фото пресс-службы акимата", "Источник: РИА Новости", "Джерело: Суспільне",
        "Фото: Суспільне Київ", "Подписывайтесь на РИА Новости в Telegram",
        "Подписывайтесь на наш Telegram-канал и будьте в курсе главных новостей!",
        "Підписуйтесь на наш Telegram-канал", "Біздің Telegram арнамызға жазылыңыз",
        "Kazinform агенттігінің Telegram арнасына жазылыңыз!", "Бізді Telegram-да оқыңыз",
        "Басты жаңалықтарды Telegram арнамыздан оқыңыз.", "Telegram каналыбызга катталыңыз",
        "Telegram kanalimizga obuna bo‘ling!", "Телеграм каналимизга обуна бўлинг",
        "26 қараша 2026, 12:30", "Жаңартылды: 26 қараша 2026, 12:30",
        "Жарияланған уақыты: 26.11.2026 12:30", "Оқи отырыңыз: Тоқаев Үкіметке тапсырма берді",
        "Сондай-ақ оқыңыз: Алматыда жер сілкінісі болды",
        "Читайте нас в Telegram", "Следите за новостями в нашем Telegram-канале",
        "Поделиться", "Поделиться: ВКонтакте Telegram WhatsApp", "Поділитися",
        "Нашли ошибку? Выделите текст и нажмите Ctrl+Enter",
        "Помилка в тексті? Виділіть її мишкою та натисніть Ctrl+Enter",
        "Теги: Казахстан, протесты", "© 2026 МИА «Россия сегодня»",
        "ТОО «Тенгри Медиа». Все права защищены.", "Всі права захищені.",
        "Обновлено 5 января 2026, 12:30", "5 января 2026, 12:30", "05.01.2026 12:30",
        # the same elsewhere in Europe
        "Foto: PAP/Radek Pietruszka", "Photo : AFP", "Quelle: dpa", "Zdjęcie: PAP", "Teilen",
        "Udostępnij", "Alle Rechte vorbehalten.", "Tous droits réservés",
    ],
)  # fmt: skip
def test_boilerplate_line_is_dropped(line: str) -> None:
    assert strip_boilerplate(f"{ARTICLE}\n\n{line}\n\n{ARTICLE}") == f"{ARTICLE}\n\n{ARTICLE}"


@pytest.mark.parametrize(
    "sentence",
    [
        "He said he would share the data with the commission.",
        "Share prices fell 3% in Almaty on Monday.",
        "Advertisement revenue at Kazakh broadcasters fell by half.",
        "Read more carefully, the decree gives the president new powers.",
        "Related talks in Geneva made no progress, officials said.",
        "Comment was not immediately available from the ministry.",
        "Дәрігерлер ата-аналарға дәрі қорабындағы нұсқаулықты мұқият оқыңыз деп кеңес берді.",
        "Сайлауға қатысу үшін тізімге алдын ала жазылыңыз.",  # no channel: an article's advice
        "Copyright law was amended in 2021 to cover online media.",
        "Home prices in Astana rose 12% last year.",
        "Tweets by the president were deleted on Friday.",
        "Loading of grain at Aktau port resumed.",
        "Tags attached to the cargo showed it came from Russia.",
        "Subscribers to the state broadcaster complained.",
        "Thursday's vote was postponed.",
        "In March 2024, the parliament voted to amend the law.",
        "The post of prime minister went to Alikhan Smailov.",
        "Name withheld at the request of the family.",
        "“Leave a reply on the table,” the minister joked.",
        "Kazakhstan - once a Soviet republic - is Central Asia's largest economy.",
        "The company reserved all rights to appeal, it said.",
        "WhatsApp messages showed the plan was discussed in advance.",
        "Lire aussi les conclusions du rapport, a conseillé le ministre aux députés.",
        "Реклама алкоголя запрещена в Казахстане с 2024 года.",
        "Czytaj także uważnie umowy, radzi rzecznik konsumentów.",
        "Get our troops home, the protesters chanted outside parliament.",
        "Follow our lead, the minister told the party.",
        "Undefined borders remain a source of tension, the report said.",
        "Источник в правительстве заявил, что отставки не будет.",
        "Источник: в правительстве республики заявили агентству, что отставок министров в "
        "ближайшие дни не будет.",
        "Фото опубликовал в своем Instagram аким города.",
        "Следите за развитием событий.",
        "Комментарии экспертов разделились: одни считают меры оправданными.",
        "Теги и хештеги стали популярны в соцсетях, пишет издание.",
        "5 января в Алматы прошел митинг.",
        "Подписывайтесь — призвал блогер, и число подписчиков выросло вдвое.",
        "Поделиться опытом с коллегами приехали эксперты из Бишкека.",
        "Image: the president's office said the photo was taken in 2019 during a visit.",
    ],
)
def test_article_sentence_with_trigger_words_stays(sentence: str) -> None:
    text = f"{ARTICLE}\n\n{sentence}\n\n{ARTICLE}"

    assert strip_boilerplate(text) == text


def test_teaser_block_after_heading_goes_until_article_prose() -> None:
    text = "\n\n".join(
        [
            ARTICLE,
            "Related stories",
            "Tokayev sacks government after fuel protests",
            "Putin calls for ‘humanism and mercy’ after Moscow terror attack",
            "Creativity, humanism and mercy are of special importance in the aftermath of the…",
            "Officials said the curfew would be lifted on Monday.",
        ]
    )

    assert strip_boilerplate(text) == "\n\n".join(
        [ARTICLE, "Officials said the curfew would be lifted on Monday."]
    )


def test_teaser_heading_in_another_language_starts_a_teaser_block() -> None:
    text = f"{ARTICLE}\n\nЧитайте также\n\nВласти Казахстана объявили о мерах\n\n{ARTICLE}"
    assert strip_boilerplate(text) == f"{ARTICLE}\n\n{ARTICLE}"


def test_russian_teaser_heading_starts_a_teaser_block_and_comments_end_the_article() -> None:
    text = "\n\n".join(
        [
            ARTICLE,
            "Материалы по теме",
            "В Жанаозене продолжается митинг",
            "Правительство Казахстана ушло в отставку",
            ARTICLE,
            "Комментарии (3)",
            "Айдар: наконец-то!",
        ]
    )
    assert strip_boilerplate(text) == f"{ARTICLE}\n\n{ARTICLE}"


def test_kazakh_teaser_heading_starts_a_teaser_block_and_comments_end_the_article() -> None:
    # Kazinform's and Egemen's Kazakh pages: "Related news", "Most read", "Leave a comment".
    for heading in ("Ұқсас жаңалықтар", "Соңғы жаңалықтар", "Ең көп оқылған"):
        text = "\n\n".join(
            [
                ARTICLE,
                heading,
                "Алматыда жер сілкінісі болды",
                "Шымкентте жаңа мектеп ашылды",
                ARTICLE,
                "Пікір қалдыру",
                "Айдар: керемет жаңалық!",
            ]
        )
        assert strip_boilerplate(text) == f"{ARTICLE}\n\n{ARTICLE}", heading


def test_headline_like_line_without_heading_stays() -> None:
    text = f"{ARTICLE}\n\nFuel prices and protest\n\n{ARTICLE}"

    assert strip_boilerplate(text) == text


def test_comment_section_ends_the_article() -> None:
    text = "\n\n".join([ARTICLE, "Leave a Reply", "Great article, thanks!", "John says: nonsense"])

    assert strip_boilerplate(text) == ARTICLE


def test_comment_heading_before_any_article_text_drops_only_itself() -> None:
    text = f"Leave a comment\n\n{ARTICLE}"

    assert strip_boilerplate(text) == ARTICLE


def test_lines_of_one_paragraph_stay_together() -> None:
    text = f"Home » News » Asia\n{ARTICLE}\nAdvertisement\n{ARTICLE}\n\nTweet"

    assert strip_boilerplate(text) == f"{ARTICLE}\n{ARTICLE}"


@pytest.mark.parametrize("text", ["", "\n\n", "Advertisement", "Check Also\n\nTeaser headline"])
def test_nothing_left_is_the_empty_string(text: str) -> None:
    assert strip_boilerplate(text) == ""


def test_long_line_is_never_boilerplate() -> None:
    line = "Tags: " + "Kazakhstan " * 40

    assert strip_boilerplate(line) == line


# ---------------------------------------------------------------------------------------------
# split_dateline


@pytest.mark.parametrize(
    ("text", "place", "agency", "body"),
    [
        ("ALMATY (Reuters) - Police fired.", "ALMATY", "Reuters", "Police fired."),
        ("ALMATY, Kazakhstan (AP) — Police fired.", "ALMATY, Kazakhstan", "AP", "Police fired."),
        ("WASHINGTON, Jan 5 (Reuters) - The US said.", "WASHINGTON", "Reuters", "The US said."),
        ("(AFP) - Protesters gathered.", "", "AFP", "Protesters gathered."),
        ("MOSCOW, March 3. /TASS/. Russia said.", "MOSCOW", "TASS", "Russia said."),
        ("ASTANA. KAZINFORM - The president met.", "ASTANA", "Kazinform", "The president met."),
        ("MOSCOW. Jan 5 (Interfax) - Troops left.", "MOSCOW", "Interfax", "Troops left."),
        ("BEIJING, Jan. 5 (Xinhua) -- China said.", "BEIJING", "Xinhua", "China said."),
        ("NUR-SULTAN (dpa) - Fuel prices rose.", "NUR-SULTAN", "dpa", "Fuel prices rose."),
        ("ST. PETERSBURG (RIA Novosti) - A court.", "ST. PETERSBURG", "RIA Novosti", "A court."),
        ("BERLIN (DPA) – Talks began.", "BERLIN", "dpa", "Talks began."),
        # Russian and Ukrainian wires: lower-case months, agencies in Cyrillic
        ("МОСКВА, 3 марта. /ТАСС/. Президент заявил.", "МОСКВА", "TASS", "Президент заявил."),
        ("АЛМАТЫ. 12 марта. КАЗИНФОРМ - Аким города.", "АЛМАТЫ", "Kazinform", "Аким города."),
        ("КИЇВ. 5 січня. УКРІНФОРМ - Уряд ухвалив.", "КИЇВ", "Ukrinform", "Уряд ухвалив."),
        ("  LONDON (Reuters) -\n\nShares fell.", "LONDON", "Reuters", "Shares fell."),
        # RIA Novosti and Sputnik: the agency after the dash, closed by a full stop
        ("АЛМАТЫ, 5 января — РИА Новости. Токаев ввел.", "АЛМАТЫ", "RIA Novosti", "Токаев ввел."),
        (
            "МОСКВА, 5 янв - РИА Новости. Захарова заявила.",
            "МОСКВА",
            "RIA Novosti",
            "Захарова заявила.",
        ),
        ("МОСКВА, 12 мая — РИА Новости, Анна Петрова. Суд.", "МОСКВА", "RIA Novosti", "Суд."),
        ("АСТАНА, 5 янв – Sputnik. Аким.", "АСТАНА", "Sputnik", "Аким."),
        ("АСТАНА, 5 янв — Sputnik Казахстан. Аким.", "АСТАНА", "Sputnik", "Аким."),
        # the place written as a name, then the date: Interfax, KazTAG, Kabar
        ("Алматы. 5 января. КазТАГ – Перебои со связью.", "Алматы", "KazTAG", "Перебои со связью."),
        (
            "Астана. 5 января. INTERFAX-KAZAKHSTAN - Нацбанк.",
            "Астана",
            "Interfax-Kazakhstan",
            "Нацбанк.",
        ),
        ("Москва. 5 января. INTERFAX.RU - Суд.", "Москва", "Interfax", "Суд."),
        ("Бишкек, 5 января. /Кабар/. Жогорку Кенеш.", "Бишкек", "Kabar", "Жогорку Кенеш."),
        # the same in Kazakh, with the agencies' Kazakh names
        ("Алматы. 5 қаңтар. ҚазТАГ – Байланыс үзілді.", "Алматы", "KazTAG", "Байланыс үзілді."),
        ("АСТАНА, 5 қаңтар – ҚазАқпарат. Тоқаев.", "АСТАНА", "Kazinform", "Тоқаев."),
        ("Астана. 26 қараша. KAZINFORM - Үкімет.", "Астана", "Kazinform", "Үкімет."),
        ("Almaty, Jan 5 (AP) — Police fired.", "Almaty", "AP", "Police fired."),
        ("ALMATY (Reuters) - (AFP) - Both.", "ALMATY", "Reuters", "Both."),
    ],
)
def test_dateline_is_split_off(text: str, place: str, agency: str, body: str) -> None:
    assert split_dateline(text) == (Dateline(place=place, agency=agency), body)


@pytest.mark.parametrize(
    "text",
    [
        "UN (United Nations) officials said the aid would arrive.",
        "NATO — the alliance — said nothing.",
        "WASHINGTON — The White House said.",
        "Almaty (Reuters) - mixed case is not a wire dateline.",
        "The AP (Associated Press) reported first.",
        "AP sources said the deal was done.",
        "ALMATY (Reuters) reported that police fired.",
        "CSTO troops (Reuters photo) - seen here.",
        "Kazakhstan, officials said (AP) - quoting.",
        "He told Reuters: the plan is set.",
        "WASHINGTON — Reuters reported the deal.",
        "АЛМАТЫ, 5 января — РИА Новости сообщили о протестах.",
        "Алматы — РИА Новости сообщают о протестах.",
        "В Алматы, по данным ТАСС. Протесты продолжились.",
        "Алматы. Интерфакс - главный источник новостей.",
        "",
    ],
)
def test_not_a_dateline(text: str) -> None:
    assert split_dateline(text) == (None, text)


# ---------------------------------------------------------------------------------------------
# strip_site_suffix


@pytest.mark.parametrize(
    ("title", "names", "expected"),
    [
        ("Troops leave Kazakhstan - RT World News", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan | Reuters", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan – BBC News", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan — The Guardian", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan :: Interfax", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan|Reuters", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan | World news | The Guardian", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan - Steppe Herald", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan - KTK TV", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan - rt.com", [], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan - Paradox", ["Paradox"], "Troops leave Kazakhstan"),
        ("Troops leave Kazakhstan - paradox.kz", ["https://www.paradox.kz/"],
         "Troops leave Kazakhstan"),
        ("Troops leave - Steppe Daily - News", ["Steppe Daily - News"], "Troops leave"),
        ("Kazakh unrest | Reuters", [], "Kazakh unrest"),
    ],
)  # fmt: skip
def test_site_suffix_is_cut(title: str, names: list[str], expected: str) -> None:
    assert strip_site_suffix(title, names) == expected


@pytest.mark.parametrize(
    ("title", "names", "expected"),
    [
        ("Токаев ввел режим ЧС - РИА Новости", [], "Токаев ввел режим ЧС"),
        ("Токаев ввел режим ЧС - РИА Новости, 05.01.2026", [], "Токаев ввел режим ЧС"),
        ("Токаев ввел режим ЧС — ТАСС", [], "Токаев ввел режим ЧС"),
        ("Токаев ввел режим ЧС | Радио Азаттык", [], "Токаев ввел режим ЧС"),
        ("Токаев ввел режим ЧС – Медуза", [], "Токаев ввел режим ЧС"),
        ("Токаев ввел режим ЧС — Новости Казахстана", [], "Токаев ввел режим ЧС"),
        ("Атака на Київ | Суспільне Новини", [], "Атака на Київ"),
        ("Атака на Київ: що відомо | Суспільне Новини", ["Суспільне | Новини"],
         "Атака на Київ: що відомо"),
        ("Токаев ввел режим ЧС | Власть", ["Власть"], "Токаев ввел режим ЧС"),
        ("Токаев ввел режим ЧС | Tengrinews.kz", ["Tengrinews.kz - Новости Казахстана и мира"],
         "Токаев ввел режим ЧС"),
    ],
)  # fmt: skip
def test_russian_and_ukrainian_site_suffixes_are_cut(
    title: str, names: list[str], expected: str
) -> None:
    assert strip_site_suffix(title, names) == expected


@pytest.mark.parametrize(
    "title",
    [
        "Kazakhstan - the year in review",
        "Kazakhstan: protests spread to Almaty",
        "Trump - Putin summit ends without a deal",
        "Protests | Reuters",  # one word would be left
        "Reuters",
        "Unrest in Kazakhstan - Fake news spreads online",
        "Kazakh oil - a boom with no end",
        "Troops leave - Steppe Times",  # a guess must leave three words
        "Troops leave Kazakhstan",
        "",
    ],
)
def test_title_without_outlet_suffix_stays(title: str) -> None:
    assert strip_site_suffix(title) == title


@pytest.mark.parametrize(
    "title",
    [
        "Токаев — о протестах: это была попытка переворота",
        "Жапаров — Токаеву: Кыргызстан готов помочь",
        "Цены на газ — главная причина протестов",
        "Протесты в Казахстане — Радио и ТВ молчат",
        "Газпром — Нафтогаз: спор продолжается",
    ],
)
def test_russian_headline_with_a_dash_stays(title: str) -> None:
    assert strip_site_suffix(title) == title


def test_known_outlet_cut_leaves_the_dash_of_the_headline() -> None:
    assert strip_site_suffix("Trump - Putin summit | Reuters") == "Trump - Putin summit"


@pytest.mark.parametrize(
    "line",
    [
        "We use cookies to ensure that we give you the best experience on our website.",
        "This website uses cookies to improve your experience.",
        "By continuing to use this site, you agree to our use of cookies.",
        "Accept all cookies",
        "Cookie settings",
        "Follow us on Facebook, Twitter and Telegram for breaking news and the stories that matter",
    ],
)
def test_cookie_notices_and_follow_prompts_are_dropped(line: str) -> None:
    text = f"The minister spoke in Astana on Monday.\n\n{line}\n\nTalks resume in May."
    assert strip_boilerplate(text) == (
        "The minister spoke in Astana on Monday.\n\nTalks resume in May."
    )


def test_an_article_sentence_about_cookies_stays() -> None:
    text = "We use cookies from the village bakery, she said.\n\nSales doubled."
    assert strip_boilerplate(text) == text
