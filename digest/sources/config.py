"""Add subscriptions to digest.toml as `[[sources]]` blocks, leaving the rest of the file as it is."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from digest.errors import ConfigError
from digest.files import atomic_write
from digest.settings import Source


def _toml_string(value: str) -> str:
    # a JSON string is a valid TOML basic string (same escapes, \\uXXXX for control characters)
    return json.dumps(value, ensure_ascii=False)


def source_block(source: Source) -> str:
    """The `[[sources]]` block of one source."""
    lines = ["", "[[sources]]"]
    if source.url is not None:
        lines.append(f"url = {_toml_string(source.url)}")
    if source.maildir is not None:
        lines.append(f"maildir = {_toml_string(str(source.maildir))}")
    if source.name:
        lines.append(f"name = {_toml_string(source.name)}")
    if source.tags:
        lines.append(f"tags = [{', '.join(_toml_string(t) for t in source.tags)}]")
    return "\n".join(lines) + "\n"


def append_sources(config: Path, sources: list[Source]) -> None:
    """Append `[[sources]]` blocks to `config` (created when missing); the file must stay valid TOML."""
    try:
        existing = config.read_text(encoding="utf-8") if config.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {config}: {exc}") from exc
    text = existing + ("\n" if existing and not existing.endswith("\n") else "")
    text += "".join(source_block(s) for s in sources)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"cannot add to {config}: the result would not be valid TOML ({exc}). If the file sets "
            "`sources = [...]` inline, write the new source there by hand."
        ) from exc
    atomic_write(config, text)  # keeps the file's mode: it may hold a password
