"""Crash-safe file writes for everything digest puts in the outbox and the state folder.

Use `atomic_write(path, data)` for every file another program may read (digests, the archive page,
delivery records): readers see the old file or the new one, never half of one. New files get the
process's umask (typically 0644), like any file the user creates, so a web server can publish the
outbox; `tempfile.mkstemp` would make them 0600 whatever the umask.
"""

from __future__ import annotations

import os
import secrets
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


def write_temp(folder: Path, data: bytes) -> Path:
    """Write `data` to a new hidden temporary file in `folder`, fsynced, mode 0666 minus the umask.

    Return its path; the caller renames or links it into place (and removes it on failure).
    """
    while True:
        path = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), CREATE_MODE)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so readers see the old file or the new one, never half of it.

    The new file is created with the process's umask (0644 typically). Raises OSError.
    """
    tmp = write_temp(path.parent, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
