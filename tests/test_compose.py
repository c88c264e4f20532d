"""Hostile values cannot add a header or a recipient to a draft, on any Python >= 3.11.

Each case is a received message as an attacker would write it; the draft's bytes are read
back here the way mail clients read them (line scan, then Python's modern and legacy
parsers) and must carry exactly the expected header set and exactly one recipient.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.header
import email.utils
from email.policy import compat32, default

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.compose import DraftRefused, compose_draft, draft_headers, verify_draft
from triage.config import Me
from triage.message import parse_message
from triage.replies import build_reply, template_environment, template_for

ME = Me(name="Dana Smith", email="dana@example.com", stance="open")
ENV = template_environment(None)
THREADED = ["Date", "From", "To", "Subject", "Message-ID", "In-Reply-To", "References",
            "X-Mutt-References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"]
UNTHREADED = [n for n in THREADED if n not in ("In-Reply-To", "References", "X-Mutt-References")]
LONG_NAME = ("x@attacker.example, Tom Greaves " + "Senior Talent Partner, " * 60)[:1100]
EVIL = "Eve\r\nBcc: x@evil.example\r\nFrom: boss@evil.example\r\n\r\nbody"


def q_word(text: str) -> str:
    """`text` as one Q encoded-word, the way an attacker hides CR LF in a header."""
    encoded = "".join(c if c.isalnum() else f"={ord(c):02X}" for c in text)
    return f"=?utf-8?q?{encoded}?="


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def twice(text: str) -> str:
    """Encoded twice: the decoded text is itself an encoded-word carrying CR LF."""
    return b_word(q_word(text))


def source(**headers: str) -> bytes:
    fields = {"From": "Maria Lopez <maria@recruit.example.org>", "To": "Dana <dana@example.com>",
              "Subject": "Senior Data Engineer role", "Message-ID": "<src-1@recruit.example.org>",
              "Date": "Mon, 2 Nov 2026 09:00:00 +0000"}
    fields.update({k.replace("_", "-"): v for k, v in headers.items()})
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v is not None)
    return head.encode("utf-8", "surrogateescape") + b"\r\nHi Dana, I read your profile.\r\n"


def draft_of(raw: bytes) -> bytes:
    message = parse_message(raw)
    return build_reply(message, "mid:x", ME, ENV, template_for("targeted", "open")).raw


def header_lines(raw: bytes) -> list[bytes]:
    """Unfolded header fields, read byte by byte as a client does."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def names(raw: bytes) -> list[str]:
    return [f.split(b":", 1)[0].decode() for f in header_lines(raw)]


def recipients(raw: bytes) -> list[str]:
    """Every address any parser sees in To, Cc or Bcc."""
    modern = email.message_from_bytes(raw, policy=default)
    legacy = email.message_from_bytes(raw, policy=compat32)
    seen = [a.addr_spec for f in ("To", "Cc", "Bcc") if modern[f] for a in modern[f].addresses]
    raw_values = [v for f in ("To", "Cc", "Bcc") for v in legacy.get_all(f, [])]
    assert [a for _, a in email.utils.getaddresses(raw_values)] == seen
    return seen


def assert_safe(raw: bytes, expected_names: list[str], to: str) -> None:
    assert names(raw) == expected_names
    assert recipients(raw) == [to]
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"") and b"\x00" not in raw
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=default)
    for field in ("Subject", "From", "To"):
        assert "\n" not in str(parsed[field]) and "\r" not in str(parsed[field])
    assert parsed.get_content().startswith("Hi ")


