"""One settings object: defaults, digest.toml, DIGEST_* variables, options; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.settings import load_settings


def test_toml_then_environment_then_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "digest.toml"
    config.write_text('title = "Morning notes"\nsummary_sentences = 4\n[smtp]\nhost = "mail.example"\nport = 2525\n')
    monkeypatch.setenv("DIGEST_SUMMARY_SENTENCES", "6")
    monkeypatch.setenv("DIGEST_MAIL_TO", "a@example.com, b@example.com")
    settings = load_settings(config, inbox=tmp_path / "in")
    assert settings.title == "Morning notes"  # from the file
    assert settings.smtp_host == "mail.example" and settings.port == 2525  # [smtp] section
    assert settings.summary_sentences == 6  # the environment beats the file
    assert settings.mail_to == ["a@example.com", "b@example.com"]
    assert settings.inbox == tmp_path / "in"  # options beat both


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    # folders are resolved once, when loaded: one spelling per folder in the state store
    assert (settings.inbox, settings.outbox, settings.state) == (tmp_path.resolve() / "inbox", tmp_path.resolve() / "outbox", tmp_path.resolve() / ".digest")
    assert settings.smtp_host is None and settings.schedule == "0 7 * * *" and settings.summarizer == "lexrank"
    assert settings.port == 587  # starttls by default


@pytest.mark.parametrize(
    ("text", "message"),
    [("summary_sentences = 0\n", "summary_sentences"), ("colour = 'red'\n", "colour"), ("title = \n", "not valid TOML")],
)
def test_bad_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_password_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "pa55word-xyz")
    settings = load_settings()
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "pa55word-xyz"
    assert "pa55word-xyz" not in repr(settings)
