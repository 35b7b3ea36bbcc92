"""Sources without a network: feed parsing, the address policy, OPML, digest.toml edits, page metadata, Maildir."""

from __future__ import annotations

import gzip
import json
import mailbox
import stat
import sys
import tomllib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest import ingest
from digest.errors import ConfigError, FetchError, UnsafeAddress
from digest.settings import Source, load_settings
from digest.sources.config import append_sources
from digest.sources.feeds import Entry, parse_feed
from digest.sources.opml import read_opml, write_opml
from digest.sources.page import feed_document, page_document
from digest.sources.safety import AddressPolicy, GuardedBackend
from digest.sources.store import SourceStore

sys.path.insert(0, str(Path(__file__).parent))
from support.feed_server import Item, atom, json_feed, opml, rss

WHEN = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


def items(n: int = 2, full: bool = False) -> list[Item]:
    return [Item(f"urn:x:{i}", f"Story {i} & more", f"https://news.example/{i}", WHEN, f"Teaser {i}.",
                 "<p>" + "word " * 200 + "</p>" if full else None) for i in range(n)]


@pytest.mark.parametrize("make, kind", [(rss, "rss20"), (atom, "atom10"), (json_feed, "json11")])
def test_each_format_gives_the_same_entries(make, kind) -> None:  # type: ignore[no-untyped-def]
    feed = parse_feed(make("Wire", items()), "https://news.example/feed")
    assert feed.kind == kind
    assert feed.title == "Wire"
    assert [e.key for e in feed.entries] == ["urn:x:0", "urn:x:1"]
    assert [e.link for e in feed.entries] == ["https://news.example/0", "https://news.example/1"]
    assert feed.entries[0].title == "Story 0 & more"
    assert feed.entries[0].date == WHEN
    assert feed.entries[0].content is None


@pytest.mark.parametrize("make", [rss, atom, json_feed])
def test_full_content_is_read_from_content_encoded_atom_content_and_content_html(make) -> None:  # type: ignore[no-untyped-def]
    feed = parse_feed(make("Wire", items(1, full=True)), "https://news.example/feed")
    assert feed.entries[0].content is not None and feed.entries[0].content.count("word") == 200


def test_rss_091_and_rdf_feeds_are_read() -> None:
    rss091 = (b'<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title><link>http://o.example/</link>'
              b"<item><title>Hello</title><link>http://o.example/a</link></item></channel></rss>")
    rdf = (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           b'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://r.example/"><title>RDF</title></channel>'
           b'<item rdf:about="http://r.example/b"><title>B</title><link>http://r.example/b</link></item></rdf:RDF>')
    assert [e.key for e in parse_feed(rss091, "http://o.example/rss").entries] == ["http://o.example/a"]
    assert [e.link for e in parse_feed(rdf, "http://r.example/rss").entries] == ["http://r.example/b"]


def test_broken_feed_is_read_with_a_warning_and_duplicates_are_dropped() -> None:
    its = items(3)
    its[2] = Item("urn:x:0", "Same guid again", "https://news.example/other", WHEN, "dup")
    feed = parse_feed(rss("Wire", its, broken=True), "https://news.example/feed")
    assert feed.warning
    assert [e.key for e in feed.entries] == ["urn:x:0", "urn:x:1"]
    assert feed.entries[0].link == "https://news.example/0"


@pytest.mark.parametrize("body, reason", [
    (b"<html><head><title>Home</title></head><body><p>Welcome</p></body></html>", "not a feed"),
    (b"", "empty"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', "no \"items\" list"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not a valid JSON Feed"),
])
def test_non_feeds_fail_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(FetchError, match=reason):
        parse_feed(body, "https://news.example/feed")


def test_relative_links_resolve_against_the_feed_url() -> None:
    data = json.dumps({"version": "https://jsonfeed.org/version/1", "items": [{"id": "1", "url": "/a/b"}]}).encode()
    assert parse_feed(data, "https://news.example/feeds/x.json").entries[0].link == "https://news.example/a/b"


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
                                     "224.0.0.1"])
def test_private_loopback_and_link_local_addresses_are_refused(address: str) -> None:
    assert AddressPolicy().refusal(address)
    assert AddressPolicy(allow_private=True).refusal(address) is None


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(address) is None


