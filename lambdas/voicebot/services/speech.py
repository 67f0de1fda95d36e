"""SpeechService: text to OGG, with a small in-memory cache of repeated texts."""

from __future__ import annotations

from collections import OrderedDict

from ..ports import Synthesizer


class SpeechService:
    def __init__(self, synthesizer: Synthesizer, *, cache_size: int) -> None:
        self._synth = synthesizer
        self._cache: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._cache_size = cache_size

    async def speak(self, text: str, voice: str, language: str) -> bytes:
        key = (text, voice, language)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        audio = await self._synth.synthesize(text, voice, language)
        if self._cache_size:
            self._cache[key] = audio
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return audio
