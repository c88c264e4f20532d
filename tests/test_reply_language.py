"""Drafts in the recruiter's language that read the message: templates, what was given, identity."""

from __future__ import annotations

import email
import itertools
import json
import re
import sys
from email.policy import default
from pathlib import Path

import pytest

from fakes import FakeMailbox
from triage import cli
from triage.config import ConfigError, Me, parse_config
from triage.given import Given, given_in
from triage.language import SUPPORTED
from triage.ledger import Ledger
from triage.message import parse_message
from triage.replies import (Details, build_reply, extract_details, render_body,
                            template_environment, template_for)
from triage.runner import RunOptions, Runner
from test_runner import KeywordModel

ENV = template_environment(None)
ME = Me(name="Sam Carter", email="sam@example.net", stance="open", phone="+44 20 7946 0000",
        availability="Tue 14:00")
STANCES = ("open", "selective", "not-looking")


def mail(body: str, subject: str = "Hello", sender: str = "Ann Ames <ann@amessearch.example.com>",
         extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: Sam Carter <sam@example.net>\r\nSubject: {subject}\r\n"
            f"Message-ID: <x@amessearch.example.com>\r\n{extra}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


def body_for(raw: bytes, stance: str = "open", label: str = "targeted", me: Me = ME) -> str:
    message = parse_message(raw)
    return render_body(ENV, template_for(label, stance), extract_details(message),
                       Me(**{**me.__dict__, "stance": stance}), message)


@pytest.mark.parametrize("language,stance,known", list(itertools.product(
    SUPPORTED, (*STANCES, "referral"), (True, False))))
def test_every_template_renders_cleanly_with_and_without_details(language: str, stance: str,
                                                                  known: bool) -> None:
    details = Details(first_name="Ana" if known else "", company="Acme Ltd" if known else "",
                      employer="Acme Ltd" if known else "",
                      role="Data Lead" if known else "", full_name="Ana Ruiz" if known else "",
                      language=language, given=Given(salary=known, location=known, why_me=known))
    message = parse_message(mail("x"))
    template = template_for("referral" if stance == "referral" else "targeted",
                            "open" if stance == "referral" else stance)
    body = render_body(ENV, template, details, ME, message)
    assert "{{" not in body and "{%" not in body and "None" not in body
    french_spacing = re.sub(r" ([;:?!])", r"\1", body) if language == "fr" else body
    assert not re.search(r"[^\S\n]{2,}|\s[,.;:]\s", french_spacing)
    assert "Sam Carter" in body and body.endswith("\n") and "\n\n\n" not in body
    assert ("Acme Ltd" in body) == known and ("Data Lead" in body) == known


@pytest.mark.parametrize("text,greeting", [
    ("Guten Tag Herr Carter,\n\nfür die Brauerei Hellwig suche ich eine Teamleitung Technik. "
     "Hätten Sie Zeit für ein Gespräch?\n\nMit freundlichen Grüßen\nAnn Ames\n", "Guten Tag Ann Ames,"),
    ("Bonjour Monsieur Carter,\n\nnous recherchons un Responsable Conformité pour notre siège. "
     "Seriez-vous disponible ?\n\nCordialement,\nAnn Ames\n", "Bonjour Ann Ames,"),
    ("Carter様\n\n突然のご連絡失礼いたします。人事部の森下と申します。プロセスエンジニアを募集しております。\n\n"
     "何卒よろしくお願いいたします。\n森下 美咲\n", "森下様"),
    ("Sam Carter님, 안녕하세요.\n\n한빛로보틱스 인사팀 김지은입니다. 선임 제어 엔지니어를 채용하고 있습니다.\n\n"
     "감사합니다.\n김지은 드림\n", "김지은님, 안녕하세요."),
])
def test_a_non_english_message_gets_a_reply_in_its_language(text: str, greeting: str) -> None:
    sender = {"森下様": "森下 美咲 <m@x.example.jp>", "김지은님, 안녕하세요.": "김지은 <k@x.example.kr>"}
    raw = mail(text, sender=sender.get(greeting, "Ann Ames <ann@amessearch.example.com>"))
    assert body_for(raw).splitlines()[0] == greeting


def test_a_language_without_templates_gets_the_english_reply() -> None:
    raw = mail("Hei Sam,\n\netsimme kokenutta projektipäällikköä Helsinkiin. Olisitko kiinnostunut "
               "keskustelemaan tästä mahdollisuudesta lähiaikoina?\n\nTerveisin\nAnn\n")
    assert body_for(raw).startswith("Hi Ann,")


GIVEN_ALL = ("Hi Sam,\n\nYour talk on backfills at PyData caught my eye. We're hiring a Staff Data "
             "Engineer: £120k-£140k base, hybrid, two days a week in our Leeds office. The job "
             "description is attached.\n\nBest,\nAnn\n")


def test_nothing_already_given_is_asked_for_and_it_is_acknowledged_instead() -> None:
    raw = mail(GIVEN_ALL, extra="")
    message = parse_message(raw)
    assert given_in(message) == Given(salary=True, location=True, job_description=True, why_me=True)
    body = body_for(raw, "selective")
    assert "It helps that you already mentioned the job description, the pay and the location" in body
    assert "could you share" not in body and "made you think of me" in body
    assert "compensation range" not in body and "remote or on-site" not in body


def test_a_recruitment_agency_is_never_presented_as_the_employer() -> None:
    agency = mail("Hi Sam,\n\nMy client is hiring a Lead Data Engineer in Salford.\n\nBest,\nTom\n"
                  "Tom Whitaker\nSenior Consultant, Harbour Talent\n",
                  sender="Tom Whitaker <tom@harbourtalent.example.co.uk>")
    assert extract_details(parse_message(agency)).company == "Harbour Talent"
    assert "the Lead Data Engineer role." in body_for(agency, "selective").split("\n\n")[1]
    employer = mail("Hi Sam,\n\nI'm a recruiter at Ledgerline. We're hiring a Staff Data Engineer."
                    "\n\nAisha\n", sender="Aisha Rahman <aisha@ledgerline.example.com>")
    assert "the Staff Data Engineer role at Ledgerline." in body_for(employer, "selective")


def test_only_what_is_missing_is_asked_for() -> None:
    body = body_for(mail("Hi Sam, we're hiring a Staff Data Engineer, fully remote. Would you "
                         "talk?\n\nAnn\n"), "selective")
    asked = [line for line in body.splitlines() if line.startswith("- ")]
    assert asked == ["- the job description and the team I'd be joining",
                     "- the compensation range", "- what in my background made you think of me"]


def test_the_german_reply_reads_the_message_too() -> None:
    raw = mail("Guten Tag Herr Carter,\n\nIhr Vortrag hat mich beeindruckt. Für die Brauerei "
               "Hellwig suche ich eine Teamleitung Technik am Standort Bamberg, Gehalt 80.000 "
               "Euro.\n\nMit freundlichen Grüßen\nAnn Ames\n")
    body = body_for(raw, "open")
    assert "Danke auch für die Gehaltsangabe und die Angaben zum Standort." in body
    assert "- die Stellenbeschreibung" in body and "Gehaltsspanne" not in body


@pytest.mark.parametrize("text,expected", [
    ("I can share the full spec before we speak.", False),
    ("The job description is attached.", True),
    ("Here is the job description: https://jobs.example.com/42", True),
])
def test_a_job_description_counts_as_given_only_when_attached_or_linked(text: str,
                                                                         expected: bool) -> None:
    assert given_in(parse_message(mail(text))).job_description is expected


def test_a_number_without_a_word_about_pay_is_not_a_salary() -> None:
    assert not given_in(parse_message(mail("We have 1,400 jobs and 300 engineers."))).salary
    assert given_in(parse_message(mail("Base salary $150-170K plus bonus."))).salary


def test_template_syntax_in_a_message_stays_text() -> None:
    raw = mail("Hi Sam,\n\nI'm a recruiter at {{ 7*7 }} Labs. We're hiring a {% raw %} Lead.\n\n"
               "Best,\n{{ me.email }}\n", sender="{{ config }} <x@evil.example.com>",
               subject="{{ ''.__class__ }} Engineer role")
    body = body_for(raw)
    assert "49" not in body and "sam@example.net" not in body.split("\n\n")[0]


def test_a_users_language_template_overrides_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "open.txt.j2").write_text("Moin {{ first_name }}!\n")
    message = parse_message(mail("Guten Tag, für unseren Kunden suche ich eine Leitung Technik. "
                                 "Hätten Sie Zeit?\n\nViele Grüße\nAnn\n"))
    details = extract_details(message)
    assert render_body(template_environment(tmp_path), "open.txt.j2", details, ME,
                       message) == "Moin Ann!\n"


