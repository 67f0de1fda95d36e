"""speakable(): what the synthesizer is given for one segment, rule by rule."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest

from voicebot.speakable import PAUSE_OGG, speakable
from voicebot.ssml import to_ssml


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # markdown: markup gone, words kept
        ("## 🍜 오늘의 점심 추천", "오늘의 점심 추천"),
        ("**가장 중요한 건 수분 섭취예요.**", "가장 중요한 건 수분 섭취예요."),
        ("- **여권**: 유효기간을 확인하세요.", "여권: 유효기간을 확인하세요."),
        ("* 월요일: 헬스장 가기", "월요일: 헬스장 가기"),
        ("> 천 리 길도 한 걸음부터.", "천 리 길도 한 걸음부터."),
        ("[공식 사이트](https://example.com)를 참고하세요.", "공식 사이트를 참고하세요."),
        ("`npm install`을 다시 실행해 보세요.", "npm install을 다시 실행해 보세요."),
        ("| 아메리카노 | 4,500원 |", "아메리카노, 4,500원"),
        ("~~비싼~~ 저렴한 가격이에요.", "비싼 저렴한 가격이에요."),
        # list numbers read as ordinals
        ("1. 물을 끓여요.", "첫째, 물을 끓여요."),
        ("3. 불을 끄세요.", "셋째, 불을 끄세요."),
        (
            "간단해요: 1. 밥을 짓고, 2. 김에 말면 돼요.",
            "간단해요: 첫째, 밥을 짓고, 둘째, 김에 말면 돼요.",
        ),
        # addresses
        ("https://docs.python.org/ko/3/ 에 있어요.", "docs 점 python 점 org 에 있어요."),
        ("예매는 www.letskorail.com에서 하세요.", "예매는 letskorail 점 com에서 하세요."),
        ("help@example.com으로 보내 주세요.", "help 골뱅이 example 점 com으로 보내 주세요."),
        # emoji
        ("축하해요! 🥳", "축하해요!"),
        ("좋은 아침이에요! ☀️", "좋은 아침이에요!"),
        # parentheses
        ("미국(U.S.) 시장이에요.", "미국 시장이에요."),
        ("강남역(2호선)까지 가요.", "강남역 2호선까지 가요."),
        ("동반이 가능해요(목줄 필수).", "동반이 가능해요, 목줄 필수."),
        ("추천해요 (물론 경험자에게도요).", "추천해요, 물론 경험자에게도요."),
        ("(엘리베이터 옆이에요.)", "엘리베이터 옆이에요."),
        # units, symbols, ranges, dates
        ("기온은 영하 3.5℃예요.", "기온은 영하 3.5도예요."),
        ("연 3.5%로 맡기면 돼요.", "연 3.5퍼센트로 맡기면 돼요."),
        ("물 550ml를 넣어요.", "물 550밀리리터를 넣어요."),
        ("풀코스는 42.195km예요.", "풀코스는 42.195킬로미터예요."),
        ("5,000mAh에 45W 충전이에요.", "5,000밀리암페어시에 45와트 충전이에요."),
        ("키 1.7m에 65kg이에요.", "키 1.7미터에 65킬로그램이에요."),
        ("3~5일 걸려요.", "3에서 5일 걸려요."),
        ("오전 10시~오후 9시예요.", "오전 10시에서 오후 9시예요."),
        ("행사는 2025. 5. 3.(토) 오후 2시예요.", "행사는 2025년 5월 3일 토요일 오후 2시예요."),
        ("가격은 $100이에요.", "가격은 100달러이에요."),
        ("좋네요~", "좋네요"),
        ("맛있어요~ 꼭 드셔 보세요.", "맛있어요 꼭 드셔 보세요."),
    ],
)  # fmt: skip
def test_korean_rules(text: str, spoken: str) -> None:
    assert speakable(text, "ko-KR") == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("1. Unplug it.", "First, unplug it."),
        ("**Tip:** keep your receipts.", "Tip: keep your receipts."),
        ("- Charge your phone.", "Charge your phone."),
        ("Write to support@example.com.", "Write to support at example dot com."),
        ("See https://docs.python.org/3/tutorial/ now.", "See docs dot python dot org now."),
        ("It is 25°C and 60% humid.", "It is 25 degrees Celsius and 60 percent humid."),
        ("It weighs 2 kg.", "It weighs 2 kilograms."),
        ("It takes 3~5 days.", "It takes 3 to 5 days."),
        ("Happy birthday! 🎂", "Happy birthday!"),
        ("Salt & pepper.", "Salt and pepper."),
    ],
)  # fmt: skip
def test_english_rules(text: str, spoken: str) -> None:
    assert speakable(text, "en-US") == spoken


@pytest.mark.parametrize("text", ["😊🎉", "---", "|---|---|", "**", "```", "- ", "  ", "👍🏻"])
def test_nothing_speakable_is_empty(text: str) -> None:
    assert speakable(text, "ko-KR") == ""
    assert speakable(text, "en-US") == ""


HOSTILE = [
    "**굵게** <speak>태그</speak> & 'quote' \"dq\" \x00\x07 제어문자",
    "[[h@l@U]] phoneme input, <break time='9s'/>",
    "## 제목 😊\n- 항목 https://x.com/a?b=1&c=2 끝",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_the_result_stays_valid_ssml_for_polly(text: str) -> None:
    for language in ("ko-KR", "en-US"):
        root = ET.fromstring(to_ssml(speakable(text, language)))
        assert root.tag == "speak" and len(root) == 0  # text only: nothing became markup


@pytest.mark.parametrize("text", HOSTILE)
def test_the_result_is_plain_text_for_espeak(text: str) -> None:
    # espeak-ng reads its stdin as text, except "[[…]]" (phoneme mnemonics); no control characters.
    for language in ("ko-KR", "en-US"):
        out = speakable(text, language)
        assert "[[" not in out and "]]" not in out and "\n" not in out
        assert all(ch == "\t" or ord(ch) >= 0x20 for ch in out)


def test_the_pause_is_a_short_silent_ogg() -> None:
    soundfile = pytest.importorskip("soundfile")
    data, rate = soundfile.read(io.BytesIO(PAUSE_OGG))
    assert PAUSE_OGG[:4] == b"OggS" and 0 < len(data) / rate <= 0.2 and abs(data).max() == 0