def test_allowed_networks_open_only_themselves() -> None:
    policy = AddressPolicy.of(False, ["10.1.0.0/16"])
    assert policy.refusal("10.1.2.3") is None
    assert policy.refusal("10.2.0.1") == "a private address"
    with pytest.raises(FetchError, match="CIDR"):
        AddressPolicy.of(False, ["not a network"])


def test_the_guard_checks_the_name_after_dns_resolution() -> None:
    # localhost is a name: only resolving it shows it is loopback
    backend = GuardedBackend(AddressPolicy())
    with pytest.raises(UnsafeAddress, match=r"localhost \(.*127\.0\.0\.1.*\): a loopback address"):
        backend.connect_tcp("localhost", 80)


def test_the_guard_connects_to_the_vetted_address_not_the_name_again() -> None:
    # a resolver answering a public address then a private one (DNS rebinding) cannot win:
    # the address that passed the check is the one connected to
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    connected: list[str] = []
    backend = GuardedBackend(AddressPolicy(), resolver=lambda host, port: next(answers))

    class Recorder:
        def connect_tcp(self, host: str, *args: object) -> None:
            connected.append(host)

    backend.inner = Recorder()  # type: ignore[assignment]
    backend.connect_tcp("rebind.example", 80)
    assert connected == ["93.184.215.14"]
    with pytest.raises(UnsafeAddress):
        backend.connect_tcp("rebind.example", 80)
    assert connected == ["93.184.215.14"]


def test_opml_round_trip_keeps_names_and_folder_tags(tmp_path: Path) -> None:
    path = tmp_path / "subs.opml"
    path.write_bytes(opml([("Wire", "https://a.example/rss"), ("Ledger", "https://b.example/atom")]))
    found = read_opml(path)
    assert [(s.url, s.name, s.tags) for s in found] == [
        ("https://a.example/rss", "Wire", ["News"]), ("https://b.example/atom", "Ledger", ["News"])]
    (tmp_path / "again.opml").write_text(write_opml(found), encoding="utf-8")
    assert read_opml(tmp_path / "again.opml") == found


def test_bad_opml_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.opml").write_text("<opml><body><outline", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid OPML"):
        read_opml(tmp_path / "x.opml")
    (tmp_path / "y.opml").write_text("<rss/>", encoding="utf-8")
    with pytest.raises(ConfigError, match="not an OPML file"):
        read_opml(tmp_path / "y.opml")


def test_sources_are_appended_to_digest_toml_and_load_back(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        'title = "Morning"\nmail_from = "digest@news.example"\nmail_to = ["me@news.example"]\n\n[smtp]\nhost = "mail.example"\n',
        encoding="utf-8",
    )
    append_sources(config, [Source(url="https://a.example/rss", name='The "A" Times', tags=["world"]),
                            Source(maildir=tmp_path / "Mail", name="Letters")])
    settings = load_settings(config)
    assert settings.smtp_host == "mail.example"
    assert [s.label for s in settings.sources] == ['The "A" Times', "Letters"]
    assert settings.sources[0].tags == ["world"]
    assert tomllib.loads(config.read_text(encoding="utf-8"))["title"] == "Morning"


