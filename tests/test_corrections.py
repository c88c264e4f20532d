"""Corrections take effect at once (in-memory mailbox): markers, thread inheritance, forgetting."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import FakeMailbox
from test_runner import KeywordModel, mail
from triage.cli import main
from triage.config import parse_config
from triage.correct import THREAD_NOTE, inherited_label, plan_correction
from triage.learn import CorrectionStore, Harvester, correction_key, create_correction_folders
from triage.ledger import Ledger, corrections_dir
from triage.message import parse_message
from triage.plan import Label, Move, Unlabel
from triage.runner import RunOptions, Runner


def make_config(tmp_path: Path, labels: dict | None = None):
    path = tmp_path / "c.toml"
    path.write_text(f'[[accounts]]\nname = "t"\nhost = "127.0.0.1"\nsecurity = "plain"\n'
                    f'username = "u"\npassword_env = "X"\n\n[me]\nname = "Dana Smith"\n'
                    f'email = "dana@example.com"\n\n[state]\ndir = "{tmp_path / "state"}"\n')
    return path, parse_config({"accounts": [{"name": "t", "host": "127.0.0.1", "security": "plain",
                                             "username": "u", "password_env": "X"}],
                               "me": {"name": "Dana Smith", "email": "dana@example.com"},
                               "labels": labels or {},
                               "state": {"dir": str(tmp_path / "state")}}, path)


@pytest.fixture
def setup(tmp_path: Path):
    path, config = make_config(tmp_path)
    box = FakeMailbox()
    create_correction_folders(box, config.accounts[0])
    ledger = Ledger(tmp_path / "state" / "t.sqlite")
    yield path, config, box, ledger
    ledger.close()


def run(config, box, ledger) -> Runner:
    runner = Runner(config, config.accounts[0], KeywordModel(), ledger, lambda: box,
                    RunOptions(backoff_seconds=0))
    runner.run()
    return runner


def test_a_correction_plan_swaps_triage_keywords_and_keeps_the_users_own(tmp_path) -> None:
    _, config = make_config(tmp_path, {"targeted": {"move_to": "Recruiting"}})
    flags = ("\\Seen", "triage-mass", "triage-unsure", "$Important")
    assert plan_correction(7, "targeted", flags, "INBOX", config, True) == (
        Unlabel(7, "triage-mass"), Unlabel(7, "triage-unsure"), Label(7, "triage-targeted"),
        Move(7, "Recruiting"))
    assert plan_correction(7, "targeted", ("triage-targeted",), "Recruiting", config, True) == ()
    assert plan_correction(7, "other", ("triage-mass",), "INBOX", config, False) == (), \
        "a folder without keywords gets no keyword changes"


def test_moving_a_message_into_a_correction_folder_relabels_it_and_its_thread(setup) -> None:
    _, config, box, ledger = setup
    box.deliver(mail(1, "mass"))
    run(config, box, ledger)
    box.select("INBOX")
    box.move([1], "Triage/targeted")  # the user's correction

    runner = run(config, box, ledger)
    assert runner.tally.corrections == 1
    moved = box.folders["Triage/targeted"]
    assert [sorted(f) for f in moved.flags.values()] == [["triage-targeted"]]
    assert ledger.corrected_labels(["mid:<m1@agency.example.org>"]) == {
        "mid:<m1@agency.example.org>": "targeted"}

    box.deliver(mail(2, "a follow-up, other by its words",
                     "In-Reply-To: <m1@agency.example.org>\r\n"))
    box.deliver(mail(3, "a stranger's other", "In-Reply-To: <nobody@example.org>\r\n"))
    runner = run(config, box, ledger)
    decisions = {d.uid: d for d in ledger.decisions() if d.folder == "INBOX"}
    assert decisions[2].label == "targeted" and decisions[2].note.startswith(THREAD_NOTE)
    assert decisions[3].label == "other", "only threads the user corrected inherit"
    assert "triage-targeted" in box.folders["INBOX"].flags[2]

    stores = box.calls.count("store")
    run(config, box, ledger)
    assert box.calls.count("store") == stores, "a second run changes nothing"


def test_a_changed_keyword_loses_the_old_triage_keyword_and_is_learned_once(setup) -> None:
    _, config, box, ledger = setup
    box.deliver(mail(1, "mass"))
    run(config, box, ledger)
    box.folders["INBOX"].flags[1].add("triage-referral")  # a client that only adds a keyword
    assert run(config, box, ledger).tally.corrections == 1
    assert box.folders["INBOX"].flags[1] == {"triage-referral"}
    assert run(config, box, ledger).tally.corrections == 0


def test_forget_undoes_a_correction_for_good(setup, capsys) -> None:
    path, config, box, ledger = setup
    box.deliver(mail(1, "mass"))
    run(config, box, ledger)
    box.folders["INBOX"].flags[1] = {"triage-other"}
    run(config, box, ledger)
    stored = CorrectionStore(corrections_dir(config.state_dir, "t"))
    assert stored.counts() == {"other": 1}

    assert main(["learn", "--config", str(path), "--list"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("<m1@agency.example.org>")
    assert main(["learn", "--config", str(path), "--forget", "m1@agency.example.org"]) == 0
    assert "forgot the correction" in capsys.readouterr().out
    assert stored.counts() == {"other": 0} and ledger.corrections() == []
    found = Harvester(config, config.accounts[0], box, ledger, stored).harvest(keyword_days=None)
    assert found.count == 0, "the unchanged keyword does not teach it again"

    assert main(["learn", "--config", str(path), "--forget", "<a@b> <c@d>"]) == 2
    assert "is not a Message-ID" in capsys.readouterr().err


@pytest.mark.parametrize("header", [
    "In-Reply-To: <x'); DROP TABLE corrections;--@evil.example>\r\n",
    "References: " + " ".join(f"<r{i}@spam.example>" for i in range(3000)) + "\r\n",
    "In-Reply-To: not an id at all\r\nReferences: <<<>>>\r\n",
])
def test_hostile_thread_headers_neither_break_nor_borrow_a_label(setup, header) -> None:
    _, config, box, ledger = setup
    box.deliver(mail(1, "mass"))
    run(config, box, ledger)
    box.folders["INBOX"].flags[1] = {"triage-targeted"}
    run(config, box, ledger)
    box.deliver(mail(2, "other", header))
    run(config, box, ledger)
    assert {d.uid: d.label for d in ledger.decisions()}[2] == "other"
    assert len(ledger.corrections()) == 1


def test_inheritance_takes_the_nearest_corrected_ancestor() -> None:
    reply = parse_message(b"Message-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\nReferences: <a@x> <b@x>\r\n"
                          b"Subject: re\r\n\r\nok\r\n")
    assert inherited_label(reply, {"mid:<a@x>": "mass", "mid:<b@x>": "referral"}) == "referral"
    assert inherited_label(reply, {"mid:<a@x>": "mass"}) == "mass"
    assert inherited_label(reply, {}) is None


def test_correction_keys_accept_only_one_well_formed_id() -> None:
    assert correction_key("<a@b.example>") == "mid:<a@b.example>"
    assert correction_key(" a@b.example ") == "mid:<a@b.example>"
    assert correction_key("sha:" + "0" * 32) == "sha:" + "0" * 32
    for bad in ("", "<a@b> x", "a b@c", "sha:xyz", "<a@b><c@d>"):
        assert correction_key(bad) is None, bad

