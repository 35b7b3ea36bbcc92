"""Clean stage: each kind of boilerplate goes, title/headings/body stay with their roles."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from digest.clean import LearnedBoilerplate, clean_all, clean_article, learn_boilerplate
from digest.clean.explain import compare_labels, decisions_json, format_article, format_decisions
from digest.errors import InputError
from digest.ingest import load_file, parse
from digest.models import Article, Meta, RawArticle, Role

TITLE = "River Town Opens Its Rebuilt Library After Two Years"
BODY = [
    "The public library in the river town of Alder Creek reopened on Saturday after a two-year rebuild "
    "that was paid for by a local bond and a series of bake sales.",
    "Hundreds of residents queued in the rain before the doors opened, and the head librarian said the "
    "first thousand books were checked out within the hour.",
    "The new building has a flood-proof basement, a reading room for teenagers and a workshop where "
    "volunteers will teach repairs to anyone who brings a broken lamp or bicycle.",
    "Officials said that the old building, which was damaged by the floods of the spring, will be turned "
    "into a small museum about the history of the valley and its mills.",
]
HEADING = "What the new building offers"


def raw(text: str, name: str = "page.txt", kind: str = "text", meta: Meta | None = None) -> RawArticle:
    """Build a RawArticle by hand, as ingest would."""
    return RawArticle(
        id=name[:12], path=Path(name), fingerprint=name, kind=kind, text=text, meta=meta or Meta(),  # type: ignore[arg-type]
        size=len(text), body_is_html=False,
    )


def page(before: list[str], after: list[str], middle: list[str] | None = None) -> str:
    """A page: chrome lines, the title, two paragraphs, optional chrome, a heading, two paragraphs, chrome."""
    chrome = [x for line in middle or [] for x in (line, "")]
    lines = [*before, TITLE, "", BODY[0], "", BODY[1], "", *chrome, HEADING, "", BODY[2], "", BODY[3], "", *after]
    return "\n".join(lines)


def kept(article: Article) -> list[str]:
    return [p.text for p in article.paragraphs]


def dropped_reasons(article: Article) -> dict[str, str]:
    return {d.text: d.reason for d in article.decisions if not d.kept}


def assert_article_intact(article: Article) -> None:
    assert article.paragraphs[0] == article.paragraphs[0].__class__(TITLE, Role.TITLE)
    assert article.title == TITLE
    body = [p for p in article.paragraphs if p.role is Role.BODY]
    assert [p.text for p in body] == BODY
    assert [p.text for p in article.paragraphs if p.role is Role.HEADING] == [HEADING]


@pytest.mark.parametrize(
    ("chrome", "where", "reason"),
    [
        (["Subscribe to our newsletter", "Sign up"], "after", "subscribe"),
        (["Related Articles", "Mayor cuts ribbon at new bridge", "Council debates parking rules"], "after", "tail"),
        (["Trending", "Five ways to cook river trout", "Weather turns cold this week"], "after", "tail"),
        (["More from Valley News", "Storm damages barn roofs", "Harvest festival draws crowds"], "after", "tail"),
        (["Share", "Facebook", "Twitter", "Email"], "before", "share"),
        (["We use cookies to improve your experience. By continuing you agree to our cookie policy.", "Accept"],
         "before", "cookie"),
        (["Home", "News", "Local", "Sports", "Weather", "Opinion"], "before", "navigation run"),
        (["Advertisement"], "middle", "advertisement"),
        (["Dark Mode Light Mode"], "before", "display toggle"),
        (["The Breakdown 32", "On The Left 6"], "middle", "count"),
        (["Story Stats", "Last Updated", "12/16/2025", "Virality", "1.1", "Articles", "43"], "before", ""),
        (["Alder Creek / library / bond vote / floods /"], "after", "keyword list"),
        (["Tags: library, floods, Alder Creek, bonds"], "after", "keyword list"),
        (["Volunteers carry boxes of books into the new reading room (Jane SMITH/Valley Press)"], "middle", "caption"),
        (["Photo: Valley Press archive"], "middle", "caption"),
        (["© 2025 Valley News. All rights reserved.", "Privacy Policy", "Terms of Use"], "after", ""),
    ],
)
def test_boilerplate_goes_and_article_stays(chrome: list[str], where: str, reason: str) -> None:
    before = chrome if where == "before" else ["Valley News"]
    after = chrome if where == "after" else []
    middle = chrome if where == "middle" else None
    article = clean_article(raw(page(before, after, middle)))
    assert_article_intact(article)
    reasons = dropped_reasons(article)
    for line in chrome:
        assert line in reasons, f"{line!r} was kept"
        assert reasons[line].startswith("drop: ")
    if reason:
        assert any(reason in reasons[line].lower() for line in chrome), reasons


def test_repeated_title_is_dropped_once_kept_once() -> None:
    article = clean_article(raw(page(["Valley News", "Local"], [], None).replace(TITLE, f"{TITLE}\n{TITLE}", 1)))
    assert_article_intact(article)
    title_decisions = [d for d in article.decisions if d.text == TITLE]
    assert [d.kept for d in title_decisions] == [True, False]
    assert title_decisions[1].reason.startswith("drop: repeated title")


def test_meta_title_wins_and_its_line_is_the_title() -> None:
    article = clean_article(raw(page(["Valley News"], []), meta=Meta(title=TITLE, outlet="Valley News")))
    assert article.title == TITLE
    assert article.outlet == "Valley News"
    assert_article_intact(article)


def test_bullets_of_the_body_stay() -> None:
    bullets = [f"  • {sentence}" for sentence in BODY[2:]]
    text = "\n".join([TITLE, "", BODY[0], "", BODY[1], "", *bullets, "", "Related Articles", "Weather turns cold"])
    article = clean_article(raw(text))
    body = [p.text for p in article.body]
    assert body == BODY
    assert "Weather turns cold" in dropped_reasons(article)


def test_learned_line_recurring_across_unrelated_files_is_dropped() -> None:
    stories = [
        ["A dairy farmer won the county prize for the third year running, judges said on Sunday after a long day.",
         "She credited her herd of forty cows and a new milking barn that her sons built over the summer."],
        ["The bridge over the canal will close for repairs next month while engineers replace the old beams.",
         "Drivers were told to use the ring road, which the council said would add ten minutes to most trips."],
        ["A school choir from the valley sang at the national final and came home with a silver medal.",
         "Parents raised the money for the trip with a sponsored walk and a raffle of donated quilts."],
    ]
    chrome = "Get the Valley Daily delivered to you every morning for free when you join our list today."
    raws = [raw("\n\n".join([*story, chrome]), name=f"p{n}.txt") for n, story in enumerate(stories)]
    learned = learn_boilerplate(raws)
    assert isinstance(learned, LearnedBoilerplate)
    article = clean_article(raws[0], learned)
    assert [p.text for p in article.body] == stories[0]
    assert "learned" in dropped_reasons(article)[chrome]
    # without learning the same line reads as a sentence of the article
    assert chrome in [p.text for p in clean_article(raws[0]).body]


def test_copies_of_one_article_are_not_learned_as_chrome() -> None:
    copies = [raw("\n\n".join([TITLE, *BODY, f"Filed by desk {n}"]), name=f"c{n}.txt") for n in range(4)]
    learned = learn_boilerplate(copies)
    article = clean_article(copies[0], learned)
    assert [p.text for p in article.body] == BODY


def test_cleaned_text_is_made_of_the_input_lines() -> None:
    text = page(["Valley News", "Menu", "Search"], ["Related Articles", "Storm damages barn roofs"])
    article = clean_article(raw(text))
    input_lines = {line.strip() for line in text.split("\n")}
    assert all(p.text in input_lines for p in article.paragraphs)


def test_no_article_raises_input_error() -> None:
    menu = "\n".join(["Home", "News", "Sports", "Weather", "Subscribe", "Sign in", "Privacy Policy"])
    with pytest.raises(InputError) as info:
        clean_article(raw(menu, name="menu.txt"))
    assert info.value.path == Path("menu.txt")
    assert "no article text" in info.value.reason


def test_clean_all_collects_failures_and_keeps_going() -> None:
    good = raw(page(["Valley News"], []), name="good.txt")
    bad = raw("Home\nNews\nSports\nSign in", name="bad.txt")
    articles, errors = clean_all([good, bad])
    assert [a.path for a in articles] == [Path("good.txt")]
    assert [e.path for e in errors] == [Path("bad.txt")]


def test_explain_formats() -> None:
    article = clean_article(raw(page(["Valley News", "Subscribe"], ["Related Articles", "Weather turns cold"])))
    shown = format_article(article)
    assert shown.startswith(TITLE + "\n\n")
    assert f"## {HEADING}" in shown
    rows = format_decisions(article).splitlines()
    assert len(rows) == len(article.decisions) + 1
    assert any("drop: subscribe banner" in row for row in rows)
    data = decisions_json(article)
    assert json.loads(json.dumps(data)) == data
    assert data["counts"]["dropped"] == article.dropped > 0
    assert data["paragraphs"][0] == {"role": "title", "text": TITLE}


# --- HTML -----------------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html><html><head><title>{title} | Valley News</title>
<meta property="og:site_name" content="Valley News"></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul></nav>
<article><h1>{title}</h1>
<p>{b0}</p><p>{b1}</p><h2>{heading}</h2><p>{b2}</p><p>{b3}</p></article>
<aside><h3>Related Articles</h3><ul><li><a href="/a">Storm damages barn roofs across the valley</a></li>
<li><a href="/b">Harvest festival draws record crowds</a></li></ul></aside>
<footer><p>Copyright 2025 Valley News. All rights reserved.</p><a href="/privacy">Privacy Policy</a></footer>
</body></html>"""


