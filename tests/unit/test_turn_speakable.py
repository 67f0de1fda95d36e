"""TurnRunner gives the synthesizer speakable text; the page still gets the original text."""

from __future__ import annotations

import base64
import re

from voicebot.adapters.scripted import ScriptedChatModel, ScriptedSynthesizer
from voicebot.services.chat import TurnOptions, TurnRunner
from voicebot.speakable import PAUSE_OGG, speakable

from .test_turn_runner import MemoryHistory, RecordingPoster

ANSWER = (
    "## 🍜 오늘의 점심 추천\n"
    "- **김치찌개**: 추운 날씨에 딱이에요! 😊\n"
    "1. 자세한 메뉴는 https://example.com/menu?id=3 에서 보세요.\n"
    "---\n"
    "문의는 help@example.com으로 주세요 👍"
)


class RecordingSynthesizer(ScriptedSynthesizer):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        self.texts.append(text)
        return await super().synthesize(text, voice, language)


class NoCancelBus:
    async def cancel_requested(self, user_id: str, turn_id: str) -> tuple[bool, int | None]:
        return False, None


async def test_no_markdown_url_scheme_or_emoji_reaches_the_synthesizer() -> None:
    synth, poster = RecordingSynthesizer(), RecordingPoster()
    runner = TurnRunner(
        model=ScriptedChatModel(answer=ANSWER, tokens_per_second=500),
        synthesizer=synth,
        history=MemoryHistory(),
        cancels=NoCancelBus(),
        options=TurnOptions(system_prompt="test", voice="Seoyeon", language="ko-KR"),
    )
    outcome = await runner.run("u1", "t1", "점심 추천해 줘", poster, "c1")

    assert synth.texts, "nothing was synthesized"
    for text in synth.texts:
        assert not re.search(r"[*#`|\[\]]|^\s*[-+]\s|https?://|www\.", text), text
        assert not re.search("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]", text), text
    assert "김치찌개: 추운 날씨에 딱이에요!" in synth.texts
    assert any("example 점 com" in t for t in synth.texts)

    # The page keeps the original text, and every sentence index gets audio in order: segments
    # with nothing to say (the rule "---", an emoji after a space) get a short pause instead.
    sentences = [e for e in poster.events if e["type"] == "sentence"]
    assert [e["text"] for e in sentences] == outcome.sentences
    assert "---" in outcome.sentences and "## 🍜 오늘의 점심 추천" in outcome.sentences
    silent = [s for s in outcome.sentences if not speakable(s, "ko-KR")]
    assert "---" in silent and len(synth.texts) == len(outcome.sentences) - len(silent)
    last_parts = [e["index"] for e in poster.events if e["type"] == "audio" and e["last"]]
    assert last_parts == list(range(len(outcome.sentences)))
    assert "".join(e["text"] for e in poster.events if e["type"] == "delta") == ANSWER
    pause = base64.b64encode(PAUSE_OGG).decode()
    rule = outcome.sentences.index("---")
    assert [e["data"] for e in poster.events if e["type"] == "audio" and e["index"] == rule] == [
        pause
    ]


async def test_a_first_phrase_reaches_the_synthesizer_as_it_is_with_no_added_period() -> None:
    synth, poster = RecordingSynthesizer(), RecordingPoster()
    runner = TurnRunner(
        model=ScriptedChatModel(
            answer="강남역까지는 지하철 이호선으로 약 이십 분 걸려요. 환승은 없어요.",
            tokens_per_second=500,
        ),
        synthesizer=synth,
        history=MemoryHistory(),
        cancels=NoCancelBus(),
        # The settings' defaults: the first segment may end at a phrase of 6 characters.
        options=TurnOptions(system_prompt="test", voice="Seoyeon", language="ko-KR"),
    )
    outcome = await runner.run("u1", "t1", "강남역 어떻게 가요?", poster, "c1")

    assert outcome.sentences == [
        "강남역까지는",
        "지하철 이호선으로 약 이십 분 걸려요.",
        "환승은 없어요.",
    ]
    assert synth.texts[0] == "강남역까지는"  # a continuing phrase: no period, no comma added
    assert outcome.text == "강남역까지는 지하철 이호선으로 약 이십 분 걸려요. 환승은 없어요."
