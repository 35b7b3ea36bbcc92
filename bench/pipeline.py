"""Pipeline speed at scale: one core, the Prefect flow with 1 worker, every core, and a Dask cluster.

Builds an inbox of N distinct articles from the real texts in ../shared/corpus: the multi-news-dev
documents (745 stories told by 2-10 outlets each), the cleaning-dev pages and the extraction
benchmark pages (plain text, and the benchmark's HTML pages beside their text copies), plus near
copies (paragraphs cut and reordered) and cross-outlet copies (the same body under another site's
chrome). A day of 10,000 or 100,000 articles needs more stories than the corpus has (about 1,800),
so beyond the first pass every real document is issued again under pseudonyms: in pass k each word
outside the 2,000 most common English words (names, places, rarer terms) is renamed consistently,
which makes a new set of distinct stories with the real documents' structure and grouping.

Then digests that inbox four ways, each in its own process with its own state folder:
  direct   digest.pipeline's steps called without Prefect (one core)
  one      the daily-digest flow with workers = 1 (today's single-process run)
  all      the flow with a local Dask cluster of one worker process per core
  cluster  the flow on an external cluster: `dask scheduler` + 2 x `dask worker tcp://...`
and prints seconds, articles/s, the speed-up against one worker, Prefect's overhead (one worker
against direct), whether the stories and summaries are identical to the direct run's, and the peak
memory of every process involved (read from /proc: each process's own high-water mark, VmHWM).
It also prints a run's fixed cost: `digest run` with nothing new, and the flow on a one-article inbox.

    python bench/pipeline.py [--articles 10000] [--runs direct,one,all,cluster] [--scale]
    python bench/pipeline.py --small [--repeat 3] [--against OTHER_CHECKOUT]

--scale also runs `all` on a quarter of the articles and prints the growth (linear work: 4x).
--small times small manual runs instead, each `digest run` as a whole process the way a person runs
it (wall seconds, and CPU seconds of its process tree, the temporary Prefect server included): the
5 seed articles on a fresh state folder (with and without the Prefect database a first run keeps),
then one new article on that state, then nothing new; beside the direct steps on the 5 seeds (one
process, no Prefect) as the in-process baseline, and, with --against, the same runs of another
checkout's `digest run` (its own .venv), taken in turn; medians of --repeat trials.
Each run's stage lines, with the seconds at which they were printed, are kept in its work folder
(lines.txt) and summed up per stage in the table.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DIGEST_CORPUS", ROOT.parent / "shared" / "corpus"))
sys.path.insert(0, str(ROOT))
# the inbox is generated and run at once: no settle time (files written seconds ago are otherwise left waiting)
os.environ.setdefault("DIGEST_SETTLE_SECONDS", "0")

QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_SERVER_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}
for _key, _value in QUIET.items():
    os.environ.setdefault(_key, _value)

KEEP_WORDS = 2000  # the most common English words stay as they are in pseudonymous passes
NEAR_COPY, CROSS_OUTLET = 0.10, 0.05  # shares of the inbox
RUNS = ("direct", "one", "all", "cluster")
LABELS = {
    "direct": "direct steps, one core",
    "one": "flow, 1 worker",
    "all": "flow, all cores ({n} workers)",
    "cluster": "flow, dask scheduler + 2 workers",
}


# --- the inbox --------------------------------------------------------------------------------

def real_documents() -> list[tuple[str, str, str]]:
    """Return (family, suffix, text) for every real document: same family, same story."""
    docs: list[tuple[str, str, str]] = []
    clusters = json.loads((CORPUS / "multi-news-dev" / "clusters.json").read_text(encoding="utf-8"))
    for cid, info in sorted(clusters.items()):
        for name in info["files"]:
            path = CORPUS / "multi-news-dev" / "docs" / f"{name}.txt"
            if path.exists():
                docs.append((f"mn-{cid}", ".txt", path.read_text(encoding="utf-8", errors="replace")))
    for path in sorted((CORPUS / "cleaning-dev" / "text").glob("*.txt")):
        docs.append((f"cd-{path.stem}", ".txt", path.read_text(encoding="utf-8", errors="replace")))
    for path in sorted((CORPUS / "extraction-benchmark" / "text").glob("*.txt")):
        docs.append((f"eb-{path.stem}", ".txt", path.read_text(encoding="utf-8", errors="replace")))
    for path in sorted((CORPUS / "seeds").glob("*.txt")):
        docs.append(("seeds", ".txt", path.read_text(encoding="utf-8", errors="replace")))
    return docs


def benchmark_html() -> list[tuple[str, bytes]]:
    """The benchmark's HTML pages (each also present as text: a cross-format copy)."""
    return [(f"eb-{p.name.split('.')[0]}", gzip.decompress(p.read_bytes()))
            for p in sorted((CORPUS / "extraction-benchmark" / "html").glob("*.html.gz"))]


