"""One exception tree for digest.

    DigestError                  base: every error digest raises on purpose
     ├── ConfigError             bad settings (digest.toml, DIGEST_* variables, CLI options)
     ├── InputError              one inbox file cannot be used; carries the path and a reason
     ├── StateError              the state store cannot be opened or is inconsistent
     │    └── RunInProgress      another run holds the lock
     ├── RenderError             templates failed
     ├── FetchError              a feed, page or mailbox could not be fetched; carries the URL and a reason
     │    └── UnsafeAddress      the address is private/loopback/link-local and not allowed
     └── DeliveryError           the SMTP server refused or could not be reached
          ├── TransientDeliveryError   4xx or connection trouble: worth retrying later
          ├── PartialDeliveryError     some recipients got it: resending would repeat it for them
          └── UndeliveredError         a run's digest did not reach every recipient (own exit code)
    Interrupted (a KeyboardInterrupt) SIGTERM/SIGINT stopped the run after recording what was sent

Only the CLI turns these into exit codes; stages raise them with `raise ... from exc`.
"""

from __future__ import annotations

from pathlib import Path


class DigestError(Exception):
    """Base class of every error digest raises on purpose."""


class ConfigError(DigestError):
    """The settings are invalid; the message says which one and what to do."""


class InputError(DigestError):
    """One inbox file cannot be used."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class StateError(DigestError):
    """The state store cannot be used."""


class RunInProgress(StateError):
    """Another run holds the state folder's lock."""


class RenderError(DigestError):
    """A template failed to render."""


class DeliveryError(DigestError):
    """The digest could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """A temporary delivery failure (4xx reply, dropped connection): retry later."""


class PartialDeliveryError(DeliveryError):
    """The server accepted the message for some recipients and refused others: never resend."""


class UndeliveredError(DeliveryError):
    """A digest was written but did not reach every recipient; the message says who and why."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable  # some recipient may still get it: a retry (later) is worth it


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT stopped the run; what was sent before it is recorded."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


class FetchError(DigestError):
    """A source, page or mailbox could not be fetched."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class UnsafeAddress(FetchError):
    """The URL leads to an address digest must not fetch from (private, loopback, link-local, ...)."""
