"""Reply drafts: extract who wrote and about what, render a template, build the email. Pure.

Message content reaches templates only as data in a sandboxed Jinja2 environment, and
reaches the draft's headers only through `compose`, which validates every value, writes
the header block itself and parses the bytes back, so nothing a sender writes can add a
header or a recipient.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from . import flowed
from .compose import compose_draft, draft_headers, safe_addr_spec, verify_draft
from .config import Me
from .features import FREEMAIL
from .message import Address, Message

ATS_DOMAINS = frozenset("""greenhouse.io greenhouse-mail.io lever.co hire.lever.co
myworkday.com workday.com linkedin.com smartrecruiters.com ashbyhq.com icims.com taleo.net
jobvite.com recruitee.com workable.com teamtailor.com bamboohr.com indeed.com""".split())
_NOT_A_NAME = re.compile(r"\b(team|talent|careers?|recruit\w*|jobs?|hr|hiring|noreply|no-reply|"
                         r"people|info|admin|support|notifications?)\b", re.I)
_SIGN_OFF = re.compile(r"^\s*(best|best regards|kind regards|regards|thanks|thank you|cheers|"
                       r"many thanks|warm regards|warmly|all the best|sincerely|talk soon|"
                       r"viele grüße|cordialement|saludos|groeten)[,!.]?\s*$", re.I)
_COMPANY_IN_BODY = re.compile(
    r"\b(?:recruit(?:er|ing)|talent[a-z ]*|sourcer|partner|hiring manager|work|i'm|i am)\s+"
    r"(?:at|with|for)\s+([A-Z][\w&.'-]*(?:\s+[A-Z][\w&.'-]*){0,3})")
_TITLE_LINE = re.compile(
    r"^\s*(?:[A-Z][\w&'.-]*\s+){0,4}?(?:Recruit\w*|Talent\w*|Partner|Manager|Director|Sourcer|"
    r"Consultant|Lead|Head of [\w ]+?|Founder|Co-founder|CEO|CTO|COO|VP[\w ,]*?|Principal|Associate|"
    r"Specialist|Acquisition|Advisor|Executive)\s*(?:,|\||@|\bat\b|–|-)\s*"
    r"([A-Z][\w&'.-]*(?:\s+[A-Z&][\w&'.-]*){0,3})\s*$", re.M)
_HIRING_A = re.compile(
    r"\b(?:hiring|looking for|recruiting|searching for|seeking|to find)\s+(?:an?|our next|a new)\s+"
    r"((?:[A-Z][\w/&+.-]*\s+){0,5}[A-Z][\w/&+.-]*)")
_ROLE_IN_TEXT = re.compile(
    r"(?:\b(?:an?|the|our|this)\s+|^\s*)((?:[A-Z][\w/&+.-]*\s+){0,5}(?:[A-Z][\w/&+.-]*))\s+"
    r"(?:role|position|opening|opportunity|job|vacancy)\b")
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fwd?|wg)\s*(\[\d+\])?\s*:\s*)+", re.I)
_ROLE_STOP = {"The", "This", "A", "An", "Our", "New", "Exciting", "Great", "Quick", "Your", "Hi"}
STANCE_TEMPLATES = {"open": "open.txt.j2", "selective": "selective.txt.j2",
                    "not-looking": "not-looking.txt.j2"}
REFERRAL_TEMPLATE = "referral.txt.j2"
MAX_SUBJECT = 400
DRAFT_KEYWORD = "triage-draft"  # on the draft in Drafts only: keywords never travel with mail


@dataclass(frozen=True)
class Details:
    """What the reply can say about the outreach; fallbacks are natural phrases."""

    first_name: str  # "" when unknown
    company: str  # "" when unknown
    role: str  # "" when unknown

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
    """Recruiter first name, company and role, each '' when not found."""
    return Details(_first_name(message), _company(message), _role(message))


def _first_name(message: Message) -> str:
    for address in (message.reply_to, message.sender):
        name = _name_from_display(address)
        if name:
            return name
    return _name_from_sign_off(message.text)


def _name_from_display(address: Address | None) -> str:
    if address is None or not address.name or "@" in address.name:
        return ""
    display = re.split(r"\s+(via|from|at|@|\||-)\s+", address.name, maxsplit=1, flags=re.I)[0]
    if _NOT_A_NAME.search(display):
        return ""
    if "," in display:
        parts = [p.strip() for p in display.split(",")]
        display = parts[1] if len(parts) > 1 and parts[1] else parts[0]
    word = display.split()[0] if display.split() else ""
    if not (word.isalpha() and 1 < len(word) < 30):
        return ""
    return word.capitalize() if word.isupper() else word


def _name_from_sign_off(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    for index, line in enumerate(lines):
        if _SIGN_OFF.match(line):
            for follower in lines[index + 1:index + 3]:
                word = follower.split()[0] if follower.split() else ""
                if word.isalpha() and word[0].isupper() and 1 < len(word) < 30:
                    return word
    return ""


def _company(message: Message) -> str:
    for pattern in (_TITLE_LINE, _COMPANY_IN_BODY):
        match = pattern.search(message.text[:4000])
        if match:
            return match.group(1).rstrip(".,")
    replier = message.reply_to or message.sender
    domain = replier.email.rsplit("@", 1)[-1].lower() if replier else ""
    if not domain or domain in FREEMAIL or domain in ATS_DOMAINS:
        return ""
    labels = domain.split(".")
    core = labels[-3] if len(labels) >= 3 and labels[-2] in ("co", "com", "org", "ac") else \
        labels[-2] if len(labels) >= 2 else labels[0]
    if core in ("example", "mail", "email", "localhost", "invalid", "test"):
        return ""
    return " ".join(w.capitalize() for w in re.split(r"[-_]", core) if w)


def _role(message: Message) -> str:
    subject = _REPLY_PREFIX.sub("", message.subject)
    for pattern, text in ((_ROLE_IN_TEXT, subject), (_HIRING_A, message.text[:3000]),
                          (_ROLE_IN_TEXT, message.text[:3000])):
        match = pattern.search(text)
        if match:
            words = match.group(1).split()
            while words and words[0] in _ROLE_STOP:
                words = words[1:]
            if words:
                return " ".join(words)
    return ""


def template_environment(user_dir: Path | None) -> SandboxedEnvironment:
    """Sandboxed Jinja2: the user's template dir first, then the templates shipped here."""
    loaders: list[BaseLoader] = [FileSystemLoader(str(user_dir))] if user_dir and user_dir.is_dir() else []
    loaders.append(PackageLoader("triage", "templates"))
    return SandboxedEnvironment(loader=ChoiceLoader(loaders), undefined=StrictUndefined,
                                autoescape=False, keep_trailing_newline=True)


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
    """The reply text from a template; message content enters only as variables."""
    return env.get_template(template).render(
        greeting=details.greeting, first_name=details.first_name or "there",
        company=details.company or "your company", company_known=bool(details.company),
        role=details.role or "the role", role_known=bool(details.role),
        role_phrase=f"the {details.role} role" if details.role else "the role",
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
