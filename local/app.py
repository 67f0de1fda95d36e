"""The API Gateway twin: one ASGI app with the REST API, the WebSocket API, ``@connections``,
the page's static files, ``/config.json`` and the browser microphone.

Every API request becomes the event API Gateway would send (``local.apigw``) and goes to the
same handler function the Lambda runs; the handler's proxy response becomes the HTTP response.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from voicebot.contract import routes
from voicebot.contract.endpointing import EndOfTurnConfig
from voicebot.contract.interruptions import InterruptionConfig
from voicebot.contract.settings import SpeechSettings, TurnTakingSettings
from voicebot.contract.wire import RATE_LIMITED, ErrorEvent, PageConfig
from voicebot.protocol import encode_event

from .apigw import STAGE, response_body, rest_event, websocket_event
from .connections import ConnectionHub, PageConnection, management_endpoint
from .engines import turn_taking_environment
from .guard import HostGuard, MessageRate, allowed_names
from .invoke import HandlerInvoker
from .mic import MicService
from .options import StackOptions
from .responses import deny, error_response

logger = logging.getLogger("local.app")

_PLACEHOLDER_PAGE = """<!doctype html><meta charset="utf-8"><title>Voicebot local stack</title>
<p>The local stack is running, but <code>web/index.html</code> is missing.
The API is at <code>/api</code>, the WebSocket at <code>/ws</code>.</p>"""


def _title_case(headers: Any) -> dict[str, str]:
    # ASGI lowercases header names; API Gateway passes them as the client wrote them, which for
    # browsers and most clients is Title-Case.
    return {"-".join(p.capitalize() for p in k.split("-")): v for k, v in headers.items()}


def _proxy_response(result: dict[str, Any]) -> Response:
    headers: dict[str, str] = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if values:
            headers[name] = ", ".join(str(v) for v in values)
    status = int(result.get("statusCode", 502))
    body = response_body(result) if status not in (204, 304) else b""
    headers.pop("Content-Length", None)
    headers.pop("content-length", None)
    return Response(body, status_code=status, headers=headers)


@dataclass(eq=False)  # compared and hashed by identity, as before
class ApiTwin:
    """API Gateway's part, REST and WebSocket, in front of the same handlers."""

    options: StackOptions
    invoker: HandlerInvoker
    hub: ConnectionHub
    mic: MicService | None
    engines: dict[str, str]
    max_body_bytes: int

    @property
    def _domain(self) -> str:
        # What the handlers see as the WebSocket API's domain: the management URL they derive
        # from it (http://127.0.0.1:PORT/local) must reach this server, whatever host the page
        # used.
        return f"127.0.0.1:{self.options.port}"

    # ---- REST ----------------------------------------------------------------------------------

    async def rest(self, request: Request) -> Response:
        path = request.url.path
        # As API Gateway: a known resource reaches its function, which answers any method it
        # does not serve (404) and the CORS preflight.
        module = next((r.function for r in routes.REST_ROUTES if r.path == path.rstrip("/")), None)
        if module is None:
            return error_response(404, "not_found", "No such route.")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > (limit := self.max_body_bytes):
                return error_response(
                    413, "payload_too_large", f"The body must be at most {limit} bytes."
                )
        event = rest_event(
            request.method,
            path,
            headers=_title_case(request.headers),
            query=dict(request.query_params) or None,
            body=bytes(body) if body else None,
            source_ip=request.client.host if request.client else "127.0.0.1",
        )
        try:
            result = await self.invoker.invoke(module, event)
        except Exception:
            # API Gateway answers 502 when the integration fails; the client learns nothing more.
            logger.exception("handler %s failed", module)
            return error_response(502, "internal_error", "Something went wrong on our side.")
        return _proxy_response(result)

    # ---- WebSocket API -----------------------------------------------------------------------

    async def page_socket(self, websocket: WebSocket) -> None:
        client_ip = websocket.client.host if websocket.client else "127.0.0.1"
        page = self.hub.open(client_ip, websocket.headers.get("user-agent", ""))
        connection_id = page.connection_id
        connect = websocket_event(
            routes.CONNECT.route_key,
            connection_id,
            domain_name=self._domain,
            query=dict(websocket.query_params),
            headers=_title_case(websocket.headers),
            source_ip=client_ip,
        )
        try:
            result = await self.invoker.invoke(routes.CONNECT.function, connect)
            status = int(result.get("statusCode", 500))
        except Exception:
            logger.exception("$connect failed")
            status = 500
        if status != 200:
            self.hub.discard(connection_id)
            await deny(websocket, status)
            return
        await websocket.accept()
        pump = asyncio.create_task(page.pump(websocket))
        rate = MessageRate(self.options.ws_message_rate)
        try:
            while True:
                # A frame over the limit closes the socket with 1009 (uvicorn's ws_max_size).
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                page.touch()
                body = message.get("text")
                if body is None:
                    body = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                if not rate.allow():
                    if rate.should_tell():
                        _rate_limited(page, body)
                    continue
                route = routes.route_key_for(body)
                event = websocket_event(
                    route, connection_id, domain_name=self._domain, body=body, source_ip=client_ip
                )
                # Each message is its own invocation and the loop keeps receiving, so a cancel
                # reaches the stack while the chat turn it cancels is still streaming.
                self.invoker.invoke_route(
                    routes.websocket_function(route),
                    event,
                    timeout=self.options.integration_timeout,
                    on_timeout=functools.partial(_timed_out, page, event),
                )
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.discard(connection_id)
            pump.cancel()
            disconnect = websocket_event(
                routes.DISCONNECT.route_key,
                connection_id,
                domain_name=self._domain,
                source_ip=client_ip,
            )
            self.invoker.invoke_in_background(routes.DISCONNECT.function, disconnect)

    # ---- the page ------------------------------------------------------------------------------

    async def config(self, request: Request) -> JSONResponse:
        base = f"ws://127.0.0.1:{self.options.port}"
        host = request.headers.get("host")
        if host:  # the page reaches the sockets the way it reached the page (localhost vs IP)
            base = f"ws://{host}"
        turn_taking = TurnTakingSettings.from_env(turn_taking_environment(self.options))
        config = PageConfig(
            wsUrl=f"{base}/ws",
            micUrl=f"{base}/mic" if self.mic is not None else None,
            # The same presign route as on AWS; the page then prefers it to /mic.
            transcribeUrl=routes.TRANSCRIBE_STREAM.path if self.options.transcribe else None,
            language=self.options.language,
            voice=self.options.voice or SpeechSettings.model_fields["tts_voice"].default,
            accessCodeRequired=False,
            engines=self.engines,
            interruption=InterruptionConfig.from_settings(turn_taking),
            endOfTurn=EndOfTurnConfig(enabled=turn_taking.adaptive_end_of_turn),
            preemptiveAnswers=self.options.preemptive_answers,
        )
        # micUrl stays in the document as null when the stack has no microphone.
        return JSONResponse(config.model_dump(), headers={"Cache-Control": "no-store"})

    async def index(self, request: Request) -> Response:
        index = self.options.web_dir / "index.html"
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_PLACEHOLDER_PAGE)

    async def mic_socket(self, websocket: WebSocket) -> None:
        if self.mic is None:
            await deny(websocket, 404)
            return
        await self.mic.serve(websocket)


