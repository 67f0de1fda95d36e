"""A loopback imitation of Amazon Polly ``SynthesizeSpeech`` (``POST /v1/speech``).

Answers with real, decodable audio (an OGG Vorbis sine tone whose length follows the
text length), validates SSML well-formedness like Polly does, and can delay, throttle or
fail, so TTS pipelines can be tested end to end with a plain boto3 client::

    with FakePolly() as fp:
        polly = boto3.client("polly", endpoint_url=fp.url, region_name="us-east-1",
                             aws_access_key_id="x", aws_secret_access_key="x")
        audio = polly.synthesize_speech(Text="<speak>안녕</speak>", TextType="ssml",
                                        VoiceId="Seoyeon", OutputFormat="ogg_vorbis",
                                        Engine="neural")["AudioStream"].read()
"""

from __future__ import annotations

import io
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import soundfile as sf

from ._server import FakeAwsHandler, FakeAwsServer
from .audio import TONE_HZ, ogg_tone, pcm_tone

Delay = float | Callable[[str], float]

# Polly bills (and limits) characters of *text*, SSML tags excluded; 3000 is the
# SynthesizeSpeech limit for billed characters, and 6000 the limit for the whole Text, tags
# and entities included (UTF-16 code units here, as a conservative reading of "characters").
MAX_BILLED_CHARACTERS = 3000
MAX_TEXT_CHARACTERS = 6000

_CONTENT_TYPES = {"ogg_vorbis": "audio/ogg", "mp3": "audio/mpeg", "pcm": "audio/pcm"}
_PATH_RE = re.compile(r"^/v1/speech$")


@lru_cache(maxsize=64)
def _mp3_tone(milliseconds: int, sample_rate: int) -> bytes:
    frames = max(1, round(sample_rate * milliseconds / 1000))
    t = np.arange(frames, dtype=np.float32) / sample_rate
    buf = io.BytesIO()
    sf.write(
        buf, (0.2 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32), sample_rate, format="MP3"
    )
    return buf.getvalue()


