"""The speech-recognition port itself, apart from the factory that picks an adapter.

Adapters import it from here, so the package (which imports the adapters) and they never import
each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from ..events import AudioFrame, TranscriptEvent


class RecognizerError(RuntimeError):
    """The recognizer cannot be set up; the message says what to do about it."""


class RecognizerStream(Protocol):
    async def send(self, frame: AudioFrame) -> None: ...

    async def finish(self) -> None:
        """No more audio; ``events()`` ends once the recognizer has said its last word."""

    def events(self) -> AsyncIterator[TranscriptEvent]: ...


class Recognizer(Protocol):
    async def open_stream(self) -> RecognizerStream: ...
