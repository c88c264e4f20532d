"""Draft headers and bytes from validated values, and a check of the bytes before APPEND. Pure.

Nothing here trusts Python's header folding (CPython CVE-2024-6923, gh-80222 differ by patch
level): every value is validated and re-serialised by triage, the header block is written
and folded here, and `verify_draft` parses the result back with two parsers and refuses it
unless its header set and each recipient are exactly the intended ones.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import email.utils
import quopri
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

DRAFT_KEYWORD = "triage-draft"  # on the draft in Drafts only: keywords never travel with mail

MAX_NAME = 64  # display-name characters kept
MAX_SUBJECT = 200
MAX_MSG_ID = 250
MAX_REFERENCES = 10
LINE = 76  # folded header lines (RFC 2047 limit for lines holding encoded-words)
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_LOCAL_PART = re.compile(rf"{_DOT_ATOM}\Z")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_MSG_ID = re.compile(rf"<{_DOT_ATOM}@(?:{_DOT_ATOM}|\[[\x21-\x5a\x5e-\x7e]*\])>\Z")
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+\Z")
_PIECE = re.compile(r"\S+\s*|\s+")
_ENCODED_WORD_START = "=?"
_UNSAFE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


class DraftRefused(ValueError):
    """Raised when a draft cannot be built safely or its bytes are not exactly as intended."""


@dataclass(frozen=True)
class Person:
    """A validated mailbox: safe display name (may be empty) and ASCII addr-spec."""

    name: str
    addr_spec: str


@dataclass(frozen=True)
class DraftHeaders:
    """Every header value of a draft, each already validated."""

    sender: Person
    recipient: Person
    subject: str
    date: dt.datetime  # aware; written in its own zone
    message_id: str
    in_reply_to: str  # "" when the source has no valid Message-ID
    references: tuple[str, ...]

    def field_names(self) -> list[str]:
        """The exact header fields the draft carries, in order."""
        threading = ["In-Reply-To", "References", "X-Mutt-References"] if self.in_reply_to else []
        return ["Date", "From", "To", "Subject", "Message-ID", *threading,
                "MIME-Version", "Content-Type", "Content-Transfer-Encoding"]


def draft_headers(me: tuple[str, str], to: tuple[str, str], subject: str, when: dt.datetime,
                  message_id: str, in_reply_to: str, references: tuple[str, ...]) -> DraftHeaders:
    """Validate every value for a reply draft; a bad address or Message-ID raises DraftRefused,
    bad threading ids are dropped, text is cleaned and bounded."""
    if when.tzinfo is None:
        raise DraftRefused("draft date has no time zone")
    own_id = safe_msg_id(message_id)
    if not own_id:
        raise DraftRefused(f"draft Message-ID {message_id[:80]!r} is not a valid msg-id")
    parent = safe_msg_id(in_reply_to)
    chain = safe_msg_ids(references, MAX_REFERENCES - 1) + ((parent,) if parent else ())
    return DraftHeaders(person(*me, role="your own address (me.email)",
                               fix="set me.email in the config to a plain address"),
                        person(*to, role="the recruiter's address",
                               fix="reply to this message by hand"),
                        safe_text(subject, MAX_SUBJECT) or "Re: your message", when, own_id,
                        parent, _unique(chain) if parent else ())


def person(name: str, address: str, role: str, fix: str) -> Person:
    """A display name made safe and an address parsed and re-serialised, or DraftRefused."""
    return Person(safe_text(name, MAX_NAME, drop='"\\'), safe_addr_spec(address, role, fix))


def safe_addr_spec(value: str, role: str, fix: str = "") -> str:
    """`local@domain` with a dot-atom local part and an LDH (IDNA-encoded) domain."""
    def refuse(why: str) -> DraftRefused:
        return DraftRefused(f"{role} {value[:80]!r} {why}" + (f"; {fix}" if fix else ""))

    if len(value) > 254 or "@" not in value or _ENCODED_WORD_START in value:
        raise refuse("is not a plain address like name@example.com")
    local, domain = value.strip().rsplit("@", 1)
    if len(local) > 64 or not _LOCAL_PART.match(local):
        raise refuse("has a part before @ that is not a plain (dot-atom) name")
    ascii_domain = _ascii_domain(domain.rstrip("."))
    if not ascii_domain:
        raise refuse("has a domain that is not a valid host name")
    return f"{local}@{ascii_domain}"


def _ascii_domain(domain: str) -> str:
    """The domain as lower-case ASCII LDH labels (IDNA for non-ASCII), or '' when invalid."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower() if domain else ""
    except UnicodeError:
        return ""
    labels = ascii_domain.split(".")
    ok = ascii_domain and len(ascii_domain) <= 253 and all(_LABEL.match(x) for x in labels)
    return ascii_domain if ok else ""


