"""Message → model features: normalised text plus header and structure signals.

One function, `to_features`, feeds both training and prediction, so the two can never
drift apart. Pure: no I/O, no model.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass

from .lexicon import Lexicons
from .message import Message

MAX_FEATURE_CHARS = 4000
MAX_QUOTED_CHARS = 1000
MAX_NAME_CHARS = 40  # a longer "first name" is no name (and would be a pattern to compile)

FREEMAIL = frozenset("""gmail.com googlemail.com outlook.com hotmail.com live.com yahoo.com
yahoo.co.uk icloud.com me.com aol.com gmx.de gmx.net web.de proton.me protonmail.com mail.com
yandex.ru t-online.de orange.fr free.fr laposte.net libero.it hotmail.fr outlook.de
zoho.com fastmail.com""".split())

# Applicant-tracking systems and professional networks that deliver recruiters' messages,
# recognised by a label of the sender's (or Reply-To's) domain: no.reply@us.greenhouse-mail.io.
ATS_NAMES = frozenset("""greenhouse greenhouse-mail lever ashby ashbyhq gem myworkday workday
icims smartrecruiters bullhorn bullhornmail workable teamtailor recruitee personio jobvite
successfactors taleo breezy pinpoint jazzhr hirebridge beamery""".split())
NETWORK_NAMES = frozenset("linkedin xing doximity".split())

# The lexicons below are matched against lower-cased text (three times faster than re.I);
# `Lexicons` find the same matches as `re` without trying every position.
_LEXICONS = Lexicons()
_GENERIC_GREETING = _LEXICONS.add(
    r"\b(dear|hello|hi|hey|greetings)[ ,]+(candidate|applicant|job ?seeker|sir|madam|sir/madam|"
    r"all|friend|professional|team|there|everyone|colleague|member|user|customer|jobseeker)s?\b"
    r"|\bto whom it may concern\b|\bdear (valued|future|potential)\b"
    r"|\b(sehr geehrte damen und herren|liebe bewerber\w*|madame, monsieur|chers candidats|"
    r"estimad[oa]s? candidat[oa]s?|car[oa] candidat[oa]|prezad[oa]s? candidat[oa]s?|"
    r"szanowni państwo|değerli aday\w*|уважаемы[йе] кандидат\w*|шановн\w* кандидат\w*|"
    r"beste kandidaat|kära kandidat|kepada pelamar)\b|尊敬的候选人|各位|求職者の皆様|지원자 여러분")
_REFERRAL = _LEXICONS.add(
    r"\b(know (of )?(anyone|anybody|someone|somebody|people)|who (do )?you know|refer(ral|ring|red)?s?|"
    r"recommend (someone|anyone|a|people|candidates)|pass (this|it|the role|the description) "
    r"(along|on)|forward (this|it|the)|your network|point me (to|towards|in)|"
    r"introduc(e|tion) (me|us)|former colleagues|spread the word|"
    r"empfehl\w*|weiterempfehlen|kennen sie|kennst du|kennt ihr|recommander|connaissez|"
    r"connais-tu|cooptation|coopter|faire suivre|recomend\w*|conoces|conoce|correr la voz|"
    r"aanbevel\w*|ken je|ken jij|kent u|aanbrengpremie|conosci|conosce|passaparola|segnal\w+|"
    r"indica(ção|ções|r|ria)|conhece|repassar|"
    r"poleci\w*|znasz kogoś|czy zna pan\w*|tavsiye\w*|tanıdığınız|tanıyor musunuz|"
    r"yönlendir\w*|referid\w*|alguien que|qualcuno che|quelqu'un|parrain\w*|tipsa|känner du|"
    r"rekommender\w*|någon som|iemand die|jemanden|weiterleiten|rekomendasi\w*|"
    r"merekomendasikan|kenal seseorang|referensikan|teruskan|koi jaanta|kisi ko jaante|"
    r"biết ai|ai phù hợp|рекоменд\w*|порекоменд\w*|посовет\w*|знаете кого|знаєте когось|"
    r"реферал\w*|перешлите|поділіться|поделитесь|знаете|знаешь|знаєте|знаєш|передайте|"
    r"перешліть|znasz|znacie|przekaż\w*|tanıdı\w*|tanıyor\w*|numaramı ver\w*|jaante (ho|hain)|"
    r"network mein|giới thiệu|chuyển tiếp|kenal\w*|tips på|vidarebefordra\w*|algún conocido|"
    r"alguém que)\b"
    r"|心当たり|お知り合い|ご紹介いただ|周りに|周囲に|ご存じの方|ご存知の方|推荐|推薦|内推|內推|"
    r"认识的人|引荐|引薦|转给|轉給|转发给|转寄|轉寄|身边|身邊|人选|人選|留意|추천|아시는 분|주변에|"
    r"소개해|지인|ترشيح|رشّح|رشح|توصية|تعرف أحد|تعرف شخص|لو في حد|सिफारिश|रेफर|जानते हैं|"
    r"आगे बढ़ा|आगे भेज")
_ASKS_YOU = _LEXICONS.add(
    r"\b(would you be (open|interested|up for|willing)|are you (open|interested)|"
    r"interested in (a |an )?(chat|call|conversation|talking|exploring|hearing)|"
    r"open to (a |an )?(chat|call|conversation|talking|hearing|exploring)|would you consider|"
    r"(fancy|up for) a (chat|call|coffee)|could we (talk|speak|chat)|can we (talk|speak|chat)|"
    r"worth a (chat|call|conversation)|thought of you|you('d| would) be (a )?(great|perfect|ideal)|"
    r"hätten sie interesse|wären sie offen|hast du lust|interesse an einem|"
    r"seriez-vous|vous intéresser|ouvert à|ouverte à|échanger avec vous|"
    r"te interesar\w*|le interesar\w*|estarías? (abiert|interesad)\w*|"
    r"sarebbe interessat\w*|ti interesser\w*|disponibile a|"
    r"zou je|zou u|heeft u interesse|heb je interesse|open voor|"
    r"teria interesse|você estaria|estaria aberto|estaria aberta|"
    r"czy byłby pan|czy byłaby pani|czy byłbyś|czy byłabyś|zainteresowan\w*|"
    r"ilgilenir misiniz|ilginizi|görüşmek ister\w*|konuşabilir miyiz|açık mısınız|"
    r"você teria|gostaria de conversar|te gustaría|le gustaría|podríamos hablar|tendrías|"
    r"ti andrebbe|le andrebbe|potremmo sentirci|auriez-vous|pourrions-nous|êtes-vous ouvert\w*|"
    r"hätten sie lust|sind sie offen|wären sie interessiert|skulle du vara intresserad|"
    r"är du intresserad|öppen för|интересно ли вам|были бы вы|готовы ли вы|открыты ли вы|"
    r"чи цікаво вам|чи були б ви|чи відкриті ви|kya aap|interested hain|baat kar sakte|"
    r"có quan tâm|có hứng thú|apakah anda tertarik|tertarik untuk|bersedia)\b"
    r"|ご興味|お話を?お?聞|いかがでしょうか|관심 있으|관심이 있으|의향이 있으|이야기 나눌|"
    r"是否有兴趣|有兴趣|感兴趣|有興趣|方便聊|是否考虑|هل أنت مهتم|هل لديك اهتمام|هل تود|क्या आप")
_RECRUITING = _LEXICONS.add(
    r"\b(recruit\w*|hiring|hire|role|roles|position|positions|opportunit\w+|candidate\w*|"
    r"vacanc\w+|job|jobs|career\w*|salary|compensation|interview\w*|resume|cv|talent|"
    r"headhunt\w*|search firm|openings?|apply|applicants?|employer|contract-to-hire|"
    r"stelle\w*|bewerb\w*|poste|postes|candidat\w*|recrut\w*|emploi|vacante|puesto|empleo|"
    r"vacature\w*|functie|vaga|vagas|oferta|offre|lavoro|posizione|selezione|candidatura|"
    r"cooptation|embauche|praca|pracy|rekrutac\w*|emprego|contrata\w*|personalberat\w*|"
    r"headhunter|rekrut\w*|stanowisk\w*|ofert\w*|wynagrodz\w*|kandydat\w*|zatrudni\w*|"
    r"pozisyon\w*|işe alım|kariyer\w*|aday\w*|maaş\w*|mülakat\w*|başvur\w*|iş ilan\w*|"
    r"oportunidad\w*|oportunit\w*|entrevista\w*|salário|salario|sueldo|reclut\w*|selección|"
    r"colloqui\w*|ruolo|retribuzion\w*|assunzion\w*|entretien|rémunération|gehalt\w*|"
    r"karriere\w*|vorstellungsgespräch|jobangebot|sollicit\w*|salaris|werving|tjänst\w*|"
    r"rekryter\w*|jobb\w*|lön|anställ\w*|intervju\w*|naukri|tuyển dụng|vị trí|ứng viên|"
    r"việc làm|phỏng vấn|lowongan|posisi|gaji|wawancara|karir|"
    r"позици\w*|должност\w*|рекрут\w*|кандидат\w*|зарплат\w*|собеседован\w*|посад\w*|"
    r"співбесід\w*|вакансі\w*)\b|求人|採用|転職|ご紹介|ポジション|募集|面接|年収|スカウト|候補者|"
    r"вакан\w*|работ\w*|подбор|채용|포지션|이직|헤드헌터|연봉|면접|후보자|인재|招聘|职位|職位|岗位|"
    r"猎头|獵頭|薪资|薪資|面试|面試|候选人|职缺|職缺|年薪|وظيف|وظائف|توظيف|مرشح|راتب|مقابلة|"
    r"नौकरी|भर्ती|वेतन|साक्षात्कार")
_YOUR_BACKGROUND = _LEXICONS.add(
    r"\b(your (background|experience|profile|work|talk|paper|article|research|project|"
    r"expertise|career|track record|post|repo|publication|team at|time at|role at|"
    r"leadership|thesis)|i (came across|read|saw|noticed|enjoyed|was impressed)|"
    r"(ihr|ihre|ihren|ihrem|ihrer|dein|deine|deinen|deinem|deiner) (profil|hintergrund|werdegang|"
    r"erfahrung|vortrag|artikel|beitrag|arbeit|projekt|publikation|karriere)\w*|"
    r"(votre|ton|ta) (parcours|profil|expérience|expertise|travail|article|présentation|"
    r"intervention|projet|thèse|publication|carrière)|j'ai (lu|vu|remarqué|découvert|suivi)|"
    r"(tu|su) (perfil|experiencia|trayectoria|trabajo|artículo|charla|ponencia|proyecto|carrera)|"
    r"(seu|sua|teu|tua) (perfil|experiência|trajetória|trabalho|artigo|palestra|projeto|carreira)|"
    r"(il tuo|il suo|la tua|la sua) (profilo|percorso|esperienza|lavoro|articolo|intervento|"
    r"progetto|carriera)|ho (letto|visto|notato|seguito)|"
    r"(je|jouw|uw) (profiel|achtergrond|ervaring|werk|artikel|presentatie|project|loopbaan)|"
    r"(pana|pani|twój|twoje|twoim|twojego|twoją|twoja) (profil\w*|doświadczeni\w*|wystąpieni\w*|"
    r"artykuł\w*|projekt\w*|karier\w*|prac\w*)|"
    r"profilin\w*|deneyimin\w*|geçmişin\w*|yazınız\w*|sunumunuz\w*|çalışmalarınız\w*|"
    r"(din|ditt|er) (profil|bakgrund|erfarenhet|artikel|presentation|projekt|karriär)|"
    r"ваш\w* (профил\w*|опыт\w*|резюме|стать\w*|доклад\w*|выступлени\w*|проект\w*|карьер\w*)|"
    r"ваш\w* (профіл\w*|досвід\w*|резюме|статт\w*|доповід\w*|виступ\w*|проєкт\w*|кар'єр\w*)|"
    r"тво\w* (профил\w*|опыт\w*|профіл\w*|досвід\w*)|"
    r"(profil|pengalaman|latar belakang|karya|artikel|presentasi) (anda|kamu|bapak|ibu)|"
    r"(hồ sơ|kinh nghiệm|bài viết|bài nói) của (anh|chị|bạn|em)|"
    r"(aapka|aapki|aapke) (profile|experience|background|kaam|article|talk))\b"
    r"|ご経歴|ご経験|ご活躍|拝見|ご発表|ご登壇|님께서|님의 경력|님의 경험|경력을 보|발표를|"
    r"您的背景|您的经历|您的經歷|您的经验|您的經驗|你的背景|你的经历|拜读|了解到您|"
    r"ملفك|خبرتك|خبراتك|سيرتك|مسيرتك|اطلعت على|आपका अनुभव|आपके अनुभव|आपकी प्रोफ़ाइल|आपका प्रोफ़ाइल")
_SCAM = _LEXICONS.add(
    r"\b(bank (details|account)|processing fee|registration fee|training fee|upfront|"
    r"no experience (needed|required)|work from home|reship\w*|package (handler|inspector)|"
    r"(per|a) (week|day)|whatsapp|telegram|cheque|check deposit|crypto|"
    r"bankverbindung|bankdaten|coordonnées bancaires|datos bancarios|dados bancários|"
    r"dati bancari|dane bankowe|банковск\w* карт\w*|"
    r"heimarbeit|travail à domicile|trabajo desde casa|trabalho em casa|trabalhe de casa|"
    r"lavoro da casa|praca zdalna|evden çalış\w*|работа на дому|робота вдома|"
    r"kerja dari rumah|làm việc tại nhà|ghar baithe|"
    r"sans expérience|sin experiencia|sem experiência|senza esperienza|bez doświadczenia|"
    r"deneyim gerekmez|без опыта|без досвіду|tanpa pengalaman)\b"
    r"|在宅|在家|兼职|刷单|재택|부업|العمل من المنزل|घर से काम")
_BULK_TEXT = _LEXICONS.add(
    r"\b(unsubscribe|job alert|jobs? matching|new jobs|manage (your )?(alerts|preferences)|"
    r"email preferences|view (this|in) (email|browser)|you are receiving|opt.out|"
    r"abmelden|jobalarm|jobs-?agent|newsletter abbestellen|désinscri\w*|désabonn\w*|"
    r"alerte emploi|darse de baja|date de baja|alerta de empleo|cancelar (a )?inscrição|"
    r"descadastr\w*|disiscriv\w*|annulla l'iscrizione|afmelden|vacaturemelding|wypisz\w*|"
    r"rezygnacj\w*|abonelikten çık\w*|avregistrer\w*|avsluta prenumeration|отписаться|"
    r"відписатися|berhenti berlangganan|hủy đăng ký)\b"
    r"|配信停止|配信解除|新着求人|退订|取消订阅|수신거부|구독 취소|إلغاء الاشتراك")
# https?://\S+|www\.\S+ with re.I, spelled out with one leading class, which the engine skips to
_URL = re.compile(r"[hHwW](?:(?<=[hH])[tT][tT][pP][sSſ]?://\S+|(?<=[wW])[wW][wW]\.\S+)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_DIGITS = re.compile(r"\d\d*")  # = \d+; a leading class lets the engine skip to a digit
_QUOTED = re.compile(r"^\s*>.*$", re.M)
_CJK = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9f]"
_CJK_RUN = re.compile(_CJK + _CJK + "+")  # = {2,}, spelled so that the engine skips to a CJK character
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|réf|ref|rif|vs)\s*:", re.I)


@dataclass(frozen=True)
class Features:
    """What the model sees: normalised text and a dict of numeric signals."""

    text: str
    signals: dict[str, float]


def to_features(message: Message) -> Features:
    """Normalised subject + body text (then the opening of any quoted history: a follow-up's
    personal details may sit only in the first message it quotes) and the signals computed
    from headers and structure. Measured (5-fold out-of-fold on the corpus): with the quoted
    opening, follow-ups 0.92 → 0.96 accuracy, macro-F1 0.946 → 0.948."""
    head = message.text[: 2 * MAX_FEATURE_CHARS]
    body = _strip_quotes(head)[:MAX_FEATURE_CHARS]
    quoted = " ".join(line.lstrip(" >") for line in _QUOTED.findall(head))[:MAX_QUOTED_CHARS]
    first_name = recipient_first_name(message)
    text = normalise_text(f"{message.subject}\n{message.subject}\n{body}\n{quoted}", first_name)
    return Features(text=text, signals=signals(message, body, first_name))


def normalise_text(text: str, first_name: str = "") -> str:
    """Lower-case; URLs, addresses, numbers and the recipient's name become tokens."""
    text = _URL.sub(" urltoken ", text)
    if "@" in text:
        text = _EMAIL.sub(" emailtoken ", text)
    if first_name:
        text = _name_pattern(first_name).sub(" recipientname ", text)
    return _cjk_bigrams(_DIGITS.sub("0", text.lower()))


