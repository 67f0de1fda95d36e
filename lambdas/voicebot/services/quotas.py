"""QuotaService: per-user limits on what costs money, decided before anything is billed.

Three quotas, each a counter whose window opens at the user's first use and resets a fixed time
later (QuotaSettings): chat turns (each one a Bedrock call) and synthesized characters (Polly
bills characters; the answers' sentences and ``/api/speech`` share the one budget) and Amazon
Transcribe streams the page opens (one per pre-signed URL; Transcribe bills each stream's seconds,
at least 15 per stream). A limit of 0
turns its quota off. Refusals raise :class:`~voicebot.errors.QuotaExceeded` with the seconds
until the window resets, so the page can say when to try again.

A chat turn cannot know how much it will speak before it runs, so its characters are counted
after it ends, and a user with no characters left gets no turn: one turn may overshoot the
character limit by one answer (at most ``CHAT_MAX_TOKENS`` worth of text).
"""

from __future__ import annotations

import math

from ..contract.settings import QuotaSettings
from ..errors import QuotaExceeded
from ..ports import QuotaCounters, QuotaWindow

TURNS = "turns"
SPEECH_CHARS = "speech"
TRANSCRIBE_STREAMS = "transcribe"


def _seconds(window: QuotaWindow) -> int:
    """Whole seconds until the window resets, never 0 (a retry at once would be refused)."""
    return max(1, math.ceil(window.resets_in_ms / 1000))


class QuotaService:
    def __init__(self, counters: QuotaCounters, settings: QuotaSettings) -> None:
        self._counters = counters
        self._settings = settings

    async def admit_turn(self, user_id: str) -> None:
        """Count one chat turn, or refuse it (nothing counted) when a quota is spent."""
        await self._require_speech_left(user_id)
        limit = self._settings.quota_turns
        if not limit:
            return
        window_ms = self._settings.quota_turns_window_seconds * 1000
        added, window = await self._counters.spend(_key(TURNS, user_id), 1, limit, window_ms)
        if not added:
            raise QuotaExceeded(
                f"At most {limit} turns per {self._settings.quota_turns_window_seconds} s.",
                _seconds(window),
            )

    async def admit_stream(self, user_id: str, limit: int, seconds: int) -> None:
        """Count one Amazon Transcribe stream (a pre-signed URL), or refuse it (none counted):
        at most ``limit`` in ``seconds`` (TranscribeSettings; 0: no limit)."""
        if not limit:
            return
        added, window = await self._counters.spend(
            _key(TRANSCRIBE_STREAMS, user_id), 1, limit, seconds * 1000
        )
        if not added:
            raise QuotaExceeded(
                f"At most {limit} microphone streams per {seconds} s.", _seconds(window)
            )

    async def turn_allowed(self, user_id: str) -> bool:
        """Whether a turn would be admitted now, without counting one (a preemptive turn is
        counted when a page's ``chat`` adopts it, and never if it is discarded unheard)."""
        if self._speech_spent(await self._speech_window(user_id)):
            return False
        limit = self._settings.quota_turns
        if not limit:
            return True
        return (await self._counters.window(_key(TURNS, user_id))).used < limit

    async def spend_speech(self, user_id: str, characters: int) -> None:
        """Count characters about to be synthesized, or refuse them (nothing counted)."""
        limit = self._settings.quota_speech_chars
        if not limit:
            return
        added, window = await self._counters.spend(
            _key(SPEECH_CHARS, user_id), characters, limit, self._speech_window_ms
        )
        if not added:
            raise QuotaExceeded(self._speech_message(), _seconds(window))

    async def record_speech(self, user_id: str, characters: int) -> None:
        """Count characters already synthesized (a chat turn's answer), whatever the total."""
        if self._settings.quota_speech_chars and characters > 0:
            await self._counters.spend(
                _key(SPEECH_CHARS, user_id), characters, None, self._speech_window_ms
            )

    @property
    def _speech_window_ms(self) -> int:
        return self._settings.quota_speech_window_seconds * 1000

    async def _speech_window(self, user_id: str) -> QuotaWindow:
        return await self._counters.window(_key(SPEECH_CHARS, user_id))

    def _speech_spent(self, window: QuotaWindow) -> bool:
        limit = self._settings.quota_speech_chars
        return bool(limit) and window.used >= limit

    async def _require_speech_left(self, user_id: str) -> None:
        if not self._settings.quota_speech_chars:
            return
        window = await self._speech_window(user_id)
        if self._speech_spent(window):
            raise QuotaExceeded(self._speech_message(), _seconds(window))

    def _speech_message(self) -> str:
        return (
            f"At most {self._settings.quota_speech_chars} characters of speech per "
            f"{self._settings.quota_speech_window_seconds} s."
        )


def _key(quota: str, user_id: str) -> str:
    return f"{quota}:{user_id}"
