"""Immutable records that flow through the pipeline.

    inbox file --ingest--> RawArticle --clean--> Article --dedupe--> Article (+ duplicates)
        --cluster--> Story --summarise--> StorySummary --render--> Digest files
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Literal

Kind = Literal["text", "html", "email"]


class Role(str, Enum):
    """What a kept paragraph is in its article."""

    TITLE = "title"
    HEADING = "heading"
    BODY = "body"


@dataclass(frozen=True)
class Meta:
    """Metadata found in a file: HTML meta, e-mail headers, a text header block, the file name."""

    title: str | None = None
    outlet: str | None = None
    url: str | None = None
    date: datetime | None = None
    description: str | None = None


@dataclass(frozen=True)
class RawArticle:
    """A decoded inbox file that the state store has not seen before."""

    id: str  # short, stable id derived from the fingerprint
    path: Path
    fingerprint: str  # sha256 of the file's bytes
    kind: Kind
    text: str  # decoded content: plain text, HTML markup, or an e-mail's chosen body part
    meta: Meta = field(default_factory=Meta)
    encoding: str = "utf-8"
    size: int = 0
    body_is_html: bool = False  # e-mails whose usable body is HTML
    warnings: tuple[str, ...] = ()  # what ingest dropped or cut to keep the file (a bad date, a long title)
    packed: bytes = b""  # `text` zlib-compressed while a run holds many files (text is then ""): ingest.unpacked


@dataclass(frozen=True)
class Paragraph:
    text: str
    role: Role = Role.BODY


@dataclass(frozen=True)
class Decision:
    """One clean-stage decision about one input line or block, for `digest clean --explain`."""

    index: int  # 1-based line (text) or block (HTML) number
    text: str
    kept: bool
    role: Role | None  # role when kept
    reason: str  # e.g. "body", "drop: subscribe banner"


@dataclass(frozen=True)
class Source:
    """One outlet's copy of an article, shown under a story."""

    article_id: str
    outlet: str
    title: str
    path: str
    url: str | None = None


@dataclass(frozen=True)
class Article:
    """A cleaned article: title, paragraphs with roles, and where it came from."""

    id: str
    path: Path
    fingerprint: str
    kind: Kind
    title: str
    outlet: str
    paragraphs: tuple[Paragraph, ...]
    url: str | None = None
    date: datetime | None = None
    description: str | None = None
    decisions: tuple[Decision, ...] = ()
    dropped: int = 0  # boilerplate lines/blocks removed
    # filled by dedupe: other copies of this article (duplicates collapsed into it)
    copies: tuple[Source, ...] = ()

    @property
    def body(self) -> tuple[Paragraph, ...]:
        return tuple(p for p in self.paragraphs if p.role is not Role.TITLE)

    @property
    def text(self) -> str:
        """Cleaned body text (headings and body, no title), paragraphs separated by blank lines."""
        return "\n\n".join(p.text for p in self.body)

    @property
    def source(self) -> Source:
        return Source(self.id, self.outlet, self.title, str(self.path), self.url)

    @property
    def sources(self) -> tuple[Source, ...]:
        return (self.source, *self.copies)


@dataclass(frozen=True)
class Story:
    """Articles (after dedupe) that report the same event."""

    id: str
    articles: tuple[Article, ...]
    is_update: bool = False  # continues a story from an earlier digest


@dataclass(frozen=True)
class SummarySentence:
    text: str
    article_id: str
    outlet: str
    outlets: tuple[str, ...] = ()  # every outlet whose article tells this fact, its own first


@dataclass(frozen=True)
class StorySummary:
    """A story ready to render: headline, summary sentences with their source, all sources."""

    story_id: str
    headline: str
    sentences: tuple[SummarySentence, ...]
    sources: tuple[Source, ...]
    article_ids: tuple[str, ...]
    is_update: bool = False
    latest: datetime | None = None  # the newest article date of the story, for ordering stories


ArticleStatus = Literal["included", "duplicate", "failed", "pending"]


@dataclass(frozen=True)
class ArticleRecord:
    """An article's outcome in one digest, as written to digest.json and the state store."""

    id: str
    path: str
    status: ArticleStatus
    reason: str = ""
    duplicate_of: str | None = None
    dropped: int = 0
    kept: int = 0


@dataclass(frozen=True)
class Digest:
    """Everything one briefing shows."""

    date: datetime
    title: str
    stories: tuple[StorySummary, ...]
    articles: tuple[ArticleRecord, ...]

    @property
    def duplicates(self) -> int:
        return sum(1 for a in self.articles if a.status == "duplicate")

    @property
    def included(self) -> int:
        return sum(1 for a in self.articles if a.status == "included")
