"""The segmenter on the evaluation set of LLM-style answers (tests/data/segmentation), streamed."""

from __future__ import annotations

import pytest

from bench.segmentation import SETS, boundaries, chunking_variants, chunks, load, score_streamed
from voicebot.contract.settings import ChatSettings
from voicebot.segmenter import SentenceSegmenter

SEEDS = (0, 1, 2)


@pytest.mark.parametrize("name", ["ko", "en"])
def test_boundary_f1_on_the_set_streamed_in_random_chunks(name: str) -> None:
    answers = load(name)
    assert len(answers) >= {"ko": 150, "en": 30}[name]
    score = score_streamed(answers, SEEDS)
    wrong = sorted({e["id"] for e in score.errors})
    assert score.overall.f1 >= 0.98, (score.overall.as_dict(), wrong)


@pytest.mark.parametrize("name", SETS)
def test_the_cut_does_not_depend_on_the_chunking(name: str) -> None:
    # Random 1-4 character chunks under several seeds, one character at a time, and all at once.
    assert chunking_variants(load(name), (0, 1, 2, 3, 4, 5, 6, 7)) == []


@pytest.mark.parametrize("name", SETS)
def test_the_first_segments_early_cuts_do_not_depend_on_the_chunking(name: str) -> None:
    # The chat service's cutter: the first segment may end at a clause or a Korean phrase.
    chat = ChatSettings()
    options = {
        "first_clause_min_chars": chat.first_clause_min_chars,
        "first_phrase_min_chars": chat.first_phrase_min_chars,
    }
    assert chunking_variants(load(name), (0, 1, 2), **options) == []


def test_the_set_is_tagged_with_every_hazard_class_of_the_issue() -> None:
    tags = {t for a in load("ko") + load("en") for t in a.tags}
    assert {"yo_noun", "abbrev", "digit_dot", "quote", "tilde", "bold", "etc_initial"} <= tags
    assert {"markdown", "missing_punct", "numbers", "english", "emoji", "url", "paren"} <= tags


def test_boundaries_ignore_whitespace_and_emoji() -> None:
    assert boundaries(["좋아요! 😊", "다음이에요."]) == boundaries(["좋아요!", "😊 다음이에요."])
    assert boundaries(["a b.", "c"]) == {3}
    assert "".join(chunks("가나다라마바사아자차카타", seed=3)) == "가나다라마바사아자차카타"


def cut(text: str, step: int = 1) -> list[str]:
    seg = SentenceSegmenter()
    out: list[str] = []
    for i in range(0, len(text), step):
        out += seg.feed(text[i : i + step])
    return out + seg.flush()


# Each case: the expected sentences, separated by " | " (the text is them joined by spaces).
@pytest.mark.parametrize(
    "expected",
    [
        "예약할 필요 없어요 | 바로 오세요",
        "가장 중요 포인트예요. | 끝.",
        "불필요 지출을 줄이세요 | 끝",
        "추천해요 (물론 경험자도요). | 끝.",
        "좋네요~ | 산책 가요.",
        "**예약은 필수입니다.** | 당일은 안 돼요.",
        "**주의하세요** | 독버섯이에요.",
        "잘했어요!👏 | 계속해요.",
        "“감사합니다.” 라고 말해요. | 끝.",
        "“여보세요.” 하고 받아요. | 끝.",
        '"Thank you!" is enough. | Yes.',
        "행사는 2025. 5. 3.(토)에 해요. | 끝.",
        "마감은 2025. 1. 31. 자정이에요. | 끝.",
        "간단해요: 1. 밥을 짓고, 2. 김에 말아요. | 끝.",
        "간식(e.g. 바나나)을 챙기세요. | 끝.",
        "미국(U.S.) 시장이에요. | 끝.",
        "She moved to the U.S. | The next year she left.",
        "He works for the U.S. Army now.",
        "Bring water, snacks, etc. | The trail is long.",
        "Apple Inc. reported sales.",
        "The answer is no. | The store is shut.",
        "See No. 5 for details.",
        "Choose Plan B. | It is cheaper.",
        "J. R. R. Tolkien wrote it.",
        "It opened in 2019. | By 2023 it had grown.",
        "It moved to the U.S.",
    ],
)
@pytest.mark.parametrize("step", [1, 3, 1000])
def test_each_rule(expected: str, step: int) -> None:
    sentences = expected.split(" | ")
    assert cut(" ".join(sentences), step) == sentences


def test_a_long_sentence_is_cut_at_the_cap_the_same_way_whatever_the_chunking() -> None:
    text = "아주 긴 문장이 이어지고, " * 12 + "끝났습니다. 다음 문장이에요."
    whole = SentenceSegmenter(max_chars=60)
    expected = whole.feed(text) + whole.flush()
    assert all(len(s) <= 60 for s in expected)
    for step in (1, 2, 7):
        seg = SentenceSegmenter(max_chars=60)
        got = [s for i in range(0, len(text), step) for s in seg.feed(text[i : i + step])]
        assert got + seg.flush() == expected
