"""A sentence Riva streams plays from its first piece (Chromium, the real local stack with
``--tts riva`` against the Riva fake on 127.0.0.1, paced like a server at RTF 0.3).

The chat function hands each piece over as Riva makes it (one whole OGG file each, growing); the
page schedules them back to back on one audio clock, so the sentence starts long before its last
piece has arrived, plays on without a gap, and counts as heard only once all of it has played.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("riva.client", reason="needs requirements/riva.txt")

from riva_fake_server import FakeRiva, RivaServer

from tests.local.conftest import RunningStack, stack_env
from tests.web.conftest import assert_back_to_back

# 29 and 13 characters: the fake speaks 50 ms each in 100 ms chunks, so 1.45 s (pieces of 0.1,
# 0.2, 0.4 and 0.75 s) and 0.65 s (0.1, 0.2, 0.35 s).
ANSWER = "The streamed voice says this. It ends here."
RTF = 0.3


@pytest.fixture(scope="module")
def riva() -> Iterator[RivaServer]:
    fake = FakeRiva()
    fake.tts_real_time_factor = RTF
    server = RivaServer(fake)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(riva: RivaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """This module's stack (open_page serves it): the answer spoken by Riva, streamed."""
    args = ["--chat", "scripted", "--tts", "riva", "--riva-url", riva.url,
            "--riva-tts-language", "en-US"]  # fmt: skip
    with RunningStack(
        tmp_path_factory.mktemp("riva-web-stack"),
        args,
        stack_env(SCRIPTED_ANSWER=ANSWER, SCRIPTED_TOKENS_PER_SECOND="40"),
    ) as running:
        yield running


def test_a_streamed_sentence_starts_before_its_last_piece_arrives_and_plays_gapless(
    open_page: Any,
) -> None:
    arrived: list[tuple[float, dict[str, Any]]] = []  # (epoch ms, audio event)

    def record_audio(page: Any) -> None:
        def on_socket(socket: Any) -> None:
            def keep(payload: str | bytes) -> None:
                if isinstance(payload, str) and '"type":"audio"' in payload:
                    arrived.append((time.time() * 1000, json.loads(payload)))

            socket.on("framereceived", keep)

        page.on("websocket", on_socket)

    page = open_page(before_load=record_audio)
    page.fill("#chat-text", "Speak, please.")
    page.press("#chat-text", "Enter")
    turn = page.evaluate("window.voicebot.sent.filter(a => a.action === 'chat').at(-1).turnId")
    page.wait_for_function(
        "t => window.voicebot.played[t]?.length === 2"
        " && window.voicebot.played[t].every(e => e.ended) && !window.voicebot.speaking",
        arg=turn,
        timeout=20_000,
    )
    played = page.evaluate("t => window.voicebot.played[t]", turn)

    first = played[0]
    assert [len(entry["pieces"]) for entry in played] == [4, 3]
    mine = [event for _, event in arrived if event["turnId"] == turn]
    assert [e["piece"] for e in mine if e["index"] == 0] == [0, 1, 2, 3, 4]  # 4 files, the end
    last_piece_at = max(at for at, e in arrived if e["index"] == 0 and e["last"])
    # The sentence was playing well before its last piece had even arrived.
    assert first["start"] < last_piece_at - 150, (first["start"], last_piece_at)
    # Its pieces play back to back on the audio clock, and so do the sentences.
    for entry in played:
        assert_back_to_back(entry["pieces"])
    assert played[1]["ctxStart"] == pytest.approx(played[0]["ctxEnd"], abs=0.2)
    duration = played[0]["ctxEnd"] - played[0]["ctxStart"]
    assert duration == pytest.approx(1.45, abs=0.08)
