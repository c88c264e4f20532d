"""Drafts that waited for a Drafts folder: never lost, never stopping the run (review findings)."""

from __future__ import annotations

import pytest

from fakes import FakeFolder, FakeMailbox
from test_runner import KeywordModel, mail, runner
from triage.runner import RunOptions, Runner
from triage.config import parse_config
from triage.ledger import Ledger
from triage.mailstore import ProtocolError


def _config(tmp_path, labels=None, folders=("INBOX",)):
    return parse_config({"accounts": [{"name": "t", "host": "127.0.0.1", "security": "plain",
                                       "username": "u", "password_env": "X",
                                       "folders": list(folders)}],
                         "me": {"name": "Dana Smith", "email": "dana@example.com"},
                         "labels": labels or {},
                         "state": {"dir": str(tmp_path / "state")}}, tmp_path / "c.toml")


def test_a_pending_draft_of_a_moved_message_is_made_once_drafts_exists(tmp_path) -> None:
    config = _config(tmp_path, {"targeted": {"move_to": "Recruiting"}})
    box = FakeMailbox(special_drafts=False)
    del box.folders["Drafts"]
    box.folders["Recruiting"] = FakeFolder(3000)
    box.deliver(mail(1, "targeted"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        first = runner(config, box, ledger).run()
        assert first.pending_drafts == 1
        box.folders["Drafts"] = FakeFolder(2000)  # the user creates it
        second = runner(config, box, ledger).run()
        assert second.drafts == 1
        assert len(box.folders["Drafts"].messages) == 1
        assert ledger.pending_drafts("INBOX", 1000) == {}
    # the label's move still happens, after the draft
    assert list(box.folders["Recruiting"].messages) and not box.folders["INBOX"].messages


def test_a_refused_append_of_a_pending_draft_does_not_stop_the_run(tmp_path, monkeypatch) -> None:
    config = _config(tmp_path, folders=("INBOX", "Other"))
    box = FakeMailbox(special_drafts=False)
    del box.folders["Drafts"]
    box.folders["Other"] = FakeFolder(4000)
    box.deliver(mail(1, "targeted"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
        box.folders["Drafts"] = FakeFolder(2000)
        box.deliver(mail(2, "mass"), "Other")

        def refuse(folder, raw, keyword=None):
            raise ProtocolError("APPEND refused: NO [OVERQUOTA] (injected)")

        monkeypatch.setattr(box, "append_draft", refuse)
        tally = runner(config, box, ledger).run()  # must not raise
        assert tally.labels["mass"] == 1  # the next folder was still processed
        assert ledger.pending_drafts("INBOX", 1000) == {1: "targeted"}  # kept for the next run


def test_a_dry_run_looks_at_every_batch_in_its_own_folder(tmp_path) -> None:
    """The Sent look-up of a reply must not leave the next batch fetching from Sent."""
    config = parse_config({"accounts": [{"name": "t", "host": "127.0.0.1", "security": "plain",
                                         "username": "u", "password_env": "X", "batch_size": 1}],
                           "me": {"name": "Dana Smith", "email": "dana@example.com"},
                           "state": {"dir": str(tmp_path / "state")}}, tmp_path / "c.toml")
    box = FakeMailbox()
    box.folders["Sent"] = FakeFolder(4000)
    box.deliver(mail(1, "targeted", "In-Reply-To: <someone@example.org>\r\n"))
    box.deliver(mail(2, "mass"))
    box.deliver(mail(3, "other"))
    lines: list[str] = []
    with Ledger(tmp_path / "l.sqlite") as ledger:
        Runner(config, config.accounts[0], KeywordModel(), ledger, lambda: box,
               RunOptions(dry_run=True), lines.append).run()
    assert [line.split(":")[1].strip() for line in lines] == ["INBOX UID 1", "INBOX UID 2",
                                                              "INBOX UID 3"]


def test_a_message_the_server_never_returns_is_reported_and_does_not_hold_the_watermark(
        tmp_path, monkeypatch) -> None:
    config = _config(tmp_path)
    box = FakeMailbox()
    for n, subject in enumerate(["other", "mass", "other"], start=1):
        box.deliver(mail(n, subject))
    real_fetch = box.fetch
    monkeypatch.setattr(box, "fetch", lambda uids, max_bytes: [
        e for e in real_fetch(uids, max_bytes) if e.uid != 2])  # the server answers without it
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tallies = [runner(config, box, ledger).run() for _ in range(3)]
        assert tallies[0].failed == 1  # told, not silent
        assert ledger.watermark("INBOX", 1000) == 3  # after its last retry the rest moves on


@pytest.mark.parametrize("header", [b"Message-ID: =?utf-8?q?=3Cm2=40agency=2Eexample=2Eorg=3E?=",
                                    b"Message-ID: <m2\xe9@agency.example.org>"])
def test_an_odd_message_id_does_not_look_like_renumbering_every_run(tmp_path, caplog,
                                                                    header) -> None:
    """RFC 2047 forbids encoded words in a msg-id; one hostile message must not make every run
    retire the folder's UIDs and re-fetch it whole."""
    config = _config(tmp_path)
    box = FakeMailbox()
    box.deliver(mail(1, "other"))
    box.deliver(mail(2, "mass").replace(b"Message-ID: <m2@agency.example.org>",
                                        header))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
        box.calls.clear()
        with caplog.at_level("WARNING"):
            again = runner(config, box, ledger).run()
        assert "renumbered" not in caplog.text
        assert "fetch" not in box.calls and again.recognised == 0


def test_a_pending_draft_is_not_made_for_mail_answered_meanwhile(tmp_path) -> None:
    config = _config(tmp_path)
    box = FakeMailbox(special_drafts=False)
    del box.folders["Drafts"]
    box.deliver(mail(1, "targeted"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert runner(config, box, ledger).run().pending_drafts == 1
        box.folders["INBOX"].flags[1].add("\\Answered")  # the user replied by hand
        box.folders["Drafts"] = FakeFolder(2000)
        runner(config, box, ledger).run()
        assert ledger.pending_drafts("INBOX", 1000) == {}
    assert box.folders["Drafts"].messages == {}


def test_a_pending_draft_follows_the_users_correction(tmp_path) -> None:
    """Corrected to mass while its draft waited: no reply draft to a mass mailer."""
    config = _config(tmp_path)
    box = FakeMailbox(special_drafts=False)
    del box.folders["Drafts"]
    box.deliver(mail(1, "targeted"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert runner(config, box, ledger).run().pending_drafts == 1
        box.folders["INBOX"].flags[1] = {"triage-mass"}  # the user relabels it
        assert runner(config, box, ledger).run().corrections == 1
        box.folders["Drafts"] = FakeFolder(2000)
        runner(config, box, ledger).run()
        assert ledger.pending_drafts("INBOX", 1000) == {}
    assert box.folders["Drafts"].messages == {}


def test_a_pending_draft_never_goes_to_the_message_that_took_its_uid(tmp_path) -> None:
    """UIDs renumbered under the same UIDVALIDITY while a draft waited: UID 1 is now another
    sender's message, which must not get the reply meant for the first."""
    config = _config(tmp_path)
    box = FakeMailbox(special_drafts=False)
    del box.folders["Drafts"]
    first = mail(1, "targeted")
    box.deliver(first)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert runner(config, box, ledger).run().pending_drafts == 1
        inbox = box.folders["INBOX"]
        inbox.messages.clear()
        inbox.flags.clear()
        inbox.next_uid = 1  # the server rebuilt its UID list, same UIDVALIDITY
        box.deliver(mail(7, "mass").replace(b"agency.example.org>\r\nTo", b"other.example>\r\nTo"))
        box.deliver(first)
        box.folders["Drafts"] = FakeFolder(2000)
        runner(config, box, ledger).run()
    drafts = list(box.folders["Drafts"].messages.values())
    assert not any(b"r7@" in d.split(b"\r\n\r\n")[0] for d in drafts)
    assert [b"<r1@agency.example.org>" in d.split(b"\r\n\r\n")[0] for d in drafts] == [True]


def test_a_pending_draft_survives_a_uidvalidity_change(tmp_path) -> None:
    config = _config(tmp_path)
    box = FakeMailbox(special_drafts=False)
    del box.folders["Drafts"]
    box.deliver(mail(1, "targeted"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert runner(config, box, ledger).run().pending_drafts == 1
        box.folders["INBOX"].uidvalidity = 1001
        box.folders["Drafts"] = FakeFolder(2000)
        runner(config, box, ledger).run()
        runner(config, box, ledger).run()
        assert ledger.pending_drafts("INBOX", 1000) == ledger.pending_drafts("INBOX", 1001) == {}
    assert len(box.folders["Drafts"].messages) == 1


def test_a_message_expunged_between_search_and_fetch_is_no_failure(tmp_path, monkeypatch) -> None:
    config = _config(tmp_path)
    box = FakeMailbox()
    for n in (1, 2, 3):
        box.deliver(mail(n, "other"))
    real_fetch = box.fetch

    def expunge_then_fetch(uids, max_bytes):
        box.folders["INBOX"].messages.pop(2, None)  # another client deletes it meanwhile
        return real_fetch(uids, max_bytes)

    monkeypatch.setattr(box, "fetch", expunge_then_fetch)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert runner(config, box, ledger).run().failed == 0
        runner(config, box, ledger).run()
        assert ledger.watermark("INBOX", 1000) == 3


def test_a_kill_after_the_keyword_store_does_not_lose_a_waiting_draft(tmp_path,
                                                                      monkeypatch) -> None:
    """Killed between STORE and the ledger commit: the next run recognises the message by its
    keyword, and its draft must still be made once the Drafts folder exists."""
    config = _config(tmp_path)
    box = FakeMailbox(special_drafts=False)
    del box.folders["Drafts"]
    box.deliver(mail(1, "targeted"))
    real_record = Ledger.record

    def killed(self, decision):
        raise SystemExit("killed after the STORE, before the ledger commit")

    monkeypatch.setattr(Ledger, "record", killed)
    with Ledger(tmp_path / "l.sqlite") as ledger, pytest.raises(SystemExit):
        runner(config, box, ledger).run()
    assert box.folders["INBOX"].flags[1] == {"triage-targeted"}, "the STORE happened"
    monkeypatch.setattr(Ledger, "record", real_record)
    box.create_folder("Drafts")
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
    assert tally.recognised == 1 and tally.drafts == 1
    assert len(box.folders["Drafts"].messages) == 1
