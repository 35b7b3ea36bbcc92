"""The outbox's own record of each digest: `digest.delivery` beside `digest.html`.

It holds what the state store would need to know the digest again (its Message-ID, its articles
with their fingerprints, its story memory) and its delivery state per recipient. It is written
atomically when the digest is published, before each copy is sent and after each outcome, so the
outbox alone says what was sent: a lost or damaged state store is rebuilt from it
(`digest repair`) without sending anything twice or digesting an article again.

Recipient states: `pending` (not yet sent, or refused for now with 4xx), `sending` (the content is
going out: if a run dies here the outcome is unknown), `sent`, `refused` (5xx: permanent) and
`unknown` (the content went out but no reply came).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.errors import StateError

SUFFIX = ".delivery"
DIGEST_PARTS = (".html", ".txt", ".eml", ".json")  # a digest's four files, beside this record
TEMP_PREFIX = ".tmp-"  # the prefix of every temporary file digest writes into an outbox day folder
TEMP_SUFFIX = ".part"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Recipient:
    status: str = "pending"  # pending, sending, sent, refused, unknown
    reply: str = ""
    sends: int = 0  # times the content went out to this address
    unknown: int = 0  # sends whose outcome never came back
    updated: str = ""


@dataclass
class Record:
    """Everything the outbox keeps about one digest besides its four files."""

    message_id: str
    day: str
    stories: int
    articles: list[dict[str, Any]]  # id, fingerprint, path, status, reason, duplicate_of, kept, dropped
    story_rows: list[dict[str, Any]]  # id, memory, shown
    mode: str = "smtp"  # "smtp", or "outbox-only" when no SMTP host was configured
    recipients: dict[str, Recipient] = field(default_factory=dict)
    created: str = field(default_factory=now)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Record:
        data = json.loads(text)
        recipients = {a: Recipient(**r) for a, r in data.pop("recipients", {}).items()}
        return cls(**data, recipients=recipients)


def path_for(html: Path) -> Path:
    """Return the record's path beside a digest's .html file."""
    return html.with_suffix(SUFFIX)


def read(html: Path) -> Record | None:
    """Return the record beside `html`, or None if there is none. Raises StateError if it is damaged."""
    path = path_for(html)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read the delivery record {path}: {exc.strerror or exc}") from exc
    try:
        return Record.from_json(text)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StateError(f"the delivery record {path} is damaged ({exc})") from exc


def write(html: Path, record: Record) -> None:
    """Replace the record beside `html` atomically (temporary file, fsync, rename, fsync the folder)."""
    path = path_for(html)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(record.to_json().encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(name, path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as exc:
        raise StateError(
            f"cannot write the delivery record {path}: {exc.strerror or exc}; the outbox must be writable"
        ) from exc


def summary(record: Record, unknown_retries: int) -> tuple[str, str]:
    """Return the digest's delivery state and reason from its recipients' states.

    `sent` when every recipient has it; `unsent` while any recipient may still be tried (pending,
    or unknown with retries left); then `failed` if any was refused, else `unknown`.
    """
    if record.mode == "outbox-only":
        return "outbox-only", ""
    if not record.recipients:
        return "failed", "no recipient configured (mail_to is empty); set DIGEST_MAIL_TO"
    problems = [f"{a}: {r.status}" + (f" ({r.reply})" if r.reply else "")
                for a, r in record.recipients.items() if r.status != "sent"]
    states = [r.status for r in record.recipients.values()]
    if not problems:
        return "sent", ""
    reason = "; ".join(problems)
    if any(retryable(r, unknown_retries) for r in record.recipients.values()):
        return "unsent", reason
    if "refused" in states:
        return "failed", reason
    return "unknown", reason


def retryable(recipient: Recipient, unknown_retries: int) -> bool:
    """Whether a copy may (still) be sent to this recipient."""
    if recipient.status == "pending":
        return True
    return recipient.status == "unknown" and recipient.unknown <= unknown_retries


def settle_interrupted(record: Record) -> bool:
    """Turn `sending` (a run died while the content went out) into `unknown`; return whether any changed."""
    changed = False
    for recipient in record.recipients.values():
        if recipient.status == "sending":
            recipient.status, recipient.unknown, recipient.updated = "unknown", recipient.unknown + 1, now()
            recipient.reply = "the run stopped while the message was being sent; outcome unknown"
            changed = True
    return changed


def add_recipients(record: Record, addresses: Sequence[str]) -> bool:
    """Add newly configured recipients as pending; return whether any was added."""
    added = [a for a in addresses if a not in record.recipients]
    for address in added:
        record.recipients[address] = Recipient(updated=now())
    return bool(added)
