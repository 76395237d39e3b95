"""Syndication boilerplate: site furniture lines, wire datelines and site-name title suffixes.

A story republished on a third-party site arrives wrapped in that site's furniture: ads,
breadcrumbs, share widgets, "Check Also" teasers, comment forms, copyright lines. The same wire
story also starts with a dateline ("ALMATY (Reuters) -") and its title ends with the outlet's
name (" | Reuters"). Removing these makes copies of one story look alike to `dedup` and keeps
the furniture's words away from `tagging` and the alert matcher.

What it does: three pure functions over text that `normalize` has already cleaned
(`html_to_text`, `clean_line`). `strip_boilerplate` drops whole boilerplate lines, never parts
of a line; `split_dateline` moves a wire dateline into a `Dateline` value; `strip_site_suffix`
cuts outlet names off titles. Each is idempotent, does no I/O, reads no clock and never raises.

What it does not do: it does not parse HTML (DOM-based extraction of the article node belongs
to fetching HTML sources), it does not decide identity, and it does not guess at lines it has
no rule for: a line that is not matched whole by a rule below stays. Every rule is anchored
at both ends of a short line, so an article sentence that merely contains a trigger word
("He said he would share the data") is never touched.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

# ---------------------------------------------------------------------------------------------
# strip_boilerplate

# Boilerplate lines are short; longer lines are article prose and are not looked at.
_MAX_BOILERPLATE_LEN = 300
# A teaser (related headline or its excerpt) is a short line.
_MAX_TEASER_LEN = 200
# A teaser block ends after this many lines even if more headline-like lines follow.
_MAX_TEASERS = 12

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|mon|tue|wed|thu|fri|sat|sun)\.?"
_DATE = (
    rf"(?:{_WEEKDAY}\s*,?\s*)?"
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\s*,?\s*\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s*,?\s*\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4})"
    r"(?:\s*,?\s*(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*[a-z]{2,5})?)?"
)
# A date as Russian, Ukrainian and Kazakh pages print it: "5 января 2026, 12:30",
# "05.01.2026 в 12:30", "26 қараша 2026, 12:30".
_MONTH_RU = (
    r"(?:января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
    r"|січня|лютого|березня|квітня|травня|червня|липня|серпня|вересня|жовтня|листопада"
    r"|грудня|қаңтар|ақпан|наурыз|сәуір|мамыр|маусым|шілде|тамыз|қыркүйек|қазан|қараша"
    r"|желтоқсан)"
)
_DATE_RU = (
    rf"(?:\d{{1,2}}\s+{_MONTH_RU}(?:\s+\d{{4}}(?:\s*(?:г\.|года|року|р\.))?)?"
    r"|\d{1,2}\.\d{1,2}\.\d{4})"
    r"(?:\s*[,|]?\s*(?:в\s+|о\s+)?\d{1,2}:\d{2})?"
)
_WEEKDAYS_AND_MONTHS = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thurs fri "
    "sat sun jan january feb february mar march apr april may jun june jul july aug august "
    "sep sept september oct october nov november dec december"
)
_SHARE_WORDS = (
    "share tweet pin email e-mail print facebook twitter x whatsapp telegram linkedin reddit "
    "pinterest vk viber messenger flipboard tumblr pocket copy поделиться поділитися бөлісу "
    "вконтакте одноклассники teilen partager udostępnij condividi compartir compartilhar"
)
_SHARE_WORD = (
    r"(?:share(?:\s+this(?:\s+(?:article|story|post|page))?|\s+(?:on|via|to)\s+\w+)?"
    r"|tweet(?:\s+this)?|pin(?:\s+it)?|e-?mail|print(?:\s+this(?:\s+(?:article|page))?)?"
    r"|facebook|twitter|x|whatsapp|telegram|linkedin|reddit|pinterest|vk|viber|messenger"
    r"|flipboard|tumblr|pocket|copy\s+link|copy\s+url"
    # "Share" in the region's and Europe's languages, and the Russian networks
    r"|поделиться|поділитися|бөлісу|вконтакте|одноклассники|teilen|partager|udostępnij"
    r"|condividi|compartir|compartilhar)"
)

# "Read also" in French, Russian, Ukrainian, Kazakh, Polish, German, Spanish, Portuguese,
# Italian and Turkish, and the first words those headings start with.
_OTHER_TEASER = (
    r"(?:à\s+)?lire\s+(?:aussi|également)|sur\s+le\s+même\s+sujet"
    r"|читайте\s+(?:также|тоже|також)|по\s+теме|смотрите\s+также|дивіться\s+також"
    r"|(?:новости|материалы|ещ[её])\s+по\s+теме|(?:другие|последние|главные)\s+новости"
    r"|самое\s+(?:читаемое|популярное)|новости\s+партн[её]ров|партн[её]рские\s+материалы"
    r"|(?:новини|матеріали)\s+за\s+темою|(?:інші|останні|головні)\s+новини"
    r"|новини\s+партнерів|тақырыпқа\s+қатысты|оқи\s+отырыңыз|(?:сондай-ақ|тағы)\s+оқыңыз"
    r"|(?:ұқсас|соңғы|басты)\s+жаңалықтар|ең\s+көп\s+оқылған"
    r"|czytaj\s+(?:także|też|również|więcej)|zobacz\s+(?:także|też|również)"
    r"|lesen\s+sie\s+(?:auch|mehr)|mehr\s+zum\s+thema|leer\s+más|lea\s+también"
    r"|leia\s+(?:também|mais)|leggi\s+anche|ayrıca\s+okuyun|ilgili\s+haberler"
)
_OTHER_TEASER_FIRST_WORDS = (
    "à lire sur читайте по смотрите дивіться czytaj zobacz lesen mehr leer lea leia leggi "
    "ayrıca ilgili новости материалы еще ещё другие последние главные самое партнерские "
    "партнёрские новини матеріали інші останні головні тақырыпқа оқи сондай-ақ тағы ұқсас "
    "соңғы басты ең"
)

# The rules: (kind, the words a matching line starts with, the pattern of the whole line).
# "" stands for a line that starts with neither a letter nor a quote ("©", "(c)", a digit).
# Listing the first words lets a line be tried against only the rules that can match it: one
# regex of every rule costs some 10 µs a line, which the budget of 100 µs a story cannot pay.
# Kinds: a teaser "heading" starts a block of teasers, a "comments" heading ends the article.
_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "heading",
        "check see read also up related more you recommended most trending latest top popular "
        "further editor's editors what don't dont in",
        r"(?:check\s+also|see\s+also|read\s+also|also\s+read|also\s+see|read\s+next|up\s+next"
        r"|related(?:\s+(?:articles?|stories|story|posts?|news|coverage|content|reading|links?))?"
        r"|more\s+(?:stories|news|articles|on\s+this(?:\s+story|\s+topic)?|from\s+[\w ]{1,30})"
        r"|you\s+(?:may|might)\s+(?:also\s+)?(?:like|enjoy|be\s+interested\s+in|have\s+missed)"
        r"|recommended(?:\s+(?:for\s+you|stories|articles|reading))?|most\s+(?:read|popular"
        r"|viewed|shared)|trending(?:\s+now)?|latest(?:\s+(?:news|stories))?|top\s+stories"
        r"|popular(?:\s+(?:posts|stories))?|further\s+reading|editor['’]?s\s+picks"
        r"|what\s+to\s+read\s+next|don['’]?t\s+miss|in\s+case\s+you\s+missed\s+it)\s*[:.!…]*",
    ),
    (
        "comments",
        "leave post add write join comments",
        r"(?:leave\s+a\s+(?:reply|comment)|post\s+a\s+comment|add\s+(?:a\s+)?comment"
        r"|write\s+a\s+comment|join\s+the\s+(?:discussion|conversation)|comments\s+are\s+closed)"
        r"\s*[:.!]*",
    ),
    (  # ads and sponsor labels
        "boilerplate",
        "advertisement advertising advert ad ads sponsored promoted partner paid story article "
        "scroll",
        r"advertisement|advertising|advert|ads?|sponsored(?:\s+(?:content|post|story|links?))?"
        r"|sponsored\s+by\s+.{1,60}|promoted(?:\s+content)?|partner\s+content"
        r"|paid\s+(?:content|post|partnership|promotion)"
        r"|(?:story|article)\s+continues\s+(?:below|after\s+(?:this\s+)?advertisement)"
        r"(?:\s+advertisement)?|scroll\s+(?:down\s+)?to\s+continue(?:\s+reading)?",
    ),
    (  # inline related-story teasers: "Read more: ...", "Related: ..."
        "boilerplate",
        "read also see related recommended watch listen check",
        r"(?:read\s+more|read\s+also|also\s+read|see\s+also|related(?:\s+(?:article|story"
        r"|stories|coverage|content))?|recommended|read|watch|listen|check\s+also)\s*:\s*.{1,200}",
    ),
    (  # "Read more", "Continue reading", WordPress feed footers
        "boilerplate",
        "read continue keep learn see view more the",
        r"(?:read\s+more|continue\s+reading|keep\s+reading|learn\s+more|see\s+more|view\s+more"
        r"|more|read)(?:\s*(?:here|»|›|→|>>|\.\.\.|…))*"
        r"|read\s+(?:the\s+)?(?:full|whole|rest\s+of\s+the|original)\s+(?:article|story|report"
        r"|post)(?:\s+(?:here|at\s+.{1,40}|on\s+.{1,40}))?"
        r"|continue\s+reading\s+(?:the\s+main\s+story|at\s+.{1,60}|on\s+.{1,60})"
        r"|the\s+post\s+.{1,250}\s+appeared\s+first\s+on\s+.{1,100}",
    ),
    (  # teaser headings in the other languages of the region's and Europe's outlets
        "heading",
        _OTHER_TEASER_FIRST_WORDS,
        _OTHER_TEASER,
    ),
    (  # the same as inline teasers: "Lire aussi | ...", "Читайте также: ..."
        "boilerplate",
        _OTHER_TEASER_FIRST_WORDS,
        rf"(?:{_OTHER_TEASER})\s*[:|]\s*.{{1,200}}",
    ),
    (  # ad labels in those languages
        "boilerplate",
        "реклама publicité anzeige werbung reklama publicidad publicidade pubblicità",
        r"(?:реклама|publicité|anzeige|werbung|reklama|publicidad|publicidade|pubblicità)"
        r"(?:\s*\d{1,2}\+)?",
    ),
    (  # photo and source credits: "Фото: © РИА Новости / ...", "Источник: Tengrinews.kz",
        # "Джерело: Суспільне", "Foto: PAP/...", "Photo: AFP"; at most eight words after the
        # colon, so a sentence that starts so ("Source: the ministry said ...") is longer
        "boilerplate",
        "фото фотография иллюстративное коллаж скриншот источник джерело дереккөз сурет "
        "photo photos foto fot zdjęcie bild quelle source credit image",
        r"(?:фото(?:графия)?|(?:источник|джерело)(?:\s+фото)?|коллаж|скриншот|дереккөз"
        r"|сурет|photos?|foto|fot|zdjęcie|bild|quelle|source|credit|image)\s*[:.]\s*"
        r"\S+(?:\s+\S+){0,7}"
        r"|фото\s+(?:пресс-служб\w*|из\s+(?:открытых\s+источников|соцсетей|социальных\s+сетей"
        r"|архива)|автора|иллюстративное)[^\n]{0,80}|иллюстративное\s+фото",
    ),
    (  # subscription prompts: "Подписывайтесь на наш Telegram-канал", "Читайте нас в ..."
        "boilerplate",
        "подписывайтесь подпишитесь підписуйтесь підпишіться присоединяйтесь приєднуйтесь "
        "следите слідкуйте читайте біздің",
        r"(?:(?:подписывайтесь|подпишитесь|підписуйтесь|підпишіться)\s+(?:на|в|у)"
        r"|(?:присоединяйтесь|приєднуйтесь)\s+(?:к|до)|следите\s+за\s+(?:новостями|нами)|слідкуйте\s+за\s+(?:новинами|нами)"
        r"|читайте\s+(?:нас|нові\w*|новости\s+\S+)\s+(?:в|у|на))\s+.{1,150}"
        r"|біздің\s+.{1,80}\s+жазылыңыз.{0,60}",
    ),
    (  # tag lists and comments headings in Russian, Ukrainian and Kazakh
        "boilerplate",
        "теги тэги метки ключевые тегтер",
        r"(?:теги|тэги|метки|ключевые\s+слова|тегтер)(?:\s*:\s*.{0,300})?",
    ),
    (
        "comments",
        "комментарии комментариев оставьте добавить написать коментарі коментарів залиште додати "
        "пікірлер пікір",
        r"(?:комментари(?:и|ев)|коментар(?:і|ів)|пікірлер)(?:\s*\(\d+\))?|оставьте\s+"
        r"комментарий|(?:добавить|написать)\s+комментарий|(?:залиште|додати)\s+коментар"
        r"|пікір\s+(?:қалдыру|қалдырыңыз|жазу)",
    ),
    (  # page date lines: "Обновлено 5 января 2026, 12:30", "5 січня 2026 14:05"
        "boilerplate",
        "обновлено опубликовано оновлено опубліковано дата жаңартылды жарияланды жарияланған ",
        rf"(?:(?:обновлено|опубликовано|оновлено|опубліковано|дата\s+публикации|жаңартылды"
        rf"|жарияланды|жарияланған(?:\s+уақыты)?)\s*:?\s*)?{_DATE_RU}",
    ),
    (  # comment forms
        "boilerplate",
        "cancel post submit reply log login your name email e-mail website url comment message "
        "save required you this notify comments no ",
        r"cancel\s+reply|post\s+comment|submit(?:\s+comment)?|reply|log\s*in\s+to\s+(?:reply"
        r"|comment)|(?:your\s+)?(?:name|e-?mail(?:\s+address)?|website|url|comment|message)"
        r"\s*[*:]?\s*(?:\((?:required|optional)\))?\s*\*?"
        r"|save\s+my\s+name,?\s+e-?mail,?\s+and\s+website\s+in\s+this\s+browser.{0,60}"
        r"|your\s+e-?mail\s+address\s+will\s+not\s+be\s+published.{0,120}"
        r"|required\s+fields\s+are\s+marked.{0,20}|you\s+must\s+be\s+(?:logged\s+in"
        r"|registered).{0,80}|this\s+site\s+uses\s+akismet.{0,120}"
        r"|notify\s+me\s+of\s+(?:follow-up\s+comments|new\s+posts|new\s+comments).{0,80}"
        r"|(?:\d+\s+)?comments?(?:\s+\(\d+\))?|no\s+comments(?:\s+yet)?",
    ),
    (  # share widgets: one or several network names; the atomic group keeps this linear
        "boilerplate",
        _SHARE_WORDS + " click follow",
        rf"(?>{_SHARE_WORD}\b(?:\s*+[:|·•,/]\s*+|\s++)?)+|click\s+to\s+(?:share|email|print)"
        r".{0,60}|(?:share|follow\s+us)\s+on\s+.{1,40}",
    ),
    (  # copyright; a line ending in "All rights reserved" is caught by _is_rights_notice
        "boilerplate",
        "copyright ",
        r"(?:©|\(c\)|copyright\s*+(?:©|\(c\)|\d{4}\b)).{0,300}",
    ),
    (  # breadcrumbs starting at Home: "Home / WORLD / ..."
        "boilerplate",
        "home you",
        r"(?:you\s+are\s+here:?\s*)?home\s*+(?:/|»|›|>|→|\||::)\s*+.{1,250}",
    ),
    (  # WordPress "Like this:" widgets and counters; a script's empty value left as text
        "boilerplate",
        "like loading be undefined null",
        r"undefined|null|like\s+this:?|like\s+loading(?:\.\.\.|…)?|loading(?:\.\.\.|…)?"
        r"|be\s+the\s+first\s+to\s+like\s+this|[\d.,]+[km]?\s+(?:likes?|shares|views)",
    ),
    (  # tag and category lists
        "boilerplate",
        "tags tag tagged topic topics filed categories category keywords",
        r"tags|(?:tags?|tagged(?:\s+with)?|topics?|filed\s+under|categories|category|keywords)"
        r"\s*:\s*.{0,300}",
    ),
    (  # subscription and app prompts
        "boilerplate",
        "subscribe newsletter sign log login register join follow get enter we by download support",
        r"subscribe(?:\s+(?:now|today|here))?|newsletter(?:\s+sign-?up)?|sign\s+up|sign\s+in"
        r"|log\s*in|register|(?:subscribe|sign\s+up|register)\s+(?:to|for|now\s+for)\s+(?:our"
        r"|the|free)\s+.{1,80}|(?:join|follow)\s+(?:us|our\s+\w+(?:\s+\w+)?)\s+on\s+.{1,150}"
        r"|get\s+(?:the\s+latest|our|breaking)\s+.{1,80}\s+(?:in|to|delivered\s+to)\s+your"
        r"\s+inbox.{0,60}|get\s+our\s+.{0,80}?\b(?:e-?mails?|newsletters?|app|podcasts?)\b.{0,80}"
        r"|sign\s+up\s+(?:to|for)\s+.{0,100}?\b(?:e-?mails?|newsletters?|briefing)\b.{0,80}"
        r"|follow\s+(?:our|the)\s+.{0,60}?\blive\s+(?:blog|coverage|updates)\b.{0,80}"
        r"|enter\s+your\s+e-?mail(?:\s+address)?.{0,60}"
        r"|we\s+respect\s+your\s+privacy.{0,150}|by\s+(?:signing\s+up|subscribing),?\s+you"
        r"\s+agree.{0,200}|(?:download|get)\s+(?:our|the)\s+app.{0,60}"
        r"|support\s+(?:our|independent)\s+journalism.{0,100}",
    ),
    (  # cookie notices: "We use cookies to ensure that we give you the best experience..."
        "boilerplate",
        "we this our by accept allow cookie cookies",
        r"(?:we|this\s+(?:web)?site|our\s+(?:web)?site)\s+uses?\s+cookies\s+(?:to|and|for|on|so)\b"
        r".{0,250}|by\s+(?:continuing\s+to\s+(?:use|browse)|using)\s+(?:this|our)\s+(?:web)?site"
        r",?\s+you\s+.{0,200}|(?:accept|allow)\s+(?:all\s+)?cookies|cookies?\s+(?:policy|settings"
        r"|preferences)",
    ),
    (  # page date lines: "Thursday , March 28 2024", "Posted on March 3, 2024 by admin"
        "boilerplate",
        _WEEKDAYS_AND_MONTHS + " posted published updated last ",
        rf"{_DATE}|(?:posted|published|updated|last\s+updated)(?:\s+on)?\s*:?\s*{_DATE}"
        r"(?:\s*(?:by|-|\|)\s*.{1,60})?",
    ),
)
# A link ad: "Kwork.ru - services from 500 rub." (tried when a line starts with a domain).
_AD_LINK = re.compile(r"[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,6}\s+[-–—|]\s+.{1,100}", re.I)
# Breadcrumbs without "Home": "News » World » Asia" (tried when a line holds "»" or "›").
_CRUMBS = re.compile(r"(?:[^»›\n]{1,60}\s[»›]\s){2,}[^»›\n]{1,200}")
# "All rights reserved" and the same notice in the languages of the region's and Europe's
# outlets, compared casefolded at the end of a short line.
_RIGHTS_NOTICES = (
    "all rights reserved", "все права защищены", "всі права захищені", "усі права захищені",
    "барлық құқықтар қорғалған", "alle rechte vorbehalten", "tous droits réservés",
    "wszelkie prawa zastrzeżone", "todos los derechos reservados", "tutti i diritti riservati",
    "todos os direitos reservados",
)  # fmt: skip
# Their last words as written (lower, capitalised, capitals), a test at C speed before the
# casefolded comparison: most lines end otherwise.
_RIGHTS_LAST_WORDS = tuple(
    variant + end
    for word in {notice.rsplit(" ", 1)[1] for notice in _RIGHTS_NOTICES}
    for variant in (word, word.capitalize(), word.upper())
    for end in ("", ".", "!")
)
_CTRL_ENTER = re.compile(r"\bctrl\s*\+\s*enter\b", re.IGNORECASE)
# Subscription prompts of Kazakh, Kyrgyz and Uzbek sites put the verb last, after the outlet's
# name: "Kazinform агенттігінің Telegram арнасына жазылыңыз!", "Бізді Telegram-да оқыңыз",
# "Telegram kanalimizga obuna bo'ling". A short line ending so that names a channel.
_PROMPT_VERBS = re.compile(
    r"(?:жазылыңыз(?:дар)?|оқыңыз(?:дар)?|катталыңыз|обуна\s+бўлинг|(?:obuna|a['’ʻ‘]?zo)"
    r"\s+bo['’ʻ‘]?ling)$",
    re.IGNORECASE,
)
_PROMPT_CHANNELS = re.compile(
    r"telegram|телеграм|instagram|youtube|facebook|tiktok|whatsapp|арна|канал|kanal",
    re.IGNORECASE,
)
_MAX_PROMPT_LEN = 160
_FIRST_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)?")
_OPENING_QUOTES = ("“", '"', "‘", "'", "«", "„")
# Quotes and brackets that may close a sentence after its full stop.
_CLOSERS = "\"'”’»)]"


def _rule_indexes_by_first_word() -> dict[str, tuple[int, ...]]:
    """For each first word, the indexes in `_RULES` of the rules its lines may match."""
    words: dict[str, list[int]] = {}
    for index, (_, first_words, _) in enumerate(_RULES):
        for word in first_words.split(" "):
            words.setdefault(word, []).append(index)
    return {word: tuple(indexes) for word, indexes in words.items()}


@functools.cache
def _compiled_rules(indexes: tuple[int, ...]) -> re.Pattern[str]:
    """One regex of the given rules, a named group per kind, headings first.

    Compiled on first use: compiling them all costs tens of milliseconds that a command which
    never strips boilerplate should not pay at import.
    """
    rules = [_RULES[index] for index in indexes]
    groups = []
    for kind in ("heading", "comments", "boilerplate"):
        patterns = [pattern for rule_kind, _, pattern in rules if rule_kind == kind]
        if patterns:
            groups.append(f"(?P<{kind}>{'|'.join(patterns)})")
    return re.compile("|".join(groups), re.IGNORECASE)


_RULES_BY_FIRST_WORD = _rule_indexes_by_first_word()


def strip_boilerplate(text: str) -> str:
    """Clean text without the site furniture of syndicated copies.

    `text` is paragraphs separated by blank lines, as `normalize.html_to_text` returns. Whole
    lines are dropped, never parts of one: ad, share, comment-form, copyright, breadcrumb,
    subscription, tag-list and page-date lines; a teaser heading ("Check Also", "Related")
    with the headline-like lines after it; and everything after a comment-section heading
    ("Leave a Reply") once some article text came before it. Kept lines are returned
    unchanged, in order, with paragraphs separated by one blank line. Idempotent, because
    whether a line is boilerplate depends on the line alone and teaser blocks start only at a
    (dropped) heading.
    """
    return _joined_paragraphs(_kept_lines(text.split("\n")))


def _kept_lines(lines: list[str]) -> Iterator[str]:
    """The lines to keep, with "" standing for a paragraph break."""
    teasers_left = 0  # > 0 while inside a teaser block
    kept_any = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            yield ""
            continue
        kind = _line_kind(stripped)
        if kind == "comments" and kept_any:
            return  # the comment section runs to the end of the page
        if kind == "heading":
            teasers_left = _MAX_TEASERS
        elif kind is None and teasers_left and _is_teaser_like(stripped):
            teasers_left -= 1
        elif kind is None:
            teasers_left = 0  # article prose ends a teaser block
            kept_any = True
            yield line


def _line_kind(line: str) -> str | None:
    """'heading', 'comments', 'boilerplate' or None (article text) for one stripped line."""
    if len(line) > _MAX_BOILERPLATE_LEN:
        return None
    first = _FIRST_WORD.match(line)
    key = _first_word_key(line, first)
    indexes = None if key is None else _RULES_BY_FIRST_WORD.get(key)
    pattern = None if indexes is None else _compiled_rules(indexes)
    # Trailing stops and colons are cut here, not matched by a "[.:!]?" after each rule: after
    # a ".{1,200}" that costs 30 µs a line on a near miss.
    core = line.rstrip(" .:!")
    if pattern is not None and core and (match := pattern.fullmatch(core)) is not None:
        return match.lastgroup
    if (
        _is_ad_link(line, first)
        or _is_breadcrumb(line)
        or _is_rights_notice(line)
        or _is_error_report_prompt(line)
        or _is_subscription_prompt(core)
    ):
        return "boilerplate"
    return None


def _first_word_key(line: str, first: re.Match[str] | None) -> str | None:
    """The key of `_RULES_BY_FIRST_WORD` for a line: its first word, "" for a sign or digit."""
    if line[0].isalpha() and first is not None:
        return first.group().casefold().replace("’", "'")
    if line.startswith(_OPENING_QUOTES):
        return None  # a quotation: no rule starts with a quote mark
    return ""


def _is_ad_link(line: str, first: re.Match[str] | None) -> bool:
    end = first.end() if first else 0
    return line[end : end + 1] == "." and _AD_LINK.fullmatch(line) is not None


def _is_breadcrumb(line: str) -> bool:
    return ("»" in line or "›" in line) and _CRUMBS.fullmatch(line) is not None


def _is_rights_notice(line: str) -> bool:
    """A short line ending in "All rights reserved" or the same in another language (plain
    tests: a regex scan costs 8 µs)."""
    if not line.endswith(_RIGHTS_LAST_WORDS):
        return False
    tail = line[-40:].casefold().rstrip(" .!")
    return any(
        tail.endswith(notice) and not tail[: -len(notice)][-1:].isalnum()
        for notice in _RIGHTS_NOTICES
    )


def _is_subscription_prompt(core: str) -> bool:
    """A short line ending in "subscribe" or "read us" in Kazakh, Kyrgyz or Uzbek that names
    a channel (`_PROMPT_VERBS`, `_PROMPT_CHANNELS`); `core` without its closing stops."""
    return (
        len(core) <= _MAX_PROMPT_LEN
        and _PROMPT_VERBS.search(core[-24:]) is not None
        and _PROMPT_CHANNELS.search(core) is not None
    )


def _is_error_report_prompt(line: str) -> bool:
    """ "Нашли ошибку? Выделите текст и нажмите Ctrl+Enter": the typo-report prompt of
    Russian- and Ukrainian-language sites, whatever its wording, is the line naming the keys."""
    return ("Ctrl" in line or "ctrl" in line or "CTRL" in line) and _CTRL_ENTER.search(
        line
    ) is not None


def _is_teaser_like(line: str) -> bool:
    """A headline or a cut-off excerpt: short, and not a finished sentence."""
    if len(line) > _MAX_TEASER_LEN:
        return False
    if line.endswith(("…", "...")):
        return True
    return not line.rstrip(_CLOSERS).endswith((".", "!"))


def _joined_paragraphs(lines: Iterable[str]) -> str:
    """Lines back into text: one newline within a paragraph, one blank line between them."""
    parts: list[str] = []
    paragraph_break = False
    for line in lines:
        if not line:
            paragraph_break = True
            continue
        if parts:
            parts.append("\n\n" if paragraph_break else "\n")
        parts.append(line)
        paragraph_break = False
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# split_dateline


@dataclass(frozen=True, slots=True)
class Dateline:
    """Where and from which agency a wire story was filed; either may be empty."""

    place: str = ""
    agency: str = ""


# Agencies as they write themselves in datelines; lower-cased spellings map to these names.
# A dateline is recognised only with one of these: that is what tells "ALMATY (Reuters) -"
# apart from an ordinary first sentence such as "UN (United Nations) officials said".
_AGENCIES = (
    "Reuters", "AP", "AFP", "TASS", "RIA Novosti", "Interfax", "Xinhua", "Kazinform", "UPI",
    "Bloomberg", "dpa", "ANSA", "EFE", "Kyodo", "Yonhap", "PTI", "ANI", "IANS", "Anadolu",
    "Sputnik", "Trend", "AKIpress", "24.kz", "Tengrinews", "KUNA", "WAM", "IRNA", "SPA", "APA",
    "Bernama", "Antara", "KCNA", "CNA", "Europa Press", "Belga", "ANP", "PAP", "CTK", "MTI",
    "BTA", "Ukrinform", "UNIAN", "BelTA", "Armenpress", "AzerTAc", "Kabar", "Khovar", "UzA",
    "Dunya", "Prensa Latina", "MENA", "SANA", "NNA", "CNN", "BBC", "RFE/RL", "Kun.uz",
    "Interfax-Kazakhstan", "Interfax-Ukraine", "KazTAG", "Orda.kz", "Azattyq",
)  # fmt: skip
_AGENCY_ALIASES = {
    "associated press": "AP",
    "the associated press": "AP",
    "agence france-presse": "AFP",
    "itar-tass": "TASS",
    "тасс": "TASS",
    "ria": "RIA Novosti",
    "anadolu agency": "Anadolu",
    "aa": "Anadolu",
    # as Russian- and Ukrainian-language wires write themselves
    "риа новости": "RIA Novosti",
    "интерфакс": "Interfax",
    "казинформ": "Kazinform",
    "кабар": "Kabar",
    "ховар": "Khovar",
    "белта": "BelTA",
    "укрінформ": "Ukrinform",
    "уніан": "UNIAN",
    "спутник": "Sputnik",
    "казтаг": "KazTAG",
    # as Kazakh-language wires write themselves ("Алматы. 5 қаңтар. ҚазТАГ –")
    "қазтаг": "KazTAG",
    "қазақпарат": "Kazinform",
    "sputnik қазақстан": "Sputnik",
    "интерфакс-казахстан": "Interfax-Kazakhstan",
    "интерфакс-украина": "Interfax-Ukraine",
    "інтерфакс-україна": "Interfax-Ukraine",
    "interfax.ru": "Interfax",
    "kazinform.kz": "Kazinform",
    "sputnik казахстан": "Sputnik",
    "sputnik кыргызстан": "Sputnik",
    "sputnik беларусь": "Sputnik",
    "sputnik азербайджан": "Sputnik",
    "sputnik армения": "Sputnik",
    "sputnik грузия": "Sputnik",
}
_AGENCY_NAMES = {name.casefold(): name for name in _AGENCIES} | _AGENCY_ALIASES
_AGENCY = "|".join(re.escape(name) for name in sorted(_AGENCY_NAMES, key=len, reverse=True))
# A place is one to four words; whether it is upper case is checked in code (Unicode-aware).
_PLACE = r"(?P<place>[^\W\d_][\w.'’\-]{0,30}(?: [^\W\d_][\w.'’\-]{0,30}){0,3})"
# ", Kazakhstan", ", Jan 5" or ". Jan 5" (Interfax): a region or a date after the place.
_QUALIFIER = r"(?:[,.]\s*(?P<qualifier>[^\W_][^()/\n]{0,40}?))?"
_DASH = r"\s*(?:-{1,2}|[–—:])"
# Each pattern with the characters it cannot match without (one of them), tested first
# because it is cheap.
_DATELINES = tuple(
    (markers, re.compile(pattern))
    for markers, pattern in (
        # "ALMATY, Kazakhstan (AP) —", "WASHINGTON, Jan 5 (Reuters) -", "(AFP) -"
        ("(", rf"\s*(?:{_PLACE}{_QUALIFIER}\s*)?\((?P<agency>(?i:{_AGENCY}))\){_DASH}\s*"),
        # "MOSCOW, March 3. /TASS/."
        (
            "/",
            rf"\s*(?:{_PLACE}{_QUALIFIER}\s*\.?\s*)?/(?P<agency>(?i:{_AGENCY}))/\s*[.:\-–—]?\s*",
        ),
        # "ASTANA. KAZINFORM -", "АЛМАТЫ. 12 марта. КАЗИНФОРМ -", "Алматы. 5 января. КазТАГ –"
        (".", rf"\s*{_PLACE}{_QUALIFIER}\s*\.\s*(?P<agency>(?i:{_AGENCY})){_DASH}\s*"),
        # RIA Novosti's and Sputnik's agency after the dash, closed by a full stop, sometimes
        # with the reporter's name: "МОСКВА, 5 янв — РИА Новости.", "АСТАНА, 5 января —
        # Sputnik, Анна Иванова." The closing stop tells it from "WASHINGTON — Reuters said".
        (
            "-–—",
            rf"\s*{_PLACE}{_QUALIFIER}\s*[-–—]\s*(?P<agency>(?i:{_AGENCY}))"
            r"(?:,\s*[^\W\d_][^\n.,;:]{0,60})?\.\s+",
        ),
    )
)
# A dateline starts with "(", "/" or an upper-case word; anything else is not tried further.
_FIRST_TOKEN = re.compile(r"\s*(\S{1,40})")
_DATE_PART = re.compile(rf"(?:{_MONTH}\b|\d).*", re.IGNORECASE)


def split_dateline(text: str) -> tuple[Dateline | None, str]:
    """A wire dateline at the start of `text` as metadata, and the text without it.

    The rule: a known agency (see `_AGENCIES`) in parentheses and followed by a dash
    ("(Reuters) -"), between slashes ("/TASS/") or after "PLACE." ("ASTANA. KAZINFORM -"),
    optionally preceded by an upper-case place of up to four words ("NUR-SULTAN") with a
    capitalised qualifier (", Kazakhstan") or a date (", Jan 5"), which is dropped. Anything
    else is not a dateline: (None, text) with `text` unchanged. A dateline with no agency
    ("WASHINGTON —") is left alone because an all-caps first word ("NATO —") looks the same.
    Idempotent: the returned text starts with no dateline.
    """
    first: Dateline | None = None
    while (found := _leading_dateline(text)) is not None:
        dateline, text = found
        first = first or dateline
    return first, text


def _leading_dateline(text: str) -> tuple[Dateline, str] | None:
    first = _FIRST_TOKEN.match(text)
    if first is None or not (
        first[1][0] in "(/" or first[1].isupper() or _may_be_named_place(first[1], text)
    ):
        return None  # the common case, decided without the dateline patterns
    head = text[:120]
    for markers, pattern in _DATELINES:
        match = pattern.match(text) if any(mark in head for mark in markers) else None
        if (
            match
            and _is_place(match["place"], match.groupdict().get("qualifier"))
            and _is_qualifier(match.groupdict().get("qualifier"))
        ):
            place = _place_with_region(match["place"] or "", match.groupdict().get("qualifier"))
            agency = _AGENCY_NAMES.get(match["agency"].casefold(), match["agency"])
            return Dateline(place=place, agency=agency), text[match.end() :].lstrip()
    return None


def _may_be_named_place(token: str, text: str) -> bool:
    """A capitalised first word closed by "." or "," with a digit soon after: the start of
    "Алматы. 5 января. КазТАГ –" (a cheap test, so most sentences skip the patterns)."""
    return token[0].isupper() and token[-1] in ".," and any(c.isdigit() for c in text[:40])


def _is_place(place: str | None, qualifier: str | None) -> bool:
    """No place, an upper-case one ("ALMATY", "NUR-SULTAN", "ST. PETERSBURG"), or one whose
    words are all capitalised followed by a date: Interfax, KazTAG and Kabar write the place
    in the case of a name ("Алматы. 5 января. КазТАГ –", "Бишкек, 5 января. /Кабар/."), and
    the date is what tells such a dateline from a sentence that names an agency
    ("Almaty (Reuters) - ..." without one stays text)."""
    if place is None or place.isupper():
        return True
    return (
        qualifier is not None
        and any(_DATE_PART.match(part.strip()) for part in qualifier.split(","))
        and all(word[0].isupper() for word in place.split())
    )


def _is_qualifier(qualifier: str | None) -> bool:
    """No qualifier, or a short capitalised one: a region ("Kazakhstan") or a date."""
    if qualifier is None:
        return True
    words = qualifier.replace(",", " ").split()
    # A lower-case word only after a number: a month in a language that does not capitalise
    # it ("3 марта", "12 mars").
    return 0 < len(words) <= 5 and all(
        word[0].isupper() or word[0].isdigit() or (index > 0 and words[index - 1].isdigit())
        for index, word in enumerate(words)
    )


def _place_with_region(place: str, qualifier: str | None) -> str:
    """The place and the region parts of the qualifier; dates are not part of a place."""
    parts = [place] if place else []
    for raw in (qualifier or "").split(","):
        part = raw.strip()
        if part and not _DATE_PART.match(part):
            parts.append(part)
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# strip_site_suffix

# Outlets that put their name after the headline (compared case-insensitively, without "The").
_OUTLETS = frozenset(
    name.casefold()
    for name in (
        "Reuters", "AP", "AP News", "Associated Press", "AFP", "BBC", "BBC News", "BBC Sport",
        "RT", "RT World News", "RT News", "RT Russian politics", "Guardian", "New York Times",
        "NYT", "Washington Post", "Al Jazeera", "Al Jazeera English", "CNN", "CNN.com",
        "CNN Politics", "Fox News", "Sky News", "NBC News", "ABC News", "CBS News",
        "Bloomberg", "Financial Times", "FT", "WSJ", "Wall Street Journal", "Daily Mail",
        "Daily Mail Online", "Mail Online", "Independent", "Telegraph", "Politico", "Axios",
        "Hill", "NPR", "Deutsche Welle", "DW", "France 24", "Euronews", "Le Monde", "Der Spiegel",
        "Spiegel", "Interfax", "RIA Novosti", "Sputnik", "Xinhua", "Kazinform", "Tengrinews",
        "Astana Times", "Eurasianet", "RFE/RL", "Radio Free Europe/Radio Liberty", "Azattyq",
        "Times of Central Asia", "Diplomat", "Moscow Times", "Kyiv Independent",
        "Anadolu Agency", "TRT World", "Yahoo News", "Yahoo", "MSN", "Epoch Times", "CNBC",
        "Newsweek", "USA Today", "HuffPost", "Vox", "Business Insider", "Insider", "Forbes",
        "Economist", "Daily Sabah", "Hurriyet Daily News", "Times of India", "Hindustan Times",
        "Hindu", "SCMP", "South China Morning Post", "Japan Times", "Kyodo News", "Nikkei Asia",
        "Yonhap", "Yonhap News Agency", "Global Times", "TASS", "UPI", "dpa", "ANSA", "EFE",
        "Trend", "AKIpress", "24.kz", "Kun.uz", "Fergana", "Kazakh TV", "Khabar 24",
        # Russian-, Ukrainian- and Kazakh-language outlets as they sign their headlines
        "РИА Новости", "ТАСС", "Интерфакс", "Интерфакс-Казахстан", "Interfax-Kazakhstan",
        "Interfax-Ukraine", "Интерфакс-Украина", "Інтерфакс-Україна", "Медуза", "Meduza",
        "Коммерсантъ", "Коммерсант", "Ведомости", "РБК", "Известия", "Газета.Ru", "Lenta.ru",
        "Лента.ру", "Новая газета", "Новая газета Европа", "Российская газета", "Фонтанка",
        "Спутник", "Sputnik Казахстан", "Sputnik Кыргызстан", "Sputnik Беларусь", "Азаттык",
        "Радио Азаттык", "Азаттық", "Азаттық радиосы", "Радио Свобода", "Настоящее время",
        "Би-би-си", "BBC News Русская служба", "Русская служба BBC", "DW", "Власть", "Vlast.kz",
        "Tengrinews.kz", "Тенгриньюс", "Казинформ", "Kazinform", "КазТАГ", "KazTAG", "Orda.kz",
        "Informburo.kz", "Курсив", "Kursiv", "Хабар 24", "Kaktus.media", "АКИpress",
        "Озодлик", "Озоди", "Азатлык", "Gazeta.uz", "Газета.uz", "Суспільне", "Суспільне Новини",
        "Українська правда", "Укрінформ", "УНІАН", "Громадське", "hromadske", "Цензор.НЕТ",
        "Дзеркало тижня", "РБК-Україна", "ТСН", "БелТА", "Белсат", "Зеркало",
    )
)  # fmt: skip
# Words that make a short Title Case suffix look like an outlet ("Almaty Herald", "KTK TV").
_OUTLET_WORDS = frozenset(
    {
        "news", "times", "post", "herald", "tribune", "agency", "press", "wire", "tv", "radio",
        "journal", "gazette", "daily", "observer", "telegraph", "chronicle", "standard",
        "express", "mirror", "online", "media", "network", "channel", "today", "monitor",
        "reporter", "courier", "examiner", "magazine", "bulletin", "broadcasting", "newswire",
        "newspaper", "dispatch", "inquirer", "ledger", "sentinel", "informburo",
    }
)  # fmt: skip
# The same in Russian, Ukrainian and Kazakh; those names are written in sentence case ("Новая
# газета", "Радио Свобода"), so a Cyrillic suffix needs only its first word capitalised.
_CYRILLIC_OUTLET_WORDS = frozenset(
    {
        "новости", "новини", "жаңалықтары", "газета", "радио", "радіо", "тв", "агентство",
        "агенція", "медиа", "медіа", "правда", "известия", "вестник", "вісник", "служба",
        "канал", "ньюс", "онлайн",
    }
)  # fmt: skip
_CYRILLIC_LETTER = re.compile(r"[а-яёіїєґқғүұәөһң]", re.IGNORECASE)
# A date after an outlet's name: RIA Novosti's page titles end "- РИА Новости, 05.01.2026".
_TRAILING_DATE = re.compile(r"\s*,\s*\d{1,2}\.\d{1,2}\.\d{2,4}$")
_CONNECTORS = frozenset({"of", "the", "and", "&", "de", "la", "for", "on", "in"})
# " - ", " – ", " — ", " | ", " :: ", " · ", " • ", " // "; only "|" is also taken unspaced.
_SEPARATOR = re.compile(r"\s+(?:[-–—·•]|::|//)\s+|\s*\|\s*")
_DOMAIN = re.compile(r"(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,6}", re.IGNORECASE)
_MAX_OUTLET_LEN = 40
_MAX_OUTLET_WORDS = 5
_MAX_CYRILLIC_OUTLET_WORDS = 3
# Least words left of a title: a known name may leave two, a guessed outlet must leave three.
_MIN_WORDS_KNOWN = 2
_MIN_WORDS_GUESSED = 3


def strip_site_suffix(title: str, site_names: Iterable[str] = ()) -> str:
    """The title without trailing outlet names such as " | Reuters" or " - RT World News".

    A suffix after a separator (" - ", " – ", " — ", " | ", " :: ", " · ", " // ") is cut when
    it is one of `site_names` (the source's feed title, or its URL or domain), a known outlet,
    or looks like one: a domain, or at most five capitalised words with an outlet word
    ("Herald", "News", "TV"...). It is not cut when fewer than two words (three for a guess)
    would be left. Repeated until nothing more can be cut, so it is idempotent.
    """
    if _SEPARATOR.search(title) is None:
        return title  # most titles: nothing to cut, and no site names to prepare
    names = _site_keys(site_names)
    while (shorter := _without_one_suffix(title, names)) is not None:
        title = shorter
    return title


def _without_one_suffix(title: str, names: frozenset[str]) -> str | None:
    """The title with its outermost outlet suffix cut, or None when there is none to cut.

    A given site name is preferred over a known outlet, and both over a guess, so that a site
    name that holds a separator ("RT - Daily news") goes whole.
    """
    cuts = [(title[: m.start()].rstrip(), title[m.end() :]) for m in _SEPARATOR.finditer(title)]
    if not cuts:
        return None
    keys = [_name_key(tail) for _, tail in cuts]
    for known in (names, _OUTLETS):
        for (head, _), key in zip(reversed(cuts), reversed(keys), strict=True):
            if key in known and len(head.split()) >= _MIN_WORDS_KNOWN:
                return head
    for head, tail in reversed(cuts):
        if _looks_like_outlet(tail) and len(head.split()) >= _MIN_WORDS_GUESSED:
            return head
    return None


def _site_keys(site_names: Iterable[str]) -> frozenset[str]:
    """Comparison keys for the given site names, plus the host of any that is a URL."""
    keys: set[str] = set()
    for raw in site_names:
        name = " ".join(raw.split())  # a feed title as written may carry odd spacing
        keys.add(_name_key(name))
        # A feed titled "Суспільне | Новини" signs its headlines "| Суспільне Новини".
        keys.add(_name_key(_SEPARATOR.sub(" ", name)))
        host = _host_of(name)
        if host:
            keys.add(_name_key(host))
    keys.discard("")
    return frozenset(keys)


def _host_of(name: str) -> str:
    """The host of a URL or bare domain ("https://www.rt.com/news" -> "rt.com"), else ""."""
    name = name.strip()
    try:
        host = urlsplit(name if "://" in name else "//" + name).hostname or ""
    except ValueError:
        return ""
    return host if _DOMAIN.fullmatch(host) else ""


def _name_key(name: str) -> str:
    """Case, spacing, a leading "The" and "www." do not make a different outlet name."""
    key = " ".join(_TRAILING_DATE.sub("", name).casefold().split()).strip(" .:")
    return key.removeprefix("the ").removeprefix("www.")


def _looks_like_outlet(tail: str) -> bool:
    """A domain, or a short capitalised name containing an outlet word."""
    tail = tail.strip()
    if _DOMAIN.fullmatch(tail):
        return True
    words = tail.split()
    if not words or len(tail) > _MAX_OUTLET_LEN or len(words) > _MAX_OUTLET_WORDS:
        return False
    folded = [word.casefold() for word in words]
    if _CYRILLIC_LETTER.match(words[0]):
        # At most three words: "Новости Казахстана", "Радио Свобода", "Новая газета"; a
        # longer tail is more often the headline's own ("Радио и ТВ молчат").
        return (
            words[0][0].isupper()
            and len(words) <= _MAX_CYRILLIC_OUTLET_WORDS
            and not _CYRILLIC_OUTLET_WORDS.isdisjoint(folded)
        )
    if not _OUTLET_WORDS.intersection(folded):
        return False
    # Title Case or ALL CAPS, except connectors and the Guardian's section style "World news".
    return (
        all(
            word[0].isupper() or word[0].isdigit() or fold in _CONNECTORS or fold == "news"
            for word, fold in zip(words, folded, strict=True)
        )
        and words[0][0].isupper()
    )