CASES = {
    "subject, encoded once": dict(Subject=q_word(EVIL)),
    "subject, encoded twice": dict(Subject=twice(EVIL)),
    "from name, encoded once": dict(From=f"{q_word(EVIL)} <maria@recruit.example.org>"),
    "from name, encoded twice": dict(From=f"{twice(EVIL)} <maria@recruit.example.org>"),
    "from name, quotes": dict(From='"Maria \\"x@evil.example\\", <y@evil.example>" '
                                   "<maria@recruit.example.org>"),
    "from name, NUL": dict(From='"Maria\x00Bcc: x@evil.example" <maria@recruit.example.org>'),
    "from name, 950 chars with commas": dict(From=f'"{LONG_NAME[:950]}" <maria@recruit.example.org>'),
    "from name, 1100 chars with commas (gh-80222)": dict(
        From=f'"{LONG_NAME}" <maria@recruit.example.org>'),
    "from name, 1100 chars encoded": dict(From=f"{b_word(LONG_NAME)} <maria@recruit.example.org>"),
    "from name, 950 chars encoded twice": dict(
        From=f"{twice('x@attacker.example, ' * 45 + EVIL)} <maria@recruit.example.org>"),
    "subject, NUL and raw CR": dict(Subject="hi\x00there\rBcc: x@evil.example"),
    "subject, very long": dict(Subject="role " * 2000),
    "message-id, encoded twice": dict(Message_ID=twice("<a@b>\r\nBcc: x@evil.example")),
    "message-id, encoded-word inside": dict(
        Message_ID="<" + q_word("x\r\nBcc: x@evil.example") + "@recruit.example.org>"),
    "message-id, encoded twice around an id": dict(
        Message_ID=b_word("<" + q_word("x\r\nBcc: x@evil.example\r\n") + "@h.example>")),
    "message-id, very long": dict(Message_ID="<" + "a" * 3000 + "@recruit.example.org>"),
    "in-reply-to of the source, encoded twice": dict(In_Reply_To=twice(EVIL)),
}
REPLY_TO_CASES = {
    "reply-to name, encoded once": f"{q_word(EVIL)} <maria@recruit.example.org>",
    "reply-to name, encoded twice": f"{twice(EVIL)} <maria@recruit.example.org>",
    "reply-to, group syntax": "a: maria@recruit.example.org;",
    "reply-to, two addresses": "maria@recruit.example.org, x@evil.example",
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_headers_cannot_add_a_header_or_recipient(case: str) -> None:
    raw = draft_of(source(**CASES[case]))
    threaded = not case.startswith("message-id")
    assert_safe(raw, THREADED if threaded else UNTHREADED, "maria@recruit.example.org")


@pytest.mark.parametrize("case", REPLY_TO_CASES)
def test_hostile_reply_to_cannot_add_a_header_or_recipient(case: str) -> None:
    raw = draft_of(source(Reply_To=REPLY_TO_CASES[case]))
    assert_safe(raw, THREADED, "maria@recruit.example.org")


def test_references_encoded_twice_around_an_id_are_dropped() -> None:
    raw = draft_of(source(References=b_word("<" + q_word("x\r\nBcc: x@evil.example\r\n") + "@h.example>")))
    assert_safe(raw, THREADED, "maria@recruit.example.org")
    assert str(email.message_from_bytes(raw, policy=default)["References"]) == "<src-1@recruit.example.org>"


def test_references_keep_only_strict_msg_ids_and_a_bounded_number() -> None:
    hostile = " ".join([f"<r{i}@x.example>" for i in range(3000)] + [
        twice("<a@b.example>\r\nBcc: x@evil.example"), "<" + q_word("\r\nBcc: e@v") + "@h>",
        "<a(b@x.example>", "<été@x.example>", "<no-at-sign>", "junk"])
    raw = draft_of(source(References=hostile))
    assert_safe(raw, THREADED, "maria@recruit.example.org")
    refs = str(email.message_from_bytes(raw, policy=default)["References"]).split()
    assert refs == [f"<r{i}@x.example>" for i in range(2991, 3000)] + ["<src-1@recruit.example.org>"]


def test_a_long_non_ascii_display_name_stays_one_recipient_and_reads_back() -> None:
    name = "Zoë Müller-Łukasiewicz, Talent Partner, Ünïcödé GmbH & Co. KG — Recruiting"
    raw = draft_of(source(From=f"{b_word(name)} <zoe@recruit.example.org>"))
    assert_safe(raw, THREADED, "zoe@recruit.example.org")
    shown = email.message_from_bytes(raw, policy=default)["To"].addresses[0].display_name
    assert " ".join(shown.split()) == name[:64].rstrip()
    legacy = email.message_from_bytes(raw, policy=compat32)["To"]
    decoded = str(email.header.make_header(email.header.decode_header(legacy)))  # RFC 2047 reading
    assert decoded == f"{name[:64].rstrip()} <zoe@recruit.example.org>"


def test_an_idn_domain_is_written_as_ascii() -> None:
    raw = draft_of(source(From="Maria <maria@bücher.example>"))
    assert_safe(raw, THREADED, "maria@xn--bcher-kva.example")


@pytest.mark.parametrize("sender", ["Maria <maria.lopez@[127.0.0.1]>", "Maria <\"m l\"@x.example>",
                                    "Maria <máría@recruit.example.org>", "Maria <maria@-bad-.example>",
                                    "Maria <=?utf-8?q?x?=@recruit.example.org>"])
def test_an_address_triage_cannot_reserialise_safely_is_refused(sender: str) -> None:
    with pytest.raises(DraftRefused, match="recruiter's address"):
        draft_of(source(From=sender))


def test_double_encoded_subject_is_not_decoded_again_by_a_client() -> None:
    raw = draft_of(source(Subject=twice(EVIL)))
    subject = str(email.message_from_bytes(raw, policy=default)["Subject"])
    assert "=?" not in subject and subject.startswith("Re: = ?utf-8?q?Eve")


# -- verify_draft refuses bytes that are not exactly the intended draft -------------------
WHEN = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def intended():
    return draft_headers(("Dana Smith", "dana@example.com"), ("Maria", "maria@recruit.example.org"),
                         "Re: hello", WHEN, "<d1@example.com>", "<s1@x.example>", ())


def good() -> bytes:
    return compose_draft(intended(), "Hi Maria,\n")


@pytest.mark.parametrize("tamper", [
    lambda raw: raw.replace(b"Subject:", b"Bcc: x@evil.example\r\nSubject:"),
    lambda raw: raw.replace(b"<maria@recruit.example.org>", b"<maria@recruit.example.org>, x@evil.example"),
    lambda raw: raw.replace(b'"Maria"', b'x@evil.example, "Maria"'),
    lambda raw: raw.replace(b"Subject: Re: hello", b"Subject: Re: hello\r\nFrom: x@evil.example"),
    lambda raw: raw.replace(b"Subject: Re: hello\r\n", b"Subject: Re: hello\r\n\r\n"),
    lambda raw: raw.replace(b"Subject: Re: hello\r\n", b"Subject: Re: hello\nX: y\r\n"),
    lambda raw: raw.replace(b"<s1@x.example>\r\nX-Mutt", b"<s1@x.example> <t@x.example>\r\nX-Mutt"),
    lambda raw: raw.replace(b"format=flowed", b"format=fixed"),
    lambda raw: raw + b"\x00",
])
def test_verify_refuses_any_change_to_headers_or_recipients(tamper) -> None:
    verify_draft(good(), intended())
    with pytest.raises(DraftRefused):
        verify_draft(tamper(good()), intended())


def test_own_address_is_validated_like_any_other() -> None:
    with pytest.raises(DraftRefused, match="me.email"):
        draft_headers(("Dana", "dana@exa mple.com"), ("M", "m@x.example"), "Re: x", WHEN,
                      "<d1@example.com>", "", ())


# -- generated values: whatever the text, the draft reads back exactly as intended ---------
HOSTILE_TEXT = st.text(alphabet=st.sampled_from(list("ab ,;:<>@\"\\()=?_\r\n\t\x00\x0b\u2028\u202eéü中🙂")) |
                       st.characters(), max_size=300)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=HOSTILE_TEXT, subject=HOSTILE_TEXT, own_name=HOSTILE_TEXT,
       ids=st.lists(st.text(max_size=40).map(lambda t: f"<{t}@x.example>"), max_size=20))
def test_any_text_in_names_subject_and_ids_yields_exactly_the_intended_draft(name, subject, own_name,
                                                                             ids) -> None:
    headers = draft_headers((own_name, "dana@example.com"), (name, "maria@recruit.example.org"),
                            subject, WHEN, "<d1@example.com>", ids[-1] if ids else "",
                            tuple(ids[:-1]))
    raw = compose_draft(headers, "Hi,\n")
    verify_draft(raw, headers)
    expected = THREADED if headers.in_reply_to else UNTHREADED
    assert names(raw) == expected and recipients(raw) == ["maria@recruit.example.org"]
    parsed = email.message_from_bytes(raw, policy=default)
    assert str(parsed["Subject"]) == headers.subject and "=?" not in headers.subject
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"))
