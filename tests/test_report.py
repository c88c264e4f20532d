"""`triage report`: numbers checked against the ledger by SQL, figures by what they were drawn from."""

from __future__ import annotations

import base64
import dataclasses
import json
import sqlite3
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from test_corrections import make_config
from triage.cli import main
from triage.ledger import Correction, Decision, DraftRecord, Ledger
from triage.report import MIN_DECISIONS, LabelRow, Report, verdict, wilson_lower
from triage.report_html import _confusion_figure, _png, _trend_figure

DAY = 86400
LABELS = ("targeted", "referral", "mass", "other", "unsure")


class Page(HTMLParser):
    """Tables by id (rows of cell texts) and images by id (their src)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: dict[str, str] = {}
        self.table: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("id")
            self.tables[self.table or ""] = []
        elif tag == "tr" and self.table:
            self.tables[self.table].append([])
        elif tag in ("td", "th") and self.table:
            self.cell = []
        elif tag == "img":
            self.images[a["id"]] = a["src"]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.table:
            self.tables[self.table][-1].append("".join(self.cell))
            self.cell = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def seed(ledger: Ledger, now: float) -> None:
    """Six weeks of decisions, some corrected, and drafts (one outside the window)."""
    n = 0
    plan = [("mass", 40, {"other": 2}), ("targeted", 12, {"referral": 1, "mass": 1}),
            ("referral", 6, {}), ("other", 25, {"targeted": 1}), ("unsure", 5, {"targeted": 2})]
    for label, count, fixes in plan:
        corrected = [l for l, k in fixes.items() for _ in range(k)]
        for i in range(count):
            n += 1
            fp = f"mid:<m{n}@x.example>"
            ledger.record(Decision("INBOX", 1, n, fp, fp[4:], f"s{n}", "r@x.example", label,
                                   label, 0.9, "done"))
            ledger.db.execute("UPDATE messages SET decided_at = ? WHERE uid = ?",
                              (now - (n % 40) * DAY, n))
            if i < len(corrected):
                ledger.record_correction(Correction(fp, corrected[i], label, "moved", f"s{n}", "f"))
    ledger.record(Decision("INBOX", 1, 999, "mid:<dup@x>", "<dup@x>", "s", "r", "mass", "mass",
                           0.9, "done"))
    ledger.db.execute("UPDATE messages SET decided_at = ? WHERE uid = 999", (now - 80 * DAY,))
    for i in range(3):
        ledger.record_draft(DraftRecord(f"<d{i}@triage>", f"mid:<m{41 + i}@x.example>", "Drafts",
                                        i, "s", "R", "C", "targeted"))


def by_sql(db: Path, since: float) -> tuple[dict[tuple[str, str], int], dict[str, tuple[int, int]]]:
    """The confusion counts and the weekly counts, straight from the ledger file."""
    with sqlite3.connect(db) as con:
        matrix = {(a, b): n for a, b, n in con.execute(
            "SELECT m.label, COALESCE(c.label, m.label), count(*) FROM messages m LEFT JOIN "
            "corrections c USING (fingerprint) WHERE m.status = 'done' AND m.decided_at >= ? "
            "GROUP BY 1, 2", (since,))}
        weeks = {w: (n, k) for w, n, k in con.execute(
            "SELECT date(m.decided_at, 'unixepoch', 'weekday 0', '-6 days'), count(*), "
            "count(c.label) FROM messages m LEFT JOIN corrections c USING (fingerprint) "
            "WHERE m.status = 'done' AND m.decided_at >= ? GROUP BY 1", (since,))}
    return matrix, weeks


def test_html_report_shows_the_ledger_in_tables_and_figures(tmp_path, capsys) -> None:
    path, config = make_config(tmp_path)
    now = time.time()
    db = config.state_dir / "t.sqlite"
    with Ledger(db) as ledger:
        seed(ledger, now)
    page_file = tmp_path / "report.html"
    assert main(["report", "--config", str(path), "--no-server", "--days", "45",
                 "--html", str(page_file)]) == 0
    text = capsys.readouterr().out
    assert "  mass         40 decisions, 2 corrected (2 to other)" in text, text
    assert "unsure resolved by you: 2 of 5 (2 as targeted)" in text

    page = Page()
    page.feed(page_file.read_text())
    expected, weeks = by_sql(db, now - 45 * DAY)
    table = page.tables["matrix"]
    columns = table[0][1:]
    shown = {(row[0], col): int(n) for row in table[1:] for col, n in zip(columns, row[1:])}
    assert {k: v for k, v in shown.items() if v} == expected
    assert {row[0]: (int(row[1]), int(row[2])) for row in page.tables["weeks"][1:]} == weeks
    assert len(weeks) >= 6, "six weeks of decisions make six bars"

    report = Report("t", 45, "", "", (), tuple(tuple(expected.get((a, b), 0) for b in LABELS)
                                              for a in LABELS), (), 0, {}, {}, "")
    images = {k: base64.b64decode(v.split(",", 1)[1]) for k, v in page.images.items()}
    assert images["confusion"].startswith(b"\x89PNG")
    assert base64.b64decode(_png(_confusion_figure(report))) == images["confusion"], \
        "the embedded matrix is the one drawn from the ledger's numbers"
    from triage.report import Week
    trend = dataclasses.replace(report, weeks=tuple(Week(w, n, k) for w, (n, k) in sorted(weeks.items())))
    assert base64.b64decode(_png(_trend_figure(trend))) == images["trend"]
    assert "http" not in page_file.read_text().replace("http-equiv", ""), "readable offline"
    assert (page_file.stat().st_mode & 0o777) == 0o600


def test_json_report_counts_and_unknown_draft_outcomes(tmp_path, capsys) -> None:
    path, config = make_config(tmp_path)
    with Ledger(config.state_dir / "t.sqlite") as ledger:
        seed(ledger, time.time())
    assert main(["report", "--config", str(path), "--no-server", "--json", "--days", "90"]) == 0
    data = json.loads(capsys.readouterr().out)["reports"][0]
    rows = {r["label"]: r for r in data["rows"]}
    assert rows["mass"]["decisions"] == 41 and rows["targeted"]["corrected_to"] == {
        "referral": 1, "mass": 1}
    assert data["drafts"]["unknown"] == 3 and "--no-server" in data["note"]


@pytest.mark.parametrize("days", ["0", "-3", "abc", "99999", "1e3"])
def test_bad_days_are_refused(tmp_path, days, capsys) -> None:
    path, _ = make_config(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--config", str(path), "--days", days])
    assert exit_.value.code == 2 and "days" in capsys.readouterr().err


def test_an_unreachable_server_leaves_draft_outcomes_unknown_not_silent(tmp_path, capsys,
                                                                       monkeypatch) -> None:
    path, config = make_config(tmp_path)
    path.write_text(path.read_text().replace('security = "plain"', 'security = "plain"\nport = 1'))
    monkeypatch.setenv("X", "secret-password")
    with Ledger(config.state_dir / "t.sqlite") as ledger:
        seed(ledger, time.time())
    assert main(["report", "--config", str(path)]) == 4
    captured = capsys.readouterr()
    assert "drafts: 0 sent, 0 deleted unsent, 0 waiting, 3 unknown" in captured.out
    assert "note: draft outcomes unknown:" in captured.out and "triage: error: t:" in captured.err
    assert "secret-password" not in captured.out + captured.err


def test_unwritable_html_is_one_line(tmp_path, capsys) -> None:
    path, config = make_config(tmp_path)
    Ledger(config.state_dir / "t.sqlite").close()
    assert main(["report", "--config", str(path), "--no-server", "--html",
                 str(tmp_path / "missing" / "r.html")]) == 2
    assert "cannot write" in capsys.readouterr().err


def row(label: str, n: int, corrected: int) -> LabelRow:
    bound = wilson_lower(n - corrected, n)
    return LabelRow(label, n, corrected, {}, {}, bound, n >= MIN_DECISIONS and bound >= 0.95)


def test_the_verdict_needs_enough_decisions_and_a_high_lower_bound() -> None:
    assert wilson_lower(0, 0) == 0 and 0.95 < wilson_lower(80, 80) < 1
    assert wilson_lower(45, 50) < 0.95
    sentence = verdict([row("mass", 80, 0), row("targeted", 10, 0), row("referral", 50, 5),
                        row("other", 500, 0)])
    assert sentence.startswith("The evidence supports turning on moves for mass (80 decisions")
    assert "targeted (10 decisions, need 30)" in sentence and "referral (5 of 50 corrected" in sentence
    assert "other" not in sentence
    assert verdict([row("mass", 3, 0)]).startswith("The evidence does not yet support")
