"""Count what a reader trips on in a briefing built from development pages through the real pipeline.

    .venv/bin/python bench/briefing.py                      # ~40 cleaning-dev + seeds + ~40 headlines-dev pages
    .venv/bin/python bench/briefing.py --show               # also print every story as the digest tells it
    .venv/bin/python bench/briefing.py --screenshots DIR    # and screenshot the HTML at phone and desktop width

The pages (a seeded sample, half of each set as the served HTML, half as the copied plain text; every
headlines-dev page with reader comments is in) go into a temporary inbox and through `pipeline.run`
(the direct steps, no Prefect). The digest.json it writes is then checked bullet by bullet against
what people marked on the same pages: the article body (cleaning-dev and headlines-dev ground truth,
the seeds' line labels) and the reader comments (headlines-dev). Counted defects:

  empty stories          a story with no summary
  pronoun-first stories  a story whose first bullet opens on a pronoun ("His flight was...")
  pronoun-first bullets  any bullet that does
  unnamed quotes         a bullet quoting "he said" before any bullet of the story names a person
  quote-heavy bullets    a bullet mostly inside quotation marks; and stories with more than one
  quote-heavy, unnamed   a quote-heavy bullet whose speaker is a pronoun or missing
  comment bullets        a bullet from a block people labelled as reader comments
  furniture bullets      a bullet that is neither in the article body nor in the comments people marked
  fragments / glued      a bullet that is not one whole sentence of one block: glued sentence ends
                         ("values.Mr."), a time stamp inside, an unbalanced bracket, a lower-case start
  headline right         a single-page story's headline matches the one people labelled (word tokens)
  outlet right           every source whose page declares its URL (og:url, canonical) shows that site (the
                         check of bench/headlines.py), or else shows the page's own og:site_name
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trafilatura import extract_metadata
from trafilatura.utils import load_html

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.meta.outlet import declared_name, registered_domain  # noqa: E402
from digest.pipeline import run  # noqa: E402
from digest.settings import load_settings  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from headlines import outlet_right as names_outlet  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
CLEANING = CORPUS / "cleaning-dev"
HEADLINES = CORPUS / "headlines-dev"
SEEDS = CORPUS / "seeds"
SEED = 20
CLEANING_PAGES = 40
HEADLINE_PAGES = 40
WORD = re.compile(r"\w+")
# third person: they stand for someone or something named elsewhere ("I" and "we" in a blog are its author)
PRONOUNS = frozenset("he she they it his her their its him them".split())
_SAID = r"(?:said|says|added|told|explained|recalled|continued|asked|noted|wrote)"
_PRONOUN_SAID = re.compile(rf"(?i)\b(?:(?:he|she|they)\s+{_SAID}|{_SAID}\s+(?:he|she|they))\b")
_NAME = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Sen|Rep|Gov|Gen|President|Prime Minister)\.?\s+[A-Z]|\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+)")
_GLUED = re.compile(r"[a-z]{2}[.!?][A-Z][a-z]")
_STAMP = re.compile(r"(?i)\b\d{1,2}:\d\d\s*(?:am|pm|a\.m\.|p\.m\.)|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day,\s+\w+\s+\d{1,2},\s+\d{4}")
# a quotation's speaker named beside the verb: '..., Walter said.', 'said Dr. Regan', not 'he said'
_NAMED_SPEAKER = re.compile(rf"\b(?!(?:He|She|They|It)\b)[A-Z][\w.'’-]+\s+{_SAID}\b|\b{_SAID}\s+(?!(?:he|she|they)\b)[A-Z]")
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
SCREEN_WIDTHS = {"phone": 390, "desktop": 1280}


def tokens(text: str) -> list[str]:
    return [t.lower() for t in WORD.findall(text)]


def grams(words: list[str], n: int = 3) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(max(len(words) - n + 1, 1))} if words else set()


def inside(bullet: str, text_grams: set[tuple[str, ...]], share: float = 0.6) -> bool:
    """Tell whether most of a bullet's word 3-grams occur in a text (given as its 3-gram set)."""
    mine = grams(tokens(bullet))
    return bool(mine) and len(mine & text_grams) >= share * len(mine)


@dataclass
class Truth:
    """What people marked on one page: its article body, its reader comments, its headline."""

    body: set[tuple[str, ...]]
    comments: set[tuple[str, ...]]
    headline: str | None = None


