"""Classify the lines of a plain-text page as title, heading, body or boilerplate.

A page copied as text keeps its chrome: menus and footers (runs of short lines), banners, share
bars, captions, widgets and "Related" tails. Each line is first judged alone (`signals.py`), then
in context: the article is the densest block of prose (a maximum-sum run of line scores, as in
Body Text Extraction), short lines inside it are headings when prose follows, and lines repeated
within the page or learned across the inbox are chrome wherever they stand.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from digest.clean import signals as sig
from digest.clean.dates import date_in_line
from digest.clean.flags import Flag
from digest.clean.lang import guess_stoplist
from digest.models import Decision, Role

GOOD_WORDS = 8  # a prose line has at least this many words ...
LONG_WORDS = 20  # ... and ends like a sentence, unless it is at least this long
MIN_STOP_DENSITY = 0.18  # share of stopwords in real prose (lists of names and menus have few)
NAV_RUN = 3  # this many short lines in a row are a menu, a footer or a stats block
LOOSE_NAV_RUN = 6  # ... or this many when blank lines separate them
TITLE_WINDOW = 40  # how many lines before the article the headline may stand
LIST_FLAGS = frozenset({Flag.KEYWORDS, Flag.MENU_LINE})
TAIL_DAMPING = 0.3  # prose after a "Related" marker counts this much toward the article block
SITE_WORDS = 6  # a site name at the top of a page is at most this many words ...
SITE_CHARS = 50  # ... and this many characters
TITLE_SEPARATOR = re.compile(r"\s(?:\||-{1,2}|–|—|::|·)\s")  # "Headline - Site", "Headline | Site"
SITE_PENALTY = 30.0  # a site-name line is the title only when no other line can be
ANCHOR_GAP = 6  # the article starts within this many lines of its headline (bylines, dates between)
TEASER_ENDS = ("[…]", "[...]", "[ … ]", "[ ... ]")  # how blogs cut the excerpt of a post listed beside the article
DIGIT4 = re.compile(r"\d{4}")  # a printed date has a year
TABLE_RUN = 4  # this many adjacent rows of numbers are a data table ...
TABLE_NUMBERS = 3  # ... each holding at least this many numbers
ANCHOR_SHARE = 0.3  # prose under a far headline wins over a bigger block elsewhere when it scores this share of it
# words a name may keep in lower case ("Times of London", "El Diario de Hoy")
SMALL_WORDS = frozenset("a an and the of in on for at to by de du des la le el los las di del da do y und der".split())
# the last word of many papers' names: such a line is a name even when it shares a word with the headline
MASTHEAD_WORDS = frozenset(
    "news times post herald star echo wire gazette journal chronicle tribune daily weekly magazine press courier "
    "observer guardian telegraph express mail record review standard sun independent inquirer examiner bulletin "
    "dispatch register leader mirror monitor sentinel advertiser argus mercury globe beacon ledger citizen "
    "reporter insider digest today radio tv network media online".split()
)
# a top line made only of these is a section label or kicker, not an outlet's name
GENERIC_WORDS = frozenset(
    "news latest breaking live updates update local world national international politics business economy "
    "money markets sport sports opinion home top stories story technology tech science health entertainment "
    "culture arts lifestyle life weather video videos podcast podcasts features feature analysis exclusive "
    "community education nation region regional city metro today daily weekly edition online more editorial "
    "editorials blog blogs interview interviews explainer obituary obituaries letters column columns".split()
)


class Line(NamedTuple):
    """One non-blank input line and what it says about itself (a tuple: pages have thousands)."""

    index: int  # type: ignore[assignment]  # 1-based line number in the input (shadows tuple.index)
    raw: str  # the line without surrounding whitespace
    text: str  # the line without a bullet mark
    key: str  # normalised form, for repetition
    words: int
    sentence: bool  # ends like a sentence
    stop: float  # stopword density
    flag: Flag | None  # boilerplate reason from the line alone
    tail: bool  # opens a "Related"/"Trending" list
    loose: bool  # a blank line stands before it (paragraph break, not a list of links)

    @property
    def good(self) -> bool:
        """Tell whether the line reads as article prose."""
        return (
            self.flag is None
            and self.words >= GOOD_WORDS
            and (self.sentence or self.words >= LONG_WORDS)
            and self.stop >= MIN_STOP_DENSITY
        )

    @property
    def short(self) -> bool:
        """Tell whether the line is short and unpunctuated: a heading, a link or a label."""
        return not self.sentence and self.words < LONG_WORDS


def flag_of(text: str, words: int, key: str, tokens: Sequence[str], ends: bool) -> Flag | None:
    """Return why a line is chrome judged on its own (None: nothing says so)."""
    if words == 0:
        return Flag.NO_WORDS
    if text.endswith(TEASER_ENDS):
        return Flag.TEASER
    if words <= 12 and not sig.may_flag(text, words, key, tokens):
        return None  # most short lines: menus, labels, headings (long lines nearly always hold some trigger)
    if sig.count_widget(text, words, ends):
        return Flag.WIDGET
    reason = (
        sig.stats_reason(text, words, ends, tokens)
        or sig.list_reason(text, words, ends)
        or sig.ui_reason(text, words, key, ends, tokens)
    )
    if reason:
        return reason
    if tokens and tokens[0] in sig.BYLINE_TOKENS and sig.byline(text, words, ends):
        return Flag.BYLINE
    if tokens and tokens[-1] in sig.COMMENT_TOKENS and sig.COMMENT_HEADER.match(text):
        return Flag.COMMENT_HEADER
    return sig.caption_reason(text, words, tokens, ends)


def _prose_sample(lines: Iterable[tuple[int, str, str, list[str]]], limit: int = 600) -> list[str]:
    """Return up to `limit` words from the page's longer lines: enough to tell its language."""
    sample: list[str] = []
    for _, raw, _, tokens in lines:
        if len(raw) > 80:
            sample += tokens
            if len(sample) >= limit:
                break
    return sample


