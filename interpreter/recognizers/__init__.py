"""The speech-recognition port: one stream per utterance, typed transcript events out.

Adapters: Amazon Transcribe streaming (``transcribe``), offline Vosk (``vosk``) and NVIDIA
Riva / NIM streaming (``riva``). Each is imported only when chosen, so a device needs only the
packages of the recognizer it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Recognizer, RecognizerError, RecognizerStream

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Recognizer", "RecognizerError", "RecognizerStream", "build_recognizer"]


def build_recognizer(settings: Settings) -> Recognizer:
    if settings.recognizer == "vosk":
        from .vosk import VoskRecognizer

        return VoskRecognizer(settings.vosk_model)
    if settings.recognizer == "riva":
        from .riva import RivaOptions, RivaRecognizer

        api_key = settings.riva_api_key
        return RivaRecognizer(
            RivaOptions(
                url=settings.riva_url,
                language=settings.language,
                chunk_ms=settings.riva_chunk_ms,
                punctuation=settings.riva_punctuation,
                use_ssl=settings.riva_use_ssl,
                ssl_cert=settings.riva_ssl_cert,
                api_key=api_key.get_secret_value() if api_key is not None else None,
                function_id=settings.riva_function_id,
                model=settings.riva_model,
            )
        )
    from .transcribe import TranscribeRecognizer

    return TranscribeRecognizer(
        region=settings.resolved_region(),
        language=settings.language,
        endpoint=settings.transcribe_endpoint,
        ca_file=settings.transcribe_ca_file,
        stability=settings.partial_stability,
    )
