"""When a reply may be drafted (RFC 3834 hygiene)."""

from __future__ import annotations

import pytest

from triage.message import parse_message
from triage.policy import draft_blocker

BASE = b"From: Ann <ann@firm.example>\r\nSubject: role\r\n"


@pytest.mark.parametrize("extra,flags,reason", [
    (b"", (), ""),
    (b"Auto-Submitted: auto-replied\r\n", (), "Auto-Submitted: auto-replied"),
    (b"Auto-Submitted: no\r\n", (), ""),
    (b"Precedence: list\r\n", (), "Precedence: list"),
    (b"List-Id: <jobs.lists.example>\r\n", (), "mailing list (List-Id)"),
    (b"Reply-To: no-reply@firm.example\r\n", (), "no-reply sender no-reply@firm.example"),
    (b"", ("\\Answered",), "already answered"),
])
def test_draft_blockers(extra: bytes, flags: tuple[str, ...], reason: str) -> None:
    message = parse_message(BASE + extra + b"\r\nbody\r\n")
    assert draft_blocker(message, flags, "dana@example.com") == reason


def test_own_mail_and_answered_threads_are_not_replied_to() -> None:
    mine = parse_message(b"From: Dana <dana@example.com>\r\n\r\nx\r\n")
    assert draft_blocker(mine, (), "Dana@Example.com") == "sent by you"
    assert draft_blocker(parse_message(BASE + b"\r\nx\r\n"), (), "d@x", True) == "thread already answered"
