"""The run loop against the in-memory fake mailbox: order, idempotence, isolation, retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import FakeMailbox
from triage.classifier import Prediction
from triage.config import parse_config
from triage.ledger import Ledger
from triage.mailbox import AuthError
from triage.runner import RunOptions, Runner


class KeywordModel:
    """Labels by a word in the subject, so tests control the label exactly."""

    def predict(self, messages):
        out = []
        for m in messages:
            label = next((w for w in ("targeted", "referral", "mass") if w in m.subject), "other")
            if "explode" in m.subject:
                raise RuntimeError("model failure")
            out.append(Prediction(label, label, 0.9, {label: 0.9}))
        return out


def mail(n: int, subject: str, extra: str = "") -> bytes:
    return (f"From: Recruiter {n} <r{n}@agency.example.org>\r\nTo: Dana <dana@example.com>\r\n"
            f"Subject: {subject} {n}\r\nMessage-ID: <m{n}@agency.example.org>\r\n{extra}\r\n"
            f"Hello Dana, a role for you.\r\n").encode()


@pytest.fixture
def config(tmp_path: Path):
    return parse_config({"accounts": [{"name": "t", "host": "127.0.0.1", "security": "plain",
                                       "username": "u", "password_env": "X"}],
                         "me": {"name": "Dana Smith", "email": "dana@example.com"},
                         "state": {"dir": str(tmp_path / "state")}}, tmp_path / "c.toml")


def runner(config, box: FakeMailbox, ledger: Ledger, **options) -> Runner:
    return Runner(config, config.accounts[0], KeywordModel(), ledger, lambda: box,
                  RunOptions(backoff_seconds=0, **options))


def test_each_label_gets_its_keyword_and_targeted_a_draft(config, tmp_path) -> None:
    box = FakeMailbox()
    for n, subject in enumerate(["targeted", "referral", "mass", "other"]):
        box.deliver(mail(n, subject))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
        assert tally.processed == 4 and tally.drafts == 1
        assert ledger.watermark("INBOX", 1000) == 4
    inbox = box.folders["INBOX"].flags
    assert [sorted(inbox[u]) for u in (1, 2, 3, 4)] == [
        ["triage-targeted"], ["triage-referral"], ["triage-mass"], ["triage-other"]]
    assert len(box.folders["Drafts"].messages) == 1


def test_one_store_per_label_per_batch(config, tmp_path) -> None:
    box = FakeMailbox()
    for n in range(10):
        box.deliver(mail(n, "mass" if n % 2 else "other"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
    assert box.calls.count("store") == 2


def test_a_model_failure_on_one_message_is_isolated(config, tmp_path) -> None:
    box = FakeMailbox()
    box.deliver(mail(1, "other"))
    box.deliver(mail(2, "explode"))
    box.deliver(mail(3, "mass"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
        assert tally.failed == 1 and tally.processed == 2
        assert ledger.watermark("INBOX", 1000) == 1, "a failed message holds the watermark"
        assert ledger.settled_uids("INBOX", 1000) == {1, 3}
        for _ in range(2):  # retried on later runs, then given up
            runner(config, box, ledger).run()
        assert ledger.watermark("INBOX", 1000) == 3
        assert ledger.count("gave-up") == 1
    assert box.folders["INBOX"].flags[2] == set()


def test_a_transient_error_is_retried_on_a_new_connection(config, tmp_path) -> None:
    box = FakeMailbox()
    box.deliver(mail(1, "targeted"))
    box.fail_on.add("store")
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
        assert ledger.count("done") == 1
    assert tally.processed == 1
    assert len(box.folders["Drafts"].messages) == 1, "the retry found the draft, made no second"
    assert box.calls.count("close") == 2


def test_authentication_failures_are_not_retried(config, tmp_path) -> None:
    attempts = []

    def refuse():
        attempts.append(1)
        raise AuthError("refused")

    with Ledger(tmp_path / "l.sqlite") as ledger:
        with pytest.raises(AuthError):
            Runner(config, config.accounts[0], KeywordModel(), ledger, refuse).run()
    assert len(attempts) == 1


def test_a_deleted_draft_is_not_recreated(config, tmp_path) -> None:
    box = FakeMailbox()
    box.deliver(mail(1, "targeted"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
        box.folders["Drafts"].messages.clear()
        box.folders["INBOX"].flags[1].clear()  # even if the keyword is gone too
        box.folders["INBOX"].uidvalidity = 1001  # and the UIDs were renumbered
        runner(config, box, ledger).run()
    assert box.folders["Drafts"].messages == {}


def test_moves_when_configured(config, tmp_path) -> None:
    config = parse_config({"accounts": [{"name": "t", "host": "127.0.0.1", "security": "plain",
                                         "username": "u", "password_env": "X"}],
                           "me": {"name": "D", "email": "dana@example.com"},
                           "labels": {"mass": {"move_to": "Bulk"}},
                           "state": {"dir": str(tmp_path)}}, tmp_path / "c.toml")
    box = FakeMailbox()
    box.folders["Bulk"] = box.folders["INBOX"].__class__(3000)
    box.deliver(mail(1, "mass"))
    box.deliver(mail(2, "other"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
    assert list(box.folders["INBOX"].messages) == [2]
    assert box.folders["Bulk"].flags[1] == {"triage-mass"}


def test_dry_run_touches_nothing_and_prints_the_plan_a_real_run_carries_out(
        config, tmp_path, caplog) -> None:
    box = FakeMailbox()
    for n, subject in enumerate(["targeted", "mass", "other"], start=1):
        box.deliver(mail(n, subject))
    lines: list[str] = []
    with Ledger(tmp_path / "l.sqlite") as ledger:
        Runner(config, config.accounts[0], KeywordModel(), ledger, lambda: box,
               RunOptions(dry_run=True), lines.append).run()
        assert ledger.count() == 0
    assert all(box.folders["INBOX"].flags[u] == set() for u in (1, 2, 3))
    assert box.folders["Drafts"].messages == {}
    assert lines[0] == ("would: INBOX UID 1: targeted (0.90) 'targeted 1'; draft a reply to "
                        "r1@agency.example.org; add keyword triage-targeted")
    with caplog.at_level("INFO", logger="triage.runner"), Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
    done = [r.getMessage() for r in caplog.records if r.name == "triage.runner" and " UID " in r.getMessage()]
    assert ["would: " + line for line in done] == lines, "dry run and real run share one plan"
    assert sorted(box.folders["INBOX"].flags[1]) == ["triage-targeted"]


def test_no_draft_for_bulk_or_answered_mail(config, tmp_path) -> None:
    box = FakeMailbox()
    box.deliver(mail(1, "targeted", "Precedence: bulk\r\n"))
    box.deliver(mail(2, "targeted"), flags=("\\Answered",))
    box.deliver(mail(3, "targeted", "Auto-Submitted: auto-generated\r\n"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
        notes = {d.uid: d.note for d in ledger.decisions()}
    assert box.folders["Drafts"].messages == {}
    assert notes == {1: "no draft: Precedence: bulk", 2: "no draft: already answered",
                     3: "no draft: Auto-Submitted: auto-generated"}


def test_no_draft_in_a_thread_the_user_already_answered(config, tmp_path) -> None:
    box = FakeMailbox()
    box.folders["Sent"] = box.folders["INBOX"].__class__(4000)
    box.deliver(b"From: Dana <dana@example.com>\r\nMessage-ID: <mine@example.com>\r\n\r\nThanks!\r\n",
                "Sent")
    box.deliver(mail(1, "targeted", "In-Reply-To: <mine@example.com>\r\n"))
    box.deliver(mail(2, "targeted", "In-Reply-To: <someone-else@example.org>\r\n"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
        notes = {d.uid: d.note for d in ledger.decisions()}
    assert notes[1] == "no draft: thread already answered"
    assert notes[2].startswith("draft added")
    assert len(box.folders["Drafts"].messages) == 1


def test_a_keyword_the_server_refuses_fails_only_its_messages(config, tmp_path) -> None:
    from triage.mailstore import ProtocolError

    class Refusing(FakeMailbox):
        def add_keyword(self, uids, keyword):
            if keyword == "triage-mass":
                raise ProtocolError("storing keyword triage-mass: the server said BAD flag")
            super().add_keyword(uids, keyword)

    box = Refusing()
    for n, subject in enumerate(["mass", "other", "mass", "referral"], start=1):
        box.deliver(mail(n, subject))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
        assert (tally.processed, tally.failed) == (2, 2)
        status = {d.uid: d.status for d in ledger.decisions()}
    assert status == {1: "failed", 2: "done", 3: "failed", 4: "done"}
    assert box.folders["INBOX"].flags[2] == {"triage-other"}
    assert box.folders["INBOX"].flags[4] == {"triage-referral"}


def test_a_uidvalidity_change_inside_a_run_stops_acting_on_that_folder(config, tmp_path) -> None:
    class Renumbering(FakeMailbox):
        """The folder is recreated while triage is in Drafts: same names, new numbering."""

        def append_draft(self, folder, raw, keyword=None):
            uid = super().append_draft(folder, raw, keyword)
            self.folders["INBOX"].uidvalidity += 1
            return uid

    box = Renumbering()
    box.deliver(mail(1, "targeted"))
    box.deliver(mail(2, "other"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
        assert ledger.decisions() == [], "nothing recorded against the old numbering"
    assert tally.skipped_folders == ["INBOX"] and "not processed this run: INBOX" in tally.line()
    assert all(not flags for flags in box.folders["INBOX"].flags.values()), "no STORE"
