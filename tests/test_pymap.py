"""End to end against pymap: a minimal server (no SPECIAL-USE, no custom keywords, no CONDSTORE)."""

from __future__ import annotations

import logging
import sqlite3
from email import message_from_bytes
from email.policy import default

from conftest import Account
from triage.cli import main


def targeted_and_others(samples: dict[str, list[bytes]]) -> list[bytes]:
    return samples["targeted"][:3] + samples["mass"][:2] + samples["other"][:3]


def drafted_count(account: Account) -> int:
    with sqlite3.connect(account.tmp / "state" / "test.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM drafts").fetchone()[0])


def test_without_keywords_the_ledger_alone_prevents_reprocessing(pymap_account: Account, samples,
                                                                 capsys, caplog) -> None:
    pymap_account.append(targeted_and_others(samples))
    with pymap_account.client() as c:
        c.create_folder("Drafts")
    config = pymap_account.config()

    with caplog.at_level(logging.WARNING):
        assert main(["run", "--config", str(config)]) == 0
    assert "8 new" in capsys.readouterr().out
    assert sum("does not allow custom keywords" in r.getMessage() for r in caplog.records) == 1
    assert all(not any(f.startswith("triage-") for f in flags)
               for flags in pymap_account.flags().values())
    caplog.clear()

    with caplog.at_level(logging.WARNING):
        assert main(["run", "--config", str(config)]) == 0
    assert "0 new" in capsys.readouterr().out
    assert not any("custom keywords" in r.getMessage() for r in caplog.records), "said only once"
    assert all("\\Seen" not in flags for flags in pymap_account.flags().values())


def test_drafts_land_in_the_conventionally_named_folder(pymap_account: Account, samples,
                                                        capsys) -> None:
    pymap_account.append(targeted_and_others(samples))
    with pymap_account.client() as c:
        c.create_folder("Drafts")
    assert main(["run", "--config", str(pymap_account.config())]) == 0
    drafts = pymap_account.fetch_all("Drafts")
    assert len(drafts) == drafted_count(pymap_account) >= 1
    for raw in drafts.values():
        assert message_from_bytes(raw, policy=default)["Subject"].startswith("Re: ")


def test_drafts_land_in_the_configured_folder(pymap_account: Account, samples, capsys) -> None:
    pymap_account.append(targeted_and_others(samples))
    with pymap_account.client() as c:
        c.create_folder("Brouillons")
    assert main(["run", "--config", str(pymap_account.config(drafts_folder="Brouillons"))]) == 0
    assert len(pymap_account.fetch_all("Brouillons")) == drafted_count(pymap_account) >= 1


def test_a_missing_drafts_folder_loses_nothing_and_the_drafts_come_when_it_exists(
        pymap_account: Account, samples, capsys) -> None:
    pymap_account.append(samples["targeted"][:2])
    config = str(pymap_account.config())
    assert main(["run", "--config", config]) == 2, "a configuration problem: exit 2"
    captured = capsys.readouterr()
    assert "no Drafts folder" in captured.err
    assert "2 new (2 targeted" in captured.out and "0 failed" in captured.out
    assert "2 drafts wait for a Drafts folder" in captured.out
    with pymap_account.client() as c:
        assert [name for _, _, name in c.list_folders()] == ["INBOX"], "never created"
    assert main(["run", "--config", config]) == 2, "still waiting, still said"
    assert "2 drafts wait" in capsys.readouterr().out
    with pymap_account.client() as c:
        c.create_folder("Drafts")
    assert main(["run", "--config", config]) == 0
    assert "0 new" in capsys.readouterr().out
    assert len(pymap_account.fetch_all("Drafts")) == drafted_count(pymap_account) == 2
    assert main(["run", "--config", config]) == 0
    assert len(pymap_account.fetch_all("Drafts")) == 2, "made once"
