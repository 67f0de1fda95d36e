"""A local Amazon Transcribe streaming endpoint: HTTP/2 over TLS (ALPN h2) speaking event streams.

It accepts ``POST /stream-transcription``, decodes the signed ``AudioEvent`` messages, verifies
each ``:chunk-signature`` against the SigV4 chain seeded by the request's ``Authorization``
signature, and answers ``TranscriptEvent`` messages: a growing partial every
``partial_every_bytes`` of audio and a final when the client ends its stream. Each stream
transcribes the next text of ``texts``. With ``stable_items``, each result lists its words as
``Items``, every word of a partial but the last marked ``Stable`` (partial-results stabilization).
``fail_after_bytes`` fails chosen streams mid-utterance: stream ``i`` (in the order they were
opened) gets an ``InternalFailureException`` event and its end once it has received that many
bytes of audio, as Transcribe does when it drops a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from interp_eventstream import MessageDecoder, expected_chunk_signature

from tests.fakes.transcribe_results import ScriptedTranscript, exception_event, transcript_event
from tests.selfsigned import make_self_signed_cert


@dataclass
class StreamRecord:
    """What one transcription stream sent, as the server saw it."""

    headers: dict[str, str]
    audio_chunks: list[bytes] = field(default_factory=list)
    signed_messages: int = 0
    bad_signatures: int = 0
    end_of_stream_message: bool = False
    results_sent: list[dict[str, object]] = field(default_factory=list)
    failed: bool = False

    @property
    def audio_bytes(self) -> int:
        return sum(len(c) for c in self.audio_chunks)


class _Stream:
    def __init__(
        self, server: FakeTranscribe, stream_id: int, headers: dict[str, str], text: str, index: int
    ):
        self.record = StreamRecord(headers)
        self.index = index  # in the order the streams were opened
        self.stream_id = stream_id
        self.decoder = MessageDecoder()
        self.server = server
        self.script = ScriptedTranscript(
            text,
            f"result-{stream_id}",
            server.partial_every_bytes,
            server.stable_items,
            results_sent=self.record.results_sent,
        )
        match = re.search(r"Signature=([0-9a-f]{64})", headers.get("authorization", ""))
        self.prior_signature = bytes.fromhex(match.group(1)) if match else b""

    def on_message(self, headers: dict[str, object], payload: bytes) -> None:
        date_ms = headers.get(":date")
        signature = headers.get(":chunk-signature")
        self.record.signed_messages += 1
        ok = isinstance(date_ms, int) and isinstance(signature, bytes)
        if ok:
            assert isinstance(date_ms, int) and isinstance(signature, bytes)
            expected = expected_chunk_signature(
                secret_key=self.server.secret_key,
                region=self.server.region,
                date_ms=date_ms,
                prior_signature=self.prior_signature,
                payload=payload,
            )
            ok = expected == signature
            self.prior_signature = signature
        if not ok:
            self.record.bad_signatures += 1
        if not payload:
            self.record.end_of_stream_message = True
            return
        for inner in MessageDecoder().feed(payload):
            if inner.headers.get(":event-type") == "AudioEvent":
                self.record.audio_chunks.append(inner.payload)

    @property
    def audio_bytes(self) -> int:
        return self.record.audio_bytes

    def due_partials(self) -> list[bytes]:
        return self.script.due_partials(self.audio_bytes)

    def final(self) -> bytes:
        return self.script.final(self.audio_bytes)


class FakeTranscribe:
    """Runs in its own thread and event loop so that the code under test owns the test's loop."""

    def __init__(
        self,
        cert_dir: Path,
        texts: list[str],
        *,
        region: str = "us-east-1",
        secret_key: str = "test-secret-key",
        partial_every_bytes: int = 9600,
        stable_items: bool = False,
        fail_after_bytes: dict[int, int] | None = None,
    ) -> None:
        self.stable_items = stable_items
        self.fail_after_bytes = fail_after_bytes or {}
        self.cert_path, self.key_path = make_self_signed_cert(cert_dir, "transcribe")
        self.texts = texts
        self.region = region
        self.secret_key = secret_key
        self.partial_every_bytes = partial_every_bytes
        self.streams: list[StreamRecord] = []
        self.alpn_seen: list[str | None] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> FakeTranscribe:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
            # Connections a client left open are ended here, not left to the garbage collector,
            # which reports them ("Task was destroyed but it is pending!") in whatever test runs
            # next in this process, failing that test's clean-log check.
            current = asyncio.current_task()
            handlers = [task for task in asyncio.all_tasks() if task is not current]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        context.set_alpn_protocols(["h2"])
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        self.alpn_seen.append(ssl_object.selected_alpn_protocol() if ssl_object else None)
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams: dict[int, _Stream] = {}
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    self._on_event(conn, streams, event)
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def _on_event(
        self, conn: h2.connection.H2Connection, streams: dict[int, _Stream], event: h2.events.Event
    ) -> None:
        if isinstance(event, h2.events.RequestReceived):
            headers = {str(k): str(v) for k, v in event.headers or []}
            index = len(self.streams)
            stream = _Stream(
                self, event.stream_id, headers, self.texts[index % len(self.texts)], index
            )
            streams[event.stream_id] = stream
            self.streams.append(stream.record)
            conn.send_headers(
                event.stream_id,
                [
                    (":status", "200"),
                    ("content-type", "application/vnd.amazon.eventstream"),
                    ("x-amzn-request-id", f"req-{event.stream_id}"),
                    (
                        "x-amzn-transcribe-language-code",
                        headers.get("x-amzn-transcribe-language-code", ""),
                    ),
                    (
                        "x-amzn-transcribe-sample-rate",
                        headers.get("x-amzn-transcribe-sample-rate", ""),
                    ),
                    ("x-amzn-transcribe-media-encoding", "pcm"),
                    ("x-amzn-transcribe-session-id", f"session-{event.stream_id}"),
                ],
            )
            # Transcribe sends result-less events too; a client must tolerate them.
            conn.send_data(event.stream_id, transcript_event([]))
        elif isinstance(event, h2.events.DataReceived) and event.stream_id in streams:
            stream = streams[event.stream_id]
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            for message in stream.decoder.feed(event.data or b""):
                stream.on_message(message.headers, message.payload)
            for partial in stream.due_partials():
                conn.send_data(event.stream_id, partial)
            limit = self.fail_after_bytes.get(stream.index)
            if limit is not None and stream.record.audio_bytes >= limit:
                streams.pop(event.stream_id)
                stream.record.failed = True
                conn.send_data(event.stream_id, exception_event(), end_stream=True)
        elif isinstance(event, h2.events.DataReceived):
            # Audio still arriving for a stream that failed: keep the connection's window open.
            with contextlib.suppress(h2.exceptions.H2Error):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id in streams:
            stream = streams.pop(event.stream_id)
            conn.send_data(event.stream_id, stream.final(), end_stream=True)
