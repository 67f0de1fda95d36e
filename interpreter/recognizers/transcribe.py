"""Amazon Transcribe streaming through the ``amazon-transcribe`` SDK (HTTP/2, SigV4-signed events).

Credentials come from the AWS default chain (environment, profile, container/Greengrass token
exchange service, instance metadata) unless a resolver is given.

Failures are recovered inside the stream, as the Riva recognizer does: a stream that fails or
ends mid-utterance is reported (:class:`RecognizerFault`), a new one is started and the audio not
yet covered by a final is sent again (see :class:`TranscribeStream`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from amazon_transcribe.auth import CredentialResolver
from amazon_transcribe.client import TranscribeStreamingClient
from amazon_transcribe.endpoints import StaticEndpointResolver
from amazon_transcribe.model import (
    Item,
    Result,
    StartStreamTranscriptionEventStream,
    TranscriptEvent,
)
from awscrt import io

from ..events import SAMPLE_RATE, AudioFrame, FinalTranscript, PartialTranscript
from ..events import TranscriptEvent as InterpreterTranscriptEvent
from .base import FaultHandler, Reconnects, fault_logger

log = logging.getLogger(__name__)
_log_fault = fault_logger("Transcribe", log)

# Transcribe recommends 50-200 ms per AudioEvent; every event is signed, so 30 ms VAD frames are
# batched into 100 ms chunks.
_CHUNK_BYTES = SAMPLE_RATE * 2 // 10


def _trust_only(client: TranscribeStreamingClient, ca_file: Path) -> None:
    """Make the client trust ``ca_file`` instead of the system store.

    For a private endpoint behind a corporate CA, and for the tests' local HTTP/2 server. The SDK
    exposes no option for it, so its session manager's TLS context is replaced before first use.
    """
    options = io.TlsContextOptions()
    options.override_default_trust_store_from_path(ca_dirpath=None, ca_filepath=str(ca_file))
    client._session_manager._tls_ctx = io.ClientTlsContext(options)


class TranscribeRecognizer:
    def __init__(
        self,
        *,
        region: str,
        language: str = "ko-KR",
        endpoint: str | None = None,
        ca_file: Path | None = None,
        stability: str = "high",
        credential_resolver: CredentialResolver | None = None,
        max_reconnects: int = 3,
        reconnect_delay_s: float = 0.2,
        on_fault: FaultHandler | None = None,
    ) -> None:
        self._language = language
        self._stability = stability
        self._reconnects = Reconnects(on_fault or _log_fault, max_reconnects, reconnect_delay_s)
        self._client = TranscribeStreamingClient(
            region=region,
            endpoint_resolver=StaticEndpointResolver(endpoint) if endpoint else None,
            credential_resolver=credential_resolver,
        )
        if ca_file is not None:
            _trust_only(self._client, ca_file)

    async def _start(self) -> StartStreamTranscriptionEventStream:
        return await self._client.start_stream_transcription(
            language_code=self._language,
            media_sample_rate_hz=SAMPLE_RATE,
            media_encoding="pcm",
            enable_partial_results_stabilization=True,
            partial_results_stability=self._stability,
        )

    async def open_stream(self) -> TranscribeStream:
        return TranscribeStream(await self._start(), self._start, self._reconnects)


class TranscribeStream:
    """One utterance, across as many Transcribe streams as it takes.

    Every chunk sent since the last final is kept. When the stream fails (an exception event such
    as ``InternalFailureException``, a dropped connection) or ends before the audio did, a new
    stream is started and those chunks are sent again, so the final covers the whole utterance;
    results keep their segment across streams. After ``max_reconnects`` failures in a row (a
    final resets the count) the stream gives up and the last partial becomes the final.
    """

    def __init__(
        self,
        handle: StartStreamTranscriptionEventStream,
        start: Callable[[], Awaitable[StartStreamTranscriptionEventStream]],
        reconnects: Reconnects | None = None,
    ) -> None:
        self._handle: StartStreamTranscriptionEventStream | None = handle
        self._start = start
        self._reconnects = reconnects or Reconnects(_log_fault)
        self._pending = bytearray()
        # Chunks sent but not yet covered by a final: sent again after a reconnect.
        self._unfinalized: list[bytes] = []
        self._unfinalized_start = 0  # utterance offset (bytes) of their first byte
        self._sent = 0  # utterance offset just past the last chunk
        self._base = 0  # utterance offset of the current stream's first byte
        self._broken = False  # the current stream refused audio: the reader will replace it
        self._finished = False
        self._segment = 0
        self._last_partial = ""
        self._lock = asyncio.Lock()  # a chunk never goes out while a stream is being replaced

    async def send(self, frame: AudioFrame) -> None:
        self._pending += frame.pcm
        if len(self._pending) >= _CHUNK_BYTES:
            await self._flush()

    async def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        await self._flush()
        async with self._lock:
            if self._handle is not None and not self._broken:
                try:
                    await self._handle.input_stream.end_stream()
                except Exception as exc:  # the reader sees the stream fail and reconnects
                    self._broken = True
                    log.debug("could not end the Transcribe stream: %r", exc)

    async def _flush(self) -> None:
        if not self._pending:
            return
        chunk, self._pending = bytes(self._pending), bytearray()
        self._unfinalized.append(chunk)
        self._sent += len(chunk)
        async with self._lock:
            if self._handle is not None and not self._broken:
                try:
                    await self._handle.input_stream.send_audio_event(audio_chunk=chunk)
                except Exception as exc:  # kept in _unfinalized: resent after the reconnect
                    self._broken = True
                    log.debug("could not send audio to Transcribe: %r", exc)

    async def events(self) -> AsyncIterator[InterpreterTranscriptEvent]:
        failures = 0
        while self._handle is not None:
            handle = self._handle
            problem: tuple[str, str] | None = None
            try:
                async for event in handle.output_stream:
                    if not isinstance(event, TranscriptEvent):
                        continue
                    for result in event.transcript.results:
                        item = self._result(result)
                        if item is not None:
                            if isinstance(item, FinalTranscript):
                                failures = 0  # only a final is progress
                            yield item
            except Exception as exc:
                problem = (type(exc).__name__, str(exc))
            if problem is None:
                if self._finished:
                    break  # the stream ended after our end of audio: all was said
                problem = ("ENDED", "the stream ended before the audio did")
            elif self._finished and not self._unfinalized and not self._last_partial:
                break  # it broke after its last final: nothing is left to hear
            failures += 1
            if not await self._reconnect(problem, failures):
                break
        if self._last_partial:
            # Nothing more will be recognized: the partial the user saw becomes final.
            yield FinalTranscript(self._last_partial, str(self._segment))
            self._last_partial = ""

    async def _reconnect(self, problem: tuple[str, str], failures: int) -> bool:
        while True:
            if self._reconnects.report(*problem, failures):
                self._handle = None
                return False
            await self._reconnects.wait(failures)
            async with self._lock:
                try:
                    handle = await self._start()
                    for chunk in self._unfinalized:
                        await handle.input_stream.send_audio_event(audio_chunk=chunk)
                    if self._finished:
                        await handle.input_stream.end_stream()
                except Exception as exc:
                    problem = (type(exc).__name__, str(exc))
                    failures += 1
                    continue
                self._handle = handle
                self._base = self._unfinalized_start
                self._broken = False
                return True

    def _result(self, result: Result) -> InterpreterTranscriptEvent | None:
        if not result.alternatives:
            return None
        alternative = result.alternatives[0]
        text = alternative.transcript or ""
        segment = str(self._segment)
        if result.is_partial:
            self._last_partial = text.strip()
            return PartialTranscript(text, segment, _stable_chars(text, alternative.items))
        self._segment += 1
        self._last_partial = ""
        self._finalized_up_to(result.end_time)
        return FinalTranscript(text, segment)

    def _finalized_up_to(self, end_time_s: float | None) -> None:
        """Forget the chunks a final covers, so a reconnect resends only the rest.

        ``EndTime`` counts from the start of the current stream; without it, everything sent so
        far is taken as covered (a final follows a pause, so what came after it is silence).
        """
        covered = self._base + round(end_time_s * SAMPLE_RATE) * 2 if end_time_s else self._sent
        # Whole chunks only, rounding down: resending a little finalized audio loses nothing.
        while self._unfinalized and self._unfinalized_start + len(self._unfinalized[0]) <= covered:
            self._unfinalized_start += len(self._unfinalized.pop(0))


def _stable_chars(transcript: str, items: list[Item] | None) -> int | None:
    """How many leading characters of ``transcript`` its leading ``Stable`` items cover.

    Stabilization marks each item (word or punctuation mark); an item's stability is only
    meaningful while every item before it is stable too. None without items or flags.
    """
    if not items or any(item.stable is None for item in items):
        return None
    cursor = covered = 0
    for item in items:
        content = item.content or ""
        at = transcript.find(content, cursor)
        if at < 0 or not item.stable:
            break
        cursor = covered = at + len(content)
    return covered