def read_lines(text: str, learned: Collection[str] = frozenset()) -> list[Line]:
    """Split a page into non-blank lines with their own signals (stopwords, flags, repetition)."""
    all_lines = text.split("\n")
    # (line number, stripped line, line without bullet, lower-cased words): each line is tokenised once
    split: list[tuple[int, str, str, list[str]]] = []
    tokenise, bullet_start, unbullet = sig.WORD.findall, sig.BULLET_START, sig.BULLET.sub  # hot loop: local names
    for i, line in enumerate(all_lines, 1):
        raw = line.strip()
        if raw:
            body = (unbullet("", raw, count=1) or raw) if raw[0] in bullet_start else raw
            split.append((i, raw, body, tokenise(body.lower())))
    stop = guess_stoplist(_prose_sample(split), lowered=True)
    is_stop = stop.__contains__
    seen: set[str] = set()
    out: list[Line] = []
    for index, raw, body, tokens in split:
        key = " ".join(tokens)
        words = len(tokens) if body.isascii() else sig.word_count(body, tokens)
        density = sum(map(is_stop, tokens)) / len(tokens) if stop and tokens else 1.0
        ends = body.rstrip(sig.CLOSERS).endswith(sig.SENTENCE_END)  # sig.ends_sentence on a stripped line
        flag = flag_of(body, words, key, tokens, ends)
        if flag is None and key in learned:
            flag = Flag.LEARNED
        if flag is None and key and key in seen:
            flag = Flag.REPEATED
        seen.add(key)
        tail = (
            words <= 8
            and bool(tokens)
            and (tokens[0] in sig.TAIL_FIRST or tokens[0].isdigit())
            and sig.is_tail_marker(body, words)
        )
        if tail and flag is None:
            flag = Flag.TAIL
        loose = index >= 2 and (not all_lines[index - 2] or all_lines[index - 2].isspace())
        out.append(Line(index, raw, body, key, words, ends, density, flag, tail, loose))
    return out


