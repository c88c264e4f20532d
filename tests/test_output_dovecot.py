"""What triage prints: `--json` records checked against the server, progress on a terminal
only, and output piped into a reader that leaves (`| head`) ending quietly."""

from __future__ import annotations

import email
import fcntl
import email.policy
import io
import json
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

import pytest

from conftest import PASSWORD_ENV, ROOT, Account
from servers import PASSWORD, free_port
from triage import progress
from triage.cli import main


def subject(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"] or "")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_run_json_counts_what_the_server_received(dovecot_account: Account, samples,
                                                  capsys) -> None:
    mail = samples["targeted"][:2] + samples["mass"][:2] + samples["other"][:2]
    dovecot_account.append(mail)
    assert main(["run", "--json", "--config", str(dovecot_account.config())]) == 0
    captured = capsys.readouterr()
    [summary] = json_lines(captured.out)
    assert captured.err == ""
    assert summary["account"] == "test" and summary["status"] == "ok"
    assert summary["exit_code"] == 0 and summary["failed"] == 0 and not summary["dry_run"]
    assert summary["processed"] == len(mail) == sum(summary["labels"].values())
    assert summary["drafts"] == len(dovecot_account.fetch_all("Drafts"))
    assert set(summary["labels"]) == {"targeted", "referral", "mass", "other", "unsure"}


def test_run_json_dry_run_carries_the_plan_and_changes_nothing(dovecot_account: Account,
                                                               samples, capsys) -> None:
    dovecot_account.append(samples["targeted"][:3])
    before = dovecot_account.flags()
    assert main(["run", "--json", "--dry-run", "--config", str(dovecot_account.config())]) == 0
    [summary] = json_lines(capsys.readouterr().out)
    assert summary["dry_run"] is True and summary["processed"] == 3
    assert len(summary["plan"]) == 3 and all(isinstance(p, str) for p in summary["plan"])
    assert dovecot_account.flags() == before and dovecot_account.fetch_all("Drafts") == {}


def test_run_json_reports_an_account_error_on_both_streams(dovecot_account: Account,
                                                           capsys) -> None:
    port = free_port()
    config = dovecot_account.config(port=port, retries=0)
    assert main(["run", "--json", "--config", str(config)]) == 4
    captured = capsys.readouterr()
    [record] = json_lines(captured.out)
    assert record["status"] == "error" and record["exit_code"] == 4
    assert record["error"].startswith(f"127.0.0.1:{port}: connection refused")
    assert captured.err == f"triage: error: test: {record['error']}\n"


def test_log_and_drafts_json_match_the_mailbox(dovecot_account: Account, samples,
                                               capsys) -> None:
    mail = samples["targeted"][:2] + samples["other"][:1]
    dovecot_account.append(mail)
    config = str(dovecot_account.config())
    assert main(["run", "--config", config]) == 0
    capsys.readouterr()
    assert main(["log", "--json", "--config", config]) == 0
    decisions = json_lines(capsys.readouterr().out)
    inbox = dovecot_account.fetch_all("INBOX")
    assert sorted(d["uid"] for d in decisions) == sorted(inbox)
    assert {d["uid"]: d["subject"] for d in decisions} == {u: subject(r) for u, r in inbox.items()}
    assert all(d["account"] == "test" and d["folder"] == "INBOX" for d in decisions)

    assert main(["drafts", "--json", "--config", config]) == 0
    drafts = json_lines(capsys.readouterr().out)
    in_folder = dovecot_account.fetch_all("Drafts")
    assert len(drafts) == len(in_folder) >= 1
    assert sorted(d["draft_uid"] for d in drafts) == sorted(in_folder)
    assert all(d["created"].endswith("+00:00") for d in drafts)


def test_doctor_json_one_check_per_line(dovecot_account: Account, capsys) -> None:
    assert main(["doctor", "--json", "--config", str(dovecot_account.config())]) == 0
    checks = json_lines(capsys.readouterr().out)
    assert checks[0] == {"status": "ok", "subject": "config",
                         "detail": str(dovecot_account.tmp / "config.toml"), "kind": ""}
    assert {c["status"] for c in checks} <= {"ok", "note"}
    assert any(c["subject"] == "model" for c in checks)
    assert any("INBOX" in c["detail"] for c in checks)


def test_doctor_json_failure_sets_the_exit_code(dovecot_account: Account, capsys) -> None:
    config = dovecot_account.config(folders=["INBOX", "Nope"])
    assert main(["doctor", "--json", "--config", str(config)]) == 2
    failed = [c for c in json_lines(capsys.readouterr().out) if c["status"] == "fail"]
    assert [c["kind"] for c in failed] == ["folder"] and "'Nope'" in failed[0]["detail"]


def test_cron_gets_no_progress_only_the_summary(dovecot_account: Account, samples,
                                                capsys) -> None:
    dovecot_account.append(samples["other"][:4])
    assert main(["run", "--config", str(dovecot_account.config(batch_size=1))]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and len(captured.out.splitlines()) == 1


def on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (100 columns) and stdout into a file."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with tempfile.TemporaryFile() as out:
        done = subprocess.Popen(command, stdout=out, stderr=slave, env=env)
        os.close(slave)
        terminal = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            terminal += chunk
        os.close(master)
        code = done.wait(60)
        out.seek(0)
        return code, out.read().decode(), terminal.decode(errors="replace")


def test_a_backfill_on_a_terminal_shows_a_bar_per_folder(dovecot_account: Account,
                                                         samples) -> None:
    dovecot_account.append(samples["other"][:6])
    config = dovecot_account.config(batch_size=2)
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    code, out, terminal = on_a_terminal([sys.executable, "-m", "triage", "run", "--config",
                                         str(config)], env)
    assert code == 0, terminal
    assert out.startswith("triage: test: 6 new") and len(out.splitlines()) == 1
    assert "test INBOX" in terminal and "/6 [" in terminal and "msg" in terminal


def test_classify_of_a_folder_on_a_terminal_shows_a_bar_and_keeps_stdout_clean() -> None:
    folder = ROOT / "training_data" / "referral"
    files = sorted(folder.glob("*.eml"))
    code, out, terminal = on_a_terminal([sys.executable, "-m", "triage", "classify", "--json",
                                         str(folder)], dict(os.environ))
    assert code == 0, terminal
    assert [json.loads(line)["path"] for line in out.splitlines()] == [str(f) for f in files]
    assert f"/{len(files)} [" in terminal and "classify" in terminal


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_training_stages_are_drawn_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    stages = progress.Stages("triage train", progress.on_terminal())
    stages("reading the corpus")
    stages("fitting the final model")
    stages.close()
    assert "triage train: fitting the final model" in screen.getvalue()

    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stderr", quiet)
    stages = progress.Stages("triage train", progress.on_terminal())
    stages("reading the corpus")
    stages.close()
    assert quiet.getvalue() == ""


def test_output_into_a_reader_that_left_ends_quietly() -> None:
    command = ["classify", str(ROOT / "training_data" / "other")]
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` after its lines: every write now fails with EPIPE
    done = subprocess.run([sys.executable, "-m", "triage", *command], stdout=write_end,
                          stderr=subprocess.PIPE, timeout=120)
    os.close(write_end)
    assert done.stderr == b""
    assert done.returncode == 0
