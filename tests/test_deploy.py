"""The deployment files in contrib/ call only commands and flags that triage has."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from triage.cli import build_parser

UNITS = sorted((Path(__file__).resolve().parent.parent / "contrib" / "systemd").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_service_exec_start_parses_with_the_real_parser(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    argv = shlex.split(parser["Service"]["ExecStart"])
    assert argv[0].endswith("/triage")
    args = build_parser().parse_args(argv[1:])  # exits (SystemExit) on an unknown flag
    assert args.func.__name__ in ("cmd_watch", "cmd_run")


def test_watch_unit_does_not_restart_after_a_refused_login() -> None:
    unit = next(u for u in UNITS if u.name == "triage-watch.service")
    text = unit.read_text()
    prevent = next(line for line in text.splitlines() if line.startswith("RestartPreventExitStatus"))
    assert "3" in prevent.split("=")[1].split(), "exit 3 (refused login) must not be retried"


def test_there_is_a_timer_for_run() -> None:
    timer = UNITS[0].parent / "triage-run.timer"
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(timer)
    assert parser["Timer"]["OnUnitActiveSec"]
