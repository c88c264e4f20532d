"""What the recruiter already told us, so a reply acknowledges it instead of asking again. Pure.

Each test errs towards "not given": asking for something that was given is a small
annoyance, thanking them for something they never wrote would be a visible mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .message import Message

_MONEY = re.compile(
    r"(?:[$£€¥₩]|\b(?:USD|EUR|GBP|CHF|SEK|PLN|TRY|BRL|MXN|JPY|CNY|KRW)\b)[ \t]?\d"
    r"|\d[\d.,]*[ \t]?(?:k|K|000)?[ \t]?(?:[$£€]|k€|€|(?i:euros?)|EUR|zł|PLN|kr|SEK|TL|₺|reais|R\$)"
    r"|\d[\d.,]*[ \t]?(?:万円|万元|만원|원|元)"
    r"|\b\d{2,3}[ \t]?(?:k|K)\b(?:[ \t]?[-–][ \t]?\d{2,3}[ \t]?(?:k|K))?")
_PAY_WORDS = re.compile(
    r"(?i:salary|base|compensation|\bpay\b|\brange\b|bonus|equity|gehalt|vergütung|salaire|"
    r"rémunération|salario|sueldo|salário|remuneração|retribuzione|stipendio|salaris|"
    r"wynagrodzeni|lön|maaş|ücret)|年収|給与|月給|薪资|薪酬|年薪|연봉|급여")
_LOCATION = re.compile(
    r"(?i:\bremote\b|\bhybrid\b|on-?site|in the office|based in|located in|relocation|"
    r"homeoffice|home-office|standort|vor ort|télétravail|sur site|basé à|basée à|remoto|"
    r"híbrido|presencial|sede|ibrido|in sede|thuiswerken|hybride|op locatie|zdaln\w*|"
    r"hybrydow\w*|distans|på plats|uzaktan|hibrit|ofiste)|勤務地|リモート|工作地点|远程|"
    r"근무지|재택|(?i:(?:office|site|hub|headquarters|campus|plant|team) (?:is )?(?:in|at) [A-Z]|"
    r"siège|kontor i|sede de|sede a)")
_JD_WORDS = re.compile(
    r"(?i:job description|\bJD\b|job spec|full spec|stellenbeschreibung|stellenanzeige|"
    r"fiche de poste|descriptif|descripción del puesto|descrição da vaga|descrizione|"
    r"vacaturetekst|functieomschrijving|opis stanowiska|tjänstebeskrivning|iş tanımı|ilan)|"
    r"求人票|募集要項|职位描述|岗位职责|채용공고|직무기술서")
_ATTACHED = re.compile(r"(?i:attached|attachment|enclosed|anbei|im anhang|ci-joint|en pièce jointe|"
                       r"adjunt|em anexo|anexo|in allegato|allegat|bijgevoegd|in de bijlage|"
                       r"w załączniku|bifogad|ekte|ektedir)|添付|附件|첨부")
_WHY_ME = re.compile(
    r"(?i:your (?:talk|post|paper|article|blog|work|profile|background|experience|session|"
    r"case study|project|repo|github|research|years)|caught my eye|came across|came up|"
    r"i (?:read|saw|watched|noticed|came across)|"
    r"ihr(?:e|en)? (?:vortrag|erfahrung|profil|arbeit|zeit)|votre (?:parcours|expérience|article|"
    r"travail|profil)|tu (?:experiencia|trabajo|perfil)|sua (?:experiência|palestra)|"
    r"seu (?:trabalho|perfil)|o seu trabalho|il suo (?:percorso|lavoro|profilo)|"
    r"uw (?:werk|ervaring|profiel)|jouw (?:ervaring|werk|profiel)|pana doświadczenie|"
    r"twój projekt|twoje doświadczenie|din (?:erfarenhet|tid|bakgrund)|deneyiminiz|"
    r"projelerinizi|profiliniz)|ご経験|ご発表|拝見|拜读|看到您|您的|발표|경험")


@dataclass(frozen=True)
class Given:
    """Which of the usual questions the message already answers."""

    salary: bool = False
    location: bool = False
    job_description: bool = False
    why_me: bool = False

    @property
    def everything(self) -> bool:
        return self.salary and self.location and self.job_description


def given_in(message: Message) -> Given:
    """What the message says about pay, place, the job description and why they wrote."""
    text = re.sub(r"^\s*>.*$", "", message.text[:8000], flags=re.M)
    return Given(salary=_mentions_pay(text), location=_mentions_place(text),
                 job_description=_has_job_description(message, text),
                 why_me=bool(_WHY_ME.search(text)))


def _mentions_pay(text: str) -> bool:
    """A sum of money near a word about pay, on the same line."""
    return any(_MONEY.search(line) and _PAY_WORDS.search(line) for line in text.splitlines())


def _mentions_place(text: str) -> bool:
    return bool(_LOCATION.search(text))


def _has_job_description(message: Message, text: str) -> bool:
    """Attached, or linked, and called a job description."""
    if not _JD_WORDS.search(text):
        return False
    return message.attachment_count > 0 or bool(_ATTACHED.search(text)) or message.link_count > 0
