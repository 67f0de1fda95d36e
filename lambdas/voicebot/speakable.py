"""Speakable text: what a segment of a model's answer should sound like, not how it is written.

Chat models write for a screen: markdown (``**bold**``, ``# headings``, ``- bullets``, numbered
lists, tables, links), URLs, e-mail addresses, emoji, and symbols that a synthesizer reads badly
or literally. :func:`speakable` turns one segment (as cut by the segmenter) into what the
synthesizer should say; the page still shows the original text (``sentence`` and ``delta`` events
carry it unchanged). Pure and dependency-free; Korean (``ko``) and English (``en``) rules, other
languages get the language-neutral ones.

- markup is removed and its words kept: emphasis, headings, quotes, inline code, links (their
  text), table rows (cells joined by commas), horizontal rules (nothing);
- a list number at the start of a line, or after ":"/"," inside a sentence, is read as an ordinal
  ("1. 물을 끓여요" → "첫째, 물을 끓여요", "First, unplug it"); bullets are dropped;
- a URL is read as its host ("docs 점 python 점 org"), never its scheme or path; an e-mail address
  as "help 골뱅이 example 점 com" / "help at example dot com";
- emoji are dropped; a parenthesis becomes a pause (commas) or, glued to a word, plain words; a
  Latin alias glued to a Korean word ("미국(U.S.)") is dropped in Korean;
- units after a number (km, kg, ml, mAh, GB, ℃, %, …), ranges with "~", spaced dates
  ("2025. 5. 3.(토)" → "2025년 5월 3일 토요일") and currency signs are read out in words;
- a tilde after an ending ("좋네요~") is dropped.

The result is "" when nothing speakable is left (a segment that was only markup or emoji).
"""

from __future__ import annotations

import base64
import re

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\u20e3\U000e0020-\U000e007f]"
)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
# Markup -------------------------------------------------------------------------------------------
_FENCE = re.compile(r"^\s*```.*$", re.M)
_HRULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$", re.M)
_HEADING = re.compile(r"^\s*#{1,6}\s+", re.M)
_BLOCKQUOTE = re.compile(r"^\s*>+\s?", re.M)
_BULLET = re.compile(r"^\s*[-*+•·▪◦]\s+", re.M)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$", re.M)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3}|~~)(\S(?:.*?\S)?)\1")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w])_(\S(?:.*?\S)?)_(?![\w])")
_CODE = re.compile(r"`+([^`]*)`+")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
# Lists: at the start of a line, or inline after ":" / "," / ";" ("간단해요: 1. 밥을 짓고, 2. …").
_LINE_NUMBER = re.compile(r"^\s*(\d{1,2})[.)]\s+", re.M)
_INLINE_NUMBER = re.compile(r"([:,;：，]\s*)(\d{1,2})\.\s+(?=\D)")
_KO_ORDINALS = (
    "첫째",
    "둘째",
    "셋째",
    "넷째",
    "다섯째",
    "여섯째",
    "일곱째",
    "여덟째",
    "아홉째",
    "열째",
)
_EN_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth",
                "Ninth", "Tenth")  # fmt: skip
# Addresses ----------------------------------------------------------------------------------------
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_URL = re.compile(r"\b(?:https?|ftp)://([^\s/?#<>()\[\]가-힣\"']+)[^\s<>()\[\]가-힣\"']*", re.I)
_TLDS = "com|net|org|kr|jp|cn|io|co|gov|edu|me|dev|ai|app|info|biz|us|uk|tv|ly"
_BARE_DOMAIN = re.compile(
    rf"(?<![\w.@-])((?:www\.)?(?:[A-Za-z0-9-]+\.)+(?:{_TLDS}))(?![A-Za-z0-9-])"
    r"(?:/[^\s<>()\[\]가-힣\"']*)?",
    re.I,
)
# Numbers, units, symbols --------------------------------------------------------------------------
_NUM = r"\d+(?:[.,]\d+)*"
_SPACED_DATE = re.compile(
    r"(?<!\d)(\d{4})\.\s?(\d{1,2})\.\s?(\d{1,2})\.?(?:\s?\(([월화수목금토일])\))?"
)
_WEEKDAYS = {"월": "월요일", "화": "화요일", "수": "수요일", "목": "목요일", "금": "금요일",
             "토": "토요일", "일": "일요일"}  # fmt: skip
