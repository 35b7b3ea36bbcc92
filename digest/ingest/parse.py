"""One file's bytes to a RawArticle: fingerprint, kind by name, the format's parser, the budget."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from digest.deadline import Deadline, DeadlineExceeded
from digest.errors import InputError
from digest.ingest.budget import Budget, cap_title, check_lines, check_markup, sane_date
from digest.ingest.email import email_article
from digest.ingest.html import html_meta
from digest.ingest.read import decode, read_bytes
from digest.ingest.text import text_meta
from digest.models import Kind, Meta, RawArticle

SUFFIXES: dict[str, Kind] = {
    ".txt": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
    ".html.gz": "html",
    ".htm.gz": "html",
    ".eml": "email",
}


def fingerprint(data: bytes) -> str:
    """Return the content fingerprint of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def article_id(fp: str, path: Path) -> str:
    """Return the short article id: content and file name, so byte-identical copies stay apart."""
    return hashlib.sha256(f"{fp}|{path.name}".encode("utf-8", "surrogateescape")).hexdigest()[:12]


def kind_of(path: Path) -> Kind | None:
    """Return the kind of article a file name promises, or None for files the inbox ignores."""
    name = path.name.lower()
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def _within_budget(meta: Meta, path: Path, budget: Budget, warnings: list[str]) -> Meta:
    """Drop absurd dates and cut overlong titles, with a warning for each."""
    date = sane_date(meta.date)
    if meta.date is not None and date is None:
        warnings.append(f"date {meta.date.isoformat()} is out of range; the article is kept without a date")
    title = cap_title(meta.title, budget.max_title_chars)
    if title != meta.title:
        warnings.append(f"title of {len(meta.title or ''):,} characters cut to {budget.max_title_chars:,} (max_title_chars)")
    description = cap_title(meta.description, budget.max_title_chars * 4)
    if (date, title, description) == (meta.date, meta.title, meta.description):
        return meta
    return replace(meta, date=date, title=title, description=description)


def parse(data: bytes, path: Path, kind: Kind, budget: Budget | None = None) -> RawArticle:
    """Turn one file's bytes into a RawArticle; raise InputError when it holds no usable text.

    The budget's structural limits (lines, tags, header size) are checked before decoding and parsing.
    """
    budget = budget or Budget()
    if not data.strip():
        raise InputError(path, "empty file" if not data else "file holds only whitespace")
    fp = fingerprint(data)
    body_is_html = False
    warnings: list[str] = []
    if kind == "email":
        text, meta, body_is_html, warnings = email_article(data, path, budget)
        encoding = "email"
    else:
        if kind == "html":
            check_markup(data, path, budget)
        else:
            check_lines(data, path, budget)
        text, encoding = decode(data, path)
        if kind == "html":
            meta = html_meta(text, path)
        else:
            meta, text = text_meta(text, path)
    if not text.strip():
        raise InputError(path, "no text in the file")
    return RawArticle(
        id=article_id(fp, path),
        path=path,
        fingerprint=fp,
        kind=kind,
        text=text,
        meta=_within_budget(meta, path, budget, warnings),
        encoding=encoding,
        size=len(data),
        body_is_html=body_is_html,
        warnings=tuple(warnings),
    )


def load_file(path: Path, max_bytes: int = 5_000_000, budget: Budget | None = None) -> RawArticle:
    """Read, decode and parse one article file; raise InputError naming the file and the reason."""
    path = Path(path)
    budget = budget or Budget(max_bytes=max_bytes)
    kind = kind_of(path)
    if kind is None:
        raise InputError(path, "unsupported file type (use .txt, .md, .html, .htm, .html.gz or .eml)")
    return parse_safely(read_bytes(path, budget.max_bytes), path, kind, budget)


def parse_safely(data: bytes, path: Path, kind: Kind, budget: Budget) -> RawArticle:
    """Parse, turning any failure inside the parsers into an InputError for this file alone."""
    try:
        with Deadline(budget.max_seconds):
            return parse(data, path, kind, budget)
    except InputError:
        raise
    except DeadlineExceeded as exc:
        raise InputError(path, f"reading took over {budget.max_seconds:g} s (max_file_seconds); save the article alone") from exc
    except RecursionError as exc:
        raise InputError(path, "markup nested too deeply to parse") from exc
    except MemoryError as exc:
        raise InputError(path, "ran out of memory reading this file; save the article alone") from exc
    except Exception as exc:  # a parser bug on one file must not stop the others
        raise InputError(path, f"could not be read ({exc.__class__.__name__}: {exc}); please report it") from exc