# -- identity per account ---------------------------------------------------------------------
ACCOUNT = {"name": "work", "host": "127.0.0.1", "security": "plain", "username": "u",
           "password_env": "X"}


def test_an_account_identity_overrides_me_key_by_key(tmp_path: Path) -> None:
    config = parse_config({"accounts": [{**ACCOUNT, "me": {"email": "sam@work.example",
                                                           "signature": "Sam, Acme"}},
                                        {**ACCOUNT, "name": "home"}],
                           "me": {"name": "Sam Carter", "email": "sam@home.example", "stance": "open"}},
                          tmp_path / "c.toml")
    work, home = config.me_for("work"), config.me_for("home")
    assert (work.name, work.email, work.signature, work.stance) == (
        "Sam Carter", "sam@work.example", "Sam, Acme", "open")
    assert home.email == "sam@home.example"


@pytest.mark.parametrize("me,message", [
    ({"email": "a@b.example", "colour": "red"},
     "accounts[0].me.colour is not an identity key; use one of name, email, phone, signature, "
     "stance, availability in {path}"),
    ({"email": "not-an-address"},
     "accounts[0].me.email must be one address like dana@example.com, got 'not-an-address' in {path}"),
    ({"email": "a@b.example", "name": "Sam\r\nBcc: x@evil.example"},
     "accounts[0].me.name must not contain control characters, got 'Sam\\r\\nBcc: x@evil.example' "
     "in {path}"),
    ({"email": "a@b.example", "stance": "eager"},
     "accounts[0].me.stance must be one of open, selective, not-looking, got 'eager' in {path}"),
])
def test_a_bad_identity_is_refused_naming_the_key(tmp_path: Path, me: dict, message: str) -> None:
    path = tmp_path / "c.toml"
    with pytest.raises(ConfigError) as error:
        parse_config({"accounts": [{**ACCOUNT, "me": me}], "me": {"name": "Sam", "email": "s@x.example"}},
                     path)
    assert str(error.value) == message.format(path=path)


