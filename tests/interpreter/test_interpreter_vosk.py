"""The offline recognizer: Vosk with the packaged Korean model, through the same port as Transcribe.

The one slow test of this folder (loading the model takes a few seconds and ~600 MB).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from interp_fakes import SpeechSpan

from interpreter.events import FinalTranscript, PartialTranscript, TranscriptEvent
from interpreter.recognizers.vosk import VoskRecognizer, packaged_model_path
from interpreter.sources import WavFileSource

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.mark.timeout(180)
async def test_vosk_turns_korean_speech_into_partials_then_a_korean_final(
    two_utterances_wav: tuple[Path, list[SpeechSpan]],
) -> None:
    wav, (first, _) = two_utterances_wav
    assert (packaged_model_path() / "am").is_dir()
    stream = await VoskRecognizer().open_stream()
    async for frame in WavFileSource(wav, realtime=False).frames():
        if frame.start_ms > first.end_ms + 300:
            break
        await stream.send(frame)
    await stream.finish()
    events: list[TranscriptEvent] = [event async for event in stream.events()]

    assert any(isinstance(e, PartialTranscript) for e in events)
    finals = [e for e in events if isinstance(e, FinalTranscript) and e.text]
    assert finals, events
    # espeak's robotic Korean is not recognized word for word; Korean text is what we can promise.
    assert HANGUL.search(finals[-1].text)
    assert isinstance(events[-1], FinalTranscript)
