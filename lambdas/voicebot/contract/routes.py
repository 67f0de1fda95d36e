"""The functions and the routes that reach them: REST paths and WebSocket routes, with their auth.

This is the only route table. The CDK app builds API Gateway from it (``cdk/rest_api.py``,
``cdk/websocket_api.py``) and each function from its :class:`FunctionSpec`; the local twin routes
requests with it (``local/app.py``); the handlers dispatch on its route objects; the tests
iterate over it. Adding a WebSocket action means one :class:`~voicebot.contract.wire.ClientAction`
model in ``wire.py`` (which names its function), its handling, and the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from . import settings as s
from . import wire
from .wire import CLIENT_ACTIONS

# Who may call a route: nobody in particular, a page (client token), a device (device token), an
# open WebSocket connection (registered by $connect with a client token), or anyone who knows
# the deployment's access code (when it has one).
Auth = Literal["public", "client", "device", "connection", "access_code"]


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its handler module, size, the settings it reads, what it may touch.

    ``settings`` are the classes its handler reads: the CDK app sets the variables of their
    fields that the deployment has values for, and derives the secret grants (and VPC placement,
    for Redis) from them. The remaining fields are its other grants.
    """

    key: str
    description: str
    memory_mb: int = 512
    timeout_seconds: int = 10
    settings: tuple[type[s.EnvSettings], ...] = ()
    table_actions: tuple[str, ...] = ()
    manage_connections: bool = False
    synthesize_speech: bool = False
    invoke_model: bool = False
    # Its role may open Amazon Transcribe streams, which the pre-signed URLs it mints carry.
    start_transcription: bool = False
    # The function it starts turns in (asynchronous invoke), if any: the chat route hands each
    # page turn to the chat function, the transcripts function starts preemptive turns there.
    starts_turns_in: str | None = None

    @property
    def handler(self) -> str:
        return f"{self.module}.handler"

    @property
    def module(self) -> str:
        return handler_module(self.key)

    @property
    def in_vpc(self) -> bool:
        """Functions that talk to Redis run in the VPC; the others stay out (faster cold starts)."""
        return s.RedisSettings in self.settings


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "health",
        "GET /api/health: the API answers, and whether Redis does",
        memory_mb=256,
        timeout_seconds=5,
        # One read, bounded by a 1 s timeout (services/health.py): a down cache is reported.
        settings=(s.RedisSettings,),
    ),
    FunctionSpec(
        "sessions",
        "POST /api/sessions, /api/sessions/refresh and /api/sessions/device: issue tokens",
        settings=(s.TokenSettings, s.SessionSettings),
    ),
    FunctionSpec(
        "transcripts",
        "POST /api/transcripts and the page's transcript action: relay a transcript to the "
        "user's pages",
        settings=(
            s.TokenSettings,
            s.RedisSettings,
            s.ConnectionsSettings,
            s.PreemptionSettings,
        ),
        manage_connections=True,
        # A partial that already reads as a whole question starts its answer, held, in chat.
        starts_turns_in=wire.PreemptiveTurn.function,
    ),
    FunctionSpec(
        "speech",
        "POST /api/speech: text to OGG Vorbis",
        timeout_seconds=20,
        # Redis holds the speech quota (so this function runs in the VPC, like the others).
        settings=(s.TokenSettings, s.SpeechSettings, s.RedisSettings, s.QuotaSettings),
        synthesize_speech=True,
    ),
    FunctionSpec(
        "transcribe",
        "POST /api/transcribe/stream: a pre-signed Amazon Transcribe streaming URL for the page",
        memory_mb=256,
        # Redis holds the stream quota (so this function runs in the VPC, like speech).
        settings=(s.TokenSettings, s.TranscribeSettings, s.RedisSettings),
        start_transcription=True,
    ),
    FunctionSpec(
        "history",
        "GET and DELETE /api/history",
        timeout_seconds=20,
        settings=(s.TokenSettings, s.HistorySettings),
        table_actions=("dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
    ),
    FunctionSpec(
        "ws_connect",
        "WebSocket $connect: check the token, register the connection",
        settings=(s.TokenSettings, s.RedisSettings),
    ),
    FunctionSpec(
        "ws_disconnect",
        "WebSocket $disconnect: forget the connection",
        memory_mb=256,
        settings=(s.RedisSettings,),
    ),
    FunctionSpec(
        "ws_messages",
        "WebSocket cancel, resume, ping and $default",
        timeout_seconds=20,
        # A cancel after the answer was stored corrects that turn to what the user heard.
        settings=(s.RedisSettings, s.HistorySettings),
        table_actions=("dynamodb:Query", "dynamodb:UpdateItem"),
        manage_connections=True,
    ),
    FunctionSpec(
        "ws_chat",
        "WebSocket chat: check and claim the turn, start it in the chat function",
        # It answers at once: only the turn it starts outlives API Gateway's 29 s integration
        # timeout (a route that waited for the turn gave the page an untyped timeout frame).
        # The turn quota is checked here, before any turn is started (services/quotas.py).
        settings=(s.RedisSettings, s.PreemptionSettings, s.QuotaSettings),
        manage_connections=True,
        starts_turns_in=wire.PageTurn.function,
    ),
    FunctionSpec(
        "chat",
        "Run a chat turn (from the chat route or, held, the transcripts function): stream the "
        "answer and speak it sentence by sentence",
        # Invoked asynchronously, so a turn may outlive API Gateway's 29 s integration timeout;
        # the function's own timeout bounds it. More memory also buys CPU for the concurrent
        # Polly calls and base64 work.
        memory_mb=1024,
        timeout_seconds=300,
        settings=(
            s.RedisSettings,
            s.HistorySettings,
            s.ConversationSettings,
            s.ChatSettings,
            s.SpeechSettings,
            # No WebSocket event comes with an invocation to find @connections from.
            s.ConnectionsSettings,
            s.PreemptionSettings,
            s.QuotaSettings,
        ),
        table_actions=("dynamodb:Query", "dynamodb:PutItem"),
        manage_connections=True,
        synthesize_speech=True,
        invoke_model=True,
    ),
)
# API Gateway gives up on a route's integration after this long (WebSocket and REST alike); every
# function a route reaches answers within it.
INTEGRATION_TIMEOUT_SECONDS = 29
FUNCTION_KEYS: tuple[str, ...] = tuple(spec.key for spec in FUNCTIONS)


