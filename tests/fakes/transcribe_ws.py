"""A local Amazon Transcribe streaming WebSocket endpoint (``StartStreamTranscriptionWebSocket``).

What the page's microphone speaks on AWS: ``GET /stream-transcription-websocket?<pre-signed
query>`` upgraded to a WebSocket whose binary frames are AWS event-stream messages (the page's
``AudioEvent``s in, ``TranscriptEvent``s or an exception out).

The handshake is checked as Transcribe checks it: the query's SigV4 signature is computed here,
independently of botocore, from the request's own path, query and ``Host`` with the secret key
of its access key id, and the URL must be within its ``X-Amz-Expires``. A wrong one is refused
with 403 before any upgrade (the browser sees only a failed handshake); so is an expired one.
The audio of each stream is kept so a test can compare it with what the microphone played.
Each stream transcribes the next of ``texts`` (tests/fakes/transcribe_results.py).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tests.fakes.transcribe_results import ScriptedTranscript, exception_event, transcript_event
from tests.interpreter.interp_eventstream import MessageDecoder

PATH = "/stream-transcription-websocket"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SAMPLE_RATE = 16_000


@dataclass
class WsStream:
    """One accepted stream, as the server saw it."""

    query: dict[str, str]
    audio: bytearray = field(default_factory=bytearray)
    audio_events: int = 0
    ended_by_client: bool = False
    bad_frames: int = 0
    script: ScriptedTranscript | None = None

    @property
    def samples(self) -> np.ndarray:
        return np.frombuffer(bytes(self.audio), dtype="<i2").astype(np.float32) / 32768

    @property
    def seconds(self) -> float:
        return len(self.audio) / (2 * SAMPLE_RATE)


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def signature_problem(
    target: str, host: str, secrets: dict[str, str], region: str, now: float
) -> str | None:
    """Why Transcribe would refuse this pre-signed request target, or None if it is good."""
    url = urlsplit(target)
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires")
    if any(name not in params for name in (*required, "X-Amz-Signature")):
        return "Missing authentication parameters."
    if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        return "Unsupported signature algorithm."
    access_key, _, scope = params["X-Amz-Credential"].partition("/")
    day, scope_region, service, terminator = [*scope.split("/"), "", "", "", ""][:4]
    amz_date = params["X-Amz-Date"]
    if (scope_region, service, terminator) != (region, "transcribe", "aws4_request"):
        return f"Credential should be scoped to a valid region ({region}) and to transcribe."
    if day != amz_date[:8]:
        return "Credential date does not match X-Amz-Date."
    secret = secrets.get(access_key)
    if secret is None:
        return "The security token included in the request is invalid."
    signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    if now > signed_at.timestamp() + int(params["X-Amz-Expires"]):
        return "Signature expired."
    if signed_at.timestamp() > now + 300:
        return "Signature not yet current."
    canonical_query = "&".join(
        f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()) if k != "X-Amz-Signature"
    )
    signed_headers = params.get("X-Amz-SignedHeaders", "host")
    if signed_headers != "host":
        return "Only the host header is signed in a pre-signed Transcribe URL."
    canonical = "\n".join(
        ["GET", url.path, canonical_query, f"host:{host}", "", "host", EMPTY_SHA256]
    )
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = b"AWS4" + secret.encode()
    for part in (day, region, "transcribe", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        return "The request signature we calculated does not match the signature you provided."
    return None


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


class FakeTranscribeWebSocket:
    """Runs in its own thread and event loop; ``texts`` are the streams' transcripts in order.

    ``secrets`` maps access key ids to secret keys; ``clock_offset_s`` moves the server's clock
    (a positive offset makes a fresh URL read as expired).
    """

    def __init__(
        self,
        texts: list[str],
        *,
        secrets: dict[str, str],
        region: str = "us-east-1",
        partial_every_bytes: int = 9600,
    ) -> None:
        self.texts = texts
        self.secrets = dict(secrets)
        self.region = region
        self.partial_every_bytes = partial_every_bytes
        self.clock_offset_s = 0.0
        self.streams: list[WsStream] = []
        self.refused: list[Refusal] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    def reset(self) -> None:
        self.streams.clear()
        self.refused.clear()
        self.clock_offset_s = 0.0

    # ---- the handshake and the stream ---------------------------------------------------------

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path != PATH:
            return self._refuse(connection, 404, f"No such path {path}.")
        problem = signature_problem(
            request.path,
            request.headers.get("Host", ""),
            self.secrets,
            self.region,
            time.time() + self.clock_offset_s,
        )
        if problem is not None:
            return self._refuse(connection, 403, problem)
        return None

    def _refuse(self, connection: ServerConnection, status: int, reason: str) -> Response:
        self.refused.append(Refusal(status, reason))
        return connection.respond(status, reason + "\n")

    async def _serve(self, connection: ServerConnection) -> None:
        query = dict(parse_qsl(urlsplit(connection.request.path).query))  # type: ignore[union-attr]
        stream = WsStream(query)
        index = len(self.streams)
        self.streams.append(stream)
        if query.get("media-encoding") != "pcm" or query.get("sample-rate") != str(SAMPLE_RATE):
            await connection.send(exception_event("BadRequestException", "Only 16 kHz pcm."))
            await connection.close()
            return
        stream.script = ScriptedTranscript(
            self.texts[index % len(self.texts)],
            f"result-{index}",
            self.partial_every_bytes,
            stable_items=query.get("enable-partial-results-stabilization") == "true",
        )
        decoder = MessageDecoder()
        await connection.send(transcript_event([]))  # Transcribe sends result-less events too
        async for frame in connection:
            if not isinstance(frame, bytes):
                stream.bad_frames += 1
                continue
            for message in decoder.feed(frame):
                if message.headers.get(":event-type") != "AudioEvent":
                    stream.bad_frames += 1
                    continue
                if not message.payload:  # the client's end of audio
                    stream.ended_by_client = True
                    await connection.send(stream.script.final(len(stream.audio)))
                    await connection.close()
                    return
                stream.audio_events += 1
                stream.audio += message.payload
                for partial in stream.script.due_partials(len(stream.audio)):
                    await connection.send(partial)

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeTranscribeWebSocket:
        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def main() -> None:
                self._server = await serve(
                    self._serve, "127.0.0.1", 0, process_request=self._check, max_size=2**20
                )
                self._started.set()
                await self._server.wait_closed()

            loop.run_until_complete(main())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-transcribe-ws", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the fake Transcribe WebSocket did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTranscribeWebSocket:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
