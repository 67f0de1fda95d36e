"""Scripted providers with controllable timing — for tests and benchmarks only, never a default.

The chat model streams a fixed answer with a time to first token and a token rate; the
synthesizer answers after a fixed delay plus a per-character cost with a real OGG tone whose
length follows the text.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import AsyncIterator, Sequence
from functools import lru_cache

from ..ports import ChatMessage


def split_tokens(text: str, chars_per_token: float = 3.0) -> list[str]:
    """Cut ``text`` into tokens of ``chars_per_token`` characters on average, as a tokenizer
    would for that language; a fraction is fine: 1.75 gives tokens of 2, 2, 1, 2, 2, 1, ...
    characters."""
    if chars_per_token <= 0:
        raise ValueError("chars_per_token must be positive")
    tokens: list[str] = []
    start, k = 0, 1
    while start < len(text):
        end = max(start + 1, round(k * chars_per_token))
        tokens.append(text[start:end])
        start, k = end, k + 1
    return tokens


class ScriptedChatModel:
    """The chat-model port, streaming a fixed answer at a set pace (no LangChain involved)."""

    def __init__(
        self,
        answer: str,
        first_token_ms: int = 0,
        tokens_per_second: float = 0.0,
        chars_per_token: float = 3.0,
    ) -> None:
        self.answer = answer
        self.first_token_ms = first_token_ms
        self.tokens_per_second = tokens_per_second
        self.chars_per_token = chars_per_token

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        # Paced against the clock, not by sleeping a fixed interval after each token: a busy
        # event loop must not stretch the model's timing, as it would not slow a real network.
        loop = asyncio.get_running_loop()
        start = loop.time() + self.first_token_ms / 1000
        interval = 1 / self.tokens_per_second if self.tokens_per_second > 0 else 0.0
        for i, token in enumerate(split_tokens(self.answer, self.chars_per_token)):
            await asyncio.sleep(max(0.0, start + i * interval - loop.time()))
            yield token


@lru_cache(maxsize=64)
def ogg_tone(milliseconds: int, sample_rate: int = 22050) -> bytes:
    import numpy as np
    import soundfile

    n = max(1, int(sample_rate * milliseconds / 1000))
    t = np.arange(n, dtype=np.float32) / sample_rate
    wave = 0.2 * np.sin(2 * math.pi * 440.0 * t).astype(np.float32)
    out = io.BytesIO()
    soundfile.write(out, wave, sample_rate, format="OGG", subtype="VORBIS")
    return out.getvalue()


class ScriptedSynthesizer:
    def __init__(self, delay_ms: float = 0.0, ms_per_char: float = 0.0) -> None:
        self._delay_ms = delay_ms
        self._ms_per_char = ms_per_char

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        await asyncio.sleep((self._delay_ms + self._ms_per_char * len(text)) / 1000)
        # Quantised so the tone cache stays small; ~60 ms of audio per character, at most 3 s.
        return ogg_tone(min(3000, max(100, 60 * len(text))) // 100 * 100)
