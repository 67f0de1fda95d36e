"""The end-of-turn text rule (contract/endpointing.py), in Python and, from the same config, in
the page's JavaScript (web/js/mic.js ``hangoverMs``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.unit.page_js import page_config, run_node
from voicebot.contract.endpointing import (
    DEFAULT_CONFIG,
    EndOfTurnConfig,
    EndOfTurnRule,
    hangover_ms,
)

REPO = Path(__file__).resolve().parents[2]
BASE = 700

KO_COMPLETE = [
    "오늘 날씨가 좋네요",
    "산책 갈까요",
    "감사합니다",
    "회의는 몇 시에 시작합니까",
    "이거 맞습니까?",
    "내일 만나죠",
    "어제 영화를 봤다",
    "정말 좋다",
    "그건 내 거야",
    "그러니까요",
    "네",
    "오늘 뭐 먹을까",
    "배고파요.",
    "좋은데요",
    "지금 몇 시야?",
]
KO_INCOMPLETE = [
    "오늘 날씨가 좋은데",
    "밥을 먹고",
    "비가 와서",
    "시간이 있으면",
    "좋긴 하지만",
    "비가 오니까",
    "그러니까",
    "음악을 들으면서",
    "전화하거나",
    "늦지 않도록",
    "학교에 가다가",
    "저는",
    "책을",
    "서울에",
    "그리고",
    "음",
    "어 그",
    "제가 생각하기로는,",
    "그게...",
]
KO_UNKNOWN = ["공부를 하다", "오늘 날씨가", "고양이", "사과"]
EN_COMPLETE = ["what time is it?", "book a table for two.", "thank you", "that's great!"]
EN_INCOMPLETE = [
    "i want to go and",
    "it was fine but",
    "so",
    "because",
    "um",
    "uh",
    "i was thinking that,",
    "let me check the",
    "Well, you know",
]
EN_UNKNOWN = ["what time is it", "hello there", "i think so yes"]

CASES = (
    [("ko-KR", t, "complete") for t in KO_COMPLETE]
    + [("ko-KR", t, "incomplete") for t in KO_INCOMPLETE]
    + [("ko-KR", t, "unknown") for t in KO_UNKNOWN]
    + [("en-US", t, "complete") for t in EN_COMPLETE]
    + [("en-US", t, "incomplete") for t in EN_INCOMPLETE]
    + [("en-US", t, "unknown") for t in EN_UNKNOWN]
)


@pytest.mark.parametrize(("lang", "text", "likely"), CASES)
def test_the_rule_reads_korean_and_english_endings(lang: str, text: str, likely: str) -> None:
    assert EndOfTurnRule(DEFAULT_CONFIG, lang).classify(text) == likely


def test_the_hangover_shortens_lengthens_or_stays_within_bounds() -> None:
    assert hangover_ms("산책 갈까요", "ko-KR", BASE) == DEFAULT_CONFIG.completeMs == 300
    assert hangover_ms("오늘 날씨가 좋은데", "ko-KR", BASE) == DEFAULT_CONFIG.incompleteMs == 1200
    assert hangover_ms("공부를 하다", "ko-KR", BASE) == BASE
    assert hangover_ms("", "ko-KR", BASE) == BASE
    assert hangover_ms("and", "en-US", BASE) == 1200
    assert hangover_ms("thank you", "en", BASE) == 300
    # A language without patterns keeps the fixed hangover.
    assert hangover_ms("merci.", "fr-FR", BASE) == BASE
    # Stale text (from before the last voiced audio) never shortens, but still lengthens.
    assert hangover_ms("산책 갈까요", "ko-KR", BASE, fresh=False) == BASE
    assert hangover_ms("좋은데", "ko-KR", BASE, fresh=False) == 1200
    bounded = EndOfTurnConfig(completeMs=100, incompleteMs=5000, minMs=250, maxMs=1500)
    assert hangover_ms("갈까요", "ko", BASE, config=bounded) == 250
    assert hangover_ms("좋은데", "ko", BASE, config=bounded) == 1500
    # A longer base than incompleteMs is never shortened by a connective.
    assert hangover_ms("좋은데", "ko", 1400) == 1400


def test_disabled_restores_the_fixed_hangover() -> None:
    off = EndOfTurnConfig(enabled=False)
    for lang, text, _ in CASES:
        assert hangover_ms(text, lang, BASE, config=off) == BASE


def test_the_page_config_carries_the_rule_and_validates_it() -> None:
    page = page_config(endOfTurn=DEFAULT_CONFIG)
    body = page.body()
    assert body["endOfTurn"]["completeMs"] == 300
    assert set(body["endOfTurn"]["patterns"]) == {"ko", "en"}
    assert EndOfTurnConfig.model_validate(body["endOfTurn"]) == DEFAULT_CONFIG


_NODE_SCRIPT = """
import { hangoverMs } from "./web/js/mic.js";
const input = JSON.parse(process.argv[1]);
const out = input.cases.map(([lang, text, fresh]) =>
  hangoverMs(input.config, lang, text, input.base, fresh));
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_page_runs_the_same_rule_from_its_config() -> None:
    cases = [(lang, text, fresh) for lang, text, _ in CASES for fresh in (True, False)]
    cases += [("ko-KR", "", True), ("fr-FR", "merci.", True), ("ko", "  갈까요  ", True)]
    config = DEFAULT_CONFIG.model_dump()
    in_js = run_node(_NODE_SCRIPT, {"config": config, "base": BASE, "cases": cases})
    in_python = [hangover_ms(text, lang, BASE, fresh=fresh) for lang, text, fresh in cases]
    assert in_js == in_python
    off = EndOfTurnConfig(enabled=False).model_dump()
    assert run_node(_NODE_SCRIPT, {"config": off, "base": BASE, "cases": cases}) == [BASE] * len(
        cases
    )


def test_the_deployment_and_the_local_stack_switch_the_rule_by_one_setting() -> None:
    from cdk.web import page_config
    from local.options import parse_options

    on = page_config("wss://x/ws", "ko-KR", "Seoyeon", False)
    off = page_config("wss://x/ws", "ko-KR", "Seoyeon", False, {"adaptive_end_of_turn": False})
    assert on["endOfTurn"]["enabled"] is True and off["endOfTurn"]["enabled"] is False
    assert parse_options([]).adaptive_end_of_turn is True
    assert parse_options(["--no-adaptive-end-of-turn"]).adaptive_end_of_turn is False
