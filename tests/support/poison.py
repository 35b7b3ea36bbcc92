"""Poison inputs for ingest: files built to be slow, huge, truncated, half-written or oddly packed.

Each case is one inbox file and what must become of it: `included` (digested, maybe with a
warning), `failed` (with a reason containing a given word) or `waiting` (still being written: left
for the next run). `run_poison` drops them among good articles and runs the real pipeline once;
`measure_each` reads and cleans each file alone in a forked child and reports its CPU time (the
budget: wall time on a shared machine counts other processes' turns), wall time and peak memory; `limited_run` runs the whole inbox under an address-space limit.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SENTENCES = (
    "The {topic} was approved by the regional council late on Tuesday after a debate of many months.",
    "Supporters of the {topic} said it would help thousands of residents in the northern districts.",
    "Opponents argued that the cost of the {topic} had been badly underestimated by the planners.",
    "The council promised to publish the full figures for the {topic} before the end of the year.",
    "Work on the {topic} is expected to begin in the spring, officials said on Wednesday morning.",
    "A petition against the {topic} gathered more than four thousand signatures in a fortnight.",
    "The mayor called the {topic} the most important decision of her first term in office.",
    "Engineers will survey the ground for the {topic} over the winter months, the council said.",
)
TOPICS = (
    "harbour bridge", "tram depot", "flood barrier", "school kitchen", "cycle tunnel", "library annex",
    "wind farm", "bus station", "sea wall", "market hall", "ferry terminal", "water works",
    "fire station", "rail viaduct", "city archive",
)


def article_body(topic: str) -> str:
    """Return four paragraphs about one topic: a plausible article, distinct per topic."""
    lines = [s.format(topic=topic) for s in SENTENCES]
    return "\n\n".join(" ".join(lines[i : i + 2]) for i in range(0, len(lines), 2))


def article_html(topic: str) -> str:
    paras = "".join(f"<p>{p}</p>\n" for p in article_body(topic).split("\n\n"))
    return (
        f"<html><head><title>Council backs the {topic}</title></head><body><article>"
        f"<h1>Council backs the {topic}</h1>\n{paras}</article></body></html>"
    )


@dataclass(frozen=True)
class Poison:
    """One inbox file and what must become of it."""

    name: str
    expect: str  # included, failed or waiting
    reason: str = ""  # a word the failure reason (or, for included files, a warning) must contain


def _email(headers: str, body: str) -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode("utf-8")


def write_poison(inbox: Path, slow: bool = False) -> list[Poison]:
    """Write every poison input into `inbox` (with old modification times, but for the half-written one).

    `slow` adds a page at the edge of the tag budget: the costliest file a run accepts (for the bench).
    """
    inbox.mkdir(parents=True, exist_ok=True)
    cases: list[Poison] = []
    topics = iter(TOPICS)

    def put(name: str, data: bytes | str, expect: str, reason: str = "") -> None:
        (inbox / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        cases.append(Poison(name, expect, reason))

    def text(title: str, date: str = "2026-11-20") -> str:
        return f"Title: {title}\nOutlet: Poison Post\nDate: {date}\n\n{article_body(next(topics))}\n"

    # dates no calendar code can hold
    put("date-year-one.txt", text("Council backs a plan", "0001-01-01"), "included", "out of range")
    put("date-year-9999.txt", text("Council backs another plan", "9999-12-31T23:59:59+14:00"), "included", "out of range")
    # cost bombs: refused by a budget before any parser runs
    put("million-p.html", "<html><body>" + "<p>x</p>" * 500_000 + "</body></html>", "failed", "tags")
    if slow:
        edge = "".join(f"<p>Line {i} of a page built to cost the most a page within budget can.</p>" for i in range(5_900))
        put("tag-budget-edge.html", f"<html><body>{edge}</body></html>", "included")
    put("million-lines.txt", "a\n" * 1_000_000, "failed", "lines")
    subject = "Subject: " + "\n ".join(["x"] * 1_300_000) + "\n"  # a 3.9 MB folded Subject
    put("folded-subject.eml", _email("From: Poison Post <news@poison.example>\n" + subject, article_body(next(topics))),
        "included", "cut")
    junk = "".join(f"X-Junk-{i}: {'y' * 10}\n" for i in range(20_000))
    put("header-flood.eml", _email("From: a@poison.example\nSubject: Flood\n" + junk, article_body(next(topics))),
        "failed", "header section")
    put("long-title.txt", text("Long " + "title " * 19_000), "included", "title")
    parts = "".join(f"--b\nContent-Type: text/plain\n\npart {i}\n" for i in range(2_000))
    put("many-parts.eml", _email('Subject: Parts\nContent-Type: multipart/mixed; boundary="b"', parts + "--b--\n"),
        "failed", "MIME parts")
    nested = article_body(next(topics))
    for depth in range(40):
        nested = f"Subject: level {depth}\nContent-Type: message/rfc822\n\n{nested}" if depth else f"Subject: inner\n\n{nested}"
    put("nested-forwards.eml", nested, "failed", "nested")
    # gzip: cut short, several members, garbage after the end
    page = article_html(next(topics)).encode()
    packed = gzip.compress(page)
    put("cut-short.html.gz", packed[: int(len(packed) * 0.88)], "failed", "truncated")
    half = len(page) // 2
    put("two-members.html.gz", gzip.compress(page[:half]) + gzip.compress(page[half:]), "included")
    put("trailing-junk.html.gz", gzip.compress(article_html(next(topics)).encode()) + b"JUNK" * 100, "failed", "damaged")
    # e-mails whose article is not the first text/plain body
    put("text-attachment.eml", _email(
        'From: Desk <desk@poison.example>\nSubject: Article attached\nContent-Type: multipart/mixed; boundary="xx"',
        "--xx\nContent-Type: text/plain\n\nSee the attached article.\n"
        '--xx\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: attachment; filename="article.txt"\n\n'
        f"{article_body(next(topics))}\n--xx--\n"), "included")
    encoded = base64.encodebytes(article_html(next(topics)).encode()).decode()
    put("html-attachment.eml", _email(
        'From: Desk <desk@poison.example>\nSubject: Page attached\nContent-Type: multipart/mixed; boundary="xx"',
        "--xx\nContent-Type: text/plain\n\nFYI\n"
        '--xx\nContent-Type: application/octet-stream; name="story.html"\nContent-Transfer-Encoding: base64\n'
        f'Content-Disposition: attachment; filename="story.html"\n\n{encoded}--xx--\n'), "included")
    put("forwarded.eml", _email(
        'From: Me <me@poison.example>\nSubject: Fwd: Council backs a plan\nContent-Type: multipart/mixed; boundary="xx"',
        "--xx\nContent-Type: text/plain\n\nThought you would like this.\n"
        "--xx\nContent-Type: message/rfc822\n\nFrom: Harbour Weekly <news@harbour.example>\n"
        "Subject: Council backs the plan\nDate: Mon, 23 Nov 2026 08:00:00 +0000\n\n"
        f"{article_body(next(topics))}\n--xx--\n"), "included")
    put("wrong-boundary.eml", _email(
        'From: Desk <desk@poison.example>\nSubject: Broken MIME\nContent-Type: multipart/alternative; boundary="declared"',
        f"--actual\nContent-Type: text/plain\n\n{article_body(next(topics))}\n--actual--\n"), "included")
    # a copy still under way: 35% of the file, modified just now
    whole = article_html(next(topics)).encode()
    put("still-copying.html", whole[: int(len(whole) * 0.35)], "waiting")
    past = time.time() - 3600
    for case in cases:
        if case.expect != "waiting":
            os.utime(inbox / case.name, (past, past))
    return cases


@dataclass(frozen=True)
class Outcome:
    case: Poison
    got: str  # included, duplicate, failed, waiting, missing
    reason: str  # the failure reason, or the warnings reported for the file
    still_there: bool = True  # the file is still in the inbox (nothing here may delete one)
    within_budget: bool = True  # read and cleaned alone in under MAX_SECONDS and MAX_MB (when measured)

    @property
    def handled(self) -> bool:
        word = self.case.reason.lower()
        if not self.within_budget:
            return False
        if self.case.expect == "included":
            return self.got in ("included", "duplicate") and word in self.reason.lower()
        return self.got == self.case.expect and word in self.reason.lower()


GOOD = (
    (
        "Title: Orchard cooperative buys the old cider mill\n\nThe orchard cooperative in Dunmere bought the old cider "
        "mill on Friday for an undisclosed sum. Its members plan to press apples there again from next autumn.\n\n"
        "The mill closed eleven years ago when its owner retired. Volunteers have kept the wheel turning since then.\n"
    ),
    (
        "Title: Glass museum reopens after a long restoration\n\nThe glass museum on Quay Street reopened on Saturday "
        "after three years of restoration work on its roof and galleries. Visitors queued from early morning.\n\n"
        "Curators moved twelve thousand objects during the works. Not a single piece was broken, the director said.\n"
    ),
    (
        "Title: Ski lift on Mount Arden to run on solar power\n\nThe ski lift on Mount Arden will run on solar power "
        "from December, its operator announced. Panels were fitted along the lower station over the summer.\n\n"
        "Skiers will notice no difference, the operator said, but the lift will save about forty tonnes of carbon.\n"
    ),
)


def good_files(inbox: Path, n: int = 3) -> list[str]:
    """Write n good articles (distinct stories) with old modification times; return their names."""
    names = []
    past = time.time() - 3600
    for i in range(n):
        name = f"good-{i}.txt"
        (inbox / name).write_text(GOOD[i % len(GOOD)])
        os.utime(inbox / name, (past, past))
        names.append(name)
    return names


def run_poison(work: Path, settle_seconds: float = 30.0, slow: bool = False) -> tuple[list[Outcome], list[str]]:
    """Drop the poison among good articles, run the pipeline once; say what became of each file."""
    from digest import pipeline
    from digest.settings import load_settings
    from digest.state import StateStore

    inbox = work / "inbox"
    cases = write_poison(inbox, slow)
    cases += [Poison(name, "included") for name in good_files(inbox)]
    settings = load_settings(None, inbox=inbox, outbox=work / "outbox", state=work / "state", settle_seconds=settle_seconds)
    lines: list[str] = []
    pipeline.run(settings, report=lines.append)
    with StateStore(settings.db_path) as store:
        rows = {Path(a["path"]).name: a for a in store.articles()}
    outcomes = []
    for case in cases:
        row = rows.get(case.name)
        notes = " ".join(line for line in lines if f"/{case.name}:" in line)
        there = (inbox / case.name).exists()
        if row:
            outcomes.append(Outcome(case, row["status"], row["reason"] or notes, there))
        elif any(line.startswith("  waiting:") for line in lines if f"/{case.name}:" in line):
            outcomes.append(Outcome(case, "waiting", notes, there))
        else:
            outcomes.append(Outcome(case, "missing", notes, there))
    return outcomes, lines


MAX_SECONDS = 5.0  # any single file, read and cleaned alone
MAX_MB = 300.0


def bench_outcomes(work: Path) -> list[Outcome]:
    """Everything bench/faults.py reports for the poison inputs, as outcomes of its bad-input table.

    One run of the pipeline over the poison among good articles (each file's fate), each file
    read and cleaned alone in a forked child (time and peak memory over the budget = not handled),
    and one run under a 2 GB address-space limit that must digest the good articles.
    """
    import dataclasses

    outcomes, _ = run_poison(work / "run", slow=True)
    costs = {c.name: c for c in measure_each([work / "run" / "inbox" / o.case.name for o in outcomes])}
    measured = []
    for o in outcomes:
        cost = costs[o.case.name]
        ok = cost.cpu_seconds < MAX_SECONDS and cost.peak_mb < MAX_MB and not cost.outcome.startswith(("CRASHED", "child died"))
        note = f"{cost.cpu_seconds:.1f} s CPU ({cost.seconds:.1f} s wall), {cost.peak_mb:.0f} MB; {o.reason.strip()}"
        measured.append(dataclasses.replace(o, reason=note, within_budget=ok))
    limited = work / "limited"
    for case in write_poison(limited / "inbox"):
        if case.expect == "waiting":
            (limited / "inbox" / case.name).unlink()
    names = good_files(limited / "inbox")
    code, result, err = limited_run(limited)
    status: dict[str, str] = {}
    if code == 0:
        data = json.loads(Path(str(result["path"])).with_suffix(".json").read_text(encoding="utf-8"))
        status = {Path(a["path"]).name: a["status"] for a in data["articles"]}
    good = sum(status.get(n) == "included" for n in names)
    got = "included" if code == 0 and good == len(names) else "failed"
    reason = f"exit {code}, {good}/{len(names)} good articles digested, peak {result.get('peak_mb', '?')} MB" + (
        f"; {err.strip().splitlines()[-1]}" if code and err.strip() else "")
    measured.append(Outcome(Poison("run under a 2 GB memory limit", "included"), got, reason))
    return measured


# --- per-file time and memory ---------------------------------------------------------------

def _process_one(path: Path) -> str:
    """Read, parse and clean one file the way a run does; return the outcome in a few words."""
    from digest import clean
    from digest.errors import InputError
    from digest.ingest import Budget, kind_of, parse_safely, read_bytes

    budget = Budget()
    try:
        raw = parse_safely(read_bytes(path, budget.max_bytes), path, kind_of(path) or "text", budget)
        clean.clean_article(raw)
    except InputError as err:
        return f"failed: {err.reason}"
    return "cleaned"


@dataclass(frozen=True)
class Cost:
    name: str
    seconds: float  # wall clock, which on a shared machine includes other processes' turns
    cpu_seconds: float  # the child's own CPU time (user + system): the budget is judged on this
    peak_mb: float  # the child's peak resident memory above the parent's at the fork
    outcome: str


def _memory_kb(field: str) -> int:
    """Return a field of /proc/self/status in kB (VmRSS now, VmHWM the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure_each(paths: list[Path]) -> list[Cost]:
    """Process each file alone in a forked child (imports already warm); return its time and peak memory."""
    from digest import clean  # noqa: F401 - warm the heavy imports once, before forking
    from digest.clean import html

    html.extract("<html><body><p>warm up the parser once</p></body></html>", Path("warm.html"))
    costs = []
    for path in paths:
        read, write = os.pipe()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: one file, then exit without cleanup
            os.close(read)
            base = _memory_kb("VmRSS")
            try:
                outcome = _process_one(path)
            except BaseException as exc:
                outcome = f"CRASHED: {exc.__class__.__name__}: {exc}"
            grown = max(0, _memory_kb("VmHWM") - base)  # a forked child's peak starts at its size
            os.write(write, f"{grown}|{outcome}".encode("utf-8", "replace")[:500])
            os._exit(0)
        os.close(write)
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        cpu = usage.ru_utime + usage.ru_stime
        with os.fdopen(read, "rb") as fh:
            grown_kb, _, outcome = fh.read().decode("utf-8", "replace").partition("|")
        if not outcome:
            outcome, grown_kb = f"child died (status {status})", "0"
        costs.append(Cost(path.name, seconds, cpu, int(grown_kb) / 1024, outcome))
    return costs


LIMITED = r"""
import json, resource, sys
from pathlib import Path
limit = int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from digest import pipeline
from digest.settings import load_settings
s = load_settings(None, inbox=Path(sys.argv[1]), outbox=Path(sys.argv[2]), state=Path(sys.argv[3]), settle_seconds=30)
r = pipeline.run(s, report=lambda line: None)
print(json.dumps({"path": str(r.path), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def limited_run(work: Path, limit_bytes: int = 2 << 30) -> tuple[int, dict[str, object], str]:
    """Run the pipeline on `work`/inbox in a child under an address-space limit; return (exit code, result, stderr)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", LIMITED, str(work / "inbox"), str(work / "outbox"), str(work / "state"), str(limit_bytes)],
        capture_output=True, text=True, timeout=900, env=env, check=False,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else {}
    return out.returncode, result, out.stderr[-3000:]


# --- a large inbox ---------------------------------------------------------------------------

def large_inbox(inbox: Path, corpus: Path, files: int) -> int:
    """Fill `inbox` with `files` real articles from the corpus (text and HTML, repeated under new names); return bytes."""
    import shutil

    sources = sorted((corpus / "multi-news-dev" / "docs").glob("*.txt")) + sorted((corpus / "cleaning-dev" / "text").glob("*.txt"))
    sources += sorted((corpus / "cleaning-dev" / "html").glob("*.html.gz"))
    sources += sorted((corpus / "extraction-benchmark" / "html").glob("*.html.gz"))
    inbox.mkdir(parents=True, exist_ok=True)
    past = time.time() - 3600
    total = 0
    for n in range(files):
        source = sources[(n * 11) % len(sources)]  # a stride coprime with the count: every kind, in proportion
        suffix = ".html.gz" if source.name.endswith(".gz") else ".txt"
        target = inbox / f"{n // 1000:02d}" / f"{n:05d}-{source.name.split('.')[0]}{suffix}"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
        os.utime(target, (past, past))
        total += target.stat().st_size
    return total