def _cjk_bigrams(text: str) -> str:
    """Chinese, Japanese and Korean runs → overlapping character bigrams (they have no spaces)."""
    def split(match: re.Match[str]) -> str:
        run = match.group(0)
        return " " + " ".join(run[i:i + 2] for i in range(len(run) - 1)) + " "
    return _CJK_RUN.sub(split, text)


def recipient_first_name(message: Message) -> str:
    """The first To recipient's first name, from the display name or address, or ''.

    Titles are skipped ("Pan Tomasz", "Bapak Agus", "د. يوسف", "श्री राजेश"); a Vietnamese
    name gives its last word (greetings use it: "chị Hà"), a Korean full name its given name
    ("정민수" → "민수", as in "민수 님")."""
    if not message.to:
        return ""
    first = message.to[0]
    if first.name and "@" not in first.name:
        words = first.name.replace(",", " ").split()
        while len(words) > 1 and words[0].strip(".").lower() in TITLES:
            words = words[1:]
        if "," in first.name and len(words) > 1:  # "Smith, Dana"
            return _plausible_name(words[1])
        if len(words) > 2 and words[0].lower() in VIETNAMESE_SURNAMES:
            return _plausible_name(words[-1])
        return _given_name(_plausible_name(words[0])) if words else ""
    local = first.email.split("@")[0]
    return _plausible_name(re.split(r"[._-]", local)[0])


