"""Reply drafts: extract who wrote and about what, render a template, build the email. Pure.

Message content reaches templates only as data in a sandboxed Jinja2 environment, and
reaches the draft's headers only through `compose`, which validates every value, writes
the header block itself and parses the bytes back, so nothing a sender writes can add a
header or a recipient.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from . import flowed
from .compose import DRAFT_KEYWORD, compose_draft, draft_headers, safe_addr_spec, verify_draft
from .config import Me
from .extract import Extraction, Field, extract, recruiter_name
from .given import Given, given_in
from .language import SUPPORTED, language_of
from .message import Message

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fwd?|wg)\s*(\[\d+\])?\s*:\s*)+", re.I)
STANCE_TEMPLATES = {"open": "open.txt.j2", "selective": "selective.txt.j2",
                    "not-looking": "not-looking.txt.j2"}
REFERRAL_TEMPLATE = "referral.txt.j2"
QUESTIONS = ("job_description", "salary", "location")  # asked for unless the message gave them
MAX_SUBJECT = 400


@dataclass(frozen=True)
class Details:
    """What the reply can say about the outreach: values only above the confidence threshold."""

    first_name: str  # "" when unknown or unsure; for CJK names the form a greeting uses
    company: str  # "" when unknown or unsure
    role: str  # "" when unknown or unsure
    full_name: str = ""
    employer: str = ""  # the company when it is the one hiring (not a recruitment agency)
    language: str = "en"
    extraction: Extraction | None = None
    given: Given = Given()

    @property
    def greeting(self) -> str:
        return f"Hi {self.first_name}," if self.first_name else "Hi there,"


@dataclass(frozen=True)
class Reply:
    """A rendered draft ready to APPEND, with its deterministic Message-ID."""

    message_id: str
    raw: bytes
    to: str
    details: Details
    known_ids: tuple[str, ...] = ()  # every Message-ID form this draft may have been given


def extract_details(message: Message) -> Details:
    """Language, then recruiter first name, company and role, each '' when not sure enough."""
    language, _ = language_of(message)
    found = extract(message, language)
    person = recruiter_name(message, message.text[:6000])
    company = _usable(found.company)
    return Details(first_name=_usable(found.first_name), company=company,
                   role=_usable(found.role), full_name=_usable(person),
                   employer=company if found.employer else "", language=language,
                   extraction=found, given=given_in(message))


def _usable(field: Field) -> str:
    return field.value if field.usable else ""


def template_environment(user_dir: Path | None) -> SandboxedEnvironment:
    """Sandboxed Jinja2: the user's template dir first, then the templates shipped here."""
    loaders: list[BaseLoader] = [FileSystemLoader(str(user_dir))] if user_dir and user_dir.is_dir() else []
    loaders.append(PackageLoader("triage", "templates"))
    env = SandboxedEnvironment(loader=ChoiceLoader(loaders), undefined=StrictUndefined,
                               autoescape=False, keep_trailing_newline=True)
    env.filters["pick"] = lambda keys, words: [words[key] for key in keys if key in words]
    env.filters["listing"] = listing
    env.filters["bullets"] = lambda items: "\n".join(f"- {item}" for item in items)
    return env


def listing(items: list[str], conjunction: str, separator: str = ", ") -> str:
    """"a, b and c" in the template's language; just the separator when `conjunction` is ""."""
    if len(items) <= 1 or not conjunction:
        return separator.join(items)
    space = "" if all(ord(c) >= 0x2E80 for c in conjunction) else " "  # 和: no spaces in CJK
    return f"{separator.join(items[:-1])}{space}{conjunction}{space}{items[-1]}"


def template_names(template: str, language: str) -> list[str]:
    """The template for the message's language first, English (the top level) as fallback."""
    return [f"{language}/{template}", template] if language in SUPPORTED and language != "en" \
        else [template]


def draft_message_ids(fingerprint: str, me: Me) -> tuple[str, str]:
    """Deterministic ids for the draft of one source message: the neutral form written now
    (shaped like a mail client's random UUID id) and the `<triage.…>` form of drafts made
    before 0.2, so both are recognised in the ledger and in Drafts."""
    digest = hashlib.sha256(f"{me.email.lower()}\n{fingerprint}".encode()).digest()[:16]
    legacy_domain = me.email.rsplit("@", 1)[-1] or "triage.invalid"
    domain = safe_addr_spec(me.email, "your own address (me.email)").rsplit("@", 1)[1]
    neutral = uuid.UUID(bytes=digest, version=4)
    return f"<{neutral}@{domain}>", f"<triage.{digest.hex()}@{legacy_domain}>"


