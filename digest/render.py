"""Render a Digest to HTML (CSS inlined, e-mail safe), plain text, JSON and a MIME message; write the archive.

Article text is untrusted: the HTML template is autoescaped, control characters are stripped, and a
link is only made for http, https and mailto URLs (anything else is shown as plain text).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import css_inline
import jinja2

from digest.errors import RenderError
from digest.files import atomic_write, fsync_dir, write_temp
from digest.meta.outlet import registered_domain
from digest.models import Digest, Source, StorySummary
from digest.runresult import plural
from digest.settings import Settings


def _templates_folder() -> Path:
    """Return the templates: digest/templates in an installed wheel, else the source tree's templates/."""
    here = Path(__file__).resolve().parent
    packaged = here / "templates"
    return packaged if packaged.is_dir() else here.parent / "templates"


TEMPLATES = _templates_folder()
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
_FILE_NAME = re.compile(r"(?i)^[\w.-]+\.(?:txt|md|html?|eml|gz|part|tmp)$")
MAX_TITLE_CHARS = 200  # headlines and source titles are cut here for display (a title can be 95 KB)
MAX_SUBJECT_HEADLINE = 80  # the top story's headline in the e-mail subject
MAX_OUTLET_CHARS = 60
MAX_LINE_CHARS = 1000  # summary sentences, paths and failure reasons
HEADLINE_LIST_FROM = 6  # a digest of more than five stories opens with a list of its headlines
BRIEF_SENTENCES = 2  # a story told by one article shows its lead: one or two sentences
BRIEF_WORDS = 60  # ... the second only if the two together are no longer than this


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


def clean_text(value: str | None) -> str:
    """Strip control characters and collapse whitespace in untrusted text."""
    return _SPACE.sub(" ", _CONTROL.sub("", value or "")).strip()


def cap(value: str | None, limit: int) -> str:
    """Clean untrusted text and cut it to `limit` characters at a word boundary, marking the cut with '…'."""
    text = clean_text(value)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:-–—") + "…"


def nbsp(name: str) -> str:
    """Join the words of a name with non-breaking spaces (and hyphens), so it never wraps inside.

    A browser breaks a line after any hyphen: "Zillow Blog -" would end a line and the rest begin the next.
    """
    return name.replace(" ", "\u00a0").replace("-", "\u2011")


def outlet_label(source: Source) -> str:
    """Return the outlet to show for a source: its name, else its URL's registered domain; never a file name ('' if none)."""
    outlet = cap(source.outlet, MAX_OUTLET_CHARS)
    path = Path(source.path)
    if outlet and outlet not in (path.stem, path.name, path.name.split(".")[0]) and not _FILE_NAME.match(outlet):
        return outlet
    url = safe_url(source.url)
    return registered_domain(url) or ""  # "nj.com" for every page of the site, news.* and www.* alike


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
    """Return the e-mail subject naming the top story: 'Daily briefing, 2 Dec: Belarus frees 123 prisoners, and 3 more'."""
    title = clean_text(settings.title or digest.title) or "Digest"
    day = f"{digest.date.day} {MONTHS[digest.date.month - 1]}"
    stories = ordered(digest.stories)
    if not stories:
        return f"{title}, {day}: no new stories"
    top = cap(stories[0].headline, MAX_SUBJECT_HEADLINE) or "Untitled story"
    more = f", and {len(stories) - 1:,} more" if len(stories) > 1 else ""
    return f"{title}, {day}: {top}{more}"


def _sources(story: StorySummary) -> list[dict[str, Any]]:
    """Return the story's sources for display, once per outlet and URL (an exact copy is not listed twice)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for src in story.sources:
        outlet = outlet_label(src)
        url = safe_url(src.url)
        title = cap(src.title, MAX_TITLE_CHARS) or clean_text(Path(src.path).name) or outlet or "untitled"
        key = (outlet.casefold() or src.article_id, (url or title).casefold())
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {"outlet": outlet, "title": title, "url": url, "article": src.article_id, "raw": src.outlet, "path": src.path}
        )
    return out


def outlet_count(story: StorySummary) -> int:
    """Count the distinct outlets that report a story (a source without a known outlet counts alone)."""
    return len({s["outlet"].casefold() or "#" + s["article"] for s in _sources(story)})


def _recency(story: StorySummary) -> float:
    when = story.latest
    if when is None:
        return float("-inf")
    try:
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    except (OverflowError, ValueError, OSError):
        return float("-inf")


def ordered(stories: Sequence[StorySummary]) -> list[StorySummary]:
    """Order stories by the number of distinct outlets reporting them, then the newest first.

    Stories told by several articles come first; a lone article's (with any copies) is a brief item after them.
    """
    return sorted(stories, key=lambda s: (len(s.article_ids) == 1, -outlet_count(s), -_recency(s)))


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
        "stories": [_story_json(s) for s in ordered(digest.stories)],
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


def _story_json(story: StorySummary) -> dict[str, Any]:
    """Return one story's JSON record, with the outlets and sources exactly as the digest shows them."""
    view = _story_view(story, 0)
    return {
        "id": story.story_id,
        "headline": view["headline"],
        "is_update": story.is_update,
        "outlets": outlet_count(story),
        "latest": story.latest.isoformat() if story.latest else None,
        "summary": [x.text for x in story.sentences],
        "sentences": [
            {"text": x.text, "article": x.article_id, "outlet": shown["outlets"][0] if shown["outlets"] else "", "outlets": shown["outlets"]}
            for x, shown in zip(story.sentences, view["sentences"], strict=False)
        ],
        "sources": [
            {"outlet": x["outlet"], "title": x["title"], "path": x["path"], "url": x["url"], "article": x["article"]}
            for x in view["sources"]
        ],
        "articles": list(story.article_ids),
    }


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


