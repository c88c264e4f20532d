"""Files triage keeps on disk (ledger, lock, corrections, models): private, atomic, no links.

Every state file lives in a folder that is a real directory (never a symbolic link) owned by
the user; files are opened with O_NOFOLLOW, so a link planted in place of a ledger or lock is
refused instead of followed, and whole files are replaced atomically (temporary file in the
same folder, fsync, rename, fsync of the folder), so a crash or SIGKILL leaves the old file
or the new one, never a truncated one.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import sqlite3
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

TEMP_SUFFIX = ".tmp"
log = logging.getLogger(__name__)
PLAIN_NAME = re.compile(r"[a-z0-9_@-][a-z0-9_.@-]{0,63}")


class StateError(RuntimeError):
    """Raised when a state folder or file is unsafe (a link, not ours, writable by others) or
    cannot be written (disk full, permissions)."""


def state_name(account: str) -> str:
    """A file-name stem unique per account, even on case-insensitive file systems.

    A plain lower-case name (`work`, `dana@example.com`) is used as it is, as triage 0.1 did;
    any other name becomes a readable slug plus `+` and a short hash of the exact name, so
    `team/a`, `team a`, `Team_a` and `team_a` never share a ledger or a lock.
    """
    if PLAIN_NAME.fullmatch(account):
        return account
    slug = re.sub(r"[^a-z0-9_.@-]", "_", account.lower())[:40].lstrip(".") or "account"
    return f"{slug}+{hashlib.sha256(account.encode('utf-8')).hexdigest()[:10]}"


def legacy_name(account: str) -> str:
    """The stem triage 0.1 used (collides for names differing only in unsafe characters)."""
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", account) or "account"


class LockBusy(RuntimeError):
    """Raised when another run holds this account's lock."""


@contextmanager
def account_lock(state_dir: Path, account: str) -> Iterator[None]:
    """Hold this account's non-blocking run lock, or raise LockBusy."""
    private_dir(state_dir)
    path = state_dir / f"{state_name(account)}.lock"
    fd = open_file(path, os.O_CREAT | os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(f"another triage run holds {path}; this one does nothing") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def ledger_path(state_dir: Path, account: str) -> Path:
    """The account's ledger; a ledger of triage 0.1 (named without hash) is adopted first."""
    adopt_legacy_state(state_dir, account)
    return state_dir / f"{state_name(account)}.sqlite"


def corrections_dir(state_dir: Path, account: str) -> Path:
    """Where an account's corrected messages are kept, as `<label>/<hash>.eml` (0700/0600)."""
    adopt_legacy_state(state_dir, account)
    return state_dir / f"{state_name(account)}.corrections"


def adopt_legacy_state(state_dir: Path, account: str) -> None:
    """Rename a ledger (with its journal) and corrections store of the old naming to the new.

    Accounts whose names collided under the old naming (`team/a`, `team a`) shared one
    ledger: the first to run adopts it, unless the account it now belongs to by name
    (`team_a`) has claimed it; the other starts afresh, and server keywords keep its
    labelled mail from being processed again.
    """
    old, new = legacy_name(account), state_name(account)
    legacy = state_dir / f"{old}.sqlite"
    if old == new or not (legacy.exists() or (state_dir / f"{old}.corrections").exists()):
        return
    if _owner(legacy) not in (None, account):
        return
    for suffix in (".sqlite-journal", ".sqlite-wal", ".sqlite-shm", ".sqlite", ".corrections"):
        source, target = state_dir / f"{old}{suffix}", state_dir / f"{new}{suffix}"
        if source.is_symlink() or not source.exists() or target.exists() or target.is_symlink():
            continue
        try:
            os.rename(source, target)
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # ENOENT: another process adopted it meanwhile
                raise StateError(f"could not rename {source} to {target} ({exc.strerror}); "
                                 "rename it by hand") from None
            continue
        log.info("state of account %r moved from %s to %s", account, source.name, target.name)


def _owner(path: Path) -> str | None:
    """The account that claimed a ledger (None: unclaimed, unreadable or absent)."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'account'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def private_dir(path: Path) -> Path:
    """Create `path` if needed and make sure it is a real 0700 folder of ours; refuse a link."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise _refusal(path, "folder", exc) from None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            raise StateError(f"folder {path} belongs to uid {info.st_uid}, not to you; "
                             "point [state] dir at a folder of your own")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return path


def check_file(path: Path) -> bool:
    """True if `path` exists as a regular file; False if absent; StateError for a link or
    anything else (a folder, a FIFO)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _refusal(path, "file", exc) from None
    if stat.S_ISLNK(info.st_mode):
        raise StateError(f"{path} is a symbolic link; triage never follows links for its state: "
                         "remove the link (and point [state] dir elsewhere if you meant to)")
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"{path} is not a regular file; move it aside")
    return True


def open_file(path: Path, flags: int, mode: int = 0o600) -> int:
    """os.open with O_NOFOLLOW; refuses links and anything but a regular file."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        raise _refusal(path, "file", exc) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StateError(f"{path} is not a regular file; move it aside")
    return fd


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that readers see the old content or the new, never less."""
    temporary = new_temp(path)
    try:
        with open(temporary, "r+b") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        commit_temp(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def new_temp(path: Path) -> Path:
    """An empty, exclusively created 0600 temporary file next to `path` (same file system)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    return Path(name)


def commit_temp(temporary: Path, path: Path, mode: int | None = None) -> None:
    """fsync `temporary` (setting `mode`), rename it over `path`, fsync the folder."""
    fd = os.open(temporary, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    fsync_dir(path.parent)


def remove_stale_temps(directory: Path, name: str) -> None:
    """Delete temporary files a killed writer of `name` left behind."""
    for stale in directory.glob(f".{name}.*{TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _refusal(path: Path, kind: str, exc: OSError) -> StateError:
    if exc.errno in (errno.ELOOP, errno.EMLINK) or (kind == "folder" and path.is_symlink()):
        return StateError(f"{kind} {path} is a symbolic link; triage never follows links for its "
                          "state: replace it with a real folder, or point [state] dir at the target")
    if exc.errno == errno.ENOTDIR:
        return StateError(f"{path} is not a folder; move it aside or point [state] dir elsewhere")
    if exc.errno == errno.ENOSPC:
        return StateError(f"no space left for {path}; free some disk space")
    return StateError(f"cannot use {kind} {path}: {exc.strerror}; check its permissions")
