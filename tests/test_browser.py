"""Browser: open the rendered e-mail in headless Chromium at 600px and 375px through the DevTools pipe.

Checks that nothing overflows horizontally, every headline and source link is there, and that no
script in hostile article text ran. Needs the Debian package `chromium` (apt-get install -y chromium).
"""

from __future__ import annotations

import email
import fcntl
import json
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from test_render import make_digest, settings

from digest import render
from digest.models import Digest

pytestmark = pytest.mark.slow  # end to end: make test-quick skips it

CHROMIUM = os.environ.get("DIGEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe", "--hide-scrollbars", "about:blank",
]
WAIT = 30.0  # seconds without any reply from the browser before the test gives up

MEASURE = """JSON.stringify({
  width: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  bodyScrollWidth: document.body.scrollWidth,
  overflowing: Array.from(document.body.querySelectorAll('*'))
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map(el => el.tagName + ': ' + el.textContent.slice(0, 60)),
  headlines: Array.from(document.querySelectorAll('h2')).map(h => h.textContent.replace(/\\s+/g, ' ').trim()),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  scripts: document.scripts.length,
  handlers: Array.from(document.querySelectorAll('*'))
    .flatMap(el => Array.from(el.attributes).filter(a => a.name.startsWith('on')).map(a => a.name)),
  pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
})"""


class Browser:
    """A headless Chromium driven over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds() -> None:
            # move both ends above 10 first so dup2 onto 3 and 4 cannot clobber either of them
            read_end = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS[:-1], f"--user-data-dir={profile}", FLAGS[-1]],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire_fds, pass_fds=(3, 4),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], WAIT)
            chunk = os.read(self._from_browser, 1 << 16) if ready else b""
            if not chunk:
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None and self.process.stderr else ""
                raise AssertionError(f"Chromium stopped answering on the DevTools pipe. {stderr[-2000:]}")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return dict(json.loads(raw))

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_event(self, method: str, session: str) -> None:
        while True:
            if any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
                self.events.clear()
                return
            self.events.append(self._read_message())

    def measure(self, page: Path, width: int) -> dict[str, Any]:
        """Open `page` in a new tab `width` CSS pixels wide and return MEASURE's findings."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session)
        self.call("Emulation.setDeviceMetricsOverride", session, width=width, height=900, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", session, url=page.as_uri())
        self.wait_event("Page.loadEventFired", session)
        result = self.call("Runtime.evaluate", session, expression=MEASURE, returnByValue=True)
        self.call("Target.closeTarget", targetId=target)
        return dict(json.loads(result["result"]["value"]))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (AssertionError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found ({CHROMIUM}); the browser test needs it: apt-get update && apt-get install -y chromium",
            pytrace=False,
        )
    chrome = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chrome
    finally:
        chrome.close()


def expected_links(digest: Digest) -> set[str]:
    return {url for s in digest.stories for src in s.sources if (url := render.safe_url(src.url))}


@pytest.mark.parametrize("width", [600, 375])
def test_digest_fits_the_width_shows_everything_and_runs_no_script(browser: Browser, tmp_path: Path, width: int) -> None:
    digest = make_digest(4, hostile=True, words=80)
    rendered = render.render(digest, settings(unsubscribe="https://news.example/unsubscribe?u=" + "z" * 120))
    page = tmp_path / "digest.html"
    page.write_text(rendered.html, encoding="utf-8")
    seen = browser.measure(page, width)
    assert seen["width"] == width
    assert seen["scrollWidth"] <= width and seen["bodyScrollWidth"] <= width, seen
    assert seen["overflowing"] == []
    assert seen["headlines"] == [" ".join(render.clean_text(s.headline).split()) for s in digest.stories]
    assert expected_links(digest) <= set(seen["links"])
    assert all(link.split(":", 1)[0] in {"http", "https", "mailto"} for link in seen["links"]), seen["links"]
    assert seen["scripts"] == 0 and seen["handlers"] == [] and seen["pwned"] is None


def test_trimmed_email_and_archive_fit_a_phone(browser: Browser, tmp_path: Path) -> None:
    digest = make_digest(30, hostile=True, words=200)
    rendered = render.render(digest, settings(max_email_bytes=40_000))
    assert rendered.trimmed
    render.write_digest(rendered, tmp_path, digest.date.date())
    index = render.write_index(tmp_path)
    message = email.message_from_bytes(rendered.eml, policy=default)
    html_part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    mail = tmp_path / "mail.html"
    mail.write_text(html_part.get_content(), encoding="utf-8")
    for page in (mail, tmp_path / "2026-11-24" / "digest.html", index):
        seen = browser.measure(page, 375)
        assert seen["scrollWidth"] <= 375 and seen["overflowing"] == [], (page.name, seen)
        assert seen["scripts"] == 0 and seen["pwned"] is None


def test_the_measurements_catch_overflow_and_scripts(browser: Browser, tmp_path: Path) -> None:
    # a control: a page that does overflow and does run a script must be caught, or the checks above prove nothing
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><h2>Wide</h2><div style="width: 900px">wide</div>'
        "<img src=x onerror=\"window.__pwned='img'\"><script>window.__pwned = window.__pwned || 'script';</script>"
        '<a href="javascript:void(0)">x</a></body></html>',
        encoding="utf-8",
    )
    seen = browser.measure(page, 375)
    assert seen["scrollWidth"] > 375 and seen["overflowing"]
    assert seen["scripts"] == 1 and seen["handlers"] == ["onerror"] and seen["pwned"] in {"img", "script"}
    assert seen["links"] == ["javascript:void(0)"]


