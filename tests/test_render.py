"""Render: escaping, links, text wrapping, JSON shape, the MIME message, the size budget, atomic files."""

from __future__ import annotations

import email
import json
import os
from dataclasses import replace
from datetime import UTC, date, datetime
from email.message import Message
from email.policy import default
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest import render
from digest.errors import RenderError
from digest.models import ArticleRecord, Digest, Source, StorySummary, SummarySentence
from digest.settings import Settings

LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitänskajüte" * 3
LONG_URL = "https://example.org/news/" + "a-very-long-path-segment-" * 8 + "?q=" + "x" * 60
HOSTILE = [
    '<script>window.__pwned = "script";</script>',
    '<img src="x" onerror="window.__pwned = \'img\'">',
    '"><svg onload=alert(1)>',
    "<style>body{display:none}</style>",
]
BAD_URLS = ["javascript:window.__pwned='link'", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
            "java\nscript:alert(1)", "vbscript:msgbox(1)", "//evil.example/x", "ftp://example.org/f", ""]


def story(n: int, *, update: bool = False, hostile: bool = False, url: str | None = None, words: int = 12) -> StorySummary:
    """Build a small story with two sources; hostile stories carry markup, long words and bad links."""
    body = " ".join(f"word{i}" for i in range(words))
    sentences = [
        SummarySentence(f"Story {n} opens with {body}.", f"a{n}x", "Outlet One"),
        SummarySentence(f"Story {n} continues {LONG_WORD} and {LONG_URL}.", f"a{n}y", "Outlet & Two"),
    ]
    headline = f"Headline number {n}"
    sources = [
        Source(f"a{n}x", "Outlet One", f"Title {n} at one", f"inbox/{n}-one.txt", url or f"https://one.example/{n}"),
        Source(f"a{n}y", "Outlet & Two", f"Title {n} at two", f"inbox/{n}-two.html", None),
    ]
    if hostile:
        headline += " " + HOSTILE[0]
        sentences.append(SummarySentence("Hostile " + " ".join(HOSTILE), f"a{n}z", "<b>Outlet</b> Three"))
        sources += [
            Source(f"a{n}z{i}", "Bad Link", f"Bad {i} {HOSTILE[i % len(HOSTILE)]}", f"inbox/{n}-bad{i}.txt", bad)
            for i, bad in enumerate(BAD_URLS)
        ]
    return StorySummary(
        story_id=f"s{n}",
        headline=headline,
        sentences=tuple(sentences),
        sources=tuple(sources),
        article_ids=tuple(s.article_id for s in sources),
        is_update=update,
    )


def make_digest(stories: int = 3, *, hostile: bool = False, words: int = 12, day: int = 24) -> Digest:
    """Build a digest of `stories` stories plus duplicate and failed article records."""
    summaries = tuple(story(i + 1, update=(i == 1), hostile=hostile, words=words) for i in range(stories))
    records = [ArticleRecord(a, f"inbox/{a}.txt", "included", kept=10, dropped=2) for s in summaries for a in s.article_ids]
    records.append(ArticleRecord("dup1", "inbox/dup1.txt", "duplicate", "same as a1x", duplicate_of="a1x"))
    records.append(ArticleRecord("bad1", "inbox/bad1.bin", "failed", "not text <script>x</script>"))
    return Digest(datetime(2026, 11, day, 7, 0, tzinfo=UTC), "Daily briefing", summaries, tuple(records))


def settings(**kw: object) -> Settings:
    base: dict[str, object] = {"mail_from": "Digest <digest@news.example>", "mail_to": ["a@example.org", "b@example.net"]}
    base.update(kw)
    return Settings(**base)


