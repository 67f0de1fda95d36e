"""In-memory implementations of the ports, for the service tests (no servers, no network).

Each class follows the semantics of the adapter it stands in for (``RedisBus`` for the first
five ports, ``DynamoHistoryStore`` for the history) closely enough that a service cannot tell the
difference; the module-level annotations at the bottom let mypy check them against the Protocols.

``MemoryHistory`` and ``RecordingPoster`` extend the fakes in ``tests/unit/test_turn_runner.py``
(rather than copying them) with what those lack: ``mark_heard``, failure switches, several
connections and pages that have gone away.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from tests.unit.test_turn_runner import MemoryHistory as _UnitMemoryHistory
from tests.unit.test_turn_runner import RecordingPoster as _UnitRecordingPoster
from voicebot.contract.wire import TranscriptEvent, TranscriptPost
from voicebot.errors import ServiceUnavailable
from voicebot.ports import (
    AppendResult,
    CancelFlags,
    ChatMessage,
    ChatModel,
    ConnectionPoster,
    ConnectionRegistry,
    DeliveryLedger,
    HistoryStore,
    Synthesizer,
    TranscriptStream,
    Turn,
    TurnClaims,
)


class MemoryBus:
    """ConnectionRegistry, TranscriptStream, DeliveryLedger, TurnClaims and CancelFlags in dicts.

    Stream ids read like Redis's (``"<n>-0"``); an unknown ``after`` replays everything, as on
    Redis; unregistering a connection forgets what was delivered to it.
    """

    def __init__(self) -> None:
        self.owners: dict[str, str] = {}
        self.registered_at: dict[str, float] = {}  # connection -> time.monotonic()
        self.streams: dict[str, list[TranscriptEvent]] = defaultdict(list)
        # (user, utterance) -> {"last": seq, "final": id, "ids": {seq: id}}
        self.utterances: dict[tuple[str, str], dict[str, Any]] = {}
        self.delivered: dict[str, set[str]] = defaultdict(set)
        self.leases: set[tuple[str, str]] = set()  # (connection, event) claimed, not confirmed
        self.turns: set[tuple[str, str]] = set()
        self.cancels: dict[tuple[str, str], int | None] = {}
        self._next_id = 0

    # ---- ConnectionRegistry ----
    async def register(self, user_id: str, connection_id: str) -> None:
        self.owners[connection_id] = user_id
        self.registered_at[connection_id] = time.monotonic()

    def age(self, connection_id: str, ms: int) -> None:
        """Make a registration ``ms`` older (a page that has been open a while)."""
        self.registered_at[connection_id] -= ms / 1000

    async def registered_for_ms(self, user_id: str, connection_id: str) -> int | None:
        if self.owners.get(connection_id) != user_id:
            return None
        return int((time.monotonic() - self.registered_at[connection_id]) * 1000)

    async def unregister(self, connection_id: str) -> None:
        self.owners.pop(connection_id, None)
        self.delivered.pop(connection_id, None)

    async def owner(self, connection_id: str) -> str | None:
        return self.owners.get(connection_id)

    async def connections(self, user_id: str) -> list[str]:
        return sorted(c for c, u in self.owners.items() if u == user_id)

    # ---- TranscriptStream ----
    async def append(self, user_id: str, post: TranscriptPost) -> AppendResult:
        utt = self.utterances.setdefault((user_id, post.utteranceId), {"ids": {}})
        if post.seq in utt["ids"]:
            return AppendResult("repeat", utt["ids"][post.seq])
        if "final" in utt:
            return AppendResult("closed", None)
        if "last" in utt and post.seq < utt["last"]:
            return AppendResult("stale", None)
        self._next_id += 1
        event_id = f"{self._next_id}-0"
        self.streams[user_id].append(TranscriptEvent(id=event_id, **post.body()))
        utt["last"] = post.seq
        utt["ids"][post.seq] = event_id
        if post.final:
            utt["final"] = event_id
        return AppendResult("new", event_id)

    async def events_after(
        self, user_id: str, after: str, limit: int = 1000
    ) -> list[TranscriptEvent]:
        events = self.streams[user_id]
        ids = [e.id for e in events]
        return events[ids.index(after) + 1 :][:limit] if after in ids else events[-limit:]

    async def event(self, user_id: str, event_id: str) -> TranscriptEvent | None:
        return next((e for e in self.streams[user_id] if e.id == event_id), None)

    # ---- DeliveryLedger ----
    async def claim_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> list[str]:
        claimed = [
            c
            for c in connection_ids
            if event_id not in self.delivered[c] and (c, event_id) not in self.leases
        ]
        self.leases.update((c, event_id) for c in claimed)
        return claimed

    async def confirm_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> None:
        for c in connection_ids:
            self.leases.discard((c, event_id))
            self.delivered[c].add(event_id)

    async def release_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> None:
        for c in connection_ids:
            self.leases.discard((c, event_id))

    # ---- TurnClaims ----
    async def claim_turn(self, user_id: str, turn_id: str) -> bool:
        if (user_id, turn_id) in self.turns:
            return False
        self.turns.add((user_id, turn_id))
        return True

    async def release_turn(self, user_id: str, turn_id: str) -> None:
        self.turns.discard((user_id, turn_id))

    # ---- CancelFlags ----
    async def request_cancel(self, user_id: str, turn_id: str, heard: int | None) -> None:
        self.cancels[(user_id, turn_id)] = heard

    async def cancel_requested(self, user_id: str, turn_id: str) -> tuple[bool, int | None]:
        key = (user_id, turn_id)
        return (True, self.cancels[key]) if key in self.cancels else (False, None)


class MemoryPoster(_UnitRecordingPoster):
    """Records every message per connection; a connection in ``gone`` answers False."""

    def __init__(self, gone: set[str] | None = None) -> None:
        super().__init__()
        self.gone = set(gone or ())
        self.attempts: list[str] = []
        self.closed: list[str] = []
        self.received: dict[str, list[dict[str, Any]]] = defaultdict(list)

    async def post(self, connection_id: str, data: bytes) -> bool:
        self.attempts.append(connection_id)
        if connection_id in self.gone:
            return False
        self.received[connection_id].append(json.loads(data))
        return await super().post(connection_id, data)

    async def close(self, connection_id: str) -> None:
        self.closed.append(connection_id)


class MemoryHistory(_UnitMemoryHistory):
    """The unit tests' history, plus ``mark_heard`` (as DynamoDB does it) and failure switches."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_save = False
        self.fail_recent = False

    async def recent(self, user_id: str, limit: int) -> list[Turn]:
        if self.fail_recent:
            raise ServiceUnavailable("history is unreachable")
        if limit <= 0:
            return []
        return await super().recent(user_id, limit)

    async def save(self, turn: Turn) -> None:
        if self.fail_save:
            raise ServiceUnavailable("history is unreachable")
        await super().save(turn)

    async def mark_heard(self, user_id: str, turn_id: str, heard: int) -> bool:
        newest = [t for t in self.turns if t.user_id == user_id][-5:]
        turn = next((t for t in newest if t.turn_id == turn_id), None)
        if turn is None or turn.interrupted:
            return False
        turn.assistant_text = " ".join(turn.sentences[:heard])
        turn.interrupted = True
        return True