def _runs(member: Sequence[bool]) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each maximal run of adjacent positions where `member` is true."""
    start = -1
    for i, inside in enumerate(member):
        if inside:
            if start < 0:
                start = i
        elif start >= 0:
            yield start, i
            start = -1
    if start >= 0:
        yield start, len(member)


def nav_runs(lines: Sequence[Line]) -> list[bool]:
    """Mark lines in runs of NAV_RUN or more short lines (menus, footers, stats blocks)."""
    marks = [False] * len(lines)
    for start, end in _runs([line.short and line.words <= 12 for line in lines]):
        tight = sum(1 for k in range(start + 1, end) if not lines[k].loose)
        # menus are lists of adjacent lines; blank-separated short lines are more often headings and lists
        if end - start >= NAV_RUN and (tight * 2 >= end - start - 1 or end - start >= LOOSE_NAV_RUN):
            marks[start:end] = [True] * (end - start)
    return marks


def table_rows(lines: Sequence[Line]) -> list[bool]:
    """Mark runs of TABLE_RUN or more adjacent data rows (standings, results): part of an article, not a menu."""
    marks = [False] * len(lines)
    for start, end in _runs([_data_row(line) for line in lines]):
        if end - start >= TABLE_RUN:
            marks[start:end] = [True] * (end - start)
    return marks


def _data_row(line: Line) -> bool:
    """Tell whether a line is a row of a data table: several numbers among few words, no interface words."""
    if line.flag not in (None, Flag.NUMBER) or line.sentence or not TABLE_NUMBERS <= line.words <= 20:
        return False  # a line has at least as many words as tokens: fewer than TABLE_NUMBERS cannot hold enough numbers
    numbers = sum(1 for token in line.key.split() if token.isdigit())
    return numbers >= TABLE_NUMBERS and numbers * 2 >= line.words


def _weight(line: Line, nav: bool, row: bool = False) -> float:
    if line.tail:
        return -25.0
    if row:
        return 0.0  # a data table neither makes nor breaks a block: the prose around it decides
    if line.flag:
        return -(3.0 + min(line.words, 60) * 0.5)
    if line.good:
        return float(min(line.words, 120))
    if nav:
        return -3.0
    if line.sentence and line.words >= 3:
        return 1.0
    return -1.5


def block_after(
    lines: Sequence[Line], nav: Sequence[bool], first: int, table: Sequence[bool]
) -> tuple[int, int, float]:
    """Return [start, end) and score of the best run of lines that starts within a few lines after `first`."""
    best, best_span = 0.0, (first, first)
    total = 0.0
    start = first
    for i in range(first, len(lines)):
        w = _weight(lines[i], nav[i], table[i])
        if total <= 0:
            if i - first > ANCHOR_GAP:
                break  # no prose right after the headline
            total, start = 0.0, i
        elif lines[i].tail or (lines[i].flag is Flag.SHARE and best > 0):
            break  # share buttons under the headline's article close it; what follows is the sidebar
        total += w
        if total > best:
            best, best_span = total, (start, i + 1)
    return best_span[0], best_span[1], best


def block_score(lines: Sequence[Line], nav: Sequence[bool], start: int, end: int, table: Sequence[bool]) -> float:
    """Return the total prose score of lines [start, end)."""
    return sum(_weight(lines[i], nav[i], table[i]) for i in range(start, end))


def main_block(lines: Sequence[Line], nav: Sequence[bool], table: Sequence[bool]) -> tuple[int, int]:
    """Return [start, end) of the run of lines with the highest total prose score."""
    best, best_span = 0.0, (0, 0)
    total, start = 0.0, 0
    damping = 1.0
    prose_before = 0
    for i, line in enumerate(lines):
        w = _weight(line, nav[i], table[i])
        if line.tail and prose_before >= 100:
            damping = TAIL_DAMPING  # what follows a "Related"/"Comments" marker is rarely the article
        if w > 0:
            w *= damping
            prose_before += line.words
        if total <= 0:
            total, start = 0.0, i
        total += w
        if total > best:
            best, best_span = total, (start, i + 1)
    return best_span


def _title_score(line: Line, distance: int, page_title: str, later: set[str]) -> float:
    score = min(line.words, 15) - 0.2 * distance
    if page_title and line.key and page_title.startswith(line.key):
        score += 10  # the page's own <title> line ("Headline - Site") begins with the headline
    if line.key in later:
        score += 5  # headlines are often printed twice
    return score


def _headline_like(lines: Sequence[Line], i: int) -> bool:
    """Tell whether a prose-looking line is a headline: title case, no full stop, prose after it."""
    if i + 1 >= len(lines) or not lines[i + 1].good:
        return False
    line = lines[i]
    if line.words > 20 or line.raw.rstrip(sig.CLOSERS).endswith((".", ",", ";", ":")):
        return False
    long_words = [w for w in line.text.split() if len(w) > 3 and w[:1].isalpha()]
    capitalised = sum(1 for w in long_words if w[:1].isupper())
    return bool(long_words) and capitalised / len(long_words) >= 0.6


def _name_cased(raw: str) -> bool:
    """Tell whether every word of a line is capitalised (small joining words aside) or in capitals."""
    for n, word in enumerate(raw.split()):
        letter = next((c for c in word if c.isalpha()), "")
        if letter and not letter.isupper() and (n == 0 or word.lower() not in SMALL_WORDS):
            return False
    return True


def site_line(lines: Sequence[Line], nav: Sequence[bool]) -> bool:
    """Tell whether the page's first line is shaped like its site's name, with chrome or a headline after it.

    A site name is short, capitalised like a name, carries no sentence punctuation and no interface
    words, and is followed by navigation, a banner or the headline rather than by prose.
    """
    if len(lines) < 2:
        return False
    line, after = lines[0], lines[1]
    if line.flag or line.tail or line.sentence or not 1 <= line.words <= SITE_WORDS or len(line.raw) > SITE_CHARS:
        return False
    if any(c in line.raw for c in ",;:!?|/·•>›»") or not _name_cased(line.raw):
        return False
    if GENERIC_WORDS.issuperset(line.key.split()):
        return False  # "Breaking News", "World": a section label
    return bool(after.flag) or nav[1] or not (after.good or after.sentence)


def _headline_of_page_title(lines: Sequence[Line], first_good: int) -> int | None:
    """Return the first line that the page's <title> line ("Headline - Site" on line 1) begins with, or None.

    Looks up to just inside the article block, where many pages print the headline; a line equal to the
    first line means the first line is the headline itself.
    """
    page_title = lines[0].key
    if lines[0].words < 5:
        return None  # a site name or a label, not a page title
    for i in range(1, min(len(lines), first_good + 3)):
        line = lines[i]
        if line.words < 4 or len(line.key) * 2 < len(page_title) or not page_title.startswith(line.key):
            continue
        if line.tail or line.flag not in (None, Flag.REPEATED):
            continue
        return 0 if line.key == page_title else i
    return None


def _title_window(lines: Sequence[Line], start: int) -> tuple[range, int]:
    """Return the lines where the headline may stand (just before the block) and the block's first prose line."""
    first_good = next((i for i in range(start, len(lines)) if lines[i].good), start)
    if _headline_like(lines, first_good):
        first_good += 1  # the block opens with its own headline
    return range(max(0, start - TITLE_WINDOW), first_good), first_good


