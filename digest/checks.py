"""`digest check`: validate the whole setup before a run needs it, one line per check.

Each check returns a Check; nothing is sent, written or started. The SMTP check connects, says
EHLO, starts TLS and logs in exactly as a delivery would, then quits before MAIL FROM.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from cronsim import CronSim

from digest.errors import DigestError
from digest.settings import Settings, folder_problems

Outcome = Literal["ok", "FAIL", "skip"]


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