class ListChatModel:
    """Streams fixed pieces; records the messages it was given and whether it was closed.

    ``after`` maps a piece's index to a callback run once that piece has been taken (to request
    a cancel at a known point); ``fail`` is raised after the last piece; ``endless`` keeps
    yielding a filler piece (slowly) after the last one until the consumer stops.
    """

    def __init__(
        self,
        pieces: Sequence[str],
        *,
        after: dict[int, Callable[[], Awaitable[None]]] | None = None,
        fail: BaseException | None = None,
        endless: bool = False,
    ) -> None:
        self.pieces = list(pieces)
        self.after = after or {}
        self.fail = fail
        self.endless = endless
        self.calls: list[list[ChatMessage]] = []
        self.taken = 0
        self.closed = False

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        import asyncio

        self.calls.append(list(messages))
        try:
            for i, piece in enumerate(self.pieces):
                yield piece
                self.taken += 1
                if i in self.after:
                    await self.after[i]()
            if self.fail is not None:
                raise self.fail
            while self.endless:
                await asyncio.sleep(0.01)
                yield "그리고 "
                self.taken += 1
        finally:
            self.closed = True


class MemorySynthesizer:
    """Answers fixed bytes per text; records each call; raises ``fail(text)`` when it is set."""

    def __init__(self, fail: Callable[[str], BaseException | None] | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self._fail = fail

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        self.calls.append((text, voice, language))
        error = self._fail(text) if self._fail else None
        if error is not None:
            raise error
        return f"OggS:{text}:{voice}:{language}".encode()


# Checked by mypy: each fake satisfies the Protocol it stands in for.
_bus = MemoryBus()
_registry: ConnectionRegistry = _bus
_stream: TranscriptStream = _bus
_ledger: DeliveryLedger = _bus
_claims: TurnClaims = _bus
_cancels: CancelFlags = _bus
_poster: ConnectionPoster = MemoryPoster()
_history: HistoryStore = MemoryHistory()
_model: ChatModel = ListChatModel([])
_synth: Synthesizer = MemorySynthesizer()
