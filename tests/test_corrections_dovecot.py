"""The done-when of issue 14 against Dovecot: a correction takes effect at once, its thread
follows it before any retraining, training learns it, and the report tells drafts' fates."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from conftest import Account
from test_learn_dovecot import uid_of
from test_training import small_corpus
from triage.cli import main
from triage.ledger import DraftRecord, Ledger

DATA = Path(__file__).resolve().parent / "data" / "corrections"
ORIGINAL, PARAPHRASE, REPLY = (DATA / f"agency-roles{s}.eml" for s in ("", "-paraphrase", "-reply"))
ORIGINAL_ID, REPLY_ID = "<bp-7781@brightpath-talent.io>", "<bp-7781-2@brightpath-talent.io>"


def classify(capsys, *args: str) -> list[str]:
    assert main(["classify", *args, str(ORIGINAL), str(PARAPHRASE), str(REPLY)]) == 0
    return [line.split()[0] for line in capsys.readouterr().out.splitlines()]


def test_a_correction_takes_effect_at_once_and_training_learns_it(dovecot_account: Account,
                                                                  tmp_path, capsys) -> None:
    account = dovecot_account
    assert classify(capsys) == ["mass", "mass", "other"], "the shipped model gets them wrong"
    account.append([ORIGINAL.read_bytes()])
    config = str(account.config())
    assert main(["learn", "--config", config, "--create-folders"]) == 0
    assert main(["run", "--config", config]) == 0
    assert "triage-mass" in account.flags()[uid_of(account, "INBOX", ORIGINAL_ID)]
    capsys.readouterr()

    with account.client() as c:  # the user: "this one was meant for me"
        c.select_folder("INBOX")
        c.move([uid_of(account, "INBOX", ORIGINAL_ID)], "Triage/targeted")
    assert main(["run", "--config", config]) == 0
    assert "1 corrections learned" in capsys.readouterr().out
    assert list(account.flags("Triage/targeted").values()) == [("triage-targeted",)], \
        "the old triage keyword is gone, the corrected one is on, and nothing was marked read"
    assert main(["log", "--config", config]) == 0
    assert "corrected by you: mass → targeted" in capsys.readouterr().out

    account.append([REPLY.read_bytes()])  # later mail in the same thread, before any retraining
    assert main(["run", "--config", config]) == 0
    capsys.readouterr()
    assert "triage-targeted" in account.flags()[uid_of(account, "INBOX", REPLY_ID)]
    assert main(["log", "--config", config, "-n", "1"]) == 0
    assert "as you corrected this thread" in capsys.readouterr().out

    for _ in range(2):
        assert main(["learn", "--config", config]) == 0
        assert "0 corrections learned (none new); 1 in the store" in capsys.readouterr().out

    models = tmp_path / "models"
    assert main(["train", "--config", config, "--data", str(small_corpus(tmp_path, 60)),
                 "--models", str(models), "--eval", str(tmp_path / "none")]) == 0
    assert "(1 of them yours)" in capsys.readouterr().out
    assert classify(capsys, "--models", str(models))[:2] == ["targeted", "targeted"], \
        "the corrected message and a paraphrase of it are now targeted"


class Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, list[str]] = {}
        self.table = ""
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.table = dict(attrs).get("id") or ""
            self.cells[self.table] = []
        self.inside = tag in ("td", "th")

    def handle_endtag(self, tag: str) -> None:
        self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.table:
            self.cells[self.table].append(data)


def test_report_tells_sent_deleted_and_waiting_drafts_apart(dovecot_account: Account, samples,
                                                            tmp_path, capsys) -> None:
    account = dovecot_account
    account.append(samples["targeted"][:3])
    config = str(account.config())
    assert main(["run", "--config", config]) == 0
    drafts = account.fetch_all("Drafts")
    assert len(drafts) == 3, capsys.readouterr()
    originals = [raw.split(b"In-Reply-To: ")[1].split(b"\r\n")[0] for raw in drafts.values()]
    with account.client() as c:  # one reply sent (threaded to its original), one draft deleted
        c.append("Sent", b"From: Dana Smith <dana@example.com>\r\nTo: r@example.org\r\n"
                 b"Message-ID: <sent-1@example.com>\r\nIn-Reply-To: " + originals[0] +
                 b"\r\nSubject: Re: hello\r\n\r\nThanks, I am interested.\r\n")
        c.select_folder("Drafts")
        c.delete_messages([sorted(drafts)[1]])
        c.expunge()
    with Ledger(account.tmp / "state" / "test.sqlite") as ledger:  # ids holding IMAP syntax
        for n, hostile in enumerate(["<a(b@x>", "<x{5}@y>", '<q"uote@z> OR ALL', "<ü@x>"]):
            ledger.record_draft(DraftRecord(f"<hostile-{n}@triage>", f"mid:{hostile}", "Drafts",
                                            None, "s", "R", "C", "targeted"))
    page = tmp_path / "r.html"
    assert main(["report", "--config", config, "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "drafts: 1 sent, 5 deleted unsent, 1 waiting, 0 unknown" in out, out
    tables = Tables()
    tables.feed(page.read_text())
    assert tables.cells["drafts"] == ["sent", "deleted unsent", "waiting", "unknown",
                                      "1", "5", "1", "0"]
