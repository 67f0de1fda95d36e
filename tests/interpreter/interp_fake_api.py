"""A stand-in for the Voicebot API's transcript route, following PROTOCOL.md.

``POST /api/transcripts`` answers 202 (relayed, or a repeat/stale post that is not relayed), 409
``utterance_closed`` after a final, 401 for a wrong token, 400 for a malformed body.
``GET /api/health`` answers 200. ``POST /api/sessions/device`` renews a device token (the old one
stays valid until ``expire``). The server can be taken down and brought back on the same port,
as a restarting API would be, and can answer chosen statuses to chosen posts (``fault``).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class _Utterance:
    seqs: dict[int, str] = field(default_factory=dict)
    highest: int = -1
    closed: bool = False


class FakeTranscriptsApi:
    def __init__(self, token: str = "device-token") -> None:
        self.token = token
        self.tokens = {token}  # every token that is still accepted
        self.expired: set[str] = set()  # refused for posts, still renewable (within the session)
        self.renewals = 0
        self.refuse_renewal = False
        # Called with each well-formed post (before it is accepted): a status to answer instead.
        self.fault: Callable[[dict[str, Any]], int | None] | None = None
        self.port = 0
        self.posts: list[dict[str, Any]] = []  # every well-formed, authorized post, repeats too
        self.relayed: list[dict[str, Any]] = []  # what the page would have received
        self.statuses: list[int] = []
        self.down_periods: list[tuple[float, float]] = []
        self.on_relay: Callable[[dict[str, Any]], None] | None = None  # runs in a handler thread
        self._utterances: dict[str, _Utterance] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeTranscriptsApi:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def go_down_for(self, seconds: float) -> threading.Thread:
        """Close the listening socket now and open it again on the same port after ``seconds``."""

        def outage() -> None:
            began = time.monotonic()
            self.stop()
            time.sleep(seconds)
            self.start()
            self.down_periods.append((began, time.monotonic()))

        thread = threading.Thread(target=outage, daemon=True)
        thread.start()
        return thread

    def finals(self) -> list[dict[str, Any]]:
        return [post for post in self.relayed if post["final"]]

    def expire(self) -> None:
        """Every token issued so far expires: a post with one is 401 until the device renews."""
        with self._lock:
            self.expired |= self.tokens
            self.tokens.clear()

    def _renew(self, authorization: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            known = authorization.removeprefix("Bearer ") in self.tokens | self.expired
            if self.refuse_renewal or not known:
                return 401, _error("unauthorized", "missing or invalid token")
            self.renewals += 1
            now = int(time.time())
            claims = {"sub": "u_fake", "scp": "device", "exp": now + 3600, "iat": now}
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
            self.token = f"v1.{payload}.renewal{self.renewals}"  # shaped like a real token
            self.tokens.add(self.token)
            return 200, {"userId": "u_fake", "deviceToken": self.token, "expiresAt": 0}

    def _accept(self, authorization: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if authorization.removeprefix("Bearer ") not in self.tokens:
            return 401, _error("unauthorized", "missing or invalid token")
        try:
            post = json.loads(raw)
            valid = (
                isinstance(post, dict)
                and isinstance(post.get("utteranceId"), str)
                and bool(_ID.match(post["utteranceId"]))
                and type(post.get("seq")) is int
                and post["seq"] >= 0
                and isinstance(post.get("text"), str)
                and 1 <= len(post["text"]) <= 2000
                and type(post.get("final")) is bool
            )
        except ValueError:
            valid = False
        if not valid:
            return 400, _error("invalid_request", "bad transcript")
        fault = self.fault(post) if self.fault is not None else None
        if fault is not None:
            return fault, _error("injected_fault", f"HTTP {fault} injected by the test")
        with self._lock:
            self.posts.append(post)
            utterance = self._utterances.setdefault(post["utteranceId"], _Utterance())
            seq = post["seq"]
            if seq in utterance.seqs:
                return 202, {"id": utterance.seqs[seq], "delivered": 0}
            if utterance.closed:
                return 409, _error("utterance_closed", "the utterance already has its final")
            event_id = f"{time.time_ns()}-{len(self.relayed)}"
            utterance.seqs[seq] = event_id
            if seq < utterance.highest:
                return 202, {"id": event_id, "delivered": 0}
            utterance.highest = seq
            utterance.closed = post["final"]
            self.relayed.append(post)
            return 202, {"id": event_id, "delivered": 1}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/api/health":
                    self._reply(200, {"ok": True})
                else:
                    self._reply(404, _error("not_found", self.path))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/api/sessions/device":
                    self._reply(*api._renew(self.headers.get("Authorization", "")))
                    return
                if self.path != "/api/transcripts":
                    self._reply(404, _error("not_found", self.path))
                    return
                status, answer = api._accept(self.headers.get("Authorization", ""), body)
                with api._lock:
                    api.statuses.append(status)
                self._reply(status, answer)
                if answer.get("delivered") and api.on_relay is not None:
                    api.on_relay(api.relayed[-1])

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
