"""History as the protocol shows it: the caller's newest turns, oldest first."""

from __future__ import annotations

from typing import Any

from ..ports import HistoryStore


class HistoryService:
    def __init__(self, store: HistoryStore) -> None:
        self._store = store

    async def list(self, user_id: str, limit: int) -> dict[str, Any]:
        turns = await self._store.recent(user_id, limit)
        return {
            "turns": [
                {
                    "turnId": t.turn_id,
                    "user": t.user_text,
                    "assistant": t.assistant_text,
                    "interrupted": t.interrupted,
                    "at": t.at_ms,
                }
                for t in turns
            ]
        }

    async def record_heard(self, user_id: str, turn_id: str, heard: int | None) -> bool:
        """A cancel that came after the turn was answered and stored (playback outlasts
        generation): the history keeps what the user heard, so the next turn's context does not
        contain sentences they never heard. Without ``heard`` there is nothing to correct."""
        if heard is None:
            return False
        return await self._store.mark_heard(user_id, turn_id, heard)

    async def clear(self, user_id: str) -> None:
        await self._store.clear(user_id)
