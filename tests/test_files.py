"""Outbox files: written atomically, with the process's umask (a web server can publish the archive)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from test_render import make_digest, settings

from digest import render
from digest.files import atomic_write


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_respects_the_umask(tmp_path: Path, umask: None) -> None:
    atomic_write(tmp_path / "a.txt", b"one")
    assert mode(tmp_path / "a.txt") == 0o644
    atomic_write(tmp_path / "a.txt", b"two")  # replacing keeps the umask's mode too
    assert (tmp_path / "a.txt").read_bytes() == b"two" and mode(tmp_path / "a.txt") == 0o644
    os.umask(0o077)
    atomic_write(tmp_path / "private.txt", b"secret")
    assert mode(tmp_path / "private.txt") == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_digest_and_archive_files_are_readable_by_others(tmp_path: Path, umask: None) -> None:
    rendered = render.render(make_digest(2), settings())
    html = render.write_digest(rendered, tmp_path, date(2026, 12, 2))
    index = render.write_index(tmp_path)
    written = sorted(html.parent.iterdir()) + [index]
    assert [p.suffix for p in written] == [".eml", ".html", ".json", ".txt", ".html"]
    assert {p.name: mode(p) for p in written} == {p.name: 0o644 for p in written}


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path, umask: None) -> None:
    secret = tmp_path / "digest.toml"
    secret.write_text('smtp_password = "hunter2"\n', encoding="utf-8")
    secret.chmod(0o600)
    atomic_write(secret, 'smtp_password = "hunter3"\n')  # text is written as UTF-8
    assert secret.read_text(encoding="utf-8") == 'smtp_password = "hunter3"\n' and mode(secret) == 0o600
    shared = tmp_path / "shared.txt"
    shared.write_bytes(b"x")
    shared.chmod(0o664)
    atomic_write(shared, b"y")
    assert mode(shared) == 0o664
    atomic_write(tmp_path / "new" / "file.txt", "é", make_parent=True)
    assert (tmp_path / "new" / "file.txt").read_bytes() == "é".encode() and mode(tmp_path / "new" / "file.txt") == 0o644
    assert [p.name for p in tmp_path.rglob(".*")] == []
