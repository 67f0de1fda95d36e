"""Synthesizer on Amazon Polly: neural voice, OGG Vorbis, SSML with the text escaped."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..errors import ProviderThrottled, bad_request
from ..ssml import to_ssml

# "adaptive" backs off on throttling across calls of this process, not just within one call.
_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 5},
    connect_timeout=2,
    read_timeout=10,
    max_pool_connections=16,
)


_BAD_INPUT = (
    "ValidationException",
    "InvalidSsmlException",
    "TextLengthExceededException",
    "LanguageNotSupportedException",
    "EngineNotSupportedException",
)


class PollySynthesizer:
    def __init__(self, *, engine: str, region: str | None, endpoint_url: str | None) -> None:
        self._client: Any = boto3.client(
            "polly", region_name=region, endpoint_url=endpoint_url, config=_CONFIG
        )
        self._engine = engine

    def _synthesize_sync(self, text: str, voice: str, language: str) -> bytes:
        try:
            response = self._client.synthesize_speech(
                Text=to_ssml(text),
                TextType="ssml",
                VoiceId=voice,
                LanguageCode=language,
                OutputFormat="ogg_vorbis",
                Engine=self._engine,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("ThrottlingException", "Throttling"):
                raise ProviderThrottled("Polly is throttling requests.") from exc
            if code in _BAD_INPUT:
                raise bad_request(f"Speech synthesis refused the input ({code}).") from exc
            raise
        with response["AudioStream"] as stream:
            return bytes(stream.read())

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        return await asyncio.to_thread(self._synthesize_sync, text, voice, language)
