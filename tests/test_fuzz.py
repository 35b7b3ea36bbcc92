"""Property-based tests: arbitrary bytes and markup never raise out of ingest or clean."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import clean
from digest.errors import InputError
from digest.ingest import parse

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

tags = st.sampled_from(["p", "div", "h1", "h2", "script", "style", "nav", "footer", "article", "a", "li", "ul", "table", "td", "span"])
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 4 and draw(st.booleans()):
            tag = draw(tags)
            inner = draw(markup(depth + 1))
            close = draw(st.sampled_from([f"</{tag}>", ""]))  # sometimes malformed
            parts.append(f"<{tag}>{inner}{close}")
        else:
            parts.append(draw(texts))
    return "".join(parts)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(w == b for b in it) for w in small)


@FAST
@given(data=st.binary(max_size=2000), kind=st.sampled_from(["text", "html", "email"]))
def test_arbitrary_bytes_never_raise_out_of_ingest_and_clean(data: bytes, kind: str) -> None:
    try:
        raw = parse(data, Path(f"fuzz.{ {'text': 'txt', 'html': 'html', 'email': 'eml'}[kind] }"), kind)  # type: ignore[arg-type]
    except InputError:
        return
    try:
        clean.clean_article(raw)
    except InputError:
        pass


@FAST
@given(page=markup())
def test_arbitrary_html_cleans_to_a_subsequence_of_its_text(page: str) -> None:
    html = f"<html><body>{page}</body></html>"
    try:
        raw = parse(html.encode("utf-8"), Path("fuzz.html"), "html")
        article = clean.clean_article(raw)
    except InputError:
        return
    from lxml import html as lxml_html

    # tag boundaries may join or split words, so compare characters, white space aside
    source = re.sub(r"\s", "", lxml_html.fromstring(html).text_content()) if page.strip() else ""
    out = re.sub(r"\s", "", "".join(p.text for p in article.body))
    assert is_subsequence(list(out), list(source))


@FAST
@given(lines=st.lists(texts, max_size=30))
def test_arbitrary_text_cleans_to_a_subsequence_of_its_lines(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        raw = parse(text.encode("utf-8"), Path("fuzz.txt"), "text")
        article = clean.clean_article(raw)
    except InputError:
        return
    out = _words("\n".join(p.text for p in article.paragraphs if p.role.value != "title"))
    assert is_subsequence(out, _words(raw.text))
