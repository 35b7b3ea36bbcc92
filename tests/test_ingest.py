"""Ingest: finding new files, decoding any encoding, metadata, and clear reasons for bad files."""

from __future__ import annotations

import gzip
from datetime import UTC
from pathlib import Path

import pytest

from digest.errors import InputError
from digest.ingest import article_id, fingerprint, load_file, scan

BODY = "The council approved the new tram line on Tuesday after a long debate. Work starts in spring."


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_text_header_block_gives_metadata_and_is_removed(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"Title: Tram line approved\nOutlet: Riverside Herald\nURL: https://herald.example/tram\nDate: 2026-11-20\n\n{BODY}\n")
    raw = scan(tmp_path, set()).new[0]
    assert raw.meta.title == "Tram line approved"
    assert raw.meta.outlet == "Riverside Herald"
    assert raw.meta.url == "https://herald.example/tram"
    assert raw.meta.date and raw.meta.date.date().isoformat() == "2026-11-20"
    assert raw.text.strip() == BODY


def test_text_without_header_keeps_everything(tmp_path: Path) -> None:
    write(tmp_path, "2026-11-21-tram.txt", f"Tram line approved: what happens next\n\n{BODY}\n")
    raw = scan(tmp_path, set()).new[0]
    assert raw.text.startswith("Tram line approved: what happens next")
    assert raw.meta.title is None
    assert raw.meta.date and raw.meta.date.day == 21  # from the file name


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("latin-1", "José Müller ganó la carrera en São Paulo el domingo por la tarde, dijeron."),
        ("cp1251", "Президент освободил заключенных после переговоров с посланником США в Минске."),
        ("utf-16", "Ünïcode résumé text in UTF-16 with a byte order mark, decoded properly."),
        ("utf-8-sig", "A UTF-8 file with a byte order mark: naïve café déjà vu."),
    ],
)
def test_other_encodings_are_decoded(tmp_path: Path, encoding: str, text: str) -> None:
    write(tmp_path, "a.txt", text.encode(encoding))
    result = scan(tmp_path, set())
    assert not result.failed
    assert result.new[0].text.strip() == text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t\n", "only whitespace"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG"),
        (b"%PDF-1.7\n" + bytes(range(256)), "PDF"),
        (b"PK\x03\x04" + bytes(200), "ZIP"),
        (b"text with a NUL \x00 byte in the middle of it", "NUL"),
    ],
)
def test_bad_files_fail_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    write(tmp_path, "bad.txt", data)
    write(tmp_path, "good.txt", BODY)
    result = scan(tmp_path, set())
    assert [r.path.name for r in result.new] == ["good.txt"]
    [(err, fp)] = result.failed
    assert err.path.name == "bad.txt"
    assert reason in err.reason
    assert fp


def test_size_cap(tmp_path: Path) -> None:
    write(tmp_path, "big.txt", "word " * 3000)
    [(err, _)] = scan(tmp_path, set(), max_bytes=10_000).failed
    assert "cap" in err.reason


def test_gzip_bomb_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "bomb.html.gz"
    path.write_bytes(gzip.compress(b"<p>" + b"a" * 2_000_000))
    with pytest.raises(InputError, match="cap"):
        load_file(path, max_bytes=100_000)


def test_temporary_and_unsupported_names_are_ignored(tmp_path: Path) -> None:
    for name in ("a.txt.part", "b.tmp", "c.txt~", ".hidden.txt", "photo.jpg"):
        write(tmp_path, name, BODY)
    result = scan(tmp_path, set())
    assert not result.new and not result.failed
    assert len(result.ignored) == 5


