"""One typed settings object, read from `digest.toml` and `DIGEST_*` environment variables.

Precedence, highest first: values passed in code (the CLI's options), `DIGEST_*` environment
variables, the TOML file, the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from digest.errors import ConfigError

DEFAULT_CONFIG = Path("digest.toml")


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
    story_threshold: float = Field(0.3, gt=0, le=1)

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
