"""The delivery and state commands as a user runs them: `send-test`, `repair`, `status`, the exit code
of an undelivered digest, and SIGTERM during a run (real subprocesses, real SMTP servers)."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.smtp import Behaviour, faulty_smtp, port_of

from digest import pipeline
from digest.settings import load_settings

pytestmark = pytest.mark.slow  # end to end: make test-quick skips it

ROOT = Path(__file__).resolve().parents[1]


def clean_env(**more: str) -> dict[str, str]:
    """The environment without DIGEST_* settings; the temporary Prefect server given time on a busy machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    env["DIGEST_SETTLE_SECONDS"] = "0"  # the files were just copied in, whole
    env.update(more)
    return env


def digest(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = clean_env(**(env or {}))
    return subprocess.run([sys.executable, "-m", "digest.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def smtp_env(port: int, **more: str) -> dict[str, str]:
    return {"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(port), "DIGEST_SMTP_SECURITY": "none",
            "DIGEST_SMTP_TIMEOUT": "10", "DIGEST_MAIL_FROM": "digest@news.example", **more}


def published(work: Path, seeds: Path, **kw: object) -> Path:
    """Digest two seed articles in `work` without sending; return the digest's .html path."""
    (work / "inbox").mkdir()
    for f in sorted(seeds.glob("*.txt"))[:2]:
        shutil.copy(f, work / "inbox" / f.name)
    settings = load_settings(None, inbox=work / "inbox", outbox=work / "outbox", state=work / ".digest", **kw)
    result = pipeline.run(settings, report=lambda line: None)
    assert result.path
    return result.path


def test_send_test_sends_a_fresh_message_to_each_address(tmp_path: Path, seeds: Path) -> None:
    html = published(tmp_path, seeds)
    real = email.message_from_bytes(html.with_suffix(".eml").read_bytes(), policy=email.policy.default)
    with faulty_smtp() as server:
        out = digest("send-test", "--to", "me@example.com", "--to", "you@example.org", cwd=tmp_path,
                     env=smtp_env(port_of(server), DIGEST_MAIL_TO="reader1@example.com,reader2@example.com"))
        assert out.returncode == 0, out.stderr
        assert [c.rcpt for c in server.copies] == [["me@example.com"], ["you@example.org"]]
        for copy in server.copies:
            assert copy.to == copy.rcpt[0]  # never the real readers, never each other
            assert copy.subject == f"[test] {real['Subject']}"
            assert copy.message_id and copy.message_id != real["Message-ID"]
            msg = email.message_from_bytes(copy.raw, policy=email.policy.default)
            assert msg.get_content_type() == "multipart/alternative"
    # nothing about the real digest changed: its delivery record still waits for its readers
    assert digest("status", cwd=tmp_path, env={"PREFECT_API_URL": "http://127.0.0.1:9/api"}).returncode == 0


def test_repair_and_status_on_a_damaged_store_are_one_line_each(tmp_path: Path, seeds: Path) -> None:
    published(tmp_path, seeds)
    db = tmp_path / ".digest" / "state.sqlite"
    db.write_bytes(b"this is not a database" * 200)
    for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        extra.unlink(missing_ok=True)
    status = digest("status", cwd=tmp_path, env={"PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert status.returncode == 1 and "Traceback" not in status.stderr
    assert "damaged" in status.stderr and "digest repair" in status.stderr
    assert len(status.stderr.strip().splitlines()) == 1
    repair = digest("repair", cwd=tmp_path)
    assert repair.returncode == 0, repair.stderr
    assert "moved the damaged state store aside" in repair.stdout and "1 digest (1 outbox-only)" in repair.stdout
    assert list(db.parent.glob("state.sqlite.damaged-*"))


def test_status_shows_each_undelivered_digest_once_with_the_reason(tmp_path: Path, seeds: Path) -> None:
    with faulty_smtp(Behaviour(rcpt_reply=lambda a: "550 5.1.1 no such user" if a.startswith("b@") else None)) as server:
        try:
            published(tmp_path, seeds, smtp_host="127.0.0.1", smtp_port=port_of(server), smtp_security="none",
                      mail_from="digest@news.example",
                      mail_to=["a@example.com", "b@example.com"])
        except Exception as exc:  # the run fails: the digest did not reach b@
            assert "550" in str(exc)
    out = digest("status", cwd=tmp_path, env={"PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum(line.startswith("digest ") for line in lines) == 1, out.stdout
    assert "  b@example.com: refused (550 5.1.1 no such user)" in lines
    assert "  a@example.com: sent (250 2.0.0 queued)" in lines
    assert any("undelivered" in line for line in lines if line.startswith("run "))


def test_an_undelivered_digest_has_its_own_exit_code(tmp_path: Path, seeds: Path) -> None:
    (tmp_path / "inbox").mkdir()
    shutil.copy(sorted(seeds.glob("*.txt"))[0], tmp_path / "inbox")
    with faulty_smtp(Behaviour(data_reply="550 5.7.1 rejected")) as server:
        out = digest("run", cwd=tmp_path, env=smtp_env(port_of(server), DIGEST_MAIL_TO="a@example.com"))
    assert out.returncode == 5, out.stderr
    assert "not delivered" in out.stderr and "550" in out.stderr and "Traceback" not in out.stderr


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def test_sigterm_during_data_records_the_outcome_and_stops_every_child(tmp_path: Path, seeds: Path) -> None:
    (tmp_path / "inbox").mkdir()
    shutil.copy(sorted(seeds.glob("*.txt"))[0], tmp_path / "inbox")
    behaviour = Behaviour(data_delay=2.0)  # answers 250 within the grace a signal leaves
    with faulty_smtp(behaviour) as server:
        env = clean_env(**smtp_env(port_of(server), DIGEST_MAIL_TO="a@example.com"))
        proc = subprocess.Popen([sys.executable, "-m", "digest.cli", "run"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not behaviour.data_received.wait(2):  # a busy machine may take minutes to start Prefect
            assert proc.poll() is None, f"the run ended before DATA: {proc.communicate()[1][-2000:]}"
        children = _children(proc.pid)  # the temporary Prefect API server among them
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "stopped by SIGTERM" in err and "Traceback" not in err
        assert len(server.copies) == 1
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [c for c in children if _alive(c)], "a child process outlived the run"
        # the 250 that came in during the grace was recorded: the next run sends nothing
        settings = load_settings(None, inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state=tmp_path / ".digest",
                                 smtp_host="127.0.0.1", smtp_port=port_of(server), smtp_security="none",
                                 mail_from="digest@news.example", mail_to=["a@example.com"])
        again = pipeline.run(settings, report=lambda line: None)
        assert again.sent == 0 and len(server.copies) == 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")
