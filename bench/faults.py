"""Reliability figures: bad inputs, SIGKILL crash trials, concurrent runs, and delivery and state faults
against real SMTP servers on 127.0.0.1 (slow, trickling, dropping, refusing per recipient), signals
during DATA, a lost, emptied, truncated and damaged state store, path spellings, manual then flow runs,
read-only and locked storage. Then the hostile world (issue 19): bad settings, injected addresses,
trickling feed servers, article text in the run report, local time zones, a large Maildir; and
nothing blocked, skipped, lost or sent twice: inbox names not UTF-8, files fetch saved, budgets raised
after a failure, every subfolder, a waiting digest deleted, runs from two working folders,
header-breaking addresses at send time.

Prints the tables and a last line that sums them up:
inputs tried / handled / lost, messages expected / delivered / duplicated, runs blocked.

    python bench/faults.py                 # DATA answered after 45 s by the slow server
    python bench/faults.py --slow 3        # a shorter slow server
    python bench/faults.py --full          # 60 crash trials
    python bench/faults.py --only-hostile  # only the hostile-world cases
    python bench/faults.py --only-lost     # only the blocked/skipped/lost/twice cases
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DIGEST_CORPUS", ROOT.parent / "shared" / "corpus"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
for key, value in {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                   "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
                   "DIGEST_SETTLE_SECONDS": "0"}.items():
    # offline, quiet, patient on a busy machine; files written here are complete (the matrix sets its own settle time)
    os.environ.setdefault(key, value)  # test support: crash injection, bad inputs

from support import bad_inputs, crash, poison  # noqa: E402
from support.smtp import Behaviour, faulty_smtp, port_of  # noqa: E402

from digest import pipeline, recovery  # noqa: E402
from digest.delivery import ledger  # noqa: E402
from digest.errors import DigestError, UndeliveredError  # noqa: E402
from digest.settings import load_settings  # noqa: E402
from digest.state import StateStore  # noqa: E402


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


# --- delivery and state faults ---------------------------------------------------------------

READERS = ["a@example.com", "b@example.com"]


@dataclass
class Tally:
    """What one delivery/state scenario did."""

    name: str
    expected: int = 0  # copies the readers should end up with (one per reader the server accepts)
    delivered: int = 0  # readers who got at least one copy
    duplicated: int = 0  # copies beyond the first, sent again although the first outcome was known
    retry_copies: int = 0  # copies beyond the first, sent once more after an unknown outcome (allowed)
    runs: int = 0
    blocked: int = 0  # runs that overran their bound, or ended with an error a user cannot read
    visible: bool = True  # every undelivered digest failed its run and says why
    notes: list[str] = field(default_factory=list)


class Setup:
    """One scenario's folders and settings; runs the pipeline and keeps the copies of every server."""

    def __init__(self, work: Path, tally: Tally, **settings: Any) -> None:
        self.work, self.tally = work, tally
        (work / "inbox").mkdir(parents=True)
        for f in sorted((CORPUS / "seeds").glob("*.txt"))[:2]:
            shutil.copy(f, work / "inbox" / f.name)
        self.settings: dict[str, Any] = {
            "inbox": work / "inbox", "outbox": work / "outbox", "state": work / "state",
            "smtp_host": "127.0.0.1", "smtp_security": "none", "mail_to": READERS, "mail_from": "digest@news.example",
            "smtp_timeout": 5.0, "smtp_data_timeout": 10.0, "smtp_session_timeout": 60.0,
        }
        self.settings.update(settings)
        self.copies: list[Any] = []

    def run(self, server: Any, bound: float = 120.0, expect_failure: bool | None = None, **kw: Any) -> str:
        """Run once against `server`; return 'ok', 'undelivered' or the error; count blocked runs."""
        values = {**self.settings, **({"smtp_port": port_of(server)} if server else {}), **kw}
        start = time.monotonic()
        self.tally.runs += 1
        outcome = "ok"
        try:
            pipeline.run(load_settings(None, **values), report=lambda line: None)
        except UndeliveredError as exc:
            outcome = "undelivered"
            if "\n" in str(exc) or not str(exc):
                self.tally.notes.append(f"unreadable error: {exc!r}")
                self.tally.blocked += 1
        except DigestError as exc:
            outcome = f"error: {exc}"
        except Exception as exc:  # a traceback for the user: counted as a blocked run
            self.tally.blocked += 1
            self.tally.notes.append(f"traceback: {exc!r}")
            outcome = f"crash: {exc!r}"
        if time.monotonic() - start > bound:
            self.tally.blocked += 1
            self.tally.notes.append(f"a run took {time.monotonic() - start:.0f} s (bound {bound:.0f} s)")
        failed = outcome == "undelivered" or outcome.startswith("error: ")  # a clear line and a non-zero exit
        if expect_failure is not None and failed != expect_failure:
            self.tally.visible = False
            self.tally.notes.append(f"run outcome {outcome!r}, expected {'a failure' if expect_failure else 'success'}")
        return outcome

    def keep(self, server: Any) -> None:
        self.copies.extend(server.copies)

    def count(self, accepting: list[str]) -> Tally:
        """Count copies per reader; an extra copy is a retry copy only if the record shows an unknown outcome."""
        records = [ledger.read(h) for h in sorted((self.work / "outbox").glob("*/digest*.html"))]
        unknown = {a for r in records if r for a, rec in r.recipients.items() if rec.unknown}
        t = self.tally
        t.expected += len(accepting) * max(1, len(records))
        per: dict[tuple[str, str], int] = {}
        for c in self.copies:
            for rcpt in c.rcpt:
                per[(rcpt, c.message_id)] = per.get((rcpt, c.message_id), 0) + 1
        for (rcpt, _), n in per.items():
            t.delivered += 1
            if n > 1:
                if rcpt in unknown and n - 1 <= 1:
                    t.retry_copies += n - 1
                else:
                    t.duplicated += n - 1
        return t


