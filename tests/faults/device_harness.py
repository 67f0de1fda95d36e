"""What the device fault tests share: the interpreter tests' fakes (a transcripts API, a local
Transcribe streaming endpoint, a scripted recognizer) and the recording they listen to."""

from __future__ import annotations

import sys
from pathlib import Path

INTERPRETER_TESTS = Path(__file__).resolve().parents[1] / "interpreter"
if str(INTERPRETER_TESTS) not in sys.path:  # the fakes import each other by bare name
    sys.path.insert(0, str(INTERPRETER_TESTS))

from interp_fake_api import FakeTranscriptsApi  # noqa: E402
from interp_fake_transcribe import FakeTranscribe  # noqa: E402
from interp_fakes import ScriptedRecognizer  # noqa: E402

TWO_UTTERANCES_WAV = INTERPRETER_TESTS / "data" / "two_utterances.wav"
REPO = Path(__file__).resolve().parents[2]

__all__ = [
    "REPO",
    "TWO_UTTERANCES_WAV",
    "FakeTranscribe",
    "FakeTranscriptsApi",
    "ScriptedRecognizer",
]
