"""TOML config → frozen dataclasses, validated at the edge with errors that name key and file."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from .configcheck import ConfigError, Where as _Where, get as _get, is_atom as _is_atom, \
    is_loopback, keys_of as _keys_of, known_keys as _known_keys, positive as _positive, \
    required as _required, table as _table, text as _text
from .locations import choose_model
from .providers import PRESETS, with_preset

LABELS = ("targeted", "referral", "mass", "other")
STANCES = ("open", "selective", "not-looking")
SECURITY_MODES = ("tls", "starttls", "plain")
AUTH_MODES = ("password", "xoauth2", "oauthbearer")
_EMAIL = re.compile(r"[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
IDENTITY_KEYS = ("name", "email", "phone", "signature", "stance", "availability")
APP = "triage"
TOP_KEYS = ("accounts", "me", "drafts", "labels", "state", "paths")
STATE_KEYS = ("dir",)
PATHS_KEYS = ("models", "templates")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_RETRIES = 20
MAX_BATCH = 5000
__all__ = ["ConfigError", "is_loopback"]  # re-exported from configcheck


@dataclass(frozen=True)
class LabelAction:
    """What to do on the server with a message of one label: a keyword and/or a move."""

    keyword: str | None
    move_to: str | None = None


@dataclass(frozen=True)
class Account:
    """One IMAP account. Secrets are referenced (env, command, file, keyring), never held."""

    name: str
    host: str
    username: str
    port: int = 993
    security: str = "tls"
    auth: str = "password"
    password_env: str | None = None
    password_command: str | None = None
    token_command: str | None = None
    password_file: str | None = None
    keyring: bool = False
    ca_file: str | None = None
    folders: tuple[str, ...] = ("INBOX",)
    drafts_folder: str | None = None
    connect_timeout: float = 15.0
    read_timeout: float = 120.0
    batch_size: int = 100
    max_message_bytes: int = 2_000_000
    first_run_days: int = 14
    retries: int = 3
    retry_backoff: float = 2.0
    run_deadline: float = 1200.0
    corrections_folder: str = "Triage"  # "": no harvesting of corrections
    identity: Me | None = None  # [accounts.me] over [me]; None: [me] as it is


@dataclass(frozen=True)
class Me:
    """The user: identity for drafts and the profile the reply templates use."""

    name: str
    email: str
    stance: str = "selective"
    phone: str = ""
    availability: str = ""
    signature: str = ""


@dataclass(frozen=True)
class Drafts:
    """Which labels get a drafted reply (`targeted` on, `referral` opt-in)."""

    labels: tuple[str, ...] = ("targeted",)
    enabled: bool = True


@dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    path: Path
    accounts: tuple[Account, ...]
    me: Me
    state_dir: Path
    model_dir: Path
    template_dir: Path
    actions: dict[str, LabelAction] = field(default_factory=dict)
    drafts: Drafts = Drafts()
    model_reason: str = ""  # why model_dir: configured, the user's own model, or the shipped one

    def account(self, name: str | None) -> Account:
        """The named account, or the first one when `name` is None."""
        if name is None:
            return self.accounts[0]
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise ConfigError(f"no account named {name!r} in {self.path} (known: {known})")

    def me_for(self, name: str | None) -> Me:
        """The identity drafts of this account are written from: its [accounts.me] over [me]."""
        return self.account(name).identity or self.me


# keys of an [[accounts]] table: the Account fields, with its identity given as [accounts.me]
ACCOUNT_KEYS = tuple(k for k in _keys_of(Account) if k != "identity") + ("me", "provider")


def default_config_path() -> Path:
    """`~/.config/triage/config.toml` on Linux, the platform's equivalent elsewhere."""
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_model_dir() -> Path:
    """The user's own model (`triage train`) if there is one, else the shipped model."""
    return choose_model().directory


