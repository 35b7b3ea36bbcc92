"""The `digest` command as a user runs it: real subprocesses, real folders, no tracebacks."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_deliver import Inbox, smtp_server

ROOT = Path(__file__).resolve().parents[1]


def digest(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "digest.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """`digest run` twice on a copy of the bundled sample inbox, from its own folder."""
    work = tmp_path_factory.mktemp("cli")
    shutil.copytree(ROOT / "inbox", work / "inbox")
    first = digest("run", cwd=work)
    second = digest("run", cwd=work)
    return work, first, second


@pytest.mark.slow
def test_run_prints_one_line_per_stage_and_the_path(sample_run) -> None:  # type: ignore[no-untyped-def]
    work, first, _ = sample_run
    assert first.returncode == 0, first.stderr
    out = first.stdout
    for stage in ("ingested", "cleaned", "deduplicated", "clustered", "summarised", "rendered"):
        assert stage in out
    assert "Traceback" not in out + first.stderr
    last = out.strip().splitlines()[-1]
    assert last.startswith("digest: ") and last.endswith("digest.html")
    assert (work / last.removeprefix("digest: ")).exists()
    data = json.loads((work / last.removeprefix("digest: ")).with_suffix(".json").read_text())
    assert data["stories"] and any(a["status"] == "duplicate" for a in data["articles"])


@pytest.mark.slow
def test_second_run_says_nothing_new(sample_run) -> None:  # type: ignore[no-untyped-def]
    _, _, second = sample_run
    assert second.returncode == 0
    assert "nothing new" in second.stdout
    assert "Traceback" not in second.stdout + second.stderr


@pytest.mark.slow
def test_status_lists_runs(sample_run) -> None:  # type: ignore[no-untyped-def]
    work, _, _ = sample_run
    out = digest("status", cwd=work, env={"PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert out.returncode == 0, out.stderr
    assert "next run: unknown" in out.stdout
    assert "ok (" in out.stdout and "nothing-new" in out.stdout
    assert "included" in out.stdout


@pytest.mark.slow
def test_send_test_delivers_the_latest_digest(sample_run) -> None:  # type: ignore[no-untyped-def]
    work, _, _ = sample_run
    handler = Inbox()
    with smtp_server(handler) as port:
        out = digest("send-test", "--to", "me@example.com", cwd=work,
                     env={"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(port), "DIGEST_SMTP_SECURITY": "none",
                          "DIGEST_MAIL_FROM": "digest@news.example"})
    assert out.returncode == 0, out.stderr
    [envelope] = handler.received
    assert envelope.rcpt_tos == ["me@example.com"]
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"


def test_missing_inbox_is_a_clear_error(tmp_path: Path) -> None:
    out = digest("run", "--inbox", str(tmp_path / "nope"), cwd=tmp_path)
    assert out.returncode == 2
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    out = digest("run", cwd=tmp_path, env={"DIGEST_SMTP_SECURITY": "ssl3"})
    assert out.returncode == 2
    assert "smtp_security" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(("value", "code", "says"), [
    ("soon", 2, "a Prefect setting is invalid"),  # Prefect rejects its own variable when imported
    ("0", 1, "temporary Prefect API server did not start within 0 s"),  # a real start that cannot make it
])
@pytest.mark.slow
def test_prefect_trouble_is_one_clear_line(tmp_path: Path, value: str, code: int, says: str) -> None:
    shutil.copytree(ROOT / "inbox", tmp_path / "inbox")
    out = digest("run", cwd=tmp_path, env={"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": value,
                                           "PREFECT_API_URL": ""})
    assert out.returncode == code, out.stderr
    assert says in out.stderr and "Traceback" not in out.stdout + out.stderr
    assert not list((tmp_path / "outbox").glob("*/digest*.html"))  # nothing digested, so nothing marked done


def test_help_has_examples() -> None:
    for cmd in ("run", "clean", "scheduler", "serve", "server", "trigger", "status", "send-test", "check", "deploy"):
        out = digest(cmd, "--help", cwd=ROOT)
        assert out.returncode == 0
        assert "Example" in out.stdout, cmd


def test_scheduler_is_listed_and_serve_is_its_hidden_old_name() -> None:
    listed = digest("--help", cwd=ROOT)
    commands = {line.split()[0] for line in listed.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert "scheduler" in commands and "server" in commands and "serve" not in commands
    old = digest("serve", "--help", cwd=ROOT)
    assert old.returncode == 0 and "Register the deployment daily-digest/daily and run its schedule" in old.stdout
    # the old name runs the same command: it needs a server, and says so
    for name in ("scheduler", "serve"):
        out = digest(name, cwd=ROOT, env={"PREFECT_API_URL": "http://127.0.0.1:9/api"}, timeout=120)
        assert out.returncode == 2 and "no Prefect server answers at http://127.0.0.1:9/api" in out.stderr, name


def test_output_closed_early_ends_quietly(tmp_path: Path) -> None:
    """`digest status | head -1`: the reader goes away; no "Broken pipe" message, the SIGPIPE status."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PREFECT_API_URL"] = "http://127.0.0.1:9/api"
    try:
        proc = subprocess.run([sys.executable, "-m", "digest.cli", "status"], cwd=tmp_path, env=env, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 141


def test_trafilatura_discard_notice_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from trafilatura import bare_extraction

    import digest.clean.html  # noqa: F401  (installs the filter)

    page = "<html><body><article><p>" + "A line about the harbour and its boats. " * 20 + "</p></article></body></html>"
    with caplog.at_level(logging.DEBUG):
        assert bare_extraction(page, deduplicate=True) is not None
        assert bare_extraction(page, deduplicate=True) is None  # seen before: trafilatura discards it, and says so
        logging.getLogger("trafilatura.core").warning("something else: %s", "kept")
    messages = [r.getMessage() for r in caplog.records if r.name == "trafilatura.core"]
    assert "something else: kept" in messages
    assert not any(m.startswith("discarding data") for m in messages)


def test_clean_command_variants(tmp_path: Path, corpus: Path, seeds: Path) -> None:
    seed = sorted(seeds.glob("*.txt"))[4]
    page = sorted((corpus / "extraction-benchmark" / "html").glob("*.html.gz"))[0]
    explain = digest("clean", str(seed), "--explain", cwd=tmp_path)
    assert explain.returncode == 0, explain.stderr
    assert "drop: repeated title" in explain.stdout and "keep" in explain.stdout
    as_json = digest("clean", str(seed), "--format", "json", cwd=tmp_path)
    data = json.loads(as_json.stdout)
    assert data["title"] and data["paragraphs"]
    out = digest("clean", str(seed), str(page), "--out", str(tmp_path / "cleaned"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    stem = page.name.removesuffix(".html.gz")
    assert (tmp_path / "cleaned" / f"{seed.stem}.txt").read_text().strip()
    assert (tmp_path / "cleaned" / f"{stem}.txt").read_text().strip()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    failed = digest("clean", str(bad), cwd=tmp_path)
    assert failed.returncode == 3 and "empty file" in failed.stderr


def test_second_concurrent_run_exits_busy(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import pathlib, time\nfrom digest.state import run_lock\n"
         f"with run_lock(pathlib.Path({str(tmp_path / '.digest')!r})):\n    print('locked', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "locked"
        out = digest("run", cwd=tmp_path)
        assert out.returncode == 4
        assert "another run is in progress" in out.stderr and "Traceback" not in out.stderr
    finally:
        holder.kill()
        holder.wait()