_RANGE = re.compile(rf"({_NUM}\s?[^\s~～\d]{{0,3}})\s?[~～]\s?(?=[\d오전후])")
_TRAILING_TILDE = re.compile(r"(?<=\S)[~～]+(?=\s|$|[.!?,])")
_KO_UNITS = {
    "km/h": "킬로미터", "km": "킬로미터", "cm": "센티미터", "mm": "밀리미터", "m": "미터",
    "kg": "킬로그램", "mg": "밀리그램", "g": "그램", "ml": "밀리리터", "mL": "밀리리터",
    "L": "리터", "l": "리터", "mAh": "밀리암페어시", "kWh": "킬로와트시", "W": "와트", "V": "볼트",
    "TB": "테라바이트", "GB": "기가바이트", "MB": "메가바이트", "KB": "킬로바이트", "Hz": "헤르츠",
    "GHz": "기가헤르츠", "MHz": "메가헤르츠", "%": "퍼센트", "℃": "도", "°C": "도", "°": "도",
    "℉": "화씨 도", "°F": "화씨 도",
}  # fmt: skip
_EN_UNITS = {
    "km/h": "kilometers per hour", "km": "kilometers", "cm": "centimeters", "mm": "millimeters",
    "m": "meters", "kg": "kilograms", "mg": "milligrams", "g": "grams", "ml": "milliliters",
    "mL": "milliliters", "L": "liters", "mAh": "milliamp hours", "kWh": "kilowatt hours",
    "W": "watts", "V": "volts", "TB": "terabytes", "GB": "gigabytes", "MB": "megabytes",
    "KB": "kilobytes", "Hz": "hertz", "GHz": "gigahertz", "MHz": "megahertz", "%": "percent",
    "℃": "degrees Celsius", "°C": "degrees Celsius", "°": "degrees", "℉": "degrees Fahrenheit",
    "°F": "degrees Fahrenheit",
}  # fmt: skip
_UNIT = re.compile(
    rf"({_NUM})\s?(km/h|kWh|mAh|GHz|MHz|°C|°F|km|cm|mm|kg|mg|ml|mL|TB|GB|MB|KB|Hz|℃|℉|%|°|m|g|L|l|W|V)"
    r"(?![A-Za-z])"
)
_KO_CURRENCY = {"$": "달러", "€": "유로", "£": "파운드", "¥": "엔", "₩": "원"}
_CURRENCY = re.compile(rf"([$€£¥₩])\s?({_NUM})")
_ARROW = re.compile(r"\s*(?:→|⇒|->|=>)\s*")
_PAREN = re.compile(r"(\S?)\(([^()]*)\)(\S?)")
_LATIN_ALIAS = re.compile(r"^[A-Za-z][A-Za-z.\s&-]*$")
_SPEAKABLE_CHAR = re.compile(r"[0-9A-Za-z가-힣ㄱ-ㅎㅏ-ㅣ\u3040-\u30ff\u4e00-\u9fff\u00c0-\u024f]")


def speakable(text: str, language: str) -> str:
    """What the synthesizer should say for one segment, in ``language`` (ko-KR, en-US, …)."""
    lang = language[:2].lower()
    ko = lang == "ko"
    text = _CONTROL.sub(" ", _EMOJI.sub("", text))
    text = _markup(text, ko, lang == "en")
    text = _addresses(text, ko)
    text = _numbers_and_symbols(text, ko, lang == "en")
    text = _parentheses(text, ko)
    # espeak reads "[[…]]" as phonemes; no markup character is ever worth reading out.
    text = re.sub(r"[\[\]{}<>|*#_`\\^]", " ", text)
    text = re.sub(r"\s*\n\s*", " ", text)
    text = re.sub(r"\s{2,}", " ", text)
    text = re.sub(r"\s+([,.!?:;。、])", r"\1", text)
    text = re.sub(r"([,:;])(?:\s*[,:;])+", r"\1", text)
    text = re.sub(r"([.!?])\s*[,;:]", r"\1", text)
    text = text.strip(" ,;:-–—")
    return text if _SPEAKABLE_CHAR.search(text) else ""


