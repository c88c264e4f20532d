"""Features that carry across languages: the recipient's name as greetings use it, and the
multilingual lexicons of personal attention, bulk mail and scams."""

from __future__ import annotations

import pytest

from triage.features import recipient_first_name, to_features
from triage.message import parse_message


def mail(to: str, body: str, subject: str = "Hello") -> bytes:
    return (f"From: Recruiter <r@agency.example>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


@pytest.mark.parametrize("to, body, name", [
    ("Dana Smith <dana@x.example>", "Hi Dana,", "Dana"),
    ("\"Smith, Dana\" <dana@x.example>", "Dear Dana,", "Dana"),
    ("Dr. Dana Smith <d@x.example>", "Dear Dana,", "Dana"),
    ("Pan Tomasz Kowalczyk <t@x.example>", "Dzień dobry, Tomasz!", "Tomasz"),
    ("Bapak Agus Santoso <a@x.example>", "Yth. Bapak Agus,", "Agus"),
    ("Ibu Dra. Endang Kusumawati <e@x.example>", "Yth. Ibu Endang,", "Endang"),
    ("Пан Василь Шевчук <v@x.example>", "Доброго дня, Василь!", "Василь"),
    ("م. ليلى الحسيني <l@x.example>", "ليلى، مساء الخير", "ليلى"),
    ("श्री राजेश मिश्रा <r@x.example>", "नमस्ते राजेश जी,", "राजेश"),
    ("Lê Thu Hà <h@x.example>", "Chào chị Hà,", "Hà"),
    ("Chị Đặng Ngọc Anh <a@x.example>", "Kính gửi chị Ngọc Anh,", "Anh"),
    ("정민수 <m@x.example>", "민수 님 안녕하세요,", "민수"),
    ("陈志强 <c@x.example>", "陈先生，您好！", "陈志强"),
    ("赵敏 <z@x.example>", "赵敏你好，", "赵敏"),
    ("西村 拓也 <t@x.example>", "西村さん\nはじめまして。", "西村"),
])
def test_the_recipient_is_recognised_as_greetings_name_them(to: str, body: str, name: str) -> None:
    message = parse_message(mail(to, body))
    assert recipient_first_name(message) == name
    features = to_features(message)
    assert features.signals["greets_recipient"] == 1.0, (to, body)
    assert "recipientname" in features.text


@pytest.mark.parametrize("to, body", [
    ("Alex Doe <alex@x.example>", "Your job alert: 12 new jobs"),  # no match inside 'alert'
    ("陈志强 <c@x.example>", "王先生，您好！"),  # another person's surname with an honorific
    ("Dana Smith <dana@x.example>", "Hi Danaé,"),
])
def test_other_words_and_people_are_not_the_recipient(to: str, body: str) -> None:
    assert to_features(parse_message(mail(to, body))).signals["greets_recipient"] == 0.0


@pytest.mark.parametrize("display", [
    "(.*)+ <a@x.example>", "[a-z] <a@x.example>", "\u0301\u0301 <a@x.example>",
    "Mr <a@x.example>", "\"Dr.\" <a@x.example>", "\u200b\u200b <a@x.example>", "x" * 5000 + " <a@x.example>",
])
def test_hostile_display_names_are_no_name_or_a_literal_one(display: str) -> None:
    """Regex syntax, lone combining marks, titles alone and huge names never break a message."""
    message = parse_message(mail(display, "Hi (.*)+ [a-z] there, nothing to see."))
    name = recipient_first_name(message)
    assert name == "" or name.isalpha() or name[0].isalpha()
    features = to_features(message)
    assert 0.0 <= features.signals["names_recipient"] <= 1.0


def test_a_huge_display_name_is_no_name() -> None:
    assert recipient_first_name(parse_message(mail("x" * 5000 + " <a@x.example>", "Hi"))) == ""


@pytest.mark.parametrize("signal, body", [
    ("your_background", "Ich habe Ihren Vortrag über Hitboxen gesehen und Ihr Profil gelesen."),
    ("your_background", "J'ai lu votre article sur la fiabilité, et votre parcours m'a frappé."),
    ("your_background", "Zwróciłam uwagę na Pana profil i Pana doświadczenie w utrzymaniu ruchu."),
    ("your_background", "Medium'daki yazınızı okudum, deneyiminiz tam aradığımız profil."),
    ("your_background", "了解到您在苏州负责BMS软件开发，您的背景非常契合。"),
    ("your_background", "이준호 님께서 화성 사업장에서 근무하신 것을 보고 연락드렸습니다."),
    ("your_background", "اطلعت على ملفك وخبرتك في إدارة المشاريع."),
    ("scam_phrases", "Praca zdalna, bez doświadczenia, wyślij dane bankowe."),
    ("scam_phrases", "在家兼职，刷单日结。"),
    ("bulk_phrases", "Wenn Sie keine E-Mails mehr möchten, können Sie sich hier abmelden."),
    ("bulk_phrases", "新着求人のお知らせです。配信停止はこちら。"),
    ("referral_phrases", "如果您身边有合适的人选，能否帮忙引荐？"),
    ("referral_phrases", "Rafał, znasz jakichś kierowców? Przekaż im mój numer."),
    ("referral_phrases", "Tanıdığın tecrübeli bir operatör var mı?"),
    ("referral_phrases", "क्या आप किसी अच्छे CA को जानते हैं?"),
    ("referral_phrases", "Может, знаете кого-то? Передайте, пожалуйста."),
])
def test_lexicons_carry_across_languages(signal: str, body: str) -> None:
    assert to_features(parse_message(mail("Someone <s@x.example>", body))).signals[signal] > 0


@pytest.mark.parametrize("signal", ["your_background", "scam_phrases", "bulk_phrases",
                                    "referral_phrases"])
def test_ordinary_mail_has_none_of_them(signal: str) -> None:
    body = "Das Treffen ist am Dienstag um zehn. 会议在周二上午十点。Bis dann!"
    assert to_features(parse_message(mail("Someone <s@x.example>", body))).signals[signal] == 0
