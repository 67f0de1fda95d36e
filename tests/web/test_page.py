"""The chat page in a real browser against the real local stack (issue 4, acceptance 3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.local.conftest import RunningStack
from tests.web.conftest import ANSWER, SENTENCES, assert_back_to_back

MARKUP = "<img src=x onerror=alert(1)>"


def ask(page: Any, text: str) -> str:
    """Types a question and sends it; returns the id of the turn the page started."""
    page.fill("#chat-text", text)
    page.press("#chat-text", "Enter")
    return str(page.evaluate("window.voicebot.sent.filter(a => a.action === 'chat').at(-1).turnId"))


def post_transcript(stack: RunningStack, page: Any, **body: Any) -> None:
    """Publishes a transcript as the user's device would (with the session's device token)."""
    token = page.evaluate("JSON.parse(sessionStorage.getItem('voicebot.session')).deviceToken")
    with stack.client() as client:
        response = client.post(
            "/api/transcripts", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 202, response.text


def events(page: Any, kind: str, turn_id: str | None = None) -> list[dict[str, Any]]:
    return list(
        page.evaluate(
            "([kind, turn]) => window.voicebot.events.filter("
            "  e => e.type === kind && (turn === null || e.turnId === turn))",
            [kind, turn_id],
        )
    )


def played(page: Any, turn_id: str) -> list[dict[str, Any]]:
    return list(page.evaluate("t => window.voicebot.played[t] ?? []", turn_id))


def test_typed_question_streams_the_answer_and_plays_the_sentences_in_order(open_page: Any) -> None:
    page = open_page()
    turn = ask(page, "오늘 하루 어땠어?")
    answer = page.locator(f'.msg.bot[data-turn-id="{turn}"]')

    # The answer shows while it is still being written.
    page.wait_for_function(
        """t => {
          const bot = document.querySelector(`.msg.bot[data-turn-id="${t}"]`);
          return bot?.dataset.state === "streaming" && bot.querySelector(".text").textContent;
        }""",
        arg=turn,
    )
    early = answer.locator(".text").text_content()
    assert early and ANSWER.startswith(early) and len(early) < len(ANSWER)

    page.wait_for_function(
        "([t, n]) => window.voicebot.played[t]?.length === n"
        " && window.voicebot.played[t].every(e => e.ended)",
        arg=[turn, len(SENTENCES)],
        timeout=20_000,
    )
    assert answer.locator(".text").text_content() == ANSWER
    assert answer.get_attribute("data-state") == "done"
    assert answer.get_attribute("data-sentences") == str(len(SENTENCES))
    assert len(events(page, "delta", turn)) > 1

    sentences = played(page, turn)
    assert [entry["index"] for entry in sentences] == list(range(len(SENTENCES)))
    assert_back_to_back(sentences)

    latency = answer.locator(".latency").text_content()
    for step in ("first token", "first sentence", "first audio", "done", "playback began"):
        assert step in latency


def test_every_frame_of_a_turn_is_one_the_wire_schema_allows(open_page: Any, wire: Any) -> None:
    page = open_page()
    turn = ask(page, "스키마를 지키나요?")
    page.wait_for_function("t => window.voicebot.played[t]?.length > 0", arg=turn, timeout=20_000)
    page.wait_for_function(
        "t => document.querySelector(`.msg.bot[data-turn-id=\"${t}\"]`)?.dataset.state === 'done'",
        arg=turn,
        timeout=20_000,
    )
    received = {json.loads(text)["type"] for path, into_page, text in wire.frames if into_page}
    sent = {json.loads(text)["action"] for path, into_page, text in wire.frames if not into_page}
    assert {"delta", "sentence", "audio", "done"} <= received and "chat" in sent
    assert wire.invalid() == []


def test_microphone_audio_becomes_a_transcript_and_a_turn(open_page: Any, mic_browser: Any) -> None:
    page = open_page(chromium=mic_browser)
    page.click("#mic")
    page.wait_for_function(
        "window.voicebot.events.some(e => e.type === 'transcript' && e.final)", timeout=40_000
    )
    final = events(page, "transcript")[-1]
    assert final["final"] and final["utteranceId"].startswith("mic-")
    bubble = page.locator(f'.msg.user[data-utterance-id="{final["utteranceId"]}"]')
    assert bubble.locator(".text").text_content() == final["text"] != ""
    assert bubble.get_attribute("data-final") == "true"
    # A final transcript is a question: the page asks the bot with its text.
    page.wait_for_function(
        "text => window.voicebot.sent.some(a => a.action === 'chat' && a.text === text)",
        arg=final["text"],
    )
    page.click("#mic")
    assert page.locator("#mic").get_attribute("data-state") == "off"


@pytest.mark.parametrize("how", ["partial transcript", "stop button"])
def test_barge_in_stops_playback_at_once_and_the_turn_ends_interrupted(
    open_page: Any, stack: RunningStack, how: str
) -> None:
    page = open_page()
    turn = ask(page, "길게 말해 줘")
    page.wait_for_function(
        "t => window.voicebot.speaking && window.voicebot.played[t]?.length > 0", arg=turn
    )

    if how == "stop button":
        page.click("#stop")
    else:
        post_transcript(stack, page, utteranceId="barge-in", seq=0, text="잠깐만요", final=False)
        page.wait_for_selector('.msg.user[data-utterance-id="barge-in"][data-final="false"]')
    page.wait_for_function("t => window.voicebot.turns[t].done", arg=turn, timeout=10_000)

    assert not page.evaluate("window.voicebot.speaking")
    [cancel] = [a for a in page.evaluate("window.voicebot.sent") if a["action"] == "cancel"]
    assert cancel["turnId"] == turn
    if how == "partial transcript":
        [partial] = events(page, "transcript")
        assert cancel["at"] - partial["receivedAt"] < 100  # stopped as the words arrived

    [done] = events(page, "done", turn)
    assert done["interrupted"] is True
    assert len(done["text"]) < len(ANSWER)  # the server stopped writing too

    sentences = played(page, turn)
    assert cancel["heard"] == sum(entry["ended"] for entry in sentences)
    assert not sentences[-1]["ended"]  # the sentence that was playing was cut short
    page.wait_for_timeout(700)  # longer than a sentence: nothing else starts playing
    assert len(played(page, turn)) == len(sentences)

    answer = page.locator(f'.msg.bot[data-turn-id="{turn}"]')
    assert answer.get_attribute("data-state") == "interrupted"
    assert answer.locator(".status").text_content() == "Interrupted"


def test_markup_in_messages_is_shown_as_text(open_page: Any, stack: RunningStack) -> None:
    page = open_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    ask(page, MARKUP)
    post_transcript(stack, page, utteranceId="markup", seq=0, text=MARKUP, final=False)
    page.wait_for_selector('.msg.user[data-utterance-id="markup"]')

    texts = page.locator(".msg.user .text").all_text_contents()
    assert texts == [MARKUP, MARKUP]
    assert page.locator("#conversation img").count() == 0
    page.wait_for_timeout(300)  # time an injected onerror handler would have needed
    assert dialogs == []


def test_the_interface_speaks_korean_and_english(open_page: Any) -> None:
    page = open_page(locale="ko-KR")
    assert page.locator("h1").text_content() == "보이스봇"
    assert page.locator("#stop").text_content() == "멈춤"
    assert page.locator("#connection").text_content() == "연결됨"
    page.click("#language")
    assert page.locator("h1").text_content() == "Voicebot"
    assert page.locator("#chat-text").get_attribute("placeholder") == "Type a message"


def test_connect_a_device_shows_a_working_interpreter_command(
    open_page: Any, stack: RunningStack
) -> None:
    page = open_page(locale="en-US")
    assert page.locator("#device-panel").is_hidden()
    page.click("#device")
    command = page.locator("#device-command").text_content() or ""
    assert command.startswith(f"python -m interpreter --api {stack.base_url} --token ")
    token = command.rsplit(" ", 1)[-1]
    # The token shown is this page's device token: a transcript posted with it reaches the page.
    body = {"utteranceId": "dev1", "seq": 0, "text": "from the device", "final": False}
    with stack.client() as client:
        response = client.post(
            "/api/transcripts", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 202
    page.wait_for_function(
        "window.voicebot.events.some(e => e.type === 'transcript' && e.text === 'from the device')"
    )
