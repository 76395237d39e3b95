"""A Central Asia desk's Russian-language sources end to end: `run --once` against loopback
feeds modelled on RIA Novosti, TASS, Tengrinews, Vlast.kz and KazTAG, then the published Atom
and `explain`, as the desk reads them.

What the desk needs: a wire story republished by regional sites is one story, with the
agency's dateline ("АЛМАТЫ, 5 января — РИА Новости.") and each site's furniture ("Фото: ...",
"Источник: ...", "Подписывайтесь на наш Telegram") out of the summary and out of the
comparison, and the sites' own signatures (" | Tengrinews.kz", " — ТАСС") out of the headline;
another agency's own report on the same event stays a story of its own, linked as related.
"""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree

from tests.conftest import FeedServer, Route, syndicator, write_config

ATOM = "{http://www.w3.org/2005/Atom}"

RIA_TEXT = (
    "<p>Президент Казахстана Касым-Жомарт Токаев ввел режим чрезвычайного положения в Алматы и "
    "Мангистауской области на две недели, говорится в указе, опубликованном на сайте Акорды.</p>"
    "<p>Режим ЧП будет действовать с 01:00 5 января до 00:00 19 января. На время чрезвычайного "
    "положения в Алматы вводится комендантский час с 23:00 до 07:00, ограничивается "
    "передвижение транспорта, запрещаются массовые мероприятия.</p>"
    "<p>Протесты в Казахстане начались 2 января в городе Жанаозен Мангистауской области, где "
    "жители выступили против резкого повышения цен на сжиженный газ. Позднее акции протеста "
    "распространились на другие города, в том числе на Алматы и Актау.</p>"
)
RIA_BODY = (
    "<p>АЛМАТЫ, 5 января — РИА Новости. " + RIA_TEXT[3:] + "<p>Читайте также: Токаев принял "
    "отставку правительства Казахстана</p><p>Подписывайтесь на РИА Новости в Telegram</p>"
)
TENGRI_BODY = (
    "<p>Фото: © РИА Новости / Алексей Никольский</p>" + RIA_TEXT + "<p>Источник: РИА Новости</p>"
    "<p>Подписывайтесь на наш Telegram-канал и будьте в курсе главных новостей!</p>"
    "<p>Поделиться</p><p>Нашли ошибку? Выделите текст и нажмите Ctrl+Enter</p>"
)
TASS_BODY = (
    "<p>АСТАНА, 5 января. /ТАСС/. Глава Казахстана Касым-Жомарт Токаев подписал указ о введении "
    "чрезвычайного положения в Алматы, а также в Мангистауской области, где в начале недели "
    "начались акции протеста. Об этом сообщила пресс-служба главы государства.</p>"
    "<p>Согласно документу, ЧП будет действовать до 19 января. В этот период в крупнейшем "
    "городе республики и в регионе вводятся ограничения на въезд и выезд, а также "
    "комендантский час.</p><p>Недовольство жителей вызвал рост стоимости автомобильного газа, "
    "цена которого с начала года увеличилась почти вдвое.</p>"
)
KAZTAG_BODY = (
    "<p>Алматы. 5 января. КазТАГ – Перебои с мобильной связью и интернетом фиксируются в Алматы "
    "и ряде других городов Казахстана, передает корреспондент агентства.</p><p>По данным "
    "сервиса NetBlocks, в Казахстане наблюдается общенациональное отключение интернета.</p>"
    "<p>Реклама</p>"
)
HEADLINE = "Токаев ввел режим ЧП в Алматы и Мангистауской области"


def _feed(title: str, items: list[tuple[str, str, str, str]], encoding: str = "utf-8") -> bytes:
    """An RSS document as these sites write it: (title, link, date, HTML body) per item."""
    rendered = "".join(
        f"<item><title>{headline}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{date}</pubDate><description><![CDATA[{body}]]></description></item>"
        for headline, link, date, body in items
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.kz/</link><description>{title}"
        f"</description><language>ru</language>{rendered}</channel></rss>"
    ).encode(encoding)