def test_symlink_outside_inbox_is_refused(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outside = write(tmp_path, "secret.txt", BODY)
    (inbox / "link.txt").symlink_to(outside)
    [(err, _)] = scan(inbox, set()).failed
    assert "outside the inbox" in err.reason


def test_known_fingerprints_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", BODY)
    write(tmp_path, "b.txt", BODY + " More.")
    result = scan(tmp_path, {fingerprint(BODY.encode())})
    assert [r.path.name for r in result.new] == ["b.txt"]
    assert result.seen == 1


def test_identical_copies_get_different_ids(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", BODY)
    write(tmp_path, "copy.txt", BODY)
    first, second = scan(tmp_path, set()).new
    assert first.fingerprint == second.fingerprint
    assert first.id != second.id
    assert first.id == article_id(first.fingerprint, first.path)


def test_email_headers_give_metadata(tmp_path: Path) -> None:
    write(
        tmp_path,
        "n.eml",
        "From: Harbour Weekly <news@harbour.example>\nSubject: Ferry strike ends\n"
        "Date: Mon, 23 Nov 2026 08:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n" + BODY + "\n",
    )
    raw = scan(tmp_path, set()).new[0]
    assert raw.kind == "email"
    assert raw.meta.title == "Ferry strike ends"
    assert raw.meta.outlet == "Harbour Weekly"
    assert raw.meta.date and raw.meta.date.day == 23
    assert BODY in raw.text


def test_html_meta_via_trafilatura(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Tram line approved | Herald</title>"
        '<meta property="og:title" content="Tram line approved">'
        '<meta property="og:site_name" content="Riverside Herald">'
        '<meta property="og:url" content="https://herald.example/tram">'
        '<meta property="og:description" content="The council said yes.">'
        f"</head><body><article><h1>Tram line approved</h1><p>{BODY}</p></article></body></html>"
    )
    write(tmp_path, "a.html", html)
    raw = scan(tmp_path, set()).new[0]
    assert raw.kind == "html"
    assert raw.meta.title == "Tram line approved"
    assert raw.meta.outlet == "Riverside Herald"
    assert raw.meta.url == "https://herald.example/tram"
    assert raw.meta.description == "The council said yes."


def test_real_benchmark_page_metadata(corpus: Path) -> None:
    page = min((corpus / "extraction-benchmark" / "html").glob("*.html.gz"))
    raw = load_file(page)
    assert raw.kind == "html" and raw.meta.title and raw.meta.url and raw.meta.url.startswith("http")


def test_markdown_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "a.md", f'---\ntitle: "Tram line approved"\noutlet: Riverside Herald\nlayout: post\n---\n\n{BODY}\n')
    raw = scan(tmp_path, set()).new[0]
    assert raw.meta.title == "Tram line approved" and raw.meta.outlet == "Riverside Herald"
    assert raw.text.strip() == BODY


# --- dates, budgets, gzip, e-mail structure, settle time (issue 9) ----------------------------

def old(path: Path) -> Path:
    """Give a file a modification time an hour ago, as if it had been copied in long before."""
    import os
    import time

    past = time.time() - 3600
    os.utime(path, (past, past))
    return path


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "1066-10-14", "2026-02-30T25:00"])
def test_absurd_dates_become_no_date_with_a_warning(tmp_path: Path, date: str) -> None:
    write(tmp_path, "a.txt", f"Title: Tram line approved\nDate: {date}\n\n{BODY}\n")
    result = scan(tmp_path, set())
    [raw] = result.new
    assert raw.meta.date is None
    if date != "2026-02-30T25:00":  # not a date at all: silently none, as before
        [(path, warning)] = result.warnings
        assert path.name == "a.txt" and "out of range" in warning


def test_sane_date_bounds() -> None:
    from datetime import datetime

    from digest.ingest import sane_date

    assert sane_date(datetime(2026, 11, 20)) == datetime(2026, 11, 20)
    assert sane_date(datetime(1, 1, 1)) is None
    assert sane_date(datetime(9999, 12, 31, tzinfo=UTC)) is None
    assert sane_date(datetime(1969, 12, 31, tzinfo=UTC)) is None


def test_truncated_gzip_fails_as_truncated(tmp_path: Path) -> None:
    page = f"<html><body><article><h1>Tram</h1><p>{BODY * 40}</p></article></body></html>".encode()
    packed = gzip.compress(page)
    path = write(tmp_path, "cut.html.gz", packed[: int(len(packed) * 0.88)])
    with pytest.raises(InputError, match="truncated"):
        load_file(path)


def test_multi_member_gzip_is_read_whole(tmp_path: Path) -> None:
    first = f"<html><body><article><h1>Tram</h1><p>{BODY}</p>".encode()
    second = b"<p>The second member says the depot opens in June.</p></article></body></html>"
    path = write(tmp_path, "two.html.gz", gzip.compress(first) + gzip.compress(second) + b"\x00" * 16)
    raw = load_file(path)
    assert "depot opens in June" in raw.text and BODY in raw.text