def test_the_work_account_drafts_from_the_work_address(tmp_path: Path) -> None:
    config = parse_config({"accounts": [{**ACCOUNT, "me": {"email": "sam@work.example"}}],
                           "me": {"name": "Sam Carter", "email": "sam@home.example"},
                           "state": {"dir": str(tmp_path)}}, tmp_path / "c.toml")
    box = FakeMailbox()
    box.deliver(mail("Hi Sam, we're hiring a Staff Engineer.\n\nAnn\n", subject="targeted role"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        Runner(config, config.accounts[0], KeywordModel(), ledger, lambda: box,
               RunOptions(backoff_seconds=0)).run()
    draft = email.message_from_bytes(box.folders["Drafts"].messages[1], policy=default)
    assert draft["From"] == "Sam Carter <sam@work.example>"


# -- triage draft -----------------------------------------------------------------------------
def test_triage_draft_json_gives_every_field_with_confidences(tmp_path: Path, capsys) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(mail(GIVEN_ALL, subject="Staff Data Engineer at Ledgerline"))
    config = tmp_path / "c.toml"
    config.write_text('[[accounts]]\nname = "work"\nhost = "127.0.0.1"\nsecurity = "plain"\n'
                      'username = "u"\npassword_env = "X"\n[accounts.me]\nemail = "sam@work.example"\n'
                      '[me]\nname = "Sam Carter"\nemail = "sam@home.example"\nstance = "open"\n')
    assert cli.main(["draft", str(eml), "--json", "--config", str(config)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {k: shown[k] for k in ("first_name", "company", "role", "language", "stance")} == {
        "first_name": "Ann", "company": "Ledgerline", "role": "Staff Data Engineer",
        "language": "en", "stance": "open"}
    assert shown["to"] == "Ann Ames <ann@amessearch.example.com>"
    assert shown["from"] == "Sam Carter <sam@work.example>"
    assert shown["subject"] == "Re: Staff Data Engineer at Ledgerline"
    assert shown["body"].startswith("Hi Ann,\n")
    assert set(shown["confidence"]) == {"first_name", "company", "role"}
    assert all(0.6 <= shown["confidence"][k] <= 1 for k in shown["confidence"])


def test_triage_draft_of_a_missing_file_says_which(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.eml"
    assert cli.main(["draft", str(missing), "--config", str(tmp_path / "none.toml")]) == 2
    assert capsys.readouterr().err == (f"triage: error: config file {tmp_path / 'none.toml'} does not "
                                       "exist; create it with `triage init`\n")
