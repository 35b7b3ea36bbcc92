"""Reliability figures: the bad-input matrix, SIGKILL crash trials, and concurrent runs.

Prints one table and a last line that sums it up, e.g.
`faults: 30 inputs, 30 handled, 0 lost; 20 crash trials, 0 lost, 0 duplicated; 3 concurrent runs, 0 duplicates`.

    python bench/faults.py            # about a minute
    python bench/faults.py --full     # 60 crash trials
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DIGEST_CORPUS", ROOT.parent / "shared" / "corpus"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # test support: crash injection, bad inputs

# benches copy files in and run at once: no settle time (a test of the settle time sets its own)
os.environ.setdefault("DIGEST_SETTLE_SECONDS", "0")

from support import bad_inputs, crash, poison  # noqa: E402

from digest import pipeline  # noqa: E402
from digest.settings import load_settings  # noqa: E402


def crash_trials(work: Path, trials: int) -> tuple[int, int, int, int, list[str]]:
    """Kill runs at `trials` points; return (trials, recovered, lost, duplicated, notes)."""
    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    for f in sorted((CORPUS / "seeds").glob("*.txt")) + sorted((ROOT / "inbox").glob("*.*")):
        shutil.copy(f, inbox / f.name)
    total, stages = crash.profile_run(inbox, work / "p-out", work / "p-state")
    expected = crash.digested_ids(work / "p-out")
    recovered = lost = duplicated = 0
    notes: list[str] = []
    points = crash.kill_points(stages, total, trials)
    for i, k in enumerate(points):
        out, state = work / f"o{i}", work / f"s{i}"
        trial = crash.kill_at(k, inbox, out, state)
        pipeline.run(load_settings(None, inbox=inbox, outbox=out, state=state), report=lambda line: None)
        audit = crash.audit(out, state, expected)
        lost += len(audit.lost)
        duplicated += len(audit.duplicated)
        if audit.ok and trial.killed:
            recovered += 1
        else:
            notes.append(f"trial {i} (killed in {trial.where or 'nowhere'}): {audit}")
    return len(points), recovered, lost, duplicated, notes


def concurrent_runs(work: Path, n: int = 3) -> tuple[int, int]:
    """Start n runs at once on one inbox; return (runs, digests beyond the one expected)."""
    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    for i, topic in enumerate(("the river tram", "the new stadium", "the school meals plan")):
        (inbox / f"a{i}.txt").write_text(bad_inputs.good_article(f"Council decides on {topic}", topic))
    code = (
        "import sys; from pathlib import Path; from digest import pipeline; from digest.settings import load_settings\n"
        "from digest.errors import RunInProgress\n"
        "s = load_settings(None, inbox=Path(sys.argv[1]), outbox=Path(sys.argv[2]), state=Path(sys.argv[3]))\n"
        "try: pipeline.run(s, report=lambda l: None)\nexcept RunInProgress: pass\n"
    )
    args = [str(inbox), str(work / "outbox"), str(work / "state")]
    procs = [subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT) for _ in range(n)]
    for p in procs:
        p.wait(timeout=300)
    digests = len(list((work / "outbox").glob("*/digest*.json")))
    return n, max(0, digests - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="60 crash trials instead of 20")
    args = parser.parse_args()
    trials = 60 if args.full else 20
    work = Path(tempfile.mkdtemp(prefix="digest-faults-"))
    start = time.perf_counter()
    try:
        outcomes = [*bad_inputs.run_matrix(work / "matrix"), *poison.bench_outcomes(work / "poison")]
        handled = sum(o.handled for o in outcomes)
        lost_inputs = sum(1 for o in outcomes if not o.still_there or o.got == "missing")
        print(f"{'input':<28}{'expected':<10}{'got':<11}reason")
        for o in outcomes:
            mark = "" if o.handled else "  <-- NOT HANDLED"
            name = o.case.name.replace("\n", "\\n")[:27]
            print(f"{name:<28}{o.case.expect:<10}{o.got:<11}{o.reason[:60]}{mark}")
        n_trials, recovered, lost, duplicated, notes = crash_trials(work / "crash", trials)
        for note in notes:
            print(note)
        runs, extra = concurrent_runs(work / "concurrent")
        print()
        print(f"{'check':<34}{'count':>8}{'ok':>8}{'bad':>8}")
        print(f"{'bad inputs handled':<34}{len(outcomes):>8}{handled:>8}{len(outcomes) - handled:>8}")
        print(f"{'crash trials recovered':<34}{n_trials:>8}{recovered:>8}{n_trials - recovered:>8}")
        print(f"{'concurrent runs, extra digests':<34}{runs:>8}{runs - extra:>8}{extra:>8}")
        print(f"(took {time.perf_counter() - start:.0f} s)")
        print(
            f"faults: {len(outcomes)} inputs, {handled} handled, {lost_inputs} lost; "
            f"{n_trials} crash trials, {lost} lost, {duplicated} duplicated; "
            f"{runs} concurrent runs, {extra} duplicates"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
