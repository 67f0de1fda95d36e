"""The quotas through the real handlers: a chat turn's spoken characters count against the
speech quota, and a preemptive answer is not started for a user who has no turn left."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from voicebot import wiring

from .conftest import Api, HandlerEnvironment
from .test_preemption import ThreadTurnStarter, post


@pytest.fixture
def starter(api: Api, environment: HandlerEnvironment) -> Iterator[ThreadTurnStarter]:
    # The handler tests run with preemptive answers off unless a test turns them on.
    environment.set(PREEMPTIVE_ANSWERS="true")
    threads = ThreadTurnStarter()
    wiring.use_turn_starter(threads)
    yield threads
    wiring.use_turn_starter(None)
    threads.join()


def test_spoken_answers_use_up_the_speech_quota(api, bedrock, polly, environment) -> None:
    # The answer is spoken as 안녕하세요. + 반갑습니다. : 12 characters a turn.
    environment.set(QUOTA_SPEECH_CHARS="20")
    session = api.session()
    page = api.page(session["token"])
    for turn in ("t1", "t2"):
        api.send(page, {"action": "chat", "turnId": turn, "text": "안녕?"})
        assert "error" not in [e["type"] for e in api.wait_done(page, turn)]
    model_calls, synth_calls = len(bedrock.requests), len(polly.requests)

    api.send(page, {"action": "chat", "turnId": "t3", "text": "안녕?"})
    refused = [e for e in api.wait_done(page, "t3") if e.get("turnId") == "t3"]
    assert [(e["type"], e.get("code")) for e in refused] == [
        ("error", "quota_exceeded"),
        ("done", None),
    ]
    speech = api.rest("POST", "/api/speech", token=session["token"], body={"text": "네"})
    assert speech.status == 429 and speech.json()["error"]["code"] == "quota_exceeded"
    assert (len(bedrock.requests), len(polly.requests)) == (model_calls, synth_calls)


def test_no_preemptive_answer_starts_for_a_user_without_turns_left(
    api, bedrock, starter, environment
) -> None:
    environment.set(QUOTA_TURNS="1")
    session = api.session()
    page = api.page(session["token"])
    api.send(page, {"action": "chat", "turnId": "t1", "text": "안녕?"})
    api.wait_done(page, "t1")
    model_calls = len(bedrock.requests)

    post(api, session["deviceToken"], 0, "오늘 날씨 어때요", final=False)
    assert len(starter.started) == 1  # the transcripts function asked for one
    starter.join()
    assert len(bedrock.requests) == model_calls  # the chat function did not run it