READ = """JSON.stringify({
  stories: Array.from(document.querySelectorAll('td.story')).map(td => ({
    headline: td.querySelector('h2').textContent.trim(),
    bullets: Array.from(td.querySelectorAll('li.bullet')).map(li => ({
      tags: Array.from(li.querySelectorAll('.tag')).map(t => t.textContent),
      // a tag drawn on one line: its height is one line's, whatever the width
      oneLine: Array.from(li.querySelectorAll('.tag')).every(t => t.getClientRects().length === 1),
    })),
    sources: Array.from(td.querySelectorAll('ul.sources li')).map(li => li.textContent.replace(/\\s+/g, ' ').trim()),
    links: Array.from(td.querySelectorAll('ul.sources a')).map(a => a.getAttribute('href')),
  })),
  contents: Array.from(document.querySelectorAll('.contents-list li')).map(li => li.textContent.trim()),
})"""


def test_a_reader_sees_bullets_outlets_sources_once_and_widest_story_first(browser: Browser, tmp_path: Path) -> None:
    from datetime import datetime

    from digest.models import Source, StorySummary, SummarySentence

    day = datetime(2026, 12, 2, 7, tzinfo=UTC)
    long_name = "The Very Long Name Of A Regional Evening Newspaper"

    def story(n: int, outlets: list[str]) -> StorySummary:
        sources = [Source(f"a{n}{k}", o, f"Title {n}{k}", f"inbox/{n}{k}.txt", f"https://o{k}.example/{n}") for k, o in enumerate(outlets)]
        sources.append(replace(sources[0], article_id=f"c{n}", path=f"inbox/{n}-copy.html"))  # an exact copy
        sources.append(Source(f"f{n}", f"00{n}_29a4b08e364da55a", f"From a file {n}", f"inbox/00{n}_29a4b08e364da55a.txt", None))
        sentences = tuple(
            SummarySentence(f"Fact {k} of story {n}, told in one short sentence.", s.article_id, s.outlet, (s.outlet, long_name))
            for k, s in enumerate(sources[:3])
        )
        return StorySummary(f"s{n}", f"Story {n}", sentences, tuple(sources), tuple(s.article_id for s in sources), latest=day)

    stories = (story(1, ["Alpha"]), story(2, ["Alpha", "Beta", long_name]), story(3, ["Alpha", "Beta"]),
               story(4, ["Gamma"]), story(5, ["Delta"]), story(6, ["Alpha", "Gamma"]))
    digest = Digest(day, "Daily briefing", stories, ())
    page = tmp_path / "digest.html"
    page.write_text(render.render(digest, settings()).html, encoding="utf-8")
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.call("Page.enable", session)
    browser.call("Emulation.setDeviceMetricsOverride", session, width=375, height=900, deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", session, url=page.as_uri())
    browser.wait_event("Page.loadEventFired", session)
    seen = json.loads(browser.call("Runtime.evaluate", session, expression=READ, returnByValue=True)["result"]["value"])
    browser.call("Target.closeTarget", targetId=target)
    headlines = [s["headline"] for s in seen["stories"]]
    assert headlines[0] == "Story 2" and set(headlines[1:3]) == {"Story 3", "Story 6"}  # most outlets first
    assert seen["contents"] == headlines  # more than five stories: the headlines on top, in the same order
    for s in seen["stories"]:
        assert s["bullets"] and all(b["tags"] for b in s["bullets"])  # every bullet names who reports it
        tags = [t for b in s["bullets"] for t in b["tags"]]
        assert all(b["oneLine"] for b in s["bullets"]), s  # no outlet name wraps, even on a phone
        assert long_name.replace(" ", "\u00a0") in tags
        assert not any("29a4b08e364da55a" in t for t in tags)  # never a file name
        assert len(s["links"]) == len(set(s["links"]))  # the exact copy is not listed twice
        assert not any("29a4b08e364da55a" in x for x in s["sources"])
