"""Preemptive answers in the real page: a held answer whose final differs is never heard, and a
settled partial (every character stable, a finished sentence) is answered without the final."""

from __future__ import annotations

import time
from typing import Any

from tests.web.conftest import SENTENCES, Device
from tests.web.test_page import events, played


def page_turns(page: Any) -> list[str]:
    return list(page.evaluate("Object.keys(window.voicebot.turns)"))


def wait_played(page: Any, turn: str) -> None:
    page.wait_for_function(
        "([t, n]) => window.voicebot.played[t]?.length === n"
        " && window.voicebot.played[t].every(e => e.ended)",
        arg=[turn, len(SENTENCES)],
        timeout=30_000,
    )


def test_a_held_answer_whose_final_differs_plays_only_the_answer_to_the_final(
    open_page: Any, device: Any
) -> None:
    page = open_page()
    posting: Device = device(page)
    # A partial that reads as a whole question: the server starts answering it, held.
    posting.say("q1", "오늘 날씨 어때요")
    time.sleep(1.0)  # the held answer is well under way (the scripted model streams at once)
    assert page_turns(page) == [] and events(page, "audio") == []  # nothing of it reached the page
    posting.say("q1", "오늘 말고 내일 날씨는 어때요", final=True)
    page.wait_for_function("Object.keys(window.voicebot.turns).length === 1", timeout=10_000)
    (turn,) = page_turns(page)
    wait_played(page, turn)
    time.sleep(0.5)

    assert page_turns(page) == [turn]
    assert {e["turnId"] for e in events(page, "audio")} == {turn}
    assert [e["index"] for e in played(page, turn)] == list(range(len(SENTENCES)))
    (stored,) = posting.history()
    assert stored["turnId"] == turn and stored["user"] == "오늘 말고 내일 날씨는 어때요"


def test_a_settled_partial_is_answered_before_its_final_and_once(
    open_page: Any, device: Any
) -> None:
    page = open_page()
    posting: Device = device(page)
    text = "지금 몇 시예요?"
    posting.say("q2", text, stableChars=len(text))
    page.wait_for_function("Object.keys(window.voicebot.turns).length === 1", timeout=10_000)
    (turn,) = page_turns(page)
    asked = [a for a in page.evaluate("window.voicebot.sent") if a["action"] == "chat"]
    assert [a["text"] for a in asked] == [text]  # asked on the partial, not on a final
    posting.say("q2", text, final=True)  # the final says the same: no second turn
    wait_played(page, turn)
    time.sleep(0.5)

    assert page_turns(page) == [turn]
    assert len([a for a in page.evaluate("window.voicebot.sent") if a["action"] == "chat"]) == 1
    (stored,) = posting.history()
    assert stored["turnId"] == turn and stored["user"] == text