def test_data_after_the_gzip_stream_fails(tmp_path: Path) -> None:
    path = write(tmp_path, "junk.html.gz", gzip.compress(f"<p>{BODY}</p>".encode()) + b"not gzip at all")
    with pytest.raises(InputError, match="damaged"):
        load_file(path)


def test_html_over_the_tag_budget_fails_before_parsing(tmp_path: Path) -> None:
    from digest.ingest import Budget

    write(tmp_path, "p.html", "<html><body>" + "<p>x</p>" * 2_000 + "</body></html>")
    [(err, _)] = scan(tmp_path, set(), budget=Budget(max_html_tags=1_000)).failed
    assert "2,002 tags" in err.reason and "max_html_tags" in err.reason


def test_tags_in_scripts_and_comments_do_not_count() -> None:
    from digest.ingest import count_tags

    assert count_tags(b"<p>a</p><script>if (a<b) x='<div>';</script><!-- <a><b> --><b>x</b>") == 4  # p, script, comment, b
    assert count_tags(b"<p>" + b"<script" * 1000) == 1001  # never closed: all of it counts, in linear time


def test_text_over_the_line_budget_fails(tmp_path: Path) -> None:
    from digest.ingest import Budget

    write(tmp_path, "lines.txt", "a line\n" * 500)
    [(err, _)] = scan(tmp_path, set(), budget=Budget(max_lines=100)).failed
    assert "500 lines" in err.reason and "max_lines" in err.reason


def test_long_title_is_cut_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", f"Title: {'Tram line approved ' * 200}\n\n{BODY}\n")
    result = scan(tmp_path, set())
    [raw] = result.new
    assert raw.meta.title and len(raw.meta.title) <= 1_000 and raw.meta.title.endswith("…")
    assert any("max_title_chars" in w for _, w in result.warnings)


def test_huge_folded_subject_is_cut_before_parsing(tmp_path: Path) -> None:
    subject = "Subject: Ferry " + "\n ".join(["strike"] * 200_000)
    write(tmp_path, "n.eml", f"From: Harbour Weekly <news@harbour.example>\n{subject}\n\n{BODY}\n")
    result = scan(tmp_path, set())
    [raw] = result.new
    assert raw.meta.title and raw.meta.title.startswith("Ferry strike") and len(raw.meta.title) <= 1_000
    assert BODY in raw.text
    assert any("header Subject" in w for _, w in result.warnings)


def test_flood_of_headers_fails(tmp_path: Path) -> None:
    junk = "".join(f"X-Junk-{i}: yyyyyyyyyy\n" for i in range(20_000))
    write(tmp_path, "n.eml", f"From: a@b.example\nSubject: Flood\n{junk}\n{BODY}\n")
    [(err, _)] = scan(tmp_path, set()).failed
    assert "header section" in err.reason


def eml(headers: str, body: str) -> str:
    return headers.strip("\n") + "\n\n" + body


def test_email_article_in_a_text_attachment(tmp_path: Path) -> None:
    write(tmp_path, "a.eml", eml(
        'From: Desk <desk@x.example>\nSubject: Article attached\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nSee attached.\n"
        f'--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename="a.txt"\n\n{BODY}\n--b--\n'))
    [raw] = scan(tmp_path, set()).new
    assert BODY in raw.text and raw.meta.title == "Article attached"


def test_email_article_in_a_base64_html_attachment(tmp_path: Path) -> None:
    import base64

    page = f"<html><head><title>Tram</title></head><body><article><p>{BODY}</p></article></body></html>"
    write(tmp_path, "a.eml", eml(
        'Subject: Page\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nFYI\n--b\nContent-Type: application/octet-stream\n"
        'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="story.html"\n\n'
        + base64.encodebytes(page.encode()).decode() + "--b--\n"))
    [raw] = scan(tmp_path, set()).new
    assert raw.body_is_html and BODY in raw.text


def test_email_article_in_a_forwarded_message_takes_its_headers(tmp_path: Path) -> None:
    write(tmp_path, "a.eml", eml(
        'From: Me <me@x.example>\nSubject: Fwd: Tram\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nThought you would like this.\n--b\nContent-Type: message/rfc822\n\n"
        "From: Riverside Herald <news@herald.example>\nSubject: Tram line approved\n"
        f"Date: Mon, 23 Nov 2026 08:00:00 +0000\n\n{BODY}\n--b--\n"))
    [raw] = scan(tmp_path, set()).new
    assert BODY in raw.text
    assert raw.meta.title == "Tram line approved" and raw.meta.outlet == "Riverside Herald"
    assert raw.meta.date and raw.meta.date.day == 23