def handler_module(function: str) -> str:
    """The module whose ``handler`` is this function's entry point."""
    return f"handlers.{function}"


@dataclass(frozen=True)
class RestRoute:
    method: str
    path: str
    function: str
    auth: Auth

    @property
    def module(self) -> str:
        return handler_module(self.function)


HEALTH = RestRoute("GET", "/api/health", "health", "public")
CREATE_SESSION = RestRoute("POST", "/api/sessions", "sessions", "access_code")
REFRESH_SESSION = RestRoute("POST", "/api/sessions/refresh", "sessions", "client")
# A device's own refresh: a new device token (never a client token) within the session's age.
REFRESH_DEVICE_TOKEN = RestRoute("POST", "/api/sessions/device", "sessions", "device")
PUBLISH_TRANSCRIPT = RestRoute("POST", "/api/transcripts", "transcripts", "device")
SYNTHESIZE_SPEECH = RestRoute("POST", "/api/speech", "speech", "client")
# The page's microphone on AWS: a URL the page opens Amazon Transcribe's WebSocket API with.
TRANSCRIBE_STREAM = RestRoute("POST", "/api/transcribe/stream", "transcribe", "client")
LIST_HISTORY = RestRoute("GET", "/api/history", "history", "client")
CLEAR_HISTORY = RestRoute("DELETE", "/api/history", "history", "client")

REST_ROUTES: tuple[RestRoute, ...] = (
    HEALTH,
    CREATE_SESSION,
    REFRESH_SESSION,
    REFRESH_DEVICE_TOKEN,
    PUBLISH_TRANSCRIPT,
    SYNTHESIZE_SPEECH,
    TRANSCRIBE_STREAM,
    LIST_HISTORY,
    CLEAR_HISTORY,
)


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str  # "$connect", "$disconnect", "$default", or a client action's name
    function: str
    auth: Auth

    @property
    def module(self) -> str:
        return handler_module(self.function)


CONNECT = WebSocketRoute("$connect", "ws_connect", "client")
DISCONNECT = WebSocketRoute("$disconnect", "ws_disconnect", "connection")
# Anything whose action is unknown: answered with an unknown_action error.
DEFAULT = WebSocketRoute("$default", "ws_messages", "connection")

WEBSOCKET_ROUTES: tuple[WebSocketRoute, ...] = (
    CONNECT,
    DISCONNECT,
    DEFAULT,
    *(WebSocketRoute(action.name(), action.function, "connection") for action in CLIENT_ACTIONS),
)
# API Gateway picks the route by this expression; route_key_for does the same for the twin.
ROUTE_SELECTION_EXPRESSION = "$request.body.action"
ACTION_NAMES: frozenset[str] = frozenset(action.name() for action in CLIENT_ACTIONS)


def rest_route(method: str, path: str) -> RestRoute | None:
    path = path.rstrip("/") or "/"
    return next((r for r in REST_ROUTES if r.method == method.upper() and r.path == path), None)


def rest_paths() -> tuple[str, ...]:
    return tuple(dict.fromkeys(route.path for route in REST_ROUTES))


def route_key_for(body: str | bytes | None) -> str:
    """WebSocket route selection, as the API's ``$request.body.action`` expression does it."""
    try:
        action = json.loads(body or "").get("action")
    except (ValueError, AttributeError, RecursionError):  # RecursionError: nested too deeply
        return DEFAULT.route_key
    return action if isinstance(action, str) and action in ACTION_NAMES else DEFAULT.route_key


def websocket_function(route_key: str) -> str:
    """The function that serves a route key (an unknown one goes to ``$default``'s)."""
    for route in WEBSOCKET_ROUTES:
        if route.route_key == route_key:
            return route.function
    return DEFAULT.function
