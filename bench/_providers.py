"""The scripted providers' settings, the environment that selects them, and the floor they allow.

The floor is what the providers alone impose on the first sound of an answer: the model's
first-token delay, the time to stream the tokens that complete the first sentence at the token
rate, and the synthesis delay of that sentence. Nothing the project writes can beat it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from voicebot.contract.settings import AnswerShapeSettings, ChatSettings, SpeechSettings

# Five short spoken-style Korean sentences, the shape of a voice answer (~30 characters each),
# punctuated as Korean is written: a comma after a long leading "-고" clause.
DEFAULT_ANSWER = (
    "오늘 서울은 대체로 맑고, 낮 기온은 십팔 도까지 오르겠습니다. "
    "오후에는 서쪽에서 바람이 조금 강하게 불 수 있어요. "
    "저녁부터는 구름이 많아지고, 밤늦게 약한 비 소식이 있습니다. "
    "외출하실 때 얇은 겉옷과 작은 우산을 챙기시면 좋겠어요. "
    "더 궁금한 지역이 있으면 말씀해 주세요."
)
# The same answer without those commas: the first segment is then the whole first sentence.
UNPUNCTUATED_ANSWER = DEFAULT_ANSWER.replace("맑고,", "맑고").replace("많아지고,", "많아지고")
# Characters per token of DEFAULT_ANSWER under a real tokenizer: Gemma 3's (262k vocabulary, the
# packaged local model's) cuts its 155 characters into 89 tokens (1.74), measured by
# ``python -m bench.tokens``. BPE tokenizers of English-centred vocabularies need more tokens
# for Korean (about one per character is commonly reported), which streams slower: 1.75 is the
# fast end of what Korean streams at.
KOREAN_CHARS_PER_TOKEN = 1.75
_ANSWER = AnswerShapeSettings()  # the deployed defaults


@dataclass(frozen=True)
class Providers:
    # Near Bedrock (Claude Haiku class) and Polly neural as commonly measured: a few hundred ms
    # to the first token, tens of tokens per second, ~100-200 ms per short sentence of speech.
    first_token_ms: int = 400
    tokens_per_second: float = 40.0
    chars_per_token: float = KOREAN_CHARS_PER_TOKEN
    tts_delay_ms: int = 120
    tts_ms_per_char: float = 1.5
    # The product's settings, with the product's defaults: FIRST_CLAUSE_MIN_CHARS (0 speaks whole
    # sentences only) and FIRST_PHRASE_MIN_CHARS (the first segment may end at a Korean phrase).
    first_clause_min_chars: int = field(default_factory=lambda: _ANSWER.first_clause_min_chars)
    first_phrase_min_chars: int = field(default_factory=lambda: _ANSWER.first_phrase_min_chars)
    answer: str = DEFAULT_ANSWER

    def environment(self) -> dict[str, str]:
        """What ``voicebot.config`` reads to pick and tune the scripted providers."""
        return {
            **ChatSettings.environment(
                chat_provider="scripted",
                scripted_answer=self.answer,
                scripted_first_token_ms=self.first_token_ms,
                scripted_tokens_per_second=self.tokens_per_second,
                scripted_chars_per_token=self.chars_per_token,
                first_clause_min_chars=self.first_clause_min_chars,
                first_phrase_min_chars=self.first_phrase_min_chars,
            ),
            **SpeechSettings.environment(
                tts_provider="scripted",
                scripted_tts_delay_ms=self.tts_delay_ms,
                scripted_tts_ms_per_char=self.tts_ms_per_char,
                # A cache would serve the old strategy's repeated sentence for free; real
                # answers differ every turn.
                speech_cache_size=0,
            ),
        }

    def synthesis_ms(self, text: str) -> float:
        return self.tts_delay_ms + self.tts_ms_per_char * len(text)


@dataclass(frozen=True)
class Floor:
    """What the providers alone allow, from the model's stream through the product's own cutter.

    ``first_audio_ms`` is the floor of the first spoken segment (the first clause when the
    product cuts one, else the first sentence); ``sentence_first_audio_ms`` is the issue's
    original definition (the whole first sentence), the same number when no clause is cut.
    """

    sentences: list[str]  # whole sentences: what the old strategy speaks
    segments: list[str]  # what this project speaks (first may be a clause)
    tokens: int  # tokens in the whole answer
    tokens_to_first_segment: int  # including the look-ahead the cut needs
    first_token_ms: float
    stream_first_segment_ms: float
    synthesize_first_segment_ms: float
    first_audio_ms: float  # our floor
    sentence_first_audio_ms: float  # first token + stream + synthesis of the whole 1st sentence
    old_first_audio_ms: float  # the old strategy's floor: whole answer, then synthesis

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cut(
    tokens: list[str], first_clause_min_chars: int, first_phrase_min_chars: int = 0
) -> tuple[list[str], int]:
    """The cutter's output and the number of tokens it needed for the first piece."""
    from voicebot.segmenter import SentenceSegmenter

    segmenter = SentenceSegmenter(
        first_clause_min_chars=first_clause_min_chars,
        first_phrase_min_chars=first_phrase_min_chars,
    )
    first_at, pieces = 0, []
    for i, token in enumerate(tokens, start=1):
        found = segmenter.feed(token)
        if found and not first_at:
            first_at = i
        pieces += found
    pieces += segmenter.flush()
    return pieces, first_at or len(tokens)


def floor_of(p: Providers) -> Floor:
    """Replay the scripted model's tokens through the project's own sentence cutter."""
    from voicebot.adapters.scripted import split_tokens

    tokens = split_tokens(p.answer, p.chars_per_token)
    interval = 1000 / p.tokens_per_second if p.tokens_per_second else 0.0
    segments, segment_at = _cut(tokens, p.first_clause_min_chars, p.first_phrase_min_chars)
    sentences, sentence_at = _cut(tokens, 0)
    stream = (segment_at - 1) * interval
    synth = p.synthesis_ms(segments[0])
    sentence_synth = p.synthesis_ms(sentences[0])
    return Floor(
        sentences=sentences,
        segments=segments,
        tokens=len(tokens),
        tokens_to_first_segment=segment_at,
        first_token_ms=p.first_token_ms,
        stream_first_segment_ms=stream,
        synthesize_first_segment_ms=synth,
        first_audio_ms=p.first_token_ms + stream + synth,
        sentence_first_audio_ms=p.first_token_ms + (sentence_at - 1) * interval + sentence_synth,
        old_first_audio_ms=p.first_token_ms + (len(tokens) - 1) * interval + sentence_synth,
    )