def html_raw(markup: str, name: str = "page.html") -> RawArticle:
    return parse(markup.encode("utf-8"), Path(name), "html")


def test_html_keeps_body_and_heading_drops_nav_footer_related() -> None:
    markup = HTML_PAGE.format(title=TITLE, b0=BODY[0], b1=BODY[1], heading=HEADING, b2=BODY[2], b3=BODY[3])
    article = clean_article(html_raw(markup))
    assert article.title.startswith(TITLE)
    assert article.outlet == "Valley News"
    assert [p.text for p in article.body if p.role is Role.BODY] == BODY
    assert [p.text for p in article.body if p.role is Role.HEADING] == [HEADING]
    text = article.text
    for chrome in ("Home", "Storm damages barn roofs", "Privacy Policy", "All rights reserved"):
        assert chrome not in text


def test_html_without_article_raises_input_error() -> None:
    markup = "<html><body><nav><a href='/'>Home</a> <a href='/x'>News</a></nav><footer>Privacy</footer></body></html>"
    with pytest.raises(InputError):
        clean_article(html_raw(markup, "empty.html"))


def test_html_entity_declarations_are_not_expanded() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "aaaaaaaaaaaaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    )
    markup = bomb + HTML_PAGE.format(title=TITLE, b0=BODY[0] + " &c; &x;", b1=BODY[1], heading=HEADING, b2=BODY[2],
                                      b3=BODY[3])
    article = clean_article(html_raw(markup))
    assert "aaaaaaaaaa" not in article.text
    assert "root:" not in article.text
    assert BODY[1] in article.text


