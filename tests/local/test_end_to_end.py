"""Acceptance line 2: the running stack, over real HTTP and WebSocket, from a transcript to a
spoken answer, and the history still there after a restart."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from typing import Any

import pytest
import soundfile

from tests.local.conftest import StartStack, new_session
from tests.local.local_ws import collect, open_page, send, turn_done

SCRIPTED = "안녕하세요. 오늘은 날씨가 좋네요. 무엇을 도와드릴까요?"


def assert_turn_in_protocol_order(events: list[dict[str, Any]], turn_id: str) -> None:
    turn = [e for e in events if e.get("turnId") == turn_id]
    kinds = [e["type"] for e in turn]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert "error" not in kinds, turn
    done = turn[-1]
    assert done["interrupted"] is False
    # deltas in text order make up the whole answer
    assert "".join(e["text"] for e in turn if e["type"] == "delta") == done["text"] == SCRIPTED
    sentences = [e for e in turn if e["type"] == "sentence"]
    assert [s["index"] for s in sentences] == list(range(len(sentences)))
    assert len(sentences) == 3
    position = {e["index"]: i for i, e in enumerate(turn) if e["type"] == "sentence"}
    audio = [(i, e) for i, e in enumerate(turn) if e["type"] == "audio"]
    assert [e["index"] for _, e in audio] == sorted(e["index"] for _, e in audio)
    parts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for at, event in audio:
        assert position[event["index"]] < at, "sentence i must come before audio i"
        parts[event["index"]].append(event)
    assert sorted(parts) == list(range(len(sentences)))
    for index, chunks in parts.items():
        assert [c["part"] for c in chunks] == list(range(len(chunks)))
        assert chunks[-1]["last"] is True
        ogg = b"".join(base64.b64decode(c["data"]) for c in chunks)
        samples, rate = soundfile.read(io.BytesIO(ogg))
        assert rate > 0 and len(samples) > rate // 10, f"sentence {index} has no audible length"
    for key in ("received", "firstToken", "firstSentence", "firstAudio", "done"):
        assert key in done["ledger"]


@pytest.mark.parametrize("connections", ["in-process", "http"])
async def test_transcripts_chat_and_history_survive_a_restart(
    start_stack: StartStack, connections: str
) -> None:
    # "http" sends every post through boto3 and the twin's @connections API, as on AWS.
    stack = start_stack(
        "--chat", "scripted", "--tts", "espeak", "--connections", connections,
        SCRIPTED_ANSWER=SCRIPTED,
    )  # fmt: skip
    with stack.client() as http:
        session = new_session(http)
        device = {"Authorization": f"Bearer {session['deviceToken']}"}
        page = await open_page(stack.ws_url, session["token"])
        try:
            posts = [
                {"utteranceId": "u1", "seq": 0, "text": "오늘", "final": False},
                {"utteranceId": "u1", "seq": 1, "text": "오늘 날씨", "final": False},
                {"utteranceId": "u1", "seq": 2, "text": "오늘 날씨 어때?", "final": True},
            ]
            for post in posts:
                response = http.post("/api/transcripts", json=post, headers=device)
                assert response.status_code == 202, response.text
                assert response.json()["delivered"] == 1
            got = await collect(page, lambda e: e.get("final") is True)
            assert [(e["type"], e["seq"], e["text"]) for e in got] == [
                ("transcript", p["seq"], p["text"]) for p in posts
            ]

            await send(page, {"action": "chat", "turnId": "t1", "text": "오늘 날씨 어때?"})
            events = await collect(page, turn_done("t1"))
            assert_turn_in_protocol_order(events, "t1")
        finally:
            await page.close()

    stack.restart()
    with stack.client() as http:
        auth = {"Authorization": f"Bearer {session['token']}"}
        response = http.get("/api/history", headers=auth)
        assert response.status_code == 200, response.text
        turns = response.json()["turns"]
        assert [(t["turnId"], t["user"], t["assistant"]) for t in turns] == [
            ("t1", "오늘 날씨 어때?", SCRIPTED)
        ]
