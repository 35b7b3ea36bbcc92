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


PAGE = ("<html><body><article><h1>Harbour wall repaired</h1>"
        + "".join(f"<p>Paragraph {i}: the harbour wall was repaired after the storms, engineers said.</p>" for i in range(40))
        + "</article></body></html>").encode()


@FAST
@given(cut=st.floats(0.0, 1.0), members=st.integers(1, 4))
def test_gzip_is_read_whole_or_fails_never_partly(cut: float, members: int) -> None:
    import gzip

    from digest.ingest import gunzip

    size = len(PAGE) // members + 1
    parts = [gzip.compress(PAGE[i : i + size]) for i in range(0, len(PAGE), size)]
    packed = b"".join(parts)
    data = packed[: int(len(packed) * cut)]
    # a cut exactly between two members leaves a valid, shorter gzip file: those members, whole
    whole = {sum(map(len, parts[:k])): PAGE[: k * size] for k in range(len(parts) + 1)}
    try:
        text = gunzip(data, Path("page.html.gz"), 5_000_000)
    except InputError as err:
        assert data != packed and len(data) not in whole
        assert any(w in err.reason for w in ("truncated", "broken gzip", "damaged")), err.reason
        return
    assert text == whole.get(len(data))  # whole members only, never part of one


mime_leaf = st.sampled_from([
    "Content-Type: text/plain\n\nThe ferry timetable changes on Monday, the operator said today.\n",
    "Content-Type: text/html\n\n<p>The ferry timetable changes on Monday.</p>\n",
    'Content-Type: application/octet-stream\nContent-Disposition: attachment; filename="a.txt"\n\nFerry news.\n',
    "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n",
    "Content-Type: text/plain; charset=x-unknown\n\n\xff\xfe odd bytes\n",
    "Content-Type: message/rfc822\n\nSubject: inner\n\nForwarded ferry news.\n",
])


@st.composite
def mime(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(mime_leaf)
    declared = draw(st.sampled_from(["b1", "b2", ""]))
    used = draw(st.sampled_from(["b1", "b2", "zz"]))
    parts = [draw(mime(depth + 1)) for _ in range(draw(st.integers(0, 3)))]
    body = "".join(f"--{used}{depth}\n{p}" for p in parts) + (f"--{used}{depth}--\n" if draw(st.booleans()) else "")
    sub = draw(st.sampled_from(["mixed", "alternative", "related"]))
    boundary = f'; boundary="{declared}{depth}"' if declared else ""
    return f"Content-Type: multipart/{sub}{boundary}\n\n{body}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=mime(), subject=st.text(max_size=200))
def test_any_mime_tree_gives_an_article_or_a_reason(tree: str, subject: str) -> None:
    data = f"From: a@b.example\nSubject: {subject}\n{tree}".encode("utf-8", "surrogateescape")
    try:
        raw = parse(data, Path("fuzz.eml"), "email")
    except InputError:
        return
    assert raw.text.strip()
