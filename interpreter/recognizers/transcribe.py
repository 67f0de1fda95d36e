"""Amazon Transcribe streaming through the ``amazon-transcribe`` SDK (HTTP/2, SigV4-signed events).

Credentials come from the AWS default chain (environment, profile, container/Greengrass token
exchange service, instance metadata) unless a resolver is given.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from amazon_transcribe.auth import CredentialResolver
from amazon_transcribe.client import TranscribeStreamingClient
from amazon_transcribe.endpoints import StaticEndpointResolver
from amazon_transcribe.model import Item, StartStreamTranscriptionEventStream, TranscriptEvent
from awscrt import io

from ..events import SAMPLE_RATE, AudioFrame, FinalTranscript, PartialTranscript
from ..events import TranscriptEvent as InterpreterTranscriptEvent

log = logging.getLogger(__name__)

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
    ) -> None:
        self._language = language
        self._stability = stability
        self._client = TranscribeStreamingClient(
            region=region,
            endpoint_resolver=StaticEndpointResolver(endpoint) if endpoint else None,
            credential_resolver=credential_resolver,
        )
        if ca_file is not None:
            _trust_only(self._client, ca_file)

    async def open_stream(self) -> TranscribeStream:
        handle = await self._client.start_stream_transcription(
            language_code=self._language,
            media_sample_rate_hz=SAMPLE_RATE,
            media_encoding="pcm",
            enable_partial_results_stabilization=True,
            partial_results_stability=self._stability,
        )
        return TranscribeStream(handle)


class TranscribeStream:
    def __init__(self, handle: StartStreamTranscriptionEventStream) -> None:
        self._handle = handle
        self._pending = bytearray()
        self._finished = False

    async def send(self, frame: AudioFrame) -> None:
        self._pending += frame.pcm
        if len(self._pending) >= _CHUNK_BYTES:
            await self._flush()

    async def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        await self._flush()
        await self._handle.input_stream.end_stream()

    async def _flush(self) -> None:
        if self._pending:
            chunk, self._pending = bytes(self._pending), bytearray()
            await self._handle.input_stream.send_audio_event(audio_chunk=chunk)

    async def events(self) -> AsyncIterator[InterpreterTranscriptEvent]:
        async for event in self._handle.output_stream:
            if not isinstance(event, TranscriptEvent):
                continue
            for result in event.transcript.results:
                if not result.alternatives:
                    continue
                text = result.alternatives[0].transcript or ""
                segment = str(result.result_id)
                if result.is_partial:
                    stable = _stable_chars(text, result.alternatives[0].items)
                    yield PartialTranscript(text, segment, stable)
                else:
                    yield FinalTranscript(text, segment)


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
