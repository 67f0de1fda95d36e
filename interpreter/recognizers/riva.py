"""NVIDIA Riva / NIM streaming recognition (Parakeet, Nemotron Speech) via ``nvidia-riva-client``.

The gRPC client is synchronous, so each gRPC stream runs in its own daemon thread and hands its
responses to the event loop with ``call_soon_threadsafe``. Dedicated threads, not
``asyncio.to_thread``: a stream blocks for the whole utterance, and a few of them would fill the
default executor that the rest of the interpreter relies on.

Failures are recovered inside the stream. When the gRPC stream errors or drops mid-utterance, a
:class:`RecognizerFault` is reported, a new gRPC stream is opened and every chunk the server has
not yet finalized is sent again, so the final transcript covers the whole utterance. Only after
``max_reconnects`` consecutive failures does the stream give up; it then turns the last partial
into the segment's final, so that what the user saw is never left without a final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..events import SAMPLE_RATE, AudioFrame, FinalTranscript, PartialTranscript, TranscriptEvent
from .base import FaultHandler, RecognizerError, RecognizerFault, Reconnects, fault_logger

# RecognizerFault: what ``on_fault`` is given, importable from here beside the recognizer.
__all__ = ["CHUNK_MS_CHOICES", "RecognizerFault", "RivaOptions", "RivaRecognizer", "RivaStream"]

log = logging.getLogger(__name__)

# The chunk sizes Nemotron Speech streaming (cache-aware FastConformer) models are trained for;
# sending audio in exactly the server's chunk size avoids buffering on either side.
CHUNK_MS_CHOICES = (80, 160, 560, 1120)
_BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # 16-bit mono

# gRPC's default reconnect backoff starts at 1 s; someone is speaking, so try again sooner.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


@dataclass(frozen=True, slots=True)
class RivaOptions:
    url: str = "localhost:50051"
    language: str = "ko-KR"
    chunk_ms: int = 160
    punctuation: bool = True
    use_ssl: bool = False
    ssl_cert: Path | None = None
    api_key: str | None = None
    function_id: str | None = None  # NVIDIA's hosted NIM routes a call by this header
    model: str | None = None
    max_reconnects: int = 3
    reconnect_delay_s: float = 0.2

    @property
    def chunk_bytes(self) -> int:
        return self.chunk_ms * _BYTES_PER_MS

    def metadata(self) -> list[list[str]]:
        pairs = []
        if self.api_key:
            pairs.append(["authorization", f"Bearer {self.api_key}"])
        if self.function_id:
            pairs.append(["function-id", self.function_id])
        return pairs


_log_fault = fault_logger("Riva", log)


class RivaRecognizer:
    def __init__(self, options: RivaOptions, *, on_fault: FaultHandler | None = None) -> None:
        if options.chunk_ms not in CHUNK_MS_CHOICES:
            raise RecognizerError(f"Riva chunk duration must be one of {CHUNK_MS_CHOICES} ms.")
        try:
            import riva.client
        except ImportError as exc:
            raise RecognizerError(
                "The Riva recognizer needs `pip install -r requirements/riva.txt`."
            ) from exc
        self.options = options
        self.reconnects = Reconnects(
            on_fault or _log_fault, options.max_reconnects, options.reconnect_delay_s
        )
        auth = riva.client.Auth(
            uri=options.url,
            use_ssl=options.use_ssl,
            ssl_root_cert=options.ssl_cert,
            metadata_args=options.metadata() or None,
            options=_CHANNEL_OPTIONS,
        )
        # One channel for every stream: gRPC reconnects it by itself after a drop.
        self.service = riva.client.ASRService(auth)
        self.config = riva.client.StreamingRecognitionConfig(
            config=riva.client.RecognitionConfig(
                encoding=riva.client.AudioEncoding.LINEAR_PCM,
                sample_rate_hertz=SAMPLE_RATE,
                audio_channel_count=1,
                language_code=options.language,
                max_alternatives=1,
                enable_automatic_punctuation=options.punctuation,
                model=options.model or "",
            ),
            interim_results=True,
        )

    async def open_stream(self) -> RivaStream:
        return RivaStream(self)


class _Attempt:
    """One gRPC StreamingRecognize call and the thread that drives it."""

    def __init__(self, number: int, base: int) -> None:
        self.number = number
        self.base = base  # the stream offset (bytes) of this call's first audio byte
        self.requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.call: Any = None
        self.closed = False

    def chunks(self) -> Iterator[bytes]:
        while (chunk := self.requests.get()) is not None:
            yield chunk

    def close_requests(self) -> None:
        """No more audio on this call: the server finalizes what it has and ends the call."""
        if not self.closed:
            self.closed = True
            self.requests.put(None)

    def close(self) -> None:
        """Abandon the call: end its request iterator (releasing gRPC's consumer thread, which
        would otherwise wait on it forever) and cancel it."""
        self.close_requests()
        if self.call is not None:
            self.call.cancel()


# What an attempt's thread reports to the loop.
_Response = tuple[Literal["response"], int, Any]
_Failure = tuple[Literal["failure"], int, str, str]
_Done = tuple[Literal["done"], int]


class RivaStream:
    """One utterance, across as many gRPC calls as it takes, on its recognizer's channel."""

    def __init__(self, recognizer: RivaRecognizer) -> None:
        self._recognizer = recognizer
        self._loop = asyncio.get_running_loop()
        self._inbox: asyncio.Queue[_Response | _Failure | _Done] = asyncio.Queue()
        self._pending = bytearray()  # less than one chunk, not sent yet
        # Audio sent but not yet covered by a final: resent after a reconnect. Whole chunks.
        self._unfinalized: list[bytes] = []
        self._unfinalized_start = 0  # stream offset of its first byte
        self._sent = 0  # stream offset just past the last chunk sent
        self._finished = False
        self._segment = 0
        self._last_partial = ""
        self._attempts = 0
        self._attempt: _Attempt | None = self._start_attempt()

    async def send(self, frame: AudioFrame) -> None:
        self._pending += frame.pcm
        size = self._recognizer.options.chunk_bytes
        while len(self._pending) >= size:
            self._send_chunk(bytes(self._pending[:size]))
            del self._pending[:size]

    async def finish(self) -> None:
        if self._finished:
            return
        if self._pending:
            # Pad with silence: a cache-aware streaming model expects every chunk full-size.
            size = self._recognizer.options.chunk_bytes
            self._send_chunk(bytes(self._pending) + bytes(size - len(self._pending)))
            self._pending.clear()
        self._finished = True
        if self._attempt is not None:
            self._attempt.close_requests()

    async def events(self) -> AsyncIterator[TranscriptEvent]:
        failures = 0
        try:
            while True:
                message = await self._inbox.get()
                attempt = self._attempt
                if attempt is None or message[1] != attempt.number:
                    continue  # from a call already abandoned
                if message[0] == "response":
                    segment = self._segment
                    for event in self._results(message[2], attempt):
                        yield event
                    if self._segment != segment:
                        # Only a final is progress: partials alone would come again from the
                        # same resent audio, and a server failing after them must still give up.
                        failures = 0
                elif message[0] == "done":
                    if self._finished:
                        break  # a server that ended without a final still gets one, below
                    # The server ended the call before we did: not an error, but the rest of the
                    # utterance still needs a stream.
                    failures += 1
                    if not await self._reconnect("ENDED", "server closed the stream", failures):
                        break
                else:
                    if self._finished and not self._unfinalized and not self._last_partial:
                        return  # the call broke after its last final: nothing is left to hear
                    failures += 1
                    if not await self._reconnect(message[2], message[3], failures):
                        break
            if self._last_partial:
                # Nothing more will be recognized: the partial the user saw becomes final.
                yield FinalTranscript(self._last_partial, str(self._segment))
                self._last_partial = ""
        finally:
            if self._attempt is not None:
                self._attempt.close()

    async def _reconnect(self, code: str, message: str, failures: int) -> bool:
        gave_up = self._recognizer.reconnects.report(code, message, failures)
        if self._attempt is not None:
            self._attempt.close()
            self._attempt = None
        if gave_up:
            return False
        await self._recognizer.reconnects.wait(failures)
        self._attempt = self._start_attempt()
        return True

    def _send_chunk(self, chunk: bytes) -> None:
        self._unfinalized.append(chunk)
        self._sent += len(chunk)
        if self._attempt is not None:
            self._attempt.requests.put(chunk)

    def _start_attempt(self) -> _Attempt:
        self._attempts += 1
        attempt = _Attempt(self._attempts, self._unfinalized_start)
        for chunk in self._unfinalized:
            attempt.requests.put(chunk)
        if self._finished:
            attempt.close_requests()
        threading.Thread(
            target=self._run, args=(attempt,), name=f"riva-stream-{attempt.number}", daemon=True
        ).start()
        return attempt

    def _run(self, attempt: _Attempt) -> None:
        """Runs in the attempt's thread: drive the blocking gRPC call, report to the loop."""
        import grpc
        from riva.client.asr import streaming_request_generator

        try:
            # The stub is called directly (as ASRService.streaming_response_generator does) to
            # keep the call object: an abandoned call must be cancellable.
            service = self._recognizer.service
            attempt.call = service.stub.StreamingRecognize(
                streaming_request_generator(attempt.chunks(), self._recognizer.config),
                metadata=service.auth.get_auth_metadata(),
            )
            for response in attempt.call:
                self._report(("response", attempt.number, response))
            self._report(("done", attempt.number))
        except grpc.RpcError as exc:
            code = exc.code().name if exc.code() is not None else "UNKNOWN"
            self._report(("failure", attempt.number, code, str(exc.details() or "")))
        except Exception as exc:  # anything else is still this stream's failure, not a crash
            self._report(("failure", attempt.number, type(exc).__name__, str(exc)))

    def _report(self, message: _Response | _Failure | _Done) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._inbox.put_nowait, message)

    def _results(self, response: Any, attempt: _Attempt) -> Iterator[TranscriptEvent]:
        interim: list[str] = []
        for result in response.results:
            if not result.alternatives:
                continue
            transcript = result.alternatives[0].transcript
            if not result.is_final:
                interim.append(transcript)
                continue
            yield FinalTranscript(transcript.strip(), str(self._segment))
            self._segment += 1
            self._last_partial = ""
            self._finalized_up_to(attempt, result.audio_processed)
        # Riva splits an interim hypothesis into a stable and an unstable result; each carries
        # its own spacing, so they join as they are (as riva.client.asr.print_streaming does).
        text = "".join(interim).strip()
        if text and text != self._last_partial:
            self._last_partial = text
            yield PartialTranscript(text, str(self._segment))

    def _finalized_up_to(self, attempt: _Attempt, audio_processed_s: float) -> None:
        """Forget the chunks a final covers, so a reconnect resends only the rest.

        Riva reports ``audio_processed`` (seconds, from the start of the call). A server that
        leaves it at zero is taken to have finalized everything sent so far: finals follow an
        end-of-speech pause, so what was sent after it is silence.
        """
        if audio_processed_s > 0:
            covered = attempt.base + round(audio_processed_s * SAMPLE_RATE) * 2
        else:
            covered = self._sent
        # Whole chunks only, rounding down: resending a little finalized audio loses nothing.
        while self._unfinalized and self._unfinalized_start + len(self._unfinalized[0]) <= covered:
            self._unfinalized_start += len(self._unfinalized.pop(0))
