"""Newsletters from a Maildir folder: each message not seen before is copied into the inbox as `.eml`.

The Maildir is only read: flags and folders are left as the mail client keeps them.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import mailbox
from collections.abc import Callable, Iterator
from pathlib import Path

from digest.errors import FetchError

HEAD_BYTES = 200_000  # the part of a message its Message-ID is looked for in


def _message_id(head: bytes) -> str:
    try:
        msg = email.message_from_bytes(head[:HEAD_BYTES], policy=email.policy.compat32)
        return str(msg.get("Message-ID", "") or "").strip()
    except Exception:  # the email package raises many kinds of errors on broken input
        return ""


def message_key(data: bytes) -> str:
    """The message's identity: its Message-ID, else a hash of its bytes."""
    return _message_id(data) or "sha256:" + hashlib.sha256(data).hexdigest()


def read_maildir(
    folder: Path, max_bytes: int, is_known: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, bytes]]:
    """Yield each message of the Maildir as (key, bytes), in file-name order, one at a time.

    Only one message is held at once; a message larger than `max_bytes` is never read whole, and
    one whose Message-ID `is_known` knows is not read past its head. Raises FetchError when the
    folder cannot be read.
    """
    folder = folder.expanduser()
    if not (folder / "cur").is_dir() and not (folder / "new").is_dir():
        raise FetchError(str(folder), "not a Maildir folder (no cur/ or new/ inside); point maildir at one")
    box = mailbox.Maildir(folder, factory=None, create=False)
    try:
        keys = sorted(box.keys())
    except OSError as exc:
        raise FetchError(str(folder), f"cannot list the Maildir ({exc.strerror})") from exc
    for key in keys:
        try:
            found = _read_one(box, key, max_bytes, is_known)
        except (OSError, KeyError):  # deleted or moved by the mail client meanwhile: next run
            continue
        if found is not None:
            yield found


def _read_one(
    box: mailbox.Maildir, key: str, max_bytes: int, is_known: Callable[[str], bool] | None
) -> tuple[str, bytes] | None:
    with box.get_file(key) as fh:
        fh.seek(0, 2)
        size = fh.tell()
        if size > max_bytes:
            return None
        fh.seek(0)
        head = fh.read(min(HEAD_BYTES, size))
        mid = _message_id(head)
        if mid and is_known is not None and is_known(mid):
            return None
        fh.seek(0)
        data = fh.read(size) if size > len(head) else head
    return (mid or message_key(data)), data