def load_config(path: Path | None = None) -> Config:
    """Read and validate the config file at `path` (default: the platform config dir)."""
    path = path or default_config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; create it with `triage init`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Validate a decoded TOML document."""
    where = _Where(path)
    _known_keys(data, TOP_KEYS, where)
    raw_accounts = data.get("accounts")
    if not isinstance(raw_accounts, list) or not raw_accounts:
        raise ConfigError(f"[[accounts]] is missing in {path}: add at least one account")
    me_raw = _table(data, "me", where)
    accounts = tuple(_with_identity(_account(a, where.at(f"accounts[{i}]")), a, me_raw,
                                    where.at(f"accounts[{i}]"))
                     for i, a in enumerate(raw_accounts))
    names = [a.name for a in accounts]
    if len(set(names)) != len(names):
        raise ConfigError(f"accounts[].name must be unique in {path}; got {names}")
    state = _table(data, "state", where)
    _known_keys(state, STATE_KEYS, where.at("state"))
    paths = _table(data, "paths", where)
    _known_keys(paths, PATHS_KEYS, where.at("paths"))
    config_dir = path.parent
    models = _text(paths, "models", where.at("paths"))
    model = choose_model(Path(models).expanduser() if models else None)
    templates = _text(paths, "templates", where.at("paths"))
    return Config(
        path=path,
        accounts=accounts,
        me=_me(me_raw, where.at("me")) if me_raw or not accounts[0].identity
        else accounts[0].identity,
        state_dir=Path(_text(state, "dir", where.at("state")) or platformdirs.user_state_dir(APP)).expanduser(),
        model_dir=model.directory,
        model_reason=model.reason,
        template_dir=Path(templates or config_dir / "templates").expanduser(),
        actions=_actions(_table(data, "labels", where), where.at("labels")),
        drafts=_drafts(_table(data, "drafts", where), where.at("drafts")),
    )


def _account(data: Any, where: _Where) -> Account:
    if not isinstance(data, dict):
        raise where.error("", "must be a table")
    for secret_key in ("password", "token"):
        if secret_key in data:
            raise where.error(secret_key, "must not hold a secret in clear; use password_env, "
                              "password_command, token_command, password_file or keyring")
    _known_keys(data, ACCOUNT_KEYS, where)
    provider = data.get("provider")
    if provider is not None and provider not in PRESETS:
        raise where.error("provider", f"must be one of {', '.join(PRESETS)}, got {provider!r}")
    data = with_preset(data)
    host = _required(data, "host", where)
    if any(c.isspace() for c in host) or len(host) > 253:
        raise where.error("host", f"must be a host name or IP address (no spaces), got {host[:60]!r}")
    security = _get(data, "security", str, where, "tls")
    if security not in SECURITY_MODES:
        raise where.error("security", f"must be one of {', '.join(SECURITY_MODES)}, got {security!r}")
    if security == "plain" and not is_loopback(host):
        raise where.error("security", f"= \"plain\" is refused for non-loopback host {host!r}; "
                          "use \"tls\" or \"starttls\"")
    auth = _get(data, "auth", str, where, "password")
    if auth not in AUTH_MODES:
        raise where.error("auth", f"must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
    folders = _get(data, "folders", list, where, ["INBOX"])
    if not folders or not all(isinstance(f, str) and f and f.isprintable() for f in folders):
        raise where.error("folders", f"must be a non-empty list of folder names, got {folders!r}")
    env = _text(data, "password_env", where)
    if env and not ENV_NAME.fullmatch(env):
        raise where.error("password_env", f"must be the name of an environment variable (letters, "
                          f"digits, _), got {env!r}; the password itself goes in that variable")
    ca_file = _text(data, "ca_file", where)
    if ca_file and not Path(ca_file).expanduser().is_file():
        raise where.error("ca_file", f"= {ca_file!r} is not a file; give the path of the server's "
                          "certificate (PEM)")
    retries = _get(data, "retries", int, where, 3)
    if not 0 <= retries <= MAX_RETRIES:
        raise where.error("retries", f"must be between 0 and {MAX_RETRIES}, got {retries}")
    batch_size = int(_positive(data, "batch_size", 100, where))
    if batch_size > MAX_BATCH:
        raise where.error("batch_size", f"must be at most {MAX_BATCH}, got {batch_size}")
    sources = [k for k in ("password_env", "password_command", "password_file", "token_command")
               if data.get(k)]
    if not sources and not data.get("keyring"):
        hint = "token_command (it prints a fresh OAuth2 access token)" if auth != "password" \
            else "one of password_env, password_command, password_file or keyring = true"
        raise where.error("password_env", f"is missing: set {hint}")
    if data.get("token_command") and auth == "password":
        raise where.error("token_command", "needs auth = \"xoauth2\" or \"oauthbearer\" (it "
                          "prints an OAuth2 access token); for a password use password_command")
    default_port = {"tls": 993, "starttls": 143, "plain": 143}[security]
    port = _get(data, "port", int, where, default_port)
    if not 0 < port < 65536:
        raise where.error("port", f"must be 1-65535, got {port}")
    return Account(
        name=_text(data, "name", where, limit=200) or _required(data, "username", where),
        host=host,
        username=_required(data, "username", where),
        port=port,
        security=security,
        auth=auth,
        password_env=env,
        password_command=_text(data, "password_command", where),
        token_command=_text(data, "token_command", where),
        password_file=_text(data, "password_file", where),
        keyring=bool(_get(data, "keyring", bool, where, False)),
        ca_file=ca_file,
        folders=tuple(folders),
        drafts_folder=_text(data, "drafts_folder", where),
        connect_timeout=_positive(data, "connect_timeout", 15.0, where),
        read_timeout=_positive(data, "read_timeout", 120.0, where),
        batch_size=batch_size,
        max_message_bytes=int(_positive(data, "max_message_bytes", 2_000_000, where)),
        first_run_days=int(_positive(data, "first_run_days", 14, where)),
        retries=retries,
        retry_backoff=_positive(data, "retry_backoff", 2.0, where),
        run_deadline=_positive(data, "run_deadline", 1200.0, where),
        corrections_folder=_corrections_folder(data, folders, where),
    )


def _corrections_folder(data: dict[str, Any], folders: list[str], where: _Where) -> str:
    """The parent of the per-label correction folders; "" turns harvesting off."""
    value = _text(data, "corrections_folder", where, "Triage")
    watched = [f for f in folders if value and (f == value or f.startswith(value + "/")
                                                 or f.startswith(value + "."))]
    if watched:
        raise where.error("corrections_folder", f"= {value!r} would hold watched folder "
                          f"{watched[0]!r}; pick a parent folder that triage does not process")
    return value


def _with_identity(account: Account, data: Any, me_raw: dict[str, Any], where: _Where) -> Account:
    """An account with its own [accounts.me] table, each key falling back to [me]."""
    own = data.get("me") if isinstance(data, dict) else None
    if own is None:
        return account
    if not isinstance(own, dict):
        raise where.error("me", "must be a table of name, email, phone, signature, stance, availability")
    unknown = sorted(set(own) - set(IDENTITY_KEYS))
    if unknown:
        raise where.at("me").error(unknown[0], f"is not an identity key; use one of {', '.join(IDENTITY_KEYS)}")
    return replace(account, identity=_me({**me_raw, **own}, where.at("me")))


def _me(data: dict[str, Any], where: _Where) -> Me:
    _known_keys(data, _keys_of(Me), where)
    stance = _get(data, "stance", str, where, "selective")
    if stance not in STANCES:
        raise where.error("stance", f"must be one of {', '.join(STANCES)}, got {stance!r}")
    email = _required(data, "email", where)
    if not _EMAIL.fullmatch(email):
        raise where.error("email", f"must be one address like dana@example.com, got {email!r}")
    for key in IDENTITY_KEYS:
        value = data.get(key)
        if isinstance(value, str) and _CONTROL.search(value.replace("\n", "") if key == "signature"
                                                      else value):
            raise where.error(key, f"must not contain control characters, got {value!r}")
    return Me(
        name=_required(data, "name", where),
        email=email,
        stance=stance,
        phone=_text(data, "phone", where, ""),
        availability=_text(data, "availability", where, ""),
        signature=_text(data, "signature", where, "", multiline=True, limit=2000),
    )


def _actions(data: dict[str, Any], where: _Where) -> dict[str, LabelAction]:
    actions = {label: LabelAction(keyword=f"triage-{label}") for label in (*LABELS, "unsure")}
    for label, spec in data.items():
        if label not in actions:
            close = difflib.get_close_matches(label, list(actions), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(actions)}"
            raise ConfigError(f"{where.prefix}{label} is not a label in {where.path}; {hint}")
        if not isinstance(spec, dict):
            raise where.at(label).error("", "must be a table with keyword and/or move_to")
        _known_keys(spec, _keys_of(LabelAction), where.at(label))
        keyword = _get(spec, "keyword", str, where.at(label), f"triage-{label}")
        if keyword and not _is_atom(keyword):
            raise where.at(label).error("keyword", f"must be an IMAP atom (no spaces, parentheses, "
                                        f"quotes or backslashes), got {keyword!r}")
        actions[label] = LabelAction(keyword=keyword or None,
                                     move_to=_text(spec, "move_to", where.at(label)) or None)
    return actions


def _drafts(data: dict[str, Any], where: _Where) -> Drafts:
    _known_keys(data, _keys_of(Drafts), where)
    labels = _get(data, "labels", list, where, ["targeted"])
    for label in labels:
        if label not in ("targeted", "referral"):
            raise where.error("labels", f"may hold only \"targeted\" and \"referral\", got {label!r}")
    return Drafts(labels=tuple(labels), enabled=bool(_get(data, "enabled", bool, where, True)))
