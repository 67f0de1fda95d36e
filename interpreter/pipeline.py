"""Source → voice gate → one recognizer stream per utterance → transcripts to the publisher.

The source loop never waits on the network: each utterance's frames go through a queue to its own
task, which opens the recognizer stream, feeds it and turns its results into numbered posts.
A failing stream is logged and the next utterance gets a fresh one (errors are events, not
crashes).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from voicebot.contract.wire import MAX_TEXT_CHARS, TranscriptPost

from .events import AudioFrame, FinalTranscript, TranscriptEvent
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
            # An empty text is not postable (1..2000 chars); an unchanged partial is noise.
            if not text or (not final and text == segment.last_text) or segment.seq < 0:
                return None
            post = TranscriptPost(
                utteranceId=segment.utterance_id,
                seq=segment.seq,
                text=text,
                final=final,
                lang=self._lang,
            )
            segment.last_text = text
            segment.seq = -1 if final else segment.seq + 1  # -1: closed, ignore anything later
            return post

        return number


class TranscriptionPipeline:
    def __init__(
        self,
        source: AudioSource,
        gate: VoiceGate,
        recognizer: Recognizer,
        publish: Callable[[TranscriptPost], None],
        *,
        lang: str | None = None,
        show: Callable[[TranscriptEvent], None] | None = None,
    ) -> None:
        self._source = source
        self._gate = gate
        self._recognizer = recognizer
        self._publish = publish
        self._show = show
        self._numbering = UtteranceNumbering(lang)
        self._current: asyncio.Queue[AudioFrame | None] | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.utterances = 0

    async def run(self) -> None:
        """Until the source ends; then waits for every open utterance's last result."""
        try:
            async for frame in self._source.frames():
                for event in self._gate.push(frame):
                    self._dispatch(event)
            for event in self._gate.flush():
                self._dispatch(event)
        finally:
            if self._current is not None:
                self._current.put_nowait(None)
                self._current = None
            if self._sessions:
                await asyncio.gather(*self._sessions, return_exceptions=True)

    def _dispatch(self, event: UtteranceStarted | AudioFrame | UtteranceEnded) -> None:
        if isinstance(event, UtteranceStarted):
            self.utterances += 1
            self._current = asyncio.Queue()
            task = asyncio.create_task(self._recognize(self._current))
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)
        elif isinstance(event, AudioFrame):
            if self._current is not None:
                self._current.put_nowait(event)
        elif self._current is not None:
            self._current.put_nowait(None)
            self._current = None

    async def _recognize(self, frames: asyncio.Queue[AudioFrame | None]) -> None:
        number = self._numbering.for_stream()
        try:
            stream = await self._recognizer.open_stream()
        except Exception:
            log.exception("could not open a recognizer stream; this utterance is lost")
            while await frames.get() is not None:
                pass  # drain, so the gate's frames for it are released
            return
        reader = asyncio.create_task(self._read(stream, number))
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
            # never answers must not hold the interpreter forever.
            await asyncio.wait_for(reader, _LAST_RESULT_TIMEOUT_S)
        except TimeoutError:
            log.error(
                "no final result %.0f s after the end of an utterance", _LAST_RESULT_TIMEOUT_S
            )

    async def _read(
        self,
        stream: RecognizerStream,
        number: Callable[[TranscriptEvent], TranscriptPost | None],
    ) -> None:
        try:
            async for event in stream.events():
                if self._show is not None:
                    self._show(event)
                post = number(event)
                if post is not None:
                    self._publish(post)
        except Exception:
            log.exception("recognizer stream failed while reading results")
