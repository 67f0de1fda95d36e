"""QuotaService on in-memory counters: what is refused, with which retry time, and what counts."""

from __future__ import annotations

import pytest

from voicebot.contract.settings import QuotaSettings
from voicebot.errors import QuotaExceeded
from voicebot.ports import QuotaWindow
from voicebot.services.quotas import QuotaService


class MemoryCounters:
    """Counters whose windows are set by hand (``resets_in_ms`` as Redis would report it)."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}
        self.resets_in_ms = 30_500

    async def spend(
        self, counter: str, amount: int, limit: int | None, window_ms: int
    ) -> tuple[bool, QuotaWindow]:
        used = self.used.get(counter, 0)
        if limit is not None and used + amount > limit:
            return False, QuotaWindow(used, self.resets_in_ms)
        self.used[counter] = used + amount
        return True, QuotaWindow(used + amount, self.resets_in_ms)

    async def window(self, counter: str) -> QuotaWindow:
        used = self.used.get(counter, 0)
        return QuotaWindow(used, self.resets_in_ms if used else 0)


def service(counters: MemoryCounters, **settings: int) -> QuotaService:
    return QuotaService(counters, QuotaSettings(**settings))


async def test_turns_past_the_limit_are_refused_with_the_seconds_until_the_reset() -> None:
    counters = MemoryCounters()
    quotas = service(counters, quota_turns=2, quota_turns_window_seconds=60)
    await quotas.admit_turn("u1")
    await quotas.admit_turn("u1")
    with pytest.raises(QuotaExceeded) as refused:
        await quotas.admit_turn("u1")
    assert (refused.value.status, refused.value.code) == (429, "quota_exceeded")
    assert refused.value.retry_after == 31  # rounded up: a retry at 30 s would still be refused
    assert counters.used["turns:u1"] == 2
    await quotas.admit_turn("u2")  # another user is unaffected


async def test_a_turn_is_refused_once_the_speech_characters_are_spent() -> None:
    counters = MemoryCounters()
    quotas = service(counters, quota_speech_chars=100)
    await quotas.record_speech("u1", 99)
    await quotas.admit_turn("u1")
    await quotas.record_speech("u1", 50)  # a turn's answer may overshoot: it already happened
    assert counters.used["speech:u1"] == 149
    with pytest.raises(QuotaExceeded):
        await quotas.admit_turn("u1")
    assert counters.used["turns:u1"] == 1  # the refused turn was not counted
    assert await quotas.turn_allowed("u1") is False
    assert await quotas.turn_allowed("u2") is True


async def test_speech_requests_that_would_pass_the_limit_are_refused_whole() -> None:
    counters = MemoryCounters()
    quotas = service(counters, quota_speech_chars=100)
    await quotas.spend_speech("u1", 60)
    with pytest.raises(QuotaExceeded) as refused:
        await quotas.spend_speech("u1", 41)
    assert refused.value.retry_after == 31
    assert counters.used["speech:u1"] == 60
    await quotas.spend_speech("u1", 40)


async def test_turn_allowed_counts_nothing() -> None:
    counters = MemoryCounters()
    quotas = service(counters, quota_turns=1)
    assert await quotas.turn_allowed("u1") is True
    assert counters.used == {}
    await quotas.admit_turn("u1")
    assert await quotas.turn_allowed("u1") is False


async def test_a_zero_limit_turns_its_quota_off() -> None:
    counters = MemoryCounters()
    quotas = service(counters, quota_turns=0, quota_speech_chars=0)
    for _ in range(50):
        await quotas.admit_turn("u1")
        await quotas.spend_speech("u1", 3000)
        await quotas.record_speech("u1", 3000)
    assert counters.used == {}
    assert await quotas.turn_allowed("u1") is True
