"""Source → voice gate → one recognizer stream per utterance → transcripts to the publisher.

The source loop never waits on the network: each utterance's frames go through a queue to its own
task, which opens the recognizer stream, feeds it and turns its results into numbered posts.
A failing stream is logged and the next utterance gets a fresh one (errors are events, not
crashes).

The recognizer's latest text of the open utterance goes back to the gate (``VoiceGate.hear``),
whose end-of-turn rule reads it. Each post carries the device's clock (epoch ms): when the
utterance's first voiced audio started, when its last voiced audio ended (once the gate closed
it: only then is it known that no more speech follows), and when the recognizer gave this text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import KW_ONLY, InitVar, dataclass, field

from voicebot.contract.wire import MAX_TEXT_CHARS, TranscriptPost

from .events import FRAME_MS, AudioFrame, FinalTranscript, PartialTranscript, TranscriptEvent
from .recognizers import Recognizer, RecognizerStream
from .sources import AudioSource
from .vad import UtteranceEnded, UtteranceStarted, VoiceGate

log = logging.getLogger(__name__)

_LAST_RESULT_TIMEOUT_S = 30.0


@dataclass
class _Segment:
    utterance_id: str
    seq: int = 0
    last_text: str = ""
    last_stable: int | None = None


@dataclass
class _Utterance:
    """One gate utterance: its recognizer stream's frames and the device times of its speech."""

    frames: asyncio.Queue[AudioFrame | None]
    speech_start_ms: int | None = None  # source time
    speech_started_at: int | None = None  # device epoch ms
    speech_ended_at: int | None = None

    def speech_ended(self, speech_end_ms: int | None) -> None:
        # Measured from the start on the source's own clock: exact for a file read --fast, and
        # no drift between sound card and system clock within an utterance.
        start, started_at = self.speech_start_ms, self.speech_started_at
        if speech_end_ms is not None and start is not None and started_at is not None:
            self.speech_ended_at = started_at + max(0, speech_end_ms - start)

    def times(self) -> dict[str, int]:
        times = {"recognizedAt": _epoch_ms()}
        if self.speech_started_at is not None:
            times["speechStartedAt"] = self.speech_started_at
        if self.speech_ended_at is not None:
            times["speechEndedAt"] = self.speech_ended_at
        return times


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class UtteranceNumbering:
    """Gives every recognizer segment its own ``utteranceId`` and ``seq`` numbers.

    A recognizer may end several segments in one stream (Transcribe ``ResultId``s, Vosk pauses);
    each final ends an utterance in the protocol, so each segment is an utterance. Ids start with
    a random run id so a restarted device never reuses one.
    """

    def __init__(self, lang: str | None) -> None:
        self._run_id = secrets.token_hex(6)
        self._count = 0
        self._lang = lang

    def for_stream(self) -> Callable[[TranscriptEvent], TranscriptPost | None]:
        segments: dict[str, _Segment] = {}

        def number(event: TranscriptEvent) -> TranscriptPost | None:
            segment = segments.get(event.segment)
            if segment is None:
                self._count += 1
                segment = segments[event.segment] = _Segment(f"{self._run_id}-{self._count}")
            text = event.text.strip()[:MAX_TEXT_CHARS]
            final = isinstance(event, FinalTranscript)
            stable = _stable_chars(event, text)
            # An empty text is not postable (1..2000 chars); an unchanged partial is noise,
            # unless more of it became stable.
            unchanged = text == segment.last_text and (stable or 0) <= (segment.last_stable or 0)
            if not text or (not final and unchanged) or segment.seq < 0:
                return None
            post = TranscriptPost(
                utteranceId=segment.utterance_id,
                seq=segment.seq,
                text=text,
                final=final,
                lang=self._lang,
                stableChars=stable,
            )
            segment.last_text = text
            segment.last_stable = stable
            segment.seq = -1 if final else segment.seq + 1  # -1: closed, ignore anything later
            return post

        return number


@dataclass(eq=False)
class UtteranceSlot:
    """One utterance's place in an ``UtteranceOrder``: its results, held until its turn."""

    _order: UtteranceOrder
    _held: list[Callable[[], None]] = field(default_factory=list)
    _closed: bool = False

    def emit(self, release: Callable[[], None]) -> None:
        """Runs ``release`` now if every earlier utterance is done, else when they are."""
        if self._order.is_current(self):
            release()
        else:
            self._held.append(release)

    def close(self) -> None:
        """This utterance gave its last result (or never will): later ones may go on."""
        self._closed = True
        self._order.advance()


class UtteranceOrder:
    """Keeps consecutive utterances' results in the order they were spoken.

    Each utterance has its own recognizer stream, and an ended utterance's final may still be on
    its way while the next one streams: a short second utterance's final can come back first.
    The page, the chat and the end-of-turn rule all read transcripts as a conversation, so an
    utterance's results are released only once every earlier utterance has given its last.
    Results are held as calls (numbering included), so ``utteranceId``s follow speech order too.
    """

    def __init__(self) -> None:
        self._slots: deque[UtteranceSlot] = deque()

    def next(self) -> UtteranceSlot:
        slot = UtteranceSlot(self)
        self._slots.append(slot)
        return slot

    def is_current(self, slot: UtteranceSlot) -> bool:
        return bool(self._slots) and self._slots[0] is slot

    def advance(self) -> None:
        while self._slots and self._slots[0]._closed:
            self._slots.popleft()
            if self._slots:
                head = self._slots[0]
                held, head._held = head._held, []
                for release in held:
                    release()


