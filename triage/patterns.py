"""The phrases recruiters use to introduce themselves, their client and the role, per language.

Data for extract.py. Captures are case-sensitive (a company or a role is written with
capitals in every supported Latin-script language triage extracts from); the anchors
around them are not. Words are joined by spaces or tabs only, so no value crosses a line.
"""

from __future__ import annotations

import re

_UPPER = "".join(c for c in map(chr, range(0x41, 0x250)) if c.isupper())
CAP = rf"(?!I['’]|I\b)(?:[ldLD]['’])?[{_UPPER}0-9][\w'’&.+/-]{{0,40}}"
_CONN = r"(?:of|for|and|&|de|des|du|la|le|del|di|da|do|der|für|van|von|und|y|e|i|och)(?![\w'’])"
ORG = rf"(?P<org>{CAP}(?:[ \t]+(?:{CAP}|{_CONN})){{0,8}})"  # bounded: linear on hostile text
ROLE = rf"(?P<role>{CAP},?(?:[ \t]+(?:{CAP},?|(?:of|and|&|de|des|du|del|di|da|do|der|ve)(?![\w'’]))){{0,8}})"
_JA = r"[\u30a0-\u30ff\u4e00-\u9fffA-Za-z・ー]"
_HANGUL_WORD = r"[\uac00-\ud7afA-Za-z]+(?<!에서)(?<!에)(?<!는)(?<!은)(?<!의)(?<!가)(?<!이)(?<!도)"


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.M)


