"""Newsletters from a Maildir folder: each message not seen before is copied into the inbox as `.eml`.

The Maildir is only read: flags and folders are left as the mail client keeps them.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import mailbox
from pathlib import Path

from digest.errors import FetchError


def message_key(data: bytes) -> str:
    """The message's identity: its Message-ID, else a hash of its bytes."""
    try:
        msg = email.message_from_bytes(data[:200_000], policy=email.policy.compat32)
        mid = str(msg.get("Message-ID", "") or "").strip()
    except Exception:  # the email package raises many kinds of errors on broken input
        mid = ""
    return mid or "sha256:" + hashlib.sha256(data).hexdigest()


def read_maildir(folder: Path, max_bytes: int) -> list[tuple[str, bytes]]:
    """Every message of the Maildir as (key, bytes), in file-name order; raise FetchError when unreadable."""
    folder = folder.expanduser()
    if not (folder / "cur").is_dir() and not (folder / "new").is_dir():
        raise FetchError(str(folder), "not a Maildir folder (no cur/ or new/ inside); point maildir at one")
    box = mailbox.Maildir(folder, factory=None, create=False)
    out = []
    try:
        keys = sorted(box.keys())
    except OSError as exc:
        raise FetchError(str(folder), f"cannot list the Maildir ({exc.strerror})") from exc
    for key in keys:
        try:
            data = box.get_bytes(key)
        except (OSError, KeyError):  # deleted or moved by the mail client meanwhile: next run
            continue
        if len(data) > max_bytes:
            continue
        out.append((message_key(data), data))
    return out
