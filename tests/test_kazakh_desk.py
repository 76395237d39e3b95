"""A Central Asia desk's Kazakh-language sources end to end: `run --once` against loopback
feeds modelled on Kazinform's Kazakh service and Egemen Qazaqstan, which declare no language,
then `search`, `alerts test`, the alert feed and the published Atom, as the desk reads them.

What the desk needs: `токаев` finds "Тоқаев" (in searches, sections and alerts alike), the
stories are Kazakh (`lang:kk`, `xml:lang="kk"`) although their feeds do not say so, their
datelines and site furniture are out of the text, and "хабарлады" (reported), which closes
half the stories, does not make them crime news.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from tests.conftest import FeedServer, Route, syndicator, write_config

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

MEETING = (
    "<p>АСТАНА. KAZINFORM – Мемлекет басшысы Қасым-Жомарт Тоқаев Ақордада Үкімет басшысы "
    "Олжас Бектеновті қабылдады, деп хабарлайды Ақорданың баспасөз қызметі.</p>"
    "<p>Кездесу барысында Мемлекет басшысына елдің әлеуметтік-экономикалық дамуы туралы "
    "ақпарат берілді. Премьер-министрдің айтуынша, биылғы он айдың қорытындысы бойынша ішкі "
    "жалпы өнім 4,9 пайызға өсті.</p><p>Фото: Ақорда</p>"
    "<p>Оқи отырыңыз: Тоқаев Алматы облысына жұмыс сапарымен барды</p>"
    "<p>Kazinform агенттігінің Telegram арнасына жазылыңыз!</p>"
)
SCHOOL = (
    "<p>Алматы. 26 қараша. ҚазТАГ – Шымкент қаласында 1200 орындық жаңа мектеп пайдалануға "
    "берілді. Бұл туралы қала әкімдігінің баспасөз қызметі хабарлады.</p><p>Мектеп «Жайлы "
    "мектеп» ұлттық жобасы аясында салынған. Ғимаратта 60 сынып, екі спорт залы, асхана және "
    "кітапхана бар.</p><p>26 қараша 2026, 12:30</p>"
)
FORUM = (
    "<p>Мемлекет басшысы Қасым-Жомарт Тоқаев Астанада өткен Ұлттық құрылтай отырысында "
    "экономиканы әртараптандыру мәселесіне тоқталды. Президенттің айтуынша, шикізатқа "
    "тәуелділіктен арылу үшін өңдеу өнеркәсібін дамыту қажет.</p><p>Тоқаев сондай-ақ шағын "
    "және орта бизнесті қолдау шараларын кеңейтуді тапсырды.</p><p>Бөлісу:</p>"
)


def _feed(title: str, items: list[tuple[str, str, str]]) -> bytes:
    """RSS as these sites write it, without a <language>: (title, link, HTML body) per item."""
    rendered = "".join(
        f"<item><title>{headline}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Thu, 26 Nov 2026 10:15:00 +0500</pubDate>"
        f"<description><![CDATA[{body}]]></description></item>"
        for headline, link, body in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.kz/</link><description>{title}"
        f"</description>{rendered}</channel></rss>"
    ).encode()


def _serve(server: FeedServer) -> list[str]:
    server.routes["/kazinform.xml"] = Route(
        _feed(
            "Kazinform - Қазақстан жаңалықтары",
            [
                (
                    "Тоқаев Үкімет басшысын қабылдады",
                    "https://www.inform.kz/kz/tokaev-ukimet_a4123456",
                    MEETING,
                ),
                (
                    "Шымкентте жаңа мектеп ашылды",
                    "https://www.inform.kz/kz/shymkentte-zhana-mektep_a4123457",
                    SCHOOL,
                ),
            ],
        )
    )
    server.routes["/egemen.xml"] = Route(
        _feed(
            "Egemen Qazaqstan",
            [
                (
                    "Президент: Экономиканы әртараптандыру – басты міндет",
                    "https://egemen.kz/article/371240-prezident",
                    FORUM,
                )
            ],
        )
    )
    return [server.url("/kazinform.xml"), server.url("/egemen.xml")]


def _lines(output: str) -> str:
    return "\n".join(line.strip() for line in output.splitlines())


def test_kazakh_stories_are_found_as_a_russian_keyboard_types_them_and_read_as_kazakh(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    alert = '[[alerts]]\nname = "tokayev"\nquery = "токаев"\nchannels = []\n'
    config = write_config(tmp_path, _serve(feed_server), alert)
    ran = syndicator("--config", str(config), "run", "--once", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr

    both = {
        "Тоқаев Үкімет басшысын қабылдады",
        "Президент: Экономиканы әртараптандыру – басты міндет",
    }
    for command in (["search", "токаев"], ["alerts", "test", "tokayev"]):
        found = syndicator("--config", str(config), *command, cwd=tmp_path)
        assert found.returncode == 0, found.stderr
        assert all(title in found.stdout for title in both), (command, found.stdout)
        assert "Шымкентте" not in found.stdout
    alerted = etree.parse(str(tmp_path / "feeds" / "feeds" / "alerts" / "tokayev.atom"))
    assert {e.findtext(f"{ATOM}title") for e in alerted.iter(f"{ATOM}entry")} == both

    # The feeds declare no language: the text does, clearly.
    kazakh = syndicator("--config", str(config), "search", "lang:kk", cwd=tmp_path)
    assert "3 stored story clusters match" in kazakh.stdout, kazakh.stdout
    root = etree.parse(str(tmp_path / "feeds" / "feeds" / "all.atom")).getroot()
    entries = list(root.iter(f"{ATOM}entry"))
    assert len(entries) == 3
    for entry in entries:
        assert entry.find(f"{ATOM}title").get(XML_LANG) == "kk"  # type: ignore[union-attr]
        terms = {c.get("term") for c in entry.iter(f"{ATOM}category")}
        assert "KZ" in terms
        assert "crime" not in terms  # "хабарлады", "хабарлайды": reported, not a bribe
        summary = entry.findtext(f"{ATOM}summary") or ""  # the content is the page's HTML
        assert not summary.startswith(("АСТАНА", "Алматы")), summary  # datelines out
    # The furniture is out of the stored text: a search for its words finds nothing.
    for furniture in ("жазылыңыз", '"оқи отырыңыз"', '"26 қараша 2026"', "ақорда"):
        found = syndicator("--config", str(config), "search", furniture, cwd=tmp_path)
        assert found.stdout.startswith("no stored story matches"), (furniture, found.stdout)

    school = syndicator("--config", str(config), "search", "title:шымкентте", cwd=tmp_path)
    cluster = school.stdout.split("cluster:")[1].split()[0]
    shown = syndicator("--config", str(config), "explain", f"cluster:{cluster}", cwd=tmp_path)
    assert "dateline: Алматы, KazTAG" in _lines(shown.stdout), shown.stdout
