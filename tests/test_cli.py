"""The command line: help, exit codes, classify and explain output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from triage.cli import EXIT_CODES, main

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "mail"


def test_help_documents_commands_and_exit_codes(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "watch", "classify", "explain", "train", "log", "drafts", "doctor", "init"):
        assert command in out
    assert EXIT_CODES.strip() in out


def test_classify_json_lines(capsys) -> None:
    assert main(["classify", "--json", str(DEMO)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == len(list(DEMO.glob("*.eml")))
    for line in lines:
        assert set(line) >= {"path", "label", "confidence", "scores"}
        assert abs(sum(line["scores"].values()) - 1) < 1e-3
        assert line["label"] in ("targeted", "referral", "mass", "other", "unsure")


def test_classify_plain_reports_unreadable_files_and_goes_on(tmp_path, capsys) -> None:
    (tmp_path / "empty.eml").write_bytes(b"")
    good = sorted(DEMO.glob("*.eml"))[0]
    assert main(["classify", str(tmp_path / "empty.eml"), str(good)]) == 1
    captured = capsys.readouterr()
    assert f"{tmp_path / 'empty.eml'}: empty message" in captured.err
    assert str(good) in captured.out


def test_explain_names_the_evidence(capsys) -> None:
    path = next(DEMO.glob("*referral-bonus*.eml"))
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: ") and "probabilities: " in out and "pushed towards" in out


def test_init_writes_a_config_that_loads(tmp_path, capsys) -> None:
    target = tmp_path / "c.toml"
    assert main(["init", "--config", str(target)]) == 0
    assert main(["init", "--config", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    from triage.config import load_config
    assert load_config(target).accounts[0].host == "imap.example.com"


def test_missing_config_is_a_usage_error(tmp_path, capsys) -> None:
    assert main(["run", "--config", str(tmp_path / "nope.toml")]) == 2
    assert capsys.readouterr().err == (f"triage: error: config file {tmp_path / 'nope.toml'} does "
                                       "not exist; create it with `triage init`\n")


def test_console_script_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "triage", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("triage ")


def _redacted(text: str) -> str:
    import logging

    from triage.cli import Redactor
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "%s", (text,), None)
    Redactor().filter(record)
    return record.getMessage()


def test_redaction_replaces_whole_tokens_only(monkeypatch) -> None:
    import base64

    from triage.cli import Redactor
    monkeypatch.setattr(Redactor, "secrets", set())
    Redactor.secrets.add("x")
    assert _redacted("syntax error near x") == "syntax error near ***"
    assert _redacted('password="x", other=x;') == 'password="***", other=***;'
    Redactor.secrets.add("ya29.tok")
    sasl = base64.b64encode(b"user=dana@example.com\x01auth=Bearer ya29.tok\x01\x01").decode()
    assert _redacted(f"sent {sasl} and ya29.tok") == "sent *** and ***"
    assert _redacted("> b'A001 LOGIN dana \"hunter2\"'") == "> b'A001 LOGIN ***"
    assert _redacted("the login for 'dana' was refused") == "the login for 'dana' was refused"
