"""Preemptive answers through the real handlers: a partial that reads as a whole question starts
its answer, held; the page's chat adopts it, or it is discarded unheard and never stored."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.apigw import LambdaContext
from voicebot import runtime, wiring
from voicebot.contract import routes
from voicebot.contract.wire import PreemptiveTurn, TurnInvocation

from .conftest import Api, HandlerEnvironment


class ThreadTurnStarter:
    """Runs the chat function's invocations in threads, as Lambda's async invoke would."""

    def __init__(self) -> None:
        self.started: list[str] = []  # the preemptive answers started
        self.threads: list[threading.Thread] = []

    async def start(self, turn: TurnInvocation) -> None:
        chat = importlib.import_module(routes.handler_module(turn.function))
        event = turn.invocation_event()
        thread = threading.Thread(target=chat.handler, args=(event, LambdaContext()), daemon=True)
        if isinstance(turn, PreemptiveTurn):
            self.started.append(turn.answerId)
        self.threads.append(thread)
        thread.start()

    def join(self, timeout: float = 15.0) -> None:
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a preemptive turn did not end"


@pytest.fixture
def starter(api: Api, environment: HandlerEnvironment) -> Iterator[ThreadTurnStarter]:
    environment.set(PREEMPTIVE_ANSWERS="true", PREEMPTIVE_HOLD_SECONDS="3")
    threads = ThreadTurnStarter()
    wiring.use_turn_starter(threads)
    yield threads
    threads.join()


def post(api: Api, token: str, seq: int, text: str, final: bool) -> dict[str, Any]:
    body = {"utteranceId": "u1", "seq": seq, "text": text, "final": final, "lang": "ko-KR"}
    response = api.rest("POST", "/api/transcripts", token=token, body=body)
    assert response.status == 202, response.body
    return dict(response.json())


def answer_events(api: Api, page: str) -> list[dict[str, Any]]:
    return [m for m in api.received(page) if m["type"] != "transcript"]


def test_a_held_answer_is_adopted_by_the_chat_that_asks_the_same(api, bedrock, starter) -> None:
    session = api.session()
    page = api.page(session["token"])
    before = len(bedrock.requests)
    post(api, session["deviceToken"], 0, "오늘 날씨", final=False)
    post(api, session["deviceToken"], 1, "오늘 날씨 어때요", final=False)
    assert len(starter.started) == 1  # only the partial that reads as a whole question
    deadline = time.monotonic() + 5
    while len(bedrock.requests) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the model has answered by now: nothing of it may have reached the page
    assert answer_events(api, page) == []

    body = {"utteranceId": "u1", "seq": 2, "text": "오늘 날씨 어때요?", "final": True}
    body["speechEndedAt"] = ended = int(time.time() * 1000) - 1200  # the device's own clock
    response = api.rest("POST", "/api/transcripts", token=session["deviceToken"], body=body)
    final = response.json()
    turn = f"v-{final['id']}"
    api.send(page, {"action": "chat", "turnId": turn, "text": "오늘 날씨 어때요?"})
    events = api.wait_done(page, turn)
    starter.join()

    assert [e["type"] for e in events][-1] == "done"
    assert {"delta", "sentence", "audio"} <= {e["type"] for e in events}
    assert all(e.get("turnId") == turn for e in answer_events(api, page))  # no held id leaks
    assert len(bedrock.requests) == before + 1  # one model call: the chat ran no second turn
    done = events[-1]
    assert done["ledger"]["adopted"] >= done["ledger"]["received"]
    assert done["ledger"]["speechEnded"] == ended  # the ledger starts at the end of speech
    (stored,) = api.rest("GET", "/api/history", token=session["token"]).json()["turns"]
    assert stored["turnId"] == turn and stored["user"] == "오늘 날씨 어때요?"


def test_a_final_that_differs_discards_the_held_answer_unheard(api, bedrock, starter) -> None:
    session = api.session()
    page = api.page(session["token"])
    before = len(bedrock.requests)
    post(api, session["deviceToken"], 0, "오늘 날씨 어때요", final=False)
    final = post(api, session["deviceToken"], 1, "오늘 날씨 어때요 그리고 내일은요", final=True)
    turn = f"v-{final['id']}"
    api.send(page, {"action": "chat", "turnId": turn, "text": "오늘 날씨 어때요 그리고 내일은요"})
    api.wait_done(page, turn)
    starter.join()

    assert all(e.get("turnId") == turn for e in answer_events(api, page))
    assert [e["type"] for e in answer_events(api, page)].count("done") == 1
    asked = {r.last_user_text for r in bedrock.requests[before:]}
    assert asked == {"오늘 날씨 어때요", "오늘 날씨 어때요 그리고 내일은요"}  # held, then real
    turns = api.rest("GET", "/api/history", token=session["token"]).json()["turns"]
    assert [t["user"] for t in turns] == ["오늘 날씨 어때요 그리고 내일은요"]


def test_a_newer_partial_replaces_the_held_answer_so_one_is_in_flight(api, starter) -> None:
    session = api.session()
    post(api, session["deviceToken"], 0, "지금 몇 시예요", final=False)
    post(api, session["deviceToken"], 1, "지금 몇 시인지 알려줄래요", final=False)
    assert len(starter.started) == 2
    held = runtime.run(wiring.held_answers().current(session["userId"]))
    assert held is not None and held.answer_id == starter.started[-1]
    assert held.text == "지금 몇 시인지 알려줄래요"


def test_an_answer_nobody_adopts_is_discarded_and_never_stored(api, starter, environment) -> None:
    environment.set(PREEMPTIVE_HOLD_SECONDS="0.5")
    session = api.session()
    page = api.page(session["token"])
    post(api, session["deviceToken"], 0, "안녕하세요", final=False)
    starter.join()
    assert answer_events(api, page) == []
    assert api.rest("GET", "/api/history", token=session["token"]).json()["turns"] == []
    assert runtime.run(wiring.held_answers().current(session["userId"])) is None
    # The next turn's ledger counts it, once.
    for turn in ("typed-1", "typed-2"):
        api.send(page, {"action": "chat", "turnId": turn, "text": "다른 질문"})
        api.wait_done(page, turn)
    ledgers = [m["ledger"] for m in api.received(page) if m["type"] == "done"]
    assert [ledger.get("preemptiveDiscarded") for ledger in ledgers] == [1, None]


def test_with_the_setting_off_nothing_starts_before_the_chat(api, starter, environment) -> None:
    environment.set(PREEMPTIVE_ANSWERS="false")
    session = api.session()
    post(api, session["deviceToken"], 0, "오늘 날씨 어때요", final=False)
    assert starter.started == []


@pytest.mark.parametrize(
    ("text", "stable"),
    [
        ("오늘 날씨가 좋은데", None),
        ("오늘 날씨", None),
        ("오늘 날씨 어때요", 2),
        ("네", None),
        ("네네.", None),
        ("그렇죠?", None),
    ],
    ids=["connective", "unfinished", "unstable", "too-short", "backchannel", "backchannel-ko"],
)
def test_partials_that_do_not_read_as_a_whole_question_wait(api, starter, text, stable) -> None:
    session = api.session()
    body = {"utteranceId": "u1", "seq": 0, "text": text, "final": False, "stableChars": stable}
    body = {k: v for k, v in body.items() if v is not None}
    assert (
        api.rest("POST", "/api/transcripts", token=session["deviceToken"], body=body).status == 202
    )
    assert starter.started == []


def test_the_device_hearing_speech_end_is_enough(api, starter) -> None:
    session = api.session()
    body = {"utteranceId": "u1", "seq": 0, "text": "내일 서울 날씨", "final": False}
    body["speechEndedAt"] = int(time.time() * 1000)
    assert (
        api.rest("POST", "/api/transcripts", token=session["deviceToken"], body=body).status == 202
    )
    assert len(starter.started) == 1


def test_a_spoken_turn_s_ledger_starts_at_the_device_s_end_of_speech(api) -> None:
    session = api.session()
    page = api.page(session["token"])
    body = {"utteranceId": "u9", "seq": 0, "text": "안녕", "final": True, "speechEndedAt": 1234}
    event_id = api.rest("POST", "/api/transcripts", token=session["deviceToken"], body=body).json()
    turn = f"v-{event_id['id']}"
    api.send(page, {"action": "chat", "turnId": turn, "text": "안녕"})
    assert api.wait_done(page, turn)[-1]["ledger"]["speechEnded"] == 1234
    api.send(page, {"action": "chat", "turnId": "typed", "text": "안녕"})
    assert "speechEnded" not in api.wait_done(page, "typed")[-1]["ledger"]
