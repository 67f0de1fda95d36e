"""Acceptance 4: ``python -m interpreter --wav FILE --recognizer vosk --api URL --token T`` against
the local stack puts the transcript on the page's WebSocket connection."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from interp_fakes import SpeechSpan

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("local.__main__") is None,
    reason="the local stack (`python -m local`) does not exist yet in this checkout",
)


NO_MODELS = ("--chat", "scripted", "--tts", "scripted", "--asr", "none")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "local.log").open("w")
    process = subprocess.Popen(
        # The stack's relay is what this test needs: the interpreter runs Vosk itself, so the
        # stack loads no models of its own (its defaults would load Gemma and a second Vosk).
        [sys.executable, "-m", "local", "--port", str(port), *NO_MODELS],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the local stack did not start: {(tmp_path / 'local.log').read_text()}"
                )
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.timeout(240)
async def test_a_spoken_wav_reaches_the_page_as_transcript_events(
    local_stack: str, two_utterances_wav: tuple[Path, list[SpeechSpan]]
) -> None:
    import websockets

    async with httpx.AsyncClient(base_url=local_stack, timeout=10) as client:
        session = (await client.post("/api/sessions", json={})).raise_for_status().json()
    ws_url = local_stack.replace("http://", "ws://") + f"/ws?token={session['token']}"
    async with websockets.connect(ws_url) as page:
        interpreter = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "interpreter",
            "--wav", str(two_utterances_wav[0]), "--fast", "--quiet",
            "--recognizer", "vosk",
            "--api", local_stack, "--token", session["deviceToken"],
            cwd=REPO,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        transcripts: list[dict[str, object]] = []
        try:
            async with asyncio.timeout(180):
                while not any(t.get("final") for t in transcripts):
                    event = json.loads(await page.recv())
                    if event.get("type") == "transcript":
                        transcripts.append(event)
            _, stderr = await asyncio.wait_for(interpreter.communicate(), 120)
        finally:
            if interpreter.returncode is None:
                interpreter.kill()
                await interpreter.wait()
    assert interpreter.returncode == 0, stderr.decode()
    first = transcripts[0]
    assert {"id", "utteranceId", "seq", "text", "final"} <= first.keys()
    assert all(isinstance(t["text"], str) and t["text"] for t in transcripts)
