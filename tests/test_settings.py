"""One settings object: defaults, digest.toml, DIGEST_* variables, options; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.settings import folder_problems, load_settings


def test_toml_then_environment_then_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        'title = "Morning notes"\nsummary_sentences = 4\nmail_from = "Digest <digest@news.example>"\n'
        '[smtp]\nhost = "mail.example"\nport = 2525\n'
    )
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
    [
        ("summary_sentences = 0\n", "summary_sentences"),
        ("colour = 'red'\n", "unknown key 'colour'"),
        ("title = \n", "not valid TOML"),
        ("summarizr = 'lsa'\n", "unknown key 'summarizr' in .*; did you mean summarizer\\?"),
        ("[smtp]\nhots = 'mail.example'\n", "unknown key 'smtp_hots'.*did you mean smtp_host\\?"),
        ("schedule = '0 7 * *'\n", "schedule: '0 7 \\* \\*' is not a cron schedule .*five fields"),
        ("schedule = '61 7 * * *'\n", "not a cron schedule"),
        ("timezone = 'Mars/Olympus'\n", "unknown time zone 'Mars/Olympus'; use an IANA name"),
    ],
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


def test_a_misspelt_variable_gets_the_nearest_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_SMPT_HOST", "mail.example")
    with pytest.raises(ConfigError, match=r"^unknown variable DIGEST_SMPT_HOST; did you mean DIGEST_SMTP_HOST\?$"):
        load_settings()
    monkeypatch.delenv("DIGEST_SMPT_HOST")
    monkeypatch.setenv("DIGEST_ZZZ", "1")  # nothing close: say where the names are
    with pytest.raises(ConfigError, match=r"^unknown variable DIGEST_ZZZ; settings are listed in docs/settings\.md"):
        load_settings()


GOOD_MAIL = {"smtp_host": "mail.example", "mail_from": "Digest <digest@news.example>", "mail_to": ["a@example.com"]}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mail_to": ["a@example.com"]}, "mail_to is set but smtp_host is not"),
        ({"smtp_user": "me"}, "smtp_user is set but smtp_host is not"),
        ({**GOOD_MAIL, "mail_from": None}, "smtp_host is set but mail_from is not"),
        ({**GOOD_MAIL, "mail_to": []}, "smtp_host is set but mail_to is empty"),
        ({**GOOD_MAIL, "mail_from": "digest"}, "mail_from 'digest' is not an e-mail address with a host"),
        ({**GOOD_MAIL, "mail_to": ["a@example.com", "bob"]}, "mail_to 'bob' is not an e-mail address"),
        ({**GOOD_MAIL, "smtp_user": "me"}, "smtp_user is set without a password"),
        ({**GOOD_MAIL, "smtp_port": 465}, 'smtp_port 465 expects TLS from the start; set smtp_security = "tls"'),
        ({**GOOD_MAIL, "smtp_security": "tls", "smtp_port": 587}, "smtp_port 587 speaks STARTTLS"),
    ],
)
def test_inconsistent_mail_settings_are_refused(tmp_path: Path, values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(inbox=tmp_path / "in", **values)


def test_consistent_mail_settings_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(**GOOD_MAIL, smtp_user="me", smtp_password="pw", smtp_security="tls")
    assert settings.port == 465 and settings.mail_from == "Digest <digest@news.example>"
    assert load_settings().mail_from is None  # no made-up sender such as digest@localhost


@pytest.mark.parametrize(
    ("folders", "message"),
    [
        ({"outbox": "in/out"}, "outbox .*/in/out is inside inbox .*/in; keep the folders apart"),
        ({"state": "out/.digest"}, "state .* is inside outbox"),
        ({"inbox": "out"}, "inbox and outbox are the same folder"),
    ],
)
def test_folders_inside_one_another_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, folders: dict[str, str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    options = {"inbox": Path("in"), "outbox": Path("out"), "state": Path("state")}
    options.update({k: Path(v) for k, v in folders.items()})
    with pytest.raises(ConfigError, match=message):
        load_settings(**options)


def test_unwritable_folders_are_found_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "file").write_text("x")
    readonly = Path("/proc/sys")  # not writable even for root, unlike a chmod-ed folder
    settings = load_settings(inbox=tmp_path / "in", outbox=readonly / "digest-out", state=tmp_path / "file" / "state")
    assert folder_problems(settings) == [
        f"outbox folder {readonly / 'digest-out'} cannot be created in {readonly}; check the permissions or pass another --outbox",
        f"state {tmp_path / 'file' / 'state'}: {tmp_path / 'file'} is a file, not a folder; pass another --state",
    ]
    missing = load_settings(inbox=tmp_path / "nope", outbox=tmp_path / "o", state=tmp_path / "s")
    assert folder_problems(missing) == [f"inbox folder {tmp_path / 'nope'} does not exist; create it or pass --inbox DIR"]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DIGEST_ALLOW_NETWORKS", "192.168.7.0/40", "allow_networks"),
        ("DIGEST_ALLOW_NETWORKS", "intranet", "allow_networks"),
        ("DIGEST_SOURCES", "gopher://feeds.example/rss", "sources"),
        ("DIGEST_SOURCES", '[{"url": "https://feeds.example/rss"', "sources"),
        ("DIGEST_SOURCES", '{"url": "https://feeds.example/rss"}', "sources"),
        ("DIGEST_SOURCES", "https://feeds.example:70000/rss", "sources"),
        ("DIGEST_SMTP_RETRY_DELAYS", "inf", "smtp_retry_delays"),
        ("DIGEST_SMTP_RETRY_DELAYS", "5, nan", "smtp_retry_delays"),
        ("DIGEST_SMTP_RETRY_DELAYS", "-5", "smtp_retry_delays"),
        ("DIGEST_SMTP_RETRY_DELAYS", "1e309", "smtp_retry_delays"),
        ("DIGEST_SMTP_PORT", "99999", "smtp_port"),
        ("DIGEST_SMTP_PORT", "-1", "smtp_port"),
        ("DIGEST_SERVER_PORT", "0", "server_port"),
        ("DIGEST_FETCH_TIMEOUT", "nan", "fetch_timeout"),
        ("DIGEST_SMTP_SESSION_TIMEOUT", "1e300", "smtp_session_timeout"),
        ("DIGEST_STATE_TIMEOUT", "-inf", "state_timeout"),
        ("DIGEST_SMTP_HOST", "mail example.org", "smtp_host"),
        ("DIGEST_BASE_URL", "javascript:alert(1)", "base_url"),
        ("DIGEST_TITLE", "Morning\r\nBcc: spy@evil.example", "title"),
        ("DIGEST_FETCH_USER_AGENT", "digest\r\nX-Injected: 1", "fetch_user_agent"),
    ],
)
def test_every_bad_variable_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert named in str(info.value) and "\n" not in str(info.value) and "\r" not in str(info.value)


INJECTED = "a@example.com\r\nBcc: spy@evil.example"


@pytest.mark.parametrize(
    "values",
    [
        {"mail_to": [INJECTED]},
        {"mail_to": ["a@example.com\nBcc: spy@evil.example"]},
        {"mail_to": ["a@example.com;spy@evil.example"]},
        {"mail_to": ["a@example.com, spy@evil.example"]},  # two mailboxes in one entry
        {"mail_to": ["a@example.com\x00"]},
        {"mail_to": ["spy@evil.example)<a@example.com>"]},
        {"mail_from": "Digest <digest@news.example>\nBcc: spy@evil.example"},
        {"reply_to": "desk@news.example\u2028Bcc: spy@evil.example"},
        {"unsubscribe": "https://news.example/u\r\nBcc: spy@evil.example"},
        {"unsubscribe": "mailto:leave@news.example>\r\nBcc: spy@evil.example"},
        {"unsubscribe": "javascript:alert(1)"},
        {"unsubscribe": "mailto:not an address"},
    ],
)
def test_addresses_are_validated_when_settings_load(tmp_path: Path, values: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(inbox=tmp_path / "in", **{**GOOD_MAIL, **values})
    assert "\n" not in str(info.value) and "\r" not in str(info.value)


def test_good_addresses_links_and_lists_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_ALLOW_NETWORKS", "10.0.0.0/8, fd00::/8")
    monkeypatch.setenv("DIGEST_SOURCES", "https://feeds.example/rss, http://news.example:8080/atom.xml")
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE", "mailto:leave@news.example?subject=stop")
    settings = load_settings(**GOOD_MAIL, reply_to="Desk <desk@news.example>")
    assert settings.allow_networks == ["10.0.0.0/8", "fd00::/8"]
    assert [s.url for s in settings.sources] == ["https://feeds.example/rss", "http://news.example:8080/atom.xml"]
    monkeypatch.setenv("DIGEST_SOURCES", '[{"url": "https://feeds.example/rss", "name": "Feeds"}]')
    assert [s.label for s in load_settings().sources] == ["Feeds"]


def test_one_mailbox_named_twice_in_different_case_gets_one_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIGEST_MAIL_TO", "Ann@Example.com, b@example.com, Ann <ann@example.COM>, B@EXAMPLE.COM")
    settings = load_settings(smtp_host="mail.example", mail_from="digest@news.example")
    assert settings.mail_to == ["Ann@Example.com", "b@example.com"]
