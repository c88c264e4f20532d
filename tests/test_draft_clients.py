"""Drafts read the way mail clients read them: flowed text, quote levels, Date zone, folding,
flags, and nothing that tells the recipient a tool wrote the reply."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import hashlib
import re
import time
from email.policy import default
from pathlib import Path

import pytest
from imapclient.exceptions import IMAPClientError

from fakes import FakeMailbox
from test_runner import config, mail, runner  # noqa: F401 - fixtures and helpers
from triage.config import Me
from triage.ledger import DraftRecord, Ledger
from triage.mailbox import Mailbox
from triage.message import parse_message
from triage.replies import build_reply, draft_message_ids, template_environment, template_for

ME = Me(name="Dana Smith", email="dana@example.com", stance="open", phone="+1 555 0100",
        availability="Tuesday after 2pm")
ENV = template_environment(None)
LONG = ("I came across your work on the railyard scheduling project and the talk you gave about "
        "it, and I think you would be a great fit for a principal engineer role we have open.")
SOURCE = ("From: Maria Lopez <maria@brightpath.example.org>\r\nTo: Dana <dana@example.com>\r\n"
          "Subject: Principal engineer\r\nMessage-ID: <abc@brightpath.example.org>\r\n"
          "Date: Mon, 2 Nov 2026 09:00:00 +0000\r\n\r\n"
          f"Hi Dana,\r\n\r\n{LONG}\r\n> {LONG}\r\n> > older quote\r\n"
          "From the team at BrightPath,\r\n>not a quote in the reply\r\n  indented line\r\n"
          "-- \r\nMaria\r\n").encode()


def reply(raw: bytes = SOURCE, template: str = "open.txt.j2", now: dt.datetime | None = None):
    message = parse_message(raw)
    return build_reply(message, "mid:" + message.message_id, ME, ENV, template, now)


def unflow(text: str) -> list[tuple[int, str]]:
    """RFC 3676 reading, written here from the RFC: (quote depth, logical line)."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for line in text.split("\r\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        soft = content.endswith(" ") and content != "-- "
        if pending is not None and pending[0] == depth:
            content = pending[1] + content
        elif pending is not None:
            out.append(pending)
        pending = None
        if soft:
            pending = (depth, content)
        else:
            out.append((depth, content))
    if pending is not None:
        out.append(pending)
    return out


def body_text(raw: bytes) -> str:
    part = email.message_from_bytes(raw, policy=default)
    assert part.get_param("format") == "flowed" and part.get_content_charset() == "utf-8"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def test_body_is_flowed_short_lines_that_reflow_to_the_original_paragraphs() -> None:
    text = body_text(reply().raw)
    assert all(len(line) <= 72 for line in text.split("\r\n"))
    logical = unflow(text)
    assert (1, LONG) in logical, "the recruiter's long line re-flows into one quoted paragraph"
    assert (2, LONG) in logical, "their own quote becomes depth 2 and re-flows too"
    assert (3, "older quote") in logical
    assert (1, "From the team at BrightPath,") in logical
    assert (1, "not a quote in the reply") not in logical  # `>x` in their text was a quote
    assert (2, "not a quote in the reply") in logical
    assert (1, "  indented line") in logical
    assert (1, "-- ") in logical or (1, "--") in logical
    own = [line for depth, line in logical if depth == 0]
    assert own[0] == "Hi Maria,"
    assert any(line.startswith("Thank you for reaching out") and len(line) > 72 for line in own)


def test_own_text_starting_with_from_or_space_or_quote_is_space_stuffed(tmp_path: Path) -> None:
    (tmp_path / "open.txt.j2").write_text("From now on, hi.\n>not quoted\n indented\n-- \nDana\n")
    message = parse_message(SOURCE)
    raw = build_reply(message, "x", ME, template_environment(tmp_path), "open.txt.j2").raw
    text = body_text(raw)
    assert text.startswith(" From now on, hi.\r\n >not quoted\r\n  indented\r\n-- \r\nDana\r\n")
    assert unflow(text)[:4] == [(0, "From now on, hi."), (0, ">not quoted"), (0, " indented"),
                                (0, "-- ")]


