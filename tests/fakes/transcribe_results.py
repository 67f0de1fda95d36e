"""What a fake Amazon Transcribe answers, shared by its two wire forms: the HTTP/2 stream the
interpreter's SDK speaks (tests/interpreter/interp_fake_transcribe.py) and the WebSocket the page
speaks (tests/fakes/transcribe_ws.py). The event-stream messages are the same on both.

One stream transcribes one scripted text: a growing partial every ``partial_every_bytes`` of
audio and, when the client ends its audio, the final. With ``stable_items`` each result lists its
words as ``Items``, every word of a partial but the last marked ``Stable`` (partial-results
stabilization).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tests.interpreter.interp_eventstream import encode_message

BYTES_PER_SECOND = 16_000 * 2  # PCM16 mono at 16 kHz


@dataclass
class ScriptedTranscript:
    text: str
    result_id: str
    partial_every_bytes: int = 9600
    stable_items: bool = False
    partials_sent: int = 0
    results_sent: list[dict[str, object]] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return self.text.split()

    def due_partials(self, audio_bytes: int) -> list[bytes]:
        """The partials this much audio has earned and not yet been sent."""
        out = []
        due = audio_bytes // self.partial_every_bytes
        while self.partials_sent < min(due, len(self.words)):
            self.partials_sent += 1
            words = " ".join(self.words[: self.partials_sent])
            out.append(self._result(words, audio_bytes, partial=True))
        return out

    def final(self, audio_bytes: int) -> bytes:
        return self._result(" ".join(self.words), audio_bytes, partial=False)

    def _result(self, text: str, audio_bytes: int, *, partial: bool) -> bytes:
        result: dict[str, object] = {
            "ResultId": self.result_id,
            "StartTime": 0.0,
            "EndTime": audio_bytes / BYTES_PER_SECOND,
            "IsPartial": partial,
            "ChannelId": "ch_0",
            "Alternatives": [{"Transcript": text, "Items": self._items(text, partial)}],
        }
        self.results_sent.append(result)
        return transcript_event([result])

    def _items(self, text: str, partial: bool) -> list[dict[str, object]]:
        if not self.stable_items:
            return []
        words = text.split()
        return [
            {
                "Content": word,
                "Type": "pronunciation",
                "StartTime": 0.0,
                "EndTime": 0.0,
                "Stable": not partial or index < len(words) - 1,
            }
            for index, word in enumerate(words)
        ]


def transcript_event(results: list[dict[str, object]]) -> bytes:
    body = json.dumps({"Transcript": {"Results": results}}, ensure_ascii=False).encode()
    return encode_message(
        {
            ":message-type": "event",
            ":event-type": "TranscriptEvent",
            ":content-type": "application/json",
        },
        body,
    )


def exception_event(
    exception_type: str = "InternalFailureException",
    message: str = "An internal error occurred (injected by the test).",
) -> bytes:
    return encode_message(
        {
            ":message-type": "exception",
            ":exception-type": exception_type,
            ":content-type": "application/json",
        },
        json.dumps({"Message": message}).encode(),
    )
