"""Nothing lost, nothing twice: real faults injected between triage and a real Dovecot."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from conftest import PASSWORD_ENV, Account
from faultproxy import FaultProxy, Rule
from listeners import Listener
from servers import PASSWORD
from triage.cli import main

KEYWORDS = {"triage-targeted", "triage-referral", "triage-mass", "triage-other", "triage-unsure"}
FAST_RETRIES = {"retries": 3, "retry_backoff": 0.05, "read_timeout": 3.0, "connect_timeout": 3.0}


def corpus(samples: dict[str, list[bytes]], count: int) -> list[bytes]:
    """`count` distinct messages, a quarter of each label, interleaved."""
    per = count // 4
    return [samples[label][i] for i in range(per) for label in ("targeted", "referral", "mass", "other")]


def ledger(account: Account) -> list[tuple]:
    with sqlite3.connect(account.tmp / "state" / "test.sqlite") as db:
        return db.execute("SELECT message_id, label, status FROM messages WHERE uidvalidity > 0"
                          ).fetchall()


def assert_end_state(account: Account, count: int) -> None:
    """Every message labelled exactly once, one draft per targeted message, nothing read."""
    flags = account.flags()
    assert len(flags) == count
    for uid, message_flags in flags.items():
        assert len(KEYWORDS & set(message_flags)) == 1, (uid, message_flags)
        assert "\\Seen" not in message_flags, uid
    with sqlite3.connect(account.tmp / "state" / "test.sqlite") as db:
        targeted = {mid for mid, in db.execute(
            "SELECT DISTINCT message_id FROM messages WHERE label = 'targeted' AND status = 'done'")}
        done = db.execute("SELECT count(DISTINCT message_id) FROM messages WHERE status = 'done'"
                          ).fetchone()[0]
    assert done == count
    replies = [message_from_bytes(raw, policy=default)["In-Reply-To"]
               for raw in account.fetch_all("Drafts").values()]
    assert sorted(replies) == sorted(targeted), "exactly one draft per targeted message"
    labelled_targeted = sum("triage-targeted" in f for f in flags.values())
    assert labelled_targeted == len(targeted)


def run_via(account: Account, port: int, **extra: object) -> int:
    config = account.config(port=port, **{"batch_size": 15, **FAST_RETRIES, **extra})
    return main(["run", "--config", str(config)])


def test_connection_cuts_at_random_points_lose_and_duplicate_nothing(dovecot_account: Account,
                                                                     samples, capsys) -> None:
    dovecot_account.append(corpus(samples, 300))
    proxy = FaultProxy(dovecot_account.server.port)
    proxy.random_cuts(400, seed=20261124)
    try:
        for attempt in range(150):
            code = run_via(dovecot_account, proxy.port)
            if code == 0 and ": 0 new (" in capsys.readouterr().out:
                break
        else:
            pytest.fail("the runs never completed")
    finally:
        proxy.close()
    assert proxy.faults >= 15, f"only {proxy.faults} faults were injected: {proxy.kinds}"
    assert proxy.kinds["before server said Append completed"] >= 1, proxy.kinds
    assert proxy.kinds["after client sent STORE"] >= 1, proxy.kinds
    assert_end_state(dovecot_account, 300)


def test_a_cut_right_after_append_does_not_duplicate_the_draft(dovecot_account: Account, samples,
                                                               capsys) -> None:
    dovecot_account.append(samples["targeted"][:3])
    proxy = FaultProxy(dovecot_account.server.port)
    proxy.rules.extend([Rule(cut_on_server=b"Append completed")] * 3)
    try:
        for _ in range(5):
            run_via(dovecot_account, proxy.port, retries=0)
    finally:
        proxy.close()
    assert proxy.faults == 3
    assert_end_state(dovecot_account, 3)


def triage_process(config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    return subprocess.Popen([sys.executable, "-m", "triage", "run", "--config", str(config), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def done_count(account: Account) -> int:
    path = account.tmp / "state" / "test.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=0.2) as db:
            return int(db.execute("SELECT count(*) FROM messages WHERE status = 'done'").fetchone()[0])
    except sqlite3.Error:
        return 0  # busy or not created yet


def kill_when(process: subprocess.Popen, ready) -> bool:
    """SIGKILL `process` once `ready()` holds; False if it finished first."""
    while process.poll() is None:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.01)
    return False


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(dovecot_account: Account,
                                                                samples) -> None:
    """Kills land at random points of progress (and some during start-up), whatever the speed."""
    dovecot_account.append(corpus(samples, 300))
    config = dovecot_account.config(batch_size=4)
    rng = random.Random(7)
    kills = mid_work = 0
    for attempt in range(40):
        before = done_count(dovecot_account)
        if before >= 300 or kills >= 14:
            break
        process = triage_process(config)
        if attempt % 3 == 2:
            deadline = time.monotonic() + rng.uniform(0.05, 1.0)
            killed = kill_when(process, lambda: time.monotonic() > deadline)
        else:
            target = before + rng.randint(1, 30)
            killed = kill_when(process, lambda: done_count(dovecot_account) >= target)
        if not killed:
            break
        kills += 1
        mid_work += before < done_count(dovecot_account) < 300
    final = triage_process(config)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    assert kills >= 10, f"only {kills} kills landed before the work was done"
    assert mid_work >= 5, f"only {mid_work} kills interrupted a run that was making progress"
    assert_end_state(dovecot_account, 300)


def test_two_runs_at_once_exactly_one_works(dovecot_account: Account, samples) -> None:
    dovecot_account.append(corpus(samples, 200))
    config = dovecot_account.config(batch_size=5)
    seen = len(dovecot_account.server.log_text().splitlines())
    first, second = triage_process(config), triage_process(config)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0
    texts = [out.decode() for out, _ in outputs]
    assert sum("another run is in progress" in t for t in texts) == 1
    assert sum("200 new" in t for t in texts) == 1
    logins = [line for line in dovecot_account.server.log_text().splitlines()[seen:]
              if f"Login: user=<{dovecot_account.user}>" in line]
    assert len(logins) == 1, logins


def churn(account: Account, uidlist_only: bool) -> None:
    """Make Dovecot renumber: drop its UID list (and its indexes for a new UIDVALIDITY)."""
    maildir = account.server.maildir(account.user)
    for path in maildir.iterdir():
        if path.name == "dovecot-uidlist" or (not uidlist_only and path.name.startswith("dovecot.index")):
            path.unlink()


@pytest.mark.parametrize("uidlist_only", [False, True], ids=["new-uidvalidity", "same-uidvalidity"])
def test_uid_renumbering_processes_nothing_twice_and_skips_nothing(
        dovecot_account: Account, samples, capsys, uidlist_only: bool) -> None:
    dovecot_account.append(corpus(samples, 40))
    assert run_via(dovecot_account, dovecot_account.server.port) == 0
    with dovecot_account.client() as c:
        before = c.select_folder("INBOX")[b"UIDVALIDITY"]
    drafts_before = dovecot_account.fetch_all("Drafts")
    capsys.readouterr()

    churn(dovecot_account, uidlist_only)
    with dovecot_account.client() as c:
        after = c.select_folder("INBOX")[b"UIDVALIDITY"]
    assert (after == before) == uidlist_only
    dovecot_account.append(samples["other"][100:103])
    assert run_via(dovecot_account, dovecot_account.server.port) == 0
    out = capsys.readouterr().out
    assert "3 new" in out, out
    assert len(dovecot_account.fetch_all("Drafts")) == len(drafts_before)
    assert_end_state(dovecot_account, 43)


def test_a_server_that_never_speaks_times_out_with_a_clear_error(dovecot_account: Account,
                                                                 capsys) -> None:
    silent = Listener()  # accepts and never says a word
    started = time.monotonic()
    try:
        code = main(["run", "--config", str(dovecot_account.config(
            port=silent.port, read_timeout=1.0, connect_timeout=1.0, retries=1,
            retry_backoff=0.05))])
    finally:
        silent.close()
    assert code == 4
    assert time.monotonic() - started < 10
    assert "connected, but no IMAP greeting within 1 s (connect_timeout)" in capsys.readouterr().err


def test_a_stall_mid_fetch_ends_the_run_and_the_next_run_resumes(dovecot_account: Account, samples,
                                                                 capsys) -> None:
    dovecot_account.append(corpus(samples, 20))
    proxy = FaultProxy(dovecot_account.server.port)
    proxy.default = Rule(stall_on_client=b"BODY.PEEK[]")
    started = time.monotonic()
    try:
        code = run_via(dovecot_account, proxy.port, read_timeout=1.0, retries=1)
        assert code == 4 and time.monotonic() - started < 15
        assert "did not answer in time" in capsys.readouterr().err
        proxy.default = Rule()
        assert run_via(dovecot_account, proxy.port) == 0
    finally:
        proxy.close()
    assert "20 new" in capsys.readouterr().out
    assert_end_state(dovecot_account, 20)


def test_transient_refusals_are_retried_and_auth_failures_are_not(dovecot_account: Account, samples,
                                                                 capsys, monkeypatch) -> None:
    dovecot_account.append(samples["other"][:2])
    proxy = FaultProxy(dovecot_account.server.port)
    proxy.rules.extend([Rule(refuse=True), Rule(refuse=True)])
    try:
        assert run_via(dovecot_account, proxy.port) == 0
        assert proxy.connections == 3
        monkeypatch.setenv(PASSWORD_ENV, "wrong-password")
        connections = proxy.connections
        assert run_via(dovecot_account, proxy.port) == 3
        assert proxy.connections == connections + 1, "an auth failure is not retried"
    finally:
        proxy.close()


def test_a_corrupt_ledger_stops_the_run_before_touching_the_server(dovecot_account: Account,
                                                                   samples, capsys) -> None:
    dovecot_account.append(samples["other"][:3])
    config = dovecot_account.config()
    assert main(["run", "--config", str(config)]) == 0
    ledger_file = dovecot_account.tmp / "state" / "test.sqlite"
    ledger_file.write_bytes(ledger_file.read_bytes()[:1000])
    dovecot_account.append(samples["other"][3:4])
    flags = dovecot_account.flags()
    assert main(["run", "--config", str(config)]) == 5
    assert "is corrupt or truncated" in capsys.readouterr().err
    assert dovecot_account.flags() == flags