def _shown_outlet(outlet: str, shown: dict[str, str]) -> str:
    """Return how an outlet named by a summary sentence is shown: as its source shows it, never as a file name."""
    if outlet in shown:
        return shown[outlet]
    name = cap(outlet, MAX_OUTLET_CHARS)
    return "" if _FILE_NAME.match(name) else name


def _story_view(story: StorySummary, number: int) -> dict[str, Any]:
    sources = _sources(story)
    # the outlets a summary names come from the story's articles: show them as their sources are shown
    shown = {s["raw"]: s["outlet"] for s in sources}
    by_article = {s["article"]: s["outlet"] for s in sources}
    bullets = []
    for s in story.sentences:
        text = cap(s.text, MAX_LINE_CHARS)
        if not text:
            continue
        own = by_article[s.article_id] if s.article_id in by_article else _shown_outlet(s.outlet, shown)
        names = [own, *(_shown_outlet(o, shown) for o in s.outlets)]
        outlets = [n for n in dict.fromkeys(names) if n]
        bullets.append({"text": text, "outlets": outlets})
    distinct = {s["outlet"].casefold() or "#" + s["article"] for s in sources}
    label = plural(len(sources), "source")
    if len(distinct) != len(sources):
        label += f" from {plural(len(distinct), 'outlet')}"
    return {
        "anchor": f"story-{number}",
        "headline": cap(story.headline, MAX_TITLE_CHARS) or "Untitled story",
        "is_update": story.is_update,
        # one article (and its copies): a brief item, its lead in a paragraph and a link, not bullets
        "brief": len(story.article_ids) == 1,
        "lead": _lead(bullets),
        "link": next((s["url"] for s in sources if s["url"]), None),
        "sentences": bullets,
        "sources": sources,
        "sources_label": label,
    }


def _lead(bullets: Sequence[dict[str, Any]]) -> str:
    """Return a brief item's lead: its first sentence, and the next ones while they stay short."""
    lead: list[str] = []
    for bullet in bullets[:BRIEF_SENTENCES]:
        text = str(bullet["text"])
        if lead and len(" ".join([*lead, text]).split()) > BRIEF_WORDS:
            break
        lead.append(text)
    return " ".join(lead)


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
    env.filters["nbsp"] = nbsp
    return env


