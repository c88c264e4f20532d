"""The ledger: private files, corruption detected, lock exclusive."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from triage.ledger import Decision, Ledger, LedgerError, LockBusy, account_lock


def test_files_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Ledger(state / "a.sqlite"):
        pass
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "a.sqlite").stat().st_mode) == 0o600


@pytest.mark.parametrize("content", [b"garbage" * 100, b"SQLite format 3\x00" + b"\x00" * 50])
def test_corrupt_or_truncated_ledger_is_reported_not_reset(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.sqlite"
    with Ledger(path) as ledger:
        ledger.set_watermark("INBOX", 1, 500, "2026-01-01")
    good = path.read_bytes()
    path.write_bytes(content if content.startswith(b"garbage") else good[: len(good) // 3])
    with pytest.raises(LedgerError, match=f"ledger {path} is corrupt or truncated"):
        Ledger(path)
    assert path.read_bytes() != good  # left for the user to inspect, not replaced


def test_watermark_only_moves_forward(tmp_path: Path) -> None:
    with Ledger(tmp_path / "a.sqlite") as ledger:
        ledger.set_watermark("INBOX", 7, 10, "2026-01-01")
        ledger.set_watermark("INBOX", 7, 4, "2026-01-01")
        assert ledger.watermark("INBOX", 7) == 10 and ledger.watermark("INBOX", 8) is None


def test_failures_give_up_after_three_attempts(tmp_path: Path) -> None:
    failed = Decision("INBOX", 1, 5, "fp", "", "", "", None, None, None, "failed", "boom")
    with Ledger(tmp_path / "a.sqlite") as ledger:
        for expected in ({5} and set(), set(), {5}):
            ledger.record(failed)
            assert ledger.settled_uids("INBOX", 1) == expected


def test_second_lock_holder_is_refused(tmp_path: Path) -> None:
    with account_lock(tmp_path, "work"):
        with pytest.raises(LockBusy, match="another triage run holds"):
            with account_lock(tmp_path, "work"):
                pass
    with account_lock(tmp_path, "work"):
        pass