def _title_by_hint(lines: Sequence[Line], window: range, hint_key: str) -> int | None:
    """Return the line of the window that is the known title (or starts it), or None."""
    for i in window:
        key = lines[i].key
        if key and (key == hint_key or (lines[i].words >= 3 and hint_key.startswith(key))):
            return i
    return None


def _may_be_title(lines: Sequence[Line], i: int, window: range, page_title: str) -> bool:
    """Tell whether line i can be the headline at all (not chrome, a sentence, a contact, date or <title> line)."""
    line = lines[i]
    if (line.flag and line.flag is not Flag.REPEATED) or line.tail or not 3 <= line.words <= 30:
        return False
    if line.raw.endswith((".", ":", ",")):
        return False
    if not sig.title_candidate(line.raw):
        return False  # contact, link and interface lines ("E-mail info@site.com", "Subscribe ...") name no story
    if line.words <= 12 and DIGIT4.search(line.raw) and date_in_line(line.raw):
        return False  # a date line ("Thursday 12 November 2026 · Jane Doe") is never the headline
    if i == 0 and len(lines) > 1 and any(page_title.startswith(lines[j].key) for j in window if j and lines[j].key):
        return False  # the <title> line itself; the headline proper comes later
    return True


def _best_scored_title(lines: Sequence[Line], window: range, first_good: int, site: bool) -> int | None:
    """Return the window's line with the best headline score, or None."""
    page_title = lines[0].key if lines else ""
    counts = Counter(line.key for line in lines)
    later = {k for k, n in counts.items() if n > 1}
    best: tuple[float, int] | None = None
    for i in window:
        if not _may_be_title(lines, i, window, page_title):
            continue
        score = _title_score(lines[i], first_good - i, page_title, later)
        if i == 0 and site:
            score -= SITE_PENALTY
        if best is None or score > best[0]:
            best = (score, i)
    return None if best is None else best[1]


