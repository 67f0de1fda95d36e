"""Settings from, highest first: command-line options, ``VOICEBOT_*`` environment variables, a
TOML or JSON config file (``--config`` or ``VOICEBOT_CONFIG``), and the defaults below.

Validated once at start, so a wrong value fails before any audio is captured.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from voicebot.contract.endpointing import EndOfTurnConfig

from .recognizers.riva import CHUNK_MS_CHOICES

ENV_PREFIX = "VOICEBOT_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    config_file: Path | None = Field(None, description="TOML or JSON file with these settings")
    api_url: str | None = Field(None, description="base URL of the Voicebot API")
    device_token: SecretStr | None = Field(None, description="deviceToken from POST /api/sessions")
    recognizer: Literal["transcribe", "vosk", "riva"] = "transcribe"
    language: str = Field("ko-KR", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
    aws_region: str | None = Field(None, description="Transcribe region (else AWS_REGION)")
    transcribe_endpoint: str | None = None
    transcribe_ca_file: Path | None = None
    partial_stability: Literal["low", "medium", "high"] = "high"
    vosk_model: Path | None = None
    riva_url: str = Field("localhost:50051", description="Riva/NIM gRPC server, host:port")
    riva_use_ssl: bool = False
    riva_ssl_cert: Path | None = None
    riva_api_key: SecretStr | None = None
    riva_function_id: str | None = None
    riva_chunk_ms: int = 160
    riva_punctuation: bool = True
    riva_model: str | None = None
    device: str | None = Field(None, description="microphone: PortAudio index or name")
    wav: Path | None = None
    realtime: bool = True
    vad_aggressiveness: int = Field(2, ge=0, le=3)
    preroll_ms: int = Field(300, ge=0, le=2000)
    # Transcribe drops a stream after ~15 s without audio; the gate never idles a stream that long.
    hangover_ms: int = Field(700, ge=90, le=10_000)
    # The words heard so far set the hangover (voicebot.contract.endpointing): this long after
    # a sentence-final ending (…요, …니다, "?"), that long after a connective (…는데, …고, "and").
    adaptive_end_of_turn: bool = True
    complete_hangover_ms: int = Field(300, ge=90, le=10_000)
    incomplete_hangover_ms: int = Field(1200, ge=90, le=10_000)
    max_utterance_s: float = Field(60.0, ge=5, le=3600)
    # The outbox bound (transcripts waiting for the API): partials go first when it is full, the
    # oldest final only when nothing but finals is left (logged as an error). 1,000 finals is
    # hours of speech.
    queue_size: int = Field(1000, ge=1, le=100_000)
    # Where undelivered finals (and the latest device token) survive a crash and a restart;
    # default: $XDG_STATE_HOME/voicebot/interpreter-outbox.db (~/.local/state/...).
    outbox_path: Path | None = None
    # Tries of a post the API answers with 429, 5xx or 408 (or lets time out) before it is set
    # aside (a final stays in the outbox file for the next start); an unreachable API is retried
    # for as long as it is away.
    max_attempts: int = Field(8, ge=1, le=1000)
    drain_timeout_s: float = Field(30.0, ge=0)
    quiet: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("riva_chunk_ms")
    @classmethod
    def _riva_chunk(cls, value: int) -> int:
        if value not in CHUNK_MS_CHOICES:
            raise ValueError(f"must be one of {', '.join(map(str, CHUNK_MS_CHOICES))} (ms)")
        return value

    @field_validator(
        "api_url",
        "device_token",
        "device",
        "transcribe_endpoint",
        "aws_region",
        "riva_api_key",
        "riva_function_id",
        "riva_model",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # Greengrass interpolates an unset configuration value as an empty string.
        return None if isinstance(value, str) and value.strip() == "" else value

    def end_of_turn(self) -> EndOfTurnConfig:
        low = min(self.complete_hangover_ms, self.hangover_ms)
        high = max(self.incomplete_hangover_ms, self.hangover_ms)
        return EndOfTurnConfig(
            enabled=self.adaptive_end_of_turn,
            completeMs=self.complete_hangover_ms,
            incompleteMs=self.incomplete_hangover_ms,
            minMs=low,
            maxMs=high,
        )

    def resolved_outbox_path(self) -> Path:
        from .outbox import default_outbox_path

        return self.outbox_path or default_outbox_path()

    def resolved_region(self) -> str:
        return (
            self.aws_region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = None
        if isinstance(init_settings, InitSettingsSource):
            path = init_settings.init_kwargs.get("config_file")
        path = path or os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path:
            sources.append(ConfigFileSource(settings_cls, Path(path)))
        return tuple(sources)


class ConfigFileError(ValueError):
    pass


class ConfigFileSource(PydanticBaseSettingsSource):
    """Keys are the setting names (``api_url``, ``device_token``, …); ``.json`` or TOML."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigFileError(f"Cannot read config file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigFileError(f"Config file {path} must hold a table/object of settings")
        self._data = {key.replace("-", "_"): value for key, value in data.items()}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)
