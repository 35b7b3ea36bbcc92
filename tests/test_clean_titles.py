"""Clean stage: the headline (not the site name) is the title, the fallback title is a whole first
sentence, and a site name printed atop a page without metadata becomes the outlet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.clean import clean_article
from digest.clean.signals import first_sentence
from digest.clean.text import split_site_suffix
from digest.ingest import load_file, parse
from digest.models import Article, Meta, RawArticle, Role

HEADLINE = "Fenwick pupils build a robot that waters the school garden"
BODY = [
    "Pupils at Fenwick Primary School have built a small robot that waters the vegetable garden every "
    "evening, using a moisture sensor they soldered themselves during lunch breaks.",
    "The project began as a science club experiment last winter and grew into a school-wide effort, with "
    "older pupils writing the code and younger ones painting the robot's wooden shell.",
    "Teachers said the garden had its best harvest in years, and the club now plans to enter the robot in "
    "a regional engineering fair for schools in the spring.",
]


def raw(text: str, name: str = "fenwick-robot.txt", meta: Meta | None = None) -> RawArticle:
    """Build a plain-text RawArticle by hand, as ingest would for a file without a header block."""
    return RawArticle(
        id=name[:12], path=Path(name), fingerprint=name, kind="text", text=text, meta=meta or Meta(),
        size=len(text),
    )


def page(top: list[str]) -> str:
    """A page: the given top lines, a blank line, then the body paragraphs."""
    return "\n".join([*top, "", *[x for p in BODY for x in (p, "")]])


def reason_of(article: Article, text: str) -> str:
    return next(d.reason for d in article.decisions if d.text == text)


# --- the headline, not the site name, is the title ------------------------------------------------

MASTHEADS = [
    # (top lines, expected outlet)
    (["Fenwick Valley Courier", "Home > Local > Schools", "Subscribe to our newsletter and never miss a story",
      HEADLINE, "Tuesday 3 March 2026 · Ana Ruiz"], "Fenwick Valley Courier"),
    (["THE HARBOUR TELEGRAPH", "News › Coast", "Dark Mode Light Mode", "Log in | Subscribe", HEADLINE],
     "The Harbour Telegraph"),
    (["Marsh County Ledger", "Community | Schools", "Sign up for the Ledger Weekender newsletter", HEADLINE,
      HEADLINE, "By Ana Ruiz · Sunday 8 March 2026", "Share this article"], "Marsh County Ledger"),
    (["KTVZ News", "Education", HEADLINE], "KTVZ News"),
    # a town's paper right above a headline naming the town: its masthead word makes it a name
    (["Fenwick Evening Star", HEADLINE], "Fenwick Evening Star"),
]


@pytest.mark.parametrize(("top", "outlet"), MASTHEADS)
def test_headline_below_the_site_name_is_the_title(top: list[str], outlet: str) -> None:
    article = clean_article(raw(page(top)))
    assert article.title == HEADLINE
    assert article.paragraphs[0].text == HEADLINE and article.paragraphs[0].role is Role.TITLE
    assert [p.text for p in article.body] == BODY
    assert article.outlet == outlet
    assert reason_of(article, top[0]).startswith("drop: site name")


def test_headline_printed_twice_keeps_the_first_copy_as_title() -> None:
    article = clean_article(raw(page(MASTHEADS[2][0])))
    copies = [d for d in article.decisions if d.text == HEADLINE]
    assert [(d.kept, d.role) for d in copies] == [(True, Role.TITLE), (False, None)]


def test_metadata_outlet_wins_over_the_page_top() -> None:
    article = clean_article(raw(page(MASTHEADS[0][0]), meta=Meta(outlet="Courier Group")))
    assert article.outlet == "Courier Group"
    assert article.title == HEADLINE


@pytest.mark.parametrize(
    "top",
    [
        [HEADLINE],  # the page starts with its headline: no site name
        ["Dark Mode Light Mode", HEADLINE],  # interface words are not a name
        ["World News", "Home > World", HEADLINE],  # a section label
        ["Politics", "Home > Politics", HEADLINE],  # one plain word: more often a section
        ["Fenwick Robot", HEADLINE],  # a story label right above the headline, sharing its words
        ["fenwick courier", "Home > Local", HEADLINE],  # not capitalised like a name
        ["Courier, Fenwick", "Home > Local", HEADLINE],  # punctuation a name does not carry
    ],
)
def test_no_outlet_from_lines_that_are_not_a_site_name(top: list[str]) -> None:
    article = clean_article(raw(page(top)))
    assert article.outlet == ""  # no outlet rather than a wrong one (never the file name)
    assert article.title == HEADLINE
    assert [p.text for p in article.body] == BODY


def test_short_title_case_headline_at_the_top_stays_the_title() -> None:
    # a short headline in title case followed by a byline is the title, not a site name
    article = clean_article(raw(page(["Fenwick Robot Waters Garden", "By Ana Ruiz"])))
    assert article.title == "Fenwick Robot Waters Garden"
    assert article.outlet == ""


# --- the fallback title: the body's first whole sentence --------------------------------------------

@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("The U.S. Senate voted on Tuesday. Other news followed.", "The U.S. Senate voted on Tuesday"),
        ("Dr. Ana Ruiz said the lake rose 3.5 metres. Then it fell.", "Dr. Ana Ruiz said the lake rose 3.5 metres"),
        ("John F. Kennedy Airport shut at noon. Flights resumed.", "John F. Kennedy Airport shut at noon"),
        ("Sales rose after the U.S. lifted the ban on imports. Prices fell.",
         "Sales rose after the U.S. lifted the ban on imports"),
        ("Is the bridge safe? Engineers say yes.", "Is the bridge safe?"),
        ("Residents were told to boil water, Mr. Lee said.", "Residents were told to boil water, Mr. Lee said"),
        ("A line without any final punctuation", "A line without any final punctuation"),
    ],
)
def test_first_sentence_ends_at_a_real_sentence_end(text: str, sentence: str) -> None:
    assert first_sentence(text) == sentence


def test_long_first_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    text = " ".join(BODY)
    title = first_sentence(text, limit=100)
    assert title.endswith("…")
    assert len(title) <= 101
    stem = title[:-1]
    assert text.startswith(stem) and text[len(stem)] == " "  # cut between words


def test_page_without_a_title_line_takes_its_first_sentence() -> None:
    body = ["The U.S. Forest Service closed the Fenwick trail on Monday after a rock fall. " + BODY[0], *BODY[1:]]
    article = clean_article(raw("\n\n".join(body)))
    assert article.title == "The U.S. Forest Service closed the Fenwick trail on Monday after a rock fall"
    assert [p.text for p in article.body] == body


def test_seed_without_title_line_gets_a_whole_first_sentence(seeds: Path) -> None:
    labels = json.loads((seeds / "labels.json").read_text("utf-8"))["files"]
    untitled = [name for name, lines in labels.items() if "title" not in json.dumps(lines)]
    assert untitled  # the corpus has a seed that starts straight with its body
    for name in untitled:
        article = clean_article(load_file(seeds / name))
        first = article.body[0].text
        assert first.startswith(article.title.rstrip("…"))
        rest = first[len(article.title):]
        # the title stops at the sentence's own full stop, not inside it
        assert rest[:1] in (".", "") or article.title.endswith("…")
        assert not article.title.endswith(("U.S", "U.S.", "Dr", "Dr."))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Ab. U.S!?…”’) \n3,")), max_size=300))
def test_first_sentence_is_a_trimmed_prefix_of_the_text(text: str) -> None:
    title = first_sentence(text)
    flat = " ".join(text.split())
    stem = title[:-1] if title.endswith("…") and not flat.startswith(title) else title
    assert flat.startswith(stem)
    assert len(title) <= 111


def test_headline_far_above_the_body_is_found_from_the_page_title_line() -> None:
    # copied pages start with the browser's <title> line ("Headline | Site"); the headline proper may stand
    # far above the article, beyond long menus
    menu = [f"Section {name}" for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf")] * 9
    menu = [f"{line} {n}x" for n, line in enumerate(menu)]  # distinct lines, as a real menu's
    top = [f"{HEADLINE} | Fenwick Courier", *menu[:10], HEADLINE, "By Ana Ruiz", *menu[10:]]
    article = clean_article(raw(page(top)))
    assert article.title == HEADLINE
    assert [p.text for p in article.body] == BODY
    title_line = next(d for d in article.decisions if d.role is Role.TITLE)
    assert title_line.index == 12  # the headline's own line, not the <title> line
    assert article.outlet == "Fenwick Courier"  # the name after the headline on the <title> line
    assert reason_of(article, top[0]).startswith("drop: page title line (headline - site name)")


def test_page_title_line_alone_gives_headline_and_outlet() -> None:
    menu = [f"Section {n} {name}" for n, name in enumerate(["Alpha", "Bravo", "Charlie", "Delta"] * 12)]
    article = clean_article(raw(page([f"{HEADLINE} | Schools | FenwickNews", *menu])))
    assert article.title == HEADLINE
    assert article.outlet == "FenwickNews"
    assert article.decisions[0].role is Role.TITLE and article.decisions[0].text == HEADLINE
    assert [p.text for p in article.body] == BODY


@pytest.mark.parametrize(
    ("line", "headline", "site"),
    [
        ("Storm closes the coast road for a week - BBC News", "Storm closes the coast road for a week", "BBC News"),
        ("Storm closes the coast road | Weather | The Courier", "Storm closes the coast road", "The Courier"),
        ("Storm closes the coast road -- CNN", "Storm closes the coast road", "CNN"),
        ("Storm closes the coast road - fenwick.com", "Storm closes the coast road", "fenwick.com"),
        ("Storm closes the coast road | ZDNet", "Storm closes the coast road", "ZDNet"),
        # a dash inside a headline, not before a name
        ("Brexit deal agreed - What Happens Next", "Brexit deal agreed - What Happens Next", None),
        ("Storm closes the coast road - and the ferry too", "Storm closes the coast road - and the ferry too", None),
        ("Storm hits - CNN", "Storm hits - CNN", None),  # too little headline left
        ("Storm closes the coast road - Breaking News", "Storm closes the coast road - Breaking News", None),
    ],
)
def test_page_title_splits_into_headline_and_site(line: str, headline: str, site: str | None) -> None:
    assert split_site_suffix(line) == (headline, site)


# --- HTML: the site's name after the headline in <title> ---------------------------------------------

HTML = """<!DOCTYPE html><html><head><title>{title}</title>{meta}</head><body>
<nav><a href="/">Home</a> <a href="/schools">Schools</a></nav>
<article><h1>{h1}</h1><p>{b0}</p><p>{b1}</p><p>{b2}</p></article></body></html>"""


def html_raw(title: str, h1: str, site: str | None) -> RawArticle:
    meta = f'<meta property="og:title" content="{title}">'  # ingest reads the title from here
    meta += f'<meta property="og:site_name" content="{site}">' if site else ""
    markup = HTML.format(title=title, meta=meta, h1=h1, b0=BODY[0], b1=BODY[1], b2=BODY[2])
    return parse(markup.encode("utf-8"), Path("fenwick-robot.html"), "html")


def test_html_title_loses_the_site_name_that_is_the_outlet() -> None:
    article = clean_article(html_raw(f"{HEADLINE} | Fenwick Courier", HEADLINE, "Fenwick Courier"))
    assert article.title == HEADLINE
    assert article.outlet == "Fenwick Courier"
    assert HEADLINE not in [p.text for p in article.body]  # the <h1> repeats the title


def test_html_headline_is_the_printed_one_without_a_section_label() -> None:
    article = clean_article(html_raw(f"{HEADLINE} | Editorial", HEADLINE, "Fenwick Courier"))
    assert article.title == HEADLINE  # as the <h1> prints it: "Editorial" labels the section
    assert article.outlet == "Fenwick Courier"


def test_article_under_its_headline_beats_a_longer_blurb_far_below() -> None:
    # some pages print the story in a few paragraphs under the headline and a longer site blurb much lower
    menu = [f"Section {n} {name}" for n, name in enumerate(["Alpha", "Bravo", "Charlie", "Delta"] * 12)]
    blurb = [
        "The Fenwick Courier has served the valley since 1887 and is read by more than forty thousand people "
        "every week, in print and online, from the hills above the town to the farms along the river.",
        "Our reporters cover councils, courts, schools and sport across the district, and our photographers "
        "have documented the life of the valley through floods, fairs, strikes and celebrations for decades.",
        "Readers can reach the newsroom at any hour with tips, corrections and letters, and every message is "
        "read by an editor who decides whether it should lead to a story, a correction or a published letter.",
    ]
    top = [f"{HEADLINE} | Fenwick Courier", "Home", "Schools", "Sport", HEADLINE, "By Ana Ruiz", BODY[0], BODY[1]]
    text = "\n".join([*top, *menu, *blurb])
    article = clean_article(raw(text))
    assert article.title == HEADLINE
    assert [p.text for p in article.body] == BODY[:2]
