"""A Riva server on 127.0.0.1 built from the client's own generated gRPC stubs.

It implements ``RivaSpeechRecognition.StreamingRecognize`` and ``RivaSpeechSynthesis.
SynthesizeOnline`` the way a Riva server answers them, records what arrives, and can be told to
fail a call part-way (``context.abort``) to prove the client recovers.
"""

from __future__ import annotations

import math
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import riva.client.proto.riva_asr_pb2 as rasr
import riva.client.proto.riva_asr_pb2_grpc as rasr_grpc
import riva.client.proto.riva_tts_pb2 as rtts
import riva.client.proto.riva_tts_pb2_grpc as rtts_grpc

SAMPLE_RATE = 16_000


def words_from_samples(audio: bytes) -> str:
    """The test "language": a run of one constant sample value ``v`` is the word ``w<v>``."""
    samples = struct.unpack(f"<{len(audio) // 2}h", audio[: len(audio) // 2 * 2])
    words: list[str] = []
    for value in samples:
        if value and (not words or words[-1] != f"w{value}"):
            words.append(f"w{value}")
    return " ".join(words)


@dataclass
class RecognizeCall:
    config: rasr.StreamingRecognitionConfig | None = None
    chunks: list[bytes] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def audio(self) -> bytes:
        return b"".join(self.chunks)


@dataclass
class Failure:
    """Abort the call after ``after_chunks`` audio chunks with this status."""

    after_chunks: int
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    details: str = "stream dropped"


class FakeRiva(rasr_grpc.RivaSpeechRecognitionServicer, rtts_grpc.RivaSpeechSynthesisServicer):
    def __init__(self, transcribe: Callable[[bytes], str] = words_from_samples) -> None:
        self.transcribe = transcribe
        self.calls: list[RecognizeCall] = []
        # Per call index (0, 1, …): how that call fails; a call not listed succeeds.
        self.failures: dict[int, Failure] = {}
        self.fail_every_call: Failure | None = None
        # A final every N chunks (an end-of-speech pause in a long stream); 0: only at the end.
        self.final_every_chunks = 0
        self.report_audio_processed = True
        # Per call index: seconds the last final takes after the audio ends (a busy server).
        self.final_delays_s: dict[int, float] = {}
        # How a real server paces its stream: seconds before the first piece (model start, the
        # network), and seconds of compute per second of audio before each piece (the real-time
        # factor). 0: every piece at once (the tests' default).
        self.tts_startup_s = 0.0
        self.tts_real_time_factor = 0.0
        self.tts_requests: list[rtts.SynthesizeSpeechRequest] = []
        self.tts_metadata: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def StreamingRecognize(
        self,
        request_iterator: Iterator[rasr.StreamingRecognizeRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[rasr.StreamingRecognizeResponse]:
        call = RecognizeCall(metadata=dict(context.invocation_metadata()))
        with self._lock:
            index = len(self.calls)
            self.calls.append(call)
        failure = self.failures.get(index, self.fail_every_call)
        utterance = bytearray()  # audio since this call's last final
        processed = 0
        for request in request_iterator:
            if request.HasField("streaming_config"):
                call.config = request.streaming_config
                continue
            call.chunks.append(request.audio_content)
            utterance += request.audio_content
            processed += len(request.audio_content)
            if failure is not None and len(call.chunks) >= failure.after_chunks:
                context.abort(failure.code, failure.details)
            final = self.final_every_chunks and len(call.chunks) % self.final_every_chunks == 0
            yield self._response(self.transcribe(bytes(utterance)), bool(final), processed)
            if final:
                utterance.clear()
        if failure is not None:
            context.abort(failure.code, failure.details)
        if utterance:
            time.sleep(self.final_delays_s.get(index, 0.0))
            yield self._response(self.transcribe(bytes(utterance)), True, processed)

    def _response(self, text: str, final: bool, processed: int) -> rasr.StreamingRecognizeResponse:
        seconds = processed / (SAMPLE_RATE * 2) if self.report_audio_processed else 0.0
        if final:
            result = rasr.StreamingRecognitionResult(is_final=True, audio_processed=seconds)
            result.alternatives.add(transcript=text + " ", confidence=0.9)
            return rasr.StreamingRecognizeResponse(results=[result])
        # Like Riva: the interim hypothesis split into a stable and an unstable result.
        words = text.split(" ") if text else []
        stable, unstable = " ".join(words[:-1]), words[-1] if words else ""
        response = rasr.StreamingRecognizeResponse()
        for part, stability in ((stable + " " if stable else "", 0.9), (unstable, 0.1)):
            result = response.results.add(stability=stability, audio_processed=seconds)
            result.alternatives.add(transcript=part)
        return response

    def SynthesizeOnline(
        self,
        request_iterator: Iterator[rtts.SynthesizeSpeechRequest],
        context: grpc.ServicerContext,
    ) -> Iterator[rtts.SynthesizeSpeechResponse]:
        metadata = dict(context.invocation_metadata())
        for request in request_iterator:
            self.tts_requests.append(request)
            self.tts_metadata.append(metadata)
            if request.language_code == "ko-KR" and not request.voice_name:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "No voice for language ko-KR")
            # A 440 Hz tone, 50 ms per character, streamed in 100 ms pieces as Riva streams,
            # each piece made when it is sent (so a long sentence's first piece is not late).
            rate = request.sample_rate_hz
            total = int(rate * 0.05 * len(request.text))
            piece = rate // 10
            time.sleep(self.tts_startup_s)
            for start in range(0, total, piece):
                n = np.arange(start, min(start + piece, total))
                chunk = (8000 * np.sin(2 * math.pi * 440 * n / rate)).astype("<i2").tobytes()
                time.sleep(self.tts_real_time_factor * len(n) / rate)
                yield rtts.SynthesizeSpeechResponse(audio=chunk)


class RivaServer:
    """``FakeRiva`` served on 127.0.0.1 (plain, or TLS with a given key and certificate)."""

    def __init__(
        self, servicer: FakeRiva, port: int = 0, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.servicer = servicer
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        rasr_grpc.add_RivaSpeechRecognitionServicer_to_server(servicer, self._server)
        rtts_grpc.add_RivaSpeechSynthesisServicer_to_server(servicer, self._server)
        if tls is None:
            self.port = self._server.add_insecure_port(f"127.0.0.1:{port}")
        else:
            key, cert = tls
            credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
            self.port = self._server.add_secure_port(f"127.0.0.1:{port}", credentials)
        self._server.start()

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop(grace=None)
