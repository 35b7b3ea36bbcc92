"""Delivery through the Prefect flow: the same code path as direct runs; retries only for transient
failures; a digest that did not reach every reader leaves the flow run Failed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, Session
from prefect.testing.utilities import prefect_test_harness
from support.smtp import Behaviour, faulty_smtp, port_of
from test_deliver import USER, Inbox, check_login, smtp_server

from digest.errors import UndeliveredError
from digest.settings import load_settings
from flows import daily_digest as flow_module
from flows.compute import Compute
from flows.daily_digest import daily_digest

pytestmark = [pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"), pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def prefect_harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=600):
        yield


@pytest.fixture
def work(tmp_path: Path, seeds: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    for f in sorted(seeds.glob("*.txt"))[:2]:
        shutil.copy(f, tmp_path / "inbox" / f.name)
    return tmp_path


def run_flow(work: Path, port: int, extra: str = "") -> Any:
    config = work / "digest.toml"
    config.write_text(
        f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_security = "none"\nsmtp_timeout = 10.0\n'
        f'smtp_data_timeout = 10.0\nsmtp_retry_delays = [0.1, 0.1]\nmail_to = ["a@example.com"]\n'
        f'mail_from = "digest@news.example"\n{extra}'
    )
    return daily_digest(inbox=str(work / "inbox"), outbox=str(work / "outbox"), state=str(work / "state"),
                        config=str(config), return_state=True)


def test_the_flow_sends_through_the_one_delivery_path(work: Path) -> None:
    compute = Compute(load_settings(None), in_process=True)
    assert flow_module.prefect_steps(compute).deliver is flow_module.deliver_step
    handler = Inbox()
    with smtp_server(handler) as port:
        state = run_flow(work, port)
    assert state.is_completed()
    assert [e.rcpt_tos for e in handler.received] == [["a@example.com"]]


def test_a_refused_digest_fails_the_flow_run(work: Path) -> None:
    with faulty_smtp(Behaviour(data_reply="550 5.7.1 rejected")) as server:
        state = run_flow(work, port_of(server))
        assert state.is_failed()
        with pytest.raises(UndeliveredError, match="550"):
            state.result()
        assert server.copies == []


def test_a_temporary_failure_is_retried_by_the_task(work: Path) -> None:
    attempts: list[int] = []

    def busy_then_ok(address: str) -> str | None:
        attempts.append(1)
        return "451 4.3.0 try later" if len(attempts) < 3 else None

    with faulty_smtp(Behaviour(rcpt_reply=busy_then_ok)) as server:
        state = run_flow(work, port_of(server))  # two task retries: the third try goes through
        assert state.is_completed(), state
        assert len(attempts) == 3 and len(server.copies) == 1


def test_a_configuration_error_is_not_retried(work: Path) -> None:
    logins: list[str] = []

    def counting_login(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        logins.append(mechanism)
        return check_login(server, session, envelope, mechanism, data)

    with smtp_server(Inbox(), authenticator=counting_login, auth_required=True, auth_require_tls=False) as port:
        state = run_flow(work, port, f'smtp_user = "{USER}"\nsmtp_password = "wrong"\n')
    assert state.is_failed()
    # one login (smtplib tries PLAIN, then LOGIN); a rejected login is permanent: no task retry
    assert logins == ["PLAIN", "LOGIN"]