# --- real pages -----------------------------------------------------------------------------

def test_seed_lines_match_their_labels(seeds: Path) -> None:
    labels = json.loads((seeds / "labels.json").read_text("utf-8"))["files"]
    raws = [load_file(seeds / name) for name in sorted(labels)]
    learned = learn_boilerplate(raws)
    wrong: list[str] = []
    for r in raws:
        scored, mistakes = compare_labels(clean_article(r, learned), labels[r.path.name])
        assert scored > 0
        wrong += mistakes
    assert wrong == []


def _first_paragraph(corpus: Path, page_id: str) -> str:
    truth = json.loads((corpus / "extraction-benchmark" / "ground-truth.json").read_text("utf-8"))
    return " ".join(truth[page_id]["articleBody"].split("\n")[0].split())


def _some_pages(corpus: Path, n: int) -> list[str]:
    return sorted(p.name[: -len(".txt")] for p in (corpus / "extraction-benchmark" / "text").glob("*.txt"))[:n]


def test_real_text_pages_keep_their_first_paragraph(corpus: Path) -> None:
    bench = corpus / "extraction-benchmark"
    pages = _some_pages(corpus, 8)
    raws = [load_file(bench / "text" / f"{pid}.txt") for pid in pages]
    learned = learn_boilerplate(raws)
    found = 0
    for pid, r in zip(pages, raws):
        article = clean_article(r, learned)
        text = " ".join(article.text.split())
        first = _first_paragraph(corpus, pid)
        found += first[:80] in text
        # the page's own <title> line ("Headline - Site") is never body
        assert r.text.split("\n")[0].strip() not in [p.text for p in article.body]
    assert found >= 5  # measured 5 of 8: one page opens with a sponsor note, one is a results table


def test_real_html_pages_keep_their_first_paragraph(corpus: Path) -> None:
    bench = corpus / "extraction-benchmark"
    found = 0
    pages = _some_pages(corpus, 4)
    for pid in pages:
        data = gzip.decompress((bench / "html" / f"{pid}.html.gz").read_bytes())
        article = clean_article(parse(data, bench / "html" / f"{pid}.html", "html"))
        found += _first_paragraph(corpus, pid)[:80] in " ".join(article.text.split())
        assert article.outlet and article.title
        assert not re.search(r"(?i)\bcookie policy\b", article.text)
    assert found >= 3


def test_cheap_pre_check_never_hides_a_flag(corpus: Path) -> None:
    """`may_flag` lets short lines skip the line checks: on real pages it must never skip one that a check flags."""
    from digest.clean import signals as sig

    skipped = 0
    for path in sorted((corpus / "extraction-benchmark" / "text").glob("*.txt")):
        for line in path.read_text("utf-8").split("\n"):
            line = line.strip()
            tokens = sig.WORD.findall(line.lower())
            words = len(tokens)
            if not 1 <= words <= 12 or sig.may_flag(line, words, " ".join(tokens), tokens):
                continue
            skipped += 1
            assert not sig.count_widget(line, words), line
            assert sig.stats_reason(line, words) is None, line
            assert sig.list_reason(line, words) is None, line
            assert sig.ui_reason(line, words) is None, line
            assert not sig.byline(line, words), line
            assert not sig.COMMENT_HEADER.match(line), line
            assert sig.caption_reason(line, words) is None, line
    assert skipped > 1000  # the pre-check does spare most short lines


def test_each_decision_names_the_models_probability_and_its_weightiest_features() -> None:
    from digest.clean.features import TEXT_FEATURES

    article = clean_article(raw(page(["Valley News", "Subscribe to our newsletter"], ["Related Articles"])))
    judged = [d for d in article.decisions if d.role is not Role.TITLE]
    assert judged
    for d in judged:
        assert "[p=" in d.reason, d.reason
        named = d.reason.split("[p=", 1)[1]
        assert any(name in named for name in TEXT_FEATURES), d.reason
    listing = format_decisions(article)
    assert "drop: subscribe banner [p=" in listing
