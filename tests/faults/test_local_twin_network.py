"""The local twin does not trust its network: a wrong Host or a cross-site page is refused, the
@connections route wants the run's key, a frame over the limit closes the socket with 1009, and a
flood of messages is answered ``rate_limited`` and dropped. Against a running stack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from local.guard import HostGuard, allowed_names
from local.options import parse_options
from tests.local.conftest import RunningStack, stack_env
from tests.local.local_ws import page_url, send
from voicebot.contract.wire import (
    CLOSE_MESSAGE_TOO_BIG,
    HOST_NOT_ALLOWED,
    MAX_WS_FRAME_BYTES,
    ORIGIN_NOT_ALLOWED,
    RATE_LIMITED,
)

RATE = 5  # messages per second; bursts of 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # The handlers post through boto3 and the @connections route, as on AWS: with the key.
    args = ["--chat", "scripted", "--tts", "scripted", "--asr", "none", "--connections", "http"]
    with RunningStack(
        tmp_path_factory.mktemp("stack"),
        [*args, "--ws-message-rate", str(RATE)],
        stack_env(),
    ) as running:
        yield running


@pytest.mark.parametrize("host", ["evil.example", "rebound.attacker.test:8000", "localhost.evil"])
def test_a_request_for_another_host_name_is_refused(stack, host: str) -> None:
    for path in ("/api/health", "/config.json", "/"):
        response = httpx.get(f"{stack.base_url}{path}", headers={"Host": host})
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == HOST_NOT_ALLOWED


def test_loopback_names_are_served(stack) -> None:
    for host in (f"localhost:{stack.port}", f"127.0.0.1:{stack.port}", f"[::1]:{stack.port}"):
        assert httpx.get(f"{stack.base_url}/api/health", headers={"Host": host}).status_code == 200


def test_a_cross_site_page_cannot_take_a_session(stack) -> None:
    response = httpx.post(
        f"{stack.base_url}/api/sessions", json={}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == ORIGIN_NOT_ALLOWED
    same_site = {"Origin": f"http://localhost:{stack.port}"}
    assert httpx.post(f"{stack.base_url}/api/sessions", json={}, headers=same_site).is_success


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil:80"])
async def test_a_cross_site_page_cannot_open_the_websocket(stack, origin: str) -> None:
    url = page_url(stack.ws_url, stack.client_token())
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, origin=origin)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["error"]["code"] == ORIGIN_NOT_ALLOWED
    # The page the stack serves itself connects.
    async with connect(url, origin=f"http://127.0.0.1:{stack.port}") as page:  # type: ignore[arg-type]
        await send(page, {"action": "ping"})
        assert json.loads(await asyncio.wait_for(page.recv(), 10))["type"] == "pong"


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_the_management_route_refuses_a_caller_without_the_run_key(stack, method) -> None:
    async with connect(page_url(stack.ws_url, stack.client_token())) as page:
        # A real connection id is not needed to be refused; the route is refused before lookup.
        url = f"{stack.base_url}/local/@connections/anything"
        response = httpx.request(method, url, content=b'{"type":"delta"}')
        assert response.status_code == 403
        assert response.headers["x-amzn-errortype"] == "ForbiddenException"
        wrong = httpx.request(
            method, url, content=b"{}", headers={"X-Voicebot-Management-Key": "guess"}
        )
        assert wrong.status_code == 403
        # The stack's own handlers hold the key: their posts reach the page.
        await send(page, {"action": "ping"})
        assert json.loads(await asyncio.wait_for(page.recv(), 10))["type"] == "pong"


async def test_a_frame_over_the_limit_closes_the_socket_with_1009(stack) -> None:
    async with connect(page_url(stack.ws_url, stack.client_token()), max_size=2**21) as page:
        await page.send("x" * (MAX_WS_FRAME_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(page.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_MESSAGE_TOO_BIG


async def test_a_message_flood_is_rate_limited_with_an_error_and_dropped(stack) -> None:
    flood = 60
    async with connect(page_url(stack.ws_url, stack.client_token())) as page:
        for _ in range(flood):
            await page.send(json.dumps({"action": "ping"}))
        events = []
        try:
            while True:
                events.append(json.loads(await asyncio.wait_for(page.recv(), 3)))
        except TimeoutError:
            pass
        errors = [e for e in events if e["type"] == "error"]
        pongs = [e for e in events if e["type"] == "pong"]
        assert errors and {e["code"] for e in errors} == {RATE_LIMITED}
        assert len(pongs) < flood  # the rest were dropped, not queued
        assert len(errors) <= 3  # told about once a second, not once per message
        await asyncio.sleep(1.0)  # the bucket refills: the connection works again
        await send(page, {"action": "ping"})
        assert json.loads(await asyncio.wait_for(page.recv(), 10))["type"] == "pong"


def test_allow_host_adds_a_name_and_the_listen_address_is_allowed() -> None:
    options = parse_options(["--host", "192.168.1.20", "--allow-host", "voicebot.lan"])
    names = allowed_names(options.host, options.allowed_hosts)
    assert {"localhost", "127.0.0.1", "::1", "192.168.1.20", "voicebot.lan"} <= names
    assert "0.0.0.0" not in allowed_names("0.0.0.0", ())

    def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", ok)], middleware=[Middleware(HostGuard, names=names)])
    client = TestClient(app)
    assert client.get("/", headers={"Host": "voicebot.lan:8000"}).status_code == 200
    assert client.get("/", headers={"Host": "VOICEBOT.LAN."}).status_code == 200
    lan_page = {"Host": "192.168.1.20:8000", "Origin": "http://voicebot.lan:8000"}
    assert client.get("/", headers=lan_page).status_code == 200
    assert client.get("/", headers={"Host": "other.lan"}).status_code == 403
