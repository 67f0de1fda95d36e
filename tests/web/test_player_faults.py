"""One lost audio part does not stall the page's player: the sentence is skipped, in order, once
it is overdue, and the answer plays on (Chromium, the real local stack).

The page's ``/ws`` goes through Playwright's WebSocket route, which passes every frame on except
the one the test loses: a sentence's audio frame is cut to its first half and re-labelled as part
0 of two, and part 1 never comes. On main the player then waited for part 1 for good: nothing
after that sentence played.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.web.conftest import SENTENCES, WireRecorder

LAST = len(SENTENCES) - 1


def half_of(event: dict[str, Any]) -> dict[str, Any]:
    """The first part of two of this audio event; its second part is the one lost."""
    audio = base64.b64decode(event["data"])
    head = base64.b64encode(audio[: len(audio) // 2]).decode("ascii")
    return {**event, "data": head, "part": 0, "last": False}


@pytest.fixture
def lossy_page(open_page: Any, wire: WireRecorder) -> Iterator[Callable[[int], Any]]:
    """Opens the page with a ``/ws`` that loses the second half of sentence ``lose``'s audio."""

    def open_(lose: int) -> Any:
        def lossy_socket(page: Any) -> None:
            def route(ws: Any) -> None:
                server = ws.connect_to_server()

                def towards_page(message: str | bytes) -> None:
                    event = json.loads(message) if isinstance(message, str) else None
                    if event and event.get("type") == "audio" and event["index"] == lose:
                        message = json.dumps(half_of(event))
                    ws.send(message)

                server.on_message(towards_page)
                ws.on_message(server.send)

            page.route_web_socket(re.compile(r"/ws(\?|$)"), route)

        return open_page(before_load=lossy_socket)

    yield open_
    assert wire.frames  # and open_page checks each of them against the wire schema


def ask(page: Any, text: str) -> str:
    page.fill("#chat-text", text)
    page.press("#chat-text", "Enter")
    return str(page.evaluate("window.voicebot.sent.filter(a => a.action === 'chat').at(-1).turnId"))


def wait_played(page: Any, turn: str, count: int) -> list[dict[str, Any]]:
    page.wait_for_function(
        "([t, n]) => window.voicebot.played[t]?.length === n"
        " && window.voicebot.played[t].every(e => e.ended) && !window.voicebot.speaking",
        arg=[turn, count],
        timeout=30_000,
    )
    return list(page.evaluate("t => window.voicebot.played[t]", turn))


def skipped(page: Any, turn: str) -> list[dict[str, Any]]:
    return list(page.evaluate("t => window.voicebot.skipped.filter(s => s.turnId === t)", turn))


def assert_nothing_shown_broken(page: Any, turn: str) -> None:
    answer = page.locator(f'.msg.bot[data-turn-id="{turn}"]')
    assert answer.get_attribute("data-state") == "done"
    assert answer.locator(".text").text_content() == " ".join(SENTENCES)
    assert page.locator("#alert").is_hidden()
    # The answer is over, nothing is stuck "speaking" (the page checks every 200 ms).
    page.wait_for_function("document.querySelector('#stop').disabled", timeout=2_000)


def test_a_sentence_missing_a_part_is_skipped_and_the_rest_plays_in_order(
    lossy_page: Callable[[int], Any],
) -> None:
    page = lossy_page(2)
    turn = ask(page, "오늘 하루 어땠어?")
    played = wait_played(page, turn, len(SENTENCES) - 1)
    assert [entry["index"] for entry in played] == [0, 1, 3, 4, 5]
    assert [(s["index"], s["reason"], s["parts"]) for s in skipped(page, turn)] == [
        (2, "incomplete", 1)
    ]
    # Skipped no earlier than when it would have started (sentence 1 ended), and sentence 3 took
    # its place on the clock: it starts after sentence 1 and the wait, in order.
    assert played[2]["start"] >= played[1]["end"]
    assert_nothing_shown_broken(page, turn)


def test_the_last_sentence_missing_a_part_is_skipped_after_the_turn_is_done(
    lossy_page: Callable[[int], Any],
) -> None:
    page = lossy_page(LAST)
    turn = ask(page, "오늘 하루 어땠어?")
    played = wait_played(page, turn, LAST)
    assert [entry["index"] for entry in played] == list(range(LAST))
    page.wait_for_function("t => window.voicebot.skipped.some(s => s.turnId === t)", arg=turn)
    (skip,) = skipped(page, turn)
    assert (skip["index"], skip["reason"]) == (LAST, "incomplete")
    assert skip["at"] >= played[-1]["end"]  # once it was due, not before
    assert_nothing_shown_broken(page, turn)

    # The page is not stuck either: the next question is answered and played the same way.
    again = ask(page, "그래서?")
    assert [entry["index"] for entry in wait_played(page, again, LAST)] == list(range(LAST))
