"""Start and stop the whole local stack: backing services, engines, the handlers, the server."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn

from voicebot import wiring
from voicebot.config import service_settings
from voicebot.contract.wire import MAX_WS_FRAME_BYTES

from .apigw import STAGE
from .app import ApiTwin, build_app
from .children import ChildProcess
from .connections import (
    MANAGEMENT_KEY_FILE,
    ConnectionHub,
    InProcessPoster,
    ManagementApiPoster,
)
from .dynamodb import ensure_history_table
from .engines import (
    HISTORY_TABLE,
    Endpoints,
    aws_credentials_available,
    engine_names,
    handler_environment,
    recognizer_settings,
    riva_client_missing,
    sdk_environment,
    uses_aws,
)
from .invoke import HandlerInvoker, InProcessTurnStarter
from .mic import MicService, SharedRecognizer
from .options import StackOptions
from .redis_server import free_port

logger = logging.getLogger("local")


class LocalStack:
    def __init__(self, options: StackOptions) -> None:
        if options.port == 0:
            from dataclasses import replace

            options = replace(options, port=free_port())
        self.options = options
        # Per run: what the @connections route asks of its callers (this stack's handlers, and
        # local tools that read it from the data dir).
        self._management_key = secrets.token_urlsafe(32)
        # The embedded Redis runs under a supervisor child that restarts it when it dies.
        self._redis: ChildProcess | None = None
        if not options.redis_url:
            self._redis = ChildProcess(
                "redis",
                "local.redis_server",
                ["--port", str(free_port()), "--restart-delay", str(options.redis_restart_delay)],
                options.data_dir / "logs" / "redis.log",
            )
        self._dynamodb = ChildProcess(
            "dynamodb",
            "local.dynamodb",
            ["--data-dir", str(options.data_dir / "dynamodb")],
            options.data_dir / "logs" / "dynamodb.log",
        )
        self._llm: ChildProcess | None = None
        if options.chat == "local" and not options.chat_endpoint:
            llm_args = [
                "--data-dir",
                str(options.data_dir),
                "--parallel",
                str(options.llm_parallel),
            ]
            if options.llm_threads:
                llm_args += ["--threads", str(options.llm_threads)]
            self._llm = ChildProcess(
                "llm", "local.llm", llm_args, options.data_dir / "logs" / "llm.log"
            )

    # ---- services ------------------------------------------------------------------------------

    def start_services(self) -> Endpoints:
        """Start Redis, DynamoDB and the local model side by side (they are independent)."""
        self.options.data_dir.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=3) as pool:
            redis = pool.submit(self._redis.start) if self._redis else None
            dynamodb = pool.submit(self._dynamodb.start)
            llm = pool.submit(self._llm.start, 120.0) if self._llm else None
            try:
                return Endpoints(
                    redis_url=redis.result() if redis else str(self.options.redis_url),
                    dynamodb_url=dynamodb.result(),
                    llm_url=llm.result() if llm else None,
                )
            except Exception:
                pool.shutdown(wait=True)
                self.stop_services()
                raise

    def stop_services(self) -> None:
        if self._llm is not None:
            self._llm.stop()
        self._dynamodb.stop()
        if self._redis is not None:
            self._redis.stop()

    # ---- handlers ------------------------------------------------------------------------------

    def configure_handlers(self, endpoints: Endpoints) -> HandlerInvoker:
        sdk = sdk_environment(self.options)
        if sdk.get("AWS_ACCESS_KEY_ID") == "local":
            os.environ.pop("AWS_SESSION_TOKEN", None)
        # Powertools and boto3 read only the process environment; they are not the core.
        os.environ.update(sdk)
        # The core's settings: what the user exported, then this stack's choices on top (as a
        # Lambda function's environment holds what the deployment set).
        wiring.configure({**os.environ, **handler_environment(self.options, endpoints)})
        ensure_history_table(endpoints.dynamodb_url, HISTORY_TABLE, _region())
        invoker = HandlerInvoker()
        invoker.load()
        return invoker

    # ---- the page's microphone -----------------------------------------------------------------

    def _microphone(self) -> MicService | None:
        """The /mic service on the interpreter's recognizer; a wrong setting fails the start."""
        options = self.options
        if options.asr == "none":
            return None
        from pydantic import ValidationError

        from interpreter.recognizers import RecognizerError, build_recognizer

        try:
            settings = recognizer_settings(options)
        except ValidationError as exc:
            raise RuntimeError(f"speech recognition settings: {exc}") from None
        recognizer = SharedRecognizer(lambda: build_recognizer(settings))
        if options.asr == "riva":
            try:
                recognizer.get()  # instant (the channel connects on first use): check it now
            except RecognizerError as exc:
                raise RuntimeError(str(exc)) from None
        return MicService(options.language, recognizer)

    # ---- run -----------------------------------------------------------------------------------

    def run(self) -> None:
        started = time.monotonic()
        options = self.options
        _check_port_free(options.host, options.port)
        for need in uses_aws(options):
            if not aws_credentials_available():
                print(f"warning: {need} needs AWS credentials and none were found", flush=True)
        if riva_client_missing(options):
            raise RuntimeError(
                "--asr riva and --tts riva need the NVIDIA Riva client: "
                ".venv/bin/pip install -r requirements/riva.txt"
            )
        endpoints = self.start_services()
        try:
            _write_private(options.data_dir / MANAGEMENT_KEY_FILE, self._management_key)
            mic = self._microphone()
            invoker = self.configure_handlers(endpoints)

            hub = ConnectionHub()
            twin = ApiTwin(
                options,
                invoker,
                hub,
                mic,
                engine_names(options),
                service_settings().max_body_bytes,
            )
            app = build_app(twin, hub, options, self._management_key)
            config = uvicorn.Config(
                app,
                host=options.host,
                port=options.port,
                log_level="warning" if options.log_level != "DEBUG" else "info",
                lifespan="off",
                # As API Gateway: a bigger frame closes the socket with 1009 (message too big).
                ws_max_size=MAX_WS_FRAME_BYTES,
                # Pings keep idle pages connected through proxies; the protocol has its own too.
                ws_ping_interval=20,
                timeout_graceful_shutdown=5,
            )
            server = uvicorn.Server(config)
            asyncio.run(self._serve(server, invoker, hub, mic, started))
        finally:
            self.stop_services()

    async def _serve(
        self,
        server: uvicorn.Server,
        invoker: HandlerInvoker,
        hub: ConnectionHub,
        mic: MicService | None,
        started: float,
    ) -> None:
        wiring.use_turn_starter(InProcessTurnStarter(invoker, asyncio.get_running_loop()))
        if self.options.connections == "in-process":
            wiring.use_connection_poster(InProcessPoster(hub, asyncio.get_running_loop()))
        else:
            endpoint = f"http://127.0.0.1:{self.options.port}/{STAGE}"
            wiring.use_connection_poster(ManagementApiPoster(endpoint, self._management_key))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                # uvicorn logs why (a port taken since the check, ...) and exits the task.
                with contextlib.suppress(SystemExit):
                    await serving
                raise RuntimeError("the server did not start")
            await asyncio.sleep(0.02)
        down = await self._until_healthy(serving)
        self._banner(time.monotonic() - started, down)
        if mic is not None and self.options.preload_asr:
            mic.recognizer.preload_in_background()
        await serving
        hub.close_all()
        await invoker.drain(timeout=5)

    async def _until_healthy(self, serving: asyncio.Task[None], timeout: float = 20.0) -> str:
        """Ask our own ``/api/health`` until it answers 200, so that "ready" means it.

        The first calls build the handlers' clients (boto3's for the DynamoDB endpoint, Redis's
        pool), which on a busy machine can outlast the health probes' 1 s; a stack that called
        itself ready then answered 503. Returns what is still down after ``timeout`` ("" if
        nothing): the stack still starts, and says so.
        """
        import httpx

        host = self.options.host
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).is_unspecified:  # listening on every address
                host = "127.0.0.1"
        deadline = time.monotonic() + timeout
        down = "the API"
        async with httpx.AsyncClient(base_url=f"http://{host}:{self.options.port}") as client:
            while not serving.done():
                try:
                    response = await client.get("/api/health", timeout=5)
                    if response.status_code != 503:  # 200; or not ours to judge (the guard)
                        return ""
                    services = response.json().get("services", {})
                    down = ", ".join(k for k, v in services.items() if v == "down") or "the API"
                except (httpx.HTTPError, ValueError):
                    down = "the API"
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
        return down

    def _banner(self, seconds: float, down: str = "") -> None:
        options = self.options
        engines = engine_names(options)
        lines = [
            "Voicebot local stack",
            f"  page:    {options.base_url}/",
            f"  engines: speech recognition {engines['asr']}; chat {engines['chat']}; "
            f"speech {engines['tts']}",
            f"  data:    {options.data_dir}",
            f"  started in {seconds:.1f} s; Ctrl-C stops it",
        ]
        if down:
            lines.append(f"  warning: not answering yet: {down} (see {options.data_dir}/logs)")
        lines.append("ready")
        print("\n".join(lines), flush=True)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by this user only."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _check_port_free(host: str, port: int) -> None:
    """Fail before starting anything when the port is taken, with a message that says so."""
    with socket.socket() as sock:
        # As uvicorn binds: a port left in TIME_WAIT by a previous run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise RuntimeError(
                f"{host}:{port} is not available ({exc.strerror}); use --port"
            ) from None
