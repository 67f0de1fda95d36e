"""SpeechService on an in-memory synthesizer: the small cache of repeated texts."""

from __future__ import annotations

import pytest

from voicebot.errors import ProviderError
from voicebot.services.speech import SpeechService

from .memory_ports import MemorySynthesizer


async def test_a_repeated_text_is_served_from_the_cache() -> None:
    synth = MemorySynthesizer()
    service = SpeechService(synth, cache_size=4)

    first = await service.speak("안녕하세요", "Seoyeon", "ko-KR")
    second = await service.speak("안녕하세요", "Seoyeon", "ko-KR")

    assert (
        first
        == second
        == b"OggS:\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94:Seoyeon:ko-KR"
    )
    assert len(synth.calls) == 1


@pytest.mark.parametrize(
    "other",
    [
        ("안녕히 가세요", "Seoyeon", "ko-KR"),
        ("안녕하세요", "Other", "ko-KR"),
        ("안녕하세요", "Seoyeon", "en-US"),
    ],
)
async def test_another_text_voice_or_language_is_a_miss(other: tuple[str, str, str]) -> None:
    synth = MemorySynthesizer()
    service = SpeechService(synth, cache_size=4)

    await service.speak("안녕하세요", "Seoyeon", "ko-KR")
    await service.speak(*other)

    assert synth.calls == [("안녕하세요", "Seoyeon", "ko-KR"), other]


async def test_the_least_recently_used_text_is_evicted_first() -> None:
    synth = MemorySynthesizer()
    service = SpeechService(synth, cache_size=2)
    for text in ("하나", "둘", "하나", "셋"):  # "하나" was used again, so "둘" is the oldest
        await service.speak(text, "Seoyeon", "ko-KR")

    await service.speak("하나", "Seoyeon", "ko-KR")  # still cached
    await service.speak("셋", "Seoyeon", "ko-KR")  # still cached
    await service.speak("둘", "Seoyeon", "ko-KR")  # evicted: synthesized again

    assert [c[0] for c in synth.calls] == ["하나", "둘", "셋", "둘"]


async def test_a_cache_size_of_zero_caches_nothing() -> None:
    synth = MemorySynthesizer()
    service = SpeechService(synth, cache_size=0)

    for _ in range(3):
        await service.speak("안녕", "Seoyeon", "ko-KR")

    assert len(synth.calls) == 3


async def test_a_failed_synthesis_is_not_cached() -> None:
    failures = iter([ProviderError("busy", retryable=True)])
    synth = MemorySynthesizer(fail=lambda text: next(failures, None))
    service = SpeechService(synth, cache_size=4)

    with pytest.raises(ProviderError):
        await service.speak("안녕", "Seoyeon", "ko-KR")
    assert (
        await service.speak("안녕", "Seoyeon", "ko-KR")
        == b"OggS:" + "안녕".encode() + b":Seoyeon:ko-KR"
    )

    assert len(synth.calls) == 2
