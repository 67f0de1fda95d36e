"""TranscribeStreams: a pre-signed Amazon Transcribe streaming URL for a signed-in page.

Counted against the user's stream quota before anything is signed (services/quotas.py): every URL
opens one billed stream. The language is the page's, else the deployment's (ko-KR), and partial
results are stabilized where Transcribe supports it, as the interpreter asks for.
"""

from __future__ import annotations

from typing import Protocol

from ..contract.settings import TranscribeSettings
from ..contract.wire import TranscribeStream
from ..errors import bad_request
from .quotas import QuotaService

SAMPLE_RATE = 16_000
# Streaming languages whose partial results Transcribe can stabilize (the others stream without).
STABILIZED_LANGUAGES = frozenset(
    {
        "de-DE",
        "en-AU",
        "en-GB",
        "en-US",
        "es-US",
        "fr-CA",
        "fr-FR",
        "it-IT",
        "ja-JP",
        "ko-KR",
        "pt-BR",
        "zh-CN",
    }
)
# What Transcribe streams (StartStreamTranscription's LanguageCode); others are refused here,
# with a 400, rather than by Transcribe after the page opened its socket.
STREAMING_LANGUAGES = STABILIZED_LANGUAGES | frozenset(
    {"ar-AE", "ar-SA", "en-IN", "es-ES", "hi-IN", "id-ID", "ms-MY", "nl-NL", "pt-PT", "th-TH"}
)


class StreamUrlSigner(Protocol):
    def sign(self, language: str, stability: str | None, expires_in: int) -> tuple[str, int]:
        """A URL for one stream and its expiry (epoch seconds)."""
        ...


class TranscribeStreams:
    def __init__(
        self, signer: StreamUrlSigner, quotas: QuotaService, settings: TranscribeSettings
    ) -> None:
        self._signer = signer
        self._quotas = quotas
        self._settings = settings

    async def open_for(self, user_id: str, lang: str | None) -> TranscribeStream:
        language = _canonical(lang or self._settings.transcribe_language)
        if language not in STREAMING_LANGUAGES:
            raise bad_request(
                f"Amazon Transcribe does not stream {language}.", "unsupported_language"
            )
        settings = self._settings
        await self._quotas.admit_stream(
            user_id, settings.quota_transcribe_streams, settings.quota_transcribe_window_seconds
        )
        stabilized = language in STABILIZED_LANGUAGES
        stability = self._settings.transcribe_stability if stabilized else None
        url, expires_at = self._signer.sign(
            language, stability, self._settings.transcribe_url_expiry_seconds
        )
        return TranscribeStream(
            url=url,
            expiresAt=expires_at,
            lang=language,
            sampleRate=SAMPLE_RATE,
            stabilization=stabilized,
        )


def _canonical(lang: str) -> str:
    """``ko-kr`` -> ``ko-KR`` (Transcribe's language codes are case-sensitive)."""
    base, _, region = lang.partition("-")
    return f"{base.lower()}-{region.upper()}" if region else base.lower()