def test_email_body_under_a_wrong_boundary(tmp_path: Path) -> None:
    write(tmp_path, "a.eml", eml(
        'Subject: Tram\nContent-Type: multipart/alternative; boundary="declared"',
        f"--actual\nContent-Type: text/plain\n\n{BODY}\n--actual\nContent-Type: text/html\n\n<p>{BODY}</p>\n--actual--\n"))
    [raw] = scan(tmp_path, set()).new
    assert raw.text.strip() == BODY  # the plain alternative, without the MIME lines


def test_email_with_thousands_of_parts_or_deep_forwards_fails(tmp_path: Path) -> None:
    parts = "".join(f"--b\nContent-Type: text/plain\n\npart {i}\n" for i in range(1_000))
    write(tmp_path, "parts.eml", eml('Subject: P\nContent-Type: multipart/mixed; boundary="b"', parts + "--b--\n"))
    nested = f"Subject: inner\n\n{BODY}"
    for depth in range(30):
        nested = f"Subject: level {depth}\nContent-Type: message/rfc822\n\n{nested}"
    write(tmp_path, "deep.eml", nested)
    reasons = {err.path.name: err.reason for err, _ in scan(tmp_path, set()).failed}
    assert "MIME parts" in reasons["parts.eml"] and "nested" in reasons["deep.eml"]


def test_a_recently_changed_file_waits_for_the_next_run(tmp_path: Path) -> None:
    write(tmp_path, "fresh.txt", BODY)
    old(write(tmp_path, "settled.txt", BODY + " Settled."))
    result = scan(tmp_path, set(), settle_seconds=30)
    assert [r.path.name for r in result.new] == ["settled.txt"]
    assert [p.name for p in result.waiting] == ["fresh.txt"]
    assert len(scan(tmp_path, set(), settle_seconds=30, now=lambda: 4e9).new) == 2  # later on, both are ready


def test_settle_time_is_on_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.settings import load_settings

    monkeypatch.delenv("DIGEST_SETTLE_SECONDS", raising=False)
    assert load_settings(None).settle_seconds >= 5
    monkeypatch.setenv("DIGEST_SETTLE_SECONDS", "0.5")
    assert load_settings(None).settle_seconds == 0.5


def test_half_written_file_is_digested_once_when_complete(tmp_path: Path) -> None:
    import json

    from digest import pipeline
    from digest.settings import load_settings

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    whole = (f"Title: Tram line approved\n\n{BODY}\n\nThe depot will hold twelve trams, and the line opens in "
             "June with a service every ten minutes from the station to the harbour.\n").encode()
    path = write(inbox, "tram.txt", whole[: int(len(whole) * 0.35)])  # a copy under way
    settings = load_settings(None, inbox=inbox, outbox=tmp_path / "out", state=tmp_path / "state", settle_seconds=30)
    lines: list[str] = []
    first = pipeline.run(settings, report=lines.append)
    assert first.path is None and any("still being written" in line and "tram.txt" in line for line in lines)
    path.write_bytes(whole)  # the copy finishes; a while later the next run comes
    old(path)
    second = pipeline.run(settings, report=lines.append)
    assert second.path is not None and second.new == 1
    third = pipeline.run(settings, report=lines.append)
    assert third.path is None
    digests = list((tmp_path / "out").glob("*/digest*.json"))
    assert len(digests) == 1
    [article] = json.loads(digests[0].read_text())["articles"]
    assert article["status"] == "included"


def test_packed_articles_give_back_the_same_text(tmp_path: Path) -> None:
    from digest.ingest import unpacked

    write(tmp_path, "a.txt", f"Title: Tram\n\n{BODY} Ünïcödé ✓\n")
    write(tmp_path, "b.html", f"<html><body><p>{BODY}</p></body></html>")
    plain = scan(tmp_path, set()).new
    packed = scan(tmp_path, set(), pack=True).new
    assert all(p.packed and not p.text for p in packed)
    assert [unpacked(p) for p in packed] == plain
