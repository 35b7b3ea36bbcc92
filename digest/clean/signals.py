"""What one line of a page says about itself: length, punctuation, UI words, captions, counts, lists.

Every check looks at one line alone; `text.py` combines them with the line's neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import lru_cache

from digest.clean.flags import Flag

WORD = re.compile(r"\w+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
BULLET = re.compile(r"^\s*(?:[•·‣◦▪▫■□●○*+\-–—]|\d{1,2}[.)])\s+")
BULLET_START = frozenset("•·‣◦▪▫■□●○*+-–—0123456789")  # first characters worth trying BULLET on
CLOSERS = "\"'”’»)]*"
SENTENCE_END = (".", "!", "?", "…", "。", "！", "？", ";")


def normalise(line: str) -> str:
    """Return the comparison key of a line: its lower-cased words joined by single spaces."""
    return " ".join(WORD.findall(line.lower()))


@lru_cache(maxsize=1024)
def block_tokens(text: str) -> tuple[str, ...]:
    """Return an HTML block's lower-cased words (memoised: trafilatura's candidates of one page share most blocks).

    A page's blocks, not an inbox's: a bench cycling over many pages gains nothing from earlier passes.
    """
    return tuple(WORD.findall(text.lower()))


def word_count(line: str, tokens: Sequence[str] | None = None) -> int:
    """Count words, reading two CJK characters as one word (those scripts have no spaces).

    `tokens` are the line's `\\w+` runs when the caller has them already.
    """
    cjk = 0 if line.isascii() else len(CJK.findall(line))
    return len(WORD.findall(line) if tokens is None else tokens) + cjk // 2


def ends_sentence(line: str) -> bool:
    """Tell whether a line ends like a sentence (closing quotes and brackets aside)."""
    return line.rstrip().rstrip(CLOSERS).endswith(SENTENCE_END)


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


# Short interface lines: a few words naming a control. Matched only on short lines, so body
# sentences that mention a newsletter or a share price are not touched. Terms are word sequences
# matched on the line's normalised words (one dictionary look-up per word, not one regex per term).
UI_TERMS: tuple[tuple[Flag, str], ...] = (
    (Flag.SUBSCRIBE, "subscribe|subscribed|subscription|subscriptions|subscriber|subscribers|sign up|signup|"
     "newsletter|newsletters|paywall|free trial|become a member|membership"),
    (Flag.SIGN_IN, "sign in|signin|signed in|sign out|log in|login|log out|logout|register|my account|"
     "create an account|create your account|create account"),
    (Flag.SHARE, "share|tweet|whatsapp|facebook|twitter|linkedin|pinterest|reddit|email this|copy link|print|"
     "permalink|telegram|instagram|youtube|flipboard|comment|comments|reply"),
    (Flag.FOLLOW, "follow us|follow me|siga|folge"),
    (Flag.COOKIE, "cookie|cookies|consent|gdpr"),
    (Flag.AD, "advert|adverts|advertisement|advertisements|advertising|advertiser|advertisers|sponsored|"
     "adchoices|ad choices|promoted|publicidade|publicidad|anzeige|werbung|publicité"),
    (Flag.DISPLAY, "dark mode|light mode|font size|text size|listen to this article|listen to the article|"
     "reading time|min read|minute read"),
    (Flag.LEGAL_FOOTER, "privacy|terms of use|terms of service|terms and conditions|all rights reserved|copyright|"
     "contact us|about us|imprint|impressum|accessibility|sitemap"),
    (Flag.NAV_LINK, "skip to|back to top|click here|read the full|read full|scroll"),
)
# whole lines that are a single control
NAV_LINES = frozenset(
    "home|menu|search|more|next|previous|prev|back|close|top|open|skip|main menu|section|sections|topic|topics|"
    "categories|navigation|go|submit|ok|cancel|view all|see all|show more|load more|read more|continue reading|"
    "full story|expand|collapse|ad|ads".split("|")
)


def _term_index(terms: tuple[tuple[Flag, str], ...]) -> dict[str, tuple[tuple[tuple[str, ...], Flag], ...]]:
    index: dict[str, list[tuple[tuple[str, ...], Flag]]] = {}
    for reason, alternatives in terms:
        for term in alternatives.split("|"):
            words = tuple(term.split())
            index.setdefault(words[0], []).append((words, reason))
    return {first: tuple(entries) for first, entries in index.items()}


UI_INDEX = _term_index(UI_TERMS)
UI_FIRST = frozenset(UI_INDEX)


# Phrases of a legal notice, consent banner or subscription pitch, counted on longer lines
PITCH = _any(
    r"\bby clicking\b", r"\bprivacy policy\b", r"\bterms of (use|service)\b", r"\bsubscrib", r"\bnewsletter\b",
    r"\bsign up\b", r"\bwe use cookies\b", r"\bcookie policy\b", r"\buse of cookies\b", r"\bagree to\b",
    r"\ball rights reserved\b", r"\bcopyright\b", r"©", r"\bunsubscribe\b", r"\bin your inbox\b",
    r"\bad blocker\b", r"\bwhitelist\b", r"\bdisable your ad", r"\bsupport (our|independent) journalism\b",
    r"\bregistered trademark\b", r"\bthis (site|website) uses\b", r"\bjavascript\b", r"\bbrowser\b",
)
TAIL = re.compile(
    r"^(?:related|related (?:articles|stories|posts|content|news|links|coverage|reading|topics|videos)\b.*|"
    r"trending(?: now| stories| news| articles)?|more (?:from|on|in|about)\b.*|"
    r"more (?:stories|news|articles|videos|headlines)\b.*|read (?:more|next|also)\b.*|also read\b.*|"
    r"recommended(?: for you| stories| articles| reading)?|you (?:may|might) (?:also )?(?:like|enjoy)\b.*|"
    r"(?:most )?popular(?: now| stories| posts| articles| today)?|most (?:read|viewed|shared|commented)\b.*|"
    r"further (?:reading|learning)|see also|latest(?: news| stories| articles| videos)?|top stories|"
    r"don'?t miss\b.*|what to read next|editor'?s picks?|(?:\d+ )?comments?|leave a (?:reply|comment)(?: cancel reply)?|"
    r"join the (?:conversation|discussion)|you(?:'|’)?re all caught up|up next|around the web|"
    r"from the web|sponsored (?:content|stories|links)|promoted (?:stories|content)|in case you missed it|"
    r"(?:other|similar|more) (?:stories|articles|posts)|keep reading|watch next|what(?:'|’)s next on\b.*|"
    r"discussion|comments are closed|about the author|about the blog|"
    # the same markers in other languages: Portuguese, Spanish, German, French, Italian, Dutch, Japanese
    r"artigos relacionados|notícias relacionadas|leia (?:também|mais)|veja também|deixe (?:uma resposta|um comentário)|"
    r"sobre o (?:autor|blog)|artículos relacionados|noticias relacionadas|lee también|deja (?:una respuesta|un comentario)|"
    r"ähnliche artikel|mehr zum thema|weitere artikel|das könnte sie auch interessieren|kommentar (?:verfassen|schreiben)|"
    r"articles similaires|à lire aussi|lire aussi|laisser un commentaire|sur le même sujet|articoli correlati|"
    r"leggi anche|lascia un commento|gerelateerde artikelen|lees ook|関連記事|新着記事|人気記事|おすすめ記事|"
    r"\d+ (?:responses?|comments?|replies|thoughts)(?: (?:to|on)\b.*)?|share this(?: article| story| post)?|tags?|topics|filed under)\W*$",
    re.IGNORECASE,
)
# the first word of every TAIL alternative (lower-cased), besides a number: lines starting otherwise cannot match
TAIL_FIRST = frozenset(
    "related trending more read also recommended you youre most popular further see latest top don dont what "
    "editor editors comment comments leave join up around from sponsored promoted in other similar keep watch "
    "discussion about artigos notícias leia veja deixe sobre artículos noticias lee deja ähnliche mehr weitere das "
    "kommentar articles à lire laisser sur articoli leggi lascia gerelateerde lees 関連記事 新着記事 人気記事 "
    "おすすめ記事 share tag tags topics filed".split()
)
COMMENT_HEADER = re.compile(
    r"^\S.{0,60}\s(says|said|wrote|writes|replied|schreibt|dit|a écrit|escribió|disse|scrive)\s*:?\s*$", re.IGNORECASE
)
KEYWORD_PREFIX = re.compile(r"^(tags?|topics?|keywords?|filed under|categories|category|labels?)\s*:", re.IGNORECASE)
SEPARATORS = re.compile(r"\s[/|·•]\s|\s[/|]$|\s+\|\s*")
COUNT_WIDGET = re.compile(r"^[^\W\d_][^\d]{0,40}?\s\(?\d[\d,.]*[kKmM]?\)?$")
NUMERIC = re.compile(r"^[\d\s/.,:;%$€£¥+\-–()#]+$")
MONTHS = _any(
    r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|"
    r"nov(ember)?|dec(ember)?)\b\.?",
    r"\b(janeiro|fevereiro|março|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro)\b",
    r"\b(januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|mars|avril|juin|juillet|août|"
    r"septembre|octobre|novembre|décembre|enero|febrero|marzo|mayo|junio|julio|septiembre|octubre|noviembre|"
    r"diciembre)\b",
    r"\b(mon|tue|wed|thu|fri|sat|sun)(day|sday|nesday|rsday|urday)?\b",
    r"\b(updated|published|posted|am|pm|et|gmt|utc|ago|hours?|minutes?)\b",
    r"\b(est|edt|cst|cdt|mst|mdt|pst|pdt|bst|cet|cest|eet|aest|aedt|jst)\b",  # time zones
)
BYLINE = re.compile(r"^(by|von|par|por|di|door|av|przez|from)\b\s*\S*", re.IGNORECASE)
CREDIT = re.compile(
    r"(?i:\b(photo(graph)?s?|image|picture|pic|credit|credits|getty( images)?|reuters|ap photo|shutterstock|"
    r"courtesy( of)?|illustration|file photo|istock(photo)?|associated press|alamy|"
    r"foto|bild|imagen|crédit|via getty|handout|screenshot|screengrab|video still)\b)"
    r"|\b(AFP|AP|EPA|DPA|ANSA|PA|UPI|TASS|XINHUA|Xinhua)\b"  # agencies: capitals only, "epa" is also a word
)
TRAILING_PAREN = re.compile(r"\(([^()]{2,60})\)\s*$")
DIGIT = re.compile(r"\d")
LETTERS3 = re.compile(r"[^\W\d_]{3}")
# Cheap guards, each a superset of what its regex can match, so most lines skip the regex entirely
CREDIT_TOKENS = frozenset(
    "photo photos photograph photographs image picture pic credit credits getty reuters ap shutterstock courtesy "
    "illustration file istock istockphoto associated alamy foto bild imagen crédit via handout screenshot "
    "screengrab video afp epa dpa ansa pa upi tass xinhua pictured".split()
)
# "Jane Holt, pictured at the opening ...", "The crew are pictured during ...": a caption describing a photo
PICTURED = re.compile(
    r"(?:,|\b(?:is|are|was|were|seen|shown))\s+pictured\s+(?:at|in|on|with|during|after|before|outside|inside|"
    r"left|right|centre|center|above|below|here|last|earlier|alongside|together)\b",
    re.IGNORECASE,
)
PICTURED_WORDS = 30  # a caption is at most this long; a longer sentence with "pictured" is prose
PICTURED_SENTENCE_WORDS = 20  # ... and at most this long when it ends like a sentence
BYLINE_TOKENS = frozenset("by von par por di door av przez from".split())
COMMENT_TOKENS = frozenset("says said wrote writes replied schreibt dit écrit escribió disse scrive".split())
WIDGET_ENDS = frozenset("0123456789)kKmM.,")
NUMERIC_START = frozenset("0123456789 /.,:;%$€£¥+-–()#")


# cheap substring test before the PITCH regex, which is slow on long lines
PITCH_HINTS = (
    "click", "privacy", "terms of", "subscri", "newsletter", "sign up", "cookie", "agree to", "rights reserved",
    "copyright", "©", "inbox", "ad block", "whitelist", "disable your ad", "journalism", "trademark",
    "this site", "this website", "javascript", "browser",
)

# a word every PITCH phrase holds (besides "subscrib..." and "©"): lines without one skip the hint scan
PITCH_TOKENS = frozenset(
    "clicking privacy terms newsletter sign cookies cookie agree rights copyright unsubscribe inbox blocker "
    "whitelist disable journalism trademark uses javascript browser".split()
)


def ui_term(line: str, key: str | None = None, tokens: Sequence[str] | None = None) -> Flag | None:
    """Return the reason of the first interface term in a line (a whole-line control counts too)."""
    key = normalise(line) if key is None else key
    if key in NAV_LINES:
        return Flag.NAV_LINK
    if "©" in line:
        return Flag.LEGAL_FOOTER
    if line.lstrip().startswith("@") and " " not in line.strip():
        return Flag.FOLLOW
    tokens = key.split() if tokens is None else tokens
    if UI_FIRST.isdisjoint(tokens):
        return None
    for i, token in enumerate(tokens):
        for words, reason in UI_INDEX.get(token, ()):
            if tuple(tokens[i : i + len(words)]) == words:
                return reason
    return None


def ui_reason(
    line: str, words: int, key: str | None = None, ends: bool | None = None, tokens: Sequence[str] | None = None
) -> Flag | None:
    """Name the interface control a line is, if it is one: short lines only, or long legal notices.

    `key` (normalised form), `ends` (ends a sentence) and `tokens` (lower-cased words): when the caller has them.
    """
    if ends is None:
        ends = ends_sentence(line)
    if words <= 12 and not (ends and words >= 4):  # a short full sentence is prose
        return ui_term(line, key, tokens)
    if words <= 80:
        low = line.lower()
        if tokens is not None and PITCH_TOKENS.isdisjoint(tokens) and "subscrib" not in low and "©" not in low:
            return None
        if sum(map(low.__contains__, PITCH_HINTS)) < 2:
            return None
        hits = {m.group(0).lower() for m in PITCH.finditer(line)}
        if len(hits) >= 2:
            if "cookie" in low:
                return Flag.COOKIE
            if any(word in low for word in ("subscri", "newsletter", "sign up", "inbox")):
                return Flag.SUBSCRIBE
            return Flag.LEGAL_NOTICE
    return None


MORE_OUTLET = re.compile(r"^More(?: [A-Z][\w.&'’-]*){1,4}:?$")  # "More Washington Examiner"


def is_tail_marker(line: str, words: int) -> bool:
    """Tell whether a line opens a "Related"/"Trending"/"More from" list after the article."""
    return words <= 8 and bool(TAIL.match(line.strip()) or MORE_OUTLET.match(line.strip()))


def list_reason(line: str, words: int, ends: bool | None = None) -> Flag | None:
    """Name a line that is a list of short items (keywords, menu) rather than prose."""
    if ":" in line and KEYWORD_PREFIX.match(line):
        return Flag.KEYWORDS
    if "/" not in line and "|" not in line and "·" not in line and "•" not in line:
        return None
    if (ends_sentence(line) if ends is None else ends) and not line.rstrip().endswith(("/", "|")):
        return None
    parts = [p for p in SEPARATORS.split(line) if p.strip()]
    seps = len(SEPARATORS.findall(line))
    if seps >= 2 and parts and words / len(parts) <= 5:
        return Flag.KEYWORDS if "/" in line or "," in line else Flag.MENU_LINE
    return None


def count_widget(line: str, words: int, ends: bool | None = None) -> bool:
    """Tell whether a line is a widget label with a count ("The Breakdown 32", "Comments (4)")."""
    if not 2 <= words <= 6:
        return False
    stripped = line.strip()
    if stripped[-1:] not in WIDGET_ENDS or (ends_sentence(line) if ends is None else ends):
        return False
    return bool(COUNT_WIDGET.match(stripped))


def stats_reason(
    line: str, words: int, ends: bool | None = None, tokens: Sequence[str] | None = None
) -> Flag | None:
    """Name a line made only of numbers, a date or a time.

    `ends` (ends a sentence) and `tokens` (lower-cased words): when the caller has them.
    """
    stripped = line.strip()
    first = stripped[:1]
    if (first in NUMERIC_START or first.isdigit()) and NUMERIC.match(stripped):
        return Flag.NUMBER
    if words > 10 or (ends_sentence(stripped) if ends is None else ends):
        return None
    if not DIGIT.search(stripped):
        return None
    if tokens is None:
        tokens = WORD.findall(stripped.lower())
    # MONTHS matches whole words only: a date line has a digit, a date word, and no other word of 3+ letters
    dated = False
    for token in tokens:
        if LETTERS3.search(token):
            if not MONTHS.fullmatch(token):
                return None
            dated = True
        elif not dated and not token.isdigit() and MONTHS.fullmatch(token):
            dated = True  # "am", "pm", "et"
    return Flag.DATE_LINE if dated else None


def byline(line: str, words: int, ends: bool | None = None) -> bool:
    """Tell whether a line is an author byline ("By Jane Doe")."""
    if words > 7 or (ends_sentence(line) if ends is None else ends):
        return False
    return bool(BYLINE.match(line.strip())) and (
        words == 1 or line.strip()[len(line.strip().split()[0]):].strip()[:1].isupper()
    )


def caption_reason(
    line: str, words: int, tokens: Collection[str] | None = None, ends: bool | None = None
) -> Flag | None:
    """Name a photo caption or credit: credit words, or a trailing credit in brackets after unfinished prose.

    `tokens` are the line's lower-cased words, `ends` whether it ends a sentence, when the caller has them.
    """
    stripped = line.strip()
    closes = stripped.endswith(")")
    if tokens is not None and not closes and CREDIT_TOKENS.isdisjoint(tokens):
        return None  # no credit word and no trailing bracket: nothing below can match
    if "pictured" in stripped.lower() and words <= PICTURED_WORDS and PICTURED.search(stripped):
        if not (ends_sentence(stripped) if ends is None else ends) or words <= PICTURED_SENTENCE_WORDS:
            return Flag.CAPTION
    if (ends_sentence(stripped) if ends is None else ends) and not closes:
        head = stripped.split(":")[0].lower() if ":" in stripped[:20] else ""
        if not head or not CREDIT.search(head):
            return None
    match = TRAILING_PAREN.search(stripped) if closes else None
    if match:
        inner = match.group(1)
        before = stripped[: match.start()].rstrip()
        alpha = [w for w in inner.replace("/", " ").split() if w[:1].isalpha()]
        # a credit names people or agencies: two or more capitalised words, or one in capitals
        named = len(alpha) <= 5 and (
            (len(alpha) >= 2 and all(w[:1].isupper() for w in alpha)) or any(len(w) >= 3 and w.isupper() for w in alpha)
        )
        if (CREDIT.search(inner) or named) and not ends_sentence(before) and 5 <= word_count(before) <= 40:
            return Flag.CAPTION
        if CREDIT.search(inner) and len(alpha) <= 6 and word_count(before) <= 60:
            return Flag.CAPTION  # a described photo then its credit: "... on Tuesday. (NASA via AP, File)"
    if words <= 40 and CREDIT.search(stripped):
        first = stripped.split()[0].rstrip(":").lower()
        if CREDIT.match(first) or re.search(r"(/|\|)\s*(\w+\s*){1,4}$", stripped) or words <= 8:
            return Flag.CAPTION
    return None


CONTACT = re.compile(r"@|https?://|www\.|\.(?:com|org|net)\b|\b(?:e-?mail|phone|tel|fax)\b\s*:?", re.IGNORECASE)
LIVE_LABEL = re.compile(r"\b(?:LIVE|Live)$")  # "High School Sports LIVE": a section or live-blog label


def title_candidate(line: str) -> bool:
    """Tell whether a line may be a headline: no contact details, links, interface words or live labels."""
    return not (CONTACT.search(line) or LIVE_LABEL.search(line.strip()) or ui_term(line))


# words that end in a full stop without ending a sentence ("Dr. Smith", "No. 5", "Jan. 3")
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt cmdr adm gov sen rep rev hon pres supt insp det "
    "inc ltd co corp bros plc llc dept univ assn est approx vs etc al fig no nos vol pp ch sec art "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri sat sun".split()
)
# a candidate sentence end: terminal punctuation, closing quotes or brackets, then space and a capital or quote
SENTENCE_BREAK = re.compile(
    r"[.!?…]+[\"'”’»)\]]*(?=\s+[\"'“‘«(\[]?[^\W\d_a-z])"  # before a capital (or a quote and a capital)
    r"|[.!?…]+[\"'”’»)\]]*$"  # or at the end of the text
)
WORD_BEFORE = re.compile(r"([\w.]+)[.!?…]*[\"'”’»)\]]*$")


def _real_break(text: str, end: int) -> bool:
    """Tell whether the punctuation ending at `end` closes a sentence rather than an abbreviation or initial."""
    match = WORD_BEFORE.search(text, max(0, end - 40), end)  # the word before, not the whole text: linear
    if match is None or not text[match.end() - 1 : end].lstrip(CLOSERS).startswith("."):
        return True  # "!", "?" and "…" always end a sentence
    word = match.group(1).rstrip(".")
    if "." in word:
        return False  # "U.S.", "e.g.", "a.m."
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "John F. Kennedy"
    return word.lower() not in ABBREVIATIONS


def first_sentence(text: str, limit: int = 100) -> str:
    """Return the first sentence of `text` (not cut at "U.S.", "Dr." or initials), shortened to about `limit` chars.

    A sentence longer than `limit` plus a tenth is cut at the last word boundary before `limit`, with an ellipsis.
    """
    text = " ".join(text.split())
    sentence = text
    for match in SENTENCE_BREAK.finditer(text):
        if match.start() > limit + limit // 10:
            break  # too long to keep whole: cut below
        if _real_break(text, match.end()):
            sentence = text[: match.end()]
            break
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1]  # a headline carries no full stop
    if len(sentence) > limit + limit // 10:
        cut = sentence[: limit + 1].rsplit(" ", 1)[0] if " " in sentence[:limit] else sentence[:limit]
        sentence = cut.rstrip(" ,;:–—-") + "…"
    return sentence


# Characters and words that some line check needs (digits: counts, dates, numbers; ":" keyword lists and
# credit heads; separators; "©" and "@"; ")" trailing credits): a line with none of them passes every check
FLAG_CHARS = re.compile(r"[\d:/|·•©@)]")
FLAG_TOKENS = UI_FIRST | CREDIT_TOKENS | BYLINE_TOKENS | COMMENT_TOKENS | PITCH_TOKENS


def may_flag(line: str, words: int, key: str, tokens: Collection[str]) -> bool:
    """Tell whether any single-line check could flag this line; False proves none can, without running them."""
    return bool(
        key in NAV_LINES
        or not FLAG_TOKENS.isdisjoint(tokens)
        or (words > 12 and "subscrib" in key)
        or FLAG_CHARS.search(line)
    )
