"""Synthesizer on Amazon Polly: neural voice, OGG Vorbis, SSML with the text escaped (plain text
when the escaped form would not fit one request)."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..errors import ProviderThrottled, bad_request
from ..ssml import to_ssml, without_controls

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


# SynthesizeSpeech takes at most 6000 characters of Text, SSML tags and entities included, of
# which at most 3000 are billed (spoken). Escaping expands text ("&" is sent as "&amp;", '"' as
# "&quot;"), so a text well inside the protocol's 1500 characters can exceed it as SSML.
MAX_REQUEST_CHARS = 6000
MAX_BILLED_CHARS = 3000


def _chars(text: str) -> int:
    """Characters as Polly counts them: UTF-16 code units (an emoji counts two), to be safe."""
    return len(text.encode("utf-16-le")) // 2


def polly_text(text: str) -> tuple[str, str]:
    """What is sent for ``text``: ``(Text, TextType)``, measured on exactly what is sent.

    SSML with the text escaped whenever it fits; otherwise the same text as plain text, which
    Polly speaks alike (our SSML holds no markup but ``<speak>``) and never reads as markup
    either. A text that cannot fit at all is the caller's error, never a Polly error.
    """
    ssml = to_ssml(text)
    if _chars(ssml) <= MAX_REQUEST_CHARS:
        return ssml, "ssml"
    plain = without_controls(text)
    if _chars(plain) <= MAX_BILLED_CHARS:
        return plain, "text"
    raise bad_request(f"text: at most {MAX_BILLED_CHARS} characters can be spoken at once.")


class PollySynthesizer:
    def __init__(self, *, engine: str, region: str | None, endpoint_url: str | None) -> None:
        self._client: Any = boto3.client(
            "polly", region_name=region, endpoint_url=endpoint_url, config=_CONFIG
        )
        self._engine = engine

    def _synthesize_sync(self, text: str, voice: str, language: str) -> bytes:
        sent, text_type = polly_text(text)
        try:
            response = self._client.synthesize_speech(
                Text=sent,
                TextType=text_type,
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
