"""Files triage keeps on disk (ledger, lock, corrections, models): private, atomic, no links.

Every state file lives in a folder that is a real directory (never a symbolic link) owned by
the user; files are opened with O_NOFOLLOW, so a link planted in place of a ledger or lock is
refused instead of followed, and whole files are replaced atomically (temporary file in the
same folder, fsync, rename, fsync of the folder), so a crash or SIGKILL leaves the old file
or the new one, never a truncated one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"
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