def _ordinal(number: str, ko: bool, en: bool) -> str:
    n = int(number)
    if ko:
        return (_KO_ORDINALS[n - 1] if 1 <= n <= 10 else f"{n}번째") + ", "
    if en:
        return (_EN_ORDINALS[n - 1] if 1 <= n <= 10 else f"Number {n}") + ", "
    return f"{n}, "


def _markup(text: str, ko: bool, en: bool) -> str:
    text = _FENCE.sub("", text)
    text = _HRULE.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _HEADING.sub("", text)
    text = _BLOCKQUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    for _ in range(2):  # nested emphasis: ***both***, **bold _italic_**
        text = _EMPHASIS.sub(r"\2", text)
        text = _UNDERSCORE_EMPHASIS.sub(r"\1", text)
    if "|" in text:  # a table row: its cells, as a list
        cells = [c.strip() for c in text.strip().strip("|").split("|")]
        text = ", ".join(c for c in cells if c)
    text = _LINE_NUMBER.sub(lambda m: _ordinal(m[1], ko, en), text)
    if en:  # "First, Unplug it" → "First, unplug it" (not "I", not an acronym)
        text = re.sub(r"^(\w+, )([A-Z])(?=[a-z])", lambda m: m[1] + m[2].lower(), text)
    text = _INLINE_NUMBER.sub(lambda m: m[1] + _ordinal(m[2], ko, en), text)
    return text


def _host(host: str, ko: bool) -> str:
    host = re.sub(r"^www\.", "", host.lower().split(":")[0])
    return host.replace(".", " 점 " if ko else " dot ")


def _addresses(text: str, ko: bool) -> str:
    at = " 골뱅이 " if ko else " at "
    text = _EMAIL.sub(lambda m: m[1].replace(".", " 점 " if ko else " dot ") + at + _host(m[2], ko),
                      text)  # fmt: skip
    text = _URL.sub(lambda m: " " + _host(m[1], ko) + " ", text)
    return _BARE_DOMAIN.sub(lambda m: _host(m[1], ko), text)


def _numbers_and_symbols(text: str, ko: bool, en: bool) -> str:
    text = _ARROW.sub(", ", text)
    if ko:
        text = _SPACED_DATE.sub(
            lambda m: (
                f"{m[1]}년 {int(m[2])}월 {int(m[3])}일" + (f" {_WEEKDAYS[m[4]]}" if m[4] else "")
            ),
            text,
        )
    text = _RANGE.sub(lambda m: m[1] + ("에서 " if ko else " to "), text)
    text = _TRAILING_TILDE.sub("", text)
    units = _KO_UNITS if ko else _EN_UNITS if en else None
    if units is not None:
        sep = "" if ko else " "
        text = _UNIT.sub(lambda m: m[1] + sep + units[m[2]], text)
    if ko:
        text = _CURRENCY.sub(lambda m: m[2] + _KO_CURRENCY[m[1]], text)
        text = re.sub(r"\s&\s", " 그리고 ", text)
    elif en:
        text = re.sub(r"\s&\s", " and ", text)
    return text


def _parentheses(text: str, ko: bool) -> str:
    def pause(m: re.Match[str]) -> str:
        before, inner, after = m[1], m[2].strip(), m[3]
        if not _SPEAKABLE_CHAR.search(inner):
            return before + after
        if ko and before and "가" <= before <= "힣" and _LATIN_ALIAS.match(inner):
            return before + after  # 미국(U.S.) 시장: the alias is for the eye
        if before and after and after not in ".,!?:;":
            return f"{before} {inner}{after}"  # 강남역(2호선)까지: plain words
        tail = after if after and after in ".,!?:;" else ", " + after
        return f"{before}, {inner}{tail}"  # a pause either side: "가능해요, 목줄 필수."

    previous = None
    while previous != text:  # innermost first
        previous, text = text, _PAREN.sub(pause, text)
    return text