_TOKEN = re.compile(r"([A-Za-z]+)")
_CONSONANTS, _VOWELS = "bcdfghjklmnprstvz", "aeiou"


class Pseudonyms:
    """Rename every word outside the most common English words, consistently within one pass."""

    def __init__(self, keep: set[str]) -> None:
        self.keep = keep
        self.maps: dict[int, dict[str, str]] = {}

    def split(self, text: str) -> list[str]:
        """Text as [kept text, word to rename, kept text, ...]: common words merge into the kept text."""
        parts = _TOKEN.split(text)
        out: list[str] = []
        run = [parts[0]]
        keep = self.keep
        for i in range(1, len(parts), 2):
            word = parts[i]
            if len(word) < 3 or word.lower() in keep:
                run += [word, parts[i + 1]]
            else:
                out += ["".join(run), word]
                run = [parts[i + 1]]
        out.append("".join(run))
        return out

    def word(self, word: str, key: int) -> str:
        low = word.lower()
        h = hashlib.blake2b(f"{key}:{low}".encode(), digest_size=64).digest()
        syllables = min(30, max(2, (len(low) + 1) // 2))
        new = "".join(_CONSONANTS[h[i] % 17] + _VOWELS[h[i + 1] % 5] for i in range(0, 2 * syllables, 2))
        new = new[: max(len(low), 4)]
        if word.isupper():
            return new.upper()
        return new.capitalize() if word[0].isupper() else new

    def apply(self, parts: list[str], key: int) -> str:
        if key == 0:
            return "".join(parts)
        rename = self.maps.setdefault(key, {})
        words = parts[1::2]
        for w in words:
            if w not in rename:
                rename[w] = self.word(w, key)
        out = parts[:]
        out[1::2] = [rename[w] for w in words]
        return "".join(out)


def near_copy(text: str, rng: random.Random) -> str:
    """Cut 10-30% of the body's paragraphs and reorder a window of it (a lightly edited reprint)."""
    paras = [p for p in text.split("\n\n") if p.strip()]
    if len(paras) < 6:
        return text.rstrip() + "\n\nThis article was updated.\n"
    head, body = paras[:2], paras[2:]
    keep = sorted(rng.sample(range(len(body)), max(3, int(len(body) * rng.uniform(0.7, 0.9)))))
    body = [body[i] for i in keep]
    if len(body) > 4:
        i = rng.randrange(len(body) - 3)
        window = body[i : i + 3]
        rng.shuffle(window)
        body[i : i + 3] = window
    return "\n\n".join(head + body) + "\n"


def chrome_of(text: str) -> tuple[str, str]:
    """A page's top and bottom chrome (its first and last short lines), to dress another body in."""
    lines = [line for line in text.split("\n") if line.strip()]
    return "\n\n".join(lines[:12]), "\n\n".join(lines[-8:])


def generate_inbox(folder: Path, n: int, seed: int) -> dict[str, int]:
    """Write n distinct article files; return counts of what went in."""
    from wordfreq import top_n_list

    rng = random.Random(seed)
    docs = real_documents()
    names = Pseudonyms(set(top_n_list("en", KEEP_WORDS)))
    parts = [names.split(text) for _, _, text in docs]
    chromes = [chrome_of(text) for family, _, text in docs if family.startswith("cd-")]
    htmls = benchmark_html()
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"articles": 0, "real": 0, "pseudonymous": 0, "near": 0, "cross": 0, "html": 0, "bytes": 0, "passes": 0}
    written: list[str] = []
    families: set[str] = set()
    order = list(range(len(docs)))
    key, queue = 0, list[int]()

    def write(text: str | bytes, suffix: str) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        (folder / f"a{counts['articles']:06d}{suffix}").write_bytes(data)
        counts["articles"] += 1
        counts["bytes"] += len(data)

    for _family, page in htmls[: max(0, min(len(htmls), n // 50))]:  # HTML pages beside their text copies
        write(page, ".html")
        counts["html"] += 1
    while counts["articles"] < n:
        roll = rng.random()
        if written and roll < NEAR_COPY:
            write(near_copy(rng.choice(written), rng), ".txt")
            counts["near"] += 1
            continue
        if written and roll < NEAR_COPY + CROSS_OUTLET:
            top, bottom = rng.choice(chromes)
            write(f"{top}\n\n{rng.choice(written)}\n\n{bottom}\n", ".txt")
            counts["cross"] += 1
            continue
        if not queue:
            queue = order[:]
            random.Random(seed + key).shuffle(queue)
            key += 1
            counts["passes"] = key
        i = queue.pop()
        text = names.apply(parts[i], key - 1)
        write(text, ".txt")
        families.add(f"{docs[i][0]}/{key - 1}")
        counts["real" if key == 1 else "pseudonymous"] += 1
        written.append(text)
        if len(written) > 5000:  # copies are of recent articles; bounds memory
            written = written[-2500:]
    counts["families"] = len(families)
    return counts


# --- peak memory of a process tree ------------------------------------------------------------

class Memory:
    """Sample /proc for every descendant of this process; keep each one's VmHWM (peak RSS)."""

    def __init__(self) -> None:
        self.peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            try:
                self.sample(me)
            except Exception as exc:  # one bad sample must not end the sampling (peaks would stop early)
                print(f"bench: memory sample failed: {exc!r}", file=sys.stderr)
            self._stop.wait(0.25)

    def sample(self, root: int) -> None:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text(errors="replace")
                    parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        for pid in parents:
            p, hops = pid, 0
            while p and p != root and hops < 20:
                p, hops = parents.get(p, 0), hops + 1
            if p != root:
                continue
            try:  # a process may end, or name itself in bytes that are not UTF-8, between two reads
                status = Path(f"/proc/{pid}/status").read_text(errors="replace")
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
            except (OSError, ValueError, IndexError):
                continue
            if hwm * 1024 > self.peaks.get(pid, ("", 0))[1]:  # kB in /proc, bytes kept
                self.peaks[pid] = (role_of(cmd), hwm * 1024)

    def reset(self) -> dict[int, tuple[str, int]]:
        peaks, self.peaks = self.peaks, {}
        return peaks


def role_of(cmd: str) -> str:
    if "uvicorn" in cmd or "prefect server" in cmd or "prefect.server" in cmd:
        return "prefect api"
    if "dask_scheduler" in cmd or "dask scheduler" in cmd:
        return "dask scheduler"
    if "dask_worker" in cmd or "dask worker" in cmd:
        return "dask worker"
    if "multiprocessing" in cmd or "spawn_main" in cmd:
        return "dask worker"
    if "--child" in cmd:
        return "flow process"
    return cmd.split(" ")[0].rsplit("/", 1)[-1]


def describe(peaks: dict[int, tuple[str, int]]) -> tuple[int, str]:
    """Total of the per-process peaks, and a line listing them by role."""
    ignore = ("ps", "cat")
    rows = sorted(((role, mem) for role, mem in peaks.values() if role not in ignore), key=lambda r: -r[1])
    return sum(m for _, m in rows), ", ".join(f"{role} {mem / 1e6:,.0f}" for role, mem in rows)


# --- one configuration, in its own process ------------------------------------------------------

STAGES = (  # (stage, the report line that ends it)
    ("ingest", "ingested "),
    ("clean", "cleaned "),
    ("dedupe", "deduplicated "),
    ("cluster", "clustered "),
    ("summarise", "summarised "),
    ("render+write", "rendered "),
)


class Stamped:
    """A stdout that keeps each line with the seconds since `start` (the stage lines of a run)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.lines: list[tuple[float, str]] = []
        self._part = ""

    def write(self, text: str) -> int:
        self._part += text
        *done, self._part = self._part.split("\n")
        now = time.perf_counter() - self.start
        self.lines += [(now, line) for line in done]
        return len(text)

    def flush(self) -> None:
        pass


def stage_seconds(lines: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds of each stage, from the time its line was printed back to the previous stage's line."""
    out: dict[str, float] = {}
    before = 0.0
    for stage, prefix in STAGES:
        when = next((t for t, line in lines if line.startswith(prefix)), None)
        if when is not None:
            out[stage] = when - before
            before = when
    return out


def child(run: str, inbox: Path, work: Path, address: str | None) -> None:
    """Digest `inbox` one way; print a JSON line with the seconds taken, the digest's path and each stage's seconds."""
    from digest import pipeline
    from digest.settings import load_settings

    real = sys.stdout
    if run == "direct":
        settings = load_settings(None, inbox=inbox, outbox=work / "outbox", state=work / "state")
        start = time.perf_counter()
        out = Stamped(start)
        result = pipeline.run(settings, lambda line: print(line, file=out)).as_dict()
    else:
        from flows.daily_digest import daily_digest

        if run == "one":
            os.environ["DIGEST_WORKERS"] = "1"
        elif run == "cluster":
            os.environ["DIGEST_DASK_ADDRESS"] = str(address)
        (work / "empty").mkdir(parents=True, exist_ok=True)  # start Prefect's API before timing
        sys.stdout = Stamped(time.perf_counter())
        daily_digest(inbox=str(work / "empty"), outbox=str(work / "o0"), state=str(work / "s0"))
        start = time.perf_counter()
        sys.stdout = out = Stamped(start)
        try:
            result = daily_digest(inbox=str(inbox), outbox=str(work / "outbox"), state=str(work / "state"))
        finally:
            sys.stdout = real
    seconds = time.perf_counter() - start
    (work / "lines.txt").write_text("".join(f"{t:9.1f}  {line}\n" for t, line in out.lines), encoding="utf-8")
    real.write(json.dumps({"seconds": seconds, "path": result.get("path"), "message": result.get("message"),
                           "stages": stage_seconds(out.lines)}) + "\n")
    real.flush()


def stories_of(work: Path, path: str | None, message: str | None) -> list[object]:
    """The stories of the digest a run wrote; a run that wrote none stops the bench with what it said."""
    if not path:
        lines = (work / "lines.txt").read_text(encoding="utf-8") if (work / "lines.txt").exists() else ""
        raise SystemExit(f"bench: the run in {work} wrote no digest ({message}); its lines:\n{lines[-3000:]}")
    return json.loads(Path(path).with_suffix(".json").read_text(encoding="utf-8"))["stories"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(work: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """`dask scheduler` and two `dask worker tcp://...` processes, as on separate machines."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    log = (work / "cluster.log").open("wb")
    procs = [subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], stdout=log, stderr=log, start_new_session=True)]
    for _ in range(2):
        procs.append(subprocess.Popen([str(bindir / "dask"), "worker", address, "--nthreads", "1",
                                       "--dashboard-address", ":0"], stdout=log, stderr=log, start_new_session=True))
    with Client(address, timeout=180) as client:
        client.wait_for_workers(2, timeout=300)
    return address, procs


def cpu_seconds(roots: list[int]) -> float:
    """CPU seconds (user + system) used so far by the running processes `roots` and all their descendants."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text(errors="replace").rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(entry)] = int(fields[1])
            used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid in used:
        p, hops = pid, 0
        while p and p not in roots and hops < 20:
            p, hops = parents.get(p, 0), hops + 1
        if p in roots:
            total += used[pid]
    return total


def measure(
    run: str, inbox: Path, work: Path, memory: Memory, address: str | None = None, cluster: list[int] | None = None
) -> dict[str, object]:
    """Run one configuration; its seconds, and the CPU seconds of its process tree (and of the external cluster's)."""
    memory.reset()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", run, "--inbox", str(inbox), "--work", str(work)]
    if address:
        cmd += ["--address", address]
    # CPU time does not grow with other work on a shared machine, as wall time does
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    outside = cpu_seconds(cluster or [])
    wall = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime + cpu_seconds(cluster or []) - outside
    if done.returncode != 0:
        raise SystemExit(f"bench: the {run} run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return {**answer, "wall": wall, "cpu": cpu, "peaks": memory.reset()}


def fixed_cost(inbox_of_one: Path, work: Path) -> tuple[float, float]:
    """Seconds for `digest run` on one new article (a whole run's fixed cost), then with nothing new."""
    cmd = [str(Path(sys.executable).parent / "digest"), "run", "--inbox", str(inbox_of_one),
           "--outbox", str(work / "outbox"), "--state", str(work / "state")]
    times = []
    for _ in range(2):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, DIGEST_WORKERS="1"))
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"bench: digest run failed:\n{done.stdout}\n{done.stderr}")
    return times[0], times[1]


SMALL_ROWS = (  # (key, label)
    ("fresh", "5 seeds, fresh state"),
    ("cold", "5 seeds, fresh state, no kept Prefect db"),
    ("warm", "1 new article, state there"),
    ("idle", "nothing new"),
    ("direct", "direct steps, 5 seeds, fresh (no Prefect)"),
)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of a whole command (its process tree: what it waited for), and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:2])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, done.stdout


def small_trial(checkout: Path, work: Path, direct: bool) -> tuple[dict[str, tuple[float, float]], list[object]]:
    """One trial of the small runs with `checkout`'s `digest run`; return each row's (wall, cpu) and the stories."""
    seeds = sorted((CORPUS / "seeds").glob("*.txt"))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["DIGEST_WORKERS"] = "1"
    digest = [str(checkout / ".venv" / "bin" / "digest"), "run"]
    out: dict[str, tuple[float, float]] = {}
    stories: list[object] = []
    for key in ("cold", "fresh"):
        folder = work / key
        (folder / "inbox").mkdir(parents=True)
        for path in seeds:
            shutil.copy(path, folder / "inbox")
        cache = {"XDG_CACHE_HOME": str(folder / "cache")} if key == "cold" else {}
        folders = ["--inbox", str(folder / "inbox"), "--outbox", str(folder / "outbox"), "--state", str(folder / "state")]
        wall, cpu, said = timed(digest + folders, {**env, **cache})
        out[key] = (wall, cpu)
        written = next((line[len("digest: "):] for line in said.splitlines() if line.startswith("digest: ")), None)
        stories = stories_of(folder, written, said[-500:])
    folders = ["--inbox", str(work / "fresh" / "inbox"), "--outbox", str(work / "fresh" / "outbox"),
               "--state", str(work / "fresh" / "state")]
    shutil.copy(sorted((CORPUS / "extraction-benchmark" / "text").glob("*.txt"))[0], work / "fresh" / "inbox")
    out["warm"] = timed(digest + folders, env)[:2]
    out["idle"] = timed(digest + folders, env)[:2]
    if direct:
        (work / "direct").mkdir()
        wall, cpu, said = timed([sys.executable, str(Path(__file__).resolve()), "--child", "direct", "--inbox",
                                 str(work / "fresh" / "inbox"), "--work", str(work / "direct")], env)
        out["direct"] = (wall, cpu)
    return out, stories


def small_runs(base: Path, repeat: int, against: Path | None) -> None:
    """Time the small runs of this checkout (and of `against`) in turn, `repeat` times; print the medians."""
    import statistics

    checkouts = [ROOT] + ([against.resolve()] if against else [])
    trials: dict[Path, list[dict[str, tuple[float, float]]]] = {c: [] for c in checkouts}
    stories: dict[Path, list[object]] = {}
    for i in range(repeat):
        for checkout in checkouts:  # in turn: a machine whose speed drifts slows both alike
            figures, stories[checkout] = small_trial(checkout, base / f"small-{i}-{checkouts.index(checkout)}",
                                                     direct=checkout == ROOT)
            trials[checkout].append(figures)

    def median(checkout: Path, key: str, which: int) -> float:
        return statistics.median(t[key][which] for t in trials[checkout] if key in t)

    print(f"small runs: `digest run` as whole processes, median of {repeat} (wall s / CPU s of the process tree)")
    head = f"  {'':<44}{'this wall':>10}{'cpu':>7}"
    if against:
        head += f"{'other wall':>12}{'cpu':>7}{'wall ratio':>12}{'cpu ratio':>11}"
    print(head)
    for key, label in SMALL_ROWS:
        if not any(key in t for t in trials[ROOT]):
            continue
        row = f"  {label:<44}{median(ROOT, key, 0):>10.1f}{median(ROOT, key, 1):>7.1f}"
        if against and key != "direct":
            ratios = [a[key][0] / b[key][0] for a, b in zip(trials[ROOT], trials[against.resolve()])]
            cpu_ratios = [a[key][1] / b[key][1] for a, b in zip(trials[ROOT], trials[against.resolve()])]
            row += (f"{median(against.resolve(), key, 0):>12.1f}{median(against.resolve(), key, 1):>7.1f}"
                    f"{statistics.median(ratios):>11.2f}x{statistics.median(cpu_ratios):>10.2f}x")
        print(row)
    ratio = statistics.median(t["fresh"][0] / t["direct"][0] for t in trials[ROOT])
    cpu_ratio = statistics.median(t["fresh"][1] / t["direct"][1] for t in trials[ROOT])
    print(f"  5 seeds fresh against the direct steps: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU")
    if against:
        same = "identical" if stories[ROOT] == stories[against.resolve()] else "DIFFERENT"
        print(f"  the digest's stories and summaries of the 5 seeds: {same} to the other checkout's")
    print("(figures from a shared machine: compare the ratios of runs taken in turn, and the CPU seconds)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", default=",".join(RUNS), help="comma-separated: " + ", ".join(RUNS))
    parser.add_argument("--scale", action="store_true", help="also run `all` on a quarter of the articles")
    parser.add_argument("--small", action="store_true", help="time small manual runs instead (see above)")
    parser.add_argument("--repeat", type=int, default=3, help="--small: trials, taken in turn")
    parser.add_argument("--against", type=Path, help="--small: another checkout (with its .venv) to time in turn")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--inbox", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.inbox, args.work, args.address)
        return
    if args.small:
        base = Path(tempfile.mkdtemp(prefix="digest-bench-"))
        try:
            small_runs(base, args.repeat, args.against)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        return

    runs = [r for r in args.runs.split(",") if r]
    unknown = set(runs) - set(RUNS)
    if unknown:
        raise SystemExit(f"bench: unknown run(s) {', '.join(sorted(unknown))}; choose from {', '.join(RUNS)}")
    cores = os.cpu_count() or 1
    base = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    cluster: list[subprocess.Popen[bytes]] = []
    try:
        start = time.perf_counter()
        counts = generate_inbox(base / "inbox", args.articles, args.seed)
        print(f"inbox: {counts['articles']:,} articles, {counts['bytes'] / 1e6:,.0f} MB "
              f"({time.perf_counter() - start:.0f} s to write): {counts['real']:,} real documents, "
              f"{counts['pseudonymous']:,} pseudonymous re-issues ({counts['passes'] - 1} passes), "
              f"{counts['near']:,} near copies, {counts['cross']:,} cross-outlet copies, "
              f"{counts['html']:,} HTML pages; {counts['families']:,} source stories")

        one = base / "one-article"
        one.mkdir()
        shutil.copy(next(iter(sorted((CORPUS / "seeds").glob("*.txt")))), one)
        first, again = fixed_cost(one, base / "fixed")
        print(f"fixed cost: `digest run` on one new article {first:.1f} s (imports, Prefect API, flow); "
              f"with nothing new {again:.2f} s (target < 3 s: {'ok' if again < 3 else 'OVER'})")

        results: dict[str, dict[str, object]] = {}
        with Memory() as memory:
            for run in runs:
                address = None
                if run == "cluster":
                    address, cluster = start_cluster(base)
                    memory.reset()
                results[run] = measure(run, base / "inbox", base / run, memory, address, [p.pid for p in cluster])
                if run == "cluster":
                    cluster_peaks = dict(memory.peaks)
                    memory.sample(os.getpid())
                    results[run]["peaks"] = {**results[run]["peaks"], **cluster_peaks, **memory.reset()}  # type: ignore[dict-item]
                    for proc in reversed(cluster):
                        os.killpg(proc.pid, signal.SIGTERM)
                        proc.wait(timeout=60)
                    cluster = []
                results[run]["stories"] = stories_of(base / run, results[run]["path"], results[run]["message"])  # type: ignore[arg-type]
                sys.stdout.write(f"  {run}: {results[run]['seconds']:.1f} s\n")
                sys.stdout.flush()
            quarter = None
            if args.scale:
                generate_inbox(base / "quarter", args.articles // 4, args.seed)
                quarter = measure("all", base / "quarter", base / "all-quarter", memory)

        n = counts["articles"]
        reference = results.get("direct") or next(iter(results.values()))
        print()
        print(f"{'run':<36}{'seconds':>9}{'cpu s':>8}{'articles/s':>12}{'speed-up':>10}  {'same':<5}  peak memory MB (all processes: each)")
        for run, res in results.items():
            secs = float(res["seconds"])  # type: ignore[arg-type]
            speed = f"{float(results['one']['seconds']) / secs:.2f}x" if "one" in results else "-"  # type: ignore[arg-type]
            same = "yes" if res["stories"] == reference["stories"] else "NO"
            total, each = describe(res["peaks"])  # type: ignore[arg-type]
            label = LABELS[run].format(n=cores)
            cpu = float(res.get("cpu", 0.0))  # type: ignore[arg-type]
            print(f"{label:<36}{secs:>9.1f}{cpu:>8.0f}{n / secs:>12.1f}{speed:>10}  {same:<5}  {total / 1e6:,.0f}: {each}")
        stories = len(reference["stories"])  # type: ignore[arg-type]
        print(f"stories in the digest: {stories:,}")
        print("seconds per stage (from each stage's report line to the next; clean includes learning the chrome):")
        for run, res in results.items():
            stages = cast(dict[str, float], res.get("stages") or {})
            print(f"  {run:<8}" + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
        if "one" in results and "direct" in results:
            overhead = float(results["one"]["seconds"]) / float(results["direct"]["seconds"])  # type: ignore[arg-type]
            print(f"Prefect overhead (1 worker vs direct): {overhead:.3f}x (target <= 1.05x: {'ok' if overhead <= 1.05 else 'OVER'})")
            ratio = float(results["one"]["cpu"]) / float(results["direct"]["cpu"])  # type: ignore[arg-type]
            print(f"  in CPU seconds (not slowed by other work on the machine): {ratio:.3f}x")
        if "one" in results and "all" in results:
            speedup = float(results["one"]["seconds"]) / float(results["all"]["seconds"])  # type: ignore[arg-type]
            print(f"all cores vs 1 worker: {speedup:.2f}x on {cores} cores (target >= 1.6x: {'ok' if speedup >= 1.6 else 'UNDER'})")
        if quarter and "all" in results:
            growth = float(results["all"]["seconds"]) / float(quarter["seconds"])  # type: ignore[arg-type]
            print(f"growth: {args.articles // 4:,} -> {n:,} articles: {growth:.2f}x the time (linear: 4x; target <= 4.5x)")
        if "all" in results:
            secs = float(results["all"]["seconds"])  # type: ignore[arg-type]
            total, _ = describe(results["all"]["peaks"])  # type: ignore[arg-type]
            print(f"pipeline: {n:,} articles with all cores in {secs:.1f} s, peak memory of all processes {total / 1e9:.2f} GB")
        print("(figures from a shared machine: other work on the same cores slows every row)")
    finally:
        for proc in cluster:
            os.killpg(proc.pid, signal.SIGTERM)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
