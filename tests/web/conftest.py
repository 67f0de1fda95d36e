"""Browser tests: Debian's Chromium, driven by Playwright, against the real local stack.

The stack runs the scripted chat model and the scripted synthesizer (a tone whose length follows
the sentence), so the timing of a turn is known: six sentences streamed at 10 tokens of 3
characters a second (about 2.2 s of generation), each sentence about 0.6 s of audio.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import numpy as np
import pytest
import soundfile

from tests.local.conftest import RunningStack, stack_env

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements/web.txt")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    # The page may start audio without a click; a user's browser asks for one tap first.
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"width": 390, "height": 844}

SENTENCES = [
    "첫 번째 문장입니다.",
    "두 번째 문장입니다.",
    "세 번째 문장입니다.",
    "네 번째 문장입니다.",
    "다섯 번째 문장입니다.",
    "여섯 번째 문장입니다.",
]
ANSWER = " ".join(SENTENCES)
# Speech for the fake microphone. Vosk's Korean model hears espeak's robotic Korean poorly, but
# it does hear words in it, which is all the microphone test claims.
MIC_PHRASE = "안녕하세요 오늘 날씨가 좋네요"
WIRE_SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "wire-schema.json").read_text())


class WireRecorder:
    """Every text frame a page exchanges on its sockets, checked against docs/wire-schema.json.

    ``/ws`` carries PageToServer and ServerToPage messages, the local stack's ``/mic`` carries
    PageToMic and MicToPage (its binary frames are audio, not JSON).
    """

    # (socket path, towards the page) -> the schema's group for that direction.
    GROUPS: ClassVar[dict[tuple[str, bool], str]] = {
        ("/ws", True): "ServerToPage",
        ("/ws", False): "PageToServer",
        ("/mic", True): "MicToPage",
        ("/mic", False): "PageToMic",
    }

    # One validator per group, built once: jsonschema.validate() re-checks the whole schema on
    # every call, which made validating a turn's frames take seconds.
    VALIDATORS: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        self.frames: list[tuple[str, bool, str]] = []

    @classmethod
    def validator(cls, group: str) -> Any:
        if group not in cls.VALIDATORS:
            schema = {"$ref": f"#/$defs/{group}", "$defs": WIRE_SCHEMA["$defs"]}
            validator_class = jsonschema.validators.validator_for(WIRE_SCHEMA)
            validator_class.check_schema(schema)
            cls.VALIDATORS[group] = validator_class(schema)
        return cls.VALIDATORS[group]

    def watch(self, page: Any) -> None:
        def on_socket(socket: Any) -> None:
            path = "/" + socket.url.split("?")[0].rsplit("/", 1)[-1]
            socket.on("framereceived", lambda payload: self._keep(path, True, payload))
            socket.on("framesent", lambda payload: self._keep(path, False, payload))

        page.on("websocket", on_socket)

    def _keep(self, path: str, received: bool, payload: str | bytes) -> None:
        if isinstance(payload, str):
            self.frames.append((path, received, payload))

    def invalid(self) -> list[str]:
        problems = []
        for path, received, text in self.frames:
            group = self.GROUPS.get((path, received))
            if group is None:
                problems.append(f"a frame on an unknown socket {path}: {text[:120]}")
                continue
            try:
                message = json.loads(text)
            except ValueError as exc:
                problems.append(f"{group} frame {text[:160]!r}: not JSON ({exc})")
                continue
            error = jsonschema.exceptions.best_match(self.validator(group).iter_errors(message))
            if error is not None:
                reason = error.message
                problems.append(f"{group} frame {text[:160]!r}: {reason[:200]}")
        return problems


def assert_back_to_back(sentences: list[dict[str, Any]]) -> None:
    """Each sentence starts on the audio clock the moment the one before ends, unless its audio
    was not there yet (a loaded 2-core CI machine): then it starts as soon as it was ready, with
    the page's scheduling lead, and the gap is reported. Most must be back to back."""
    late = 0
    for before, after in pairwise(sentences):
        ready_to_start = after["ctxScheduled"] + after["leadS"]
        if ready_to_start <= before["ctxEnd"]:
            assert after["ctxStart"] == pytest.approx(before["ctxEnd"], abs=1e-6)
            assert after["gapMs"] == 0
        else:
            late += 1
            assert after["ctxStart"] == pytest.approx(ready_to_start, abs=1e-6)
            assert after["gapMs"] == round((ready_to_start - before["ctxEnd"]) * 1000)
    assert late <= (len(sentences) - 1) // 2, f"{late} of {len(sentences) - 1} sentences late"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with RunningStack(
        tmp_path_factory.mktemp("web-stack"),
        # Load Vosk while the first tests run, so the microphone test does not wait for it.
        ["--chat", "scripted", "--tts", "scripted", "--preload-asr"],
        stack_env(
            SCRIPTED_ANSWER=ANSWER,
            SCRIPTED_FIRST_TOKEN_MS="0",
            SCRIPTED_TOKENS_PER_SECOND="10",
        ),
    ) as running:
        yield running


