"""The bad-input matrix: every kind of file the pipeline must survive, dropped among good articles.

`run_matrix` writes them into an inbox, runs the pipeline once and says what became of each file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SENTENCES = (
    "The regional council voted on {topic} late on Tuesday, ending a debate that had run for months.",
    "Supporters said {topic} would help thousands of residents every single day.",
    "Opponents argued that the cost of {topic} had been badly underestimated and asked for an audit.",
    "The council promised to publish the full figures for {topic} before the end of the year.",
    "Work on {topic} is expected to begin in the spring, officials said on Wednesday.",
    "A petition against {topic} gathered more than four thousand signatures in a fortnight.",
    "Local shop owners were divided, with some fearing months of disruption during construction.",
    "The mayor called {topic} the most important decision of her first term in office.",
    "An independent study last year found that {topic} would pay for itself within two decades.",
    "Residents of the northern districts asked why their neighbourhoods had been left out again.",
    "The opposition leader said she would keep campaigning until the plan for {topic} was changed.",
    "Engineers will survey the ground along the route over the winter months.",
    "Two councillors abstained, saying they had not been given enough time to read the documents.",
    "Funding for {topic} will come partly from the national government and partly from local bonds.",
    "A public meeting about {topic} is planned for the second week of January at the town hall.",
    "Critics pointed to a similar project in a nearby city that ran three years late.",
)


def good_article(title: str, topic: str, outlet: str = "Test Courier") -> str:
    """Return a small, plausible article whose sentences depend on its title (so copies differ)."""
    import random

    rng = random.Random(title)
    picked = rng.sample(SENTENCES, 8)
    paras = [" ".join(picked[i : i + 2]).format(topic=topic) for i in range(0, 8, 2)]
    return f"Title: {title}\nOutlet: {outlet}\n\n" + "\n\n".join(paras) + "\n"


@dataclass(frozen=True)
class Case:
    """One inbox file and what must become of it."""

    name: str  # file name in the inbox
    expect: str  # "included", "failed", "ignored" or "waiting"
    reason: str = ""  # a word the failure reason must contain


def write_bad_inputs(inbox: Path, outside: Path, cap: int) -> list[Case]:
    """Write every kind of bad input the pipeline must survive into `inbox`; return the cases."""
    import os
    import random

    rng = random.Random(1)
    inbox.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def put(name: str, data: bytes | str, expect: str, reason: str = "") -> None:
        path = inbox / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        cases.append(Case(name, expect, reason))

    put("empty.txt", b"", "failed", "empty")
    put("blank.txt", b"  \n\n\t  \n", "failed", "whitespace")
    put("image.txt", b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(3000)), "failed", "PNG")
    put("report.html", b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(3000)), "failed", "PDF")
    put("archive.md", b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(3000)), "failed", "ZIP")
    put("noise.txt", bytes(rng.randrange(256) for _ in range(5000)), "failed", "binary")
    put("nul.txt", good_article("Nul bytes", "the bridge").encode() + b"\x00\x00 more", "failed", "NUL")
    put("broken-utf8.txt", good_article("Broken bytes", "the harbour wall").encode() + b"\xff\xfe\xc3(", "included")
    put("cyrillic.txt", "Президент освободил заключенных после переговоров с посланником США в Минске. "
        "Переговоры продолжались два дня, сообщили официальные лица в понедельник вечером.\n".encode("cp1251"), "included")
    put("latin1.txt", good_article("José Müller wins", "the régional tramway", "Le Petit Écho").encode("latin-1"), "included")
    put("utf16.txt", good_article("UTF-16 article", "the coastal path").encode("utf-16"), "included")
    put("huge.txt", b"word " * (cap // 5 + 100), "failed", "cap")
    put("one-line.txt", b"x" * (cap + 10), "failed", "cap")
    put("nested.html", "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "</body></html>", "failed", "")
    put("malformed.html", "<html><body><p>Unclosed <b>bold <i>italic <p>" + good_article("Malformed", "the dam") + "<div></span></html", "included")
    levels = "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    bomb = f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">{levels}]><html><body><p>&lol9;</p></body></html>'
    put("entity-bomb.html", bomb, "failed", "")
    put("no-article.html", "<html><head><title>Home</title></head><body><nav><a href='/'>Home</a> <a href='/x'>News</a></nav>"
        "<footer>© 2026 Example</footer></body></html>", "failed", "")
    (inbox / "vanished.txt").symlink_to(inbox / "gone-before-reading.txt")
    cases.append(Case("vanished.txt", "failed", "vanished"))
    os.mkfifo(inbox / "pipe.txt")  # unreadable as a file: root can read anything else
    cases.append(Case("pipe.txt", "failed", "regular"))
    secret = outside / "secret.txt"
    secret.write_text(good_article("Secret", "the vault"))
    (inbox / "outside-link.txt").symlink_to(secret)
    cases.append(Case("outside-link.txt", "failed", "outside"))
    put("name with spaces é ü.txt", good_article("Spaces in the name", "the library roof"), "included")
    put("line\nbreak.txt", good_article("Newline in the name", "the town square"), "included")
    for name in ("draft.txt.part", "upload.tmp", "notes.txt~", ".hidden.txt"):
        put(name, good_article("Temporary", "the ignored file"), "ignored")
    put("still-writing.txt", good_article("Still writing", "the unfinished file"), "waiting")
    return cases


@dataclass(frozen=True)
class Outcome:
    case: Case
    got: str  # what became of the file: included, duplicate, failed, ignored, waiting, missing
    reason: str
    still_there: bool

    @property
    def handled(self) -> bool:
        if self.case.expect == "failed":
            return self.got == "failed" and self.case.reason.lower() in self.reason.lower() and bool(self.reason)
        if self.case.expect == "included":
            return self.got in ("included", "duplicate")
        return self.got == self.case.expect


def run_matrix(work: Path, cap: int = 200_000) -> list[Outcome]:
    """Drop every bad input among good articles, run the pipeline once, say what became of each."""
    import os
    import time

    from digest import pipeline
    from digest.ingest.scan import safe_text
    from digest.settings import load_settings
    from digest.state import StateStore

    inbox, outside = work / "inbox", work / "outside"
    outside.mkdir(parents=True, exist_ok=True)
    cases = write_bad_inputs(inbox, outside, cap)
    for i, topic in enumerate(("the river tram", "the new stadium", "the school meals plan")):
        (inbox / f"good-{i}.txt").write_text(good_article(f"Council decides on {topic}", topic, f"Outlet {i}"))
        cases.append(Case(f"good-{i}.txt", "included"))
    past = time.time() - 3600
    for path in inbox.iterdir():
        if path.name != "still-writing.txt" and not path.is_symlink() and path.is_file():
            os.utime(path, (past, past))
    settings = load_settings(None, inbox=inbox, outbox=work / "outbox", state=work / "state",
                             max_file_bytes=cap, settle_seconds=30)
    lines: list[str] = []
    pipeline.run(settings, report=lines.append)
    with StateStore(settings.db_path) as store:
        rows = {Path(a["path"]).name: a for a in store.articles()}
    outcomes = []
    for case in cases:
        row = rows.get(safe_text(case.name))  # the store spells a control character in a name out (\\n)
        if row:
            got, reason = row["status"], row["reason"]
        elif case.expect in ("ignored", "waiting"):
            # not in the store: the run left it alone; it must still be there for later
            got, reason = case.expect, ""
        else:
            got, reason = "missing", ""
        there = os.path.lexists(inbox / case.name)
        outcomes.append(Outcome(case, got, reason, there))
    return outcomes