# Titles and honorifics that may open a display name, lower-cased, without a final dot.
TITLES = frozenset("""mr mrs ms miss mx dr dra drs prof herr frau mme mlle sr sra dott dott.ssa
sig sig.ra ing ir dhr mevr pan pani bapak ibu pak bu anh chị ông bà пан пані господин госпожа
السيد السيدة الأستاذ الأستاذة المهندس المهندسة الدكتور الدكتورة أ م د श्री श्रीमती सुश्री डॉ""".split())
VIETNAMESE_SURNAMES = frozenset("""nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô
dương lý""".split())
_HANGUL_NAME = re.compile(r"[\uac00-\ud7af]{3}")
_HAN_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")
_CJK_NAME = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]+")
# A Chinese surname followed by one of these is how a letter greets its reader: 陈先生, 刘总.
_HAN_HONORIFICS = "先生|女士|小姐|总|老师|博士|经理|教授|律师|医生|工"


def _given_name(name: str) -> str:
    """A three-syllable Korean name's given name (its last two syllables); others unchanged."""
    return name[1:] if _HANGUL_NAME.fullmatch(name) else name


def _plausible_name(word: str) -> str:
    """The word if it can be a name: two or more letters (with their combining marks)."""
    word = word.strip("'\"()<>")
    letters = all(ch.isalpha() or unicodedata.category(ch).startswith("M") for ch in word)
    return word if 2 <= len(word) <= MAX_NAME_CHARS and letters and word[0].isalpha() else ""


