"""`digest check`: validate the whole setup before a run needs it, one line per check.

Each check returns a Check; nothing is sent, written or started. The SMTP check connects, says
EHLO, starts TLS and logs in exactly as a delivery would, then quits before MAIL FROM.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cronsim import CronSim

from digest.errors import DigestError
from digest.settings import Settings, folder_problems

Outcome = Literal["ok", "FAIL", "WARN", "skip"]  # WARN: works, but fix it; only FAIL fails the check


@dataclass(frozen=True)
class Check:
    """The outcome of one check and what it found."""

    name: str
    outcome: Outcome
    detail: str

    def line(self) -> str:
        return f"{self.outcome:<5} {self.name}: {self.detail}"


def folders(settings: Settings) -> Iterator[Check]:
    """The inbox can be read; the outbox and state folders can be written (or created)."""
    found = folder_problems(settings)
    for name in ("inbox", "outbox", "state"):
        path = getattr(settings, name)
        trouble = [p for p in found if p.startswith((f"{name} folder", f"{name} "))]
        if trouble:
            yield Check(name, "FAIL", "; ".join(trouble))
        elif name == "inbox":
            count = sum(1 for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            yield Check(name, "ok", f"{path} ({count:,} files)")
        else:
            yield Check(name, "ok", f"{path} ({'writable' if path.exists() else 'will be created'})")


def schedule(settings: Settings, zone: str) -> Check:
    """The cron schedule and time zone, with the next time the schedule fires."""
    now = datetime.now(ZoneInfo(zone))
    upcoming = next(CronSim(settings.schedule, now))
    return Check("schedule", "ok", f"{settings.schedule!r} in {zone}; next run {upcoming:%Y-%m-%d %H:%M %Z}")


def smtp(settings: Settings) -> Check:
    """EHLO, STARTTLS and AUTH against the configured server, without sending."""
    from digest.delivery.smtp import probe

    if not settings.smtp_host:
        return Check("smtp", "skip", "no smtp_host: digests stay in the outbox, nothing is sent")
    try:
        return Check("smtp", "ok", probe(settings))
    except DigestError as exc:
        return Check("smtp", "FAIL", str(exc))


SECRET_KEYS = ("smtp_password", "password")  # top level, in [smtp], or in a [[sources]] block (IMAP)


def holds_secret(data: Any) -> bool:
    """Tell whether parsed settings data sets a password anywhere (any table, any list of tables)."""
    if isinstance(data, dict):
        return any((k in SECRET_KEYS and v) or holds_secret(v) for k, v in data.items())
    if isinstance(data, list):
        return any(holds_secret(item) for item in data)
    return False


def exposed(path: Path) -> str | None:
    """Say who besides the owner can read `path` ("group", "others", "group and others"), or None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    who = [name for name, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit]
    return " and ".join(who) or None


def secrets(config: Path, password_files: Iterable[Path] = ()) -> Iterator[Check]:
    """Warn about files holding a secret that group or others can read: the settings file when it sets a
    password, and each password file given."""
    holders = list(password_files)
    try:
        if config.is_file() and holds_secret(tomllib.loads(config.read_text(encoding="utf-8"))):
            holders.insert(0, config)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        pass  # the settings check already said what is wrong with the file
    for path in holders:
        who = exposed(path)
        if who:
            mode = stat.S_IMODE(path.stat().st_mode)
            yield Check("secrets", "WARN", f"{path} holds a password and is readable by {who} (mode {mode:o}); "
                        f"run: chmod 600 {path}")
        else:
            yield Check("secrets", "ok", f"{path} holds a password and only its owner can read it")
