"""The cheap paths: no scikit-learn for commands and polls that never predict; batch classify."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fakes import FakeMailbox
from triage.classifier import ModelError
from triage.config import parse_config
from triage.ledger import Ledger
from triage.runner import RunOptions, Runner
from triage.session import ModelOnce

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("sklearn", "scipy", "joblib", "bs4", "numpy")


def imported_after(code: str) -> set[str]:
    """Top-level modules loaded by a fresh interpreter after running `code`."""
    probe = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = imported_after("import triage.cli")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_version_prints_without_heavy_libraries() -> None:
    loaded = imported_after("import contextlib, io\nimport triage.cli as c\n"
                            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
                            "    c.main(['--version'])")
    assert "triage" in loaded and not loaded & set(HEAVY)


def test_a_poll_loads_neither_the_reply_nor_the_training_code() -> None:
    """`triage run` with nothing new: templates, extraction patterns, training, doctor and the
    other commands' modules stay unloaded (each cost 10–60 ms a poll)."""
    probe = ("import sys\nfrom triage.cli.app import build_parser\n"
             "args = build_parser().parse_args(['run'])\n"
             "import triage.cli.mailcmds, triage.session\nprint(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    unwanted = {"jinja2", "triage.replies", "triage.patterns", "triage.extract", "triage.training",
                "triage.doctor", "triage.watch", "triage.cli.filecmds", "triage.cli.ledgercmds",
                *HEAVY}
    assert "triage.runner" in loaded and not loaded & unwanted, loaded & unwanted


def test_a_missing_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model in"):
        ModelOnce(tmp_path).get()  # an empty folder


def test_lazy_model_loads_the_shipped_model_on_first_message() -> None:
    from triage.message import parse_message
    lazy = ModelOnce(ROOT / "models")
    assert lazy.model is None
    message = parse_message(b"From: a@b.example\r\nTo: dana@example.com\r\nSubject: hi\r\n\r\n"
                            b"Lunch on Friday at the usual place?\r\n")
    assert lazy.predict([message])[0].label in ("other", "unsure") and lazy.model is not None


def test_a_missing_model_stops_the_run_instead_of_failing_every_message(tmp_path: Path) -> None:
    config = parse_config({"accounts": [{"name": "t", "host": "127.0.0.1", "security": "plain",
                                         "username": "u", "password_env": "X"}],
                           "me": {"name": "Dana Smith", "email": "dana@example.com"},
                           "state": {"dir": str(tmp_path / "state")}}, tmp_path / "c.toml")
    box = FakeMailbox()
    box.deliver(b"From: r@agency.example.org\r\nTo: dana@example.com\r\nSubject: role\r\n"
                b"Message-ID: <m1@agency.example.org>\r\n\r\nHello Dana\r\n")
    with Ledger(tmp_path / "l.sqlite") as ledger:
        run = Runner(config, config.accounts[0], ModelOnce(tmp_path / "nothing"), ledger,
                     lambda: box, RunOptions(backoff_seconds=0))
        with pytest.raises(ModelError):
            run.run()
        assert ledger.watermark("INBOX", 1000) == 0
    assert box.folders["INBOX"].flags[1] == set() or not box.folders["INBOX"].flags[1]


def test_classify_batches_keep_file_order_and_match_one_by_one(tmp_path: Path, capsys,
                                                               monkeypatch) -> None:
    import triage.cli as cli
    import triage.cli.filecmds  # noqa: F401 - patched below
    from triage.classifier import load_model
    from triage.message import parse_message
    files = sorted((ROOT / "demo" / "mail").glob("*.eml"))
    monkeypatch.setattr(cli.filecmds, "CLASSIFY_BATCH", 3)  # several batches and a partial last one
    assert cli.main(["classify", "--json", *map(str, files)]) == 0
    lines = capsys.readouterr().out.splitlines()
    model = load_model(ROOT / "models")
    alone = [model.predict([parse_message(f.read_bytes())])[0] for f in files]
    import json
    got = [json.loads(line) for line in lines]
    assert [g["path"] for g in got] == [str(f) for f in files]
    assert [(g["label"], g["scores"]) for g in got] == [(p.label, p.scores) for p in alone]


def test_classify_loads_neither_reply_templates_nor_scikit_learn(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(b"From: a@b.example\r\nSubject: hi\r\n\r\nLunch on Friday?\r\n")
    probe = ("import sys, contextlib, io\nimport triage.cli as c\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    c.main(['classify', '--models', {str(ROOT / 'models')!r}, {str(tmp_path)!r}])\n"
             "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert "triage.linear" in loaded  # it did classify
    assert not loaded & {"triage.replies", "triage.patterns", "jinja2", "sklearn", "scipy"}, loaded