def signals(message: Message, body: str, first_name: str) -> dict[str, float]:
    """Header and structure signals, each a small number the model can weigh."""
    lower = body.lower()
    opening = lower[:300]
    sender_domain = message.sender.email.rsplit("@", 1)[-1] if message.sender else ""
    to_names = " ".join(a.name.lower() + " " + a.email for a in message.to)
    recruiting = len(_RECRUITING.findall(f"{lower} {message.subject.lower()}"))
    bulk = (message.list_unsubscribe or bool(message.list_id) or message.auto_submitted not in ("", "no")
            or message.precedence in ("bulk", "list", "junk"))
    quoted = "\n".join(_QUOTED.findall(message.text[: 2 * MAX_FEATURE_CHARS]))
    platform = sender_platform(message)
    return {
        "recipients_log": math.log1p(message.recipient_count),
        "single_recipient": float(message.recipient_count == 1),
        "undisclosed": float(not message.to or "undisclosed" in to_names),
        "list_unsubscribe": float(message.list_unsubscribe),
        "list_id": float(bool(message.list_id)),
        "precedence_bulk": float(message.precedence in ("bulk", "list", "junk")),
        "auto_submitted": float(message.auto_submitted not in ("", "no")),
        "greets_recipient": float(bool(first_name) and _mentions(opening, first_name)),
        "names_recipient": float(bool(first_name) and _mentions(body, first_name)),
        "generic_greeting": float(bool(_GENERIC_GREETING.search(opening))),
        "links_log": math.log1p(message.link_count),
        "html_only": float(message.html_only),
        "length_log": math.log1p(len(body)) / 10,
        "is_reply": float(bool(message.in_reply_to or _REPLY_PREFIX.match(message.subject))),
        "quoted_lines_log": math.log1p(len(_QUOTED.findall(message.text[: 2 * MAX_FEATURE_CHARS]))),
        "referral_phrases": min(len(_REFERRAL.findall(lower)), 5) / 5,
        "asks_recipient": min(len(_ASKS_YOU.findall(lower)), 3) / 3,
        "recruiting_terms": min(recruiting, 10) / 10,
        "bulk_without_jobs": float(bulk and recruiting == 0),
        "ats_sender": float(platform == "ats"),
        "network_sender": float(platform == "network"),
        "quoted_names_recipient": float(bool(first_name) and _mentions(quoted, first_name)),
        "your_background": min(len(_YOUR_BACKGROUND.findall(lower)), 4) / 4,
        "scam_phrases": min(len(_SCAM.findall(lower)), 4) / 4,
        "bulk_phrases": min(len(_BULK_TEXT.findall(lower)), 4) / 4,
        "freemail_sender": float(sender_domain in FREEMAIL),
        "attachments": float(message.attachment_count > 0),
    }


