"""Show what the clean stage kept and why: the cleaned article, and one line per decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from digest.models import Article, Role

MARKS = {Role.TITLE: "#", Role.HEADING: "##"}


def format_article(article: Article) -> str:
    """Format the cleaned article: title, blank line, paragraphs, headings marked with '##'."""
    parts = [article.title, ""]
    for paragraph in article.body:
        text = f"## {paragraph.text}" if paragraph.role is Role.HEADING else paragraph.text
        parts += [text, ""]
    return "\n".join(parts).rstrip() + "\n"


def _clip(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_decisions(article: Article) -> str:
    """Format one line per input line or block: number, kept/dropped, role, reason and the text."""
    rows = []
    for d in article.decisions:
        state = f"keep {d.role.value:<7}" if d.kept and d.role else "drop        "
        rows.append(f"{d.index:>5}  {state}  {_clip(d.reason, 110):<110}  | {_clip(d.text)}")
    kept = len(article.decisions) - article.dropped
    rows.append(f"{article.path}: kept {kept}, dropped {article.dropped}")
    return "\n".join(rows) + "\n"


def decisions_json(article: Article) -> dict[str, Any]:
    """Return the article and its decisions as JSON-able data: title, paragraphs with roles, counts."""
    return {
        "id": article.id,
        "path": str(article.path),
        "kind": article.kind,
        "title": article.title,
        "outlet": article.outlet,
        "url": article.url,
        "date": article.date.isoformat() if article.date else None,
        "paragraphs": [{"role": p.role.value, "text": p.text} for p in article.paragraphs],
        "decisions": [
            {
                "index": d.index,
                "kept": d.kept,
                "role": d.role.value if d.role else None,
                "reason": d.reason,
                "text": d.text,
            }
            for d in article.decisions
        ],
        "counts": {
            "kept": len(article.decisions) - article.dropped,
            "dropped": article.dropped,
            "paragraphs": len(article.paragraphs),
        },
    }


def compare_labels(article: Article, labels: Sequence[Mapping[str, Any]]) -> tuple[int, list[str]]:
    """Compare decisions with hand labels ({"line": n, "label": role or "drop"}); return (scored, mistakes).

    Lines labelled "either" are not scored; a line without a decision counts as dropped.
    """
    by_line = {d.index: d for d in article.decisions}
    scored = 0
    mistakes: list[str] = []
    for item in labels:
        if item["label"] == "either":
            continue
        scored += 1
        d = by_line.get(item["line"])
        got = d.role.value if d and d.kept and d.role else "drop"
        if got != item["label"]:
            reason = d.reason if d else "no decision"
            mistakes.append(f"{article.path.name}:{item['line']} want {item['label']} got {got} ({reason})")
    return scored, mistakes