# (pattern, confidence). HIRING (0.8) names the hiring company, which wins over the recruiter's
# own organisation (self-introductions, 0.7) and its signature.
HIRING = 0.8
COMPANY_PATTERNS: tuple[tuple[re.Pattern[str], float], ...] = (
    (_p(rf"(?i:recruiting|hiring|searching|working|partnering|partnered|retained)[ \t]+"
        rf"(?i:for|with|by)[ \t]+(?:the[ \t]+)?{ORG}"), 0.8),
    (_p(rf"(?i:helping|representing|on behalf of|my client,?|our client,?|client,)[ \t]+"
        rf"(?:the[ \t]+)?{ORG}"), 0.8),
    (_p(rf"(?:^|(?<=[.!?:;] ))[ \t]*(?:(?i:the|so|and|but|now)[ \t]+)?{ORG}[ \t]+(?i:is|are)[ \t]+(?i:hiring|looking for|searching|"
        rf"recruiting)"), 0.8),
    (_p(rf"(?i:hiring|looking for|seeking)[ \t]+an?[ \t]+[^.\n]{{3,60}}?[ \t]+(?i:at)[ \t]+{ORG}"), 0.8),
    (_p(rf"(?i:hiring|looking for|seeking)[ \t]+an?[ \t]+[^.\n]{{3,60}}?[ \t]+(?i:for)[ \t]+{ORG}"), 0.65),
    (_p(rf"(?i:recruiter|recruiting|talent|talent acquisition lead|talent partner|sourcer|"
        rf"people|head of talent|founder|co-founder|cto|ceo|coo|org|team|hiring manager|"
        rf"acquisition lead)[ \t]+(?i:at|with|of)[ \t]+(?:the[ \t]+)?{ORG}"), 0.7),
    (_p(rf"(?i:I'm|I am|this is)[ \t]+[\w.-]+(?:[ \t][\w.-]+)?,?[ \t]+(?i:from|at|with)[ \t]+{ORG}"), 0.7),
    (_p(rf"^{ROLE.replace('?P<role>', '?:')}[ \t]+(?i:at|@|bei|chez|bij|på|till|presso)[ \t]+{ORG}"
        rf"[ \t]*(?:$|[-–|:?!(])"), 0.6),
    # German
    (_p(rf"(?i:für|bei)[ \t]+(?:(?i:die|den|das|der|dem)[ \t]+)?{ORG}[ \t]+(?i:suche|suchen|sucht)"), 0.8),
    (_p(rf"(?i:Recruiting|Personalabteilung|Personalberater|Personalberaterin|Recruiterin|"
        rf"Recruiter|arbeite|tätig)[ \t]+(?i:bei|der|des|von)[ \t]+(?:(?i:der|dem|den)[ \t]+)?{ORG}"), 0.7),
    # French
    (_p(rf"(?i:pour le compte d(?:e|es|u|['’]))[ \t]*(?:(?i:la|le|les|l['’])[ \t]*)?{ORG}"), 0.8),
    (_p(rf"(?i:recrutement|recruteur|recruteuse|CTO|CEO|fondateur|fondatrice|consultante?|RH)"
        rf"[ \t]+(?i:chez|de|d['’]|au sein de)[ \t]*{ORG}"), 0.7),
    # Spanish
    (_p(rf"(?i:mi cliente|nuestro cliente|cliente),?[ \t]+{ORG}"), 0.8),
    (_p(rf"(?i:opdrachtgever|klant),?[ \t]+{ORG}"), 0.8),
    (_p(rf"(?i:reclutadora?|consultora?|headhunter|trabajo|selección|talento)[ \t]+(?i:en|de|para)"
        rf"[ \t]+{ORG}"), 0.7),
    (_p(rf"(?i:startup|company|firm|agency|business)[ \t]+(?i:called|named)[ \t]+{ORG}"), 0.7),
    # Portuguese
    (_p(rf"(?i:processo para o|processo para a|para o cliente|para a cliente)[ \t]+{ORG}"), 0.8),
    (_p(rf"(?i:headhunter|recrutadora?|recursos humanos|consultora?)[ \t]+(?i:na|no|da|do|em)[ \t]+{ORG}"), 0.7),
    # Italian
    (_p(rf"(?i:cliente),?[ \t]+(?:(?i:il|la|lo)[ \t]+|(?i:l['’]))?{ORG}"), 0.8),
    (_p(rf"(?i:personale|risorse umane|recruiter|consulente|selezione)[ \t]+"
        rf"(?i:di|della|del|presso)[ \t]+{ORG}"), 0.7),
    # Dutch
    (_p(rf"(?i:recruiter|werkzaam|ben[ \t]+\w+)[ \t]+(?i:bij|van)[ \t]+(?:(?i:de|het)[ \t]+)?{ORG}"), 0.7),
    # Polish
    (_p(rf"(?i:dla firmy|w firmie|dla)[ \t]+{ORG}"), 0.8),
    (_p(rf"(?i:rekruterka|rekruter)[ \t]+(?i:w|dla)[ \t]+{ORG}"), 0.7),
    # Swedish
    (_p(rf"(?i:vår kund|kunden)[ \t]+{ORG}"), 0.8),
    (_p(rf"(?i:rekrytering|rekryterare|rekryteringskonsult|arbetar)[ \t]+(?i:på|hos|vid)[ \t]+{ORG}"), 0.7),
    # Turkish
    (_p(rf"(?i:müşterimiz)[ \t]+{ORG}[ \t]+(?i:için)"), 0.8),
    (_p(rf"(?i:ben)[ \t]+{ORG}"), 0.65),
    # Japanese, Chinese, Korean
    (_p(rf"(?P<org>{_JA}{{2,20}}?(?:株式会社|有限会社))"), 0.75),
    (_p(rf"(?P<org>(?:株式会社|有限会社){_JA}{{2,20}})"), 0.75),
    (_p(r"(?P<org>[^\s、。]{2,15})の[^\s、。]{1,6}と申します"), 0.65),
    (_p(r"我是(?P<org>[^\s，,。]{2,12}?)的"), 0.75),
    (_p(r"(?P<org>[^\s,.]{2,15})[ \t]*(?:인사팀|채용팀|인사담당)"), 0.75),
    (_p(r"고객사인[ \t]*(?P<org>[^\s,.]{2,15}?)(?:에서|의|은|는)"), 0.8),
    (_p(r"(?P<org>[^\s,.]{2,15})[ \t]+헤드헌터"), 0.7),
)

