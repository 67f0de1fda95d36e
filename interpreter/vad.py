"""Voice gating: only speech (plus a little context) ever reaches a recognizer.

Streaming silence to Amazon Transcribe costs money and, after ~15 s without audio, loses the
stream. The gate opens an utterance when it hears a short run of voiced frames, starting with
``preroll_ms`` of the audio before that run so the first syllable is not clipped, and closes it
after ``hangover_ms`` of continuous non-speech so a pause between words does not split a sentence.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

from .events import FRAME_MS, SAMPLE_RATE, AudioFrame


class SpeechClassifier(Protocol):
    def is_speech(self, pcm: bytes) -> bool: ...


class WebRtcSpeechClassifier:
    """The WebRTC GMM detector: its parameters are compiled in, so there is no model to fetch."""

    def __init__(self, aggressiveness: int = 2) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, pcm: bytes) -> bool:
        return bool(self._vad.is_speech(pcm, SAMPLE_RATE))


@dataclass(frozen=True, slots=True)
class UtteranceStarted:
    pass


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    pass


GateEvent = UtteranceStarted | AudioFrame | UtteranceEnded


class VoiceGate:
    """A synchronous state machine: push frames in, get ``GateEvent``s out."""

    def __init__(
        self,
        classifier: SpeechClassifier,
        *,
        preroll_ms: int = 300,
        hangover_ms: int = 700,
        trigger_ms: int = 90,
        max_utterance_ms: int = 60_000,
    ) -> None:
        self._classifier = classifier
        self._trigger_frames = max(1, trigger_ms // FRAME_MS)
        self._hangover_frames = max(1, hangover_ms // FRAME_MS)
        self._max_frames = max(1, max_utterance_ms // FRAME_MS)
        # Holds the pre-roll plus the voiced run that opens the utterance.
        self._recent: deque[AudioFrame] = deque(
            maxlen=preroll_ms // FRAME_MS + self._trigger_frames
        )
        self._voiced_run = 0
        self._unvoiced_run = 0
        self._frames_in_utterance = 0
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    def push(self, frame: AudioFrame) -> list[GateEvent]:
        voiced = self._classifier.is_speech(frame.pcm)
        if not self._open:
            return self._while_closed(frame, voiced)
        return self._while_open(frame, voiced)

    def flush(self) -> list[GateEvent]:
        """End of input: close an utterance still open."""
        if not self._open:
            return []
        self._close()
        return [UtteranceEnded()]

    def _while_closed(self, frame: AudioFrame, voiced: bool) -> list[GateEvent]:
        self._recent.append(frame)
        self._voiced_run = self._voiced_run + 1 if voiced else 0
        if self._voiced_run < self._trigger_frames:
            return []
        self._open = True
        self._unvoiced_run = 0
        self._frames_in_utterance = len(self._recent)
        events: list[GateEvent] = [UtteranceStarted(), *self._recent]
        self._recent.clear()
        return events

    def _while_open(self, frame: AudioFrame, voiced: bool) -> list[GateEvent]:
        events: list[GateEvent] = []
        if self._frames_in_utterance >= self._max_frames:
            # Someone talking without pause: rotate the recognizer stream so finals keep coming
            # and no single stream grows without bound. The next stream starts with this frame.
            self._frames_in_utterance = 0
            events += [UtteranceEnded(), UtteranceStarted()]
        self._unvoiced_run = 0 if voiced else self._unvoiced_run + 1
        self._frames_in_utterance += 1
        events.append(frame)
        if self._unvoiced_run >= self._hangover_frames:
            self._close()
            events.append(UtteranceEnded())
        return events

    def _close(self) -> None:
        self._open = False
        self._voiced_run = 0
        self._unvoiced_run = 0
        self._frames_in_utterance = 0
