"""Shared plumbing for the loopback fake AWS servers.

Each fake is a ``ThreadingHTTPServer`` bound to 127.0.0.1 on a free port, run in a
daemon thread, and usable as a context manager. Keep-alive connections (urllib3 pools
them) and handlers parked on a test's ``gate`` would otherwise outlive ``stop()``, so
the server tracks open sockets and shuts them down, and exposes ``closing`` for
handlers that wait.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, Self, TypeVar

# Disconnects surface as any of these depending on timing (RST vs FIN).
DISCONNECT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
# The fakes answer boto3 and LangChain clients with made-up credentials in this region.
REGION = "us-east-1"


class RecordedRequest(Protocol):
    """What every fake keeps of a request: how it ended, and when."""

    outcome: str
    finished_at: float | None


R = TypeVar("R", bound=RecordedRequest)


class _TrackingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Tests open many short-lived connections; the default backlog of 5 can drop some
    # when a thread pool of clients fires at once.
    request_queue_size = 64

    def __init__(self, owner: FakeAwsServer[Any], handler: type[BaseHTTPRequestHandler]) -> None:
        self.owner = owner
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def wait_for_handlers(self, timeout: float) -> None:
        """Until every request's handler has returned (each forgets its socket when it does), so
        what a handler records as it stops (an aborted stream's outcome) is there to read."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._open_lock:
                if not self._open:
                    return
            time.sleep(0.005)


class FakeAwsHandler(BaseHTTPRequestHandler, Generic[R]):
    """Base handler: HTTP/1.1 (keep-alive + chunked), quiet logs, JSON helpers, and the POST
    lifecycle; a fake names its ``route`` and implements ``new_request`` and ``serve``."""

    protocol_version = "HTTP/1.1"
    route: re.Pattern[str]
    disconnected_outcome = "aborted"
    # An idle keep-alive connection is dropped after this long, so abandoned client
    # pools don't pin handler threads for the whole test session.
    timeout = 30
    server: _TrackingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def owner(self) -> FakeAwsServer[R]:
        return self.server.owner

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        """Every fake's one method: route, parse the JSON body, record, serve.

        A path off ``route`` is answered 404, a body that is not JSON 400 (neither recorded);
        a client that hangs up mid-answer leaves its request with ``disconnected_outcome``.
        """
        raw = self.read_body()
        match = self.route.match(self.path.split("?", 1)[0])
        if match is None:
            self.send_aws_error(404, "UnknownOperationException", f"no route for {self.path}")
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self.send_aws_error(400, "SerializationException", "request body is not JSON")
            return
        req = self.new_request(match, raw, body)
        self.owner.record(req)
        try:
            self.serve(req)
        except DISCONNECT_ERRORS:
            req.outcome = self.disconnected_outcome
            self.close_connection = True
        finally:
            req.finished_at = time.monotonic()

    @property
    def lowered_headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def new_request(self, match: re.Match[str], raw: bytes, body: dict[str, Any]) -> R:
        """The record of this request (``received_at`` now), before it is served."""
        raise NotImplementedError

    def serve(self, req: R) -> None:
        """Answer the recorded request and set its ``outcome``."""
        raise NotImplementedError

    def send_bytes(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_bytes(status, body, {"Content-Type": "application/json", **(headers or {})})

    def send_aws_error(self, status: int, error_type: str, message: str) -> None:
        # restJson services name the error in x-amzn-ErrorType (botocore strips the
        # ":namespace" suffix) and put the message in the body, lower-case "message".
        self.send_json(
            status,
            {"message": message},
            {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/fake/"},
        )


class FakeAwsServer(Generic[R]):
    """Lifecycle shared by the fakes: ``start()``/``stop()`` or ``with``; the requests seen."""

    handler_class: type[FakeAwsHandler[R]]

    def __init__(self) -> None:
        self._httpd: _TrackingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._request_count = 0
        #: Set when the server is stopping; handlers that wait (gates, delays) watch it.
        self.closing = threading.Event()
        #: Every request received, in arrival order (appended under the lock).
        self.requests: list[R] = []

    @property
    def last_request(self) -> R:
        if not self.requests:
            raise AssertionError(f"{type(self).__name__} received no requests")
        return self.requests[-1]

    def record(self, req: R) -> None:
        with self._lock:
            self.requests.append(req)

    def client_options(self, max_attempts: int = 3) -> dict[str, Any]:
        """Keyword arguments that point a boto3 client (or LangChain's Bedrock chat model) here,
        with made-up credentials and botocore's standard retries."""
        from botocore.config import Config

        return {
            "endpoint_url": self.url,
            "region_name": REGION,
            "aws_access_key_id": "x",
            "aws_secret_access_key": "x",
            "config": Config(retries={"mode": "standard", "total_max_attempts": max_attempts}),
        }

    def client(self, service: str, max_attempts: int = 3) -> Any:
        """A boto3 client of ``service`` that talks to this fake."""
        import boto3

        # The stubs type one overload per service name literal; any name works here.
        return boto3.client(service, **self.client_options(max_attempts))  # type: ignore[call-overload]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not started")
        return int(self._httpd.server_address[1])

    def next_request_number(self) -> int:
        """1-based count of requests seen so far (used for ``throttle_first_n``)."""
        with self._lock:
            self._request_count += 1
            return self._request_count

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self.closing.clear()
        self._httpd = _TrackingHTTPServer(self, self.handler_class)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.close_open_connections()
        self._httpd.wait_for_handlers(timeout=2.0)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server is closing; returns False if it is."""
        if seconds <= 0:
            return not self.closing.is_set()
        return not self.closing.wait(seconds)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