# Module scope, not session: Playwright's sync API runs an event loop on the main thread while it
# is open, and any asyncio test run after it in the same process (pytest-xdist gives a worker
# files in any order) would find a loop running there.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech between silences, so the page's end-of-speech detector sees a start and an end."""
    folder = tmp_path_factory.mktemp("mic")
    speech = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(speech), MIC_PHRASE], check=True)
    samples, rate = soundfile.read(speech, dtype="float32")
    silence = np.zeros(rate, dtype=np.float32)
    padded = folder / "mic.wav"
    soundfile.write(padded, np.concatenate([silence, samples, silence, silence]), rate, "PCM_16")
    return padded


def launch_with_microphone(playwright: Any, wav: Path) -> Any:
    """A Chromium whose only microphone plays ``wav`` in a loop, with permission granted."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
        ],
    )


@pytest.fixture(scope="module")
def mic_browser(playwright: Any, mic_wav: Path) -> Iterator[Any]:
    """A Chromium whose only microphone plays ``mic_wav`` in a loop, with permission granted."""
    chromium = launch_with_microphone(playwright, mic_wav)
    yield chromium
    chromium.close()


@pytest.fixture
def wire() -> WireRecorder:
    return WireRecorder()


@pytest.fixture
def open_page(
    browser: Any, stack: RunningStack, wire: WireRecorder
) -> Iterator[Callable[..., Any]]:
    """Opens the page on a phone-sized screen, signed in and connected (a new user each time).

    Any uncaught error in a page fails the test, and so does any frame on its sockets that the
    wire schema does not allow.
    """
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(
        locale: str = "en-US",
        chromium: Any = browser,
        before_load: Callable[[Any], None] | None = None,
    ) -> Any:
        # bypass_csp lets Playwright evaluate its own scripts under the page's strict CSP; the
        # injection test therefore proves the rendering itself, not the CSP.
        context = chromium.new_context(viewport=PHONE, locale=locale, bypass_csp=True)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        wire.watch(page)
        if before_load is not None:  # e.g. routes a test puts between the page and the stack
            before_load(page)
        page.goto(stack.base_url + "/")
        page.wait_for_function("window.voicebot?.connection === 'connected'", timeout=15_000)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
    assert not wire.invalid(), wire.invalid()


class Device:
    """Posts transcripts as the user's device would, on one connection."""

    def __init__(self, stack: RunningStack, page: Any) -> None:
        session = page.evaluate("JSON.parse(sessionStorage.getItem('voicebot.session'))")
        self.client_token = session["token"]
        self._auth = {"Authorization": f"Bearer {session['deviceToken']}"}
        self._client = stack.client()
        self._seq: dict[str, int] = {}

    def say(self, utterance: str, text: str, *, final: bool = False, **extra: Any) -> float:
        """Posts one transcript (``extra``: its optional fields); returns when (epoch ms)."""
        seq = self._seq.get(utterance, -1) + 1
        self._seq[utterance] = seq
        body = {"utteranceId": utterance, "seq": seq, "text": text, "final": final, **extra}
        posted = time.time() * 1000
        response = self._client.post("/api/transcripts", json=body, headers=self._auth)
        assert response.status_code == 202, response.text
        return posted

    def history(self) -> list[dict[str, Any]]:
        auth = {"Authorization": f"Bearer {self.client_token}"}
        response = self._client.get("/api/history", headers=auth)
        assert response.status_code == 200, response.text
        return list(response.json()["turns"])

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def device(stack: RunningStack) -> Iterator[Any]:
    devices: list[Device] = []

    def make(page: Any) -> Device:
        devices.append(Device(stack, page))
        return devices[-1]

    yield make
    for one in devices:
        one.close()
