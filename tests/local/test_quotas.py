"""Acceptance line 3 of issue 14: the per-user quotas on the running local stack.

The stack talks to loopback imitations of Bedrock and Polly (tests/fakes), which record every
request: a user over a limit gets ``quota_exceeded`` with a retry time, and neither fake hears
anything, so nothing would have been billed; other users go on as before; after the window the
user is served again. Windows of a few seconds keep the reset test short.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.bedrock_server import FakeBedrock
from tests.fakes.polly_server import FakePolly
from tests.local.conftest import RunningStack, new_session, stack_env
from tests.local.local_ws import collect, send, turn_done

ANSWER = "안녕하세요. 반갑습니다."
# Long enough for a turn to finish inside it on a busy machine; the reset test waits it out.
WINDOW_SECONDS = 6
SPEECH_CHARS = 150


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeBedrock, FakePolly]]:
    with FakeBedrock(answer=ANSWER) as bedrock, FakePolly() as polly:
        yield bedrock, polly


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, fakes: tuple[FakeBedrock, FakePolly]
) -> Iterator[RunningStack]:
    bedrock, polly = fakes
    with RunningStack(
        tmp_path_factory.mktemp("quota-stack"),
        ["--chat", "bedrock", "--chat-endpoint", bedrock.url, "--tts", "polly"],
        stack_env(
            POLLY_ENDPOINT=polly.url,
            QUOTA_TURNS="1",
            QUOTA_TURNS_WINDOW_SECONDS=str(WINDOW_SECONDS),
            QUOTA_SPEECH_CHARS=str(SPEECH_CHARS),
            QUOTA_SPEECH_WINDOW_SECONDS=str(WINDOW_SECONDS),
        ),
    ) as running:
        yield running


async def _turn(page: Any, turn_id: str) -> list[dict[str, Any]]:
    await send(page, {"action": "chat", "turnId": turn_id, "text": "안녕?"})
    return [e for e in await collect(page, turn_done(turn_id)) if e.get("turnId") == turn_id]


def _assert_answered(events: list[dict[str, Any]]) -> None:
    kinds = [e["type"] for e in events]
    assert "error" not in kinds, events
    assert "audio" in kinds
    assert events[-1]["text"] == ANSWER


async def test_turns_over_the_limit_are_refused_unbilled_per_user_until_the_window_ends(
    stack: RunningStack, fakes: tuple[FakeBedrock, FakePolly]
) -> None:
    bedrock, polly = fakes
    warm, one, other = await stack.new_page(), await stack.new_page(), await stack.new_page()
    try:
        # The first turn of a process builds the model client and can take seconds; that must
        # not eat into the window the test relies on.
        _assert_answered(await _turn(warm, "t0"))
        _assert_answered(await _turn(one, "t1"))
        model_calls, synth_calls = len(bedrock.requests), len(polly.requests)

        refused = await _turn(one, "t2")
        assert [e["type"] for e in refused] == ["error", "done"]
        error, done = refused
        assert error["code"] == "quota_exceeded"
        assert 1 <= error["retryAfter"] <= WINDOW_SECONDS
        assert (done["text"], done["interrupted"]) == ("", False)
        # Nothing was asked of the model or the synthesizer: nothing billed.
        assert (len(bedrock.requests), len(polly.requests)) == (model_calls, synth_calls)

        _assert_answered(await _turn(other, "t3"))  # another user is unaffected

        await asyncio.sleep(error["retryAfter"])
        _assert_answered(await _turn(one, "t4"))  # the window has reset
    finally:
        for page in (warm, one, other):
            await page.close()


def _speak(http: httpx.Client, token: str, text: str) -> httpx.Response:
    return http.post(
        "/api/speech",
        json={"text": text},
        headers={"Authorization": f"Bearer {token}", "Accept": "audio/ogg"},
    )


def test_speech_over_the_character_limit_is_refused_unbilled_until_the_window_ends(
    stack: RunningStack, fakes: tuple[FakeBedrock, FakePolly]
) -> None:
    _, polly = fakes
    with stack.client() as http:
        warm, one, other = (new_session(http)["token"] for _ in range(3))
        assert _speak(http, warm, "처음").status_code == 200  # a cold Polly client takes a while
        assert _speak(http, one, "가" * 100).status_code == 200
        synth_calls = len(polly.requests)

        refused = _speak(http, one, "나" * 60)  # 160 > 150: refused whole
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "quota_exceeded"
        retry_after = int(refused.headers["Retry-After"])
        assert error["retryAfter"] == retry_after
        assert 1 <= retry_after <= WINDOW_SECONDS
        assert len(polly.requests) == synth_calls  # Polly never heard of it

        assert _speak(http, other, "다" * 100).status_code == 200  # another user is unaffected
        assert _speak(http, one, "라" * 50).status_code == 200  # what still fits is served

        time.sleep(retry_after)
        assert _speak(http, one, "마" * 100).status_code == 200  # the window has reset