def safe_text(value: str, limit: int, drop: str = "") -> str:
    """Controls, format characters and line separators become spaces, runs of space collapse,
    encoded-word syntax is broken up (`=?` → `= ?`), and the text is cut to `limit` chars."""
    chars = (" " if unicodedata.category(c) in _UNSAFE_CATEGORIES or c.isspace() else c
             for c in value[: limit * 4] if c not in drop)
    text = " ".join("".join(chars).split())
    while _ENCODED_WORD_START in text:
        text = text.replace(_ENCODED_WORD_START, "= ?")
    return text[:limit].rstrip()


def safe_msg_id(value: str) -> str:
    """The value when it is exactly one strict `<left@right>` msg-id, else ''."""
    value = value.strip()
    ok = len(value) <= MAX_MSG_ID and _ENCODED_WORD_START not in value and _MSG_ID.match(value)
    return value if ok else ""


def safe_msg_ids(values: tuple[str, ...], limit: int) -> tuple[str, ...]:
    """The last `limit` valid msg-ids; invalid ones are dropped, never repaired."""
    valid = [v for v in (safe_msg_id(x) for x in values[-4 * limit:]) if v]
    return tuple(valid[-limit:]) if limit > 0 else ()


def _unique(ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reversed(ids)))[::-1]


# -- writing ----------------------------------------------------------------------------
def compose_draft(headers: DraftHeaders, flowed_body: str) -> bytes:
    """The draft as CRLF bytes: header block written and folded here, flowed text/plain body."""
    encoding, body = _body_bytes(flowed_body)
    fields = [("Date", [email.utils.format_datetime(headers.date)]),
              ("From", _address_words(headers.sender)),
              ("To", _address_words(headers.recipient)),
              ("Subject", _text_words(headers.subject)),
              ("Message-ID", [headers.message_id])]
    if headers.in_reply_to:
        fields += [("In-Reply-To", [headers.in_reply_to]),
                   ("References", list(headers.references)),
                   ("X-Mutt-References", [headers.in_reply_to])]
    fields += [("MIME-Version", ["1.0"]),
               ("Content-Type", ["text/plain;", "charset=utf-8;", "format=flowed"]),
               ("Content-Transfer-Encoding", [encoding])]
    head = "".join(_fold(name, words) for name, words in fields)
    return head.encode("ascii") + b"\r\n" + body


def _fold(name: str, words: list[str]) -> str:
    """`Name: w1 w2…` folded before a word whenever the line would pass LINE characters."""
    lines = [f"{name}:"]
    for word in words:
        if len(lines[-1]) + 1 + len(word) > LINE and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + word
    return "\r\n".join(lines) + "\r\n"


def _address_words(who: Person) -> list[str]:
    """A display name as one quoted string (ASCII) or encoded-words, then `<addr-spec>`."""
    if not who.name:
        return [f"<{who.addr_spec}>"]
    phrase = [f'"{who.name}"'] if who.name.isascii() else _encoded_words(who.name)
    return [*phrase, f"<{who.addr_spec}>"]


def _text_words(text: str) -> list[str]:
    """Unstructured text: its own words when ASCII and foldable, else RFC 2047 encoded-words."""
    words = text.split(" ")
    if text.isascii() and max(map(len, words)) <= LINE - len("Subject: "):
        return words
    return _encoded_words(text)


