"""One typed settings object, read from `digest.toml` and `DIGEST_*` environment variables.

Precedence, highest first: values passed in code (the CLI's options), `DIGEST_*` environment
variables, the TOML file, the defaults below.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
from datetime import datetime
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from digest.errors import ConfigError

DEFAULT_CONFIG = Path("digest.toml")
# DIGEST_* variables that are not settings; every other DIGEST_* name must be a setting
OTHER_VARIABLES = frozenset({"DIGEST_CONFIG", "DIGEST_CORPUS", "DIGEST_CHROMIUM"})
IMPLICIT_TLS_PORT, SUBMISSION_PORT = 465, 587
MAX_SECONDS = 86_400.0  # a day: longer waits are typos, and overflow the socket and timer calls
# one mailbox: no spaces, separators or control characters in the address itself
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def _seconds(default: float, least: float = 0.0, strict: bool = True) -> Any:
    """A duration setting: finite, at most MAX_SECONDS, above `least` (or at it when not `strict`)."""
    return Field(default, gt=least, le=MAX_SECONDS) if strict else Field(default, ge=least, le=MAX_SECONDS)


def plain_text(name: str, value: str) -> str:
    """`value` when it holds no line break or control character (a header injection); else ValueError."""
    if _CONTROL.search(value):
        raise ValueError(f"{name} {value!r} holds a line break or control character; write it on one line")
    return value


def host_problem(host: str) -> str | None:
    """Why `host` is not a host name or IP address, or None."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")  # an international name as DNS spells it
    except UnicodeError:
        return f"{host!r} is not a host name"
    if _HOST.match(ascii_host):
        return None
    return f"{host!r} is not a host name"


def mailbox(name: str, value: str) -> str:
    """Validate one e-mail address ("Name <user@host>" or "user@host"); return it, else ValueError."""
    plain_text(name, value)
    if ";" in value:
        raise ValueError(f"{name} {value!r}: separate addresses with commas, not semicolons")
    found = getaddresses([value])
    if len(found) != 1:
        raise ValueError(f"{name} {value!r} is not one e-mail address; give one address per entry")
    address = found[0][1]
    local, _, domain = address.rpartition("@")
    if not domain or host_problem(domain) or ("." not in domain.strip(".") and domain.lower() != "localhost"):
        raise ValueError(f"{name} {value!r} is not an e-mail address with a host, e.g. digest@example.com")
    if not local or not _LOCAL.match(local) or ".." in local or local.startswith(".") or local.endswith("."):
        raise ValueError(f"{name} {value!r} is not an e-mail address, e.g. digest@example.com")
    return value


def mailboxes(name: str, values: list[str]) -> list[str]:
    """Validate every address; drop repeats of one mailbox (compared ignoring case), keeping the first."""
    seen: set[str] = set()
    kept = []
    for value in values:
        mailbox(name, value)
        key = parseaddr(value)[1].lower()
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept




class Source(BaseModel):
    """One subscription: a feed `url`, or a `maildir` folder of newsletters; `[[sources]]` in digest.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    maildir: Path | None = None
    imap: str | None = None  # imaps://user@host[:port]/folder (TLS only)
    password: SecretStr | None = None  # the IMAP password
    name: str | None = None
    tags: list[str] = []

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        if [self.url, self.maildir, self.imap].count(None) != 2:
            raise ValueError(
                "a source needs exactly one of url = \"https://...\", maildir = \"/path\" or imap = \"imaps://user@host/INBOX\""
            )
        if self.imap is not None and not self.imap.lower().startswith("imaps://"):
            raise ValueError(f"imap source {self.imap!r} must start with imaps:// (IMAP over TLS only)")
        if self.url is not None and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError(f"source url {self.url!r} must start with http:// or https://")
        for name, value in (("url", self.url), ("imap", self.imap), ("name", self.name), *(("tag", t) for t in self.tags)):
            if value is not None:
                plain_text(f"source {name}", value)
        if self.url is not None or self.imap is not None:
            url = self.url or self.imap or ""
            problem = url_problem(url)
            if problem:
                raise ValueError(f"source {url!r}: {problem}")
        return self

    @property
    def key(self) -> str:
        """The source's identity in the fetch store: its URL, or maildir:PATH."""
        if self.imap is not None:
            return self.imap
        return self.url if self.url is not None else f"maildir:{self.maildir}"

    @property
    def label(self) -> str:
        return self.name or self.key