def _rate_limited(page: PageConnection, body: str) -> None:
    """The page sent faster than --ws-message-rate: this message is dropped, and said so."""
    try:
        turn_id = json.loads(body).get("turnId")
    except (ValueError, AttributeError):
        turn_id = None
    error = ErrorEvent(
        code=RATE_LIMITED,
        message="Too many messages on this connection; slow down.",
        turnId=turn_id if isinstance(turn_id, str) and len(turn_id) <= 64 else None,
    )
    page.outbox.put_nowait(encode_event(error).decode("utf-8"))


def _timed_out(page: PageConnection, event: dict[str, Any]) -> None:
    """What API Gateway sends when a route's integration outlives its timeout: an untyped frame
    (the function itself keeps running)."""
    context = event["requestContext"]
    frame = {
        "message": "Endpoint request timed out",
        "connectionId": context["connectionId"],
        "requestId": context["requestId"],
    }
    page.outbox.put_nowait(json.dumps(frame))


def build_app(
    twin: ApiTwin,
    hub: ConnectionHub,
    options: StackOptions,
    management_key: str,
) -> Starlette:
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    names = allowed_names(options.host, options.allowed_hosts)
    return Starlette(
        middleware=[Middleware(HostGuard, names=names)],
        routes=[
            Route("/api/{rest:path}", twin.rest, methods=methods),
            Route("/api", twin.rest, methods=methods),
            WebSocketRoute("/ws", twin.page_socket),
            WebSocketRoute("/mic", twin.mic_socket),
            Route(
                f"/{STAGE}/@connections/{{connection_id}}",
                management_endpoint(hub, management_key),
                methods=["POST", "GET", "DELETE"],
            ),
            Route("/config.json", twin.config, methods=["GET"]),
            Route("/", twin.index, methods=["GET", "HEAD"]),
            Mount("/", StaticFiles(directory=options.web_dir, check_dir=False), name="web"),
        ],
    )
