"""Facets for the model report: language and delivery guesses, and scores by group."""

from __future__ import annotations

from triage.facets import delivery, facet_scores, language
from triage.message import Message, parse_message


def msg(body: str, sender: str = "r@agency.example", extra: str = "") -> Message:
    return parse_message(f"From: {sender}\r\nTo: dana@example.com\r\nSubject: x\r\n{extra}"
                         f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n".encode())


def test_language_by_script_and_by_function_words() -> None:
    assert language(msg("田中様、ご経歴を拝見しました。ポジションのご紹介です。")) == "ja"
    assert language(msg("안녕하세요, 채용 포지션을 소개해 드리고 싶습니다. 관심이 있으신가요?")) == "ko"
    assert language(msg("Доброго дня! Ми шукаємо розробника, чи цікаво вам їхати до Львова?")) == "uk"
    assert language(msg("Здравствуйте! Мы ищем разработчика, интересно ли вам?")) == "ru"
    assert language(msg("Hallo Dana, ich habe Ihr Profil gesehen und wir suchen eine Leitung für das Team.")) == "de"
    assert language(msg("Dzień dobry, czy jest pan zainteresowany nową pracą w firmie na stanowisku?")) == "pl"
    assert language(msg("Hi Dana, would you be open to a chat about the role with our team?")) == "en"
    assert language(msg("12345")) == "unknown"


def test_delivery_by_sender_platform_quotes_html_and_length() -> None:
    assert delivery(msg("note", "no-reply@us.greenhouse-mail.io")) == "ats"
    assert delivery(msg("note", "inmail-hit-reply@linkedin.com")) == "network"
    assert delivery(msg("Following up.\n> Hi Dana, the role")) == "follow-up"
    assert delivery(msg("short one")) == "one-liner"
    assert delivery(msg("a longer message " * 30)) == "plain"
    assert delivery(msg("您好！" + "我们正在为上海一家公司组建团队，需要几位工程师。" * 6)) == "plain"  # 147 characters
    assert delivery(msg("能否帮忙引荐？谢谢！")) == "one-liner"


def test_scores_by_group_count_unsure_as_a_miss() -> None:
    english = msg("Hi Dana, would you be open to a chat about the role with our team?")
    german = msg("Hallo Dana, ich habe Ihr Profil gesehen und wir suchen eine Leitung für das Team.")
    scores = facet_scores([english, english, german, german],
                          ["targeted", "other", "targeted", "targeted"],
                          ["targeted", "targeted", "unsure", "targeted"])
    en, de = scores["language"]["en"], scores["language"]["de"]
    assert (en["count"], en["accuracy"], en["targeted_precision"], en["targeted_recall"]) == (2, 0.5, 0.5, 1.0)
    assert en["macro_f1"] == round((2 / 3 + 0) / 2, 4)  # targeted F1 2/3, other F1 0
    assert (de["accuracy"], de["targeted_precision"], de["targeted_recall"]) == (0.5, 1.0, 0.5)