def draft_message_id(fingerprint: str, me: Me) -> str:
    """The Message-ID a new draft for this source message gets."""
    return draft_message_ids(fingerprint, me)[0]


def reply_subject(subject: str) -> str:
    """`Re: <original>` without stacking prefixes."""
    base = _REPLY_PREFIX.sub("", subject).strip()
    return f"Re: {base}" if base else "Re: your message"


def render_body(env: SandboxedEnvironment, template: str, details: Details, me: Me,
                message: Message) -> str:
    """The reply text from a template in the message's language; content enters only as data."""
    given = details.given
    known = [key for key in QUESTIONS if getattr(given, key)]
    return env.select_template(template_names(template, details.language)).render(
        greeting=details.greeting, first_name=details.first_name, full_name=details.full_name,
        company=details.employer, agency=details.company if not details.employer else "",
        role=details.role, language=details.language,
        company_known=bool(details.employer), role_known=bool(details.role),
        role_phrase=f"the {details.role} role" if details.role else "the role",
        given=given, known=known, missing=[key for key in QUESTIONS if key not in known],
        subject=message.subject, me=me, first_name_of_me=me.name.split()[0] if me.name else "",
    ).strip() + "\n"


def build_reply(message: Message, fingerprint: str, me: Me, env: SandboxedEnvironment,
                template: str, now: dt.datetime | None = None) -> Reply:
    """The draft as CRLF bytes: From me, To Reply-To/From, threaded, original quoted below,
    checked by parsing it back (DraftRefused when it is not exactly what was intended)."""
    details = extract_details(message)
    recipient = message.reply_to or message.sender
    if recipient is None:
        raise ValueError("message has no sender to reply to")
    ids = draft_message_ids(fingerprint, me)
    headers = draft_headers((me.name, me.email), (recipient.name, recipient.email),
                            reply_subject(message.subject[:MAX_SUBJECT]),
                            (now or dt.datetime.now(dt.timezone.utc)).astimezone(), ids[0],
                            message.message_id, message.references)
    text = render_body(env, template, details, me, message)
    body = flowed.encode([*flowed.own_lines(text.rstrip("\n")), flowed.Line(0, ""),
                         *quote_original(message)])
    raw = compose_draft(headers, body)
    verify_draft(raw, headers)
    return Reply(ids[0], raw, headers.recipient.addr_spec, details, ids)


def quote_original(message: Message, max_lines: int = 60) -> list[flowed.Line]:
    """`On <date>, <sender> wrote:` and the original text one quote level deeper."""
    who = message.sender.name or message.sender.email if message.sender else "the sender"
    lines = message.text.strip().split("\n")
    when = f"On {message.date}, " if message.date else ""
    more = [flowed.Line(1, "[…]")] if len(lines) > max_lines else []
    return [flowed.Line(0, f"{when}{who} wrote:"), *flowed.quoted_lines("\n".join(lines), max_lines),
            *more]


def template_for(label: str, stance: str) -> str:
    """The template file for a drafted label and the user's stance."""
    return REFERRAL_TEMPLATE if label == "referral" else STANCE_TEMPLATES[stance]


def preview(message: Message, fingerprint: str, me: Me, env: SandboxedEnvironment,
            label: str = "targeted") -> dict[str, object]:
    """The draft triage would make, as data: what `triage draft --json` prints."""
    reply = build_reply(message, fingerprint, me, env, template_for(label, me.stance))
    draft = email.message_from_bytes(reply.raw, policy=email.policy.default)
    body = draft.get_content() if isinstance(draft, EmailMessage) else ""
    details, found = reply.details, reply.details.extraction
    confidence = {name: round(getattr(found, name).confidence, 2) if found else 0.0
                  for name in ("first_name", "company", "role")}
    return {"first_name": details.first_name, "company": details.company,
            "company_is_employer": bool(details.employer), "role": details.role,
            "language": details.language, "stance": me.stance, "label": label,
            "subject": str(draft["Subject"]), "to": str(draft["To"]), "from": str(draft["From"]),
            "body": body.replace("\r\n", "\n"), "confidence": confidence,
            "given": {key: getattr(details.given, key) for key in (*QUESTIONS, "why_me")}}
