"""The scripted providers' settings, the environment that selects them, and the floor they allow.

The floor is what the providers alone impose on the first sound of an answer: the model's
first-token delay, the time to stream the tokens that complete the first sentence at the token
rate, and the synthesis delay of that sentence. Nothing the project writes can beat it.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any

from ._stats import REPO

# Five short spoken-style Korean sentences, the shape of a voice answer (~30 characters each).
DEFAULT_ANSWER = (
    "오늘 서울은 대체로 맑고 낮 기온은 십팔 도까지 오르겠습니다. "
    "오후에는 서쪽에서 바람이 조금 강하게 불 수 있어요. "
    "저녁부터는 구름이 많아지고 밤늦게 약한 비 소식이 있습니다. "
    "외출하실 때 얇은 겉옷과 작은 우산을 챙기시면 좋겠어요. "
    "더 궁금한 지역이 있으면 말씀해 주세요."
)


@dataclass(frozen=True)
class Providers:
    # Near Bedrock (Claude Haiku class) and Polly neural as commonly measured: a few hundred ms
    # to the first token, tens of tokens per second, ~100-200 ms per short sentence of speech.
    first_token_ms: int = 400
    tokens_per_second: float = 40.0
    tts_delay_ms: int = 120
    tts_ms_per_char: float = 1.5
    answer: str = DEFAULT_ANSWER

    def environment(self) -> dict[str, str]:
        """What ``voicebot.config`` reads to pick and tune the scripted providers."""
        return {
            "CHAT_PROVIDER": "scripted",
            "SCRIPTED_ANSWER": self.answer,
            "SCRIPTED_FIRST_TOKEN_MS": str(self.first_token_ms),
            "SCRIPTED_TOKENS_PER_SECOND": str(self.tokens_per_second),
            "TTS_PROVIDER": "scripted",
            "SCRIPTED_TTS_DELAY_MS": str(self.tts_delay_ms),
            "SCRIPTED_TTS_MS_PER_CHAR": str(self.tts_ms_per_char),
            # A cache would serve the old strategy's repeated sentence for free; real answers
            # differ every turn.
            "SPEECH_CACHE_SIZE": "0",
        }

    def synthesis_ms(self, text: str) -> float:
        return self.tts_delay_ms + self.tts_ms_per_char * len(text)


@dataclass(frozen=True)
class Floor:
    sentences: list[str]
    tokens: int  # tokens in the whole answer
    tokens_to_first_sentence: int  # including the one look-ahead token the cut needs
    first_token_ms: float
    stream_first_sentence_ms: float
    synthesize_first_sentence_ms: float
    first_audio_ms: float  # our floor
    old_first_audio_ms: float  # the old strategy's floor: whole answer, then synthesis

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def floor_of(p: Providers) -> Floor:
    """Replay the scripted model's tokens through the project's own sentence cutter."""
    lambdas = str(REPO / "lambdas")
    if lambdas not in sys.path:
        sys.path.insert(0, lambdas)
    from voicebot.adapters.scripted import split_tokens
    from voicebot.segmenter import SentenceSegmenter

    tokens = split_tokens(p.answer)
    segmenter = SentenceSegmenter()
    first_at = 0
    sentences: list[str] = []
    for i, token in enumerate(tokens, start=1):
        found = segmenter.feed(token)
        if found and not first_at:
            first_at = i
        sentences += found
    sentences += segmenter.flush()
    first_at = first_at or len(tokens)
    interval = 1000 / p.tokens_per_second if p.tokens_per_second else 0.0
    stream = (first_at - 1) * interval
    synth = p.synthesis_ms(sentences[0])
    return Floor(
        sentences=sentences,
        tokens=len(tokens),
        tokens_to_first_sentence=first_at,
        first_token_ms=p.first_token_ms,
        stream_first_sentence_ms=stream,
        synthesize_first_sentence_ms=synth,
        first_audio_ms=p.first_token_ms + stream + synth,
        old_first_audio_ms=p.first_token_ms + (len(tokens) - 1) * interval + synth,
    )