class Settings(BaseSettings):
    """Every setting of digest. Field `x` is `x = ...` in digest.toml and `DIGEST_X` in the environment."""

    model_config = SettingsConfigDict(env_prefix="DIGEST_", extra="forbid", frozen=True, allow_inf_nan=False)

    # folders
    inbox: Path = Path("inbox")
    outbox: Path = Path("outbox")
    state: Path = Path(".digest")
    state_timeout: float = _seconds(30.0)  # seconds to wait for a state store another program holds

    # ingest
    max_file_bytes: int = Field(5_000_000, gt=0)
    settle_seconds: float = _seconds(10.0, strict=False)  # a file changed this recently is left for the next run
    max_lines: int = Field(30_000, gt=0)  # per-file budgets, checked before parsing (see ingest.Budget)
    max_html_tags: int = Field(6_000, gt=0)
    max_header_bytes: int = Field(256_000, gt=0)
    max_title_chars: int = Field(1_000, ge=20)
    max_file_seconds: float = _seconds(60.0, strict=False)  # reading, then cleaning, one file (0: no limit)

    # clean
    learn_boilerplate: bool = True  # lines recurring across unrelated articles are chrome

    # dedupe / cluster
    duplicate_threshold: float = Field(0.8, gt=0, le=1)
    story_threshold: float | None = Field(None, gt=0, lt=1)  # None: the story model's cross-validated threshold

    # summarise
    summarizer: str = "lexrank"
    summary_sentences: int = Field(5, ge=1, le=20)

    # render
    title: str = "Daily briefing"
    max_email_bytes: int = Field(100_000, gt=1000)  # Gmail clips messages over 102 KB
    base_url: str | None = None  # where the outbox is served online: the e-mail links to the full digest there

    # flow
    batch_size: int = Field(200, gt=0)

    # scale-out: where the pure compute (cleaning, summarising) runs
    workers: int | None = Field(None, ge=1)  # Dask worker processes; None: one per core; 1: in the flow's process
    dask_address: str | None = None  # an existing Dask scheduler (tcp://host:8786) whose workers do the compute

    # schedule
    schedule: str = "0 7 * * *"
    timezone: str | None = None  # IANA name; None means the machine's
    server_port: int = Field(4200, gt=0, lt=65536)  # `digest server` binds 127.0.0.1 on this port

    # delivery
    smtp_host: str | None = None
    smtp_port: int | None = Field(None, ge=0, lt=65536)  # None or 0: by smtp_security (25, 587, 465)
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_block: str | None = None  # name of a Prefect Secret block holding the password
    smtp_timeout: float = _seconds(30.0)  # seconds for each reply, but the one that ends DATA
    smtp_data_timeout: float = _seconds(600.0)  # the reply to the end of DATA (RFC 5321 4.5.3.2.6: 10 min)
    smtp_session_timeout: float = _seconds(1200.0)  # overall deadline of one SMTP session
    smtp_unknown_retries: int = Field(1, ge=0)  # resends, in total, of a copy whose DATA outcome is unknown
    smtp_retry_delays: Annotated[list[float], NoDecode] = [5.0, 30.0]  # the flow's retries of a 4xx/connection failure
    smtp_ca_file: Path | None = None  # PEM file of a private CA that signed the SMTP server's certificate
    mail_from: str | None = None  # required with smtp_host: "Name <address@your.domain>"
    mail_to: Annotated[list[str], NoDecode] = []
    reply_to: str | None = None
    unsubscribe: str | None = None  # URL or mailto: for List-Unsubscribe

    # sources: subscriptions that `digest fetch` turns into inbox files
    sources: Annotated[list[Source], NoDecode] = []  # DIGEST_SOURCES: comma-separated feed URLs, or JSON
    allow_private_addresses: bool = False  # fetch from private/loopback/link-local addresses too
    allow_networks: Annotated[list[str], NoDecode] = []  # CIDRs fetched from even when private, e.g. an intranet feed server
    fetch_timeout: float = _seconds(20.0)  # seconds to connect, and between two reads; 3x: one whole response
    fetch_max_bytes: int = Field(10_000_000, gt=0)  # a feed or page is cut (and fails) past this, decoded
    fetch_max_redirects: int = Field(5, ge=0)
    fetch_per_host: int = Field(2, ge=1)  # requests in flight to one host
    fetch_host_delay: float = _seconds(1.0, strict=False)  # seconds between two requests to one host
    fetch_user_agent: str | None = None  # default: digest/VERSION (+feed fetcher; ...)

    @field_validator("inbox", "outbox", "state", mode="after")
    @classmethod
    def _resolve_folder(cls, value: Path) -> Path:
        # one identity per file: `out`, `./out` and `$PWD/out` are one folder in the state store
        return value.expanduser().resolve()

    @field_validator("mail_to", "smtp_retry_delays", "allow_networks", mode="before")
    @classmethod
    def _split_addresses(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [a.strip() for a in value.split(",") if a.strip()]
        return value

    @field_validator("sources", mode="before")
    @classmethod
    def _source_list(cls, value: Any) -> Any:
        # DIGEST_SOURCES: a JSON list of source tables, else comma-separated feed URLs
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                try:
                    return json.loads(value)
                except ValueError as exc:
                    raise ValueError(f"not a JSON list of sources ({exc}); or give comma-separated feed URLs") from None
            return [{"url": u.strip()} for u in value.split(",") if u.strip()]
        return value

    @field_validator("mail_to")
    @classmethod
    def _mailboxes(cls, value: list[str]) -> list[str]:
        return mailboxes("mail_to", value)

    @field_validator("mail_from", "reply_to")
    @classmethod
    def _mailbox(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else mailbox(str(info.field_name), value)

    @field_validator("smtp_retry_delays")
    @classmethod
    def _delays(cls, value: list[float]) -> list[float]:
        for delay in value:
            if not (math.isfinite(delay) and 0 <= delay <= MAX_SECONDS):
                raise ValueError(f"retry delay {delay!r} must be seconds from 0 to {MAX_SECONDS:,.0f}")
        return value

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network; write a CIDR such as 10.1.2.0/24") from None
        return value

    @field_validator("smtp_host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        problem = None if value is None else host_problem(value)
        if problem:
            raise ValueError(f"{problem}; give the SMTP server's name, e.g. smtp.example.com")
        return value

    @field_validator("unsubscribe", "base_url")
    @classmethod
    def _link(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        plain_text(str(info.field_name), value)
        if info.field_name == "unsubscribe" and value.strip().lower().startswith("mailto:"):
            mailbox("unsubscribe", value.strip()[len("mailto:"):].split("?", 1)[0])
            return value
        problem = url_problem(value.strip(), ("http", "https"))
        if problem:
            raise ValueError(f"{value!r}: {problem}")
        return value

    @field_validator("title", "smtp_user", "smtp_password_block", "fetch_user_agent", "dask_address", "summarizer")
    @classmethod
    def _one_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else plain_text(str(info.field_name), value)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronSim(value, datetime(2026, 1, 1))
        except CronSimError as exc:
            raise ValueError(
                f"{value!r} is not a cron schedule ({exc}); use five fields: minute hour day month weekday, "
                'e.g. "0 7 * * *" for 07:00 every day'
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (KeyError, ValueError):
                raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from None
        return value

    @property
    def db_path(self) -> Path:
        return self.state / "state.sqlite"

    @property
    def port(self) -> int:
        """The SMTP port, by security mode unless set."""
        if self.smtp_port:
            return self.smtp_port
        return {"none": 25, "starttls": 587, "tls": 465}[self.smtp_security]


def url_problem(url: str, schemes: tuple[str, ...] = ("http", "https", "imaps")) -> str | None:
    """Why `url` is not an absolute URL of one of `schemes` with a valid host and port, or None."""
    if any(c.isspace() for c in url):
        return "holds a space; encode it as %20"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme.lower() not in schemes:
        return f"must start with {' or '.join(s + '://' for s in schemes)}"
    if not parts.hostname:
        return "has no host name"
    problem = host_problem(parts.hostname)
    if problem:
        return problem
    if port is not None and port <= 0:
        return f"port {port} is out of range 1-65535"
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file or pass another --config.") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}.") from exc
    # allow [smtp] host = ... as well as smtp_host = ...
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{key}_{sub}"] = subvalue
        else:
            flat[key] = value
    return flat


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from `config` (default ./digest.toml if present), the environment and overrides.

    The result is validated (see `problems`). Raises ConfigError with the offending setting named
    and what to do; a misspelt key or DIGEST_* variable gets the nearest known name.
    """
    path = config if config is not None else Path(os.environ.get("DIGEST_CONFIG", DEFAULT_CONFIG))
    file_values: dict[str, Any] = {}
    if path.is_file():
        file_values = _read_toml(path)
    elif config is not None:
        raise ConfigError(f"config file {config} does not exist.")
    unknown = [_unknown(f"key {k!r} in {path}", k) for k in file_values if k not in FIELDS]
    env_names = {k for k in os.environ if k.startswith("DIGEST_")}
    unknown += [_unknown(f"variable {k}", k, "DIGEST_") for k in sorted(env_names - ENV_NAMES - OTHER_VARIABLES)]
    if unknown:
        raise ConfigError("; ".join(unknown))
    # environment beats file: drop file values that the environment sets
    values = {k: v for k, v in file_values.items() if f"DIGEST_{k.upper()}" not in env_names}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**values)
    except SettingsError as exc:  # a DIGEST_* variable pydantic-settings could not decode
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise ConfigError(f"invalid settings ({exc}{cause}). Check {path} and DIGEST_* variables.") from exc
    except ValidationError as exc:
        found = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings ({found}). Check {path} and DIGEST_* variables.") from exc
    wrong = problems(settings)
    if wrong:
        raise ConfigError("; ".join(wrong) + f". Check {path} and DIGEST_* variables.")
    return settings


FIELDS = frozenset(Settings.model_fields)
ENV_NAMES = frozenset(f"DIGEST_{name.upper()}" for name in FIELDS)


def _unknown(what: str, name: str, prefix: str = "") -> str:
    """Say that `name` is not a setting, with the closest setting's name when there is one."""
    key = name.removeprefix(prefix).lower()
    close = difflib.get_close_matches(key, sorted(FIELDS), n=1, cutoff=0.6)
    if close:
        return f"unknown {what}; did you mean {prefix}{close[0].upper() if prefix else close[0]}?"
    return f"unknown {what}; settings are listed in docs/settings.md"


def problems(settings: Settings) -> list[str]:
    """Return what is inconsistent in the settings (folders, e-mail), one sentence each; empty if nothing."""
    return _folder_names(settings) + _folder_nesting(settings) + _mail_problems(settings)


def _folder_names(settings: Settings) -> list[str]:
    """A folder whose name is not valid UTF-8 cannot be stored, logged or passed to the flow."""
    found = []
    for name in ("inbox", "outbox", "state"):
        text = str(getattr(settings, name))
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(text).decode("utf-8", "backslashreplace")
            found.append(f"{name} folder {shown} has a name that is not valid UTF-8; rename it or pass another --{name}")
    return found


def _folder_nesting(settings: Settings) -> list[str]:
    folders = {name: getattr(settings, name).resolve() for name in ("inbox", "outbox", "state")}
    found = []
    for name, path in folders.items():
        for other, other_path in folders.items():
            if name < other and path == other_path:
                found.append(f"{name} and {other} are the same folder {path}; give each its own folder")
            elif name != other and other_path in path.parents:
                found.append(f"{name} {path} is inside {other} {other_path}; keep the folders apart")
    return found


def _mail_problems(settings: Settings) -> list[str]:
    found: list[str] = []
    if not settings.smtp_host:
        if settings.mail_to:
            found.append("mail_to is set but smtp_host is not, so nothing would be sent; set smtp_host (DIGEST_SMTP_HOST)")
        if settings.smtp_user:
            found.append("smtp_user is set but smtp_host is not; set smtp_host or remove smtp_user")
        return found
    if not settings.mail_from:
        found.append("smtp_host is set but mail_from is not; set mail_from (DIGEST_MAIL_FROM), e.g. \"Digest <digest@example.com>\"")
    if not settings.mail_to:
        found.append("smtp_host is set but mail_to is empty; set mail_to (DIGEST_MAIL_TO, comma-separated)")
    if settings.smtp_user and settings.smtp_password is None and not settings.smtp_password_block:
        found.append("smtp_user is set without a password; set smtp_password (DIGEST_SMTP_PASSWORD) or smtp_password_block")
    if settings.port == IMPLICIT_TLS_PORT and settings.smtp_security != "tls":
        found.append(f"smtp_port {IMPLICIT_TLS_PORT} expects TLS from the start; set smtp_security = \"tls\"")
    if settings.port == SUBMISSION_PORT and settings.smtp_security == "tls":
        found.append(f"smtp_port {SUBMISSION_PORT} speaks STARTTLS, not TLS from the start; set smtp_security = \"starttls\"")
    return found


def folder_problems(settings: Settings) -> list[str]:
    """Return why the inbox cannot be read or the outbox/state folders cannot be written; empty if fine."""
    found = []
    if not settings.inbox.is_dir():
        found.append(f"inbox folder {settings.inbox} does not exist; create it or pass --inbox DIR")
    elif not os.access(settings.inbox, os.R_OK | os.X_OK):
        found.append(f"inbox folder {settings.inbox} cannot be read; check its permissions")
    for name in ("outbox", "state"):
        folder: Path = getattr(settings, name)
        existing = next((p for p in (folder, *folder.absolute().parents) if p.exists()), Path("/"))
        if not existing.is_dir():
            found.append(f"{name} {folder}: {existing} is a file, not a folder; pass another --{name}")
        elif not os.access(existing, os.W_OK | os.X_OK):
            what = "is not writable" if existing == folder else f"cannot be created in {existing}"
            found.append(f"{name} folder {folder} {what}; check the permissions or pass another --{name}")
    return found


def check_folders(settings: Settings) -> None:
    """Raise ConfigError before any work if the inbox cannot be read or the outbox/state cannot be written."""
    found = folder_problems(settings)
    if found:
        raise ConfigError("; ".join(found))
