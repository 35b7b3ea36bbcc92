"""Headlines and outlet names read from a page (digest.meta): sample pages written for these tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trafilatura.utils import load_html

from digest.ingest import parse
from digest.meta.headline import html_candidates, segments, shipped_model, title_site, token_f1
from digest.meta.outlet import as_name, names_site, outlet_name, registered_domain
from digest.meta.page import html_head, text_head

HEADLINE = "Harbour ferry returns after a winter of repairs"
BODY = [
    "The harbour ferry carried its first passengers in four months on Monday, after engineers replaced "
    "both engines and the hull plating that a January storm had torn open along the starboard side.",
    "Regular crossings resume at once, the operator said, with the timetable of last summer and two "
    "extra evening sailings on Fridays while the bridge across the estuary stays closed for works.",
    "Commuters who had driven the long way round since January welcomed the news at the quay this morning.",
]


def html_page(title: str, head: str = "", masthead: str = "Coastal Herald", h1: str = HEADLINE) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in BODY)
    return (
        f"<html><head><title>{title}</title>{head}</head><body>"
        f'<div class="logo"><h1><a href="/">{masthead}</a></h1></div>'
        '<ul><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li></ul>'
        f'<div class="story"><h1 class="headline">{h1}</h1><p class="byline">By Ana Ruiz</p>{paragraphs}</div>'
        '<div class="related"><h3><a href="/other">Council approves the new library budget</a></h3></div>'
        "</body></html>"
    )


def head_of(markup: str, url: str | None = None) -> tuple[str | None, str | None]:
    tree = load_html(markup)
    assert tree is not None
    return html_head(tree, None, url)


def test_token_f1_matches_on_words_not_punctuation() -> None:
    assert token_f1("Kosovo's future: no agreement", "No agreement on Kosovo?s future") > 0.7
    assert token_f1("Sport", HEADLINE) == 0.0


def test_title_segments_and_the_site_suffix() -> None:
    assert segments(f"{HEADLINE} - Coastal Herald") == [HEADLINE, "Coastal Herald"]
    assert title_site(f"{HEADLINE} | News | Coastal Herald", HEADLINE) == "Coastal Herald"
    assert title_site(f"Coastal Herald | {HEADLINE}", HEADLINE) == "Coastal Herald"
    assert title_site(f"Ferry: {HEADLINE}", HEADLINE) is None  # a kicker, not a name
    assert title_site(HEADLINE, HEADLINE) is None
    assert title_site(f"{HEADLINE} - Opinion", HEADLINE) is None  # a section, not a name


def test_html_headline_is_the_article_h1_not_the_masthead() -> None:
    headline, outlet = head_of(html_page(f"{HEADLINE} - Coastal Herald"))
    assert headline == HEADLINE
    assert outlet == "Coastal Herald"  # the title's suffix: no domain to contradict it


def test_html_headline_prefers_the_printed_og_title() -> None:
    head = f'<meta property="og:title" content="{HEADLINE}"><meta property="og:site_name" content="The Coastal Herald">'
    headline, outlet = head_of(html_page("Coastal Herald | Home of local news", head), "https://www.coastalherald.co.uk/a/1")
    assert headline == HEADLINE
    assert outlet == "The Coastal Herald"


def test_html_outlet_never_a_theme_credit_or_the_title() -> None:
    head = '<meta name="copyright" content="Based on Bay theme by Theme Makers">'
    head += f'<meta property="og:site_name" content="{HEADLINE}">'  # a site that puts its title here
    _, outlet = head_of(html_page(HEADLINE, head), "https://www.harbourpost.com/ferry")
    assert outlet == "harbourpost.com"  # the domain, as written, not "Harbourpost"


def test_html_outlet_from_json_ld_publisher() -> None:
    head = '<script type="application/ld+json">{"@type": "NewsArticle", "publisher": {"name": "Harbour Post"}}</script>'
    _, outlet = head_of(html_page(HEADLINE, head), "https://harbourpost.com/ferry")
    assert outlet == "Harbour Post"


def test_html_outlet_title_suffix_must_name_the_domain() -> None:
    _, outlet = head_of(html_page(f"{HEADLINE} - Weekend Reads"), "https://www.nj.com/ferry")
    assert outlet == "nj.com"
    _, outlet = head_of(html_page(f"{HEADLINE} - NJ.com"), "https://www.nj.com/ferry")
    assert outlet == "NJ.com"


def test_lowercase_tag_that_spells_the_domain_becomes_the_domain() -> None:
    assert outlet_name("nj", None, "https://www.nj.com/x") == "nj.com"
    assert outlet_name(None, None, None) is None


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://www.nj.com/news/a.html", "nj.com"),
        ("http://news.bbc.co.uk/2/hi/a.stm", "bbc.co.uk"),
        ("https://profootballtalk.nbcsports.com/x", "nbcsports.com"),
        ("file:///home/me/page.html", None),
        ("http://127.0.0.1/page", None),
        (None, None),
    ],
)
def test_registered_domain(url: str | None, domain: str | None) -> None:
    assert registered_domain(url) == domain


def test_names_site_reads_initials_and_whole_words() -> None:
    assert names_site("Los Angeles Times", "latimes.com")
    assert names_site("The Wall Street Journal", "wsj.com")
    assert names_site("CNBC", "cnbc.com")
    assert not names_site("Weekend Reads", "nj.com")


def test_as_name_refuses_urls_notices_and_sentences() -> None:
    assert as_name("@harbourpost") == "harbourpost"
    assert as_name("https://www.facebook.com/harbourpost") is None
    assert as_name("© 2026 Harbour Post Ltd") is None
    assert as_name("The ferry is back in service after a long winter of repairs.") is None


def text_page(top: list[str]) -> str:
    menu = ["Home", "News", "Sport", "Weather", "Contact us"]
    return "\n".join([*top, *menu, "", HEADLINE, "By Ana Ruiz", "", *BODY, "", "Related stories", "Council approves budget"])


def test_text_headline_is_the_line_the_title_repeats() -> None:
    headline, outlet = text_head(text_page([f"{HEADLINE} - Coastal Herald"]))
    assert headline is not None and token_f1(headline, HEADLINE) == 1.0
    assert outlet == "Coastal Herald"


def test_text_without_a_title_line_names_no_outlet() -> None:
    headline, outlet = text_head(text_page([]), rule_title=HEADLINE)
    assert headline == HEADLINE  # no <title> line to confirm the model: the layout rules' pick stands
    assert outlet is None  # nothing names the site: no guess


def test_text_header_wins() -> None:
    headline, outlet = text_head(text_page([]), "Ferry back", "Harbour Post", "https://harbourpost.com/f")
    assert (headline, outlet) == ("Ferry back", "Harbour Post")


def test_ingest_reads_headline_and_outlet_from_html() -> None:
    markup = html_page(f"{HEADLINE} | Harbour Post", '<link rel="canonical" href="https://www.harbourpost.com/ferry">')
    raw = parse(markup.encode(), Path("saved-page.html"), "html")
    assert raw.meta.title == HEADLINE
    assert raw.meta.outlet == "Harbour Post"


def test_html_features_read_the_stem_the_description_and_the_site_name() -> None:
    glued = f"{HEADLINE} Monday, 3 March 2025"
    head = '<meta name="description" content="The ferry across the harbour is back after engine repairs.">'
    markup = html_page(f"{HEADLINE} | Coastal Herald", head, h1=glued).replace(
        '<p class="byline">', f'<p class="kicker">{HEADLINE}<span>Monday</span></p><p class="byline">'
    )
    tree = load_html(markup)
    assert tree is not None
    found = {c.text: c.features for c in html_candidates(tree)}
    assert found[HEADLINE].get("stem") == 1.0 and found[glued].get("stemmed") == 1.0
    assert "stem" not in found[glued] and "stemmed" not in found[HEADLINE]
    assert found[HEADLINE]["described"] > found["Council approves the new library budget"]["described"]
    assert found["Coastal Herald"]["names_site"] == 1.0 and found[HEADLINE]["names_site"] == 0.0


def test_shipped_model_has_both_scorers_with_matching_lengths() -> None:
    model = shipped_model()
    for scorer in (model.html, model.text):
        assert len(scorer.names) == len(scorer.coef) == len(scorer.mean) == len(scorer.scale) > 10


def test_every_page_of_one_site_shows_one_outlet() -> None:
    from dataclasses import replace

    from digest.clean import one_name_per_site
    from digest.models import Article

    base = Article("a", Path("a.html"), "f", "html", HEADLINE, "Harbour Post", (), url="https://www.harbourpost.com/1")
    pages = [
        base,
        replace(base, id="b", outlet="harbourpost.com", url="https://harbourpost.com/2"),
        replace(base, id="c", outlet="Harbour Post", url="https://news.harbourpost.com/3"),
        replace(base, id="d", outlet="Bay Times", url="https://baytimes.com/4"),
    ]
    shown = [a.outlet for a in one_name_per_site(pages)]
    assert shown == ["Harbour Post", "Harbour Post", "Harbour Post", "Bay Times"]


def test_sites_sharing_a_registered_domain_keep_their_own_names() -> None:
    """Two blogs on one hosting service, two papers on one shared domain: different sites, different outlets."""
    from dataclasses import replace

    from digest.clean import one_name_per_site
    from digest.models import Article

    base = Article("a", Path("a.html"), "f", "html", HEADLINE, "Quill and Ink", (), url="https://quillandink.blogs.example/1")
    pages = [
        base,
        replace(base, id="b", outlet="Tide Tables", url="https://tidetables.blogs.example/2"),
        replace(base, id="c", outlet="Tide Tables", url="https://tidetables.blogs.example/3"),
    ]
    assert [a.outlet for a in one_name_per_site(pages)] == ["Quill and Ink", "Tide Tables", "Tide Tables"]


def _site_page(title: str, body: str, url: str, site_name: str | None) -> str:
    site = f'<meta property="og:site_name" content="{site_name}">' if site_name else ""
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n"))
    return (
        f'<html><head><title>{title}</title><meta property="og:url" content="{url}">{site}</head>'
        f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    )


def test_a_run_shows_every_page_of_one_site_under_one_outlet(tmp_path: Path) -> None:
    """One page declares the site's name, the other only its URL: the digest names both alike."""
    from digest import pipeline
    from digest.settings import load_settings

    inbox, outbox, state = tmp_path / "inbox", tmp_path / "outbox", tmp_path / "state"
    inbox.mkdir()
    first = (
        "The harbour board of Wexmoor voted on Tuesday to close the old ferry pier for repairs this winter.\n"
        "Engineers found corroded piles under the eastern berth during an inspection in October.\n"
        "The board said the work would cost about four million and take until April."
    )
    second = (
        "A new bakery opened on Quill Street in Wexmoor on Saturday, drawing a queue around the block.\n"
        "The owners said they had saved for six years to open their own shop in the town.\n"
        "They plan to bake rye bread from a recipe handed down by a grandmother from Riga."
    )
    (inbox / "pier.html").write_text(
        _site_page("Wexmoor to close ferry pier for winter repairs", first, "https://www.wexmoor-tidings.example/pier", "Wexmoor Tidings"),
        encoding="utf-8",
    )
    (inbox / "bakery.html").write_text(
        _site_page("Queue around the block as Quill Street bakery opens", second, "https://wexmoor-tidings.example/bakery", None),
        encoding="utf-8",
    )
    settings = load_settings(None, inbox=inbox, outbox=outbox, state=state)
    result = pipeline.run(settings.model_copy(update={"settle_seconds": 0}), report=lambda line: None)
    assert result.path is not None
    record = json.loads(result.path.with_suffix(".json").read_text(encoding="utf-8"))
    outlets = {src["outlet"] for story in record["stories"] for src in story["sources"]}
    assert outlets == {"Wexmoor Tidings"}