def _serve(server: FeedServer) -> list[str]:
    server.routes["/ria.xml"] = Route(
        _feed(
            "РИА Новости",
            [
                (
                    HEADLINE,
                    "https://ria.ru/20260105/kazakhstan-1234567890.html",
                    "Mon, 05 Jan 2026 03:10:00 +0300",
                    RIA_BODY,
                )
            ],
        )
    )
    server.routes["/tengri.xml"] = Route(
        _feed(
            "Tengrinews.kz - Новости Казахстана и мира",
            [
                (
                    HEADLINE + " | Tengrinews.kz",
                    "https://tengrinews.kz/kazakhstan_news/tokaev-vvel-rejim-458123/",
                    "Mon, 05 Jan 2026 06:25:00 +0500",
                    TENGRI_BODY,
                )
            ],
        )
    )
    server.routes["/tass.xml"] = Route(
        _feed(
            "ТАСС",
            [
                (
                    HEADLINE + " — ТАСС",
                    "https://tass.ru/mezhdunarodnaya-panorama/16789012",
                    "Mon, 05 Jan 2026 03:25:00 +0300",
                    TASS_BODY,
                )
            ],
        )
    )
    server.routes["/kaztag.xml"] = Route(
        _feed(
            "КазТАГ",
            [
                (
                    "В Казахстане отключили мобильный интернет",
                    "https://kaztag.kz/ru/news/v-kazakhstane-otklyuchili-internet",
                    "Mon, 05 Jan 2026 11:00:00 +0500",
                    KAZTAG_BODY,
                )
            ],
            encoding="windows-1251",
        ),
        content_type="application/rss+xml; charset=windows-1251",
    )
    return [server.url(path) for path in ("/ria.xml", "/tengri.xml", "/tass.xml", "/kaztag.xml")]


def _entries(tmp_path: Path) -> dict[str, list[etree._Element]]:
    """The published entries of all.atom by title (one title may lead two entries)."""
    root = etree.parse(str(tmp_path / "feeds" / "feeds" / "all.atom")).getroot()
    entries: dict[str, list[etree._Element]] = {}
    for entry in root.iter(f"{ATOM}entry"):
        entries.setdefault(entry.findtext(f"{ATOM}title") or "", []).append(entry)
    return entries


def test_a_wire_story_republished_by_regional_sites_is_one_clean_story(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, _serve(feed_server))
    ran = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr

    entries = _entries(tmp_path)
    # The sites' signatures are cut from the headlines: RIA and its copy lead one entry, TASS's
    # own report (other words, same event) another.
    assert set(entries) == {HEADLINE, "В Казахстане отключили мобильный интернет"}
    assert len(entries[HEADLINE]) == 2
    summaries = {
        entry.findtext(f"{ATOM}source/{ATOM}title"): entry.findtext(f"{ATOM}summary") or ""
        for entry in entries[HEADLINE]
    }
    assert summaries["РИА Новости"].startswith("Президент Казахстана Касым-Жомарт Токаев")
    assert summaries["ТАСС"].startswith("Глава Казахстана")
    kaztag = entries["В Казахстане отключили мобильный интернет"][0]
    assert (kaztag.findtext(f"{ATOM}summary") or "").startswith("Перебои с мобильной связью")

    ria = next(
        e for e in entries[HEADLINE] if e.findtext(f"{ATOM}source/{ATOM}title") == "РИА Новости"
    )
    cluster = ria.findtext(f"{ATOM}id", "").rsplit("/", 1)[1]
    shown = syndicator(
        "--config", str(config), "explain", f"cluster:{cluster}", "--json", cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    explained = json.loads(shown.stdout)
    members = {member["source"]: member for member in explained["members"]}
    assert set(members) == {"РИА Новости", "Tengrinews.kz - Новости Казахстана и мира"}
    assert (members["РИА Новости"]["place"], members["РИА Новости"]["agency"]) == (
        "АЛМАТЫ",
        "RIA Novosti",
    )
    # Without the dateline and the furniture, one is the other's text whole (which of them
    # was stored first depends on which feed answered first).
    joined = [member for member in members.values() if member["join_reason"] != "first"]
    assert [(member["join_reason"], member["join_score"]) for member in joined] == [
        ("similar-text", 1.0)
    ]
    assert [related["title"] for related in explained["related"]] == [HEADLINE]
