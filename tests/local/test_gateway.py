"""The API Gateway twin behaves like API Gateway where the page and the handlers can tell."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from local.connections import MANAGEMENT_KEY_FILE, MANAGEMENT_KEY_HEADER
from tests.local.conftest import RunningStack, StartStack, new_session
from tests.local.local_ws import collect, open_page, page_url, send, turn_done


@pytest.mark.parametrize("path", ["/ws", "/mic"])
@pytest.mark.parametrize("token", ["", "not-a-token", "device"])
async def test_bad_token_is_refused_in_the_handshake(
    scripted_stack: RunningStack, path: str, token: str
) -> None:
    if token == "device":  # a real token of the wrong scope
        with scripted_stack.client() as http:
            token = new_session(http)["deviceToken"]
    with pytest.raises(InvalidStatus) as refused:
        await connect(page_url(scripted_stack.ws_url, token, path))
    # An HTTP status on the upgrade request, not an accepted socket that is then closed.
    assert refused.value.response.status_code in (401, 403)


def test_config_json_tells_the_page_where_everything_is(scripted_stack: RunningStack) -> None:
    config = scripted_stack.page_config()
    port = scripted_stack.port
    assert config["apiBase"] == ""
    assert config["wsUrl"] == f"ws://127.0.0.1:{port}/ws"
    assert config["micUrl"] == f"ws://127.0.0.1:{port}/mic"
    assert config["language"] == "ko-KR"
    assert config["accessCodeRequired"] is False
    assert set(config["engines"]) == {"asr", "chat", "tts"}
    assert "scripted" in config["engines"]["chat"]


def test_page_and_unknown_api_routes(scripted_stack: RunningStack) -> None:
    with scripted_stack.client() as http:
        page = http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        missing = http.get("/api/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


def test_bodies_over_64_kib_get_413(scripted_stack: RunningStack) -> None:
    with scripted_stack.client() as http:
        device = {"Authorization": f"Bearer {new_session(http)['deviceToken']}"}
        response = http.post("/api/transcripts", content=b"x" * (64 * 1024 + 1), headers=device)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_speech_answers_ogg_bytes(scripted_stack: RunningStack) -> None:
    with scripted_stack.client() as http:
        auth = {"Authorization": f"Bearer {new_session(http)['token']}"}
        response = http.post("/api/speech", json={"text": "안녕하세요"}, headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/ogg"
    assert response.content[:4] == b"OggS"


async def test_connections_api_speaks_what_boto3_expects(scripted_stack: RunningStack) -> None:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{scripted_stack.base_url}/local",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    # Without the run's management key, as API Gateway without valid credentials.
    with pytest.raises(client.exceptions.ForbiddenException):
        client.post_to_connection(ConnectionId="nobody", Data=b"{}")
    key = (scripted_stack.data_dir / MANAGEMENT_KEY_FILE).read_text()

    def add_key(request: Any, **_: Any) -> None:
        request.headers[MANAGEMENT_KEY_HEADER] = key

    client.meta.events.register("before-sign.apigatewaymanagementapi", add_key)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="nobody", Data=b"{}")
    page = await scripted_stack.new_page()
    try:
        await send(page, {"action": "ping"})
        assert (await collect(page, lambda e: e["type"] == "pong"))[-1] == {"type": "pong"}
    finally:
        await page.close()


async def test_cancel_gets_through_while_a_turn_streams(start_stack: StartStack) -> None:
    stack = start_stack(
        "--chat", "scripted", "--tts", "scripted",
        SCRIPTED_ANSWER="하나 둘 셋 넷 다섯 여섯 일곱 여덟 아홉 열. " * 10,
        SCRIPTED_TOKENS_PER_SECOND="20",
    )  # fmt: skip
    page = await stack.new_page()
    try:
        await send(page, {"action": "chat", "turnId": "long", "text": "세어 줘"})
        await collect(page, lambda e: e["type"] == "delta")
        await send(page, {"action": "cancel", "turnId": "long", "heard": 0})
        done = (await collect(page, turn_done("long"), timeout=10))[-1]
        assert done["interrupted"] is True
    finally:
        await page.close()


async def test_fifty_concurrent_turns_all_finish(start_stack: StartStack) -> None:
    stack = start_stack(
        "--chat", "scripted", "--tts", "scripted",
        "--asr", "none",
        SCRIPTED_ANSWER="네, 알겠습니다. 바로 해 드릴게요.",
        SCRIPTED_FIRST_TOKEN_MS="200",
        SCRIPTED_TOKENS_PER_SECOND="50",
    )  # fmt: skip
    with stack.client() as http:
        tokens = [new_session(http)["token"] for _ in range(10)]
    pages = [await open_page(stack.ws_url, token) for token in tokens]

    async def five_turns(page_no: int) -> list[dict]:
        page = pages[page_no]
        ids = [f"p{page_no}t{i}" for i in range(5)]
        for turn_id in ids:
            await send(page, {"action": "chat", "turnId": turn_id, "text": "해 줘"})
        finished: dict[str, dict] = {}

        def all_done(event: dict) -> bool:
            if event["type"] == "done":
                finished[event["turnId"]] = event
            return len(finished) == len(ids)

        await collect(page, all_done, timeout=90)
        return list(finished.values())

    began = time.monotonic()
    try:
        results = await asyncio.gather(*(five_turns(n) for n in range(len(pages))))
    finally:
        for page in pages:
            await page.close()
    done = [event for page_results in results for event in page_results]
    assert len(done) == 50
    assert not [e for e in done if e["interrupted"]]
    print(f"50 concurrent turns in {time.monotonic() - began:.1f} s")


def test_ctrl_c_stops_everything(start_stack: StartStack) -> None:
    stack = start_stack("--chat", "scripted", "--tts", "scripted", "--asr", "none")
    with stack.client() as http:
        assert http.get("/api/health").json()["ok"] is True
    children = stack.child_pids()
    assert len(children) >= 2  # Redis and the DynamoDB endpoint
    assert stack.stop() == 0
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{stack.base_url}/api/health")


async def test_ctrl_c_during_a_streaming_turn_stops_promptly(start_stack: StartStack) -> None:
    stack = start_stack(
        "--chat", "scripted", "--tts", "scripted", "--asr", "none",
        SCRIPTED_ANSWER="아주 긴 대답입니다. " * 200,
        SCRIPTED_TOKENS_PER_SECOND="5",
    )  # fmt: skip
    page = await stack.new_page()
    await send(page, {"action": "chat", "turnId": "endless", "text": "길게 말해 줘"})
    await collect(page, lambda e: e["type"] == "delta")
    began = time.monotonic()
    assert stack.stop() == 0
    assert time.monotonic() - began < 15


def test_children_do_not_outlive_a_killed_stack(start_stack: StartStack) -> None:
    stack = start_stack("--chat", "scripted", "--tts", "scripted", "--asr", "none")
    children = stack.child_pids()
    assert len(children) >= 2
    stack.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and [p for p in children if _alive(p)]:
        time.sleep(0.1)
    assert not [p for p in children if _alive(p)], "orphaned Redis or DynamoDB"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