class _Renderer:
    """Templates, stylesheet and the per-digest view, rendered at any cut."""

    def __init__(self, digest: Digest, settings: Settings, folder: Path, page: str | None = None) -> None:
        self.env = _environment(folder)
        try:
            css = (folder / CSS_FILE).read_text(encoding="utf-8")
        except OSError as exc:
            raise RenderError(f"cannot read stylesheet {folder / CSS_FILE}: {exc.strerror}") from exc
        # remote loading off: nothing may be fetched at render time, and a digest must not phone home
        self.inliner = css_inline.CSSInliner(load_remote_stylesheets=False, extra_css=css)
        self.stories = [_story_view(s, n) for n, s in enumerate(digest.stories, 1)]
        # the brief items follow the stories several outlets report, under one heading
        first_brief = next((k for k, s in enumerate(self.stories) if s["brief"]), None)
        for k, view in enumerate(self.stories):
            view["opens_briefs"] = k == first_brief and k > 0
        self.failed = [
            {"path": cap(a.path, MAX_LINE_CHARS), "reason": cap(a.reason, MAX_LINE_CHARS)}
            for a in digest.articles
            if a.status == "failed"
        ]
        self.base = {
            "title": clean_text(settings.title or digest.title) or "Digest",
            "subject": subject_of(digest, settings),
            "date_label": date_label(digest.date),
            "counts": _counts(digest),
            "unsubscribe": safe_url(settings.unsubscribe),
            "online": online_url(settings, page),
        }

    def context(self, cut: _Cut) -> dict[str, Any]:
        rest = self.stories[cut.full :]
        shown = rest[: cut.headlines]
        contents = []
        briefs = ""
        if len(self.stories) >= HEADLINE_LIST_FROM:
            # the stories shown in full; a trimmed e-mail lists the others once, at its end
            listed = self.stories[: cut.full]
            if any(not s["brief"] for s in listed):  # the brief items are one line: a phone reaches the news first
                briefs = plural(sum(s["brief"] for s in listed), "more story", "more stories") if any(s["brief"] for s in listed) else ""
                listed = [s for s in listed if not s["brief"]]
            contents = [{"text": s["headline"], "is_update": s["is_update"], "anchor": s["anchor"]} for s in listed]
        return {
            **self.base,
            "contents": contents,
            "contents_briefs": briefs,
            "stories": self.stories[: cut.full],
            "more": [{"text": s["headline"], "is_update": s["is_update"], "anchor": s["anchor"]} for s in shown],
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


def online_url(settings: Settings, page: str | None) -> str | None:
    """Return the URL of this digest online (settings.base_url + its page in the outbox), if both are known."""
    base = safe_url(settings.base_url)
    if not base or not page:
        return None
    return safe_url(base.rstrip("/") + "/" + page.lstrip("/"))


def next_page(outbox: Path, day: date) -> str:
    """Return the outbox-relative page the next digest of `day` will be written to ('2026-12-02/digest.html')."""
    return f"{day.isoformat()}/{next(_free_stems(Path(outbox) / day.isoformat()))}.html"


def _free_stems(folder: Path) -> Iterator[str]:
    """Yield digest, digest-2, digest-3, ... skipping stems that have any file in `folder`."""
    for number in itertools.count(1):
        stem = "digest" if number == 1 else f"digest-{number}"
        if not any((folder / f"{stem}.{ext}").exists() for ext in FORMATS):
            yield stem


def _domain(settings: Settings) -> str:
    address = parseaddr(settings.mail_from or "")[1]
    domain = address.rpartition("@")[2]
    return domain if _DOMAIN.match(domain) else "digest.localhost"


def message_id_for(digest: Digest, content: str, settings: Settings) -> str:
    """Return a Message-ID that depends only on the digest's date and content."""
    digest_hash = hashlib.sha256(content.encode("utf-8")).hexdigest()[:32]
    return f"<{digest.date:%Y%m%d}.{digest_hash}@{_domain(settings)}>"


def _headers(msg: EmailMessage, subject: str, message_id: str, digest: Digest, settings: Settings) -> None:
    msg["Subject"] = subject
    if settings.mail_from:  # required to send; a digest only kept in the outbox may have none
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


def render(digest: Digest, settings: Settings, templates: Path | None = None, page: str | None = None) -> Rendered:
    """Render `digest` to every format; trim the e-mail to settings.max_email_bytes.

    `templates` is a folder with digest.html, digest.txt, index.html and digest.css (default: the
    repository's templates/). `page` is where the digest will be in the outbox (see `next_page`): with
    settings.base_url set, the e-mail links to it online. Stories are ordered by the number of outlets
    reporting them, then the newest first, in every format. The html and text outputs are always
    complete; only the e-mail drops stories (keeping their headlines) when it would exceed the budget.
    Raises RenderError.
    """
    digest = replace(digest, stories=tuple(ordered(digest.stories)))
    renderer = _Renderer(digest, settings, templates or TEMPLATES, page)
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
        eml = b""  # the whole digest's message is over budget: free it before trying smaller ones
        # first drop full stories (all headlines kept); then, if even that is too big, headlines
        sizes: dict[_Cut, bytes] = {}  # only the tries that fit: one that does not can be many MB

        def fits(cut: _Cut) -> bool:
            message = email(cut)
            if len(message) > budget:
                return False
            sizes[cut] = message
            return True

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


def _claim(folder: Path, data: bytes) -> str:
    """Atomically create the first free digest[-N].html in folder with `data`; return its stem."""
    tmp = write_temp(folder, data)
    try:
        for stem in _free_stems(folder):
            try:
                # link() fails if the name exists, so two runs on the same day never share a name
                os.link(tmp, folder / f"{stem}.html")
                return stem
            except FileExistsError:
                pass
        raise AssertionError("unreachable: _free_stems never ends")
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
        fsync_dir(folder)
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