# (pattern, confidence) for the role title.
ROLE_PATTERNS: tuple[tuple[re.Pattern[str], float], ...] = (
    (_p(rf"(?i:hiring|looking for|searching for|seeking|recruiting|need|needs|to find|placing|"
        rf"filling|recruit|to meet|to hire|hire)[ \t]+"
        rf"(?i:an?|our|their|a new|our next|our first|two|three)[ \t]+{ROLE}"), 0.75),
    (_p(rf"(?i:\ban?|the|our|their)[ \t]+{ROLE}[ \t]+(?i:role|opening|position|post|search|"
        rf"vacancy|opportunity|job)\b"), 0.75),
    (_p(rf"^(?:[^\n]*?[-–—:|][ \t]+)?{ROLE}[ \t]+(?i:role|opening|position|opportunity|post|"
        rf"vacancy|search)\b"), 0.65),
    (_p(rf"^{ROLE}[ \t]*(?:[-–—,|:(]|[ \t](?i:at|@|bei|chez|bij|till|på|w|na|presso)[ \t])"), 0.65),
    (_p(rf"^{ROLE}$"), 0.6),
    # German
    (_p(rf"(?i:suche|suchen|sucht|besetzen|besetze)[ \t]+(?:(?i:ich|wir|er|sie)[ \t]+)?"
        rf"(?:(?i:eine[nr]?|die Position|die Stelle|als)[ \t]+)?{ROLE}"), 0.75),
    (_p(rf"(?i:Position|Stelle)[ \t]+(?:(?i:als|der|des)[ \t]+)?{ROLE}"), 0.7),
    # French
    (_p(rf"(?i:recrute|recrutons|recherchons|recherche|cherchons|cherche)[ \t]+"
        rf"(?:(?i:pour)[^.\n]{{0,60}}?[ \t]+)?(?i:une?|un\(e\))[ \t]+{ROLE}"), 0.75),
    (_p(rf"(?i:poste de|poste d['’]|poste d’)[ \t]*{ROLE}"), 0.7),
    # Spanish, Portuguese, Italian
    (_p(rf"(?i:buscan|buscamos|busca|buscando|contratando|procuram|procuramos|procura|contratar|"
        rf"cerchiamo|cerca|cercando|selezionando|ricerca di)[ \t]+(?:(?i:a)[ \t]+)?"
        rf"(?i:una?|um|uma|un['’])[ \t]*{ROLE}"), 0.75),
    (_p(rf"(?i:vacante de|puesto de|posición de|vaga de|cargo de|posizione di|ruolo di)[ \t]+{ROLE}"), 0.75),
    # Dutch, Polish, Swedish, Turkish
    (_p(rf"(?i:zoeken|zoekt|zoek|werven)[ \t]+(?:(?i:naar)[ \t]+)?(?i:een|onze|nieuwe)[ \t]+{ROLE}"), 0.75),
    (_p(rf"(?i:stanowisko|szukamy|poszukujemy)[ \t]+{ROLE}"), 0.75),
    (_p(rf"(?i:söker|letar efter|rekryterar)[ \t]+(?:(?i:nu|vi|just nu)[ \t]+)?(?i:en|ett|en ny)[ \t]+{ROLE}"), 0.75),
    (_p(rf"{ROLE}[ \t]+(?i:arıyoruz|arıyor|arıyorlar|pozisyonu|pozisyonuna|pozisyonumuz)"), 0.75),
    # Japanese, Chinese, Korean
    (_p(rf"(?P<role>{_JA}{{2,20}})を(?:募集|探して|採用)"), 0.75),
    (_p(rf"(?P<role>{_JA}{{2,20}})の(?:ポジション|求人|ご案内|募集)"), 0.65),
    (_p(r"(?:招聘|寻找|招募)(?P<role>[\u4e00-\u9fffA-Za-z]{2,15})(?=[，,。\s])"), 0.75),
    (_p(r"(?P<role>[\u4e00-\u9fffA-Za-z]{2,15})(?:职位|岗位|机会)"), 0.65),
    (_p(rf"(?P<role>{_HANGUL_WORD}(?:[ \t]{_HANGUL_WORD}){{0,3}}?)(?:을|를)[ \t]*(?:채용|찾고|모집|모시고|구하고)"), 0.75),
    (_p(rf"(?P<role>{_HANGUL_WORD}(?:[ \t]{_HANGUL_WORD}){{0,3}}?)[ \t]+포지션"), 0.6),
)

