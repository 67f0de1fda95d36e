"""Synthesizer on NVIDIA Riva / NIM TTS: streamed 16-bit PCM, encoded to OGG Vorbis for the page.

``nvidia-riva-client`` (and gRPC) is imported only when this adapter is built, so the Polly and
espeak deployments never load it.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from ..errors import ProviderThrottled, ServiceUnavailable, bad_request

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

    def _synthesize_sync(self, text: str, language: str) -> bytes:
        import grpc

        pcm = bytearray()
        try:
            # Online (streaming) synthesis sends audio as it is generated; the pieces are joined
            # here because the page plays one complete OGG file per sentence.
            for response in self._service.synthesize_online(
                text,
                voice_name=self._voice,
                language_code=language,
                sample_rate_hz=self._rate,
                encoding=self._encoding,
            ):
                pcm += response.audio
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
        if len(pcm) < 2:
            raise RuntimeError("Riva TTS returned no audio.")
        return _pcm_to_ogg(bytes(pcm[: len(pcm) // 2 * 2]), self._rate)


def _pcm_to_ogg(pcm: bytes, rate: int) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2")
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="OGG", subtype="VORBIS")
    return out.getvalue()