def sender_platform(message: Message) -> str:
    """"ats" or "network" when an ATS or a professional network delivered the message, else ""."""
    domain = message.sender.email.rsplit("@", 1)[-1] if message.sender else ""
    labels = set(re.split(r"[.]", domain.lower()))
    if labels & ATS_NAMES:
        return "ats"
    if labels & NETWORK_NAMES:
        return "network"
    return ""


def recruiting_evidence(message: Message) -> int:
    """How many recruiting words the subject and body hold; 0 means no positive evidence."""
    return len(_RECRUITING.findall(f"{message.subject} {_strip_quotes(message.text)}".lower()))


def _mentions(text: str, name: str) -> bool:
    return _name_pattern(name).search(text) is not None


@functools.lru_cache(maxsize=1024)
def _name_pattern(name: str) -> re.Pattern[str]:
    """The name as a whole word, any case (compiled once per name, not once per message).

    CJK text has no spaces between words, so a CJK name is found anywhere, and a Chinese one
    also as its surname with an honorific (陈先生). An ASCII name is spelled as the characters
    re.I lets each letter match ("dana" → `[dD](?<!\\w.)[aA][nN][aA]\\b`, the lookbehind being
    the leading \\b): a pattern that starts with a class lets the engine skip to the first
    letter, five times faster."""
    if _CJK_NAME.fullmatch(name):
        honorific = f"|{re.escape(name[0])}(?:{_HAN_HONORIFICS})" if _HAN_NAME.fullmatch(name) else ""
        return re.compile(f"{re.escape(name)}{honorific}")
    if not (name.isascii() and name.isalpha()):
        return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.I)
    letters = ["[" + letter + letter.upper() + _CASE_EXTRAS.get(letter, "") + "]" for letter in name.lower()]
    return re.compile(letters[0] + r"(?<!\w.)" + "".join(letters[1:]) + r"\b")


_CASE_EXTRAS = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}  # what else re.I matches


def _strip_quotes(text: str) -> str:
    return _QUOTED.sub("", text)
