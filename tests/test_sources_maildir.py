"""A Maildir source is read one message at a time: memory stays at one message whatever the folder holds."""

from __future__ import annotations

import mailbox
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from digest.sources.maildir import read_maildir

MB = 1_000_000


def letters(folder: Path, count: int, size: int, with_id: bool = True) -> list[str]:
    box = mailbox.Maildir(folder, create=True)
    ids = []
    for i in range(count):
        mid = f"<letter-{i}@news.example>"
        head = f"From: Letters <letters@news.example>\nSubject: Letter {i}\n" + (f"Message-ID: {mid}\n" if with_id else "")
        box.add(head.encode() + b"\n" + (f"Letter {i} says hello. ".encode() * (size // 20 + 1))[:size])
        ids.append(mid)
    return ids


def peak_while(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_folder_of_large_letters_is_read_one_at_a_time(tmp_path: Path) -> None:
    ids = letters(tmp_path / "Mail", 24, MB)
    seen: list[str] = []

    def read_all() -> None:
        for key, data in read_maildir(tmp_path / "Mail", 5 * MB):
            assert len(data) > MB
            seen.append(key)

    peak = peak_while(read_all)
    assert sorted(seen) == sorted(ids)
    assert peak < 8 * MB, f"peak {peak:,} bytes for 24 letters of 1 MB"


def test_known_letters_are_not_read_past_their_head(tmp_path: Path) -> None:
    ids = letters(tmp_path / "Mail", 12, MB)
    known = set(ids[:-1])
    got: list[tuple[str, bytes]] = []
    peak = peak_while(lambda: got.extend(read_maildir(tmp_path / "Mail", 5 * MB, known.__contains__)))
    assert [k for k, _ in got] == [ids[-1]]
    # the one new letter is read whole; the others only as far as their head
    assert peak < 4 * MB  # 12 MB were the letters read whole


def test_letters_without_a_message_id_keep_their_hash_and_oversized_ones_are_skipped(tmp_path: Path) -> None:
    letters(tmp_path / "Mail", 2, 1000, with_id=False)
    letters(tmp_path / "Mail", 1, 3 * MB)
    got = list(read_maildir(tmp_path / "Mail", 2 * MB))
    assert len(got) == 2 and all(k.startswith("sha256:") for k, _ in got)
    assert len({k for k, _ in got}) == 2
