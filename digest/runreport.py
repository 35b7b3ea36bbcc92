"""One run's report in Markdown: what the Prefect flow publishes as its artifact for the dashboard.

Built from what the run left behind (the digest's JSON record and its delivery state), so it says
the same thing whichever task runner ran the stages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digest.runresult import plural

MAX_FAILED_SHOWN = 50  # a run over a broken inbox should not make a page of thousands of rows


# what Markdown (CommonMark, GFM) would read as markup inside a line: emphasis, code, links, images,
# tables, strikethrough; HTML's own characters become entities so no tag or entity of an article survives
_MARKDOWN = frozenset("\\`*_[](){}!|~#")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp")  # control, format (bidi overrides, zero-width), line and paragraph separators


def _char(ch: str) -> str:
    if ch in _HTML:
        return _HTML[ch]
    if ch in _MARKDOWN:
        return "\\" + ch
    return " " if unicodedata.category(ch) in _INVISIBLE else ch


def inert(text: object) -> str:
    """Escape a value (from an article, a file name, a server) for one line of Markdown: inert as text."""
    return " ".join("".join(_char(ch) for ch in str(text)).split())


_LOG = {"\\": "\\\\", "[": "\\[", "]": "\\]", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


def log_line(text: object) -> str:
    """A line for the run's log, which the dashboard renders as Markdown: no link, image, tag or line break
    survives, while an ordinary line (paths, counts, reasons) reads as it was printed."""
    return "".join(
        _LOG.get(ch) or (" " if unicodedata.category(ch) in _INVISIBLE else ch) for ch in str(text)
    )


def _code(text: object) -> str:
    """A value as inline code when it can be one (no backtick, no invisible character), else escaped text."""
    value = str(text)
    if "`" in value or any(unicodedata.category(ch) in _INVISIBLE for ch in value):
        return inert(value)
    return f"`{value}`"


def markdown(
    result: Mapping[str, Any],
    record: Mapping[str, Any] | None = None,
    delivery: tuple[str, str] | None = None,
) -> str:
    """Return the run's report: counts per stage, stories, failed files with reasons, delivery, the digest's path.

    `result` is `RunResult.as_dict()`; `record` the digest's JSON (None when no digest was written);
    `delivery` the digest's (state, reason) from the state store.
    """
    path = result.get("path")
    lines = [f"# Daily digest: {inert(path) if path else inert(result.get('message') or 'no digest written')}", ""]
    articles: list[Mapping[str, Any]] = list(record.get("articles", [])) if record else []
    stories: list[Mapping[str, Any]] = list(record.get("stories", [])) if record else []
    if record:
        by_status = {s: [a for a in articles if a.get("status") == s] for s in ("included", "duplicate", "failed")}
        used = by_status["included"] + by_status["duplicate"]
        lines += [
            "| stage | result |",
            "| --- | --- |",
            f"| ingest | {plural(len(articles), 'new file')} |",
            f"| clean | {plural(len(used), 'article')} kept, {plural(sum(a.get('dropped', 0) for a in used), 'boilerplate line')} dropped, "
            f"{len(by_status['failed']):,} failed |",
            f"| dedupe | {plural(len(by_status['duplicate']), 'duplicate')} collapsed |",
            f"| cluster | {plural(len(stories), 'story', 'stories')} "
            f"({sum(1 for s in stories if s.get('is_update')):,} continuing earlier ones) |",
            f"| summarise | {plural(sum(len(s.get('summary', [])) for s in stories), 'sentence')} |",
            f"| deliver | {inert(_delivery_text(result, delivery))} |",
            "",
            "## Stories",
            "",
        ]
        for story in stories:
            sources = story.get("sources", [])
            outlets = sorted({str(s.get("outlet") or "unknown source") for s in sources})
            update = " (update)" if story.get("is_update") else ""
            lines.append(f"- **{inert(story.get('headline', ''))}**{update}: {plural(len(sources), 'source')} "
                         f"({inert(', '.join(outlets))})")
    failed = [(str(a.get("path", "")), str(a.get("reason", ""))) for a in articles if a.get("status") == "failed"]
    if not record:
        lines += [
            f"- failed files: {int(result.get('failed', 0)):,}",
            f"- digests sent: {int(result.get('sent', 0)):,}",
        ]
    if failed:
        lines += ["", "## Failed files", "", "| file | reason |", "| --- | --- |"]
        lines += [f"| {inert(Path(p).name)} | {inert(reason)} |" for p, reason in failed[:MAX_FAILED_SHOWN]]
        if len(failed) > MAX_FAILED_SHOWN:
            lines.append(f"| ... | {len(failed) - MAX_FAILED_SHOWN:,} more in the digest's JSON |")
    if path:
        lines += ["", f"Digest: {_code(path)} (also `.txt`, `.json`, `.eml` beside it)"]
    return "\n".join(lines) + "\n"


def _delivery_text(result: Mapping[str, Any], delivery: tuple[str, str] | None) -> str:
    if delivery is None:
        return "dry run: nothing sent" if result.get("path") and "dry-run" in str(result.get("path")) else "not recorded"
    state, reason = delivery
    text = {"sent": "sent", "outbox-only": "no SMTP host: kept in the outbox", "unsent": "not sent yet"}.get(state, state)
    return f"{text}: {reason}" if reason else text
