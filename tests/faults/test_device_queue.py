"""The real interpreter process (``python -m interpreter`` with the real amazon-transcribe client
against the local Transcribe endpoint) is killed with SIGKILL while its finals wait for the API,
one of them already stored by the API whose answer never reached the device. Restarted, it sends
what it had kept: every final reaches the page exactly once, under its own utteranceId and seq."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from tests.faults.device_harness import REPO, TWO_UTTERANCES_WAV, FakeTranscribe, FakeTranscriptsApi

TEXTS = ["안녕하세요 오늘 날씨가 좋네요", "내일 다시 만나요"]


@pytest.fixture
def transcribe(tmp_path: Path) -> Iterator[FakeTranscribe]:
    fake = FakeTranscribe(tmp_path, TEXTS, partial_every_bytes=6400).start()
    yield fake
    fake.stop()


@pytest.fixture
def api() -> Iterator[FakeTranscriptsApi]:
    server = FakeTranscriptsApi().start()
    yield server
    server.stop()


def interpreter(
    tmp_path: Path, transcribe: FakeTranscribe, api: FakeTranscriptsApi, wav: Path
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VOICEBOT_"))}
    env.update(
        HOME=str(tmp_path),
        AWS_ACCESS_KEY_ID="AKIDTEST",
        AWS_SECRET_ACCESS_KEY=transcribe.secret_key,
        AWS_REGION=transcribe.region,
        AWS_EC2_METADATA_DISABLED="true",
        VOICEBOT_DEVICE_TOKEN=api.token,
        VOICEBOT_OUTBOX_PATH=str(tmp_path / "outbox.db"),
        VOICEBOT_MAX_ATTEMPTS="1000",  # the outage below must not set anything aside
    )
    command = [sys.executable, "-m", "interpreter", "--wav", str(wav), "--fast", "--quiet"]
    command += ["--api", api.url, "--recognizer", "transcribe"]
    command += ["--transcribe-endpoint", transcribe.url, "--ca-file", str(transcribe.cert_path)]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finals_on_disk(path: Path) -> int:
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM finals").fetchone()[0])
        except sqlite3.Error:
            return 0


def settle_until(condition: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.timeout(90)
def test_finals_survive_kill_9_and_a_restart_exactly_once(
    tmp_path: Path, transcribe: FakeTranscribe, api: FakeTranscriptsApi
) -> None:
    # The API answers 503 (Redis away, say) until both utterances have their final.
    outage = threading.Event()
    outage.set()
    victim: list[subprocess.Popen[str]] = []

    def fault(post: dict[str, Any]) -> int | None:
        if outage.is_set():
            return 503
        if post["final"] and victim:
            # The API stores this final, but the device dies before the answer reaches it.
            process = victim.pop()
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        return None

    api.fault = fault
    first = interpreter(tmp_path, transcribe, api, TWO_UTTERANCES_WAV)
    try:
        wait_until(
            lambda: (
                sum(not r["IsPartial"] for s in transcribe.streams for r in s.results_sent) == 2
            ),
            60,
            "both finals from the recognizer",
        )
        # The interpreter hands each final to its publisher as it arrives; give a loaded
        # machine time to do so (an interpreter without an outbox file just waits this out).
        settle_until(lambda: finals_on_disk(tmp_path / "outbox.db") >= 2, 10)
        assert first.poll() is None, first.stdout.read() if first.stdout else ""
        victim.append(first)
        outage.clear()
        wait_until(lambda: first.poll() is not None, 30, "the kill")
        assert first.returncode == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    # The fault kills the device before the API goes on to store that final (the kill is the
    # point): let the API's thread finish storing it before counting.
    settle_until(lambda: any(p["final"] for p in api.relayed), 10)
    stored_before_restart = [p for p in api.relayed if p["final"]]
    assert len(stored_before_restart) == 1, "the API stored one final before the device died"

    silence = tmp_path / "silence.wav"
    soundfile.write(str(silence), np.zeros(16000, dtype="<i2"), 16000, subtype="PCM_16")
    second = interpreter(tmp_path, transcribe, api, silence)
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output

    finals = api.finals()
    assert sorted(f["text"] for f in finals) == sorted(TEXTS), "no final lost"
    assert len({(f["utteranceId"], f["seq"]) for f in finals}) == len(finals) == 2
    # The final the API had already stored came again with its own id and seq: a repeat.
    resent = stored_before_restart[0]
    repeats = [
        p
        for p in api.posts
        if (p["utteranceId"], p["seq"]) == (resent["utteranceId"], resent["seq"])
    ]
    assert len(repeats) == 2
    for final in finals:
        same = [p for p in api.relayed if p["utteranceId"] == final["utteranceId"]]
        assert same[-1] is final, "nothing of an utterance is relayed after its final"