@dataclass
class PollyRequest:
    """One SynthesizeSpeech call as the fake saw it. ``headers`` keys are lower-cased."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float  # time.monotonic()
    #: "pending" → "ok" | "throttled" | "failed" | "invalid_ssml" | "rejected" | "aborted"
    outcome: str = "pending"
    audio_seconds: float = 0.0
    finished_at: float | None = None

    @property
    def text(self) -> str:
        return str(self.body.get("Text", ""))

    @property
    def text_type(self) -> str:
        return str(self.body.get("TextType", "text"))

    @property
    def voice_id(self) -> str | None:
        return self.body.get("VoiceId")

    @property
    def output_format(self) -> str | None:
        return self.body.get("OutputFormat")

    @property
    def engine(self) -> str | None:
        return self.body.get("Engine")

    @property
    def language_code(self) -> str | None:
        return self.body.get("LanguageCode")


def spoken_text(text: str, text_type: str) -> str:
    """The characters Polly would speak (and bill): SSML markup stripped, entities decoded.

    Raises ``ET.ParseError`` / ``ValueError`` for SSML Polly would reject.
    """
    if text_type != "ssml":
        return text
    root = ET.fromstring(text)
    if root.tag != "speak":
        raise ValueError(f"root element must be <speak>, got <{root.tag}>")
    return "".join(root.itertext())


class _PollyHandler(FakeAwsHandler[PollyRequest]):
    route = _PATH_RE

    def new_request(self, match: re.Match[str], raw: bytes, body: dict[str, Any]) -> PollyRequest:
        return PollyRequest(
            path=self.path, headers=self.lowered_headers, body=body, received_at=time.monotonic()
        )

    def serve(self, req: PollyRequest) -> None:
        fp: FakePolly = self.server.owner  # type: ignore[assignment]
        if fp.fail_all:
            req.outcome = "failed"
            # Modeled 500 error: botocore standard mode retries it (transient status).
            self.send_aws_error(500, "ServiceFailureException", "Service is unavailable.")
            return
        if fp.next_request_number() <= fp.throttle_first_n:
            req.outcome = "throttled"
            # Polly has no modeled ThrottlingException; the service answers the generic
            # 400 "ThrottlingException: Rate exceeded", which botocore's standard mode
            # recognises by error code and retries with throttling backoff.
            self.send_aws_error(400, "ThrottlingException", "Rate exceeded")
            return
        total = len(req.text.encode("utf-16-le")) // 2
        if total > MAX_TEXT_CHARACTERS:
            req.outcome = "rejected"
            self.send_aws_error(
                400,
                "TextLengthExceededException",
                f"Maximum text length has been exceeded: {total} > {MAX_TEXT_CHARACTERS}",
            )
            return
        try:
            spoken = spoken_text(req.text, req.text_type)
        except (ET.ParseError, ValueError) as exc:
            req.outcome = "invalid_ssml"
            self.send_aws_error(400, "InvalidSsmlException", f"Invalid SSML request: {exc}")
            return
        if len(spoken) > MAX_BILLED_CHARACTERS:
            req.outcome = "rejected"
            self.send_aws_error(
                400,
                "TextLengthExceededException",
                f"Maximum text length has been exceeded: {len(spoken)} > {MAX_BILLED_CHARACTERS}",
            )
            return
        output_format = req.output_format or "ogg_vorbis"
        if output_format not in _CONTENT_TYPES:
            req.outcome = "rejected"
            self.send_aws_error(
                400, "ValidationException", f"unsupported OutputFormat {output_format!r} in fake"
            )
            return

        delay = fp.delay(req.text) if callable(fp.delay) else fp.delay
        if not fp.sleep(delay):
            req.outcome = "aborted"
            self.close_connection = True
            return

        seconds = fp.duration_for(spoken)
        audio = fp.audio_bytes(output_format, seconds, req.body.get("SampleRate"))
        req.audio_seconds = seconds
        # Marked before the bytes go out: a client may read them, and look here, before a line
        # after the send would have run.
        req.outcome = "ok"
        try:
            self.send_bytes(
                200,
                audio,
                {
                    "Content-Type": _CONTENT_TYPES[output_format],
                    "x-amzn-RequestCharacters": str(len(spoken)),
                },
            )
        except OSError:
            req.outcome = "aborted"
            raise


@dataclass(eq=False)
class FakePolly(FakeAwsServer[PollyRequest]):
    """Fake Polly on 127.0.0.1. Options are plain attributes, changeable while running.

    Args:
        delay: seconds before answering, or ``callable(Text) -> seconds`` (the raw
            request Text, SSML included) so tests can make later sentences finish first.
        throttle_first_n: answer the first N requests with 400 ThrottlingException.
        fail_all: answer every request with 500 ServiceFailureException (an outage).
        ms_per_char: audio length per spoken character.
        max_seconds / min_seconds: clamp of the audio length.
        sample_rate: OGG/MP3 sample rate when the request names none (real Polly
            defaults to 22050 for standard voices, 24000 for neural). A request's
            SampleRate is honoured; pcm defaults to 16000 as in Polly.

    Attributes:
        url, port: where it listens (after start).
        requests: every request received, as ``PollyRequest``.
    """

    handler_class = _PollyHandler

    _: KW_ONLY
    delay: Delay = 0.0
    throttle_first_n: int = 0
    fail_all: bool = False
    ms_per_char: float = 60.0
    max_seconds: float = 3.0
    min_seconds: float = 0.05
    sample_rate: int = 22050

    def __post_init__(self) -> None:
        super().__init__()
        self._audio_lock = threading.Lock()

    def texts(self) -> list[str]:
        """Text of every successfully synthesized request, in arrival order."""
        return [r.text for r in self.requests if r.outcome == "ok"]

    def duration_for(self, spoken: str) -> float:
        seconds = len(spoken.strip()) * self.ms_per_char / 1000
        return min(self.max_seconds, max(self.min_seconds, seconds))

    def audio_bytes(
        self, output_format: str, seconds: float, sample_rate: str | None = None
    ) -> bytes:
        # libsndfile's encoder is not documented as thread-safe; encode serially (the
        # results are cached per duration, so this is rarely contended).
        with self._audio_lock:
            if output_format == "pcm":
                return pcm_tone(seconds, int(sample_rate or 16000))
            rate = int(sample_rate or self.sample_rate)
            if output_format == "mp3":
                return _mp3_tone(max(1, round(seconds * 1000)), rate)
            return ogg_tone(seconds, rate)
