"""Who wrote and about what: recruiter first name, company and role, each with a confidence. Pure.

Right or silent: every value comes from a pattern anchored on how recruiters introduce
themselves, their client and the role, in the languages triage answers in, and gains
confidence when a second source agrees (the subject, the signature, the sender's domain).
Values never span a line, never come from a squashed domain or a delivery platform, and a
department in a signature title line is not a company. Templates use a value only at or
above `THRESHOLD`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Iterator

from .features import FREEMAIL
from .message import Address, Message
from .patterns import (ABBREVIATIONS, AGENCY, COMMA_TITLES, COMPANY_PATTERNS, DEPARTMENT_WORDS, HIRING,
                       INLINE_SIGN_OFF, NAME_PATTERNS,
                       NOT_A_NAME, NOT_AN_ORG, ORG_SUFFIX, PLATFORMS, ROLE_PATTERNS, ROLE_STOP,
                       SIGN_OFF, TITLE_WORDS, WEAK_ROLES)

THRESHOLD = 0.6
MAX_WORDS = 7
_HAN_OR_HANGUL = re.compile(r"[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]")
_CONNECTORS = frozenset("of for and & de des du la le del di da do der für van von i e y und "
                        "d' l' och ve".split())
_LOWER_OK = _CONNECTORS | {"-"}
HONORIFICS = frozenset("dr mr ms mrs miss prof principal coach rev chef sr herr frau mme m".split())


@dataclass(frozen=True)
class Field:
    """One extracted value and how sure we are of it (0..1); "" and 0 when not found."""

    value: str = ""
    confidence: float = 0.0

    @property
    def usable(self) -> bool:
        return bool(self.value) and self.confidence >= THRESHOLD


@dataclass(frozen=True)
class Extraction:
    """What a reply may say about the outreach."""

    first_name: Field
    company: Field
    role: Field
    employer: bool = False  # the company is the one hiring, not a recruitment agency


def extract(message: Message, language: str = "en") -> Extraction:
    """Recruiter first name, company and role of a message written in `language`."""
    text = message.text[:6000]
    person = recruiter_name(message, text)
    company, named_as_hiring = company_of(message, text, person.value)
    return Extraction(first_name=_greeting_name(person, language), company=company,
                      role=_without_company(role_of(message, unwrap(text)), company.value),
                      employer=named_as_hiring or not AGENCY.search(company.value))


def _without_company(role: Field, company: str) -> Field:
    """"다온바이오 연구소장" → "연구소장": a subject often puts the company before the title."""
    if company and role.value.startswith(company + " "):
        return Field(role.value[len(company) + 1:], role.confidence)
    return role


def unwrap(text: str, width: int = 55) -> str:
    """Join hard-wrapped prose lines (long, no closing punctuation); short lines stay apart."""
    out: list[str] = []
    for line in text.splitlines():
        previous = out[-1] if out else ""
        if (len(previous) >= width and line.strip() and not previous.rstrip().endswith(_CLOSERS)
                and not line.lstrip().startswith(("-", "*", "•", ">"))):
            out[-1] = f"{previous.rstrip()} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)


_CLOSERS = (".", "!", "?", ":", ";", "。", "！", "？")


# -- first name ---------------------------------------------------------------------------------
def recruiter_name(message: Message, text: str) -> Field:
    """The recruiter's full name as written: display name, platform notice or sign-off."""
    recipient = {w.lower() for a in message.to for w in re.findall(r"\w+", a.name)}
    display = next((n for n in map(_person_in_display, (message.reply_to, message.sender)) if n), "")
    notice = next((m.group("name").strip() for p in NAME_PATTERNS for m in [p.search(text)] if m), "")
    signed = _name_after_sign_off(text)
    candidates = [c for c in (display, notice, signed)
                  if c and _first_token(c).lower() not in recipient]
    if not candidates:
        return Field()
    best = candidates[0]
    agree = sum(1 for c in candidates[1:] if _first_token(c) == _first_token(best))
    base = 0.8 if best in (display, notice) else 0.65
    return Field(best, min(0.99, base + 0.15 * agree))


def _person_in_display(address: Address | None) -> str:
    if address is None or not address.name or "@" in address.name:
        return ""
    name = re.split(r"\s+(?:via|from|at|@|\||-|–|through)\s+|\s*\(", address.name, maxsplit=1,
                    flags=re.I)[0].strip(" \"'")
    if "," in name:  # "Lowe, Hannah"
        last, _, first = name.partition(",")
        name = f"{first.strip()} {last.strip()}".strip()
    if not name or NOT_A_NAME.search(name) or name.lower() in PLATFORMS:
        return ""
    return name if _looks_like_name(name) else ""