def pick_pages(work: Path) -> dict[str, Truth]:
    """Copy the sampled pages into `work` (the inbox) and return their truth by file name."""
    rng = random.Random(SEED)
    truth: dict[str, Truth] = {}

    cleaning = json.loads((CLEANING / "ground-truth.json").read_text(encoding="utf-8"))
    for n, cid in enumerate(sorted(rng.sample(sorted(cleaning), CLEANING_PAGES))):
        name = _copy(CLEANING, cid, f"cd-{cid}", work, html=n % 2 == 0)
        truth[name] = Truth(grams(tokens(cleaning[cid]["articleBody"])), set())

    labelled = json.loads((HEADLINES / "truth.json").read_text(encoding="utf-8"))
    with_comments = sorted(h for h in labelled if labelled[h]["comments"])
    others = rng.sample(sorted(h for h in labelled if not labelled[h]["comments"]), max(HEADLINE_PAGES - len(with_comments), 0))
    for n, hid in enumerate(sorted(with_comments + others)):
        page = labelled[hid]
        name = _copy(HEADLINES, hid, f"hd-{hid}", work, html=n % 2 == 0)
        comments = page["comments"] if isinstance(page["comments"], list) else [page["comments"]]
        truth[name] = Truth(grams(tokens(page["articleBody"])), grams(tokens(" ".join(comments))), page["headline"])

    labels = json.loads((SEEDS / "labels.json").read_text(encoding="utf-8"))["files"]
    for path in sorted(SEEDS.glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        body = " \n ".join(lines[x["line"] - 1] for x in labels[path.name] if x["label"] in ("body", "heading", "title", "either"))
        shutil.copyfile(path, work / f"seed-{path.name}")
        truth[f"seed-{path.name}"] = Truth(grams(tokens(body)), set())
    return truth


def _copy(folder: Path, page: str, stem: str, work: Path, html: bool) -> str:
    if html:
        name = f"{stem}.html"
        (work / name).write_bytes(gzip.decompress((folder / "html" / f"{page}.html.gz").read_bytes()))
    else:
        name = f"{stem}.txt"
        shutil.copyfile(folder / "text" / f"{page}.txt", work / name)
    return name


def quote_share(text: str) -> float:
    """Return the share of a sentence's characters inside quotation marks."""
    return sum(len(m) for m in _QUOTED.findall(text)) / max(len(text), 1)


def first_word(text: str) -> str:
    """Return a sentence's first word, lower-cased ('' when it opens on a quotation: the quote's speaker counts)."""
    words = tokens(text) if text[:1].isalnum() else []
    return words[0] if words else ""


def page_outlet(name: str) -> tuple[str | None, str | None]:
    """Return (URL, og:site_name) that a sampled page's served HTML declares, by its inbox name (seeds: none).

    A page copied as text is checked against its own HTML twin: the corpus holds both.
    """
    folder = {"cd": CLEANING, "hd": HEADLINES}.get(name.split("-", 1)[0])
    if folder is None:
        return None, None
    path = folder / "html" / f"{Path(name.split('-', 1)[1]).stem}.html.gz"
    tree = load_html(gzip.decompress(path.read_bytes())) if path.exists() else None
    if tree is None:
        return None, None
    meta = extract_metadata(tree, extensive=False)
    return (meta.url if meta else None), declared_name(tree)


def outlet_right(story: dict[str, Any], truth: dict[str, Truth]) -> bool | None:
    """Tell whether every source of a story whose page declares its URL or its site name shows that outlet.

    The check of `bench/headlines.py` (the registered domain, or a name spelling it) where the page
    declares its URL; else the shown name must be the page's og:site_name (word tokens). None when no
    source's page declares either.
    """
    verdicts = []
    for source in story["sources"]:
        url, site = page_outlet(Path(source["path"]).name)
        shown = source["outlet"] or ""
        if registered_domain(url):
            verdicts.append(names_outlet(shown, url or ""))
        elif site:
            verdicts.append(bool(shown) and tokens(shown) == tokens(site))
    return all(verdicts) if verdicts else None


def headline_right(story: dict[str, Any], truth: dict[str, Truth]) -> bool | None:
    """Tell whether a one-page story's headline is the one people labelled (word tokens); None if unlabelled."""
    names = {Path(s["path"]).name for s in story["sources"]}
    labelled = [truth[n].headline for n in names if n in truth and truth[n].headline]
    if len(names) != 1 or not labelled:
        return None
    return tokens(story["headline"]) == tokens(labelled[0] or "")


CHECKS: dict[str, Callable[[str], bool]] = {
    "glued sentence ends": lambda t: bool(_GLUED.search(t)),
    "time stamp inside": lambda t: bool(_STAMP.search(t)),
    "unbalanced bracket": lambda t: t.count("(") != t.count(")"),
    "lower-case start": lambda t: t[:1].islower(),
}


def count(data: dict[str, Any], truth: dict[str, Truth], show: bool) -> Counter[str]:
    """Count every defect of a digest.json against the pages' truth."""
    found: Counter[str] = Counter()
    found["stories"] = len(data["stories"])
    for story in data["stories"]:
        path_of = {s["article"]: Path(s["path"]).name for s in story["sources"]}
        bullets = [s["text"] for s in story["sentences"]]
        found["bullets"] += len(bullets)
        found["empty stories"] += not bullets
        found["pronoun-first stories"] += bool(bullets) and first_word(bullets[0]) in PRONOUNS
        heavy = 0
        named = False
        if show:
            print(f"\n## {story['headline']}  [{story['outlets']} outlet(s)]")
        for k, sentence in enumerate(story["sentences"]):
            text = sentence["text"]
            marks = []
            if first_word(text) in PRONOUNS:
                marks.append("pronoun-first")
            if _PRONOUN_SAID.search(text) and not named and not _NAME.search(_PRONOUN_SAID.split(text)[0]):
                marks.append("unnamed quote")
            if quote_share(text) > 0.5:
                heavy += 1
                marks.append("quote-heavy")
                if not _NAMED_SPEAKER.search(_QUOTED.sub(" ", text)):
                    marks.append("quote-heavy, unnamed")
            named = named or bool(_NAME.search(_QUOTED.sub("", text)))
            page = truth.get(path_of.get(sentence["article"], ""))
            if page is not None:
                found["bullets with truth"] += 1
                if page.comments and inside(text, page.comments) and not inside(text, page.body):
                    marks.append("comment")
                elif not inside(text, page.body, 0.5):
                    marks.append("furniture")
            marks += [name for name, check in CHECKS.items() if check(text)]
            for m in marks:
                found[{"comment": "comment bullets", "furniture": "furniture bullets"}.get(m, m)] += 1
            if any(m in CHECKS for m in marks):
                found["fragments / glued"] += 1
            if show:
                print(f"  {k + 1}. {text}" + (f"   <-- {', '.join(marks)}" if marks else ""))
        found["stories with 2+ quote-heavy bullets"] += heavy > 1
        for label, check in (("headline", headline_right), ("outlet", outlet_right)):
            verdict = check(story, truth)
            if verdict is not None:
                found[f"{label} checked"] += 1
                found[f"{label} right"] += verdict
    return found


def screenshots(html: Path, folder: Path) -> list[Path]:
    """Screenshot the HTML digest at phone and desktop width with headless chromium; return the PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    out = []
    for label, width in SCREEN_WIDTHS.items():
        png = folder / f"digest-{label}.png"
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                    "--hide-scrollbars", f"--window-size={width},{4000 if width < 800 else 2400}",
                    f"--screenshot={png}", html.resolve().as_uri(),
                ],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        out.append(png)
    return out


ORDER = (
    "stories", "bullets", "empty stories", "pronoun-first stories", "pronoun-first", "unnamed quote",
    "quote-heavy", "stories with 2+ quote-heavy bullets", "quote-heavy, unnamed", "bullets with truth",
    "comment bullets", "furniture bullets", "fragments / glued", *CHECKS, "headline checked", "headline right",
    "outlet checked", "outlet right",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", action="store_true", help="print every story's bullets with their defects")
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="write phone and desktop PNGs of the HTML digest here")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build in DIR (kept) instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        if work.exists() and args.keep:
            shutil.rmtree(work)
        inbox = work / "inbox"
        inbox.mkdir(parents=True)
        truth = pick_pages(inbox)
        settings = load_settings(
            None, inbox=inbox, outbox=work / "outbox", state=work / "state", settle_seconds=0, workers=1,
            base_url="https://digest.example/",
        )  # fmt: skip
        result = run(settings, report=lambda _: None)
        if result.path is None:
            raise SystemExit(f"no digest written: {result.message}")
        html = Path(result.path)
        data = json.loads(html.with_suffix(".json").read_text(encoding="utf-8"))
        found = count(data, truth, args.show)
        print(f"briefing of {len(truth)} pages ({CLEANING_PAGES} cleaning-dev, seeds, headlines-dev): defects counted")
        for key in ORDER:
            label = {"pronoun-first": "pronoun-first bullets", "unnamed quote": "unnamed quotes", "quote-heavy": "quote-heavy bullets"}.get(key, key)
            print(f"  {label:<38} {found[key]}")
        if args.screenshots:
            for png in screenshots(html, args.screenshots):
                print(f"wrote {png}")


if __name__ == "__main__":
    main()