# 100 ms of silence, OGG Vorbis (8 kHz mono): the audio of a segment with nothing to say. Every
# segment index still gets audio, so the page's count of heard segments stays that of the server's
# sentences (made once with soundfile; the Lambda bundle has no audio library).
PAUSE_OGG = base64.b64decode(
    "T2dnUwACAAAAAAAAAABsfL4PAAAAAGclJ5IBHgF2b3JiaXMAAAAAAUAfAAAAAAAAcGIAAAAAAACZAU9nZ1MAAAAAAAAA"
    "AAAAbHy+DwEAAADznraGC1r///////////+1A3ZvcmJpczQAAABYaXBoLk9yZyBsaWJWb3JiaXMgSSAyMDIwMDcwNCAo"
    "UmVkdWNpbmcgRW52aXJvbm1lbnQpAQAAABIAAABFTkNPREVSPWxpYnNuZGZpbGUBBXZvcmJpcxJCQ1YBAAABAAxSFCEl"
    "GVNKYwiVUlIpBR1jUFtHHWPUOUYhZBBTiEkZpXtPKpVYSsgRUlgpRR1TTFNJlVKWKUUdYxRTSCFT1jFloXMUS4ZJCSVs"
    "Ta50FkvomWOWMUYdY85aSp1j1jFFHWNSUkmhcxg6ZiVkFDpGxehifDA6laJCKL7H3lLpLYWKW4q91xpT6y2EGEtpwQhh"
    "c+211dxKasUYY4wxxsXiUyiC0JBVAAABAABABAFCQ1YBAAoAAMJQDEVRgNCQVQBABgCAABRFcRTHcRxHkiTLAkJDVgEA"
    "QAAAAgAAKI7hKJIjSZJkWZZlWZameZaouaov+64u667t6roOhIasBADIAAAYhiGH3knMkFOQSSYpVcw5CKH1DjnlFGTS"
    "UsaYYoxRzpBTDDEFMYbQKYUQ1E45pQwiCENInWTOIEs96OBi5zgQGrIiAIgCAACMQYwhxpBzDEoGIXKOScggRM45KZ2U"
    "TEoorbSWSQktldYi55yUTkompbQWUsuklNZCKwUAAAQ4AAAEWAiFhqwIAKIAABCDkFJIKcSUYk4xh5RSjinHkFLMOcWY"
    "cowx6CBUzDHIHIRIKcUYc0455iBkDCrmHIQMMgEAAAEOAAABFkKhISsCgDgBAIMkaZqlaaJoaZooeqaoqqIoqqrleabp"
    "maaqeqKpqqaquq6pqq5seZ5peqaoqp4pqqqpqq5rqqrriqpqy6ar2rbpqrbsyrJuu7Ks256qyrapurJuqq5tu7Js664s"
    "27rkearqmabreqbpuqrr2rLqurLtmabriqor26bryrLryratyrKua6bpuqKr2q6purLtyq5tu7Ks+6br6rbqyrquyrLu"
    "27au+7KtC7vourauyq6uq7Ks67It67Zs20LJ81TVM03X9UzTdVXXtW3VdW1bM03XNV1XlkXVdWXVlXVddWVb90zTdU1X"
    "lWXTVWVZlWXddmVXl0XXtW1Vln1ddWVfl23d92VZ133TdXVblWXbV2VZ92Vd94VZt33dU1VbN11X103X1X1b131htm3f"
    "F11X11XZ1oVVlnXf1n1lmHWdMLqurqu27OuqLOu+ruvGMOu6MKy6bfyurQvDq+vGseu+rty+j2rbvvDqtjG8um4cu7Ab"
    "v+37xrGpqm2brqvrpivrumzrvm/runGMrqvrqiz7uurKvm/ruvDrvi8Mo+vquirLurDasq/Lui4Mu64bw2rbwu7aunDM"
    "si4Mt+8rx68LQ9W2heHVdaOr28ZvC8PSN3a+AACAAQcAgAATykChISsCgDgBAAYhCBVjECrGIIQQUgohpFQxBiFjDkrG"
    "HJQQSkkhlNIqxiBkjknIHJMQSmiplNBKKKWlUEpLoZTWUmotptRaDKG0FEpprZTSWmopttRSbBVjEDLnpGSOSSiltFZK"
    "aSlzTErGoKQOQiqlpNJKSa1lzknJoKPSOUippNJSSam1UEproZTWSkqxpdJKba3FGkppLaTSWkmptdRSba21WiPGIGSM"
    "Qcmck1JKSamU0lrmnJQOOiqZg5JKKamVklKsmJPSQSglg4xKSaW1kkoroZTWSkqxhVJaa63VmFJLNZSSWkmpxVBKa621"
    "GlMrNYVQUgultBZKaa21VmtqLbZQQmuhpBZLKjG1FmNtrcUYSmmtpBJbKanFFluNrbVYU0s1lpJibK3V2EotOdZaa0ot"
    "1tJSjK21mFtMucVYaw0ltBZKaa2U0lpKrcXWWq2hlNZKKrGVklpsrdXYWow1lNJiKSm1kEpsrbVYW2w1ppZibLHVWFKL"
    "McZYc0u11ZRai621WEsrNcYYa2415VIAAMCAAwBAgAlloNCQlQBAFAAAYAxjjEFoFHLMOSmNUs45JyVzDkIIKWXOQQgh"
    "pc45CKW01DkHoZSUQikppRRbKCWl1losAACgwAEAIMAGTYnFAQoNWQkARAEAIMYoxRiExiClGIPQGKMUYxAqpRhzDkKl"
    "FGPOQcgYc85BKRljzkEnJYQQQimlhBBCKKWUAgAAChwAAAJs0JRYHKDQkBUBQBQAAGAMYgwxhiB0UjopEYRMSielkRJa"
    "CylllkqKJcbMWomtxNhICa2F1jJrJcbSYkatxFhiKgAA7MABAOzAQig0ZCUAkAcAQBijFGPOOWcQYsw5CCE0CDHmHIQQ"
    "Ksaccw5CCBVjzjkHIYTOOecghBBC55xzEEIIoYMQQgillNJBCCGEUkrpIIQQQimldBBCCKGUUgoAACpwAAAIsFFkc4KR"
    "oEJDVgIAeQAAgDFKOSclpUYpxiCkFFujFGMQUmqtYgxCSq3FWDEGIaXWYuwgpNRajLV2EFJqLcZaQ0qtxVhrziGl1mKs"
    "NdfUWoy15tx7ai3GWnPOuQAA3AUHALADG0U2JxgJKjRkJQCQBwBAIKQUY4w5h5RijDHnnENKMcaYc84pxhhzzjnnFGOM"
    "Oeecc4wx55xzzjnGmHPOOeecc84556CDkDnnnHPQQeicc845CCF0zjnnHIQQCgAAKnAAAAiwUWRzgpGgQkNWAgDhAACA"
    "MZRSSimllFJKqKOUUkoppZRSAiGllFJKKaWUUkoppZRSSimllFJKKaWUUkoppZRSSimllFJKKaWUUkoppZRSSimllFJK"
    "KaWUUkoppZRSSimllFJKKaWUUkoppZRSSimllFJKKaWUUkoppZRSSimllFJKKaWUUkoppZRSSimVUkoppZRSSimllFJK"
    "KaUAIN8KBwD/BxtnWEk6KxwNLjRkJQAQDgAAGMMYhIw5JyWlhjEIpXROSkklNYxBKKVzElJKKYPQWmqlpNJSShmElGIL"
    "IZWUWgqltFZrKam1lFIoKcUaS0qppdYy5ySkklpLrbaYOQelpNZaaq3FEEJKsbXWUmuxdVJSSa211lptLaSUWmstxtZi"
    "bCWlllprqcXWWkyptRZbSy3G1mJLrcXYYosxxhoLAOBucACASLBxhpWks8LR4EJDVgIAIQEABDJKOeecgxBCCCFSijHn"
    "oIMQQgghREox5pyDEEIIIYSMMecghBBCCKGUkDHmHIQQQgghhFI65yCEUEoJpZRSSucchBBCCKWUUkoJIYQQQiillFJK"
    "KSGEEEoppZRSSiklhBBCKKWUUkoppYQQQiillFJKKaWUEEIopZRSSimllBJCCKGUUkoppZRSQgillFJKKaWUUkooIYRS"
    "SimllFJKCSWUUkoppZRSSikhlFJKKaWUUkoppQAAgAMHAIAAI+gko8oibDThwgMQAAAAAgACTACBAYKCUQgChBEIAAAA"
    "AAAIAPgAAEgKgIiIaOYMDhASFBYYGhweICIkAAAAAAAAAAAAAAAABE9nZ1MABCADAAAAAAAAbHy+DwIAAABxrapJBQEB"
    "AQEBAAAAAAA="
)
