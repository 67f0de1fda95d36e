"""Configuration, read from environment variables in one place and validated once.

Each concern has its own settings class so a function only needs (and only gets, in the CDK app)
the variables its handler reads. A missing required variable fails at the first use in a cold
start, with pydantic's message naming it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class EnvSettings(BaseModel):
    """Settings read from upper-case environment variables named after the fields.

    Plain pydantic rather than pydantic-settings: the environment is the only source here, and
    importing pydantic-settings cost ~85 ms of every function's cold start (bench/cold_start).
    """

    # Validators are built at first use, so a function pays only for the settings it reads.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        present = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        return cls.model_validate(present)


class TokenSettings(EnvSettings):
    """Token signing. The secret comes inline (local stack, tests) or from Secrets Manager (AWS)."""

    token_secret: SecretStr | None = None
    token_secret_arn: str | None = None
    token_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=7 * 24 * 3600)
    access_code: SecretStr | None = None
    access_code_arn: str | None = None


class RedisSettings(EnvSettings):
    redis_url: str
    redis_auth_secret_arn: str | None = None
    transcript_stream_maxlen: int = Field(default=1000, ge=10, le=100_000)
    transcript_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    connection_ttl_seconds: int = Field(default=3 * 3600, ge=60)


class ConnectionsSettings(EnvSettings):
    """Where the API Gateway management API (``@connections``) lives.

    Message handlers derive it from the event (``https://{domainName}/{stage}``) when unset; the
    transcripts function has no WebSocket event and must be told.
    """

    connections_endpoint: str | None = None


class HistorySettings(EnvSettings):
    history_table: str
    dynamodb_endpoint: str | None = None
    history_ttl_days: int = Field(default=30, ge=1, le=3650)
    history_window_turns: int = Field(default=10, ge=0, le=100)


class ChatSettings(EnvSettings):
    chat_provider: Literal["bedrock", "openai", "nvidia", "local", "scripted"] = "bedrock"
    chat_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    chat_region: str | None = None
    chat_endpoint: str | None = None
    chat_api_key: SecretStr | None = None
    chat_temperature: float = Field(default=0.5, ge=0.0, le=1.0)
    chat_max_tokens: int = Field(default=512, ge=16, le=8192)
    system_prompt: str = (
        "당신은 친절한 음성 비서입니다. 듣고 말하는 대화이므로 짧고 자연스러운 문장으로 답하세요. "
        "목록, 표, 마크다운, 이모지는 쓰지 마세요. 사용자가 쓰는 언어로 답하세요."
    )
    # Only for tests and benchmarks (chat_provider="scripted"); never a user default.
    scripted_answer: str = "안녕하세요. 무엇을 도와드릴까요?"
    scripted_first_token_ms: int = Field(default=0, ge=0)
    scripted_tokens_per_second: float = Field(default=0.0, ge=0.0)
    scripted_chars_per_token: float = Field(default=3.0, gt=0.0, le=100.0)
    delta_batch_chars: int = Field(default=24, ge=1, le=1000)
    delta_batch_ms: int = Field(default=50, ge=0, le=2000)
    max_sentence_chars: int = Field(default=160, ge=20, le=1000)
    # The answer's first sound waits for a clause of at least this many characters rather than a
    # whole sentence (0: always a whole sentence). Measured in docs/BENCHMARKS.md.
    first_clause_min_chars: int = Field(default=10, ge=0, le=1000)
    synthesis_concurrency: int = Field(default=3, ge=1, le=16)


class SpeechSettings(EnvSettings):
    tts_provider: Literal["polly", "espeak", "riva", "scripted"] = "polly"
    tts_voice: str = "Seoyeon"
    tts_language: str = "ko-KR"
    polly_engine: Literal["neural", "standard", "generative"] = "neural"
    polly_region: str | None = None
    polly_endpoint: str | None = None
    speech_cache_size: int = Field(default=128, ge=0, le=10_000)
    # NVIDIA Riva / NIM TTS (tts_provider="riva"); see docs/RIVA.md. Riva names its voices
    # differently from Polly, so tts_voice is not used: riva_tts_voice, else the server's first
    # voice for the language. Riva has no Korean voice: set riva_tts_language.
    riva_tts_url: str = "localhost:50051"
    riva_tts_use_ssl: bool = False
    riva_tts_ssl_cert: Path | None = None
    riva_tts_api_key: SecretStr | None = None
    riva_tts_api_key_arn: str | None = None
    riva_tts_function_id: str | None = None
    riva_tts_voice: str | None = None
    riva_tts_language: str | None = None
    riva_tts_sample_rate: int = Field(default=22050, ge=8000, le=48000)
    # Only for tests and benchmarks (tts_provider="scripted").
    scripted_tts_delay_ms: int = Field(default=0, ge=0)
    scripted_tts_ms_per_char: float = Field(default=0.0, ge=0.0)


class ServiceSettings(EnvSettings):
    service_name: str = "voicebot"
    max_body_bytes: int = 64 * 1024
    # The page's origin for CORS; "*" is fine because every route needs a bearer token, not cookies.
    cors_origin: str = "*"


@lru_cache(maxsize=1)
def token_settings() -> TokenSettings:
    return TokenSettings.from_env()


@lru_cache(maxsize=1)
def redis_settings() -> RedisSettings:
    return RedisSettings.from_env()  # redis_url comes from the environment


@lru_cache(maxsize=1)
def connections_settings() -> ConnectionsSettings:
    return ConnectionsSettings.from_env()


@lru_cache(maxsize=1)
def history_settings() -> HistorySettings:
    return HistorySettings.from_env()  # history_table comes from the environment


@lru_cache(maxsize=1)
def chat_settings() -> ChatSettings:
    return ChatSettings.from_env()


@lru_cache(maxsize=1)
def speech_settings() -> SpeechSettings:
    return SpeechSettings.from_env()


@lru_cache(maxsize=1)
def service_settings() -> ServiceSettings:
    return ServiceSettings.from_env()


def reset_settings() -> None:
    """Forget cached settings (tests and the local stack change the environment)."""
    for fn in (
        token_settings,
        redis_settings,
        connections_settings,
        history_settings,
        chat_settings,
        speech_settings,
        service_settings,
    ):
        fn.cache_clear()
