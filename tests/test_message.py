"""Parsing: encodings, charsets, HTML, hostile headers."""

from __future__ import annotations

import base64

import pytest

from triage.message import ParseError, fingerprint, parse_message


def test_rfc2047_subject_and_display_name_are_decoded() -> None:
    m = parse_message(b"From: =?utf-8?q?Chlo=C3=A9_Marchetti?= <c@halden.example>\r\n"
                      b"Subject: =?iso-8859-1?q?Stellenangebot_f=FCr_Sie?=\r\n\r\nHallo\r\n")
    assert m.sender is not None and m.sender.name == "Chloé Marchetti"
    assert m.subject == "Stellenangebot für Sie"


def test_raw_utf8_in_headers_is_read_as_utf8() -> None:
    m = parse_message("From: Sabine Krüger <s@a.example>\nSubject: Enólogo jefe\n\nx\n".encode())
    assert m.subject == "Enólogo jefe" and m.sender is not None and m.sender.name == "Sabine Krüger"


def test_unknown_charset_does_not_crash() -> None:
    m = parse_message(b"From: a@b.example\r\nSubject: =?default_charset?q?caf=E9?=\r\n"
                      b"Content-Type: text/plain; charset=default_charset\r\n\r\ncaf\xe9 \xff\r\n")
    assert "caf" in m.subject and m.text.startswith("caf")


def test_base64_and_quoted_printable_bodies() -> None:
    body = base64.b64encode("Grüße aus Köln".encode("iso-8859-1"))
    m = parse_message(b"From: a@b.example\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                      b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n")
    assert m.text == "Grüße aus Köln"
    m = parse_message(b"From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      b"Content-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve =\r\nline\r\n")
    assert m.text.strip() == "naïve line"


def test_html_only_mail_becomes_text_without_scripts() -> None:
    m = parse_message(b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n<html><style>p{}</style>"
                      b"<script>alert(1)</script><p>Hello <b>Dana</b></p><a href='https://x.example'>"
                      b"link</a></html>")
    assert m.html_only and m.text == "Hello Dana link" and m.link_count == 1


def test_encoded_crlf_in_headers_never_spans_lines() -> None:
    m = parse_message(b"From: =?utf-8?q?Eve=0D=0ABcc=3A_x=40evil.example?= <eve@evil.example>\r\n"
                      b"Subject: =?utf-8?q?hi=0D=0ABcc=3A_y=40evil.example?=\r\n\r\nbody\r\n")
    assert "\n" not in m.subject and "\r" not in m.subject
    assert m.sender is not None and "\n" not in m.sender.name and m.sender.email == "eve@evil.example"


def test_malformed_message_ids_are_dropped() -> None:
    m = parse_message(b"From: a@b.example\r\nMessage-ID: not-an-id\r\n"
                      b"References: <good@x.example> garbage <also@y.example>\r\n\r\nx\r\n")
    assert m.message_id == "" and m.references == ("<good@x.example>", "<also@y.example>")


def test_deep_nesting_does_not_recurse() -> None:
    depth = 150
    parts = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
                     for i in range(depth))
    raw = b"From: a@b.example\r\n" + parts + b"Content-Type: text/plain\r\n\r\ndeep text\r\n"
    assert "deep text" in parse_message(raw).text


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n  \r\n"])
def test_empty_input_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parse_message(raw)


def test_fingerprint_prefers_message_id_and_falls_back_to_headers() -> None:
    a = b"From: a@b.example\r\nMessage-ID: <1@b.example>\r\n\r\nx"
    assert fingerprint(parse_message(a), a) == "mid:<1@b.example>"
    b = b"From: a@b.example\r\nSubject: s\r\n\r\nx"
    c = b"From: a@b.example\r\nSubject: t\r\n\r\nx"
    assert fingerprint(parse_message(b), b) != fingerprint(parse_message(c), c)
    assert fingerprint(parse_message(b), b).startswith("sha:")


def test_address_headers_parse_the_same_from_the_cache_and_beyond_its_size_limit() -> None:
    from triage.message import MAX_CACHED_ADDRESS_CHARS
    names = ", ".join(f"=?utf-8?q?P=C3=A9rson_{i}?= <p{i}@x.example>" for i in range(200))
    assert len(names) > MAX_CACHED_ADDRESS_CHARS
    raw = f"From: Eve <eve@x.example>\r\nTo: {names}\r\nCc: Bob <BOB@X.example>\r\n\r\nhi\r\n".encode()
    first, again = parse_message(raw), parse_message(raw)
    assert first == again
    assert len(first.to) == 200 and first.to[7].name == "Pérson 7" and first.to[7].email == "p7@x.example"
    assert first.cc[0].email == "bob@x.example" and first.sender and first.sender.name == "Eve"


def test_url_patterns_and_link_counts_match_their_case_insensitive_forms() -> None:
    import re

    from triage import features, message
    text = ("see HTTP://a.example, hTtPſ://b.example and WwW.c.example; http:/x www,y ſhttp://d "
            "https//e Www.f\nHTTPS://g wwww.h ｗｗｗ.i")
    slow = re.compile(r"https?://\S+|www\.\S+", re.I)
    assert [m.span() for m in features._URL.finditer(text)] == [m.span() for m in slow.finditer(text)]
    assert len(slow.findall(text)) >= 6
    links = re.compile(r"https?://|www\.", re.I)
    for sample in [text, text.upper(), "wwww.www.www.http://https://httpss://ſ://", "", "İ" * 5 + text]:
        assert message._link_count(sample) == len(links.findall(sample)), sample


def test_a_single_part_message_parses_as_the_standard_parser_parses_it() -> None:
    import email
    import email.policy
    from pathlib import Path

    from triage.message import _single_part
    root = Path(__file__).resolve().parent.parent
    raws = [p.read_bytes() for p in sorted([*(root / "training_data").rglob("*.eml"),
                                             *(root / "eval_data").rglob("*.eml")])[::2]]
    raws += [b"Subject: a\r\nFrom x\r\nFrom y\r\n\r\nbody\r\n", b"Subject: a\nX: b\n c\n\nbody\rline\r\n",
             b"Subject: a\r\nnot a header\r\n\r\nbody", b"Subject: a\r\n", b"Subject: a\r\n\r\n",
             b"\r\nbody only", b" continuation first\r\nSubject: a\r\n\r\nb", b"Subject: \xff\xfe\r\n\r\n\xc3\xa9",
             b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\na\r\n--x--\r\n",
             b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nb", b"Subject: a\rTo: b\r\rbody\r"]
    fast = 0
    for raw in raws:
        full = email.message_from_bytes(raw, policy=email.policy.compat32)
        single = _single_part(raw)
        if single is None:
            continue
        fast += 1
        assert single.items() == full.items() and single.get_payload() == full.get_payload(), raw[:300]
        assert [type(d) for d in single.defects] == [type(d) for d in full.defects], raw[:300]
        assert single.as_bytes() == full.as_bytes()
        assert parse_message(raw) == parse_message(raw)
    assert fast > len(raws) // 2
    assert _single_part(raws[-3]) is None and _single_part(raws[-2]) is None  # parts: the full parser


def test_the_html_text_budget_leaves_room_for_the_message_text() -> None:
    from triage import htmltext, message
    assert htmltext.MAX_HTML_TEXT_CHARS == 4 * message.MAX_TEXT_CHARS