class Tags(HTMLParser):
    """Collect every start tag with its attributes and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def parts(eml: bytes) -> tuple[Message, list[Message]]:
    msg = email.message_from_bytes(eml, policy=default)
    return msg, [p for p in msg.walk() if not p.is_multipart()]


def test_hostile_text_cannot_inject_markup_or_links() -> None:
    rendered = render.render(make_digest(2, hostile=True), settings())
    tags = parse(rendered.html)
    names = [t for t, _ in tags.tags]
    assert "script" not in names and "svg" not in names and "style" not in names and "img" not in names
    for tag, attrs in tags.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        if "href" in attrs:
            assert (attrs["href"] or "").split(":", 1)[0] in {"http", "https", "mailto"}, attrs
    # the hostile text is still shown, as text (outlet names are joined by non-breaking spaces)
    text = "".join(tags.text).replace("\u00a0", " ")
    assert HOSTILE[0] in text and HOSTILE[1] in text
    assert "<b>Outlet</b> Three" in text


@pytest.mark.parametrize("url", BAD_URLS)
def test_unsafe_urls_are_refused(url: str) -> None:
    assert render.safe_url(url) is None


@pytest.mark.parametrize("url", ["https://example.org/a?b=1&c=2", "http://example.org", "mailto:desk@example.org", LONG_URL])
def test_safe_urls_are_kept(url: str) -> None:
    assert render.safe_url(url) == url


def test_html_is_inlined_single_column_and_shows_every_story() -> None:
    digest = make_digest(3)
    rendered = render.render(digest, settings())
    tags = parse(rendered.html)
    names = [t for t, _ in tags.tags]
    assert "style" not in names and "link" not in names
    page = [a for t, a in tags.tags if t == "table" and "page" in (a.get("class") or "")]
    assert page and "max-width: 600px" in (page[0].get("style") or "")
    body_style = next(a.get("style") or "" for t, a in tags.tags if t == "body")
    assert "overflow-wrap: anywhere" in body_style
    text = " ".join("".join(tags.text).split())
    for s in digest.stories:
        assert s.headline in text
        for src in s.sources:
            assert src.title in text
    assert text.count("Update") == 1  # story 2 only
    hrefs = [a.get("href") for t, a in tags.tags if t == "a"]
    assert "https://one.example/1" in hrefs and "https://one.example/3" in hrefs
    assert "Outlet & Two" in text and "2 sources" in text
    assert ">Outlet&nbsp;&amp;&nbsp;Two<" in rendered.html  # never wraps inside the name
    bullets = [a for t, a in tags.tags if t == "li" and "bullet" in (a.get("class") or "")]
    assert len(bullets) == sum(len(s.sentences) for s in digest.stories)  # one bullet per fact
    tags_style = [a.get("style") or "" for t, a in tags.tags if t == "span" and a.get("class") == "tag"]
    assert tags_style and all("white-space: nowrap" in st for st in tags_style)
    assert "24 Nov 2026" in text and "3 stories from 6 articles" in text and "1 duplicate dropped" in text


def test_text_is_wrapped_unescaped_and_complete() -> None:
    digest = make_digest(2, hostile=True, words=60)
    rendered = render.render(digest, settings())
    for line in rendered.text.splitlines():
        # only a single unbreakable token (a URL, a very long word) may run past 78 columns
        assert len(line) <= 78 or len(line.split()) <= 2, line
    assert HOSTILE[0] in rendered.text  # plain text: no entities
    assert "&amp;" not in rendered.text and "&lt;" not in rendered.text
    assert "(Outlet\u00a0One)" in rendered.text and "(Outlet\u00a0&\u00a0Two)" in rendered.text
    assert "   - Story 1 opens with" in rendered.text  # a bullet per summary sentence
    assert "https://one.example/1" in rendered.text
    assert "[Update]" in rendered.text
    assert "javascript:" not in rendered.text and "data:text" not in rendered.text  # only safe URLs are listed
    assert "Headline number 1" in rendered.text and "Headline number 2" in rendered.text


def test_json_has_documented_shape() -> None:
    digest = make_digest(2)
    data = json.loads(render.render(digest, settings()).json)
    assert data["date"] == "2026-11-24"
    assert data["stories"] == data["stories"][:2] and len(data["stories"]) == 2
    first = data["stories"][0]
    assert set(first) >= {"id", "headline", "is_update", "summary", "sentences", "sources", "articles"}
    assert first["summary"] == [s.text for s in digest.stories[0].sentences]
    assert first["sentences"][1] == {
        "text": digest.stories[0].sentences[1].text, "article": "a1y", "outlet": "Outlet & Two", "outlets": ["Outlet & Two"]
    }
    assert first["outlets"] == 2 and first["latest"] is None
    assert first["sources"][0] | {"article": None} == {
        "outlet": "Outlet One", "title": "Title 1 at one", "path": "inbox/1-one.txt",
        "url": "https://one.example/1", "article": None,
    }
    assert first["articles"] == ["a1x", "a1y"]
    assert data["stories"][1]["is_update"] is True
    statuses = {a["id"]: a for a in data["articles"]}
    assert statuses["dup1"]["status"] == "duplicate" and statuses["dup1"]["duplicate_of"] == "a1x"
    assert statuses["bad1"]["status"] == "failed" and statuses["bad1"]["reason"].startswith("not text")
    assert statuses["a1x"]["kept"] == 10 and statuses["a1x"]["dropped"] == 2
    assert data["counts"] == {"stories": 2, "articles": 4, "duplicates": 1, "failed": 1, "total": 6}


def test_eml_parts_and_headers() -> None:
    digest = make_digest(3)
    rendered = render.render(digest, settings(reply_to="desk@news.example", unsubscribe="https://news.example/u?id=1"))
    msg, leaves = parts(rendered.eml)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in leaves] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in leaves)
    assert leaves[0].get_content().replace("\r\n", "\n") == rendered.text
    assert leaves[1].get_content().replace("\r\n", "\n") == rendered.html
    assert msg["Subject"] == rendered.subject == "Daily briefing, 24 Nov: Headline number 1, and 2 more"
    assert msg["From"] == "Digest <digest@news.example>"
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@example.org", "b@example.net"]
    assert msg["Reply-To"] == "desk@news.example"
    assert msg["Message-ID"] == rendered.message_id and rendered.message_id.endswith("@news.example>")
    assert msg["Date"].datetime == digest.date
    assert msg["List-Unsubscribe"] == "<https://news.example/u?id=1>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert b"\r\n" in rendered.eml and not rendered.trimmed


def test_eml_optional_headers_and_singular_subject() -> None:
    rendered = render.render(make_digest(1), settings(title="Evening news", unsubscribe="mailto:off@news.example"))
    msg, _ = parts(rendered.eml)
    assert msg["Subject"] == "Evening news, 24 Nov: Headline number 1"
    assert msg["Reply-To"] is None
    assert msg["List-Unsubscribe"] == "<mailto:off@news.example>"
    assert msg["List-Unsubscribe-Post"] is None
    plain, _ = parts(render.render(make_digest(1), settings()).eml)
    assert plain["List-Unsubscribe"] is None


def test_message_id_is_deterministic_and_follows_content() -> None:
    a = render.render(make_digest(2), settings())
    b = render.render(make_digest(2), settings())
    c = render.render(make_digest(3), settings())
    d = render.render(make_digest(2, day=25), settings())
    assert a.message_id == b.message_id and a.eml == b.eml
    assert len({a.message_id, c.message_id, d.message_id}) == 3


def test_long_digest_is_trimmed_to_the_budget_keeping_headlines() -> None:
    digest = make_digest(40, words=300)
    budget = 30_000
    full = render.render(digest, settings(max_email_bytes=10_000_000))
    assert len(full.eml) > budget and not full.trimmed  # the premise: this digest is too big for the budget
    rendered = render.render(digest, settings(max_email_bytes=budget))
    assert rendered.trimmed and len(rendered.eml) <= budget
    assert rendered.html == full.html and rendered.text == full.text  # the files stay complete
    _, (plain, html) = parts(rendered.eml)
    tags = parse(html.get_content())
    text = " ".join("".join(tags.text).split())
    shown = [s for s in digest.stories if s.sentences[0].text[:200] in text]  # long sentences are cut for display
    assert 0 < len(shown) < len(digest.stories)
    assert f"{len(digest.stories) - len(shown)} more stories in the full digest" in text
    for s in digest.stories:  # every headline still listed
        assert s.headline in text and s.headline in plain.get_content()


def test_very_long_digest_keeps_as_many_headlines_as_fit() -> None:
    digest = make_digest(300, words=10)
    rendered = render.render(digest, settings(max_email_bytes=12_000))
    assert rendered.trimmed and len(rendered.eml) <= 12_000
    _, (plain, _) = parts(rendered.eml)
    text = plain.get_content()
    listed = [s for s in digest.stories if f"- {s.headline}\r\n" in text or f"- [Update] {s.headline}\r\n" in text]
    assert 0 < len(listed) < 300
    assert "300 more stories in the full digest" in " ".join(text.split())


def test_empty_digest_renders() -> None:
    digest = Digest(datetime(2026, 11, 24, 7, tzinfo=UTC), "Daily briefing", (), ())
    rendered = render.render(digest, settings())
    assert rendered.subject == "Daily briefing, 24 Nov: no new stories"
    assert "No new stories today." in rendered.text and "No new stories today." in rendered.html
    assert json.loads(rendered.json)["stories"] == []


def test_unicode_survives_every_format() -> None:
    digest = make_digest(1)
    first = digest.stories[0]
    first = StorySummary(first.story_id, "Zürich: ÉDF 🚄 résumé", first.sentences, first.sources, first.article_ids)
    digest = Digest(digest.date, digest.title, (first,), digest.articles)
    rendered = render.render(digest, settings(title="Revue de presse – matin"))
    msg, (plain, html) = parts(rendered.eml)
    assert msg["Subject"] == "Revue de presse – matin, 24 Nov: " + digest.stories[0].headline
    assert "Zürich: ÉDF 🚄 résumé" in plain.get_content() and "Zürich: ÉDF 🚄 résumé" in html.get_content()
    assert json.loads(rendered.json)["stories"][0]["headline"] == "Zürich: ÉDF 🚄 résumé"
    assert rendered.eml.isascii()  # 7-bit safe on the wire


def test_header_injection_is_refused() -> None:
    # settings refuse these when they load; render still refuses them should they come another way (unvalidated)
    with pytest.raises(RenderError, match="header"):
        render.render(make_digest(1), settings().model_copy(update={"reply_to": "x@example.org\r\nBcc: victim@example.org"}))
    rendered = render.render(make_digest(1), settings().model_copy(update={"title": "News\r\nBcc: victim@example.org"}))
    assert b"\r\nBcc:" not in rendered.eml


def test_budget_too_small_for_anything_raises() -> None:
    with pytest.raises(RenderError, match="max_email_bytes"):
        render.render(make_digest(5), settings(max_email_bytes=1500))


def test_missing_templates_raise_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="does not exist"):
        render.render(make_digest(1), settings(), templates=tmp_path / "nowhere")
    (tmp_path / "digest.css").write_text("body { color: red; }")
    with pytest.raises(RenderError, match=r"digest\.html"):
        render.render(make_digest(1), settings(), templates=tmp_path)


def test_broken_template_raises_render_error(tmp_path: Path) -> None:
    for name in ("digest.html", "digest.txt", "digest.css"):
        (tmp_path / name).write_text((render.TEMPLATES / name).read_text())
    (tmp_path / "digest.txt").write_text("{{ no_such_variable }}")
    with pytest.raises(RenderError, match="no_such_variable"):
        render.render(make_digest(1), settings(), templates=tmp_path)


def test_write_digest_files_and_numbering(tmp_path: Path) -> None:
    first = render.render(make_digest(2), settings())
    second = render.render(make_digest(3), settings())
    day = date(2026, 11, 24)
    path1 = render.write_digest(first, tmp_path, day)
    path2 = render.write_digest(second, tmp_path, day)
    folder = tmp_path / "2026-11-24"
    assert path1 == folder / "digest.html" and path2 == folder / "digest-2.html"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in ("digest", "digest-2") for ext in ("html", "txt", "json", "eml")
    )
    assert (folder / "digest.eml").read_bytes() == first.eml
    assert (folder / "digest-2.json").read_text(encoding="utf-8") == second.json
    assert (folder / "digest-2.txt").read_text(encoding="utf-8") == second.text
    assert path1.read_text(encoding="utf-8") == first.html


def test_write_digest_does_not_overwrite_a_partial_earlier_digest(tmp_path: Path) -> None:
    folder = tmp_path / "2026-11-24"
    folder.mkdir()
    (folder / "digest.eml").write_bytes(b"earlier")
    path = render.write_digest(render.render(make_digest(1), settings()), tmp_path, date(2026, 11, 24))
    assert path.name == "digest-2.html" and (folder / "digest.eml").read_bytes() == b"earlier"


def test_write_index_lists_digests_newest_first(tmp_path: Path) -> None:
    for day, n in ((22, 1), (24, 3), (23, 2), (24, 1)):
        rendered = render.render(make_digest(n, day=day), settings())
        render.write_digest(rendered, tmp_path, date(2026, 11, day))
    (tmp_path / "not-a-date").mkdir()
    (tmp_path / "2026-11-21").mkdir()
    (tmp_path / "2026-11-21" / "digest.html").write_text("no json beside me")
    index = render.write_index(tmp_path)
    assert index == tmp_path / "index.html"
    tags = parse(index.read_text(encoding="utf-8"))
    hrefs = [a["href"] for t, a in tags.tags if t == "a"]
    assert hrefs == [
        "2026-11-24/digest-2.html", "2026-11-24/digest.html", "2026-11-23/digest.html",
        "2026-11-22/digest.html", "2026-11-21/digest.html",
    ]
    text = " ".join("".join(tags.text).split())
    assert "3 stories" in text and "Headline number 1" in text
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]


def test_write_index_of_an_empty_outbox(tmp_path: Path) -> None:
    index = render.write_index(tmp_path / "outbox")
    assert "No digests yet" in index.read_text(encoding="utf-8")


def test_default_templates_are_found_from_any_working_directory(tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert render.render(make_digest(1), settings()).html.startswith("<!DOCTYPE html>")
    finally:
        os.chdir(cwd)


def summary_of(n: int, sources: list[Source], *, latest: datetime | None = None, headline: str = "") -> StorySummary:
    """Build a story whose sentences come from the given sources, one fact each."""
    sentences = tuple(
        SummarySentence(f"Fact {k} of story {n} is told here.", s.article_id, s.outlet) for k, s in enumerate(sources)
    )
    return StorySummary(f"s{n}", headline or f"Story {n}", sentences, tuple(sources), tuple(s.article_id for s in sources), latest=latest)


def test_stories_are_ordered_by_outlets_then_recency_in_every_format() -> None:
    day = datetime(2026, 12, 2, 7, tzinfo=UTC)

    def src(n: int, k: int, outlet: str) -> Source:
        return Source(f"a{n}{k}", outlet, f"T{n}{k}", f"inbox/{n}{k}.txt", f"https://o{k}.example/{n}")

    lone_new = summary_of(1, [src(1, 0, "Alpha")], latest=day)
    three = summary_of(2, [src(2, 0, "Alpha"), src(2, 1, "Beta"), src(2, 2, "Gamma")], latest=day.replace(day=1))
    two_same = summary_of(3, [src(3, 0, "Alpha"), src(3, 1, "alpha")], latest=day)  # one outlet twice
    lone_old = summary_of(4, [src(4, 0, "Beta")], latest=day.replace(day=1))
    two = summary_of(5, [src(5, 0, "Alpha"), src(5, 1, "Beta")], latest=None)
    digest = Digest(day, "Daily briefing", (lone_old, lone_new, two, two_same, three), ())
    rendered = render.render(digest, settings())
    # as widely reported and as new: two articles (one outlet twice) before a lone article's brief item
    expected = ["Story 2", "Story 5", "Story 3", "Story 1", "Story 4"]
    assert [s["headline"] for s in json.loads(rendered.json)["stories"]] == expected
    positions = [rendered.text.index(f"{i}. {h}") for i, h in enumerate(expected, 1)]
    assert positions == sorted(positions)
    html_text = " ".join("".join(parse(rendered.html).text).split())
    assert [html_text.index(h + " ") for h in expected] == sorted(html_text.index(h + " ") for h in expected)
    assert rendered.subject == "Daily briefing, 2 Dec: Story 2, and 4 more"


def test_an_outlet_is_never_a_file_name() -> None:
    named = Source("a1", "Riverside Herald", "Tram approved", "inbox/tram.txt", "https://herald.example/tram")
    by_url = Source("a2", "001_29a4b08e364da55a", "Tram vote", "inbox/001_29a4b08e364da55a.txt", "https://www.gazette.example/x")
    nothing = Source("a3", "002_a64357c5adc61b44", "Tram, again", "/in/002_a64357c5adc61b44.html", None)
    story = summary_of(1, [named, by_url, nothing])
    digest = Digest(datetime(2026, 12, 2, tzinfo=UTC), "Daily briefing", (story,), ())
    rendered = render.render(digest, settings())
    for output in (rendered.html, rendered.text):  # (digest.json records each source's path, as documented)
        assert "001_29a4b08e364da55a" not in output and "002_a64357c5adc61b44" not in output
    data = json.loads(rendered.json)["stories"][0]
    assert [s["outlet"] for s in data["sources"]] == ["Riverside Herald", "gazette.example", ""]
    assert [s["outlets"] for s in data["sentences"]] == [["Riverside Herald"], ["gazette.example"], []]
    assert "(gazette.example)" in rendered.text and "- Tram, again" in rendered.text


def test_sources_are_listed_once_per_outlet_and_url() -> None:
    one = Source("a1", "Herald", "Tram approved", "inbox/tram.txt", "https://herald.example/tram")
    copy = Source("c1", "Herald", "Tram approved", "inbox/tram-copy.html", "https://herald.example/tram")
    other = Source("a2", "Gazette", "Tram vote", "inbox/vote.txt", "https://gazette.example/vote")
    story = StorySummary("s1", "Tram", (SummarySentence("The council approved the tram on Monday night.", "a1", "Herald", ("Herald", "Gazette")),),
                         (one, copy, other), ("a1", "a2"))
    digest = Digest(datetime(2026, 12, 2, tzinfo=UTC), "Daily briefing", (story,), ())
    rendered = render.render(digest, settings())
    assert rendered.text.count("https://herald.example/tram") == 1
    assert [a.get("href") for t, a in parse(rendered.html).tags if t == "a"].count("https://herald.example/tram") == 1
    assert "2 sources" in rendered.text and "(Herald, Gazette)" in rendered.text
    assert len(json.loads(rendered.json)["stories"][0]["sources"]) == 2


def test_a_digest_of_more_than_five_stories_opens_with_its_headlines() -> None:
    six = render.render(make_digest(6), settings())
    five = render.render(make_digest(5), settings())
    assert "In this digest" in six.html and "In this digest:" in six.text
    assert "In this digest" not in five.html and "In this digest" not in five.text
    top = six.text.split("In this digest:")[1].split("-" * 78)[0]
    assert [line.split(". ", 1)[1] for line in top.strip().splitlines()] == [
        ("[Update] " if s.is_update else "") + s.headline for s in make_digest(6).stories
    ]
    anchors = [a.get("href") for t, a in parse(six.html).tags if t == "a" and (a.get("href") or "").startswith("#")]
    assert anchors == [f"#story-{n}" for n in range(1, 7)]


def test_a_huge_title_is_capped_and_no_summary_is_lost() -> None:
    digest = make_digest(5)
    huge = "Huge title " * 9_000  # ~95 KB
    first = digest.stories[0]
    sources = (replace(first.sources[0], title=huge), *first.sources[1:])
    digest = replace(digest, stories=(replace(first, headline=huge, sources=sources), *digest.stories[1:]))
    rendered = render.render(digest, settings())
    assert not rendered.trimmed  # the e-mail keeps every story's summary
    _, (plain, _) = parts(rendered.eml)
    for s in digest.stories:
        assert s.sentences[0].text in " ".join(plain.get_content().split())
    assert len(rendered.subject) < 200 and max(map(len, rendered.text.splitlines())) <= 400
    assert len(json.loads(rendered.json)["stories"][0]["headline"]) <= render.MAX_TITLE_CHARS


def test_base_url_links_the_email_to_the_full_digest() -> None:
    digest = make_digest(40, words=300)
    page = render.next_page(Path("/nonexistent-outbox"), digest.date.date())
    assert page == "2026-11-24/digest.html"
    rendered = render.render(digest, settings(base_url="https://news.example/briefings/", max_email_bytes=30_000), page=page)
    assert rendered.trimmed
    _, (plain, html) = parts(rendered.eml)
    url = "https://news.example/briefings/2026-11-24/digest.html"
    links = [a for t, a in parse(html.get_content()).tags if t == "a" and a.get("href") == url]
    assert len(links) == 2  # "Read online" and "N more stories in the full digest"
    assert f"in the full digest: {url}" in " ".join(plain.get_content().split())
    without = render.render(digest, settings(max_email_bytes=30_000), page=page)
    assert "news.example/briefings" not in without.eml.decode()


def test_next_page_skips_digests_already_written(tmp_path: Path) -> None:
    day = date(2026, 11, 24)
    rendered = render.render(make_digest(1), settings())
    render.write_digest(rendered, tmp_path, day)
    assert render.next_page(tmp_path, day) == "2026-11-24/digest-2.html"
    assert render.write_digest(rendered, tmp_path, day).name == "digest-2.html"


def test_counts_say_one_story_not_one_stories() -> None:
    rendered = render.render(make_digest(1), settings())
    assert "1 story from 2 articles" in rendered.text and "1 stories" not in rendered.text + rendered.html
