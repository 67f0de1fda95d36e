"""Voice gating: only speech (plus a little context) ever reaches a recognizer.

Streaming silence to Amazon Transcribe costs money and, after ~15 s without audio, loses the
stream. The gate opens an utterance when it hears a short run of voiced frames, starting with
``preroll_ms`` of the audio before that run so the first syllable is not clipped, and closes it
after ``hangover_ms`` of continuous non-speech so a pause between words does not split a sentence.

With an end-of-turn rule (``voicebot.contract.endpointing``), the words recognized so far
(``hear``) set that silence instead: shorter after a sentence-final ending (…요, …니다, "?"),
longer after a connective (…는데, …고, "and"), the fixed hangover otherwise.
"""

from __future__ import annotations

from collections import deque
from dataclasses import KW_ONLY, dataclass
from typing import Protocol

from voicebot.contract.endpointing import EndOfTurnRule

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
    """``speech_start_ms``: where the first voiced frame of the opening run starts (source ms)."""

    speech_start_ms: int | None = None


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    """``speech_end_ms``: where the last voiced frame ends (source ms), known only now that the
    silence after it ended the utterance; None when no frame was voiced."""

    speech_end_ms: int | None = None


GateEvent = UtteranceStarted | AudioFrame | UtteranceEnded


@dataclass(eq=False)
class VoiceGate:
    """A synchronous state machine: push frames in, get ``GateEvent``s out."""

    classifier: SpeechClassifier
    _: KW_ONLY
    preroll_ms: int = 300
    hangover_ms: int = 700
    trigger_ms: int = 90
    max_utterance_ms: int = 60_000
    end_of_turn: EndOfTurnRule | None = None

    def __post_init__(self) -> None:
        self._trigger_frames = max(1, self.trigger_ms // FRAME_MS)
        self._hangover_frames = max(1, self.hangover_ms // FRAME_MS)
        self._max_frames = max(1, self.max_utterance_ms // FRAME_MS)
        # Holds the pre-roll plus the voiced run that opens the utterance.
        self._recent: deque[AudioFrame] = deque(
            maxlen=self.preroll_ms // FRAME_MS + self._trigger_frames
        )
        self._voiced_run = 0
        self._unvoiced_run = 0
        self._frames_in_utterance = 0
        self._open = False
        self._frames_pushed = 0
        self._last_voiced_frame = -1
        self._last_voiced_end_ms: int | None = None
        self._text = ""
        self._text_frame = -1
        self._wait_frames = self._hangover_frames

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def wait_ms(self) -> int:
        """The silence that would end the open utterance now."""
        return self._wait_frames * FRAME_MS

    def hear(self, text: str) -> None:
        """The open utterance's latest recognized text (partial or final)."""
        if not self._open:
            return
        self._text = text
        self._text_frame = self._frames_pushed
        self._update_wait()

    def _update_wait(self) -> None:
        if self.end_of_turn is None or not self._text:
            self._wait_frames = self._hangover_frames
            return
        # Fresh: heard after the last voiced frame, so the text likely covers the end of speech.
        fresh = self._text_frame > self._last_voiced_frame
        wait = self.end_of_turn.hangover_ms(self._text, self.hangover_ms, fresh=fresh)
        self._wait_frames = max(1, wait // FRAME_MS)

    def push(self, frame: AudioFrame) -> list[GateEvent]:
        voiced = self.classifier.is_speech(frame.pcm)
        self._frames_pushed += 1
        if voiced:
            self._last_voiced_frame = self._frames_pushed
            self._last_voiced_end_ms = frame.start_ms + FRAME_MS
        if not self._open:
            return self._while_closed(frame, voiced)
        return self._while_open(frame, voiced)

    def flush(self) -> list[GateEvent]:
        """End of input: close an utterance still open."""
        if not self._open:
            return []
        ended = UtteranceEnded(self._last_voiced_end_ms)
        self._close()
        return [ended]

    def _while_closed(self, frame: AudioFrame, voiced: bool) -> list[GateEvent]:
        self._recent.append(frame)
        self._voiced_run = self._voiced_run + 1 if voiced else 0
        if self._voiced_run < self._trigger_frames:
            return []
        self._open = True
        self._unvoiced_run = 0
        self._frames_in_utterance = len(self._recent)
        self._forget_text()
        first_voiced = self._recent[-self._trigger_frames].start_ms
        events: list[GateEvent] = [UtteranceStarted(first_voiced), *self._recent]
        self._recent.clear()
        return events

    def _while_open(self, frame: AudioFrame, voiced: bool) -> list[GateEvent]:
        events: list[GateEvent] = []
        if self._frames_in_utterance >= self._max_frames:
            # Someone talking without pause: rotate the recognizer stream so finals keep coming
            # and no single stream grows without bound. The next stream starts with this frame.
            self._frames_in_utterance = 0
            self._forget_text()
            events += [UtteranceEnded(frame.start_ms), UtteranceStarted(frame.start_ms)]
        self._unvoiced_run = 0 if voiced else self._unvoiced_run + 1
        self._frames_in_utterance += 1
        events.append(frame)
        if voiced:
            self._update_wait()  # the text heard before this frame is no longer fresh
        if self._unvoiced_run >= self._wait_frames:
            ended = UtteranceEnded(self._last_voiced_end_ms)
            self._close()
            events.append(ended)
        return events

    def _forget_text(self) -> None:
        self._text = ""
        self._text_frame = -1
        self._wait_frames = self._hangover_frames

    def _close(self) -> None:
        self._open = False
        self._voiced_run = 0
        self._unvoiced_run = 0
        self._frames_in_utterance = 0
        self._forget_text()