def find_title(
    lines: Sequence[Line], start: int, nav: Sequence[bool], hint: str | None, site: bool = False
) -> int | None:
    """Return the position of the headline line before the article block, or None.

    `site` says the first line is the site's name: the title only when no other line can be.
    """
    window, first_good = _title_window(lines, start)
    hint_key = sig.normalise(hint) if hint else ""
    if hint_key:
        found = _title_by_hint(lines, window, hint_key)
        if found is not None:
            return found
    elif not site:
        found = _headline_of_page_title(lines, first_good)
        if found is not None:
            return found
    best = _best_scored_title(lines, window, first_good, site)
    if window.start > 0 and not site and _page_title_line(lines[0]):
        # the first line (the page's <title>) stands beyond the window; it beats a nearby line about
        # something else, such as a sponsor note or a pull quote
        if best is None or len(_content_words(lines[0]) & _content_words(lines[best])) < 2:
            return 0
    if best is None:
        return None
    # a headline printed twice: the first copy is the title, the second a repeat
    return next(i for i in window if lines[i].key == lines[best].key)


def _headline_copy(lines: Sequence[Line], start: int) -> int | None:
    """Return the first later line that repeats the headline part of a page-title first line, or None."""
    head = TITLE_SEPARATOR.split(lines[0].text, maxsplit=1)[0]
    key = sig.normalise(head)
    if len(key.split()) < 2 or key == lines[0].key:
        return None
    return next((i for i in range(1, start) if lines[i].key == key and not lines[i].tail), None)


def _byline_date(lines: Sequence[Line], anchor: int) -> datetime | None:
    """Return the date printed on a short line by the headline (a byline or date line), or None."""
    for i in range(max(0, anchor - 2), min(len(lines), anchor + ANCHOR_GAP + 1)):
        line = lines[i]
        if i != anchor and not line.good and DIGIT4.search(line.raw):
            found = date_in_line(line.raw)
            if found is not None:
                return found
    return None


def _content_words(line: Line) -> set[str]:
    return {w for w in line.key.split() if len(w) > 3}


def _page_title_line(line: Line) -> bool:
    """Tell whether a first line can be the page's <title>: headline-sized, not prose, no other chrome."""
    return 4 <= line.words <= 30 and not line.sentence and line.flag in (None, Flag.MENU_LINE)


def _name_like(tail: str) -> bool:
    """Tell whether the end of a page title ("... - BBC News") is a site's name rather than part of the headline."""
    words = tail.split()
    domain = len(words) == 1 and "." in tail.strip(".")  # "nj.com"
    if not 1 <= len(words) <= 5 or len(tail) > 40 or sig.ends_sentence(tail):
        return False
    if domain:
        return True
    if not words[0][:1].isupper():
        return False
    key = sig.normalise(tail).split()
    if not key or GENERIC_WORDS.issuperset(key):
        return False
    return (
        key[-1] in MASTHEAD_WORDS  # "BBC News", "The Jerusalem Post"
        or any(len(w) >= 2 and w.isupper() for w in words)  # "CNN"
        or any(c.isupper() for w in words for c in w[1:])  # "ZDNet", "9to5Mac"
        or len(words) == 1  # "Smithsonian"
    )


def split_site_suffix(text: str) -> tuple[str, str | None]:
    """Split a page title "Headline | Section | Site" into the headline and the site's name (None if none ends it)."""
    head, site = text, None
    for _ in range(2):
        seps = list(TITLE_SEPARATOR.finditer(head))
        if not seps:
            break
        tail, rest = head[seps[-1].end() :].strip(), head[: seps[-1].start()].strip()
        if len(rest.split()) < 3:
            break
        if site is None and not _name_like(tail):
            break
        if site is not None and not (_name_cased(tail) and len(tail.split()) <= 4):
            break  # before the site's name, only a section's ("Smart News") goes too
        head, site = rest, site or tail
    return head, site


def _outlet_name(line: Line, title_key: str, title_next: bool) -> str | None:
    """Return a site-name line as an outlet name, unless it reads as a topic label of the headline.

    `title_next` says the headline stands right after it, with no chrome between.
    """
    if title_key and (line.key.startswith(title_key) or title_key.startswith(line.key)):
        return None  # the page's <title> line, or the headline itself printed first
    words = [w for w in line.key.split() if w not in SMALL_WORDS]
    if title_next and words[-1:] and words[-1] not in MASTHEAD_WORDS and set(words) & set(title_key.split()):
        return None  # "Belarus Release" atop "Belarus releases 123 prisoners": the story's label, not a site
    if len(words) == 1 and not (line.text.isupper() or any(c.isupper() for c in line.text[1:])):
        return None  # one plain word ("Politics") is more often a section; "BBC", "TechCrunch" are names
    return line.text


