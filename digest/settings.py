"""One typed settings object, read from `digest.toml` and `DIGEST_*` environment variables.

Precedence, highest first: values passed in code (the CLI's options), `DIGEST_*` environment
variables, the TOML file, the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from digest.errors import ConfigError

DEFAULT_CONFIG = Path("digest.toml")


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

    model_config = SettingsConfigDict(env_prefix="DIGEST_", extra="forbid", frozen=True)

    # folders
    inbox: Path = Path("inbox")
    outbox: Path = Path("outbox")
    state: Path = Path(".digest")

    # ingest
    max_file_bytes: int = Field(5_000_000, gt=0)
    settle_seconds: float = Field(10.0, ge=0)  # a file changed this recently is left for the next run
    max_lines: int = Field(30_000, gt=0)  # per-file budgets, checked before parsing (see ingest.Budget)
    max_html_tags: int = Field(6_000, gt=0)
    max_header_bytes: int = Field(256_000, gt=0)
    max_title_chars: int = Field(1_000, ge=20)
    max_file_seconds: float = Field(60.0, ge=0)  # reading, then cleaning, one file (0: no limit)

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

    # flow
    batch_size: int = Field(200, gt=0)

    # schedule
    schedule: str = "0 7 * * *"
    timezone: str | None = None  # IANA name; None means the machine's
    server_port: int = Field(4200, gt=0, lt=65536)  # `digest server` binds 127.0.0.1 on this port

    # delivery
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_block: str | None = None  # name of a Prefect Secret block holding the password
    smtp_timeout: float = 30.0
    mail_from: str = "digest@localhost"
    mail_to: Annotated[list[str], NoDecode] = []
    reply_to: str | None = None
    unsubscribe: str | None = None  # URL or mailto: for List-Unsubscribe

    # sources: subscriptions that `digest fetch` turns into inbox files
    sources: list[Source] = []
    allow_private_addresses: bool = False  # fetch from private/loopback/link-local addresses too
    allow_networks: list[str] = []  # CIDRs fetched from even when private, e.g. an intranet feed server
    fetch_timeout: float = Field(20.0, gt=0)  # seconds to connect, and between two reads
    fetch_max_bytes: int = Field(10_000_000, gt=0)  # a feed or page is cut (and fails) past this, decoded
    fetch_max_redirects: int = Field(5, ge=0)
    fetch_per_host: int = Field(2, ge=1)  # requests in flight to one host
    fetch_host_delay: float = Field(1.0, ge=0)  # seconds between two requests to one host
    fetch_user_agent: str | None = None  # default: digest/VERSION (+feed fetcher; ...)

    @field_validator("mail_to", mode="before")
    @classmethod
    def _split_addresses(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [a.strip() for a in value.split(",") if a.strip()]
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

    Raises ConfigError with the offending setting named.
    """
    path = config if config is not None else Path(os.environ.get("DIGEST_CONFIG", DEFAULT_CONFIG))
    file_values: dict[str, Any] = {}
    if path.is_file():
        file_values = _read_toml(path)
    elif config is not None:
        raise ConfigError(f"config file {config} does not exist.")
    env_names = {k for k in os.environ if k.startswith("DIGEST_")}
    # environment beats file: drop file values that the environment sets
    values = {k: v for k, v in file_values.items() if f"DIGEST_{k.upper()}" not in env_names}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings ({problems}). Check {path} and DIGEST_* variables.") from exc
