"""Crash-safe file writes for everything digest puts in the outbox and the state folder.

Use `atomic_write(path, data)` for every file another program may read (digests, the archive page,
delivery records, inbox files the fetcher saves, the settings file): readers see the old file or the
new one, never half of one. New files get the process's umask (typically 0644), like any file the
user creates, so a web server can publish the outbox; `tempfile.mkstemp` would make them 0600
whatever the umask. A file that is replaced keeps its mode: a 0600 settings file holding a password
stays 0600.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

TEMP_PREFIX = ".tmp-"  # crash recovery deletes files named like this: dot-files are never digests
TEMP_SUFFIX = ".part"
CREATE_MODE = 0o666  # the kernel applies the umask: 0666 & ~0022 = 0644


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk, so a rename or a new file survives a power cut."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a directory; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_temp(folder: Path, data: bytes, mode: int | None = None) -> Path:
    """Write `data` to a new hidden temporary file in `folder`, fsynced, mode 0666 minus the umask.

    With `mode`, the file gets exactly that mode instead, set before any byte is written. Return its
    path; the caller renames or links it into place (and removes it on failure).
    """
    while True:
        path = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, CREATE_MODE if mode is None else 0o600)
            break
        except FileExistsError:
            continue
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def existing_mode(path: Path) -> int | None:
    """Return the permission bits of the regular file at `path`, or None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def atomic_write(path: Path, data: bytes | str, *, make_parent: bool = False) -> None:
    """Replace `path` with `data` (text is written as UTF-8) so readers see the old file or the new one, never half of it.

    A new file is created with the process's umask (0644 typically); a replaced file keeps its mode.
    With `make_parent`, missing folders are created first. Raises OSError.
    """
    if make_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = write_temp(path.parent, payload, existing_mode(path))
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
