"""Ports: what the services need from the outside world, one narrow interface per concern.

Adapters implement them (Redis serves the first five and the quota counters, DynamoDB the
history, Bedrock and the other providers the chat model, Polly/espeak/Riva the synthesizer);
each service asks only for the ports it uses, so its tests can hand it small in-memory versions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from .contract.wire import TranscriptEvent, TranscriptPost, TurnInvocation

AppendStatus = Literal["new", "repeat", "stale", "closed"]


@dataclass(frozen=True)
class AppendResult:
    status: AppendStatus
    event_id: str | None


class ConnectionRegistry(Protocol):
    """Which user each open WebSocket connection belongs to."""

    async def register(self, user_id: str, connection_id: str) -> None: ...

    async def unregister(self, connection_id: str) -> None: ...

    async def owner(self, connection_id: str) -> str | None: ...

    async def connections(self, user_id: str) -> list[str]: ...

    async def registered_for_ms(self, user_id: str, connection_id: str) -> int | None:
        """How long ago this connection of the user's was registered (None: it is not)."""
        ...


class TranscriptStream(Protocol):
    """The user's bounded, replayable stream of transcript events."""

    async def append(self, user_id: str, post: TranscriptPost) -> AppendResult: ...

    async def events_after(
        self, user_id: str, after: str, limit: int = 1000
    ) -> list[TranscriptEvent]:
        """At most ``limit`` retained events after ``after``, oldest first (one bounded read; an
        id that is not a stream id at all gives the newest ``limit``)."""
        ...

    async def event(self, user_id: str, event_id: str) -> TranscriptEvent | None:
        """One retained event (None when unknown or trimmed)."""
        ...


class DeliveryLedger(Protocol):
    """Which events each connection has had: a delivery is claimed (a short lease, so a resume
    and a live post never both send it), then confirmed once its post succeeded, or released
    when it failed, so that the event stays replayable."""

    async def claim_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> list[str]:
        """Lease this event's delivery to these connections; return those that had neither had
        it nor a live lease on it."""
        ...

    async def confirm_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> None:
        """These connections have had the event (their posts succeeded)."""
        ...

    async def release_delivery(
        self, user_id: str, event_id: str, connection_ids: list[str]
    ) -> None:
        """Their posts failed: the event may be claimed for them again (by a resume)."""
        ...


class TurnClaims(Protocol):
    async def claim_turn(self, user_id: str, turn_id: str) -> bool:
        """True the first time a turn id is asked for: a repeated ``chat`` runs no second turn."""
        ...

    async def release_turn(self, user_id: str, turn_id: str) -> None:
        """The turn failed: the same turn id may be asked again."""
        ...


class CancelFlags(Protocol):
    async def request_cancel(self, user_id: str, turn_id: str, heard: int | None) -> None: ...

    async def cancel_requested(self, user_id: str, turn_id: str) -> tuple[bool, int | None]: ...


@dataclass(frozen=True)
class HeldAnswer:
    """A preemptive answer started on a partial transcript, held until a ``chat`` adopts it."""

    answer_id: str
    utterance_id: str
    text: str
    # Set once adopted: the page's turn id and connection, and the confirmed (final) text.
    turn_id: str | None = None
    connection_id: str | None = None
    confirmed_text: str | None = None
    speech_ended_at: int | None = None  # the device's end of speech of the confirming transcript


@dataclass(frozen=True)
class Adoption:
    """A page's turn taking a held answer over: its turn id and connection, the final text."""

    turn_id: str
    connection_id: str
    text: str
    speech_ended_at: int | None = None  # the device's end of speech of that final


class HeldAnswers(Protocol):
    """The user's one preemptive answer in flight (a newer one replaces it)."""

    async def offer(self, user_id: str, answer: HeldAnswer) -> None: ...

    async def current(self, user_id: str) -> HeldAnswer | None: ...

    async def adopt(self, user_id: str, answer_id: str, adoption: Adoption) -> bool:
        """Hand the held answer to a page's turn; False if it is no longer the current one."""
        ...

    async def discard(self, user_id: str, answer_id: str) -> None:
        """Forget it (only if it is still the current one); its turn stops and says nothing."""
        ...

    async def count_discarded(self, user_id: str) -> None:
        """A held answer of this user ended unheard (its turn says so as it stops)."""
        ...

    async def take_discarded(self, user_id: str) -> int:
        """How many ended unheard since the last call (the next turn's ledger reports them)."""
        ...


@dataclass(frozen=True)
class QuotaWindow:
    """One counter's use in its current window, and when that window ends."""

    used: int
    resets_in_ms: int  # 0 when no window is open (nothing used yet)


class QuotaCounters(Protocol):
    """Counters that reset a fixed time after their first use (services/quotas.py)."""

    async def spend(
        self, counter: str, amount: int, limit: int | None, window_ms: int
    ) -> tuple[bool, QuotaWindow]:
        """Add ``amount`` unless the total would pass ``limit`` (None: always add); atomically.

        A counter's window opens at its first spend and lasts ``window_ms``. Returns whether it
        was added, and the window as it is now.
        """
        ...

    async def window(self, counter: str) -> QuotaWindow: ...


class TurnStarter(Protocol):
    """Starts a turn in the chat function without waiting for it: a page's turn handed over by
    the chat route, or a preemptive turn started by the transcripts function."""

    async def start(self, turn: TurnInvocation) -> None: ...


class ConnectionPoster(Protocol):
    """Sends one message to one WebSocket connection (API Gateway ``@connections``)."""

    async def post(self, connection_id: str, data: bytes) -> bool:
        """True when sent; False when the connection is gone. Other failures raise."""
        ...

    async def close(self, connection_id: str) -> None:
        """Close the connection (API Gateway ``DeleteConnection``); the page reconnects."""
        ...


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    text: str


class ChatModel(Protocol):
    """A chat model that streams its answer as text pieces.

    Failures are raised as :class:`voicebot.errors.ProviderError` (with ``retryable``) or
    :class:`voicebot.errors.ServiceUnavailable`; adapters translate their vendor's errors.
    """

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]: ...


@dataclass
class Turn:
    user_id: str
    turn_id: str
    user_text: str
    assistant_text: str
    interrupted: bool
    at_ms: int
    sentences: list[str] = field(default_factory=list)


class HistoryStore(Protocol):
    async def recent(self, user_id: str, limit: int) -> list[Turn]:
        """The newest ``limit`` turns, oldest first."""
        ...

    async def save(self, turn: Turn) -> None: ...

    async def mark_heard(self, user_id: str, turn_id: str, heard: int) -> bool:
        """A stored turn was cut short after it was answered: keep the first ``heard`` sentences.

        False when the turn is not (or no longer) among the user's recent turns.
        """
        ...

    async def clear(self, user_id: str) -> None: ...


class Synthesizer(Protocol):
    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        """OGG Vorbis bytes of ``text`` spoken."""
        ...


@runtime_checkable
class StreamingSynthesizer(Synthesizer, Protocol):
    """A synthesizer that can hand a sentence over as it is made (Riva's streamed synthesis)."""

    def synthesize_pieces(self, text: str, voice: str, language: str) -> AsyncIterator[bytes]:
        """``text`` spoken as several whole OGG Vorbis files, in order, each yielded as soon as
        it is encoded; played back to back they are the sentence. Closing the iterator stops
        the synthesis."""
        ...
