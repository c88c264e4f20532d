"""Gmail semantics against Hoodiecrow in Gmail mode (X-GM-EXT-1, XOAUTH2, [Gmail]/… folders)."""

from __future__ import annotations

import base64
import logging
import sqlite3

from conftest import Account, gmail_config
from servers import TOKEN
from triage.cli import main

LABELS = {"triage-targeted", "triage-referral", "triage-mass", "triage-other", "triage-unsure"}


def decided(account: Account) -> dict[int, str]:
    with sqlite3.connect(account.tmp / "state" / "test.sqlite") as db:
        return dict(db.execute("SELECT uid, label FROM messages WHERE folder = 'INBOX'"))


def test_all_mail_is_never_processed_as_a_second_copy(gmail_account: Account, samples, capsys,
                                                      caplog) -> None:
    mail = samples["mass"][:3] + samples["other"][:3]
    gmail_account.append(mail)
    gmail_account.append(mail, "[Gmail]/All Mail")  # Gmail shows every message there too
    config = gmail_config(gmail_account, folders=["INBOX", "[Gmail]/All Mail"])
    with caplog.at_level(logging.WARNING):
        assert main(["run", "--config", str(config)]) == 0
    assert "6 new" in capsys.readouterr().out
    assert any("[Gmail]/All Mail not processed" in r.getMessage() for r in caplog.records)
    assert all(not LABELS & set(l) for l in gmail_account.labels("[Gmail]/All Mail").values())
    assert all(len(LABELS & set(l)) == 1 for l in gmail_account.labels().values())
    assert all(not LABELS & set(f) for f in gmail_account.flags().values()), "labels, not keywords"


def test_changing_the_label_in_gmail_is_a_correction(gmail_account: Account, samples,
                                                     capsys) -> None:
    gmail_account.append(samples["mass"][:2] + samples["other"][:2])
    config = str(gmail_config(gmail_account))
    assert main(["run", "--config", config]) == 0
    assert "4 new" in capsys.readouterr().out
    uid, label = next(iter(decided(gmail_account).items()))
    new = "referral" if label != "referral" else "targeted"
    with gmail_account.client() as c:  # what the user does in Gmail's web UI
        c.select_folder("INBOX")
        c.remove_gmail_labels([uid], [f"triage-{label}"])
        c.add_gmail_labels([uid], [f"triage-{new}"])
    assert main(["run", "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"1 corrections learned" in out and "0 new" in out, out
    with sqlite3.connect(gmail_account.tmp / "state" / "test.sqlite") as db:
        assert list(db.execute("SELECT label, predicted FROM corrections")) == [(new, label)]


def test_a_refused_token_is_a_clear_auth_error(gmail_account: Account, capsys) -> None:
    config = gmail_account.config(auth="xoauth2", password_env=None,
                                  token_command="echo ya29.expired-token")
    assert main(["run", "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert "refused the OAuth2 access token" in err and "token_command" in err, err
    assert "ya29.expired-token" not in err


def test_tokens_never_reach_the_log(gmail_account: Account, samples, capsys) -> None:
    gmail_account.append(samples["other"][:1])
    assert main(["run", "-vvv", "--config", str(gmail_config(gmail_account))]) == 0
    err = capsys.readouterr().err
    assert "AUTHENTICATE" in err, "imapclient's protocol log was on"
    sasl = base64.b64encode(f"user=alice\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()
    assert TOKEN not in err and sasl not in err


def test_oauthbearer_login_with_a_token_command(gmail_account: Account, samples, capsys) -> None:
    gmail_account.append(samples["other"][:2])
    config = gmail_account.config(auth="oauthbearer", password_env=None,
                                  token_command=f"printf '%s\\n' {TOKEN}")
    assert main(["run", "--config", str(config)]) == 0
    assert "2 new" in capsys.readouterr().out
    wrong = gmail_account.config(auth="oauthbearer", password_env=None,
                                 token_command="echo ya29.other")
    assert main(["run", "--config", str(wrong)]) == 3
    assert "refused the OAuth2 access token" in capsys.readouterr().err