NAME_PATTERNS: tuple[re.Pattern[str], ...] = (
    _p(r"^(?:Dr\.?[ \t]+)?(?P<name>[A-Z][\w'’-]+(?:[ \t][A-Z][\w'’-]+){1,3})(?:,[^\n]{0,80})?[ \t]+"
       r"(?:wrote|has sent you a message|sent you a message|hat Ihnen eine Nachricht geschickt|"
       r"a écrit|escribió|escreveu|ha scritto|schreef|napisał|skrev)\b"),
    _p(r"(?i:new message from|message from|nachricht von|message de|mensaje de|mensagem de|"
       r"messaggio da|bericht van|wiadomość od|meddelande från)[ \t]+(?:Dr\.?[ \t]+)?"
       r"(?P<name>[A-Z][\w'’-]+(?:[ \t][A-Z][\w'’-]+){0,3})"),
    _p(r"(?i:on behalf of|im auftrag von|au nom de|en nombre de|em nome de|per conto di)[ \t]+"
       r"(?P<name>[A-Z][a-z'’-]+[ \t][A-Z][a-z'’-]+)\.?[ \t]*$"),
)
INLINE_SIGN_OFF = re.compile(
    r"(?:Best regards|Kind regards|Warm regards|Regards|Many thanks|Thanks|Best|Cheers),[ \t]+"
    r"(?P<name>[A-Z][a-z'’-]+(?:[ \t][A-Z][a-z'’-]+)?)\b")

SIGN_OFF = re.compile(
    r"^\s*(?:best|best regards|kind regards|regards|thanks|thank you|cheers|many thanks|"
    r"warm regards|warmly|all the best|sincerely|talk soon|with best wishes|best wishes|"
    r"viele grüße|beste grüße|mit freundlichen grüßen|freundliche grüße|herzliche grüße|"
    r"cordialement|bien cordialement|bien à vous|salutations|un saludo|saludos|"
    r"saludos cordiales|atentamente|abraços|abraço|atenciosamente|cumprimentos|"
    r"com os melhores cumprimentos|cordiali saluti|un saluto|saluti|distinti saluti|"
    r"met vriendelijke groet(?:en)?|groeten|groet|hartelijke groet|z poważaniem|pozdrawiam|"
    r"pozdrowienia|vänliga hälsningar|hälsningar|mvh|med vänlig hälsning|saygılarımla|"
    r"iyi çalışmalar|selamlar|何卒よろしくお願いいたします|よろしくお願いいたします|"
    r"よろしくお願いします|祝好|此致|敬礼|감사합니다|고맙습니다)[,!.。]?\s*$", re.I)

PLATFORMS = frozenset("""linkedin xing doximity greenhouse lever workday indeed smartrecruiters
ashby ashbyhq icims teamtailor workable recruitee bamboohr jobvite taleo glassdoor hired
wellfound angellist stepstone monster ziprecruiter dice seek naukri hellowork welcometothejungle
infojobs""".split())
NOT_A_NAME = re.compile(r"\b(?:team|talent|careers?|recruit\w*|jobs?|hr|hiring|noreply|no-reply|"
                        r"people|info|admin|support|notifications?|mailrobot|messages?|atelier|studio|group|"
                        r"bureau|cabinet|company|gmbh|ltd|inc|llc)\b", re.I)
NOT_AN_ORG = frozenset("""I We The This Our My Hi Hello Dear Thanks Thank Best You Your He She
They Monday Tuesday Wednesday Thursday Friday GitHub Python Sam""".split())
ABBREVIATIONS = frozenset("St. Mt. Inc. Co. Ltd. Corp. Jr. Sr. Snr. Assoc. Asst. S.A. N.V. B.V. e.V. "
                          "S.p.A. Sp.".split())
