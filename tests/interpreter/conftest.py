"""Fixtures for the interpreter tests: a transcripts API on 127.0.0.1 and a speech recording."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from interp_fake_api import FakeTranscriptsApi
from interp_fakes import SpeechSpan, speech_spans

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def outbox_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's interpreter (in-process or a child process) keeps its outbox in the test's
    own directory, never in the user's ~/.local/state."""
    path = tmp_path / "interpreter-outbox.db"
    monkeypatch.setenv("VOICEBOT_OUTBOX_PATH", str(path))
    return path


@pytest.fixture
def transcripts_api() -> Iterator[FakeTranscriptsApi]:
    api = FakeTranscriptsApi().start()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def two_utterances_wav() -> tuple[Path, list[SpeechSpan]]:
    """Korean speech, 2.5 s of digital silence, more speech (see interp_fakes.write_speech_wav)."""
    path = DATA / "two_utterances.wav"
    spans = speech_spans(path)
    assert len(spans) == 2
    return path, spans
