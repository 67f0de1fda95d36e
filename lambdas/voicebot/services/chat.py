"""TurnRunner: one chat turn, from the user's text to the last sentence of spoken answer.

The model streams into three overlapping stages so the first sound comes as early as the
providers allow: text goes out as small ``delta`` batches; each completed sentence is announced
and handed to the synthesizer at once (several in flight), while an audio pump sends the audio
strictly in sentence order; a single outbox serialises everything to the connection, so the
protocol's order guarantees hold by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..contract.settings import AnswerShapeSettings, ConversationSettings
from ..contract.wire import (
    INTERNAL_ERROR,
    AudioEvent,
    DeltaEvent,
    DoneEvent,
    ErrorEvent,
    SentenceEvent,
    ServerEvent,
)
from ..errors import ProviderError, ServiceUnavailable
from ..ports import (
    CancelFlags,
    ChatMessage,
    ChatModel,
    ConnectionPoster,
    HeldAnswer,
    HeldAnswers,
    HistoryStore,
    StreamingSynthesizer,
    Synthesizer,
    Turn,
)
from ..protocol import audio_events, encode_event, piece_events
from ..segmenter import SentenceSegmenter
from ..speakable import PAUSE_OGG, speakable
from .relay import DeliveryPolicy, post_with_retry

logger = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.05
_POST_RETRIES = DeliveryPolicy()

# A streamed sentence's audio as its synthesis makes it: whole OGG files, then None (the end) or
# the exception that ended it.
Pieces = asyncio.Queue[bytes | BaseException | None]


def now_ms() -> int:
    return int(time.time() * 1000)


def _conversation_window() -> int:
    return ConversationSettings().history_window_turns


@dataclass(frozen=True)
class TurnOptions:
    """What shapes a turn. Left out, a setting has its default from ``contract/settings.py``."""

    system_prompt: str
    voice: str
    language: str
    # How many past turns the model sees.
    history_turns: int = field(default_factory=_conversation_window)
    answer: AnswerShapeSettings = field(default_factory=AnswerShapeSettings)


@dataclass
class TurnOutcome:
    text: str
    sentences: list[str]
    interrupted: bool
    ledger: dict[str, int]
    error: str | None = None
    stored: bool = False
    # A preemptive answer that no page adopted (see run_held).
    discarded: bool = False


class Outbox:
    """Sends a turn's events to one connection, one post at a time.

    The protocol orders deltas among themselves, sentence i before audio i, audio by index, and
    ``done`` last — it never orders text against speech. So speech events (sentence, audio,
    error) go out in the order they were put and ahead of pending text, and audio that is ready
    never waits behind text; text that piles up while a post is in flight leaves as one merged
    delta (deltas are batches anyway); ``done`` leaves when everything else has.
    """

    def __init__(
        self,
        poster: ConnectionPoster,
        connection_id: str,
        on_gone: Callable[[], None],
        *,
        held: bool = False,
    ):
        self._poster = poster
        self._connection_id = connection_id
        self._on_gone = on_gone
        # A held outbox keeps everything until release() names the page and the turn id.
        self._held = held
        self._turn_id: str | None = None
        self._speech: deque[ServerEvent] = deque()
        self._text: list[DeltaEvent] = []
        self._last: DoneEvent | None = None
        self._closed = False
        self._wakeup = asyncio.Event()
        self.gone = False
        self._task = asyncio.create_task(self._drain())

    def put(self, event: ServerEvent) -> None:
        if isinstance(event, DeltaEvent):
            self._text.append(event)
        elif isinstance(event, DoneEvent):
            self._last = event
        else:
            self._speech.append(event)
        self._wakeup.set()

    def release(self, connection_id: str, turn_id: str) -> None:
        """Send what is held, and all that follows, to this page under its turn id."""
        self._connection_id, self._turn_id, self._held = connection_id, turn_id, False
        self._wakeup.set()

    def discard(self) -> None:
        """Drop what is held and all that follows: nobody hears any of it."""
        self.gone, self._held = True, False
        self._wakeup.set()

    async def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        await self._task

    def _next(self) -> ServerEvent | None:
        if self._speech:
            return self._speech.popleft()
        if self._text:
            merged = DeltaEvent(
                turnId=self._text[0].turnId, text="".join(e.text for e in self._text)
            )
            self._text.clear()
            return merged
        event, self._last = self._last, None
        return event

    async def _drain(self) -> None:
        while True:
            if self._held:
                if self._closed:
                    return  # closed while still held: nothing was ever released
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            event = self._next()
            if event is None:
                if self._closed:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self.gone:
                continue
            if self._turn_id is not None and "turnId" in type(event).model_fields:
                event = event.model_copy(update={"turnId": self._turn_id})
            # Retried with backoff; one that still fails must not kill the turn.
            sent = await post_with_retry(
                self._poster, self._connection_id, encode_event(event), _POST_RETRIES
            )
            if sent is False:
                self.gone = True
                self._on_gone()


class _CancelWatch:
    def __init__(self, flags: CancelFlags, user_id: str, turn_id: str) -> None:
        self._flags = flags
        self._user_id = user_id
        self._turn_id = turn_id
        self.event = asyncio.Event()
        self.heard: int | None = None
        self._readable = True

    async def check(self) -> bool:
        if not self.event.is_set() and self._readable:
            try:
                requested, heard = await self._flags.cancel_requested(self._user_id, self._turn_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Losing Redis mid-turn (or any error reading it) must not cut the answer short
                # or leave the turn unfinished: it goes on, uncancellable.
                self._readable = False
                logger.warning("cancel flag unreadable; this turn can no longer be cancelled")
                return False
            if requested:
                self.heard = heard
                self.event.set()
        return self.event.is_set()

    async def poll(self) -> None:
        """Check the cancel flag until it is set (or the connection goes away)."""
        while not await self.check():
            if not self._readable:
                await self.event.wait()  # only a page that goes away can end the turn now
                return
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that lands as
            # the wait ends, and this loop would then outlive its turn.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CANCEL_POLL_SECONDS):
                    await self.event.wait()


class _HeldWatch(_CancelWatch):
    """A preemptive turn's watch: first whether a page adopts it, then its cancel flag.

    Until adopted it checks the user's held answer: adopted releases the outbox to that page and
    the watch becomes an ordinary cancel watch on the page's turn id; replaced, discarded or not
    adopted in time discards the outbox and ends the turn as if cancelled.
    """

    def __init__(
        self,
        flags: CancelFlags,
        held: HeldAnswers,
        user_id: str,
        answer_id: str,
        outbox_ready: Callable[[], Outbox],
        deadline: float,
        clock: Callable[[], int],
    ) -> None:
        super().__init__(flags, user_id, answer_id)
        self._held = held
        self._answer_id = answer_id
        self._outbox = outbox_ready
        self._deadline = deadline
        self._clock = clock
        self.adopted: HeldAnswer | None = None
        self.adopted_at = 0
        self.discarded = False

    @property
    def turn_id(self) -> str:
        return self._turn_id

    async def check(self) -> bool:
        if self.adopted is not None:
            return await super().check()
        if self.discarded:
            return True
        try:
            current = await self._held.current(self._user_id)
        except ServiceUnavailable:
            current = None  # nobody could adopt it: it must not play
        if current is not None and current.answer_id == self._answer_id and current.turn_id:
            self.adopted, self.adopted_at = current, self._clock()
            self._turn_id = current.turn_id
            self._outbox().release(current.connection_id or "", current.turn_id)
            return await super().check()
        stale = current is None or current.answer_id != self._answer_id
        if stale or time.monotonic() >= self._deadline:
            if not stale:
                with contextlib.suppress(ServiceUnavailable):
                    await self._held.discard(self._user_id, self._answer_id)
            self.discarded = True
            self._outbox().discard()
            self.event.set()
            with contextlib.suppress(ServiceUnavailable):
                await self._held.count_discarded(self._user_id)  # the next turn's ledger says so
            return True
        return False

    async def until_decided(self) -> None:
        while self.adopted is None and not self.discarded:
            await self.check()
            if self.adopted is None and not self.discarded:
                await asyncio.sleep(CANCEL_POLL_SECONDS)


@dataclass
class _TurnState:
    generated: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    ledger: dict[str, int] = field(default_factory=dict)
    pending_delta: str = ""
    last_flush: float = 0.0
    error: tuple[str, str] | None = None


@dataclass(eq=False)  # a service, compared and hashed by identity as before
class TurnRunner:
    """One chat turn: the model's answer streamed to the page, cut, spoken and stored."""

    model: ChatModel
    synthesizer: Synthesizer
    history: HistoryStore
    cancels: CancelFlags
    options: TurnOptions
    clock: Callable[[], int] = now_ms
    # Where discarded preemptive answers are counted, for the ledger.
    held: HeldAnswers | None = None

    async def run(
        self,
        user_id: str,
        turn_id: str,
        text: str,
        poster: ConnectionPoster,
        connection_id: str,
        *,
        speech_ended_at: int | None = None,
        received_at: int | None = None,
    ) -> TurnOutcome:
        """``speech_ended_at``: the device's end of speech of the transcript this turn answers,
        so the ledger starts where the person's wait did; ``received_at``: when the chat route
        received the turn, if that was before this call (it hands the turn over)."""
        ledger = {"received": self.clock() if received_at is None else received_at}
        if speech_ended_at is not None:
            ledger["speechEnded"] = speech_ended_at
        watch = _CancelWatch(self.cancels, user_id, turn_id)
        outbox = Outbox(poster, connection_id, on_gone=watch.event.set)
        return await self._run(user_id, turn_id, text, outbox, watch, ledger)

    async def run_held(
        self,
        user_id: str,
        answer_id: str,
        text: str,
        poster: ConnectionPoster,
        held: HeldAnswers,
        hold_seconds: float,
    ) -> TurnOutcome:
        """A preemptive turn: everything is held until a page's ``chat`` adopts it.

        Adopted, it goes on as that page's turn (its id, its connection, the confirmed text in
        the history); not adopted, it stops, nothing of it is sent and nothing is stored.
        """
        watch = _HeldWatch(
            self.cancels,
            held,
            user_id,
            answer_id,
            lambda: outbox,
            deadline=time.monotonic() + hold_seconds,
            clock=self.clock,
        )
        outbox = Outbox(poster, "", on_gone=watch.event.set, held=True)
        return await self._run(user_id, answer_id, text, outbox, watch, {"received": self.clock()})

    async def _run(
        self,
        user_id: str,
        turn_id: str,
        text: str,
        outbox: Outbox,
        watch: _CancelWatch,
        ledger: dict[str, int],
    ) -> TurnOutcome:
        """The turn, its ledger started by the caller (``received``, maybe ``speechEnded``)."""
        state = _TurnState(ledger=ledger)
        audio_queue: asyncio.Queue[tuple[int, asyncio.Task[bytes], Pieces | None] | None] = (
            asyncio.Queue()
        )
        pump = asyncio.create_task(self._pump_audio(turn_id, audio_queue, outbox, watch, state))
        synth_slots = asyncio.Semaphore(self.options.answer.synthesis_concurrency)
        tasks: list[asyncio.Task[bytes]] = []

        def emit_sentence(sentence: str) -> None:
            index = len(state.sentences)
            state.sentences.append(sentence)
            state.ledger.setdefault("firstSentence", self.clock())
            outbox.put(SentenceEvent(turnId=turn_id, index=index, text=sentence))
            # The voice says the speakable form (no markdown, URLs, emoji); the page shows
            # `sentence`.
            spoken = speakable(sentence, self.options.language)
            pieces: Pieces | None = None
            if spoken and isinstance(self.synthesizer, StreamingSynthesizer):
                pieces = asyncio.Queue()
                task = asyncio.create_task(
                    self._stream(self.synthesizer, spoken, synth_slots, pieces)
                )
            else:
                task = asyncio.create_task(self._synthesize(spoken, synth_slots))
            tasks.append(task)
            audio_queue.put_nowait((index, task, pieces))

        try:
            if not await watch.check():
                messages = await self._messages(user_id, text)
                await self._stream_answer(messages, turn_id, outbox, watch, state, emit_sentence)
            audio_queue.put_nowait(None)
            poller = asyncio.create_task(watch.poll())
            try:
                await asyncio.wait({pump, poller}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                poller.cancel()
                # Awaited, so the Lambda's event loop never closes on a task still cancelling.
                await asyncio.gather(poller, return_exceptions=True)
            if isinstance(watch, _HeldWatch):
                await watch.until_decided()  # the answer is ready; the page has yet to ask
        except ServiceUnavailable:
            state.error = ("service_unavailable", _MESSAGES["service_unavailable"])
        except Exception:
            # Anything else (a history or Redis error that is not "unreachable"): the turn still
            # ends with an error and its done, never silently.
            logger.exception("the turn failed")
            state.error = (INTERNAL_ERROR, _MESSAGES[INTERNAL_ERROR])
        finally:
            for task in (*tasks, pump):
                task.cancel()
            await asyncio.gather(*tasks, pump, return_exceptions=True)

        if isinstance(watch, _HeldWatch):
            if watch.adopted is None:
                # Discarded: never heard, never stored; the page never knew of it.
                await outbox.close()
                return TurnOutcome(
                    text="".join(state.generated),
                    sentences=state.sentences,
                    interrupted=False,
                    ledger=state.ledger,
                    discarded=True,
                )
            turn_id, text = watch.turn_id, watch.adopted.confirmed_text or text
            state.ledger["adopted"] = watch.adopted_at
            if watch.adopted.speech_ended_at is not None:
                state.ledger["speechEnded"] = watch.adopted.speech_ended_at
        # A cancel that arrived while the last audio was going out still counts: the page stopped.
        interrupted = await watch.check()
        if state.error:
            outbox.put(ErrorEvent(code=state.error[0], message=state.error[1], turnId=turn_id))
        outcome = TurnOutcome(
            text="".join(state.generated),
            sentences=state.sentences,
            interrupted=interrupted,
            ledger=state.ledger,
            error=state.error[0] if state.error else None,
        )
        outcome.stored = await self._store(user_id, turn_id, text, outcome, watch.heard)
        await self._count_discarded(user_id, state.ledger)
        state.ledger["done"] = self.clock()
        outbox.put(
            DoneEvent(
                turnId=turn_id, text=outcome.text, interrupted=interrupted, ledger=state.ledger
            )
        )
        await outbox.close()
        return outcome

    async def _count_discarded(self, user_id: str, ledger: dict[str, int]) -> None:
        """Preemptive answers of this user that ended unheard since the last turn (if any)."""
        if self.held is None:
            return
        try:
            discarded = await self.held.take_discarded(user_id)
        except Exception:  # only the ledger's count is lost
            logger.warning("could not read the discarded preemptive answers", exc_info=True)
            return
        if discarded:
            ledger["preemptiveDiscarded"] = discarded

    async def _messages(self, user_id: str, text: str) -> list[ChatMessage]:
        messages = [ChatMessage("system", self.options.system_prompt)]
        for turn in await self.history.recent(user_id, self.options.history_turns):
            if turn.user_text and turn.assistant_text:
                messages += [
                    ChatMessage("user", turn.user_text),
                    ChatMessage("assistant", turn.assistant_text),
                ]
        messages.append(ChatMessage("user", text))
        return messages

    async def _stream_answer(
        self,
        messages: list[ChatMessage],
        turn_id: str,
        outbox: Outbox,
        watch: _CancelWatch,
        state: _TurnState,
        emit_sentence: Callable[[str], None],
    ) -> None:
        segmenter = SentenceSegmenter(
            max_chars=self.options.answer.max_sentence_chars,
            first_clause_min_chars=self.options.answer.first_clause_min_chars,
            first_phrase_min_chars=self.options.answer.first_phrase_min_chars,
        )
        stream = self.model.stream(messages)
        try:
            async for piece in stream:
                if not piece:
                    continue
                state.ledger.setdefault("firstToken", self.clock())
                state.generated.append(piece)
                state.pending_delta += piece
                sentences = segmenter.feed(piece)
                if sentences or self._batch_due(state):
                    self._flush_delta(turn_id, outbox, state)
                    if await watch.check():
                        return
                for sentence in sentences:
                    emit_sentence(sentence)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # provider failures become an error event, never a crash
            state.error = _provider_error(exc)
            logger.warning("model stream failed", extra={"error": type(exc).__name__})
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
        self._flush_delta(turn_id, outbox, state)
        if not watch.event.is_set():
            for sentence in segmenter.flush():
                emit_sentence(sentence)

    def _batch_due(self, state: _TurnState) -> bool:
        if state.last_flush == 0.0:
            return True  # the first words go out at once
        if len(state.pending_delta) >= self.options.answer.delta_batch_chars:
            return True
        return (time.monotonic() - state.last_flush) * 1000 >= self.options.answer.delta_batch_ms

    @staticmethod
    def _flush_delta(turn_id: str, outbox: Outbox, state: _TurnState) -> None:
        if state.pending_delta:
            outbox.put(DeltaEvent(turnId=turn_id, text=state.pending_delta))
            state.pending_delta = ""
            state.last_flush = time.monotonic()

    async def _synthesize(self, text: str, slots: asyncio.Semaphore) -> bytes:
        # Nothing left to say: a short silence, not a gap, so every index still gets audio (the
        # page counts played segments as `heard`, which the stored turn is cut to).
        if not text:
            return PAUSE_OGG
        async with slots:
            return await self.synthesizer.synthesize(
                text, self.options.voice, self.options.language
            )

    async def _stream(
        self, synth: StreamingSynthesizer, text: str, slots: asyncio.Semaphore, pieces: Pieces
    ) -> bytes:
        """Synthesizes one sentence into ``pieces`` as the synthesizer hands them over; cancelled
        (the turn was cancelled or the page left), it closes the stream, which stops it."""
        try:
            async with slots:
                stream = synth.synthesize_pieces(text, self.options.voice, self.options.language)
                async with contextlib.aclosing(stream):  # type: ignore[type-var]
                    async for piece in stream:
                        pieces.put_nowait(piece)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            pieces.put_nowait(exc)
        else:
            pieces.put_nowait(None)
        return b""

    async def _pump_audio(
        self,
        turn_id: str,
        queue: asyncio.Queue[tuple[int, asyncio.Task[bytes], Pieces | None] | None],
        outbox: Outbox,
        watch: _CancelWatch,
        state: _TurnState,
    ) -> None:
        """Send each sentence's audio in index order, as soon as it and all before it are ready."""
        while (item := await queue.get()) is not None:
            index, task, pieces = item
            if pieces is not None:
                if not await self._pump_pieces(turn_id, index, pieces, outbox, watch, state):
                    return
                continue
            try:
                audio = await task
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                code, message = _provider_error(exc)
                outbox.put(
                    ErrorEvent(code=code, message=f"Sentence {index}: {message}", turnId=turn_id)
                )
                continue
            if watch.event.is_set():
                return
            state.ledger.setdefault("firstAudio", self.clock())
            for event in audio_events(turn_id, index, audio):
                outbox.put(event)

    async def _pump_pieces(
        self,
        turn_id: str,
        index: int,
        pieces: Pieces,
        outbox: Outbox,
        watch: _CancelWatch,
        state: _TurnState,
    ) -> bool:
        """Send a streamed sentence's pieces as they come, then the part that ends it (empty,
        ``last``). False: the turn was cancelled, nothing more goes out."""
        piece = part = 0
        while True:
            item = await pieces.get()
            if watch.event.is_set():
                return False
            if isinstance(item, BaseException) and piece == 0:
                # Nothing of it was sent: the same as a sentence whose synthesis failed.
                code, message = _provider_error(item)
                outbox.put(
                    ErrorEvent(code=code, message=f"Sentence {index}: {message}", turnId=turn_id)
                )
                return True
            if isinstance(item, bytes):
                state.ledger.setdefault("firstAudio", self.clock())
                events = piece_events(
                    turn_id, index, item, piece=piece, first_part=part, last=False
                )
                for event in events:
                    outbox.put(event)
                piece, part = piece + 1, part + len(events)
                continue
            if item is not None:
                # Some of it was sent (and may be playing): end the sentence there, quietly.
                logger.warning(
                    "speech stream failed part-way",
                    extra={"error": type(item).__name__, "pieces": piece},
                )
            outbox.put(
                AudioEvent(
                    turnId=turn_id,
                    index=index,
                    data="",
                    part=part,
                    last=True,
                    piece=piece,
                    pieceLast=True,
                )
            )
            return True

    async def _store(
        self, user_id: str, turn_id: str, text: str, outcome: TurnOutcome, heard: int | None
    ) -> bool:
        if not outcome.text:
            return False  # nothing was answered; there is no turn to remember
        answer = outcome.text
        if outcome.interrupted and heard is not None:
            answer = " ".join(outcome.sentences[:heard])
        turn = Turn(
            user_id=user_id,
            turn_id=turn_id,
            user_text=text,
            assistant_text=answer,
            interrupted=outcome.interrupted,
            at_ms=outcome.ledger["received"],
            sentences=outcome.sentences,
        )
        try:
            await self.history.save(turn)
        except Exception:  # the answer was given; only its memory is lost
            logger.exception("could not store the turn")
            return False
        return True


_MESSAGES = {
    "throttled": "The model or speech service is busy; please try again shortly.",
    "service_unavailable": "A backing service is unavailable; try again.",
    "provider_error": "The answer could not be completed.",
    INTERNAL_ERROR: "Something went wrong on our side; try again.",
}


def _provider_error(exc: BaseException) -> tuple[str, str]:
    """The protocol's code and message for a failure, from the error's type and flags alone."""
    if isinstance(exc, ProviderError):
        code = exc.code if exc.code in _MESSAGES else "provider_error"
    elif isinstance(exc, ServiceUnavailable):
        code = "service_unavailable"
    else:  # ApiError (the provider refused the input) and anything an adapter did not translate
        code = "provider_error"
    return code, _MESSAGES[code]
