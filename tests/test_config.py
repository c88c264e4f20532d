"""Config validation: errors name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.config import ACCOUNT_KEYS, ConfigError, load_config

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


def error_of(tmp_path: Path, extra: str = "", text: str | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, extra, text)
    return str(err.value)


@pytest.mark.parametrize("where, line, message", [
    ("account", 'securty = "starttls"', "accounts[0].securty is not a known key in {path}; did you "
                                        "mean security?"),
    ("account", "read_timout = 30", "accounts[0].read_timout is not a known key in {path}; did you "
                                    "mean read_timeout?"),
    ("account", "passwd_env = \"X\"", "accounts[0].passwd_env is not a known key in {path}; did you "
                                      "mean password_env?"),
    ("me", 'stanse = "open"', "me.stanse is not a known key in {path}; did you mean stance?"),
    ("top", '[drafs]\nlabels = ["targeted"]', "drafs is not a known key in {path}; did you mean "
                                              "drafts?"),
    ("top", '[state]\ndirr = "/tmp/x"', "state.dirr is not a known key in {path}; did you mean "
                                        "dir?"),
    ("top", '[labels.mass]\nmove = "Bulk"', "labels.mass.move is not a known key in {path}; did you "
                                            "mean move_to?"),
    ("top", '[labels.mas]\nkeyword = "x"', "labels.mas is not a label in {path}; did you mean mass?"),
    ("top", '[drafts]\nlables = ["targeted"]', "drafts.lables is not a known key in {path}; did you "
                                               "mean labels?"),
    ("top", "[paths]\nzzz = 1", "paths.zzz is not a known key in {path}; known keys: models, "
                                "templates"),
])
def test_unknown_keys_name_the_key_the_file_and_the_closest_valid_key(
        tmp_path: Path, where: str, line: str, message: str) -> None:
    if where == "account":
        text = BASE.format(extra=line)
    elif where == "me":
        text = BASE.format(extra="") + line + "\n"
    else:
        text = BASE.format(extra="") + "\n" + line + "\n"
    assert error_of(tmp_path, text=text) == message.format(path=tmp_path / "config.toml")


@pytest.mark.parametrize("line, message", [
    ("read_timeout = inf", "accounts[0].read_timeout must be a finite number of seconds, got inf"),
    ("run_deadline = nan", "accounts[0].run_deadline must be a finite number of seconds, got nan"),
    ("connect_timeout = -1", "accounts[0].connect_timeout must be positive, got -1.0"),
    ("retries = -1", "accounts[0].retries must be between 0 and 20, got -1"),
    ("retries = 1000", "accounts[0].retries must be between 0 and 20, got 1000"),
    ("batch_size = 1000000", "accounts[0].batch_size must be at most 5000, got 1000000"),
    ('port = "993"', "accounts[0].port must be a whole number, got '993'"),
    ("port = 70000", "accounts[0].port must be 1-65535, got 70000"),
    ("keyring = 1", "accounts[0].keyring must be true or false, got 1"),
    ('folders = ["INBOX", ""]', "accounts[0].folders must be a non-empty list of folder names, got "
                                "['INBOX', '']"),
    ('drafts_folder = "Drafts\\r\\nX"', "accounts[0].drafts_folder must be text on one line without "
                                        "control characters, got 'Drafts\\r\\nX'"),
    ('name = "work\\u0000"', "accounts[0].name must be text on one line without control characters, "
                             "got 'work\\x00'"),
    ('password_command = "pass show\\u0000 mail"', "accounts[0].password_command must be text on "
                                                   "one line without control characters, got "
                                                   "'pass show\\x00 mail'"),
    ('ca_file = "/nonexistent/ca.pem"', "accounts[0].ca_file = '/nonexistent/ca.pem' is not a "
                                        "file; give the path of the server's certificate (PEM)"),
])
def test_account_values_are_validated_with_the_fix(tmp_path: Path, line: str, message: str) -> None:
    text = BASE.format(extra="").replace('password_env = "TRIAGE_PASSWORD"\n',
                                         'password_env = "TRIAGE_PASSWORD"\n' + line + "\n")
    if line.startswith("name ="):
        text = text.replace('name = "work"\n', "")
    assert error_of(tmp_path, text=text) == f"{message} in {tmp_path / 'config.toml'}"


@pytest.mark.parametrize("old, new, message", [
    ('host = "imap.example.com"', 'host = "imap example.com"',
     "accounts[0].host must be a host name or IP address (no spaces), got 'imap example.com'"),
    ('password_env = "TRIAGE_PASSWORD"', 'password_env = "hunter2!"',
     "accounts[0].password_env must be the name of an environment variable (letters, digits, _), "
     "got 'hunter2!'; the password itself goes in that variable"),
    ('email = "dana@example.com"', 'email = "Dana <dana@example.com>"',
     "me.email must be one address like dana@example.com, got 'Dana <dana@example.com>'"),
    ('email = "dana@example.com"', 'email = "a@b.example, evil@x.example"',
     "me.email must be one address like dana@example.com, got 'a@b.example, evil@x.example'"),
    ('name = "Dana Smith"', 'name = "Dana\\r\\nBcc: evil@x.example"',
     "me.name must not contain control characters, got 'Dana\\r\\nBcc: evil@x.example'"),
])
def test_values_that_would_end_up_in_headers_or_commands_are_refused(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    text = BASE.format(extra="").replace(old, new)
    assert error_of(tmp_path, text=text) == f"{message} in {tmp_path / 'config.toml'}"


def test_tables_and_paths_must_have_the_right_type(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert error_of(tmp_path, text=BASE.format(extra="") + "\n[state]\ndir = 5\n") == \
        f"state.dir must be a string, got 5 in {path}"
    assert error_of(tmp_path, text="state = 5\n" + BASE.format(extra="")) == \
        f"state must be a table in {path}"


def test_a_signature_may_span_lines(tmp_path: Path) -> None:
    config, _ = load(tmp_path, text=BASE.format(extra="") + 'signature = """Best,\nDana"""\n')
    assert config.me.signature == "Best,\nDana"


def test_a_typo_is_exit_2_with_one_line(tmp_path: Path, capsys) -> None:
    from triage.cli import EXIT_USAGE, main
    path = tmp_path / "config.toml"
    path.write_text(BASE.format(extra='securty = "starttls"'))
    assert main(["run", "--config", str(path)]) == EXIT_USAGE
    assert capsys.readouterr().err == (f"triage: error: accounts[0].securty is not a known key in "
                                       f"{path}; did you mean security?\n")


def test_the_sample_config_loads(tmp_path: Path) -> None:
    from importlib import resources
    text = resources.files("triage").joinpath("config.sample.toml").read_text()
    config, _ = load(tmp_path, text=text)
    assert config.accounts[0].name == "work"


def test_an_account_identity_table_is_a_known_key_but_the_field_name_is_not(tmp_path: Path) -> None:
    text = BASE.format(extra="").replace("\n[me]", '\n[accounts.me]\nemail = "w@work.example"\n\n[me]')
    config, _ = load(tmp_path, text=text)
    assert config.me_for("work").email == "w@work.example"
    assert error_of(tmp_path, text=BASE.format(extra='identity = "x"')) == (
        f"accounts[0].identity is not a known key in {tmp_path / 'config.toml'}; known keys: "
        + ", ".join(sorted(k for k in ACCOUNT_KEYS)))


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
