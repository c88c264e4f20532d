"""Reply drafts: extraction with fallbacks, threading, and header safety."""

from __future__ import annotations

import email
import re
from email.policy import default

import pytest

from triage.config import Me
from triage.message import parse_message
from triage.replies import (build_reply, extract_details, reply_subject, template_environment,
                            template_for)

ME = Me(name="Dana Smith", email="dana@example.com", stance="open", phone="+1 555 0100",
        availability="Tuesday after 2pm")
ENV = template_environment(None)


def body_of(raw: bytes) -> str:
    """The body as a format=flowed reader shows it: soft line breaks of own text joined."""
    text = email.message_from_bytes(raw, policy=default).get_content().replace("\r\n", "\n")
    return re.sub(r" \n(?=[^>\n])", " ", text)


def reply_to(raw: bytes, stance: str = "open"):
    message = parse_message(raw)
    return build_reply(message, "mid:" + message.message_id, ME, ENV, template_for("targeted", stance))


OUTREACH = (b"From: Maria Lopez <maria@brightpath-talent.example.org>\r\n"
            b"To: Dana Smith <dana@example.com>\r\nSubject: Senior Data Engineer role at Northwind\r\n"
            b"Message-ID: <abc@brightpath.example.org>\r\nReferences: <older@x.example>\r\n"
            b"Date: Mon, 2 Nov 2026 09:00:00 +0000\r\n\r\n"
            b"Hi Dana,\r\n\r\nI read your railyard project and think you'd be great.\r\n\r\n"
            b"Best,\r\nMaria\r\nSenior Recruiter, BrightPath Talent\r\n")


def test_details_come_from_display_name_signature_and_subject() -> None:
    details = extract_details(parse_message(OUTREACH))
    assert (details.first_name, details.company, details.role) == (
        "Maria", "BrightPath Talent", "Senior Data Engineer")


def test_unknown_details_fall_back_to_natural_phrases() -> None:
    reply = reply_to(b"From: jobs4u@gmail.com\r\nSubject: hello\r\nMessage-ID: <q@gmail.com>\r\n\r\n"
                     b"are you open to a new challenge?\r\n")
    body = body_of(reply.raw)
    assert body.startswith("Hi there,\n") and "the role" in body
    assert "None" not in body and "  " not in body.split("\n\n")[1]


def test_the_draft_is_threaded_addressed_and_crlf() -> None:
    reply = reply_to(OUTREACH)
    draft = email.message_from_bytes(reply.raw, policy=default)
    assert draft["From"] == "Dana Smith <dana@example.com>"
    assert draft["To"] == "Maria Lopez <maria@brightpath-talent.example.org>"
    assert draft["Subject"] == "Re: Senior Data Engineer role at Northwind"
    assert draft["In-Reply-To"] == "<abc@brightpath.example.org>"
    assert draft["References"] == "<older@x.example> <abc@brightpath.example.org>"
    assert draft["Date"] and draft["Message-ID"] == reply.message_id
    assert b"\r\n" in reply.raw and b"\n" not in reply.raw.replace(b"\r\n", b"")
    body = body_of(reply.raw)
    assert "+1 555 0100" in body and "Tuesday after 2pm" in body
    assert "> I read your railyard project" in body


def test_reply_to_header_wins_over_from() -> None:
    raw = OUTREACH.replace(b"Subject:", b"Reply-To: Maria <m.lopez@brightpath.example.org>\r\nSubject:")
    assert reply_to(raw).to == "m.lopez@brightpath.example.org"


def test_message_id_is_deterministic() -> None:
    assert reply_to(OUTREACH).message_id == reply_to(OUTREACH).message_id
    other = OUTREACH.replace(b"<abc@", b"<abd@")
    assert reply_to(other).message_id != reply_to(OUTREACH).message_id


@pytest.mark.parametrize("subject,expected", [("Re: Re: hello", "Re: hello"), ("AW: Stelle", "Re: Stelle"),
                                               ("", "Re: your message"), ("Role", "Re: Role")])
def test_subject_never_stacks_prefixes(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_injected_newlines_cannot_add_headers() -> None:
    hostile = (b"From: =?utf-8?q?Eve=0D=0ABcc=3A_x=40evil.example?= <eve@evil.example>\r\n"
               b"Subject: =?utf-8?q?Eve=0D=0ABcc=3A_x=40evil.example?=\r\n"
               b"Message-ID: <a@b.example>\r\nReferences: <ok@x.example> <bad\r\n id@x> junk\r\n\r\nHi\r\n")
    reply = reply_to(hostile)
    lines = reply.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert sum(line.startswith(b"Subject:") for line in lines) == 1
    assert not any(line.lower().startswith(b"bcc") for line in lines)
    draft = email.message_from_bytes(reply.raw, policy=default)
    assert draft["Bcc"] is None and draft["To"].addresses[0].addr_spec == "eve@evil.example"
    assert draft["References"] == "<ok@x.example> <a@b.example>"


@pytest.mark.parametrize("stance", ["open", "selective", "not-looking"])
def test_every_stance_renders_a_complete_reply(stance: str) -> None:
    body = body_of(reply_to(OUTREACH, stance).raw)
    assert body.startswith("Hi Maria,") and "Dana Smith" in body and "{" not in body


def test_user_templates_override_shipped_ones(tmp_path) -> None:
    (tmp_path / "open.txt.j2").write_text("{{ greeting }} custom {{ role }}\n")
    message = parse_message(OUTREACH)
    reply = build_reply(message, "x", ME, template_environment(tmp_path), "open.txt.j2")
    assert body_of(reply.raw).startswith(
        "Hi Maria, custom Senior Data Engineer")


def test_message_content_is_never_template_source() -> None:
    raw = OUTREACH.replace(b"Subject: Senior", b"Subject: {{ me.phone }} {% raw %}Senior")
    body = body_of(reply_to(raw).raw)
    assert "+1 555 0100" in body  # the template's own use of the phone
    assert body.count("+1 555 0100") == 1, "the subject's {{ me.phone }} was not rendered"