def _encoded_words(text: str, max_bytes: int = 39) -> list[str]:
    """`=?utf-8?b?…?=` words short enough for one folded line, split after a space where
    possible (some parsers add a space between adjacent words) and never inside a character."""
    words, chunk = [], ""
    for piece in _PIECE.findall(text):
        if chunk and len((chunk + piece).encode()) > max_bytes:
            words.append(chunk)
            chunk = ""
        for char in piece:
            if len((chunk + char).encode()) > max_bytes:
                words.append(chunk)
                chunk = ""
            chunk += char
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w.encode()).decode('ascii')}?=" for w in words if w]


def _body_bytes(text: str) -> tuple[str, bytes]:
    """7bit when the text is ASCII with short lines, else quoted-printable (trailing spaces of
    flowed lines survive either way)."""
    lines = text.split("\n")
    if text.isascii() and max(map(len, lines)) <= 998:
        return "7bit", "\r\n".join(lines).encode("ascii")
    encoded = quopri.encodestring(text.encode("utf-8"), quotetabs=False)
    return "quoted-printable", encoded.replace(b"\n", b"\r\n")


# -- checking ---------------------------------------------------------------------------
def verify_draft(raw: bytes, intended: DraftHeaders) -> None:
    """Parse the draft back as a mail client would; DraftRefused unless the header set, both
    addresses, subject and threading are exactly the intended ones."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep or b"\x00" in raw or b"\r" in raw.replace(b"\r\n", b"") or \
            b"\n" in raw.replace(b"\r\n", b""):
        raise DraftRefused("draft refused: not CRLF text with a header block")
    names = _field_names(head)
    if Counter(names) != Counter(n.lower() for n in intended.field_names()):
        raise DraftRefused(f"draft refused: headers {sorted(names)} are not the intended ones")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    for field, who in (("From", intended.sender), ("To", intended.recipient)):
        _check_person(parsed[field], str(legacy[field]), field, who)
    _check_value(str(parsed["Subject"]), intended.subject, "Subject")
    _check_value(str(parsed["Message-ID"]), intended.message_id, "Message-ID")
    if intended.in_reply_to:
        _check_value(str(parsed["In-Reply-To"]), intended.in_reply_to, "In-Reply-To")
        _check_value(str(parsed["References"]), " ".join(intended.references), "References")
    if parsed.get_params() != [("text/plain", ""), ("charset", "utf-8"), ("format", "flowed")]:
        raise DraftRefused("draft refused: Content-Type is not flowed UTF-8 text")


def _field_names(head: bytes) -> list[str]:
    """Lower-cased field names of a header block; DraftRefused on any malformed line."""
    names: list[str] = []
    for line in head.split(b"\r\n"):
        if len(line) > 998 or not line.isascii():
            raise DraftRefused("draft refused: a header line is too long or not ASCII")
        if line[:1] in (b" ", b"\t") and names:
            continue
        name, colon, _ = line.partition(b":")
        if not colon or not _FIELD_NAME.match(name):
            raise DraftRefused(f"draft refused: malformed header line {line[:60]!r}")
        names.append(name.decode("ascii").lower())
    return names


def _check_person(header: Any, raw_value: str, field: str, who: Person) -> None:
    """Both the modern and the legacy (compat32) parser must see exactly this one mailbox."""
    modern = [("".join(a.display_name.split()), a.addr_spec)
              for a in getattr(header, "addresses", ())]
    legacy = [addr for _, addr in email.utils.getaddresses([raw_value])]
    wanted = [("".join(who.name.split()), who.addr_spec)]
    if modern != wanted or legacy != [who.addr_spec] or header.defects:
        raise DraftRefused(f"draft refused: {field} parses as {modern!r}, not "
                           f"{[(who.name, who.addr_spec)]!r}")


def _check_value(found: str, wanted: str, field: str) -> None:
    if " ".join(found.split()) != wanted:
        raise DraftRefused(f"draft refused: {field} reads back as {found[:80]!r}")
