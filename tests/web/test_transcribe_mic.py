"""The page's microphone as on AWS, in Chromium: the fake microphone plays real Korean speech, the
page's own client gets pre-signed URLs from the stack's transcribe function and streams the
gated audio to a local peer that speaks Amazon Transcribe's WebSocket protocol and checks the
SigV4 signature (tests/fakes/transcribe_ws.py); the peer's partials and final reach this page and
a second page of the same user through the relay, and the final is answered. A wrong or expired
signature is refused by the peer, and the page says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from tests.fakes.transcribe_ws import FakeTranscribeWebSocket
from tests.local.conftest import RunningStack, stack_env

from .conftest import launch_with_microphone

WAV = Path(__file__).parents[1] / "interpreter" / "data" / "two_utterances.wav"
TEXTS = ["안녕하세요 오늘 날씨가 좋네요", "내일도 맑을까요"]
ANSWER = "네, 오늘은 맑아요."
ACCESS_KEY, SECRET_KEY = "AKIDPAGEMICTEST", "page-microphone-test-secret"


@pytest.fixture(scope="module")
def peer() -> Iterator[FakeTranscribeWebSocket]:
    with FakeTranscribeWebSocket(TEXTS, secrets={ACCESS_KEY: SECRET_KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, peer: FakeTranscribeWebSocket
) -> Iterator[RunningStack]:
    """This module's stack: no /mic, the page's microphone pointed at the peer (overrides the
    session's ``stack``, so ``open_page`` opens pages here)."""
    with RunningStack(
        tmp_path_factory.mktemp("transcribe-stack"),
        [
            *("--chat", "scripted", "--tts", "scripted", "--asr", "none"),
            "--transcribe-endpoint",
            peer.url,
        ],
        stack_env(
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_REGION=peer.region,
            AWS_DEFAULT_REGION=peer.region,
            SCRIPTED_ANSWER=ANSWER,
        ),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def speech_browser(playwright: Any) -> Iterator[Any]:
    """A Chromium whose microphone plays two utterances of real Korean speech, in a loop."""
    chromium = launch_with_microphone(playwright, WAV)
    yield chromium
    chromium.close()


@pytest.fixture(autouse=True)
def fresh_peer(peer: FakeTranscribeWebSocket) -> Iterator[None]:
    peer.reset()
    peer.secrets = {ACCESS_KEY: SECRET_KEY}
    yield
    peer.reset()


def transcripts(page: Any) -> list[dict[str, Any]]:
    return [e for e in page.evaluate("window.voicebot.events") if e["type"] == "transcript"]


def envelope(samples: np.ndarray, rate: int = 16_000, ms: int = 50) -> np.ndarray:
    """RMS per ``ms`` window."""
    step = rate * ms // 1000
    usable = len(samples) // step * step
    return np.sqrt((samples[:usable].reshape(-1, step) ** 2).mean(axis=1))


def best_match(received: np.ndarray, played: np.ndarray) -> float:
    """The highest correlation of the received envelope with any stretch of the played one."""
    a = (received - received.mean()) / (received.std() or 1)
    best = -1.0
    for lag in range(len(played) - len(a) + 1):
        b = played[lag : lag + len(a)]
        best = max(best, float(np.dot(a, (b - b.mean()) / (b.std() or 1)) / len(a)))
    return best


def test_speech_reaches_the_transcribe_peer_and_its_transcripts_every_page_of_the_user(
    open_page: Any, speech_browser: Any, browser: Any, peer: FakeTranscribeWebSocket
) -> None:
    page = open_page(chromium=speech_browser)
    session = page.evaluate("sessionStorage.getItem('voicebot.session')")
    # The same user's second page (another tab: the session travels as a reload would keep it).
    other = open_page(
        chromium=browser,
        before_load=lambda p: p.add_init_script(
            f"sessionStorage.setItem('voicebot.session', {json.dumps(session)})"
        ),
    )
    assert other.evaluate("sessionStorage.getItem('voicebot.session')") == session
    page.click("#mic")
    page.wait_for_function(
        "window.voicebot.events.some(e => e.type === 'transcript' && e.final)", timeout=30_000
    )
    final = next(e for e in transcripts(page) if e["final"])
    assert final["text"] == TEXTS[0] and final["utteranceId"].startswith("mic-")
    partials = [e for e in transcripts(page) if e["utteranceId"] == final["utteranceId"]][:-1]
    assert partials and all(not e["final"] for e in partials)
    seqs = [e["seq"] for e in partials]  # in order (a partial may be coalesced under load)
    assert seqs[0] == 0 and seqs == sorted(set(seqs))
    assert all(isinstance(e.get("stableChars"), int) for e in partials)  # stabilization was asked
    assert final["speechStartedAt"] < final["speechEndedAt"] <= final["recognizedAt"]

    # The second page saw the same events (the relay's ids included).
    other.wait_for_function(
        "id => window.voicebot.events.some(e => e.type === 'transcript' && e.id === id)",
        arg=final["id"],
    )
    seen = {e["id"]: e for e in transcripts(other)}
    for event in [*partials, final]:
        mine = {k: v for k, v in event.items() if k != "receivedAt"}
        assert {k: v for k, v in seen[event["id"]].items() if k != "receivedAt"} == mine
    bubble = other.locator(f'.msg.user[data-utterance-id="{final["utteranceId"]}"]')
    assert bubble.locator(".text").text_content() == TEXTS[0]

    # The final is answered.
    page.wait_for_function(
        "text => window.voicebot.sent.some(a => a.action === 'chat' && a.text === text)",
        arg=TEXTS[0],
    )
    page.wait_for_function(
        "a => window.voicebot.events.some(e => e.type === 'done' && e.text === a)",
        arg=ANSWER,
        timeout=20_000,
    )

    # What the peer heard is the microphone's first utterance: its length and energy envelope.
    stream = peer.streams[0]
    assert stream.ended_by_client and stream.bad_frames == 0
    query = stream.query
    assert (query["language-code"], query["media-encoding"], query["sample-rate"]) == (
        "ko-KR",
        "pcm",
        "16000",
    )
    assert query["enable-partial-results-stabilization"] == "true"
    samples, rate = soundfile.read(WAV, dtype="float32")
    assert rate == 16_000
    played = envelope(samples)
    voiced = np.flatnonzero(played > 0.01)
    first_span_s = (voiced[np.argmax(np.diff(voiced) > 10)] - voiced[0] + 1) * 0.05
    # Preroll (0.3 s) before, the end-of-turn pause (0.25..1.5 s) after, no more.
    assert first_span_s + 0.1 <= stream.seconds <= first_span_s + 2.2, (
        stream.seconds,
        first_span_s,
    )
    assert best_match(envelope(stream.samples), played) > 0.7
    page.click("#mic")


@pytest.mark.parametrize("fault", ["wrong signature", "expired signature"])
def test_a_refused_signature_is_refused_by_the_peer_and_the_page_says_so(
    open_page: Any, speech_browser: Any, peer: FakeTranscribeWebSocket, fault: str
) -> None:
    if fault == "wrong signature":
        peer.secrets = {ACCESS_KEY: "not-the-key-the-stack-signs-with"}
    else:
        peer.clock_offset_s = 120  # the 30 s URL reads as expired on arrival
    page = open_page(chromium=speech_browser)
    page.click("#mic")
    alert = page.locator("#alert-text")
    alert.wait_for(state="visible", timeout=30_000)
    page.wait_for_function(
        "document.querySelector('#alert-text').textContent.includes('Transcribe')",
        timeout=30_000,
    )
    assert "refused" in alert.text_content()
    reasons = {r.reason for r in peer.refused}
    expected = "does not match" if fault == "wrong signature" else "expired"
    assert peer.refused and all(expected in reason for reason in reasons), reasons
    assert all(r.status == 403 for r in peer.refused)
    assert not peer.streams  # no audio was accepted
    assert not transcripts(page)
    page.click("#mic")