def test_non_ascii_body_survives_quoted_printable_with_flowed_spaces() -> None:
    raw = reply(SOURCE.replace(b"Hi Dana,", "Grüße, Dana — ".encode() * 12)).raw
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    logical = unflow(body_text(raw))
    assert (1, ("Grüße, Dana — " * 12).rstrip()) in logical


@pytest.mark.parametrize("zone,offset", [("Asia/Kolkata", "+0530"), ("America/New_York", "-0500"),
                                         ("UTC", "+0000")])
def test_date_is_in_the_local_zone(zone: str, offset: str, monkeypatch) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        draft = email.message_from_bytes(reply(now=dt.datetime(2026, 12, 7, 12, 0,
                                                               tzinfo=dt.timezone.utc)).raw,
                                          policy=default)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert str(draft["Date"]).endswith(offset)
    assert draft["Date"].datetime == dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)


def test_long_encoded_subject_is_folded_and_reads_back() -> None:
    subject = "Poste d’ingénieur·e principal·e — équipe données, Paris/télétravail, très belle opportunité"
    raw = reply(SOURCE.replace(b"Subject: Principal engineer",
                               b"Subject: " + email.header.Header(subject, "utf-8").encode().encode())).raw
    lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    subject_lines = lines[[i for i, l in enumerate(lines) if l.startswith(b"Subject:")][0]:]
    subject_lines = subject_lines[:1] + [l for l in subject_lines[1:] if l.startswith(b" ")][:10]
    assert len(subject_lines) > 1 and all(len(l) <= 76 for l in lines)
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)["Subject"]
    assert str(email.header.make_header(email.header.decode_header(legacy))) == f"Re: {subject}"
    assert str(email.message_from_bytes(raw, policy=default)["Subject"]) == f"Re: {subject}"


def test_nothing_names_the_tool() -> None:
    raw = reply().raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"triage" not in head.lower() and b"x-triage" not in head.lower()
    message_id = email.message_from_bytes(raw, policy=default)["Message-ID"]
    assert re.fullmatch(r"<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
                        r"@example\.com>", str(message_id))


def test_old_and_new_message_id_forms_are_both_known() -> None:
    fingerprint = "mid:<abc@brightpath.example.org>"
    old_form = "<triage." + hashlib.sha256(
        f"dana@example.com\n{fingerprint}".encode()).hexdigest()[:32] + "@example.com>"
    new, legacy = draft_message_ids(fingerprint, ME)
    assert legacy == old_form and new != old_form
    assert reply().known_ids == (new, old_form) and reply().message_id == new


def test_a_draft_made_before_the_change_is_found_in_drafts_not_made_again(config, tmp_path) -> None:
    box = FakeMailbox()
    box.deliver(mail(1, "targeted"))
    fingerprint = "mid:<m1@agency.example.org>"
    old_id = draft_message_ids(fingerprint, ME)[1]
    box.deliver(f"Message-ID: {old_id}\r\nSubject: old draft\r\n\r\nhi\r\n".encode(), "Drafts",
                ("\\Draft",))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
    assert tally.drafts == 0 and len(box.folders["Drafts"].messages) == 1


def test_a_draft_recorded_before_the_change_is_not_made_again(config, tmp_path) -> None:
    box = FakeMailbox()
    box.deliver(mail(1, "targeted"))
    old_id = draft_message_ids("mid:<m1@agency.example.org>", ME)[1]
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.record_draft(DraftRecord(old_id, "mid:<m1@agency.example.org>", "Drafts", 1,
                                        "targeted 1", "Recruiter", "", "targeted"))
        tally = runner(config, box, ledger).run()
    assert tally.drafts == 0
    assert not box.folders.get("Drafts") or not box.folders["Drafts"].messages


