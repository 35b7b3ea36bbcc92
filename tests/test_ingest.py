"""Ingest: finding new files, decoding any encoding, metadata, and clear reasons for bad files."""

from __future__ import annotations

import gzip
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
    page = sorted((corpus / "extraction-benchmark" / "html").glob("*.html.gz"))[0]
    raw = load_file(page)
    assert raw.kind == "html" and raw.meta.title and raw.meta.url and raw.meta.url.startswith("http")


def test_markdown_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "a.md", f'---\ntitle: "Tram line approved"\noutlet: Riverside Herald\nlayout: post\n---\n\n{BODY}\n')
    raw = scan(tmp_path, set()).new[0]
    assert raw.meta.title == "Tram line approved" and raw.meta.outlet == "Riverside Herald"
    assert raw.text.strip() == BODY
