"""Every kind of bad input among good articles: a reason per file, nothing lost, the rest digested."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import bad_inputs


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[bad_inputs.Outcome]:
    return bad_inputs.run_matrix(tmp_path_factory.mktemp("matrix"))


def test_matrix_covers_the_listed_inputs(outcomes: list[bad_inputs.Outcome]) -> None:
    assert len(outcomes) >= 24


@pytest.mark.parametrize("name", [
    "empty.txt", "blank.txt", "image.txt", "report.html", "archive.md", "noise.txt", "nul.txt", "broken-utf8.txt",
    "cyrillic.txt", "latin1.txt", "utf16.txt", "huge.txt", "one-line.txt", "nested.html", "malformed.html",
    "entity-bomb.html", "no-article.html", "vanished.txt", "pipe.txt", "outside-link.txt",
    "name with spaces é ü.txt", "line\nbreak.txt", "draft.txt.part", "upload.tmp", "notes.txt~", ".hidden.txt",
    "still-writing.txt", "good-0.txt", "good-1.txt", "good-2.txt",
])
def test_each_input_is_handled_and_kept(name: str, outcomes: list[bad_inputs.Outcome]) -> None:
    [outcome] = [o for o in outcomes if o.case.name == name]
    assert outcome.handled, f"{name}: expected {outcome.case.expect} ({outcome.case.reason}), got {outcome.got}: {outcome.reason}"
    assert outcome.still_there, f"{name} was removed from the inbox"


def test_decoded_encodings_keep_their_text(tmp_path_factory: pytest.TempPathFactory, outcomes: list[bad_inputs.Outcome]) -> None:
    work = tmp_path_factory.getbasetemp()
    texts = " ".join(p.read_text(encoding="utf-8") for p in work.rglob("outbox/*/digest.txt"))
    assert "José Müller" in texts or "Le Petit Écho" in texts
    assert "Минске" in texts or "Президент" in texts


@pytest.mark.slow
def test_two_runs_at_once_never_digest_the_same_articles(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i, topic in enumerate(("the river tram", "the new stadium", "the school meals plan")):
        (inbox / f"a{i}.txt").write_text(bad_inputs.good_article(f"Council decides on {topic}", topic))
    code = ("import sys; from pathlib import Path; from digest import pipeline; from digest.settings import load_settings;"
            "from digest.errors import RunInProgress\n"
            "s = load_settings(None, inbox=Path(sys.argv[1]), outbox=Path(sys.argv[2]), state=Path(sys.argv[3]))\n"
            "try:\n    r = pipeline.run(s, report=lambda l: None); print('path', r.path)\n"
            "except RunInProgress as e:\n    print('busy', e)\n")
    args = [str(inbox), str(tmp_path / "outbox"), str(tmp_path / "state")]
    procs = [subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    written = [o for o in outs if o.startswith("path ") and "None" not in o]
    assert len(written) == 1, outs  # one digest; the others were busy or found nothing new
    assert all(o.startswith(("path", "busy")) for o in outs)
    assert any("another run is in progress" in o for o in outs) or sum("None" in o for o in outs) == 2
    assert len(list((tmp_path / "outbox").glob("*/digest*.json"))) == 1