def normal(work: Path, slow: float) -> Tally:
    t = Tally("good server, 3 runs")
    s = Setup(work, t)
    with faulty_smtp() as server:
        for _ in range(3):
            s.run(server, expect_failure=False)
        s.keep(server)
    return s.count(READERS)


def slow_server(work: Path, slow: float) -> Tally:
    t = Tally(f"DATA answered after {slow:g} s (default timeouts)")
    s = Setup(work, t, mail_to=READERS[:1], smtp_timeout=30.0, smtp_data_timeout=600.0, smtp_session_timeout=1200.0)
    with faulty_smtp(Behaviour(data_delay=slow)) as server:
        s.run(server, bound=slow + 120, expect_failure=False)
        s.run(server, bound=slow + 120, expect_failure=False)
        s.keep(server)
    return s.count(READERS[:1])


def trickle(work: Path, slow: float) -> Tally:
    t = Tally("220- line every 1 s, session deadline 5 s")
    s = Setup(work, t, smtp_session_timeout=5.0)
    with faulty_smtp(Behaviour(greeting_trickle=1.0)) as server:
        s.run(server, bound=30, expect_failure=True)
    with faulty_smtp() as server:  # the server mends: the digest goes out once
        s.run(server, expect_failure=False)
        s.keep(server)
    return s.count(READERS)


def dropped(kept: bool) -> Callable[[Path, float], Tally]:
    def scenario(work: Path, slow: float) -> Tally:
        t = Tally(f"dropped after DATA, message {'kept' if kept else 'lost'} by the server")
        s = Setup(work, t)
        with faulty_smtp(Behaviour(drop_after_data=True, keep_before_drop=kept)) as server:
            s.run(server, expect_failure=True)
            s.keep(server)
        with faulty_smtp() as server:
            for _ in range(3):
                s.run(server)
            s.keep(server)
        return s.count(READERS)
    return scenario


def silent(work: Path, slow: float) -> Tally:
    t = Tally("no reply to DATA (timeout 2 s), every run")
    s = Setup(work, t, smtp_data_timeout=2.0)
    with faulty_smtp(Behaviour(silent_after_data=True)) as server:
        for _ in range(4):  # the first try, its one retry, then never again
            s.run(server, expect_failure=True)
        s.keep(server)
    return s.count([])


def per_recipient(work: Path, slow: float) -> Tally:
    t = Tally("452 for a (then ok), 550 for b")
    s = Setup(work, t)
    tries: list[str] = []

    def refuse(address: str) -> str | None:
        tries.append(address)
        if address.startswith("b@"):
            return "550 5.1.1 no such user"
        return "452 4.2.2 mailbox full" if tries.count(address) == 1 else None

    with faulty_smtp(Behaviour(rcpt_reply=refuse)) as server:
        for _ in range(3):
            s.run(server, expect_failure=True if _ < 2 else None)
        s.keep(server)
    if tries.count("b@example.com") != 1:
        t.notes.append(f"b@ was tried {tries.count('b@example.com')} times after a 550")
        t.visible = False
    return s.count(READERS[:1])


def refused_all(work: Path, slow: float) -> Tally:
    t = Tally("550 for every reader")
    s = Setup(work, t)
    with faulty_smtp(Behaviour(data_reply="550 5.7.1 rejected")) as server:
        s.run(server, expect_failure=True)
        s.run(server, expect_failure=False)  # a refusal is final: not resent, the next run is clean
        s.keep(server)
    return s.count([])


def no_recipient(work: Path, slow: float) -> Tally:
    t = Tally("SMTP host but no mail_to")
    s = Setup(work, t, mail_to=[])
    with faulty_smtp() as server:
        s.run(server, expect_failure=True)
        s.keep(server)
    return s.count([])


SIGNAL_CHILD = r"""
import sys
from pathlib import Path
from digest import pipeline
from digest.delivery import send
from digest.errors import Interrupted
from digest.settings import load_settings
send.STOP_GRACE_SECONDS = float(sys.argv[5])
s = load_settings(None, inbox=Path(sys.argv[1]), outbox=Path(sys.argv[2]), state=Path(sys.argv[3]),
                  smtp_host="127.0.0.1", smtp_port=int(sys.argv[4]), smtp_security="none", mail_from="digest@news.example",
                  mail_to=["a@example.com", "b@example.com"], smtp_data_timeout=30.0)
try:
    pipeline.run(s, report=lambda line: None)
except Interrupted as exc:
    sys.exit(128 + exc.signum)
"""


