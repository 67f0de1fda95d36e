"""A scripted recognizer and a WAV builder for the interpreter tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from interpreter.events import AudioFrame, FinalTranscript, PartialTranscript, TranscriptEvent
from tests.fakes.audio import espeak_pcm16

RATE = 16_000


class ScriptedStream:
    """Says "발화N" plus one more word every ``every`` frames, and a final when audio ends."""

    def __init__(self, number: int, every: int, final_delay_s: float = 0.0) -> None:
        self.every = every
        self.final_delay_s = final_delay_s
        self.frames: list[AudioFrame] = []
        self.finals_at: list[float] = []
        self._words = [f"발화{number}"]
        self._queue: asyncio.Queue[TranscriptEvent | None] = asyncio.Queue()

    @property
    def text(self) -> str:
        return " ".join(self._words)

    async def send(self, frame: AudioFrame) -> None:
        self.frames.append(frame)
        if len(self.frames) % self.every == 0:
            self._words.append(f"단어{len(self._words)}")
            self._queue.put_nowait(PartialTranscript(self.text, "s"))

    async def finish(self) -> None:
        self.finals_at.append(time.monotonic())
        if self.final_delay_s:  # a recognizer still working on the last of the audio
            loop = asyncio.get_running_loop()
            loop.call_later(self.final_delay_s, self._final, self.text)
        else:
            self._final(self.text)

    def _final(self, text: str) -> None:
        self._queue.put_nowait(FinalTranscript(text, "s"))
        self._queue.put_nowait(None)

    async def events(self) -> AsyncIterator[TranscriptEvent]:
        while (event := await self._queue.get()) is not None:
            yield event


@dataclass
class ScriptedRecognizer:
    every: int = 8
    # Seconds each stream (in order) takes to give its final after the audio ends.
    final_delays_s: tuple[float, ...] = ()
    streams: list[ScriptedStream] = field(default_factory=list)

    async def open_stream(self) -> ScriptedStream:
        number = len(self.streams) + 1
        delays = self.final_delays_s
        delay = delays[number - 1] if number <= len(delays) else 0.0
        stream = ScriptedStream(number, self.every, delay)
        self.streams.append(stream)
        return stream


@dataclass(frozen=True)
class SpeechSpan:
    start_ms: float
    end_ms: float


def speech_spans(path: Path, *, min_gap_s: float = 1.0) -> list[SpeechSpan]:
    """Where a clean test recording has speech: runs of samples above a small amplitude,
    separated by at least ``min_gap_s`` of quiet. Measured, not assumed from how it was made."""
    samples, rate = soundfile.read(str(path), dtype="int16")
    loud = np.nonzero(np.abs(samples.astype(np.int32)) > 300)[0]
    spans: list[SpeechSpan] = []
    start = previous = int(loud[0])
    for index in loud[1:]:
        if index - previous > min_gap_s * rate:
            spans.append(SpeechSpan(start * 1000 / rate, previous * 1000 / rate))
            start = int(index)
        previous = int(index)
    spans.append(SpeechSpan(start * 1000 / rate, previous * 1000 / rate))
    return spans


def write_speech_wav(path: Path, parts: list[str | float]) -> None:
    """How data/*.wav were made: texts spoken by espeak-ng (Korean voice), floats are seconds of
    silence. Needs espeak-ng and sox; the tests use the committed files."""
    chunks = []
    for part in parts:
        if isinstance(part, str):
            chunks.append(espeak_pcm16(part, "ko", RATE))
        else:
            chunks.append(np.zeros(int(part * RATE), dtype="<i2"))
    soundfile.write(str(path), np.concatenate(chunks), RATE, subtype="PCM_16")


if __name__ == "__main__":
    write_speech_wav(
        Path(__file__).parent / "data" / "two_utterances.wav",
        [0.5, "안녕하세요 오늘 날씨가 좋네요", 2.5, "내일 다시 만나요", 0.5],
    )
