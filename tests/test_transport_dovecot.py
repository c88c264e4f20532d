"""The bounded transport against a real Dovecot: thread look-ups in one SEARCH, exact partials."""

from __future__ import annotations

import time

from conftest import PASSWORD_ENV, Account
from faultproxy import FaultProxy
from servers import PASSWORD
from triage.config import parse_config
from triage.mailbox import MAX_LOOKUP_IDS, Mailbox

HOSTILE_IDS = ["<a(b@example.org>", "<a)b@example.org>", "<x{5}@example.org>",
               '<q"uo\\te@example.org>']


def sent(mid: str) -> bytes:
    return (f"From: dana@example.com\r\nTo: r@example.org\r\nSubject: re\r\nMessage-ID: {mid}\r\n"
            "\r\nthanks\r\n").encode()


def connect(account: Account, port: int, **extra: object) -> Mailbox:
    values = {"name": "t", "host": "127.0.0.1", "port": port, "security": "plain",
              "username": account.user, "password_env": PASSWORD_ENV, **extra}
    config = parse_config({"accounts": [values], "me": {"name": "D", "email": "d@example.com"},
                           "state": {"dir": str(account.tmp / "state")}}, account.tmp / "c.toml")
    return Mailbox.connect(config.accounts[0], PASSWORD, time.monotonic() + 60)


def test_a_thread_look_up_is_one_search_however_many_references(dovecot_account: Account) -> None:
    dovecot_account.append([sent(mid) for mid in HOSTILE_IDS] + [sent("<old@example.org>")], "Sent")
    references = [f"<r{i}@example.org>" for i in range(3000)]
    proxy = FaultProxy(dovecot_account.server.port)
    try:
        mbox = connect(dovecot_account, proxy.port)
        try:
            found = {mid: mbox.find_by_message_id("Sent", [*references, mid])
                     for mid in HOSTILE_IDS}
            too_old = mbox.find_by_message_id("Sent", ["<old@example.org>", *references])
            non_ascii = mbox.find_by_message_id("Sent", ["<été@example.org>"])
        finally:
            mbox.close()
    finally:
        proxy.close()
    assert found == {mid: [uid] for uid, mid in enumerate(HOSTILE_IDS, start=1)}
    assert too_old == [], "only the most recent references are looked up"
    assert non_ascii == []
    assert proxy.client_log.count(b" SEARCH ") == len(HOSTILE_IDS) + 1
    assert proxy.client_log.count(b"HEADER Message-ID") == MAX_LOOKUP_IDS * (len(HOSTILE_IDS) + 1)
    assert b"<r2991@" not in proxy.client_log and b"<r2999@" in proxy.client_log


def test_partial_fetches_return_exact_bytes_below_at_and_above_the_cap(
        dovecot_account: Account) -> None:
    cap = 5000
    heads = [b"Subject: s%d\r\n\r\n" % n for n in (4000, cap, cap + 1, 90_000)]
    bodies = [head + b"x" * (n - len(head)) for head, n in zip(heads, (4000, cap, cap + 1, 90_000))]
    assert [len(b) for b in bodies] == [4000, cap, cap + 1, 90_000]
    dovecot_account.append(bodies)
    mbox = connect(dovecot_account, dovecot_account.server.port, max_message_bytes=cap)
    try:
        mbox.select("INBOX", readonly=True)
        fetched = mbox.fetch([1, 2, 3, 4], cap)
    finally:
        mbox.close()
    assert [(f.raw, f.truncated) for f in fetched] == [
        (bodies[0], False), (bodies[1], False), (bodies[2][:cap], True), (bodies[3][:cap], True)]
