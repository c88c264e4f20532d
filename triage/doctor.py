"""`triage doctor`: check everything a run needs and say, for each, ok or what to fix.

Checks the model, then per account the password source, connection and login, the
capabilities that change behaviour, every folder a run uses (sources, Drafts, move targets,
correction folders), and whether keywords are allowed — read from a read-write SELECT,
because PERMANENTFLAGS is empty after a read-only EXAMINE on compliant servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from .classifier import ModelError, load_model
from .config import Account, Config
from .learn import correction_folders
from .mailbox import Mailbox
from .mailstore import AuthError, FolderError, MailboxError
from .secrets import SecretError, resolve_secret

OK, NOTE, FAIL = "ok", "note", "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the report: status, what was checked, and the detail or the fix."""

    status: str
    subject: str
    detail: str
    kind: str = ""  # for FAIL: "auth", "connection", "folder", "model"

    def line(self) -> str:
        return f"{self.status:<4} {self.subject}: {self.detail}"


def check_model(config: Config) -> Check:
    try:
        load_model(config.model_dir)
    except ModelError as exc:
        return Check(FAIL, "model", f"{exc} ({config.model_reason})", "model")
    return Check(OK, "model", f"{config.model_dir}: {config.model_reason}")


def check_account(config: Config, account: Account,
                  on_secret: Callable[[str], None]) -> Iterator[Check]:
    """Every check of one account, in order; stops at the first that makes the rest moot."""
    name = account.name
    try:
        secret = resolve_secret(account)
    except SecretError as exc:
        yield Check(FAIL, name, str(exc), "auth")
        return
    on_secret(secret)
    yield Check(OK, name, "password source")
    try:
        mbox = Mailbox.connect(account, secret)
    except MailboxError as exc:
        yield Check(FAIL, name, str(exc), "auth" if isinstance(exc, AuthError) else "connection")
        return
    try:
        yield Check(OK, name, f"connected to {account.host}:{account.port} ({account.security}), "
                              "logged in")
        yield from _capabilities(mbox, name)
        yield from _folders(config, account, mbox)
    except MailboxError as exc:
        yield Check(FAIL, name, str(exc), "folder" if isinstance(exc, FolderError) else "connection")
    finally:
        mbox.close()


def _capabilities(mbox: Mailbox, name: str) -> Iterator[Check]:
    for cap, without in (("IDLE", "watch polls with NOOP instead"),
                         ("MOVE", "moves use COPY + flag + UID EXPUNGE of only those messages "
                                  "(needs UIDPLUS)"),
                         ("UIDPLUS", "no expunge of single messages"),
                         ("SPECIAL-USE", "Drafts and Sent are found by name")):
        offered = mbox.has(cap)
        yield Check(OK if offered else NOTE, name,
                    f"{cap} offered" if offered else f"{cap} not offered: {without}")
    if not mbox.can_move():
        yield Check(NOTE, name, "without MOVE or UIDPLUS no message is moved (move_to is ignored, "
                                "keywords only), because a move could delete mail")
    if mbox.gmail:
        yield Check(OK, name, "X-GM-EXT-1 offered: labels are Gmail labels, drafts go to the "
                              "\\Drafts folder, [Gmail]/All Mail is never processed")


def _folders(config: Config, account: Account, mbox: Mailbox) -> Iterator[Check]:
    name = account.name
    for folder in account.folders:
        if mbox.is_all_mail(folder):
            yield Check(NOTE, name, f"{folder} is skipped: on Gmail it shows every message again")
            continue
        if not mbox.folder_exists(folder):
            yield Check(FAIL, name, f"folder {folder!r} does not exist; fix `folders` in "
                                    f"{config.path}", "folder")
            continue
        state = mbox.select(folder)  # read-write: PERMANENTFLAGS is only listed after SELECT
        keywords = "allowed" if state.keywords_allowed else "NOT allowed: labels kept in the ledger only"
        kind = "Gmail labels" if mbox.gmail else "keywords"
        yield Check(OK, name, f"{folder} (UIDVALIDITY {state.uidvalidity}, {state.exists} "
                              f"messages); {kind} {keywords}")
    if config.drafts.enabled:
        try:
            yield Check(OK, name, f"drafts go to {mbox.drafts_folder(account.drafts_folder)!r}")
        except FolderError as exc:
            yield Check(FAIL, name, str(exc), "folder")
    for label, action in sorted(config.actions.items()):
        if action.move_to and not mbox.folder_exists(action.move_to):
            yield Check(FAIL, name, f"move_to folder {action.move_to!r} of label {label} does not "
                                    "exist; create it in your mail client or change "
                                    f"[labels.{label}] in {config.path}", "folder")
        elif action.move_to:
            yield Check(OK, name, f"{label} mail moves to {action.move_to!r}")
    folders = correction_folders(mbox, account)
    missing = [f for f in folders.values() if not mbox.folder_exists(f)]
    if folders and not missing:
        yield Check(OK, name, f"corrections: move mislabelled mail into {', '.join(folders.values())}")
    elif folders:
        yield Check(NOTE, name, f"no correction folders {', '.join(missing)}; create them with "
                                "`triage learn --create-folders` to teach triage by moving mail")
