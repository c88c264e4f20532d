"""A built wheel works outside the checkout: shipped model and corpus are package data, and
`triage train` writes the user's model to the user data folder, never into site-packages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "mail"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fresh venv holding only the wheel; the dependencies come from this test venv."""
    tmp = tmp_path_factory.mktemp("install")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "--disable-pip-version-check", "-w", str(tmp / "dist"), str(ROOT)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp / "dist").glob("triage-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "--no-deps", "--quiet", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    # the dependencies (not triage: an editable install's hook is not run from a .pth path)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    home = tmp / "home"
    home.mkdir()
    return {"venv": venv, "site": site, "home": home, "work": tmp}


def triage(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    home = installed["home"]
    env = {"PATH": f"{installed['venv'] / 'bin'}:/usr/bin:/bin", "HOME": str(home),
           "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_STATE_HOME": str(home / "state"), "PYTHONNOUSERSITE": "1", "LANG": "C.UTF-8"}
    return subprocess.run([str(installed["venv"] / "bin" / "triage"), *args], capture_output=True,
                          text=True, cwd=home, env=env, timeout=600)


def files_under(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()
            and "__pycache__" not in p.parts}


def test_the_wheel_runs_init_classify_and_train_without_a_checkout(installed) -> None:
    home, site = installed["home"], installed["site"]
    where = subprocess.run([str(installed["venv"] / "bin" / "python"), "-c",
                            "import triage; print(triage.__file__)"], capture_output=True, text=True,
                           cwd=home, check=True).stdout
    assert where.startswith(str(site)), where  # the installed copy, not the checkout
    packaged = site / "triage"
    assert (packaged / "models" / "model.joblib").is_file()
    source = ROOT / "triage" / "templates"
    assert sorted(str(p.relative_to(source)) for p in source.rglob("*.j2")) == \
        sorted(str(p.relative_to(packaged / "templates")) for p in (packaged / "templates").rglob("*.j2"))
    assert len(list((packaged / "training_data").rglob("*.eml"))) == len(
        list((ROOT / "training_data").rglob("*.eml")))

    done = triage(installed, "init")
    assert done.returncode == 0, done.stderr
    assert (home / "config" / "triage" / "config.toml").is_file()

    mail = home / "mail"
    mail.mkdir()
    for path in sorted(DEMO.glob("*.eml")):
        shutil.copy(path, mail / path.name)
    done = triage(installed, "classify", "--json", str(mail))
    assert done.returncode == 0, done.stderr
    shipped = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(shipped) == len(list(DEMO.glob("*.eml")))

    before = files_under(installed["venv"])
    done = triage(installed, "train", "--no-corrections")
    assert done.returncode == 0, done.stderr
    mine = home / "data" / "triage" / "models"
    assert (mine / "model.joblib").is_file() and (mine / "report.md").is_file()
    assert files_under(installed["venv"]) == before  # nothing written into the install
    assert f"the model in use is {mine}: your model" in done.stdout

    done = triage(installed, "classify", "--json", str(mail))
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["label"] for line in done.stdout.splitlines()] == \
        [line["label"] for line in shipped]  # same corpus, same deterministic model

    with open(mine / "model.joblib", "ab") as handle:  # classify now uses the user's model:
        handle.write(b"\0")                            # damaging it must make classify fail
    done = triage(installed, "classify", str(mail))
    assert done.returncode == 6
    assert done.stderr == (f"triage: error: {mine / 'model.joblib'} does not match the SHA-256 in "
                           f"{mine / 'model_card.json'}: it was changed after training; run `triage "
                           "train` (or `triage train --rollback`)\n")
