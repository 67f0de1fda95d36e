"""The speech-recognition port itself, apart from the factory that picks an adapter.

Adapters import it from here, so the package (which imports the adapters) and they never import
each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class RecognizerFault:
    """A recognizer stream failed. ``gave_up`` is False while the stream reconnects and resends."""

    code: str
    message: str
    attempt: int
    gave_up: bool


FaultHandler = Callable[[RecognizerFault], None]


@dataclass(frozen=True, slots=True)
class Reconnects:
    """How a stream recovers from failures: each is reported; a new stream follows after a delay
    that doubles with every failure in a row, until there are more than ``limit`` in a row."""

    on_fault: FaultHandler
    limit: int = 3
    delay_s: float = 0.2

    def report(self, code: str, message: str, failures: int) -> bool:
        """Reports the latest of ``failures`` failures in a row; True: the stream gives up."""
        gave_up = failures > self.limit
        self.on_fault(RecognizerFault(code, message, failures, gave_up))
        return gave_up

    async def wait(self, failures: int) -> None:
        """The pause before the next stream."""
        await asyncio.sleep(self.delay_s * 2 ** (failures - 1))


def fault_logger(engine: str, log: logging.Logger) -> FaultHandler:
    """The default fault handler: a warning per reconnect, an error when a stream gives up."""

    def report(fault: RecognizerFault) -> None:
        if fault.gave_up:
            log.error(
                "%s stream failed %d times (%s: %s); giving up on this utterance",
                engine,
                fault.attempt,
                fault.code,
                fault.message,
            )
        else:
            log.warning(
                "%s stream failed (%s: %s); reconnecting (attempt %d)",
                engine,
                fault.code,
                fault.message,
                fault.attempt,
            )

    return report
