"""Shared by the command modules: exit codes, log redaction and set-up, errors as one line."""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import logging
import re
import sys
from pathlib import Path
from typing import Iterator

from ..config import Account, Config, Me, default_config_path, load_config
from ..locations import choose_model
from ..mailstore import AuthError, FolderError, MailboxError, ProtocolError
from ..secrets import SecretError

log = logging.getLogger("triage")


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_CONNECTION, EXIT_STATE, EXIT_MODEL, \
    EXIT_REFUSED = range(8)
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  success (also: another run holds the lock, so this one did nothing)
  {EXIT_FAILED}  some input could not be processed, or an unexpected error
  {EXIT_USAGE}  bad usage or configuration (the message names the key and the file); also
     drafts waiting for a Drafts folder, or a folder that cannot be used (others processed)
  {EXIT_AUTH}  the server refused the login, or the password source failed (not retried)
  {EXIT_CONNECTION}  connection, TLS or timeout error after retries; the next run resumes
  {EXIT_STATE}  the ledger or state folder is corrupt, unsafe or unwritable (never silently reset)
  {EXIT_MODEL}  no usable model: run `triage train`
  {EXIT_REFUSED}  training kept the current model because it scores better (use --force)
"""


class Redactor(logging.Filter):
    """Replaces registered secrets in log records by '***': as whole tokens, inside base64
    (an OAuth2 SASL payload), and the arguments of IMAP LOGIN and AUTHENTICATE commands.

    A secret is replaced where it stands alone (between spaces, quotes or punctuation), never
    inside a longer word: password "x" leaves "syntax" alone.
    """

    secrets: set[str] = set()
    _AUTH = re.compile(r"\b(LOGIN|AUTHENTICATE) \S.*")  # IMAP commands, upper case
    _BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = self._AUTH.sub(lambda m: f"{m.group(1)} ***", text)
        redacted = self._BASE64.sub(self._payload, redacted)
        for secret in self.secrets:
            redacted = re.sub(rf"(?<![^\s\"'=:,;(\[{{<]){re.escape(secret)}(?![^\s\"',;)\]}}>.])",
                              "***", redacted)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True

    def _payload(self, match: re.Match[str]) -> str:
        """A base64 word that decodes to text holding a secret (a SASL string) becomes '***'."""
        try:
            decoded = base64.b64decode(match.group(0) + "=" * (-len(match.group(0)) % 4))
        except ValueError:
            return match.group(0)
        text = decoded.decode("latin-1")
        return "***" if any(s in text for s in self.secrets) else match.group(0)


def setup_logging(verbosity: int) -> None:
    """Warnings always; -v: one line per acted-on message; -vv: debug (secrets redacted)."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redactor())
    handler.set_name("triage-cli")
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "triage-cli"] + [handler]
    root.setLevel(level)
    logging.getLogger("imapclient").setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)


def _reader_gone() -> int:
    """stdout's reader left (`triage log | head`): stop quietly, with no traceback at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_OK


PLACEHOLDER_ME = Me(name="Your Name", email="you@example.invalid")


def fail(code: int, message: str) -> int:
    print(f"triage: error: {message}", file=sys.stderr)
    return code


def account_failure(name: str, exc: SecretError | MailboxError) -> int:
    """Report a failed account and give its exit code: login, configuration or connection."""
    if isinstance(exc, (SecretError, AuthError)):
        return fail(EXIT_AUTH, f"{name}: {exc}")
    if isinstance(exc, FolderError):
        return fail(EXIT_USAGE, f"{name}: {exc}")
    if isinstance(exc, ProtocolError):
        return fail(EXIT_FAILED, f"{name}: {exc}")
    return fail(EXIT_CONNECTION, f"{name}: {exc}")


def _print_flush(line: str) -> None:
    print(line, flush=True)


# -- helpers ----------------------------------------------------------------------------
def _account_names(config: Config, only: str | None) -> list[str]:
    return [a.name for a in _accounts(config, only)]


def _accounts(config: Config, only: str | None) -> list[Account]:
    return [config.account(only)] if only else list(config.accounts)


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3660:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 3660")
    return int(text)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None


def _model_dir_from_default_config() -> Path:
    """The model of the default config if it exists, else yours or the shipped one."""
    if default_config_path().exists():
        return load_config().model_dir
    return choose_model().directory


def _eml_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.eml") if p.is_file())
        else:
            yield path