DEPARTMENT_WORDS = frozenset("""practice nursing engineering leadership department dept division
operations finance sales marketing analytics acquisition resources hr personalabteilung
人事部 인사팀""".split())
AGENCY = re.compile(  # a recruitment firm's name: "role at <agency>" would mislead
    r"(?i:\b(?:talent|search|recruit\w*|resourcing|staffing|personnel|personal\w*|hunting|hunters|"
    r"headhunt\w*|executive|partners|consult\w*|conseil|selection|selezione|selección|werving|"
    r"rekrytering|kariyer|career|careers|people|hr|rh|associates)\b)|キャリア|エージェント|猎头|人才|"
    r"헤드헌터|피플|탤런트")
ORG_SUFFIX = re.compile(
    r"\b(?:Inc|LLC|Ltd|Limited|GmbH|AG|SE|SA|SAS|SARL|SpA|Srl|BV|NV|AB|Oy|plc|Partners|Group|"
    r"Talent|Search|Resourcing|Consulting|Conseil|Consultancy|Associates|Staffing|Solutions|"
    r"Technologies|Labs|Health|Hospital|Bank|Banque|Banco|Trust|Institute|University|Capital|"
    r"Holdings|Foods|Therapeutics|Robotics|Systems|Software|Personalberatung|Hunting)\.?$")
TITLE_WORDS = re.compile(
    r"(?i:\b(?:recruit\w*|talent|sourcer|partner|manager|director|consultant|consultante|lead|"
    r"head|founder|co-founder|ceo|cto|coo|cfo|vp|principal|associate|specialist|advisor|"
    r"executive|engineer|officer|nurse|designer|developer|scientist|analyst|actuary|chief|"
    r"coordinator|supervisor|president|leiter\w*|leitung|ingenieur\w*|directeur|directrice|"
    r"responsable|gerente|responsabile|capo|teamleider|kierownik|programista|chef|müdürü|ingénieur\w*|"
    r"geliştirici|uzman\w*|personalberater\w*|chargée?|reclutador\w*|recrutador\w*|"
    r"controller|programmer|buyer|grower|\w*maker|curator|counsel|\w*ist|chaplain|surveyor|"
    r"superintendent|foreman|technician|architect|accountant|attorney|lawyer|advogad[oa]|"
    r"abogad[oa]|avvocat[oa]|en[oó]log[oa]|m[eé]dic[oa]|arzt|ärztin|pilot|captain|teacher|"
    r"professor|postdoc|researcher|editor|producer|chemist|planner|inspector|auditor|"
    r"underwriter|broker|banker|merchandiser|educator|physician|surgeon|veterinarian|jef[ea]|"
    r"diret[oa]ra?|direttore|direttrice|encargad[oa]|dyrektor|specjalista|inżynier|ingenier[oa]|"
    r"engenheir[oa]|ingegnere|conservador[a]?|restaurador[a]?|restauratrice|müdür\w*|"
    r"sorumlusu|mühendis\w*|programcı|hoofd\w*|leider|adviseur|verpleegkundige|ansvarig|"
    r"\w*ledare|\w*förvaltare|ingenjör|utvecklare|direktör|\w*chef|consultor[a]?|\w*leitung|"
    r"\w*leiter\w*|\w*ingenieur\w*|\w*manager|\w*direktor\w*|jefatura|direzione|direction|"
    r"coordena\w*|coordina\w*|\w*leider|projectleider|l[ií]der|leader|chefe|technolog\w*|"
    r"specjalista|kurator\w*|główn\w*|\w*meester))")
ROLE_STOP = frozenset("""The This A An Our Their New Exciting Great Quick Your Hi Re Fwd
Confidential Confidentiel Vertraulich Vertrouwelijk Confidencial Riservato Convite
Urgent 현재 지금 저희 이번에 새로운 현재는 Ekibimize Ekibimiz Şirketimize Firmamıza Bu Poste Vacature Posizione Position""".split())
COMMA_TITLES = frozenset("director vp svp evp avp head chief".split())  # "VP, Revenue Cycle"
WEAK_ROLES = frozenset("""associate head vp director manager lead chief senior principal staff engineer
role position opportunity leiter leitung directeur director gerente responsable responsabile
jefe jefa jefe/a ポジション 求人 职位 포지션""".split())
