"""Prefect as the window: a run against a real server shows its stage lines and its report in Prefect's dashboard.

A real `digest server` (dashboard on) on 127.0.0.1, `digest run` pointed at it, then the API and headless
Chromium: the flow-run page is rendered by Prefect's own UI, screenshotted, and must show the log lines.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.prefect_server import Server, wait_for
from test_browser import CHROMIUM, Browser
from test_cli import digest

pytestmark = pytest.mark.slow  # end to end: make test-quick skips it

PAGE_TEXT = "document.body ? document.body.innerText : ''"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found ({CHROMIUM}): apt-get update && apt-get install -y chromium", pytrace=False)
    chrome = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chrome
    finally:
        chrome.close()


@pytest.fixture(scope="module")
def flow_run(prefect_server: Server, tmp_path_factory: pytest.TempPathFactory, seeds: Path) -> dict[str, Any]:
    """`digest run` on the five seed articles, recorded by the server; return the flow run and the CLI's output."""
    work = tmp_path_factory.mktemp("ui-run")
    (work / "inbox").mkdir()
    for f in sorted(seeds.glob("*.txt")):
        shutil.copy2(f, work / "inbox" / f.name)  # old files: not "still being written"
    out = digest("run", cwd=work, env={"PREFECT_API_URL": prefect_server.api}, timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    [run] = httpx.post(f"{prefect_server.api}/flow_runs/filter", timeout=10, json={
        "flow_runs": {"deployment_id": {"is_null_": True}}, "sort": "START_TIME_DESC", "limit": 1}).json()
    return {"run": run, "stdout": out.stdout, "work": work}


def logs_of(api: str, run_id: str) -> list[dict[str, Any]]:
    return list(httpx.post(f"{api}/logs/filter", timeout=10, json={
        "logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": 200}).json())


def test_dashboard_is_served_by_digest_server(prefect_server: Server) -> None:
    page = httpx.get(f"{prefect_server.root}/", timeout=10)
    assert page.status_code == 200 and "<div id=\"app\"" in page.text  # Prefect's UI, from the installed package


def test_stage_lines_reach_the_run_log(prefect_server: Server, flow_run: dict[str, Any]) -> None:
    run = flow_run["run"]
    assert run["state_type"] == "COMPLETED"
    printed = [line for line in flow_run["stdout"].splitlines() if line]
    messages = [log["message"] for log in logs_of(prefect_server.api, run["id"]) if log["name"] == "digest.run"]
    # every line the terminal showed is in Prefect's log, in order, ending with the digest's path
    assert messages == printed
    assert "ingested 5 new articles" in messages and "clustered them into 1 story" in messages
    outbox = flow_run["work"].resolve() / "outbox"  # folders are resolved: one outbox however it is spelled
    assert messages[-1].startswith(f"digest: {outbox}/") and messages[-1].endswith("/digest.html")


def test_run_publishes_a_markdown_report(prefect_server: Server, flow_run: dict[str, Any]) -> None:
    artifacts = httpx.post(f"{prefect_server.api}/artifacts/filter", timeout=10, json={
        "artifacts": {"flow_run_id": {"any_": [flow_run["run"]["id"]]}}}).json()
    [report] = artifacts
    assert report["key"] == "daily-digest-report" and report["type"] == "markdown"
    text = report["data"]
    record = json.loads(next((flow_run["work"] / "outbox").glob("*/digest.json")).read_text())
    [story] = record["stories"]
    assert "| ingest | 5 new files |" in text
    assert "| cluster | 1 story (0 continuing earlier ones) |" in text
    assert "| deliver | no SMTP host: kept in the outbox |" in text
    assert f"**{story['headline']}**: 5 sources" in text
    assert "digest.html" in text.splitlines()[-1]


def test_flow_run_page_shows_the_lines_in_chromium(
    prefect_server: Server, flow_run: dict[str, Any], browser: Browser, tmp_path: Path
) -> None:
    run = flow_run["run"]
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.call("Page.enable", session)
    browser.call("Emulation.setDeviceMetricsOverride", session, width=1280, height=900, deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", session, url=f"{prefect_server.root}/runs/flow-run/{run['id']}")

    def page_text() -> str:
        result = browser.call("Runtime.evaluate", session, expression=PAGE_TEXT, returnByValue=True)
        return str(result["result"].get("value") or "")

    def logs_shown() -> str:
        text = page_text()
        return text if "clustered them into 1 story" in text else ""

    # the UI is a script application: wait until it has fetched the run and its logs from the API
    text = wait_for(logs_shown, 90, "the flow-run page's logs")
    assert run["name"] in text and "ingested 5 new articles" in text
    time.sleep(1)  # let the last frame paint
    shot = base64.b64decode(browser.call("Page.captureScreenshot", session, format="png")["data"])
    browser.call("Target.closeTarget", targetId=target)
    picture = tmp_path / "flow-run.png"
    picture.write_bytes(shot)
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000, len(shot)  # a rendered page, not a blank one
