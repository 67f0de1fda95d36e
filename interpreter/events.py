"""The typed values that flow through the interpreter, from audio frames to transcripts."""

from __future__ import annotations

from dataclasses import dataclass

SAMPLE_RATE = 16_000
# webrtcvad accepts 10, 20 or 30 ms frames; 30 ms keeps the per-frame overhead lowest.
FRAME_MS = 30
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2  # 16-bit little-endian mono PCM


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """FRAME_MS of 16 kHz 16-bit mono PCM and where it starts in the source, in milliseconds."""

    pcm: bytes
    start_ms: int


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    """A hypothesis that may still change. ``segment`` names the result within one stream.

    ``stable_chars``: how many leading characters of ``text`` the recognizer will not change
    (Transcribe's partial-results stabilization); None when the recognizer does not say."""

    text: str
    segment: str
    stable_chars: int | None = None


@dataclass(frozen=True, slots=True)
class FinalTranscript:
    """The recognizer's last word on a segment; nothing more will come for it."""

    text: str
    segment: str


TranscriptEvent = PartialTranscript | FinalTranscript
