"""Crash injection for the reliability tests and bench/faults.py: SIGKILL a real run at a chosen point.

A run is started in a child process with a trace function that counts calls into digest's own
modules and kills the process with SIGKILL on the k-th call, so kill points fall anywhere in the
pipeline (ingest, clean, stories, render, the state store's transactions, file writes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHILD = r"""
import os, signal, sys
from pathlib import Path
target, folders = int(sys.argv[1]), sys.argv[2:5]
count, stages = 0, []
def tracer(frame, event, arg):
    global count
    if event == "call":
        module = frame.f_globals.get("__name__", "")
        if module.startswith("digest."):
            count += 1
            if not stages or stages[-1][1] != module:
                stages.append((count, module))
            if count == target:
                sys.stderr.write(f"killed in {module}.{frame.f_code.co_name}\n")
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)
    return None
from digest import pipeline
from digest.settings import load_settings
settings = load_settings(None, inbox=Path(folders[0]), outbox=Path(folders[1]), state=Path(folders[2]))
sys.settrace(tracer)
pipeline.run(settings, report=lambda line: None)
sys.settrace(None)
import json
print(json.dumps({"calls": count, "stages": stages}))
"""


@dataclass(frozen=True)
class Trial:
    target: int
    killed: bool
    where: str  # "module.function" where the kill landed, or "" when the run finished first


def profile_run(inbox: Path, outbox: Path, state: Path) -> tuple[int, list[tuple[int, str]]]:
    """Run once uninterrupted in a child; return the number of calls and where each module starts."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "0", str(inbox), str(outbox), str(state)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"profiling run failed: {out.stderr[-2000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return int(data["calls"]), [(int(c), str(m)) for c, m in data["stages"]]


def kill_at(target: int, inbox: Path, outbox: Path, state: Path) -> Trial:
    """Run in a child process and SIGKILL it on the `target`-th call into digest's modules."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(target), str(inbox), str(outbox), str(state)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    killed = out.returncode == -9
    if not killed and out.returncode != 0:
        raise RuntimeError(f"crash trial failed by itself: {out.stderr[-2000:]}")
    where = out.stderr.strip().splitlines()[-1].removeprefix("killed in ") if killed else ""
    return Trial(target, killed, where)


def kill_points(stages: list[tuple[int, str]], total: int, trials: int) -> list[int]:
    """Spread kill points over the run: one in each module's stretch of calls first, then evenly."""
    points: list[int] = []
    bounds = [c for c, _ in stages] + [total + 1]
    seen_modules: set[str] = set()
    for (start, module), end in zip(stages, bounds[1:]):
        if module not in seen_modules and end > start:
            seen_modules.add(module)
            points.append(start + (end - start) // 2)
    step = max(1, total // max(1, trials))
    k = step // 2 + 1
    while len(points) < trials and k <= total:
        if k not in points:
            points.append(k)
        k += step
    return sorted(points[:trials]) if len(points) > trials else sorted(points)


def digested_ids(outbox: Path) -> set[str]:
    """Ids of the articles the outbox's digests hold (included, or collapsed as duplicates)."""
    return {
        a["id"]
        for js in outbox.glob("*/digest*.json")
        for a in json.loads(js.read_text(encoding="utf-8"))["articles"]
        if a["status"] in ("included", "duplicate")
    }


@dataclass(frozen=True)
class Audit:
    """What a finished outbox and state store say about a set of input articles."""

    lost: list[str]  # input articles in no digest
    duplicated: list[str]  # input articles included in two digests
    broken: list[str]  # partial, corrupt or unrecorded digest files
    pending: list[str]  # articles the store still holds as pending

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.broken or self.pending)


def audit(outbox: Path, state: Path, expected: set[str]) -> Audit:
    """Check that every expected article id is in exactly one complete, recorded digest."""
    import email
    import email.policy

    from digest.state import StateStore

    seen: dict[str, int] = {}
    broken: list[str] = []
    with StateStore(state / "state.sqlite") as store:
        recorded = {Path(d.path) for d in store.digests()}
        pending = [a["path"] for a in store.articles("pending")]
    for day in sorted(p for p in outbox.iterdir() if p.is_dir() and p.name != "dry-run") if outbox.exists() else []:
        for f in sorted(day.iterdir()):
            if not f.name.startswith("digest") or f.suffix not in (".html", ".txt", ".eml", ".json", ".delivery"):
                broken.append(f"stray file {f}")
        for js in sorted(day.glob("digest*.json")):
            try:
                data = json.loads(js.read_text(encoding="utf-8"))
                msg = email.message_from_bytes(js.with_suffix(".eml").read_bytes(), policy=email.policy.default)
                if msg.get_content_type() != "multipart/alternative":
                    broken.append(f"{js.with_suffix('.eml')}: not multipart/alternative")
                if "</html>" not in js.with_suffix(".html").read_text(encoding="utf-8").lower():
                    broken.append(f"{js.with_suffix('.html')}: truncated")
                js.with_suffix(".txt").read_text(encoding="utf-8")
            except (OSError, ValueError) as exc:
                broken.append(f"{js}: {exc}")
                continue
            if not js.with_suffix(".delivery").is_file():
                broken.append(f"{js}: no delivery record beside it")
            if js.with_suffix(".html") not in recorded:
                broken.append(f"{js}: not recorded in the state store")
            for a in data.get("articles", []):
                if a["status"] in ("included", "duplicate"):
                    seen[a["id"]] = seen.get(a["id"], 0) + 1
    lost = sorted(expected - set(seen))
    duplicated = sorted(i for i, n in seen.items() if n > 1)
    return Audit(lost, duplicated, broken, pending)