def _in_block_decision(
    lines: Sequence[Line], i: int, end: int, nav: Sequence[bool], listed: Collection[int]
) -> tuple[Role | None, str]:
    line = lines[i]
    if line.flag:
        return None, f"drop: {line.flag.value}"
    if line.good:
        return Role.BODY, "body"
    if nav[i]:
        if i in listed:
            return Role.BODY, "body: list item inside the article"
        return None, "drop: short line without sentence punctuation in a navigation run"
    nxt = _next_text(lines, i, end)
    if line.sentence and line.words >= 2:
        if _question_heading(lines, i, nxt):
            return Role.HEADING, "heading: short question between paragraphs"
        return Role.BODY, "body: short sentence"
    if nxt is not None and (lines[nxt].good or (lines[nxt].sentence and lines[nxt].words >= 3)):
        if line.words <= 20 and not line.raw.endswith(","):
            return Role.HEADING, "heading: short line before body text"
    if not line.sentence and line.words >= 3 and line.stop >= MIN_STOP_DENSITY and nxt is not None and nxt < end:
        return Role.BODY, "body: prose line without final punctuation"
    if line.loose and line.words >= 2 and nxt is not None:
        return Role.BODY, "body: short paragraph inside the article"
    return None, "drop: short line not followed by body text"


def _next_text(lines: Sequence[Line], i: int, end: int) -> int | None:
    """Return the next line that is not chrome, looking past captions and ads but not past lists or tails."""
    for j in range(i + 1, end):
        flag = lines[j].flag
        if not flag:
            return j
        if lines[j].tail or flag in LIST_FLAGS:
            return None
    return None


def _question_heading(lines: Sequence[Line], i: int, nxt: int | None) -> bool:
    """Tell whether a short question stands as a subheading: prose before it and after it."""
    line = lines[i]
    if not line.raw.rstrip(sig.CLOSERS).endswith("?") or line.words > 12 or nxt is None or not lines[nxt].good:
        return False
    before = next((lines[j] for j in range(i - 1, -1, -1) if not lines[j].flag), None)
    return before is not None and before.good


def lists_in_prose(lines: Sequence[Line], start: int, end: int, nav: Sequence[bool]) -> set[int]:
    """Return the positions in [start, end) of runs of short lines that are lists the article introduces.

    Such a run follows a line ending in ':' and is followed by prose. Each run is walked once, so a page
    with thousands of menu lines inside its article block costs linear time.
    """
    listed: set[int] = set()
    i = start
    while i < end:
        if not nav[i]:
            i += 1
            continue
        j = i
        while j > 0 and nav[j - 1]:
            j -= 1
        k = i
        while k + 1 < end and nav[k + 1]:
            k += 1
        before = lines[j - 1] if j > 0 else None
        after = lines[k + 1] if k + 1 < end else None
        if before is not None and before.raw.rstrip().endswith(":") and before.flag is None and after and after.good:
            listed.update(range(i, k + 1))
        i = k + 1
    return listed


@dataclass(frozen=True)
class TextResult:
    """The classifier's verdict on a page: one decision per non-blank line and the title line."""

    decisions: tuple[Decision, ...]
    title_index: int | None  # position in decisions of the headline, if one was found
    site_name: str | None = None  # the site's name printed at the top of the page, if there is one
    date: datetime | None = None  # the date on the byline or date line by the headline, if one is printed


class Layout(NamedTuple):
    """What the rules read off a page: its lines, runs, article block, headline and site name."""

    lines: list[Line]
    nav: list[bool]  # in a navigation run
    table: list[bool]  # a row of a data table
    start: int  # the article block is lines[start:end]
    end: int
    title: int | None  # position of the headline line
    title_key: str  # normalised headline (the hint's when no line is the headline)
    name: str | None  # the site's name printed at the top
    headline: str  # the first line without its site suffix
    suffix: str | None  # the site's name ending the first line ("Headline - Site"), if any
    listed: set[int]  # short lines inside the block that are a list the article introduces


