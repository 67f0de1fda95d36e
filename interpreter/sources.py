"""Audio sources: a microphone through PortAudio, or a WAV file played as if it were one.

Both yield ``AudioFrame``s of 16 kHz mono 16-bit PCM. ``sounddevice`` is imported only when the
microphone is used, so machines without PortAudio (CI, servers) can still run from a file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .events import FRAME_BYTES, FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, AudioFrame

log = logging.getLogger(__name__)

# About 30 s of audio: enough to ride out a slow event loop, bounded so a stall cannot eat memory.
_MIC_QUEUE_FRAMES = 1000


class SourceError(RuntimeError):
    """The audio source cannot be opened; the message says what to do about it."""


class AudioSource(Protocol):
    def frames(self) -> AsyncIterator[AudioFrame]: ...


def _to_pcm16_mono_16k(samples: np.ndarray, rate: int) -> bytes:
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if rate != SAMPLE_RATE and len(mono):
        # Linear interpolation is enough for speech recognizers, which mostly use < 8 kHz.
        duration = len(mono) / rate
        target = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
        mono = np.interp(target, np.arange(len(mono)) / rate, mono)
    clipped = np.clip(mono, -1.0, 1.0)
    return (clipped * 32767).astype("<i2").tobytes()


class WavFileSource:
    """Streams a sound file frame by frame, at the pace of real time unless ``realtime`` is off."""

    def __init__(self, path: Path, *, realtime: bool = True) -> None:
        self._path = path
        self._realtime = realtime

    def _read_pcm(self) -> bytes:
        import soundfile

        try:
            samples, rate = soundfile.read(str(self._path), dtype="float32", always_2d=False)
        except (OSError, RuntimeError) as exc:  # soundfile raises LibsndfileError(RuntimeError)
            raise SourceError(f"Cannot read audio file {self._path}: {exc}") from exc
        return _to_pcm16_mono_16k(samples, int(rate))

    async def frames(self) -> AsyncIterator[AudioFrame]:
        pcm = await asyncio.to_thread(self._read_pcm)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for index, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
            chunk = pcm[offset : offset + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
            if self._realtime:
                # Pace against the start time, not frame to frame, so delays do not accumulate.
                await asyncio.sleep(max(0.0, started + index * FRAME_MS / 1000 - loop.time()))
            else:
                await asyncio.sleep(0)  # let the recognizer and publisher tasks run
            yield AudioFrame(chunk, index * FRAME_MS)


def _import_sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise SourceError(
            "The microphone needs PortAudio: install it (Debian/Ubuntu/Raspberry Pi OS: "
            f"`sudo apt-get install libportaudio2`) or use --wav FILE. ({exc})"
        ) from exc
    return sounddevice


def list_devices() -> str:
    return str(_import_sounddevice().query_devices())


def parse_device(device: str | None) -> int | str | None:
    """PortAudio takes a device index or a substring of its name."""
    if device is None or device.strip() == "":
        return None
    return int(device) if device.strip().isdigit() else device


class MicrophoneSource:
    def __init__(self, device: str | None = None) -> None:
        self._device = parse_device(device)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        sounddevice = _import_sounddevice()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def enqueue(pcm: bytes) -> None:
            if queue.qsize() >= _MIC_QUEUE_FRAMES:
                queue.get_nowait()  # drop the oldest: live audio matters more than stale audio
            queue.put_nowait(pcm)

        def on_audio(indata: Any, _frames: int, _time: Any, status: Any) -> None:
            # Runs on PortAudio's thread: hand the bytes to the event loop and return at once.
            if status:
                log.warning("microphone: %s", status)
            loop.call_soon_threadsafe(enqueue, bytes(indata))

        try:
            stream = sounddevice.RawInputStream(
                samplerate=SAMPLE_RATE,
                blocksize=FRAME_SAMPLES,
                channels=1,
                dtype="int16",
                device=self._device,
                callback=on_audio,
            )
        except Exception as exc:  # PortAudioError, ValueError for an unknown device name
            raise SourceError(
                f"Cannot open microphone {self._device!r}: {exc}. See --list-devices."
            ) from exc
        index = 0
        with stream:
            log.info("listening on %s", stream.device)
            while True:
                pcm = await queue.get()
                yield AudioFrame(pcm, index * FRAME_MS)
                index += 1
