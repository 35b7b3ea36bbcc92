"""Check the bundled sample inbox keeps its own promises, independent of the pipeline."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
from collections import defaultdict
from email.message import EmailMessage
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

INBOX = Path(__file__).resolve().parents[1] / "inbox"
WORD = re.compile(r"\w+")
HEADER_LINE = re.compile(r"^(Title|Outlet|URL|Date):\s*\S")
SHINGLE = 8
# Lightly edited republication: most 5-word runs survive a few changed words.
REPUBLISHED_OVERLAP = 0.5
HTML_META = ("og:title", "og:site_name", "og:description", "article:published_time")


def article_files() -> list[Path]:
    """Return the sample articles in a stable order."""
    return sorted(p for p in INBOX.iterdir() if p.is_file() and not p.name.startswith("."))


def strip_markup(markup: str) -> str:
    """Return the visible text of an HTML page: tags, scripts and styles removed."""
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    return unescape(re.sub(r"(?s)<[^>]+>", " ", markup))


def email_message(path: Path) -> EmailMessage:
    """Parse one .eml file."""
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def plain_text(path: Path) -> str:
    """Return an article's readable text, whatever its format and encoding."""
    if path.suffix == ".eml":
        body = email_message(path).get_body(preferencelist=("plain",))
        assert body is not None, f"{path.name} has no text/plain part"
        return str(body.get_content())
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return strip_markup(text) if path.suffix == ".html" else text


def shingles(text: str, size: int) -> set[tuple[str, ...]]:
    """Return the set of `size`-word runs of a text, lower-cased."""
    words = [w.lower() for w in WORD.findall(text)]
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def corpus_texts(corpus: Path) -> list[str]:
    """Return every text of the corpus: seed articles, benchmark page texts and their ground truth."""
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((corpus / "seeds").glob("*.txt"))]
    bench = corpus / "extraction-benchmark"
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted((bench / "text").glob("*.txt"))]
    truth = json.loads((bench / "ground-truth.json").read_text(encoding="utf-8"))
    texts += [entry["articleBody"] for entry in truth.values()]
    return texts


class MetaCollector(HTMLParser):
    """Collect `<title>` text and `<meta property/name=... content=...>` values."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "meta" and values.get("content"):
            key = values.get("property") or values.get("name")
            if key:
                self.meta[key] = values["content"] or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def html_meta(path: Path) -> MetaCollector:
    """Parse the head of one sample HTML page."""
    collector = MetaCollector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def by_suffix(suffix: str) -> list[Path]:
    """Return the sample files with one suffix."""
    return [p for p in article_files() if p.suffix == suffix]


def has_header_block(path: Path) -> bool:
    """Tell whether a text article opens with a `Key: value` header block."""
    first = plain_text(path).split("\n", 1)[0]
    return bool(HEADER_LINE.match(first))


def test_every_format_is_present() -> None:
    texts = by_suffix(".txt")
    assert len(article_files()) >= 10
    assert len(by_suffix(".html")) >= 2
    assert len(by_suffix(".eml")) >= 1
    assert len(by_suffix(".md")) >= 1
    assert any(has_header_block(p) for p in texts), "no .txt article with a header block"
    assert any(not has_header_block(p) for p in texts), "no .txt article without a header block"


def test_html_pages_carry_head_metadata() -> None:
    for path in by_suffix(".html"):
        meta = html_meta(path)
        assert meta.title.strip(), f"{path.name} has no <title>"
        missing = [key for key in HTML_META if not meta.meta.get(key)]
        assert not missing, f"{path.name} lacks {missing}"
        markup = path.read_text(encoding="utf-8")
        for tag in ("<nav", "<h1", "<h2", "<figcaption", "<footer"):
            assert tag in markup, f"{path.name} lacks {tag}>"


def test_emails_have_sender_subject_date_and_text() -> None:
    for path in by_suffix(".eml"):
        msg = email_message(path)
        assert msg["From"] and msg["Subject"] and msg["Date"], path.name
        assert len(WORD.findall(plain_text(path))) > 200, f"{path.name} has too short a body"


def test_every_dated_article_is_from_november_2026() -> None:
    dates: list[tuple[str, str]] = []
    for path in article_files():
        if path.suffix == ".eml":
            dates.append((path.name, email_message(path)["Date"].datetime.strftime("%Y-%m")))
        elif path.suffix == ".html":
            dates.append((path.name, html_meta(path).meta["article:published_time"][:7]))
        elif has_header_block(path):
            match = re.search(r"(?m)^Date:\s*(\d{4}-\d{2})", plain_text(path))
            assert match, f"{path.name} has a header block without a Date"
            dates.append((path.name, match[1]))
    assert len(dates) >= 6
    assert all(month == "2026-11" for _, month in dates), dates


def test_exactly_one_byte_identical_duplicate() -> None:
    groups: dict[str, list[str]] = defaultdict(list)
    for path in article_files():
        groups[hashlib.sha256(path.read_bytes()).hexdigest()].append(path.name)
    copies = [names for names in groups.values() if len(names) > 1]
    assert len(copies) == 1 and len(copies[0]) == 2, copies


def test_exactly_one_lightly_edited_republication() -> None:
    unique = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in article_files()}
    runs = {p.name: shingles(plain_text(p), 5) for p in unique.values()}
    names = sorted(runs)
    close = []
    for i, left in enumerate(names):
        for right in names[i + 1 :]:
            shared = len(runs[left] & runs[right]) / min(len(runs[left]), len(runs[right]))
            if shared > REPUBLISHED_OVERLAP:
                close.append((left, right, round(shared, 2)))
    assert len(close) == 1, close
    left, right, shared = close[0]
    assert shared < 0.95, f"{left} and {right} are near-identical, not an edited republication"


def test_one_latin1_article_with_accented_name() -> None:
    not_utf8 = []
    for path in article_files():
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            not_utf8.append(path)
    assert len(not_utf8) == 1, [p.name for p in not_utf8]
    text = not_utf8[0].read_bytes().decode("latin-1")
    assert re.search(r"\b\w*[éüöäèáß]\w*\b", text), "the latin-1 article has no accented name"


@pytest.fixture(scope="module")
def corpus_shingles(corpus: Path) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for text in corpus_texts(corpus):
        found |= shingles(text, SHINGLE)
    return found


def test_no_sample_text_comes_from_the_corpus(corpus_shingles: set[tuple[str, ...]]) -> None:
    assert len(corpus_shingles) > 10_000, "corpus texts not found"
    for path in article_files():
        own = shingles(plain_text(path), SHINGLE)
        assert own, f"{path.name} has no text"
        copied = sorted(" ".join(run) for run in own & corpus_shingles)
        assert not copied, f"{path.name} shares text with the corpus: {copied[:5]}"
