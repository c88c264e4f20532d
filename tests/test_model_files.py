"""Model files are code: atomic writes, private when trained on your mail, checked at load."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_training import small_corpus
from triage.classifier import ModelError, load_model
from triage.training import train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return small_corpus(tmp_path_factory.mktemp("corpus"), 20)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus) -> Path:
    models = tmp_path_factory.mktemp("m") / "models"
    train(corpus, models)
    return models


def copy_of(models: Path, tmp_path: Path) -> Path:
    shutil.copytree(models, tmp_path / "models")
    return tmp_path / "models"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_model_trained_on_corrections_is_private(tmp_path: Path, corpus: Path) -> None:
    mine = tmp_path / "corrections"
    (mine / "mass").mkdir(parents=True)
    for path in sorted((ROOT / "training_data" / "mass").glob("*.eml"))[1:60:3][:5]:
        shutil.copy(path, mine / "mass" / path.name)
    models = tmp_path / "user" / "models"
    model = train(corpus, models, extra=(mine,))
    assert model.card["extra_examples"] == 5
    assert mode(models) == 0o700
    for name in ("model.joblib", "model_card.json", "report.md", "confusion.png"):
        assert mode(models / name) == 0o600, name
    train(corpus, models, extra=(mine,), force=True)  # the kept previous model is private too
    assert mode(models / "previous") == 0o700 and mode(models / "previous" / "model.joblib") == 0o600


def test_the_card_records_the_model_files_sha256(trained: Path) -> None:
    import hashlib
    card = json.loads((trained / "model_card.json").read_text())
    assert card["model_sha256"] == hashlib.sha256((trained / "model.joblib").read_bytes()).hexdigest()
    assert load_model(trained).card["model_sha256"] == card["model_sha256"]


def test_a_changed_model_file_is_refused_naming_it(trained: Path, tmp_path: Path) -> None:
    models = copy_of(trained, tmp_path)
    with open(models / "model.joblib", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError) as err:
        load_model(models)
    assert str(err.value) == (f"{models / 'model.joblib'} does not match the SHA-256 in "
                              f"{models / 'model_card.json'}: it was changed after training; run "
                              "`triage train` (or `triage train --rollback`)")


def test_a_card_without_a_hash_is_refused(trained: Path, tmp_path: Path) -> None:
    models = copy_of(trained, tmp_path)
    card = json.loads((models / "model_card.json").read_text())
    del card["model_sha256"]
    (models / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="records no SHA-256 of model.joblib"):
        load_model(models)


@pytest.mark.parametrize("target, bits", [("folder", 0o020), ("folder", 0o002), ("file", 0o020),
                                          ("file", 0o002)])
def test_a_model_others_can_write_is_refused(trained: Path, tmp_path: Path, target: str,
                                             bits: int) -> None:
    models = copy_of(trained, tmp_path)
    path = models if target == "folder" else models / "model.joblib"
    path.chmod(mode(path) | bits)
    with pytest.raises(ModelError) as err:
        load_model(models)
    assert str(err.value) == (f"model {target} {path} is writable by group or others (mode "
                              f"{mode(path):o}); a model is code that runs as you: run "
                              f"`chmod go-w {path}`")


def test_the_shipped_model_loads() -> None:
    assert load_model(ROOT / "models").labels == ["mass", "other", "referral", "targeted"]


def test_sigkill_while_train_writes_never_leaves_a_broken_model(trained: Path, tmp_path: Path,
                                                                corpus: Path) -> None:
    """Kill `triage train` the moment it starts writing into the model folder (a temporary file
    appears, or model.joblib changes): the folder must still hold a loadable model."""
    models = copy_of(trained, tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in models.iterdir()}
    process = subprocess.Popen(
        [sys.executable, "-m", "triage", "train", "--data", str(corpus), "--models", str(models),
         "--eval", str(tmp_path / "none"), "--force", "--no-corrections"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    killed_while_writing = False
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        now = {p.name: p.stat().st_mtime_ns for p in models.iterdir() if p.exists()}
        if now.keys() - before.keys() - {"previous"} or now.get("model.joblib") != before["model.joblib"]:
            os.kill(process.pid, signal.SIGKILL)
            killed_while_writing = True
            break
        time.sleep(0.0005)
    process.wait()
    assert killed_while_writing, "train finished before it was caught writing"
    assert (models / "model.joblib").stat().st_size > 0
    load_model(models)  # the previous model, whole, and matching its card


CONFIG = """
[[accounts]]
name = "work"
host = "127.0.0.1"
security = "plain"
username = "me"
password_env = "TRIAGE_UNSET_FOR_THIS_TEST"

[me]
name = "Dana Smith"
email = "dana@example.com"

[state]
dir = "{state}"
{paths}
"""


def test_personal_corrections_never_go_into_the_shipped_model(tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    from triage.cli import EXIT_USAGE, main
    from triage.ledger import corrections_dir
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(state=tmp_path / "state", paths=""))
    store = corrections_dir(tmp_path / "state", "work") / "mass"
    store.mkdir(parents=True)
    (store / "x.eml").write_bytes(b"Subject: private\r\n\r\nmy own mail")
    shipped = ROOT / "models"
    before = (shipped / "model_card.json").read_bytes()
    assert main(["train", "--config", str(config), "--models", str(shipped)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"triage: error: {shipped} holds the shipped model, which never includes personal "
        "corrections: pass --no-corrections (`make shipped-model`), or leave out --models to train "
        "your own model\n")
    assert (shipped / "model_card.json").read_bytes() == before


def test_doctor_says_which_model_and_fails_without_one(tmp_path: Path, capsys, monkeypatch) -> None:
    from triage.cli import EXIT_MODEL, main
    monkeypatch.delenv("TRIAGE_UNSET_FOR_THIS_TEST", raising=False)
    config = tmp_path / "c.toml"
    empty = tmp_path / "empty"
    config.write_text(CONFIG.format(state=tmp_path / "state",
                                    paths=f'[paths]\nmodels = "{empty}"'))
    assert main(["doctor", "--config", str(config)]) == EXIT_MODEL
    out = capsys.readouterr().out
    assert (f"FAIL model: no model in {empty}: run `triage train` (set by [paths] models in the "
            "config)\n") in out
    config.write_text(CONFIG.format(state=tmp_path / "state", paths=""))
    main(["doctor", "--config", str(config)])
    assert f"ok   model: {ROOT / 'models'}: the shipped model: there is no model of yours in " \
        in capsys.readouterr().out