def test_sources_add_keeps_a_private_settings_file_private(tmp_path: Path) -> None:
    from test_cli import digest

    config = tmp_path / "digest.toml"
    config.write_text('mail_from = "digest@news.example"\nmail_to = ["me@news.example"]\n[smtp]\nhost = "mail.example"\npassword = "s3cret"\n',
                      encoding="utf-8")
    config.chmod(0o600)
    added = digest("sources", "add", "https://a.example/rss", "--name", "A", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "added A" in added.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert [s.label for s in load_settings(config).sources] == ["A"]
    assert load_settings(config).smtp_password is not None


def test_a_source_needs_one_http_url_or_a_maildir(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text('[[sources]]\nurl = "file:///etc/passwd"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="must start with http"):
        load_settings(config)
    config.write_text('[[sources]]\nname = "nothing"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="exactly one of"):
        load_settings(config)


def test_page_metadata_makes_the_feed_name_the_outlet(tmp_path: Path, corpus: Path) -> None:
    # on every benchmark page: ingest reads back the feed's name, the entry's title, link and date
    pages = sorted((corpus / "extraction-benchmark" / "html").glob("*.html.gz"))
    wrong = []
    for i, gz in enumerate(pages):
        entry = Entry(f"k{i}", f"https://site.example/{i}", f"Entry title {i}", WHEN, None, None)
        out = tmp_path / f"{i}.html"
        out.write_bytes(page_document(gzip.decompress(gz.read_bytes()), "text/html", entry, "My Feed", entry.link or ""))
        meta = ingest.load_file(out).meta
        got = (meta.outlet, meta.title, meta.url, meta.date.date() if meta.date else None)
        if got != ("My Feed", f"Entry title {i}", f"https://site.example/{i}", WHEN.date()):
            wrong.append((gz.name, got))
    assert not wrong, wrong[:5]


def test_feed_document_carries_the_full_text_and_metadata(tmp_path: Path) -> None:
    entry = Entry("k", "https://site.example/a", "A <b>title</b>", WHEN, "<p>Full text here.</p>", None, "Ann Writer")
    out = tmp_path / "a.html"
    out.write_bytes(feed_document(entry, "Feed & Co"))
    raw = ingest.load_file(out)
    assert (raw.meta.outlet, raw.meta.title, raw.meta.url) == ("Feed & Co", "A <b>title</b>", "https://site.example/a")
    assert "Full text here." in raw.text


def test_store_keeps_validators_on_failure_and_entries_once(tmp_path: Path) -> None:
    with SourceStore(tmp_path / "s.sqlite") as store:
        assert store.record_check("f", "F", "ok", etag='"1"', entries=[("a", "l", {"key": "a"})]) == 1
        assert store.record_check("f", "F", "ok", entries=[("a", "l", {"key": "a"}), ("b", None, {"key": "b"})]) == 1
        store.record_failure("f", "F", "HTTP 500")
        state = store.source("f")
        assert state is not None and (state.etag, state.outcome, state.failures) == ('"1"', "failed", 1)
        assert [k for k, _, _ in store.pending("f")] == ["a", "b"]
        store.finish("f", "a", "saved", tmp_path / "a.html")
        assert store.link_saved("l") == "f" and [k for k, _, _ in store.pending("f")] == ["b"]


def test_maildir_messages_become_eml_files_once(tmp_path: Path) -> None:
    from digest.sources.fetch import EntryRules, fetch_source
    from digest.sources.http import Fetcher, FetchOptions

    box = mailbox.Maildir(tmp_path / "Mail")
    for i in range(3):
        msg = EmailMessage()
        msg["From"], msg["Subject"], msg["Message-ID"] = "Letters <news@letters.example>", f"Issue {i}", f"<{i}@letters>"
        msg.set_content(f"Issue {i} of the newsletter.\n\n" + "Body text. " * 30)
        box.add(msg)
    source = Source(maildir=tmp_path / "Mail", name="Letters")
    inbox = tmp_path / "inbox"
    with SourceStore(tmp_path / "s.sqlite") as store, Fetcher(FetchOptions()) as fetcher:
        first = fetch_source(source, fetcher, store, inbox, EntryRules())
        assert len(first.saved) == 3 and all(p.suffix == ".eml" for p in first.saved)
        assert sorted(ingest.load_file(p).meta.title or "" for p in first.saved) == ["Issue 0", "Issue 1", "Issue 2"]
        assert fetch_source(source, fetcher, store, inbox, EntryRules()).saved == []
        bad = fetch_source(Source(maildir=tmp_path / "nowhere"), fetcher, store, inbox, EntryRules())
        assert bad.outcome == "failed" and "not a Maildir" in bad.reason


@pytest.mark.slow
def test_the_served_deployment_fetches_before_digesting(tmp_path: Path) -> None:
    from flows.daily_digest import daily_digest
    from flows.deploy import deployment_parameters

    params = deployment_parameters(load_settings(None, inbox=tmp_path / "in", state=tmp_path / "st"), None)
    assert params["fetch"] is True
    assert set(params) <= set(daily_digest.parameters.properties)
