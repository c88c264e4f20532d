"""Config validation: errors name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.config import ConfigError, load_config

BASE = """
[[accounts]]
name = "work"
host = "imap.example.com"
username = "me@example.com"
password_env = "TRIAGE_PASSWORD"
{extra}
[me]
name = "Dana Smith"
email = "dana@example.com"
"""


def load(tmp_path: Path, extra: str = "", text: str | None = None):
    path = tmp_path / "config.toml"
    path.write_text(text if text is not None else BASE.format(extra=extra))
    return load_config(path), path


def test_the_documented_keys_work_and_defaults_are_safe(tmp_path: Path) -> None:
    config, _ = load(tmp_path, 'port = 993\nsecurity = "tls"\nfolders = ["INBOX", "Jobs"]')
    account = config.accounts[0]
    assert (account.port, account.security, account.folders) == (993, "tls", ("INBOX", "Jobs"))
    assert config.actions["targeted"].keyword == "triage-targeted"
    assert config.actions["mass"].move_to is None
    assert config.drafts.labels == ("targeted",)


def test_missing_host_names_key_and_file(tmp_path: Path) -> None:
    text = BASE.format(extra="").replace('host = "imap.example.com"\n', "")
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text=text)
    assert str(err.value) == f"accounts[0].host is missing in {tmp_path / 'config.toml'}"


def test_plain_is_refused_for_remote_hosts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='security = "plain" is refused for non-loopback host'):
        load(tmp_path, 'security = "plain"')


def test_plain_is_allowed_on_loopback(tmp_path: Path) -> None:
    text = BASE.format(extra='security = "plain"').replace("imap.example.com", "127.0.0.1")
    config, _ = load(tmp_path, text=text)
    assert config.accounts[0].port == 143


def test_a_password_in_clear_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must not hold a secret in clear"):
        load(tmp_path, 'password = "hunter2"')


def test_bad_keyword_and_unknown_label(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"labels\.mass\.keyword must be an IMAP atom"):
        load(tmp_path, text=BASE.format(extra="") + '[labels.mass]\nkeyword = "has space"\n')
    with pytest.raises(ConfigError, match="labels.spam is not a label"):
        load(tmp_path, text=BASE.format(extra="") + '[labels.spam]\nkeyword = "x"\n')


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; create it with `triage init`"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load(tmp_path, text="[[accounts]\n")


def test_stance_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="me.stance must be one of open, selective, not-looking"):
        load(tmp_path, text=BASE.format(extra="") + 'stance = "maybe"\n')


def test_correction_folders_default_on_and_may_not_hold_a_watched_folder(tmp_path: Path) -> None:
    config, _ = load(tmp_path)
    assert config.accounts[0].corrections_folder == "Triage"
    config, _ = load(tmp_path, 'corrections_folder = ""')
    assert config.accounts[0].corrections_folder == ""
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.corrections_folder = 'Triage' would "
                                          r"hold watched folder 'Triage/mass'"):
        load(tmp_path, 'folders = ["INBOX", "Triage/mass"]')


PRESET = """
[[accounts]]
name = "work"
username = "me@example.com"
{extra}
[me]
name = "Dana Smith"
email = "dana@example.com"
"""


def test_a_provider_preset_fills_the_server_and_any_key_overrides_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(PRESET.format(extra='provider = "gmail"\ntoken_command = "oama access me"'))
    account = load_config(path).accounts[0]
    assert (account.host, account.port, account.security, account.auth, account.drafts_folder) \
        == ("imap.gmail.com", 993, "tls", "xoauth2", "[Gmail]/Drafts")
    assert account.token_command == "oama access me" and account.password_command is None
    path.write_text(PRESET.format(extra='provider = "fastmail"\nport = 1993\n'
                                        'password_command = "pass mail"'))
    account = load_config(path).accounts[0]
    assert (account.host, account.port, account.auth) == ("imap.fastmail.com", 1993, "password")


def test_provider_and_token_command_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(PRESET.format(extra='provider = "hotmail"\npassword_env = "P"'))
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.provider must be one of gmail, "
                                          r"outlook, .*got 'hotmail'"):
        load_config(path)
    path.write_text(PRESET.format(extra='provider = "outlook"'))
    with pytest.raises(ConfigError, match=r"password_env is missing: set token_command"):
        load_config(path)
    path.write_text(PRESET.format(extra='provider = "icloud"\ntoken_command = "x"'))
    with pytest.raises(ConfigError, match=r"token_command needs auth = \"xoauth2\""):
        load_config(path)
