"""`digest check` and the checks before work: real SMTP servers on 127.0.0.1, one line per check, no traceback."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from test_cli import digest
from test_deliver import PASSWORD, USER, Inbox, check_login, smtp_server

# the TLS fixtures, imported under their own names so pytest finds them here
from test_deliver import cert as cert
from test_deliver import client_tls as client_tls
from test_deliver import server_tls as server_tls
from test_deliver import settings as smtp_settings

from digest import checks
from digest.delivery import smtp as deliver
from digest.errors import DeliveryError

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def lines(text: str) -> dict[str, str]:
    """Map each check's name to its line."""
    return {line.split()[1].rstrip(":"): line for line in text.splitlines() if line.strip()}


def test_probe_does_starttls_and_login_and_sends_nothing(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    inbox = Inbox()
    with smtp_server(inbox, tls_context=server_tls, require_starttls=True, authenticator=check_login, auth_required=True) as port:
        said = deliver.probe(smtp_settings(port, smtp_security="starttls", smtp_user=USER), PASSWORD, ssl_context=client_tls)
        with pytest.raises(DeliveryError, match="535") as info:
            deliver.probe(smtp_settings(port, smtp_security="starttls", smtp_user=USER), "wrong", ssl_context=client_tls)
    assert said == f"127.0.0.1:{port} answered EHLO, STARTTLS, AUTH as {USER}"
    assert "wrong" not in str(info.value)
    assert inbox.received == []


def test_check_prints_one_line_per_check(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.txt").write_text("Title: A\n\nText.\n")
    inbox = Inbox()
    with smtp_server(inbox, authenticator=check_login, auth_required=True, auth_require_tls=False) as port:
        env = {
            "DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(port), "DIGEST_SMTP_SECURITY": "none",
            "DIGEST_SMTP_USER": USER, "DIGEST_SMTP_PASSWORD": PASSWORD,
            "DIGEST_MAIL_FROM": "Digest <digest@news.example>", "DIGEST_MAIL_TO": "reader@example.com",
            "DIGEST_TIMEZONE": "Europe/Berlin", "PREFECT_API_URL": "http://127.0.0.1:9/api",
        }
        good = digest("check", cwd=tmp_path, env=env, timeout=120)
        bad = digest("check", cwd=tmp_path, env={**env, "DIGEST_SMTP_PASSWORD": "not-it"}, timeout=120)
    assert inbox.received == []  # checking sends nothing
    found = lines(good.stdout)
    assert list(found) == ["settings", "inbox", "outbox", "state", "schedule", "smtp", "prefect"]
    assert found["inbox"].startswith("ok    inbox: ") and found["inbox"].endswith("inbox (1 files)")
    assert found["outbox"].startswith("ok    outbox: ") and found["outbox"].endswith("outbox (will be created)")
    assert found["schedule"].startswith("ok    schedule: '0 7 * * *' in Europe/Berlin; next run 20")
    assert found["smtp"] == f"ok    smtp: 127.0.0.1:{port} answered EHLO, no TLS, AUTH as {USER}"
    # a Prefect server named by PREFECT_API_URL that does not answer is a failure
    assert found["prefect"].startswith("FAIL  prefect: no Prefect server answers at http://127.0.0.1:9/api")
    assert good.returncode == 1 and "Traceback" not in good.stderr
    smtp_line = lines(bad.stdout)["smtp"]
    assert smtp_line.startswith("FAIL  smtp: SMTP server 127.0.0.1") and "535" in smtp_line and "not-it" not in bad.stdout
    assert bad.returncode == 1


def test_check_warns_when_others_can_read_a_file_holding_a_password(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    config = tmp_path / "digest.toml"
    config.write_text('[smtp]\npassword = "s3cret"\n', encoding="utf-8")
    config.chmod(0o644)
    env = {"DIGEST_SERVER_PORT": "9"}
    loose = digest("check", "--state", str(tmp_path / "st"), cwd=tmp_path, env=env, timeout=120)
    assert lines(loose.stdout)["secrets"] == (
        f"WARN  secrets: {config.name} holds a password and is readable by group and others (mode 644); run: chmod 600 {config.name}"
    )
    assert loose.returncode == 0, loose.stdout + loose.stderr  # a warning, not a failure
    assert "s3cret" not in loose.stdout
    config.chmod(0o600)
    tight = digest("check", "--state", str(tmp_path / "st"), cwd=tmp_path, env=env, timeout=120)
    assert lines(tight.stdout)["secrets"].startswith("ok    secrets: ")


def test_secret_check_covers_password_files_and_passwordless_settings(tmp_path: Path) -> None:
    plain = tmp_path / "digest.toml"
    plain.write_text('title = "Morning"\n[[sources]]\nurl = "https://a.example/rss"\n', encoding="utf-8")
    plain.chmod(0o644)
    assert list(checks.secrets(plain)) == []  # nothing secret in it: readable is fine
    imap = tmp_path / "imap.toml"
    imap.write_text('[[sources]]\nimap = "imaps://me@mail.example/INBOX"\npassword = "pw"\n', encoding="utf-8")
    imap.chmod(0o640)
    password_file = tmp_path / "smtp.pass"
    password_file.write_text("pw\n", encoding="utf-8")
    password_file.chmod(0o604)
    found = [(c.outcome, c.detail.split(" (")[0]) for c in checks.secrets(imap, [password_file])]
    assert found == [("WARN", f"{imap} holds a password and is readable by group"),
                     ("WARN", f"{password_file} holds a password and is readable by others")]
    password_file.chmod(0o600)
    assert [c.outcome for c in checks.secrets(plain, [password_file])] == ["ok"]


def test_check_passes_without_smtp_or_server(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    out = digest("check", "--state", str(tmp_path / "st"), cwd=tmp_path, env={"DIGEST_SERVER_PORT": "9"}, timeout=120)
    found = lines(out.stdout)
    assert found["smtp"] == "skip  smtp: no smtp_host: digests stay in the outbox, nothing is sent"
    assert found["prefect"].startswith("skip  prefect: no Prefect server answers at http://127.0.0.1:9/api")
    assert out.returncode == 0, out.stdout + out.stderr


def test_check_reports_bad_settings_in_one_line(tmp_path: Path) -> None:
    out = digest("check", cwd=tmp_path, env={"DIGEST_SMPT_HOST": "mail.example"})
    assert out.stdout == "FAIL  settings: unknown variable DIGEST_SMPT_HOST; did you mean DIGEST_SMTP_HOST?\n"
    assert out.returncode == 2 and out.stderr == ""


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve"], {"DIGEST_SERVER_PORT": "9"}, "no Prefect server answers at http://127.0.0.1:9/api (ConnectError); start one with `digest server`"),
        (["serve"], {"DIGEST_SCHEDULE": "0 7 * *"}, "schedule: '0 7 * *' is not a cron schedule (Wrong number of fields)"),
        (["run"], {"DIGEST_TIMEZONE": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        (["run"], {"DIGEST_MAIL_TO": "a@example.com"}, "mail_to is set but smtp_host is not"),
        (["run", "--outbox", "inbox/out"], {}, "is inside inbox"),
        (["run", "--state", "/proc/sys/digest"], {}, "state folder /proc/sys/digest cannot be created in /proc/sys"),
        (["status"], {"DIGEST_SMTP_HOTS": "x"}, "did you mean DIGEST_SMTP_HOST?"),
    ],
)
def test_a_user_mistake_is_one_line_before_any_work(tmp_path: Path, args: list[str], env: dict[str, str], message: str) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.txt").write_text("Title: A\n\nSome text of an article.\n")
    out = digest(*args, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert not (tmp_path / "outbox").exists() and not (tmp_path / ".digest").exists()  # nothing was done
