"""Render a Digest to HTML (CSS inlined, e-mail safe), plain text, JSON and a MIME message; write the archive.

Article text is untrusted: the HTML template is autoescaped, control characters are stripped, and a
link is only made for http, https and mailto URLs (anything else is shown as plain text).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import css_inline
import jinja2

from digest.errors import RenderError
from digest.models import Digest, StorySummary
from digest.settings import Settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CSS_FILE = "digest.css"
TEXT_WIDTH = 78
FORMATS = ("html", "txt", "json", "eml")
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# C0/C1 controls and bidi overrides: invisible in a mail client, useful only to spoof what a reader sees
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s+")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_DIGEST_NAME = re.compile(r"^digest(?:-(\d+))?\.html$")


@dataclass(frozen=True)
class Rendered:
    """One digest in every output format."""

    html: str
    text: str
    json: str
    eml: bytes
    subject: str
    message_id: str
    trimmed: bool  # True when the e-mail was trimmed to fit the size budget


@dataclass(frozen=True)
class _Cut:
    """How much of the digest one e-mail shows: stories in full, then headlines only."""

    full: int  # stories shown in full
    headlines: int  # stories after those shown as a headline
    failed: bool  # list the failed articles


def plural(n: int, word: str, many: str | None = None) -> str:
    """Return '1 story' / '3 stories'."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def clean_text(value: str | None) -> str:
    """Strip control characters and collapse whitespace in untrusted text."""
    return _SPACE.sub(" ", _CONTROL.sub("", value or "")).strip()


def safe_url(value: str | None) -> str | None:
    """Return the URL if it is a well-formed http, https or mailto link, else None."""
    url = (value or "").strip()
    # browsers ignore tabs/newlines inside a scheme ("java\nscript:"), so any whitespace or control is refused
    if not url or _CONTROL.search(url) or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in SAFE_SCHEMES:
        return None
    if scheme in ("http", "https") and not parts.hostname:
        return None
    if scheme == "mailto" and "@" not in parts.path:
        return None
    return url


def date_label(when: datetime | date) -> str:
    """Format a date as '24 Nov 2026' whatever the locale."""
    return f"{when.day} {MONTHS[when.month - 1]} {when.year}"


def subject_of(digest: Digest, settings: Settings) -> str:
    """Return the e-mail subject, e.g. 'Daily briefing, 24 Nov 2026: 3 stories'."""
    title = clean_text(settings.title or digest.title) or "Digest"
    return f"{title}, {date_label(digest.date)}: {plural(len(digest.stories), 'story', 'stories')}"


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "", hang: str = "") -> str:
    """Wrap one paragraph at `width` columns; URLs and other long tokens are never split."""
    lines = textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=hang,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines) if lines else indent.rstrip()