def test_new_drafts_are_seen_and_carry_the_keyword(config, tmp_path) -> None:
    box = FakeMailbox()
    box.deliver(mail(1, "targeted"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        runner(config, box, ledger).run()
    (flags,) = box.folders["Drafts"].flags.values()
    assert sorted(flags) == ["\\Draft", "\\Seen", "triage-draft"]
    assert box.folders["INBOX"].flags[1] == {"triage-targeted"}, "received mail stays unread"


def test_a_refused_draft_is_noted_on_that_message_only(config, tmp_path) -> None:
    box = FakeMailbox()
    box.deliver(mail(1, "targeted").replace(b"<r1@agency.example.org>", b"<r1@-agency-.example>"))
    box.deliver(mail(2, "targeted"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
        notes = {d.uid: d.note for d in ledger.decisions(10)}
    assert tally.drafts == 1 and len(box.folders["Drafts"].messages) == 1
    assert notes[1] == ("no draft: reply not built (DraftRefused: the recruiter's address "
                        "'r1@-agency-.example' has a domain that is not a valid host name; reply to "
                        "this message by hand)")
    assert box.folders["INBOX"].flags[1] == {"triage-targeted"}, "still labelled"


class RefusesKeywords:
    """An IMAPClient stand-in whose server answers NO to an APPEND that carries a keyword."""

    def __init__(self) -> None:
        self.appended: list[list[bytes]] = []

    def append(self, folder: str, raw: bytes, flags: list[bytes]) -> bytes:
        if any(not f.startswith(b"\\") for f in flags):
            raise IMAPClientError("APPEND failed: NO [CANNOT] keywords not allowed")
        self.appended.append(flags)
        return b"[APPENDUID 7 42] Append completed."

    def has_capability(self, capability: str) -> bool:
        return False

    def select_folder(self, folder: str, readonly: bool = False) -> dict[bytes, object]:
        return {b"UIDVALIDITY": 7, b"UIDNEXT": 43, b"EXISTS": 1, b"PERMANENTFLAGS": (b"\\*",)}

    def get_flags(self, uids: list[int]) -> dict[int, tuple[bytes, ...]]:
        """The flags as APPENDed (Mailbox checks that \\Draft was kept)."""
        return {uid: tuple(self.appended[-1]) for uid in uids if uid == 42}


def test_a_server_refusing_the_keyword_still_gets_the_draft(caplog) -> None:
    client = RefusesKeywords()
    uid = Mailbox(client).append_draft("Drafts", b"Subject: x\r\n\r\nhi\r\n", "triage-draft")
    assert uid == 42 and client.appended == [[b"\\Draft", b"\\Seen"]]
    assert "refused keyword triage-draft" in caplog.text


def test_a_hard_wrapped_quoted_paragraph_is_rejoined_and_short_lines_are_kept() -> None:
    from triage.flowed import quoted_lines

    text = ("I hope you don't mind the cold email. I've been following railyard on\n"
            "GitHub for a while, and your name came up again last week when a client\n"
            "asked me.\n\nBest,\nTom Whitaker\nHarbour Talent\n- one\n- two")
    lines = quoted_lines(text, 60)
    assert [line.text for line in lines] == [
        "I hope you don't mind the cold email. I've been following railyard on GitHub for a "
        "while, and your name came up again last week when a client asked me.",
        "", "Best,", "Tom Whitaker", "Harbour Talent", "- one", "- two"]
    assert {line.depth for line in lines} == {1}


def test_drafts_is_read_once_per_run_not_searched_per_draft(config, tmp_path) -> None:
    """A header SEARCH of Drafts per draft reads every draft each time (quadratic over a long
    backfill); the folder's Message-IDs are read once, and a draft already there is still found."""
    box = FakeMailbox()
    for n in range(1, 7):
        box.deliver(mail(n, "targeted"))
    old_id = draft_message_ids("mid:<m1@agency.example.org>", ME)[1]
    box.deliver(f"Message-ID: {old_id}\r\nSubject: old draft\r\n\r\nhi\r\n".encode(), "Drafts",
                ("\\Draft",))
    read: list[str | None] = []
    real_ids = box.message_ids

    def message_ids(uids):
        read.append(box.selected)
        return real_ids(uids)

    box.message_ids = message_ids  # type: ignore[method-assign]
    box.find_by_message_id = lambda *_: pytest.fail("searched Drafts for one draft")  # type: ignore[method-assign]
    with Ledger(tmp_path / "l.sqlite") as ledger:
        tally = runner(config, box, ledger).run()
    assert tally.drafts == 5 and len(box.folders["Drafts"].messages) == 6, "the old one is found"
    assert read.count("Drafts") == 1