def _looks_like_name(name: str) -> bool:
    words = name.split()
    if _HAN_OR_HANGUL.search(name):
        return 1 < len(name.replace(" ", "")) <= 8
    return 0 < len(words) <= 4 and all(re.fullmatch(r"[^\W\d_][\w'’.-]*", w) for w in words) \
        and words[0][0].isupper()


def _name_after_sign_off(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    for index in range(len(lines) - 1, -1, -1):
        if SIGN_OFF.match(lines[index]):
            for follower in lines[index + 1:index + 3]:
                follower = re.sub(r"\s*(?:드림|올림|拝|敬上)$", "", follower)
                if follower and _looks_like_name(follower) and not NOT_A_NAME.search(follower):
                    return follower
            return ""
    inline = INLINE_SIGN_OFF.search(text[-800:])
    return inline.group("name") if inline else ""


def _first_token(name: str) -> str:
    words = [w for w in name.split() if w.rstrip(".").lower() not in HONORIFICS]
    return words[0] if words else ""


def _greeting_name(person: Field, language: str) -> Field:
    """The given name; for CJK names the form a greeting uses (family name in Japanese)."""
    name = person.value
    if not name:
        return Field()
    if _HAN_OR_HANGUL.search(name):
        value = name.split()[0] if language == "ja" and " " in name else name.replace(" ", "")
        return Field(value, person.confidence)
    word = _first_token(name)
    if not re.fullmatch(r"[^\W\d_][\w'’-]*", word) or not 1 < len(word) < 30:
        return Field()
    return Field(word.capitalize() if word.isupper() else word, person.confidence)


# -- company ------------------------------------------------------------------------------------
def company_of(message: Message, text: str, person: str = "") -> tuple[Field, bool]:
    """The hiring company when named, else the recruiter's firm as it writes its own name;
    and whether the mail names it as the company that hires."""
    subject, core = message.subject, _domain_core(message)
    candidates: list[tuple[str, float]] = []
    hiring: set[str] = set()  # named as the company that hires
    prose = unwrap(text)
    for pattern, confidence in COMPANY_PATTERNS:
        for source in _sources(pattern, subject, prose):
            for match in pattern.finditer(source):
                org = clean_org(match.group("org"))
                if org and not _is_person(org, person):
                    candidates.append((org, confidence))
                    hiring.update([org] if confidence >= HIRING else [])
    candidates.extend(_signature_orgs(text, core))
    scored = [(org, min(0.99, conf + (0.1 if core and _matches_domain(org, core) else 0.0)
                        + (0.1 if _mentions(org, subject) else 0.0)))
              for org, conf in candidates]
    named = [pair for pair in scored if pair[0] in hiring]
    if not scored:
        return Field(), False
    org, confidence = max(named or scored, key=lambda pair: (pair[1], len(pair[0])))
    return Field(org, round(confidence, 2)), org in hiring


def _sources(pattern: re.Pattern[str], subject: str, text: str) -> tuple[str, ...]:
    """Patterns anchored at a line start read the subject only: a body line is not a title.
    A pattern that spells CJK or Hangul words reads only text that has such characters (the
    Korean role patterns cost 2 ms a message when run over English text)."""
    sources = (subject,) if pattern.pattern.startswith("^") else (subject, text)
    if _spells_wide_words(pattern):
        return tuple(s for s in sources if _HAN_OR_HANGUL.search(s))
    return sources


@functools.cache
def _spells_wide_words(pattern: re.Pattern[str]) -> bool:
    """True when a CJK or Hangul character is written in the pattern outside any [class]."""
    outside_classes = re.sub(r"\[(?:\\.|[^\]])*\]", "", pattern.pattern)
    return bool(_HAN_OR_HANGUL.search(outside_classes))


def clean_org(raw: str) -> str:
    """A company name as written, cut at sentence ends; "" when it is not one."""
    words = _until_sentence_end(raw.split())
    cut = next((i for i, w in enumerate(words) if (w[:1].islower() and w.lower() not in _LOWER_OK
                                                    and not re.match(r"[ld]['’]\w", w))
                or re.match(r"I(?:['’]|$)", w)), None)
    words = words[:cut]
    while words and (words[-1].lower() in _LOWER_OK or words[-1] == "Sp."):
        words.pop()
    org = " ".join(words).strip(" '’\"-–")
    org = re.sub(r"['’](?:s|de|da|te|ta|den|dan|ten|tan|in|ın|un|ün)$", "", org)
    if not org or len(words) > MAX_WORDS or org.lower() in PLATFORMS or org in NOT_AN_ORG:
        return ""
    if not _HAN_OR_HANGUL.search(org) and not org[0].isupper():
        return ""
    if words and words[-1].lower() in DEPARTMENT_WORDS:
        return ""
    return org


def _until_sentence_end(tokens: list[str]) -> list[str]:
    """Tokens up to the first that ends a sentence or a clause ("Bank. I'll" → "Bank")."""
    words: list[str] = []
    for index, word in enumerate(tokens):
        if not re.match(r"[\w&(]", word):
            break
        bare = word.rstrip(",;:!?)")
        if bare.endswith(".") and bare not in ABBREVIATIONS:
            words.append(bare.rstrip("."))
            break
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        title_comma = word.endswith(",") and bare.lower() in COMMA_TITLES and following[:1].isupper()
        words.append(word if title_comma else bare)
        if bare != word and not title_comma:
            break
    return words


def _signature_orgs(text: str, core: str) -> Iterator[tuple[str, float]]:
    """Company lines in the signature block: after a title, or its own line matching the domain."""
    lines = [line.strip() for line in text.strip().splitlines()][-10:]
    for line in lines:
        if not line or len(line) > 80 or "@" in line:
            continue
        parts = re.split(_SIGNATURE_SEPARATORS, line)
        for part in parts if len(parts) > 1 and _is_title(parts[0]) else parts:
            org = clean_org(part)
            if org and core and _matches_domain(org, core):
                yield org, 0.75
            elif org and not _is_title(org) and ORG_SUFFIX.search(org):
                yield org, 0.65


def _is_title(text: str) -> bool:
    return bool(TITLE_WORDS.search(text)) and not ORG_SUFFIX.search(text)


def _is_person(org: str, person: str) -> bool:
    return bool(person) and org.split()[0] == person.split()[0]


def _domain_core(message: Message) -> str:
    """The squashed registrable name of the sender's domain ("" for freemail and platforms)."""
    for address in (message.reply_to, message.sender):
        if not address or "@" not in address.email:
            continue
        domain = address.email.rsplit("@", 1)[1].lower()
        labels = [label for label in domain.split(".") if label not in _PLACEHOLDER_LABELS]
        if domain in FREEMAIL or len(labels) < 2:
            continue
        second_level = len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2
        core = labels[-3] if second_level else labels[-2]
        if core not in PLATFORMS and not any(p in domain for p in PLATFORMS):
            return _squash(core)
    return ""


_SIGNATURE_SEPARATORS = r"\s*(?:,|\||·|•|–|—| - | at | bei | chez )\s*"
_PLACEHOLDER_LABELS = frozenset("example invalid test localhost".split())
_SECOND_LEVEL = frozenset("co com org net ac gov edu ne or".split())


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _matches_domain(org: str, core: str) -> bool:
    squashed, first = _squash(org), _squash(org.split()[0])
    return len(core) >= 4 and len(squashed) >= 4 and (
        squashed.startswith(core) or core.startswith(squashed) or
        (len(first) >= 5 and core.startswith(first)))


def _mentions(value: str, text: str) -> bool:
    return value.lower() in text.lower()


# -- role ---------------------------------------------------------------------------------------
def role_of(message: Message, text: str) -> Field:
    """The role title as written, whole; confidence rises when subject and body agree."""
    candidates: list[tuple[str, float]] = []
    for pattern, confidence in ROLE_PATTERNS:
        for source in _sources(pattern, message.subject, text[:3000]):
            for match in pattern.finditer(source):
                role = clean_role(match.group("role"))
                if role:
                    candidates.append((role, confidence))
    if not candidates:
        return Field()
    body, subject = text.lower(), message.subject.lower()
    scored = [(role, min(0.99, conf + (0.1 if role.lower() in body and role.lower() in subject
                                       else 0.0) - (0.25 if role.lower() in WEAK_ROLES else 0.0)
                         - (0.0 if TITLE_WORDS.search(role) or _HAN_OR_HANGUL.search(role) else 0.2)))
              for role, conf in candidates]
    best = max(scored, key=lambda pair: (pair[1], len(pair[0])))
    return Field(best[0], round(best[1], 2))


def clean_role(raw: str) -> str:
    """A role title as written, without leading articles or trailing 'role'/'opening'."""
    words = _until_sentence_end(raw.split())
    while words and (words[0] in ROLE_STOP or words[0].lower() in _CONNECTORS):
        words = words[1:]
    while words and (words[-1].lower() in ROLE_STOP_TAIL or words[-1].lower() in _LOWER_OK):
        words = words[:-1]
    role = " ".join(words).strip(" ,.:;-–")
    if not role or len(words) > MAX_WORDS:
        return ""
    if not _HAN_OR_HANGUL.search(role) and not role[0].isupper():
        return ""
    if len(words) == 1 and (role.lower() in WEAK_ROLES or (role.isupper() and len(role) < 7)
                            or not (TITLE_WORDS.search(role) or _HAN_OR_HANGUL.search(role))):
        return ""
    return role


ROLE_STOP_TAIL = frozenset("role position opening opportunity job vacancy post search poste "
                           "puesto vacante vaga posizione stelle position functie stanowisko "
                           "tjänst pozisyonu".split())