def _anchor_block(lines: Sequence[Line], nav: Sequence[bool], table: Sequence[bool], title: int, span: tuple[int, int]) -> tuple[int, int, int]:
    """Move the article block under a headline standing far above the densest block, when enough prose follows it."""
    start, end = span
    if title == 0:
        # the page's <title> line far above the block: the headline printed again nearer the article anchors it
        title = _headline_copy(lines, start) or title
    # the densest block is likely another text (a site blurb); the article is what follows its headline
    a_start, a_end, a_score = block_after(lines, nav, title + 1, table)
    if a_end > a_start and a_score >= ANCHOR_SHARE * block_score(lines, nav, start, end, table):
        start, end = a_start, a_end
    return title, start, end


def layout(text: str, learned: Collection[str] = frozenset(), title_hint: str | None = None) -> Layout | None:
    """Read the page's lines, its menus and tables, the article block, the headline and the site's name."""
    lines = read_lines(text, learned)
    if not lines:
        return None
    nav = nav_runs(lines)
    table = table_rows(lines)
    start, end = main_block(lines, nav, table)
    site = site_line(lines, nav)
    title = find_title(lines, start, nav, title_hint, site) if end > start else None
    title_key = lines[title].key if title is not None else (sig.normalise(title_hint) if title_hint else "")
    if title is not None and start - title > TITLE_WINDOW:
        title, start, end = _anchor_block(lines, nav, table, title, (start, end))
    name = _outlet_name(lines[0], title_key, title == 1) if site and title != 0 and start > 0 else None
    headline, suffix = split_site_suffix(lines[0].text) if not site else (lines[0].text, None)
    if suffix and title is not None and (title == 0 or lines[0].key.startswith(title_key)):
        # the first line is the page's <title>, "Headline - Site": the headline is confirmed, the rest names the site
        name = name or suffix
        if title == 0:
            title_key = sig.normalise(headline)
    listed = lists_in_prose(lines, start, end, nav)
    return Layout(lines, nav, table, start, end, title, title_key, name, headline, suffix, listed)


def rule_decision(page: Layout, i: int) -> tuple[Role | None, str]:
    """Return the rules' role (None: drop) and reason for line i of the page."""
    line, title = page.lines[i], page.title
    if i == title:
        return Role.TITLE, "title"
    if i == 0 and page.name:
        return None, "drop: site name" if page.name != page.suffix else "drop: page title line (headline - site name)"
    if page.title_key and line.key == page.title_key:
        return None, "drop: repeated title"
    if page.start <= i < page.end and page.table[i]:
        return Role.BODY, "body: row of a data table inside the article"
    if page.start <= i < page.end:
        return _in_block_decision(page.lines, i, page.end, page.nav, page.listed)
    if line.flag:
        return None, f"drop: {line.flag.value}"
    if page.nav[i]:
        return None, "drop: short line without sentence punctuation in a navigation run"
    where = "before" if i < page.start else "after"
    return None, f"drop: {where} the main block of prose"


def rule_decisions(page: Layout) -> list[tuple[Role | None, str]]:
    """Return the rules' (role, reason) for every line of the page."""
    return [rule_decision(page, i) for i in range(len(page.lines))]


def _decisions(page: Layout, verdicts: Sequence[tuple[Role | None, str]]) -> tuple[Decision, ...]:
    out: list[Decision] = []
    for i, (line, (role, reason)) in enumerate(zip(page.lines, verdicts)):
        if i == page.title == 0 and page.suffix and page.name == page.suffix:
            reason = f"title (without the site's name, {page.suffix})"
            out.append(Decision(line.index, page.headline, True, Role.TITLE, reason))
            continue
        out.append(Decision(line.index, line.text if role else line.raw, role is not None, role, reason))
    return tuple(out)


def result(page: Layout, verdicts: Sequence[tuple[Role | None, str]]) -> TextResult:
    """Build the page's TextResult from one (role, reason) per line."""
    anchor = page.title if page.title is not None else page.start
    return TextResult(_decisions(page, verdicts), page.title, page.name, _byline_date(page.lines, anchor))


def classify(text: str, learned: Collection[str] = frozenset(), title_hint: str | None = None) -> TextResult:
    """Decide, for each non-blank line of a plain-text page, whether it is title, heading, body or chrome (rules only)."""
    page = layout(text, learned, title_hint)
    if page is None:
        return TextResult((), None)
    return result(page, rule_decisions(page))