def digest_json(digest: Digest) -> str:
    """Serialise the digest as the documented JSON record (stories, articles, counts)."""
    counts = _counts(digest)
    data: dict[str, Any] = {
        "date": digest.date.date().isoformat(),
        "generated": digest.date.isoformat(),
        "title": digest.title,
        "counts": {k: v for k, v in counts.items() if isinstance(v, int)},
        "stories": [
            {
                "id": s.story_id,
                "headline": s.headline,
                "is_update": s.is_update,
                "summary": [x.text for x in s.sentences],
                "sentences": [{"text": x.text, "article": x.article_id, "outlet": x.outlet} for x in s.sentences],
                "sources": [
                    {"outlet": x.outlet, "title": x.title, "path": x.path, "url": x.url, "article": x.article_id}
                    for x in s.sources
                ],
                "articles": list(s.article_ids),
            }
            for s in digest.stories
        ],
        "articles": [
            {
                "id": a.id,
                "path": a.path,
                "status": a.status,
                "reason": a.reason,
                "duplicate_of": a.duplicate_of,
                "kept": a.kept,
                "dropped": a.dropped,
            }
            for a in digest.articles
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _counts(digest: Digest) -> dict[str, Any]:
    failed = sum(1 for a in digest.articles if a.status == "failed")
    n_stories, included, duplicates = len(digest.stories), digest.included, digest.duplicates
    return {
        "stories": n_stories,
        "articles": included,
        "duplicates": duplicates,
        "failed": failed,
        "total": len(digest.articles),
        "stories_label": plural(n_stories, "story", "stories"),
        "articles_label": plural(included, "article"),
        "duplicates_label": plural(duplicates, "duplicate"),
        "failed_label": plural(failed, "article"),
    }


def _story_view(story: StorySummary) -> dict[str, Any]:
    sentences = [
        {"text": clean_text(s.text), "outlet": clean_text(s.outlet) or "unknown source"}
        for s in story.sentences
        if clean_text(s.text)
    ]
    sources = []
    for src in story.sources:
        outlet = clean_text(src.outlet) or "unknown source"
        title = clean_text(src.title) or clean_text(Path(src.path).name) or outlet
        sources.append({"outlet": outlet, "title": title, "url": safe_url(src.url)})
    outlets = {outlet.casefold() for outlet in (s["outlet"] for s in sources) if outlet}
    label = plural(len(sources), "source")
    if len(outlets) != len(sources):
        label += f" from {plural(len(outlets), 'outlet')}"
    return {
        "headline": clean_text(story.headline) or "Untitled story",
        "is_update": story.is_update,
        "sentences": sentences,
        "summary_text": " ".join(f"{s['text']} [{s['outlet']}]" for s in sentences),
        "sources": sources,
        "sources_label": label,
    }


def _environment(folder: Path) -> jinja2.Environment:
    if not folder.is_dir():
        raise RenderError(f"templates folder {folder} does not exist; pass templates= or reinstall digest")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        # HTML is escaped; the .txt template is plain text and must not be
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    return env


class _Renderer:
    """Templates, stylesheet and the per-digest view, rendered at any cut."""

    def __init__(self, digest: Digest, settings: Settings, folder: Path) -> None:
        self.env = _environment(folder)
        try:
            css = (folder / CSS_FILE).read_text(encoding="utf-8")
        except OSError as exc:
            raise RenderError(f"cannot read stylesheet {folder / CSS_FILE}: {exc.strerror}") from exc
        # remote loading off: nothing may be fetched at render time, and a digest must not phone home
        self.inliner = css_inline.CSSInliner(load_remote_stylesheets=False, extra_css=css)
        self.stories = [_story_view(s) for s in digest.stories]
        self.failed = [
            {"path": clean_text(a.path), "reason": clean_text(a.reason)} for a in digest.articles if a.status == "failed"
        ]
        self.base = {
            "title": clean_text(settings.title or digest.title) or "Digest",
            "subject": subject_of(digest, settings),
            "date_label": date_label(digest.date),
            "counts": _counts(digest),
            "unsubscribe": safe_url(settings.unsubscribe),
        }

    def context(self, cut: _Cut) -> dict[str, Any]:
        rest = self.stories[cut.full :]
        shown = rest[: cut.headlines]
        return {
            **self.base,
            "stories": self.stories[: cut.full],
            "more": [{"text": s["headline"], "is_update": s["is_update"]} for s in shown],
            "more_label": plural(len(rest), "more story", "more stories"),
            "failed": self.failed if cut.failed else [],
        }

    def render(self, cut: _Cut) -> tuple[str, str]:
        """Return (inlined html, text) for one cut."""
        ctx = self.context(cut)
        try:
            html = self.env.get_template("digest.html").render(ctx)
            text = self.env.get_template("digest.txt").render(ctx)
        except jinja2.TemplateNotFound as exc:
            raise RenderError(f"template {exc.name} not found in {self.env.loader.searchpath}") from exc  # type: ignore[union-attr]
        except jinja2.TemplateError as exc:
            raise RenderError(f"template failed: {exc}") from exc
        try:
            return self.inliner.inline(html).rstrip("\n") + "\n", text
        except ValueError as exc:
            raise RenderError(f"CSS inlining failed: {exc}") from exc


def _domain(settings: Settings) -> str:
    address = parseaddr(settings.mail_from)[1]
    domain = address.rpartition("@")[2]
    return domain if _DOMAIN.match(domain) else "digest.localhost"


def message_id_for(digest: Digest, content: str, settings: Settings) -> str:
    """Return a Message-ID that depends only on the digest's date and content."""
    digest_hash = hashlib.sha256(content.encode("utf-8")).hexdigest()[:32]
    return f"<{digest.date:%Y%m%d}.{digest_hash}@{_domain(settings)}>"


def _headers(msg: EmailMessage, subject: str, message_id: str, digest: Digest, settings: Settings) -> None:
    msg["Subject"] = subject
    msg["From"] = settings.mail_from
    if settings.mail_to:
        msg["To"] = ", ".join(settings.mail_to)
    if settings.reply_to:
        msg["Reply-To"] = settings.reply_to
    when = digest.date if digest.date.tzinfo else digest.date.astimezone()
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    if settings.unsubscribe:
        url = settings.unsubscribe.strip()
        msg["List-Unsubscribe"] = f"<{url}>"
        if url.lower().startswith("https://"):
            # RFC 8058 one-click: only meaningful for an https endpoint that accepts a POST
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def build_message(
    html: str, text: str, subject: str, message_id: str, digest: Digest, settings: Settings
) -> bytes:
    """Build a multipart/alternative message: text/plain first, text/html last, both UTF-8."""
    msg = EmailMessage(policy=SMTP)
    try:
        _headers(msg, subject, message_id, digest, settings)
    except (ValueError, TypeError) as exc:
        raise RenderError(f"invalid e-mail header ({exc}); check mail_from, mail_to, reply_to and unsubscribe") from exc
    # quoted-printable keeps mostly-ASCII text readable and ~25% smaller than base64
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # a boundary from the Message-ID keeps the bytes reproducible; "=_" can never occur in QP-encoded parts
    msg.set_boundary("=_" + hashlib.sha256(message_id.encode()).hexdigest()[:32])
    return msg.as_bytes()


def _largest(low: int, high: int, fits: Callable[[int], bool]) -> int | None:
    """Return the largest n in [low, high] with fits(n), assuming fits is monotone (True then False)."""
    if not fits(low):
        return None
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


def render(digest: Digest, settings: Settings, templates: Path | None = None) -> Rendered:
    """Render `digest` to every format; trim the e-mail to settings.max_email_bytes.

    `templates` is a folder with digest.html, digest.txt, index.html and digest.css (default: the
    repository's templates/). The html and text outputs are always complete; only the e-mail drops
    stories (keeping their headlines) when it would exceed the budget. Raises RenderError.
    """
    renderer = _Renderer(digest, settings, templates or TEMPLATES)
    n = len(renderer.stories)
    html, text = renderer.render(_Cut(full=n, headlines=0, failed=True))
    content = digest_json(digest)
    subject = str(renderer.base["subject"])
    message_id = message_id_for(digest, content, settings)
    budget = settings.max_email_bytes

    def email(cut: _Cut) -> bytes:
        return build_message(*renderer.render(cut), subject, message_id, digest, settings)

    eml = build_message(html, text, subject, message_id, digest, settings)
    trimmed = len(eml) > budget
    if trimmed:
        # first drop full stories (all headlines kept); then, if even that is too big, headlines
        sizes: dict[_Cut, bytes] = {}

        def fits(cut: _Cut) -> bool:
            sizes[cut] = email(cut)
            return len(sizes[cut]) <= budget

        full = _largest(0, n - 1, lambda k: fits(_Cut(k, n - k, False)))
        if full is not None:
            cut = _Cut(full, n - full, False)
        else:
            shown = _largest(0, n, lambda h: fits(_Cut(0, h, False)))
            if shown is None:
                raise RenderError(
                    f"the e-mail does not fit in max_email_bytes={budget} even without stories; raise the limit"
                )
            cut = _Cut(0, shown, False)
        eml = sizes[cut]
    return Rendered(html=html, text=text, json=content, eml=eml, subject=subject, message_id=message_id, trimmed=trimmed)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a directory; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_temp(folder: Path, data: bytes) -> Path:
    """Write data to a new temporary file in `folder`, fsynced; return its path."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so readers see the old file or the new one, never half of it."""
    tmp = _write_temp(path.parent, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _claim(folder: Path, data: bytes) -> str:
    """Atomically create the first free digest[-N].html in folder with `data`; return its stem."""
    tmp = _write_temp(folder, data)
    try:
        number = 1
        while True:
            stem = "digest" if number == 1 else f"digest-{number}"
            if not any((folder / f"{stem}.{ext}").exists() for ext in FORMATS):
                try:
                    # link() fails if the name exists, so two runs on the same day never share a name
                    os.link(tmp, folder / f"{stem}.html")
                    return stem
                except FileExistsError:
                    pass
            number += 1
    finally:
        tmp.unlink(missing_ok=True)


def write_digest(rendered: Rendered, outbox: Path, day: date) -> Path:
    """Write outbox/YYYY-MM-DD/digest.{html,txt,json,eml} (digest-2.* for a second digest that day).

    Each file is written atomically. Returns the path of the .html file.
    """
    folder = Path(outbox) / day.isoformat()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stem = _claim(folder, rendered.html.encode("utf-8"))
        # the JSON goes last: its presence tells crash recovery that the digest is complete
        for ext, data in (
            ("txt", rendered.text.encode("utf-8")),
            ("eml", rendered.eml),
            ("json", rendered.json.encode("utf-8")),
        ):
            atomic_write(folder / f"{stem}.{ext}", data)
        _fsync_dir(folder)
    except OSError as exc:
        raise RenderError(f"cannot write the digest to {folder}: {exc.strerror or exc}") from exc
    return folder / f"{stem}.html"


def _archive_entries(outbox: Path) -> Iterable[dict[str, Any]]:
    for folder in outbox.iterdir():
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if not folder.is_dir():
            continue
        for page in folder.iterdir():
            match = _DIGEST_NAME.match(page.name)
            if not match:
                continue
            number = int(match.group(1) or 1)
            stories, headlines = _summary_of(page.with_suffix(".json"))
            label = date_label(day) + (f" (#{number})" if number > 1 else "")
            yield {
                "key": (day, number),
                "href": f"{folder.name}/{page.name}",
                "label": label,
                "stories": stories,
                "headlines": headlines,
            }


def _summary_of(path: Path) -> tuple[int | None, Sequence[str]]:
    """Return the story count and first headlines recorded in a digest.json, if readable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        stories = data["stories"]
        return len(stories), [clean_text(str(s.get("headline", ""))) for s in stories[:5]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, []


def write_index(outbox: Path, templates: Path | None = None) -> Path:
    """Write outbox/index.html, the archive of past digests, newest first (atomically). Raises RenderError."""
    outbox = Path(outbox)
    folder = templates or TEMPLATES
    env = _environment(folder)
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        entries = sorted(_archive_entries(outbox), key=lambda e: e["key"], reverse=True)
        css = (folder / CSS_FILE).read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"cannot build the archive index in {outbox}: {exc.strerror or exc}") from exc
    try:
        html = env.get_template("index.html").render(entries=entries)
        html = css_inline.CSSInliner(load_remote_stylesheets=False, extra_css=css).inline(html)
    except (jinja2.TemplateError, ValueError) as exc:
        raise RenderError(f"archive index template failed: {exc}") from exc
    path = outbox / "index.html"
    try:
        atomic_write(path, html.encode("utf-8"))
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
