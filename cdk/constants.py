# ruff: noqa: S105
"""Names and fixed values shared by the constructs, in one place.

Environment variable and output names below are names, not secrets (hence the S105 waiver).
Construct ids become part of CloudFormation logical ids: renaming one replaces the resource on the
next deploy, so treat them as stable.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICE_NAME = "voicebot"
METRICS_NAMESPACE = "Voicebot"

# Lambda runtime and the interpreter version the dependencies are built for: keep the two together.
# 3.13 rather than 3.14: not every dependency in lambdas/requirements.txt resolves to cp314
# manylinux aarch64 wheels yet (pip reports a conflict), and the asset must be built without Docker.
LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PIP_PLATFORM = "manylinux2014_aarch64"
# Named only because BundlingOptions requires an image; the local bundler always builds instead.
LAMBDA_BUILD_IMAGE = "public.ecr.aws/sam/build-python3.13"

# Stage names: the REST stage is the origin path behind CloudFront's /api/*; the WebSocket stage is
# the last segment of the wss:// URL in config.json.
REST_STAGE = "prod"
WEBSOCKET_STAGE = "prod"
WEBSOCKET_ROUTE_SELECTION = "$request.body.action"
BINARY_MEDIA_TYPES = ("audio/ogg",)

# Outputs the stack prints (the README's deploy section quotes these names).
OUTPUT_PAGE_URL = "PageUrl"
OUTPUT_API_URL = "ApiUrl"
OUTPUT_WEBSOCKET_URL = "WebSocketUrl"
OUTPUT_INTERPRETER_ENDPOINT = "InterpreterEndpoint"
OUTPUT_ACCESS_CODE_SECRET = "AccessCodeSecretArn"

# History table schema, fixed by lambdas/voicebot/adapters/dynamo_history.py.
HISTORY_PARTITION_KEY = "userId"
HISTORY_SORT_KEY = "turnKey"
HISTORY_TTL_ATTRIBUTE = "expiresAt"

# Environment variable names, as lambdas/voicebot/config.py reads them.
ENV_TOKEN_SECRET_ARN = "TOKEN_SECRET_ARN"
ENV_ACCESS_CODE_ARN = "ACCESS_CODE_ARN"
ENV_TOKEN_TTL_SECONDS = "TOKEN_TTL_SECONDS"
ENV_REDIS_URL = "REDIS_URL"
ENV_REDIS_AUTH_SECRET_ARN = "REDIS_AUTH_SECRET_ARN"
ENV_CONNECTIONS_ENDPOINT = "CONNECTIONS_ENDPOINT"
ENV_HISTORY_TABLE = "HISTORY_TABLE"
ENV_HISTORY_WINDOW_TURNS = "HISTORY_WINDOW_TURNS"
ENV_HISTORY_TTL_DAYS = "HISTORY_TTL_DAYS"
ENV_CHAT_PROVIDER = "CHAT_PROVIDER"
ENV_CHAT_MODEL_ID = "CHAT_MODEL_ID"
ENV_CHAT_REGION = "CHAT_REGION"
ENV_CHAT_TEMPERATURE = "CHAT_TEMPERATURE"
ENV_CHAT_MAX_TOKENS = "CHAT_MAX_TOKENS"
ENV_FIRST_CLAUSE_MIN_CHARS = "FIRST_CLAUSE_MIN_CHARS"
ENV_TTS_PROVIDER = "TTS_PROVIDER"
ENV_TTS_VOICE = "TTS_VOICE"
ENV_TTS_LANGUAGE = "TTS_LANGUAGE"
ENV_POLLY_ENGINE = "POLLY_ENGINE"

_SPEECH_ENV = (ENV_TTS_PROVIDER, ENV_TTS_VOICE, ENV_TTS_LANGUAGE, ENV_POLLY_ENGINE)
_REDIS_ENV = (ENV_REDIS_URL, ENV_REDIS_AUTH_SECRET_ARN)


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its handler, size, and what it may touch.

    ``env`` lists the variables its handler reads; the functions construct sets exactly these and
    derives the secret grants (and VPC placement, for Redis) from them. ``optional_env`` are set
    only when the deployment configures a value. The remaining fields are its other grants.
    """

    key: str
    description: str
    memory_mb: int = 512
    timeout_seconds: int = 10
    env: tuple[str, ...] = ()
    optional_env: tuple[str, ...] = ()
    table_actions: tuple[str, ...] = ()
    manage_connections: bool = False
    synthesize_speech: bool = False
    invoke_model: bool = False

    @property
    def handler(self) -> str:
        return f"handlers.{self.key}.handler"

    @property
    def in_vpc(self) -> bool:
        """Functions that talk to Redis run in the VPC; the others stay out (faster cold starts)."""
        return ENV_REDIS_URL in self.env


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("health", "GET /api/health", memory_mb=256, timeout_seconds=5),
    FunctionSpec(
        "sessions",
        "POST /api/sessions and /api/sessions/refresh: issue tokens",
        env=(ENV_TOKEN_SECRET_ARN, ENV_TOKEN_TTL_SECONDS),
        optional_env=(ENV_ACCESS_CODE_ARN,),
    ),
    FunctionSpec(
        "transcripts",
        "POST /api/transcripts: relay a device's transcript to the user's pages",
        env=(ENV_TOKEN_SECRET_ARN, *_REDIS_ENV, ENV_CONNECTIONS_ENDPOINT),
        manage_connections=True,
    ),
    FunctionSpec(
        "speech",
        "POST /api/speech: text to OGG Vorbis",
        timeout_seconds=20,
        env=(ENV_TOKEN_SECRET_ARN, *_SPEECH_ENV),
        synthesize_speech=True,
    ),
    FunctionSpec(
        "history",
        "GET and DELETE /api/history",
        timeout_seconds=20,
        env=(ENV_TOKEN_SECRET_ARN, ENV_HISTORY_TABLE),
        table_actions=("dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
    ),
    FunctionSpec(
        "ws_connect",
        "WebSocket $connect: check the token, register the connection",
        env=(ENV_TOKEN_SECRET_ARN, *_REDIS_ENV),
    ),
    FunctionSpec(
        "ws_disconnect",
        "WebSocket $disconnect: forget the connection",
        memory_mb=256,
        env=_REDIS_ENV,
    ),
    FunctionSpec(
        "ws_messages",
        "WebSocket cancel, resume, ping and $default",
        timeout_seconds=20,
        # A cancel after the answer was stored corrects that turn to what the user heard.
        env=(*_REDIS_ENV, ENV_HISTORY_TABLE),
        table_actions=("dynamodb:Query", "dynamodb:UpdateItem"),
        manage_connections=True,
    ),
    FunctionSpec(
        "chat",
        "WebSocket chat: stream the answer and speak it sentence by sentence",
        # A turn outlives API Gateway's 29 s integration timeout; the function's own timeout bounds
        # it. More memory also buys CPU for the concurrent Polly calls and base64 work.
        memory_mb=1024,
        timeout_seconds=300,
        env=(
            *_REDIS_ENV,
            ENV_HISTORY_TABLE,
            ENV_HISTORY_WINDOW_TURNS,
            ENV_HISTORY_TTL_DAYS,
            ENV_CHAT_PROVIDER,
            ENV_CHAT_MODEL_ID,
            ENV_CHAT_REGION,
            ENV_CHAT_TEMPERATURE,
            ENV_CHAT_MAX_TOKENS,
            ENV_FIRST_CLAUSE_MIN_CHARS,
            *_SPEECH_ENV,
        ),
        table_actions=("dynamodb:Query", "dynamodb:PutItem"),
        manage_connections=True,
        synthesize_speech=True,
        invoke_model=True,
    ),
)

# REST routes: (path, method, function key).
REST_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("/api/health", "GET", "health"),
    ("/api/sessions", "POST", "sessions"),
    ("/api/sessions/refresh", "POST", "sessions"),
    ("/api/transcripts", "POST", "transcripts"),
    ("/api/speech", "POST", "speech"),
    ("/api/history", "GET", "history"),
    ("/api/history", "DELETE", "history"),
)

# WebSocket routes: route key -> function key.
WEBSOCKET_ROUTES: dict[str, str] = {
    "$connect": "ws_connect",
    "$disconnect": "ws_disconnect",
    "$default": "ws_messages",
    "chat": "chat",
    "cancel": "ws_messages",
    "resume": "ws_messages",
    "ping": "ws_messages",
}
