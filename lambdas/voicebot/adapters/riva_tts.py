"""Synthesizer on NVIDIA Riva / NIM TTS: streamed 16-bit PCM, encoded to OGG Vorbis for the page.

``nvidia-riva-client`` (and gRPC) is imported only when this adapter is built, so the Polly and
espeak deployments never load it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from ..errors import ProviderThrottled, ServiceUnavailable, bad_request

# A streamed sentence's pieces (RivaStreamingSynthesizer): the first holds this much audio, each
# next one twice the one before, so each is ready before the one before has played whenever the
# server runs faster than twice real time, with one Vorbis header (~4 KB) per piece, not per
# 100 ms. docs/BENCHMARKS.md, "Riva TTS".
FIRST_PIECE_S = 0.1

# Riva's answer to a voice or language it does not have, or to text it cannot speak.
_BAD_INPUT = ("INVALID_ARGUMENT", "NOT_FOUND", "OUT_OF_RANGE")
_UNAVAILABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED")


class RivaSynthesizer:
    def __init__(
        self,
        *,
        url: str,
        use_ssl: bool = False,
        ssl_cert: Path | None = None,
        api_key: str | None = None,
        function_id: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        sample_rate_hz: int = 22050,
    ) -> None:
        import riva.client

        metadata = []
        if api_key:
            metadata.append(["authorization", f"Bearer {api_key}"])
        if function_id:
            metadata.append(["function-id", function_id])
        auth = riva.client.Auth(
            uri=url, use_ssl=use_ssl, ssl_root_cert=ssl_cert, metadata_args=metadata or None
        )
        self._service: Any = riva.client.SpeechSynthesisService(auth)
        self._encoding = riva.client.AudioEncoding.LINEAR_PCM
        self._voice = voice
        self._language = language
        self._rate = sample_rate_hz

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        # ``voice`` is a Polly voice name (the protocol's): Riva's voices are named differently,
        # so the configured Riva voice is used, or the server's first voice for the language.
        return await asyncio.to_thread(self._synthesize_sync, text, self._language or language)

    def _responses(self, text: str, language: str) -> Any:
        return self._service.synthesize_online(
            text,
            voice_name=self._voice,
            language_code=language,
            sample_rate_hz=self._rate,
            encoding=self._encoding,
        )

    def _synthesize_sync(self, text: str, language: str) -> bytes:
        # Online (streaming) synthesis sends audio as it is generated; here the pieces are
        # joined into one OGG file (RivaStreamingSynthesizer hands them over as they come).
        pcm = bytearray()
        with _riva_errors():
            for response in self._responses(text, language):
                pcm += response.audio
        if len(pcm) < 2:
            raise RuntimeError("Riva TTS returned no audio.")
        return _pcm_to_ogg(bytes(pcm[: len(pcm) // 2 * 2]), self._rate)


class RivaStreamingSynthesizer(RivaSynthesizer):
    """Riva TTS that hands a turn's sentence over in growing pieces as the server streams it.

    Each piece is its own OGG file (FIRST_PIECE_S of audio, then doubling); the turn sends them as
    one sentence's pieces and the page plays them back to back (docs/PROTOCOL.md, "Streamed
    sentences"). ``/api/speech`` still gets one file (``synthesize``).
    """

    async def synthesize_pieces(self, text: str, voice: str, language: str) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        calls: list[Any] = []

        def put(item: bytes | BaseException | None) -> None:
            if stop.is_set():
                return  # nobody reads any more (and the loop may be gone)
            with contextlib.suppress(RuntimeError):  # the event loop closed meanwhile
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def stream() -> None:
            try:
                for piece in self._pieces_sync(text, self._language or language, stop, calls):
                    put(piece)
                put(None)
            except BaseException as exc:  # handed to the turn, which decides what it means
                put(exc)

        worker = threading.Thread(target=stream, name="riva-tts-stream", daemon=True)
        worker.start()
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # Closed early (the turn was cancelled or the page left): stop the server's stream.
            stop.set()
            for call in calls:
                with contextlib.suppress(Exception):
                    call.cancel()

    def _pieces_sync(
        self, text: str, language: str, stop: threading.Event, calls: list[Any]
    ) -> Iterator[bytes]:
        target = int(self._rate * FIRST_PIECE_S) * 2  # bytes of 16-bit PCM
        pcm = bytearray()
        produced = 0
        with _riva_errors():
            responses = self._responses(text, language)
            calls.append(responses)
            for response in responses:
                if stop.is_set():
                    return
                pcm += response.audio
                if len(pcm) >= target:
                    cut = len(pcm) // 2 * 2
                    yield _pcm_to_ogg(bytes(pcm[:cut]), self._rate)
                    produced += cut
                    del pcm[:cut]
                    target *= 2
        if stop.is_set():
            return
        if len(pcm) >= 2:
            yield _pcm_to_ogg(bytes(pcm[: len(pcm) // 2 * 2]), self._rate)
        elif not produced:
            raise RuntimeError("Riva TTS returned no audio.")


@contextlib.contextmanager
def _riva_errors() -> Iterator[None]:
    """Riva's gRPC status codes as the errors the turn and the speech route understand."""
    import grpc

    try:
        yield
    except grpc.RpcError as exc:
        code = exc.code().name if exc.code() is not None else "UNKNOWN"
        details = exc.details() or ""
        if code in _BAD_INPUT:
            raise bad_request(f"Riva TTS refused the input ({code}: {details}).") from exc
        if code == "RESOURCE_EXHAUSTED":
            raise ProviderThrottled(f"Riva TTS is overloaded: {details}") from exc
        if code in _UNAVAILABLE:
            raise ServiceUnavailable(f"Riva TTS is unavailable ({code}: {details}).") from exc
        raise RuntimeError(f"Riva TTS failed ({code}: {details}).") from exc


def _pcm_to_ogg(pcm: bytes, rate: int) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2")
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="OGG", subtype="VORBIS")
    return out.getvalue()
