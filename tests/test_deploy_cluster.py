"""The container image definition and the Kubernetes CronJob example in contrib/.

Docker cannot run on the test machines, so the image itself is never built here. What is
checked instead: the manifest validates against the Kubernetes schemas (kubernetes-validate
ships them: no network), its parts refer to each other and to the image correctly, its
config loads with triage's own loader, and the image's wheel step, run as written, builds a
wheel that carries the package and its console script.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as k8s

from triage.cli import build_parser
from triage.config import load_config

ROOT = Path(__file__).resolve().parent.parent
CONTAINERFILE = ROOT / "contrib" / "container" / "Containerfile"
MANIFEST = ROOT / "contrib" / "kubernetes" / "triage-cronjob.yaml"


def documents() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Containerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", CONTAINERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def pod_spec() -> dict[str, Any]:
    return documents()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("version", [k8s.latest_version(), "1.29.0"])
def test_every_document_validates_against_the_kubernetes_schema(version: str) -> None:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    assert [d["kind"] for d in docs] == ["Secret", "ConfigMap", "PersistentVolumeClaim", "CronJob"]
    for doc in docs:
        k8s.validate(doc, version, strict=True)  # raises ValidationError naming the field


@pytest.mark.parametrize("field, value", [("concurencyPolicy", "Forbid"),  # a typo
                                          ("startingDeadlineSeconds", "5 minutes")])
def test_the_validator_catches_a_broken_cronjob(field: str, value: str) -> None:
    cronjob = documents()["CronJob"]
    cronjob["spec"][field] = value
    with pytest.raises(k8s.ValidationError):
        k8s.validate(cronjob, k8s.latest_version(), strict=True)


def test_cronjob_never_overlaps_and_runs_unprivileged() -> None:
    spec = documents()["CronJob"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = pod_spec()
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    [container] = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] < 15 * 60


def test_cronjob_parts_refer_to_each_other() -> None:
    docs = documents()
    pod = pod_spec()
    [container] = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volumes[mounts["/state"]]["persistentVolumeClaim"]["claimName"] == \
        docs["PersistentVolumeClaim"]["metadata"]["name"]
    assert volumes[mounts["/config"]]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    [env] = container["env"]
    ref = env["valueFrom"]["secretKeyRef"]
    assert ref["name"] == docs["Secret"]["metadata"]["name"]
    assert ref["key"] in docs["Secret"]["stringData"]


def test_the_configmap_config_loads_and_matches_the_pod(tmp_path: Path) -> None:
    config_path = tmp_path / "config.toml"
    config_path.write_text(documents()["ConfigMap"]["data"]["config.toml"])
    config = load_config(config_path)
    [container] = pod_spec()["containers"]
    [account] = config.accounts
    assert account.password_env == container["env"][0]["name"]
    assert account.security == "tls"
    assert str(config.state_dir) == "/state"
    args = build_parser().parse_args(container["args"])
    assert args.func.__name__ == "cmd_run" and str(args.config).startswith("/config/")


def test_the_image_runs_as_a_user_and_keeps_config_and_state_in_volumes() -> None:
    steps = instructions()
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
    user = [arg for op, arg in final if op == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root")
    volumes = [arg for op, arg in final if op == "VOLUME"]
    assert volumes and {"/config", "/state"} <= set(yaml.safe_load(volumes[0]))
    assert not any(op in ("ENV", "ARG") and re.search(r"PASSWORD|TOKEN|SECRET", arg, re.I)
                   for op, arg in steps)
    installs = [arg for op, arg in final if op == "RUN" and "pip install" in arg]
    assert installs and "/tmp/dist/*.whl" in installs[0]
    cmd = yaml.safe_load([arg for op, arg in final if op == "CMD"][0])
    assert build_parser().parse_args(cmd).func.__name__ == "cmd_run"


def test_the_wheel_step_as_written_builds_an_installable_wheel(tmp_path: Path) -> None:
    steps = instructions()
    [build] = [arg for op, arg in steps if op == "RUN" and "wheel" in arg]
    argv = shlex.split(build)
    assert argv[:4] == ["python", "-m", "pip", "wheel"] and argv[-1] == "."
    dist = Path(argv[argv.index("--wheel-dir") + 1])
    source = tmp_path / "src"
    ignored = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")]
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        *[p.removeprefix("**/") for p in ignored]))
    out = tmp_path / dist.name
    argv[argv.index("--wheel-dir") + 1] = str(out)
    done = subprocess.run([sys.executable, *argv[1:]], cwd=source, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    [wheel] = out.glob("triage-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "triage = triage.cli:main" in archive.read(entry_points).decode()
    assert {"triage/cli/__init__.py", "triage/cli/app.py", "triage/mailbox.py", "triage/config.sample.toml"} <= names
    assert any(n.startswith("triage/templates/") for n in names)
    assert {"triage/models/model_card.json", "triage/models/model.joblib"} <= names  # runs as is
