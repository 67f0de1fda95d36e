"""The twin's front door: which host names it answers and which pages may call it, and how fast
a page's socket may send.

The stack listens on loopback, but a browser is a proxy for every web page it shows: a page can
make itself resolve to 127.0.0.1 (DNS rebinding) and call the stack as a site of its own, or call
``http://127.0.0.1:PORT`` across origins, and spend the developer's Bedrock and Polly credentials
(``--chat bedrock``, ``--tts polly``). So every request must name an allowed host (loopback names,
the ``--host`` address, ``--allow-host`` names), and a request or WebSocket handshake that comes
from a page (it carries ``Origin``) must come from a page on an allowed host. Programs that send
no ``Origin`` (the interpreter, curl, the tests) are not browsers and pass.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from voicebot.contract.wire import HOST_NOT_ALLOWED, ORIGIN_NOT_ALLOWED

from .responses import deny, error_response

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind


def allowed_names(listen_host: str, extra: Iterable[str]) -> frozenset[str]:
    """Loopback names, the address the stack listens on (unless a wildcard) and the extras."""
    names = set(LOOPBACK_NAMES) | {name.strip().lower().strip("[]") for name in extra}
    if listen_host.lower() not in _WILDCARDS:
        names.add(listen_host.lower().strip("[]"))
    return frozenset(n for n in names if n)


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8000`` → ``::1``)."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    name, _, _ = value.partition(":")
    return name.rstrip(".")


def _origin_name(origin: str) -> str | None:
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None  # "null" (a sandboxed frame, a file) and anything else is no known page
    return parts.hostname.lower().rstrip(".")


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return name == "localhost"


class HostGuard:
    """ASGI middleware: refuse a wrong ``Host`` (403 ``host_not_allowed``) and a cross-site
    ``Origin`` (403 ``origin_not_allowed``), for HTTP and WebSocket handshakes alike."""

    def __init__(self, app: ASGIApp, names: frozenset[str]) -> None:
        self._app = app
        self._names = names

    def _allowed(self, name: str) -> bool:
        # Any loopback address is this machine: rebinding needs a name, which must be listed.
        return name in self._names or _is_loopback(name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        host = headers.get(b"host", b"").decode("latin-1")
        refusal: tuple[str, str] | None = None
        if not self._allowed(host_name(host)):
            refusal = (HOST_NOT_ALLOWED, "This host name is not served; see --allow-host.")
        elif (origin := headers.get(b"origin")) is not None:
            name = _origin_name(origin.decode("latin-1"))
            if name is None or not self._allowed(name):
                refusal = (ORIGIN_NOT_ALLOWED, "Pages of this origin may not call the stack.")
        if refusal is None:
            await self._app(scope, receive, send)
        elif scope["type"] == "websocket":
            await deny(WebSocket(scope, receive, send), 403, *refusal)
        else:
            await error_response(403, *refusal)(scope, receive, send)


class MessageRate:
    """A token bucket per connection: ``rate`` messages a second, bursts of ``2 × rate``."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, 2 * rate)
        self._tokens = self._capacity
        self._last = time.monotonic()
        self._last_refusal = float("-inf")

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def should_tell(self) -> bool:
        """Whether to answer this refused message (at most once a second, so a flood does not
        make the twin flood back)."""
        now = time.monotonic()
        if now - self._last_refusal >= 1.0:
            self._last_refusal = now
            return True
        return False