def signalled(sig: signal.Signals, answers: bool) -> Callable[[Path, float], Tally]:
    def scenario(work: Path, slow: float) -> Tally:
        what = "answered within the grace" if answers else "never answered"
        t = Tally(f"{sig.name} during DATA, {what}")
        s = Setup(work, t)
        behaviour = Behaviour(data_delay=1.0) if answers else Behaviour(silent_after_data=True)
        with faulty_smtp(behaviour) as server:
            args = [str(work / "inbox"), str(work / "outbox"), str(work / "state"), str(port_of(server)), "3"]
            proc = subprocess.Popen([sys.executable, "-c", SIGNAL_CHILD, *args], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            behaviour.data_received.wait(300)
            proc.send_signal(sig)
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                t.blocked += 1
                err = ""
            t.runs += 1
            if proc.returncode != 128 + sig:
                t.notes.append(f"exit {proc.returncode}: {err[-300:]}")
                t.blocked += 1
            s.keep(server)
        with faulty_smtp() as server:
            for _ in range(2):
                s.run(server)
            s.keep(server)
        return s.count(READERS)
    return scenario


def damaged_store(how: str) -> Callable[[Path, float], Tally]:
    def scenario(work: Path, slow: float) -> Tally:
        t = Tally(f"state store {how} after sending")
        s = Setup(work, t)
        with faulty_smtp() as server:
            s.run(server, expect_failure=False)
            db = work / "state" / "state.sqlite"
            with StateStore(db) as store:
                store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if how == "lost":
                shutil.rmtree(db.parent)
            elif how == "emptied":
                db.write_bytes(b"")
            elif how == "truncated":
                db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
            else:
                data = bytearray(db.read_bytes())
                data[100:4096] = bytes(i % 251 for i in range(3996))
                db.write_bytes(bytes(data))
            outcome = s.run(server)
            if how in ("truncated", "corrupt"):
                if "digest repair" not in outcome:
                    t.notes.append(f"the error does not name `digest repair`: {outcome}")
                    t.visible = False
                recovery.repair(load_settings(None, **{**s.settings, "smtp_port": port_of(server)}), lambda line: None)
                s.run(server, expect_failure=False)
            s.run(server, expect_failure=False)
            s.keep(server)
        digests = len(list((work / "outbox").glob("*/digest*.html")))
        if digests != 1:
            t.notes.append(f"{digests} digests: articles digested again" if digests > 1 else "no digest written")
            t.duplicated += max(0, digests - 1)
        return s.count(READERS)
    return scenario


def spellings(work: Path, slow: float) -> Tally:
    t = Tally("paths: relative, absolute, ./x/../x")
    s = Setup(work, t)
    here = os.getcwd()
    os.chdir(work)
    try:
        with faulty_smtp() as server:
            for folders in ({"inbox": Path("inbox"), "outbox": Path("outbox"), "state": Path("state")},
                            {"inbox": work / "inbox", "outbox": work / "outbox", "state": work / "state"},
                            {"inbox": Path("./inbox/"), "outbox": Path("state/../outbox"), "state": Path("./state")}):
                s.run(server, expect_failure=False, **folders)
            s.keep(server)
    finally:
        os.chdir(here)
    return s.count(READERS)


def manual_then_flow(work: Path, slow: float) -> Tally:
    t = Tally("manual run (relative), then flow runs (absolute)")
    s = Setup(work, t)
    from flows.daily_digest import daily_digest

    here = os.getcwd()
    with faulty_smtp() as server:
        config = work / "digest.toml"
        config.write_text(f'smtp_host = "127.0.0.1"\nsmtp_port = {port_of(server)}\nsmtp_security = "none"\n'
                          'mail_to = ["a@example.com", "b@example.com"]\nmail_from = "digest@news.example"\n')
        os.chdir(work)
        try:
            s.run(server, expect_failure=False, inbox=Path("inbox"), outbox=Path("outbox"), state=Path("state"))
        finally:
            os.chdir(here)
        (work / "inbox" / "late.txt").write_text(bad_inputs.good_article("Council decides on the tram", "the river tram"))
        for _ in range(2):  # as the served deployment runs it: the flow, absolute folders from its parameters
            t.runs += 1
            state = daily_digest(inbox=str(work / "inbox"), outbox=str(work / "outbox"), state=str(work / "state"),
                                 config=str(config), return_state=True)
            if not state.is_completed():
                t.visible = False
                t.notes.append(f"flow run {state.name}")
        s.keep(server)
    return s.count(READERS)


def storage(work: Path, slow: float) -> Tally:
    """Read-only state folder (a read-only bind mount, where the machine allows it) and a locked store."""
    t = Tally("read-only state folder, locked store")
    s = Setup(work, t, smtp_host=None, mail_to=[], state_timeout=1.0)
    s.run(None)  # a first run makes the store
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(120)", str(work / "state" / "state.sqlite")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        holder.stdout.readline()
        outcome = s.run(None, bound=30)
        if "locked by another program" not in outcome:
            t.notes.append(f"locked store: {outcome}")
            t.visible = False
    finally:
        holder.kill()
        holder.wait()
    code = (
        "set -e; mount --bind \"$1\" \"$1\"; mount -o remount,bind,ro \"$1\"; "
        f"{sys.executable} -m digest.cli run --inbox \"$2\" --outbox \"$3\" --state \"$1\" 2>&1 | tail -3"
    )
    try:
        out = subprocess.run(["unshare", "-m", "sh", "-c", code, "sh", str(work / "state"), str(work / "inbox"),
                              str(work / "outbox")], capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
        text = out.stdout + out.stderr
        t.runs += 1
        if "Traceback" in text or not ("read-only" in text.lower() or "not writable" in text):
            t.notes.append(f"read-only state folder: {text.strip()[-300:]}")
            t.visible = False
    except (OSError, subprocess.TimeoutExpired) as exc:
        t.notes.append(f"read-only case not run here ({exc})")
    return t


def sigterm_cli(work: Path, slow: float) -> Tally:
    """`digest run` stopped with SIGTERM during DATA: exit 143, every child process gone, nothing resent."""
    t = Tally("SIGTERM to `digest run` during DATA")
    s = Setup(work, t)
    behaviour = Behaviour(data_delay=1.0)
    with faulty_smtp(behaviour) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env.update({"DIGEST_SETTLE_SECONDS": "0", "DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(port_of(server)),
                    "DIGEST_SMTP_SECURITY": "none", "DIGEST_MAIL_TO": ",".join(READERS),
                    "DIGEST_MAIL_FROM": "digest@news.example",
                    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"})
        proc = subprocess.Popen([sys.executable, "-m", "digest.cli", "run", "--state", "state"], cwd=work, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        behaviour.data_received.wait(600)
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True,
                                  check=False).stdout.split()
        proc.send_signal(signal.SIGTERM)
        t.runs += 1
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            t.blocked += 1
            err = ""
        if proc.returncode != 143:
            t.notes.append(f"exit {proc.returncode}: {err[-300:]}")
        time.sleep(2)
        alive = [c for c in children if Path(f"/proc/{c}").exists()
                 and Path(f"/proc/{c}/stat").read_text().split(")")[-1].split()[0] != "Z"]
        if alive:
            t.notes.append(f"{len(alive)} child process(es) of {len(children)} outlived the run")
            t.blocked += 1
        s.keep(server)
    with faulty_smtp() as server:
        s.run(server)
        s.keep(server)
    return s.count(READERS)


def delivery_faults(work: Path, slow: float, with_cli: bool) -> list[Tally]:
    scenarios: list[Callable[[Path, float], Tally]] = [
        normal, slow_server, trickle, dropped(kept=False), dropped(kept=True), silent, per_recipient, refused_all,
        no_recipient, signalled(signal.SIGTERM, True), signalled(signal.SIGINT, True),
        signalled(signal.SIGTERM, False), damaged_store("lost"), damaged_store("emptied"),
        damaged_store("truncated"), damaged_store("corrupt"), spellings, manual_then_flow, storage,
    ]
    if with_cli:
        scenarios.append(sigterm_cli)
    tallies = []
    for i, scenario in enumerate(scenarios):
        started = time.monotonic()
        tally = scenario(work / f"d{i}", slow)
        tally.notes.append(f"{time.monotonic() - started:.0f} s")
        tallies.append(tally)
        print(f"  {tally.name}: expected {tally.expected}, delivered {tally.delivered}, duplicated {tally.duplicated}, "
              f"retry copies {tally.retry_copies}, blocked {tally.blocked}, visible {tally.visible} ({'; '.join(tally.notes)})",
              flush=True)
    return tallies


# --- the hostile world: settings, addresses, network deadlines, escaping, time zones, Maildir memory ----

BAD_VARIABLES = [  # (variable, value): each must fail when settings load, in one line naming the setting
    ("DIGEST_ALLOW_NETWORKS", "10.0.0.0/33"), ("DIGEST_ALLOW_NETWORKS", "intranet"),
    ("DIGEST_SOURCES", "ftp://feeds.example/rss"), ("DIGEST_SOURCES", '[{"url": '),
    ("DIGEST_SOURCES", "https://feeds.example:99999/rss"), ("DIGEST_SMTP_RETRY_DELAYS", "inf"),
    ("DIGEST_SMTP_RETRY_DELAYS", "nan"), ("DIGEST_SMTP_RETRY_DELAYS", "-5"), ("DIGEST_SMTP_PORT", "99999"),
    ("DIGEST_SMTP_PORT", "-1"), ("DIGEST_SERVER_PORT", "70000"), ("DIGEST_FETCH_TIMEOUT", "1e999"),
    ("DIGEST_SMTP_TIMEOUT", "nan"), ("DIGEST_STATE_TIMEOUT", "1e300"), ("DIGEST_SMTP_HOST", "mail host"),
    ("DIGEST_MAIL_TO", "a@example.com;b@example.com"), ("DIGEST_MAIL_TO", "a@example.com\r\nBcc: spy@evil.example"),
    ("DIGEST_MAIL_FROM", "digest@news.example\nBcc: spy@evil.example"),
    ("DIGEST_UNSUBSCRIBE", "https://news.example/u\r\nBcc: spy@evil.example"),
    ("DIGEST_UNSUBSCRIBE", "javascript:alert(1)"), ("DIGEST_REPLY_TO", "desk@news.example\u2028Bcc: x@evil.example"),
    ("DIGEST_TITLE", "Briefing\r\nBcc: spy@evil.example"), ("DIGEST_FETCH_USER_AGENT", "ua\r\nX-Evil: 1"),
    ("DIGEST_BASE_URL", "javascript:alert(1)"),
]
MAIL_ENV = {"DIGEST_SMTP_HOST": "mail.example", "DIGEST_MAIL_FROM": "digest@news.example",
            "DIGEST_MAIL_TO": "a@example.com"}


@dataclass
class Hostile:
    """One hostile-world case and how it went."""

    name: str
    ok: bool
    detail: str


def _with_env(values: dict[str, str], work: Callable[[], Any]) -> Any:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        return work()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def bad_settings(work: Path) -> list[Hostile]:
    """Every bad value: a one-line ConfigError when settings load; `digest check` and `run` say it in one line."""
    from digest.errors import ConfigError

    out = []
    for variable, value in BAD_VARIABLES:
        env = {**MAIL_ENV, variable: value}
        try:
            _with_env(env, lambda: load_settings(None, inbox=work / "inbox"))
            out.append(Hostile(f"{variable}={value!r}", False, "accepted"))
        except ConfigError as exc:
            one_line = "\n" not in str(exc) and "\r" not in str(exc)
            named = variable.removeprefix("DIGEST_").lower() in str(exc)
            out.append(Hostile(f"{variable}={value!r}", one_line and named, str(exc)[:70]))
        except Exception as exc:  # a traceback for the user
            out.append(Hostile(f"{variable}={value!r}", False, f"traceback: {exc!r}"[:70]))
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    for command in ("check", "run"):
        for variable, value in BAD_VARIABLES[::6]:
            env = {**base, **MAIL_ENV, variable: value}
            done = subprocess.run([sys.executable, "-m", "digest.cli", command], cwd=work, env=env, capture_output=True,
                                  text=True, timeout=300, check=False)
            text = (done.stdout + done.stderr).strip()
            ok = "Traceback" not in text and variable.removeprefix("DIGEST_").lower() in text and done.returncode != 0
            out.append(Hostile(f"digest {command}, {variable}={value!r}", ok, text.splitlines()[-1][:70] if text else "-"))
    return out


def one_mailbox_twice(work: Path) -> list[Hostile]:
    """mail_to names a@ twice in different case: the server gets one copy for a@, one for b@."""
    t = Tally("mail_to a@ twice in different case")
    s = Setup(work, t, mail_to=["a@example.com", "A@Example.COM", "b@example.com"])
    with faulty_smtp() as server:
        s.run(server, expect_failure=False)
        s.keep(server)
    s.count(READERS)
    rcpts = sorted(r.lower() for c in s.copies for r in c.rcpt)
    return [Hostile(t.name, rcpts == READERS and t.duplicated == 0, f"recipients {rcpts}")]


def trickling_feeds(work: Path, timeout: float = 3.0) -> list[Hostile]:
    """Feed servers that trickle a byte a second (headers, body), a slow redirect chain: cut at 3 x fetch_timeout."""
    from support.feed_server import FeedServer, Resource

    from digest.sources.http import Fetcher, FetchOptions
    from digest.sources.safety import AddressPolicy

    body = b"<rss version='2.0'><channel><title>Slow</title></channel></rss>" * 8
    bound = timeout * 3 + 2  # the deadline and a little for the machine
    out = []
    with FeedServer() as server:
        urls = {
            "feed headers a byte a second": server.add("/h.xml", Resource(body, conditional=False, trickle=1.0)),
            "feed body a byte a second": server.add("/b.xml", Resource(body, conditional=False, trickle=1.0,
                                                                       trickle_body_only=True)),
        }
        for i in range(6):
            server.add(f"/r{i}", Resource(b"", status=302, headers={"Location": f"/r{i + 1}"}, delay=timeout * 0.8))
        server.add("/r6", Resource(body))
        urls["6 redirects, each just under the timeout"] = server.url("/r0")
        options = FetchOptions(timeout=timeout, host_delay=0, max_redirects=8, policy=AddressPolicy(allow_private=True))
        with Fetcher(options) as fetcher:
            for name, url in urls.items():
                started = time.monotonic()
                try:
                    fetcher.get(url)
                    outcome = "fetched"
                except DigestError as exc:
                    outcome = str(exc).split(": ", 1)[-1]
                took = time.monotonic() - started
                out.append(Hostile(f"{name} (fetch_timeout {timeout:g})", outcome != "fetched" and took <= bound,
                                   f"{took:.1f} s: {outcome[:50]}"))
    return out


def report_escaping() -> list[Hostile]:
    """Article titles, outlets and file names with live markup: nothing of it renders in the run report."""
    from markdown_it import MarkdownIt

    from digest.runreport import markdown

    hostile = ["<img src=https://tracker.example/p.png>", "[x](javascript:alert(1))", "![p](https://t.example/p.png)",
               "<script>alert(1)</script>", "<https://phish.example>", "**bold** `code`", "a\nb | c\u202e"]
    record = {"articles": [{"path": f"/in/{h}.txt", "status": "failed", "reason": h} for h in hostile],
              "stories": [{"headline": h, "summary": ["x"], "sources": [{"outlet": h}]} for h in hostile]}
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(
        markdown({"path": "o/d.html", "failed": len(hostile), "sent": 0}, record, ("sent", "")))
    live = [tag for tag in ("<img", "<a ", "<script", "<strong>bold", "<code>code", "href=") if tag in html]
    return [Hostile(f"{len(hostile) * 3} hostile titles/outlets/files in the report", not live,
                    f"live markup: {live or 'none'}")]


def time_zones() -> list[Hostile]:
    """TZ in every form: the schedule's zone keeps local time's offsets, or a clear error asks for timezone."""
    code = (
        "import time, sys\nfrom datetime import UTC, datetime, timedelta\nfrom zoneinfo import ZoneInfo\n"
        "from digest.errors import ConfigError\nfrom digest.settings import load_settings\n"
        "from flows.deploy import timezone_of\ntry:\n    name = timezone_of(load_settings(None))\n"
        "except ConfigError as exc:\n    sys.exit(print('clear error:', exc))\n"
        "ts = [datetime(2027, m, 15, 12, tzinfo=UTC) for m in range(1, 13)]\n"
        "ok = all(t.astimezone(ZoneInfo(name)).utcoffset() == timedelta(seconds=time.localtime(t.timestamp()).tm_gmtoff)"
        " for t in ts)\nprint(name, ok)\n"
    )
    out = []
    for tz in ("Japan", "EST5EDT", "EST5EDT,M3.2.0,M11.1.0", "JST-9", "<+0545>-5:45", ":Europe/Paris", "NZST-12NZDT"):
        env = {**os.environ, "TZ": tz}
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        got = done.stdout.strip() or done.stderr.strip()[-60:]
        # a rule no IANA zone follows (NZ offsets on the C library's default US dates) must ask for `timezone`
        out.append(Hostile(f"TZ={tz}", got.endswith(" True") or got.startswith("clear error"), got[:70]))
    return out


def maildir_memory(work: Path, count: int) -> list[Hostile]:
    """A Maildir of `count` 1 MB letters: peak memory of a fetch with all new, then with nothing new."""
    import mailbox
    import tracemalloc

    from digest.sources.maildir import read_maildir

    box = mailbox.Maildir(work / "Mail", create=True)
    filler = b"A letter of some length, sent every day. " * 25_000
    for i in range(count):
        box.add(f"From: letters@news.example\nMessage-ID: <{i}@news.example>\n\n".encode() + filler[:1_000_000])
    out = []
    for name, known in (("all new", None), ("nothing new", lambda key: True)):
        tracemalloc.start()
        n = sum(1 for _ in read_maildir(work / "Mail", 10_000_000, known))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out.append(Hostile(f"Maildir {count} x 1 MB, {name}", peak < 5_000_000, f"{n} read, peak {peak / 1e6:.1f} MB"))
    return out


def hostile_world(work: Path, maildir_count: int) -> list[Hostile]:
    (work / "inbox").mkdir(parents=True)
    cases = bad_settings(work)
    cases += one_mailbox_twice(work / "twice")
    cases += trickling_feeds(work)
    cases += report_escaping()
    cases += time_zones()
    cases += maildir_memory(work, maildir_count)
    for c in cases:
        print(f"  {c.name[:58]:<60}{'ok' if c.ok else 'NOT HANDLED':<13}{c.detail}", flush=True)
    return cases


# --- nothing blocked, skipped, lost or sent twice (issue 19, part B) -----------------------------------


@dataclass
class Claim:
    """One case of part B and how it went."""

    name: str
    ok: bool
    detail: str


def _articles(folder: Path, names: list[bytes], salt: str = "") -> list[Path]:
    """Write one distinct article under each raw file name (bytes: names need not be UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    topics = ("the river tram", "the new stadium", "the school meals plan", "the harbour pier", "the night buses",
              "the library hours", "the flood barrier", "the market square")
    out = []
    for i, name in enumerate(names):
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))
        topic = topics[i % len(topics)]
        path.write_text(bad_inputs.good_article(f"Council decides on {topic} {salt}{i}", topic), encoding="utf-8")
        out.append(path)
    return out


def _cli(work: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    done = subprocess.run([sys.executable, "-m", "digest.cli", *args], cwd=work, env={**base, **(env or {})},
                          capture_output=True, text=True, errors="replace", timeout=600, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


def _clean_output(text: str) -> bool:
    return "Traceback" not in text and "\ud800" not in text


def _run_lines(settings: Any) -> tuple[Any, list[str], str]:
    lines: list[str] = []
    try:
        return pipeline.run(settings, report=lines.append), lines, ""
    except DigestError as exc:
        return None, lines, str(exc)
    except Exception as exc:  # a traceback for the user
        return None, lines, f"traceback: {exc!r}"


def odd_names(work: Path) -> list[Claim]:
    """Inbox names that are not UTF-8 (latin-1, cp1252, Shift-JIS, a lone byte), through `digest run` and
    `digest status`: digested, shown safely, no traceback."""
    names = [b"caf\xe9.txt", b"\x93quoted\x94 news.txt", b"\x93\xfa\x96{.txt", b"\xff.txt", b"ok.txt"]
    _articles(work / "inbox" / "old-ftp", names)
    code, text = _cli(work, "run", "--state", "state", env={"DIGEST_SETTLE_SECONDS": "0"})
    scode, stext = _cli(work, "status", "--state", "state")
    with StateStore(work / "state" / "state.sqlite") as store:
        done = sum(1 for a in store.articles() if a["status"] in ("included", "duplicate"))
    ok = code == 0 and scode == 0 and done == len(names) and _clean_output(text + stext)
    return [Claim(f"{len(names) - 1} inbox names not UTF-8, `digest run` + `status`", ok,
                  f"exit {code}/{scode}, {done} of {len(names)} digested: {text.splitlines()[-1][:50] if text else '-'}")]


def saved_by_fetch(work: Path) -> list[Claim]:
    """Files `digest fetch` just saved (atomically), default settle time: digested in the same run."""
    from digest.sources.store import SourceStore

    settings = load_settings(None, inbox=work / "inbox", outbox=work / "outbox", state=work / "state",
                             settle_seconds=10)
    saved = _articles(work / "inbox" / "Feeds", [f"e{i}.txt".encode() for i in range(4)])
    by_hand = _articles(work / "inbox" / "drop", [b"copying.txt"], salt="hand")
    with SourceStore.in_state(settings.state) as sources:
        for i, path in enumerate(saved):
            sources.add_message("maildir:/var/mail/news", f"k{i}", path)
    result, lines, error = _run_lines(settings)
    waiting = [line for line in lines if line.startswith("  waiting:")]
    ok = result is not None and result.new == len(saved) and len(waiting) == 1 and str(by_hand[0]) in waiting[0]
    return [Claim("fetched files with settle_seconds 10", ok,
                  f"{result.new if result else error} digested now, {len(waiting)} hand-copied file waiting")]


BUDGETS = {  # setting: (too low, file over it)
    "max_html_tags": (20, lambda f: _page(f, 40)),
    "max_file_bytes": (2500, lambda f: _page(f, 40)),
    "max_lines": (30, lambda f: _write(f / "long.txt", "Title: Tram timetable\n\n" + "\n".join(
        f"Tram {i} leaves the depot at dawn and reaches the harbour before the ferry." for i in range(80)))),
    "max_header_bytes": (1000, lambda f: _write(f / "letter.eml", "From: desk@news.example\nSubject: Stadium vote\n"
                                                + "X-Long: " + "a" * 3000 + "\n\n" + "The stadium vote passed. " * 30)),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _page(folder: Path, paragraphs: int) -> Path:
    body = "".join(f"<p>The harbour authority said ship {i} would dock at the new pier in spring.</p>"
                   for i in range(paragraphs))
    return _write(folder / "pier.html", f"<html><head><title>Harbour pier opens</title></head><body><article>"
                                        f"<h1>Harbour pier opens</h1>{body}</article></body></html>")


def budgets_raised(work: Path) -> list[Claim]:
    """A file over a budget fails; the budget is raised as advised; the next run digests it, status agrees."""
    out = []
    for setting, (low, make) in BUDGETS.items():
        folder = work / setting
        _articles(folder / "inbox", [b"a.txt", b"b.txt"])
        path = make(folder / "inbox")
        values = {"inbox": folder / "inbox", "outbox": folder / "outbox", "state": folder / "state"}
        _, first, _ = _run_lines(load_settings(None, **values, **{setting: low}))
        failed_first = any(line.startswith(f"  failed: {path}") and setting in line for line in first)
        result, _, error = _run_lines(load_settings(None, **values, **{setting: low * 1000}))
        with StateStore(folder / "state" / "state.sqlite") as store:
            now = [a["status"] for a in store.articles() if a["path"] == str(path)]
            stale = len(store.articles("failed"))
        ok = failed_first and result is not None and now == ["included"] and stale == 0
        out.append(Claim(f"{setting} raised after a failure", ok,
                         f"then {now or error}, {stale} failure(s) still listed"))
    return out


def every_folder(work: Path) -> list[Claim]:
    """Files under failed/, processed/, Failed/ and Processed/ are digested; hidden or linked folders named."""
    folders = ["failed", "processed", "Failed", "Processed"]
    files = [p for i, f in enumerate(folders) for p in _articles(work / "inbox" / f, [b"x.txt"], salt=f)]
    _articles(work / "inbox" / ".sync", [b"y.txt"])
    (work / "elsewhere").mkdir()
    (work / "inbox" / "linked").symlink_to(work / "elsewhere")
    (work / "inbox" / "scan.pdf").write_bytes(b"%PDF-1.4")
    settings = load_settings(None, inbox=work / "inbox", outbox=work / "outbox", state=work / "state")
    result, lines, error = _run_lines(settings)
    named = [n for n in (".sync", "linked", "scan.pdf") if any(n in line for line in lines)]
    ok = result is not None and result.new == len(files) and len(named) == 3
    return [Claim("files under failed/ processed/ Failed/ Processed/", ok,
                  f"{result.new if result else error} of {len(files)} digested; named {named}")]


def outbox_deleted(work: Path) -> list[Claim]:
    """A digest waiting for SMTP is deleted with the outbox: nobody had it -> digested and sent again, once;
    someone had it -> reported, nothing resent; never "It stays in the outbox"."""
    out = []
    for name, refuse in (("nobody had it", lambda a: "451 4.3.0 try later"),
                         ("a@ had it", lambda a: "451 4.3.0 try later" if a.startswith("b@") else None)):
        folder = work / name.replace(" ", "-").replace("@", "")
        t = Tally(name)
        s = Setup(folder, t)
        with faulty_smtp(Behaviour(rcpt_reply=refuse)) as server:
            s.run(server, expect_failure=True)
            s.keep(server)
        shutil.rmtree(folder / "outbox")
        lines: list[str] = []
        with faulty_smtp() as server:
            values = {**s.settings, "smtp_port": port_of(server)}
            try:
                pipeline.run(load_settings(None, **values), report=lines.append)
                message = ""
            except DigestError as exc:
                message = str(exc)
            s.keep(server)
        per: dict[str, int] = {}
        for c in s.copies:
            for r in c.rcpt:
                per[r] = per.get(r, 0) + 1
        false = "stays in the outbox" in message or any("stays in the outbox" in line for line in lines)
        told = any("gone from the outbox" in line for line in lines)
        want = {"a@example.com": 1, "b@example.com": 1} if name == "nobody had it" else {"a@example.com": 1}
        out.append(Claim(f"outbox deleted while waiting, {name}", per == want and told and not false,
                         f"copies {per}, said {'yes' if told else 'no'}, false message {'yes' if false else 'no'}"))
    return out


CONCURRENT = (
    "import sys; from pathlib import Path; from digest import pipeline; from digest.settings import load_settings\n"
    "from digest.errors import RunInProgress\n"
    "s = load_settings(None, inbox=Path(sys.argv[1]), outbox=Path(sys.argv[2]), state=Path(sys.argv[3]), "
    "settle_seconds=0)\n"
    "try: pipeline.run(s, report=lambda l: None)\nexcept RunInProgress as e: print(e)\n"
)


def two_working_folders(work: Path, n: int = 3) -> list[Claim]:
    """n runs at once on one inbox and outbox from n working folders (n default `.digest` folders)."""
    _articles(work / "inbox", [f"a{i}.txt".encode() for i in range(8)])
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(work / "inbox"), str(work / "outbox"),
                               str(work / f"cwd{i}" / ".digest")], cwd=ROOT, stdout=subprocess.DEVNULL) for i in range(n)]
    codes = [p.wait(timeout=600) for p in procs]
    digests = sorted((work / "outbox").glob("*/digest*.json"))
    ids = [a["id"] for d in digests for a in json.loads(d.read_text())["articles"]]
    ok = len(digests) == 1 and len(ids) == len(set(ids)) == 8 and codes == [0] * n
    return [Claim(f"{n} runs at once from {n} working folders", ok,
                  f"{len(digests)} digest(s), {len(ids)} article entries, exits {codes}")]


def header_addresses(work: Path) -> list[Claim]:
    """Addresses that break a header or an SMTP command, refused at send time (and by `send-test --to`)."""
    from digest.delivery import smtp

    bad = ["a@example.com\r\nBcc: spy@evil.example", "a@example.com\nBcc: spy@evil.example",
           "a@example.com\u2028Bcc: spy@evil.example", "a@example.com\x85Bcc: spy@evil.example",
           "a@example.com\x00", "a@example.com, spy@evil.example", "Spy <spy@evil.example>", "a@example.com\tx"]
    refused = 0
    with faulty_smtp() as server:
        settings = load_settings(None, smtp_host="127.0.0.1", smtp_port=port_of(server), smtp_security="none",
                                 mail_from="digest@news.example", mail_to=["b@example.com"])
        for address in bad:
            try:
                smtp.send(b"Subject: x\r\nMessage-ID: <1@news.example>\r\n\r\nbody\r\n", settings,
                          recipients=["b@example.com", address])
            except DigestError as exc:
                refused += "refused" in str(exc)
        day = work / "outbox" / "2026-01-01"
        day.mkdir(parents=True)
        (day / "digest.eml").write_bytes(b"From: digest@news.example\r\nSubject: Daily\r\nMessage-ID: <2@news.example>"
                                         b"\r\n\r\nbody\r\n")
        env = {"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(port_of(server)), "DIGEST_SMTP_SECURITY": "none",
               "DIGEST_MAIL_FROM": "digest@news.example"}
        code, text = _cli(work, "send-test", "--outbox", "outbox", "--to", bad[0], env=env)
        sent = len(server.copies)  # by the library calls and by send-test
    cli_ok = code != 0 and _clean_output(text) and len(text.splitlines()) == 1
    return [Claim(f"{len(bad)} header-breaking addresses at send time", refused == len(bad) and sent == 0,
                  f"{refused} refused, {sent} copies sent"),
            Claim("`digest send-test --to` with CR/LF", cli_ok, f"exit {code}: {text[-60:]}")]


def nothing_lost(work: Path) -> list[Claim]:
    cases: list[Claim] = []
    for i, case in enumerate((odd_names, saved_by_fetch, budgets_raised, every_folder, outbox_deleted,
                              two_working_folders, header_addresses)):
        try:
            cases += case(work / f"b{i}")
        except Exception as exc:  # the bench goes on; the case counts as not handled
            cases.append(Claim(case.__name__, False, f"crashed: {exc!r}"[:90]))
    for c in cases:
        print(f"  {c.name[:58]:<60}{'ok' if c.ok else 'NOT HANDLED':<13}{c.detail}", flush=True)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="60 crash trials instead of 20")
    parser.add_argument("--slow", type=float, default=45.0, help="seconds the slow server takes to answer DATA")
    parser.add_argument("--no-cli", action="store_true", help="skip `digest run` under SIGTERM (starts Prefect)")
    parser.add_argument("--only-delivery", action="store_true", help="only the delivery and state faults")
    parser.add_argument("--only-hostile", action="store_true", help="only the hostile-world cases")
    parser.add_argument("--only-lost", action="store_true",
                        help="only the cases of nothing blocked, skipped, lost or sent twice")
    parser.add_argument("--maildir", type=int, default=400, help="1 MB letters in the Maildir memory case")
    args = parser.parse_args()
    if args.only_hostile or args.only_lost:
        work = Path(tempfile.mkdtemp(prefix="digest-hostile-"))
        try:
            if args.only_hostile:
                print("hostile world:")
                cases = hostile_world(work / "hostile", args.maildir)
                print(f"hostile: cases {len(cases)}, handled {sum(c.ok for c in cases)}, "
                      f"not handled {sum(not c.ok for c in cases)}")
            if args.only_lost:
                print("nothing blocked, skipped, lost or sent twice:")
                claims = nothing_lost(work / "lost")
                print(f"nothing lost: cases {len(claims)}, handled {sum(c.ok for c in claims)}, "
                      f"not handled {sum(not c.ok for c in claims)}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    trials = 60 if args.full else 20
    work = Path(tempfile.mkdtemp(prefix="digest-faults-"))
    start = time.perf_counter()
    try:
        outcomes: list[bad_inputs.Outcome] = []
        n_trials = recovered = lost = duplicated = runs = extra = 0
        if not args.only_delivery:
            outcomes = [*bad_inputs.run_matrix(work / "matrix"), *poison.bench_outcomes(work / "poison")]
            print(f"{'input':<28}{'expected':<10}{'got':<11}reason")
            for o in outcomes:
                mark = "" if o.handled else "  <-- NOT HANDLED"
                name = o.case.name.replace("\n", "\\n")[:27]
                print(f"{name:<28}{o.case.expect:<10}{o.got:<11}{o.reason[:60]}{mark}")
            n_trials, recovered, lost, duplicated, notes = crash_trials(work / "crash", trials)
            for note in notes:
                print(note)
            runs, extra = concurrent_runs(work / "concurrent")
        handled = sum(o.handled for o in outcomes)
        lost_inputs = sum(1 for o in outcomes if not o.still_there or o.got == "missing")
        print("delivery and state faults:")
        tallies = delivery_faults(work / "delivery", args.slow, not args.no_cli)
        print("hostile world:")
        cases = [] if args.only_delivery else hostile_world(work / "hostile", args.maildir)
        print("nothing blocked, skipped, lost or sent twice:")
        claims = [] if args.only_delivery else nothing_lost(work / "lost")
        print()
        print(f"{'delivery / state fault':<52}{'expected':>9}{'got':>6}{'dup':>6}{'retry':>7}{'blocked':>9}  visible")
        for t in tallies:
            print(f"{t.name[:51]:<52}{t.expected:>9}{t.delivered:>6}{t.duplicated:>6}{t.retry_copies:>7}{t.blocked:>9}  "
                  f"{'yes' if t.visible else 'NO'}")
        expected = sum(t.expected for t in tallies)
        delivered = sum(t.delivered for t in tallies)
        dup = sum(t.duplicated for t in tallies)
        retry = sum(t.retry_copies for t in tallies)
        blocked = sum(t.blocked for t in tallies)
        hidden = sum(not t.visible for t in tallies)
        n_runs = sum(t.runs for t in tallies)
        print()
        print(f"{'check':<34}{'count':>8}{'ok':>8}{'bad':>8}")
        print(f"{'bad inputs handled':<34}{len(outcomes):>8}{handled:>8}{len(outcomes) - handled:>8}")
        print(f"{'crash trials recovered':<34}{n_trials:>8}{recovered:>8}{n_trials - recovered:>8}")
        print(f"{'concurrent runs, extra digests':<34}{runs:>8}{runs - extra:>8}{extra:>8}")
        print(f"{'delivery/state scenarios':<34}{len(tallies):>8}{len(tallies) - hidden:>8}{hidden:>8}")
        hostile_ok = sum(c.ok for c in cases)
        print(f"{'hostile-world cases':<34}{len(cases):>8}{hostile_ok:>8}{len(cases) - hostile_ok:>8}")
        claims_ok = sum(c.ok for c in claims)
        print(f"{'blocked/skipped/lost/twice cases':<34}{len(claims):>8}{claims_ok:>8}{len(claims) - claims_ok:>8}")
        print(f"(took {time.perf_counter() - start:.0f} s)")
        print(
            f"faults: inputs tried {len(outcomes)}, handled {handled}, lost {lost_inputs}; "
            f"messages expected {expected}, delivered {delivered}, duplicated {dup} "
            f"(+{retry} bounded retry copies after an unknown outcome); runs {n_runs}, blocked {blocked}; "
            f"{n_trials} crash trials, {lost} lost, {duplicated} duplicated; {runs} concurrent runs, {extra} duplicates; "
            f"{hidden} scenarios with a failure not made visible; hostile cases {len(cases)}, "
            f"not handled {len(cases) - hostile_ok}; blocked/skipped/lost/twice cases {len(claims)}, "
            f"not handled {len(claims) - claims_ok}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