def _stable_chars(event: TranscriptEvent, text: str) -> int | None:
    """The event's stable prefix, counted in the posted (stripped, clipped) text."""
    if not isinstance(event, PartialTranscript) or event.stable_chars is None:
        return None
    lead = len(event.text) - len(event.text.lstrip())
    return max(0, min(len(text), event.stable_chars - lead))


@dataclass(eq=False)
class TranscriptionPipeline:
    source: AudioSource
    gate: VoiceGate
    recognizer: Recognizer
    publish: Callable[[TranscriptPost], None]
    _: KW_ONLY
    lang: InitVar[str | None] = None
    show: Callable[[TranscriptEvent], None] | None = None

    def __post_init__(self, lang: str | None) -> None:
        self._numbering = UtteranceNumbering(lang)
        self._current: _Utterance | None = None
        self._latest_end_ms = 0  # source time at the end of the frame just pushed
        self._sessions: set[asyncio.Task[None]] = set()
        self._order = UtteranceOrder()
        self.utterances = 0

    async def run(self) -> None:
        """Until the source ends; then waits for every open utterance's last result."""
        try:
            async for frame in self.source.frames():
                self._latest_end_ms = frame.start_ms + FRAME_MS
                for event in self.gate.push(frame):
                    self._dispatch(event)
            for event in self.gate.flush():
                self._dispatch(event)
        finally:
            if self._current is not None:
                self._current.frames.put_nowait(None)
                self._current = None
            if self._sessions:
                await asyncio.gather(*self._sessions, return_exceptions=True)

    def _dispatch(self, event: UtteranceStarted | AudioFrame | UtteranceEnded) -> None:
        if isinstance(event, UtteranceStarted):
            self.utterances += 1
            utterance = _Utterance(asyncio.Queue(), event.speech_start_ms)
            utterance.speech_started_at = self._device_ms(event.speech_start_ms)
            self._current = utterance
            task = asyncio.create_task(self._recognize(utterance, self._order.next()))
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)
        elif isinstance(event, AudioFrame):
            if self._current is not None:
                self._current.frames.put_nowait(event)
        elif self._current is not None:
            self._current.speech_ended(event.speech_end_ms)
            self._current.frames.put_nowait(None)
            self._current = None

    def _device_ms(self, source_ms: int | None) -> int | None:
        """The device's clock at a point of the source, which has just delivered its latest
        frame (a live microphone; a file read --fast is mapped the same way, compressed)."""
        if source_ms is None:
            return None
        return max(0, _epoch_ms() - max(0, self._latest_end_ms - source_ms))

    async def _recognize(self, utterance: _Utterance, slot: UtteranceSlot) -> None:
        try:
            await self._stream_utterance(utterance, slot)
        finally:
            slot.close()

    async def _stream_utterance(self, utterance: _Utterance, slot: UtteranceSlot) -> None:
        frames = utterance.frames
        number = self._numbering.for_stream()
        try:
            stream = await self.recognizer.open_stream()
        except Exception:
            log.exception("could not open a recognizer stream; this utterance is lost")
            while await frames.get() is not None:
                pass  # drain, so the gate's frames for it are released
            return
        reader = asyncio.create_task(self._read(stream, number, utterance, slot))
        try:
            while (frame := await frames.get()) is not None:
                if not reader.done():  # after a failure, keep draining until the utterance ends
                    await stream.send(frame)
        except Exception:
            log.exception("recognizer stream failed while sending audio")
        finally:
            try:
                await stream.finish()
            except Exception:
                log.exception("recognizer stream failed while closing")
        try:
            # The last results follow the end of audio within a second or two; a stream that
            # never answers must not hold the interpreter (or the utterances after it) forever.
            await asyncio.wait_for(reader, _LAST_RESULT_TIMEOUT_S)
        except TimeoutError:
            log.error(
                "no final result %.0f s after the end of an utterance", _LAST_RESULT_TIMEOUT_S
            )

    async def _read(
        self,
        stream: RecognizerStream,
        number: Callable[[TranscriptEvent], TranscriptPost | None],
        utterance: _Utterance,
        slot: UtteranceSlot,
    ) -> None:
        try:
            async for event in stream.events():
                if self.show is not None:
                    self.show(event)
                if utterance is self._current and event.text.strip():
                    self.gate.hear(event.text)
                # Stamped when recognized, not when released after an earlier utterance.
                slot.emit(functools.partial(self._post, number, event, utterance.times()))
        except Exception:
            log.exception("recognizer stream failed while reading results")

    def _post(
        self,
        number: Callable[[TranscriptEvent], TranscriptPost | None],
        event: TranscriptEvent,
        times: dict[str, int],
    ) -> None:
        post = number(event)
        if post is not None:
            self.publish(post.model_copy(update=times))
