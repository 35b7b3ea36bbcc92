"""What one run did, and the lines every run reports the same way (the full run and the quick idle answer).

Light on purpose: the idle answer imports it before any stage (or render's templates) is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NOTHING_NEW = "nothing new in the inbox"


def plural(n: int, word: str, many: str | None = None) -> str:
    """Return '1 story' / '3 stories'."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def ingested(new: int, seen: int = 0, unreadable: int = 0, waiting: int = 0) -> str:
    """The line that says what the inbox scan found."""
    extra = []
    if seen:
        extra.append(f"{seen:,} already digested")
    if unreadable:
        extra.append(f"{unreadable:,} unreadable")
    if waiting:
        extra.append(f"{waiting:,} still being written")
    return f"ingested {plural(new, 'new article')}" + (f" ({', '.join(extra)})" if extra else "")


@dataclass
class RunResult:
    """What one run did, for the CLI and the run log."""

    path: Path | None = None
    new: int = 0
    stories: int = 0
    failed: int = 0
    sent: int = 0
    message: str = ""
    undelivered: str = ""  # why a digest did not reach every recipient
    retryable: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path) if self.path else None,
            "new": self.new,
            "stories": self.stories,
            "failed": self.failed,
            "sent": self.sent,
            "message": self.message,
            "undelivered": self.undelivered,
        }
