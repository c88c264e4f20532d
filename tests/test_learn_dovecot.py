"""Corrections against a real Dovecot: moving a message or changing its keyword teaches triage."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

from conftest import Account
from test_training import small_corpus
from triage.cli import main

LABELS = ("targeted", "referral", "mass", "other")


def ledger_rows(account: Account, sql: str) -> list[tuple]:
    with sqlite3.connect(account.tmp / "state" / "test.sqlite") as db:
        return list(db.execute(sql))


def store(account: Account) -> dict[str, list[bytes]]:
    root = account.tmp / "state" / "test.corrections"
    return {label: [p.read_bytes() for p in sorted((root / label).glob("*.eml"))]
            for label in LABELS if (root / label).is_dir()}


def uid_of(account: Account, folder: str, message_id: str) -> int:
    with account.client() as c:
        c.select_folder(folder, readonly=True)
        (uid,) = c.search(["HEADER", "Message-ID", message_id])
    return uid


def test_moving_or_relabelling_a_message_teaches_triage(dovecot_account: Account, samples,
                                                        capsys) -> None:
    account = dovecot_account
    mail = {label: samples[label][20:23] for label in LABELS}
    account.append([raw for label in LABELS for raw in mail[label]])
    config = str(account.config())

    assert main(["learn", "--config", config, "--create-folders"]) == 0
    out = capsys.readouterr().out
    assert all(f"created Triage/{label}" in out for label in LABELS), out
    assert main(["run", "--config", config]) == 0
    assert "12 new" in capsys.readouterr().out

    decided = dict(ledger_rows(account, "SELECT message_id, label FROM messages"))
    moved_id, moved_label = next((m, l) for m, l in decided.items() if l == "targeted")
    relabelled_id, relabelled_label = next((m, l) for m, l in decided.items() if l == "mass")
    moved_raw = account.fetch_all("INBOX")[uid_of(account, "INBOX", moved_id)]

    with account.client() as c:  # what a mail client does when the user corrects triage
        c.select_folder("INBOX")
        c.move([uid_of(account, "INBOX", moved_id)], "Triage/other")
        uid = c.search(["HEADER", "Message-ID", relabelled_id])
        c.remove_flags(uid, ["triage-mass"])
        c.add_flags(uid, ["triage-referral"])

    assert main(["run", "--config", config]) == 0
    assert "2 corrections learned" in capsys.readouterr().out
    kept = store(account)
    assert kept.get("other") == [moved_raw], "the moved message is kept, byte for byte"
    assert len(kept.get("referral", [])) == 1 and relabelled_id.encode() in kept["referral"][0]
    rows = ledger_rows(account, "SELECT label, predicted, source FROM corrections ORDER BY label")
    assert [(r[0], r[1]) for r in rows] == [("other", moved_label), ("referral", relabelled_label)]
    root = account.tmp / "state" / "test.corrections"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in root.rglob("*.eml"))
    assert "\\Seen" not in account.flags("Triage/other")[1], "harvesting only peeks"

    assert main(["learn", "--config", config]) == 0
    assert "0 corrections learned" in capsys.readouterr().out, "nothing is learned twice"

    with account.client() as c:  # the user changes their mind: the latest correction wins
        c.select_folder("Triage/other")
        c.move([uid_of(account, "Triage/other", moved_id)], "Triage/referral")
    assert main(["learn", "--config", config]) == 0
    assert "1 corrections learned (1 referral); 2 in the store" in capsys.readouterr().out
    kept = store(account)
    assert kept.get("other") == [] and moved_raw in kept["referral"]

    assert main(["learn", "--config", config, "--list"]) == 0
    listing = capsys.readouterr().out
    assert [line.split()[3] for line in listing.splitlines()] == ["referral", "referral"]
    assert f"triage said {moved_label}" in listing and "[moved to Triage/referral]" in listing


def test_training_includes_the_corrections_of_every_account(dovecot_account: Account, tmp_path,
                                                            samples, capsys) -> None:
    account = dovecot_account
    config = account.config()
    corrections = account.tmp / "state" / "test.corrections" / "other"
    corrections.mkdir(parents=True)
    for i, raw in enumerate(samples["targeted"][-6:]):  # the user says: not recruiting, to me
        (corrections / f"c{i}.eml").write_bytes(raw)
    corpus = small_corpus(tmp_path, 20)
    models = tmp_path / "models"
    args = ["train", "--data", str(corpus), "--models", str(models), "--eval", str(tmp_path / "none")]

    assert main([*args, "--config", str(config), "--force"]) == 0
    assert "(6 of them yours)" in capsys.readouterr().out
    card = json.loads((models / "model_card.json").read_text())
    counts = card["counts"]["other"]
    assert counts["train"] + counts["held_out"] == 20 + 6 and card["extra_examples"] == 6

    assert main([*args, "--config", str(config), "--no-corrections", "--force"]) == 0
    card = json.loads((models / "model_card.json").read_text())
    assert "extra_examples" not in card
    assert card["counts"]["other"]["train"] + card["counts"]["other"]["held_out"] == 20


def test_a_poll_searches_only_keywords_changed_since_the_last_harvest(dovecot_account: Account,
                                                                       samples, capsys,
                                                                       monkeypatch) -> None:
    """CONDSTORE: an unchanged folder costs no keyword SEARCH; a changed one costs searches
    that return only the messages whose flags changed (not every labelled message)."""
    from triage.mailbox import Mailbox
    account = dovecot_account
    account.append([raw for label in LABELS for raw in samples[label][30:33]])
    config = str(account.config())
    assert main(["run", "--config", config]) == 0
    capsys.readouterr()
    (modseq,) = ledger_rows(account, "SELECT value FROM meta WHERE key LIKE 'modseq:%:INBOX'")[0]
    assert int(modseq) > 0, "Dovecot reports HIGHESTMODSEQ once CONDSTORE is enabled"

    searched: list[tuple[str, int, int]] = []
    real = Mailbox.keyword_uids

    def spy(self: Mailbox, keyword: str, since=None, changed_since: int = 0) -> list[int]:
        found = real(self, keyword, since, changed_since)
        searched.append((keyword, changed_since, len(found)))
        return found

    monkeypatch.setattr(Mailbox, "keyword_uids", spy)
    assert main(["run", "--config", config]) == 0
    assert searched == [], "nothing changed: no keyword search at all"

    decided = dict(ledger_rows(account, "SELECT message_id, label FROM messages"))
    relabelled = next(m for m, label in decided.items() if label == "mass")
    with account.client() as c:
        c.select_folder("INBOX")
        uid = c.search(["HEADER", "Message-ID", relabelled])
        c.remove_flags(uid, ["triage-mass"])
        c.add_flags(uid, ["triage-other"])
    assert main(["run", "--config", config]) == 0
    assert "1 corrections learned" in capsys.readouterr().out
    assert searched and all(since == int(modseq) for _, since, _ in searched), searched
    assert sum(found for _, _, found in searched) == 1, "only the relabelled message comes back"
