"""The page's microphone: 16 kHz mono PCM16 over ``/mic`` → a recognizer → the transcript relay.

The page would otherwise need the interpreter to hear it. Here the stack plays the interpreter's
part with the interpreter's own recognizers (``interpreter.recognizers``: Vosk, or NVIDIA Riva
with ``--asr riva``) and its utterance numbering, and publishes partial and final transcripts
through the same ``TranscriptRelay`` the transcripts function uses, so they reach every page of
the user on ``/ws`` as ordinary ``transcript`` events (and are replayable with ``resume``).

As in the interpreter, each utterance gets its own recognizer stream: it opens at the
utterance's first audio and finishes at ``{"type": "end"}`` (the page's own voice detector sends
it after a pause). A recognizer may still end several segments within one stream (a Vosk pause,
a Riva final); each segment is its own ``utteranceId``.

Wire: ``/mic?token=<client token>`` (a bad token is refused before the handshake completes);
binary frames of little-endian PCM16 at 16 kHz; the text frame ``{"type": "end"}`` ends the
utterance. The server answers with small status messages: ``{"type": "status", "state":
"loading" | "listening"}``, ``{"type": "utterance", "utteranceId", "final"}`` when one is
published as final, and ``{"type": "error", "code", "message"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from typing import Literal

import anyio.to_thread
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from interpreter.events import SAMPLE_RATE, AudioFrame, TranscriptEvent
from interpreter.pipeline import UtteranceNumbering, UtteranceOrder, UtteranceSlot
from interpreter.recognizers import Recognizer, RecognizerError, RecognizerStream
from voicebot import runtime, wiring
from voicebot.contract.wire import (
    ErrorEvent,
    MicEnd,
    MicStatusEvent,
    MicUtteranceEvent,
    ServerEvent,
    TranscriptPost,
)
from voicebot.errors import ApiError, ServiceUnavailable
from voicebot.protocol import encode_event

from .responses import deny

logger = logging.getLogger("local.mic")

_BYTES_PER_MS = SAMPLE_RATE * 2 // 1000
# The last results follow the end of audio within a second or two; a recognizer that never
# answers must not keep a closed microphone's session alive.
_LAST_RESULT_TIMEOUT_S = 30.0


class SharedRecognizer:
    """The one recognizer every microphone streams to, built at its first use.

    Vosk's Korean model takes seconds and ~600 MB to load, so a stack nobody speaks to never
    loads it (unless ``--preload-asr``); every page then shares the loaded model.
    """

    def __init__(self, build: Callable[[], Recognizer]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._recognizer: Recognizer | None = None

    @property
    def loaded(self) -> bool:
        return self._recognizer is not None

    def get(self) -> Recognizer:
        with self._lock:
            if self._recognizer is None:
                self._recognizer = self._build()
            return self._recognizer

    def preload_in_background(self) -> None:
        threading.Thread(target=self._preload, name="asr-load", daemon=True).start()

    def _preload(self) -> None:
        try:
            self.get()
        except Exception:
            # The first microphone tries again and tells its page why it cannot listen.
            logger.exception("the recognizer could not be loaded")


class MicService:
    def __init__(self, language: str, recognizer: SharedRecognizer) -> None:
        self._language = language
        self.recognizer = recognizer

    async def serve(self, websocket: WebSocket) -> None:
        try:
            user_id = await anyio.to_thread.run_sync(_verify, websocket.query_params.get("token"))
        except ApiError:
            await deny(websocket, 401)
            return
        await websocket.accept()
        session = MicSession(user_id, self._language, websocket)
        try:
            if not self.recognizer.loaded:
                await session.status("loading")
            recognizer = await anyio.to_thread.run_sync(self.recognizer.get)
            await session.status("listening")
            await session.run(recognizer)
        except WebSocketDisconnect:
            pass
        except RecognizerError as exc:  # its message says what to install or configure
            logger.error("microphone unavailable: %s", exc)
            await session.error("recognizer_unavailable", str(exc))
        except Exception:
            logger.exception("microphone session failed")
            await session.error("internal_error", "The recognizer failed.")


def _verify(token: str | None) -> str:
    return wiring.signer().verify(token, "client").user_id


class MicSession:
    def __init__(self, user_id: str, language: str, websocket: WebSocket) -> None:
        self._user_id = user_id
        self._ws = websocket
        self._numbering = UtteranceNumbering(language)
        self._send_lock = asyncio.Lock()
        self._stream: RecognizerStream | None = None
        self._stream_bytes = 0
        self._odd_byte = b""
        # One per utterance; an ended utterance's reader may still be waiting for its final
        # while the next utterance streams. Their results go out in the order spoken, through
        # one queue and one publisher, so a later utterance can never overtake an earlier one.
        self._readers: set[asyncio.Task[None]] = set()
        self._order = UtteranceOrder()
        self._posts: asyncio.Queue[TranscriptPost] = asyncio.Queue()

    async def send(self, event: ServerEvent) -> None:
        # Readers of consecutive utterances may report at once; a frame must not interleave.
        async with self._send_lock:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await self._ws.send_text(encode_event(event).decode("utf-8"))

    async def status(self, state: Literal["loading", "listening"]) -> None:
        await self.send(MicStatusEvent(state=state))

    async def error(self, code: str, message: str) -> None:
        await self.send(ErrorEvent(code=code, message=message))

    async def run(self, recognizer: Recognizer) -> None:
        publisher = asyncio.create_task(self._publish_in_order())
        try:
            await self._receive(recognizer)
        finally:
            await self._posts.join()
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)

    async def _receive(self, recognizer: Recognizer) -> None:
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes"):
                    await self._audio(recognizer, message["bytes"])
                elif message.get("text") and _is_end(message["text"]):
                    await self._end()
        finally:
            # A page that leaves mid-sentence still gets its words kept as a final.
            await self._end()
            if self._readers:
                await asyncio.wait(self._readers, timeout=_LAST_RESULT_TIMEOUT_S)

    async def _audio(self, recognizer: Recognizer, data: bytes) -> None:
        if self._stream is None:
            self._stream = await recognizer.open_stream()
            self._stream_bytes = 0
            reader = asyncio.create_task(self._read(self._stream, self._order.next()))
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)
        # Recognizers take whole samples; a frame split mid-sample would shift every later one.
        pcm = self._odd_byte + data
        whole = len(pcm) // 2 * 2
        self._odd_byte = pcm[whole:]
        if whole:
            frame = AudioFrame(pcm[:whole], self._stream_bytes // _BYTES_PER_MS)
            self._stream_bytes += whole
            await self._stream.send(frame)

    async def _end(self) -> None:
        stream, self._stream = self._stream, None
        self._odd_byte = b""
        if stream is not None:
            await stream.finish()

    async def _read(self, stream: RecognizerStream, slot: UtteranceSlot) -> None:
        number = self._numbering.for_stream()

        def post(event: TranscriptEvent) -> None:
            if (numbered := number(event)) is not None:
                self._posts.put_nowait(numbered)

        try:
            async for event in stream.events():
                slot.emit(functools.partial(post, event))
        except Exception:
            logger.exception("recognizer stream failed")
            await self.error("internal_error", "The recognizer failed.")
        finally:
            slot.close()

    async def _publish_in_order(self) -> None:
        while True:
            post = await self._posts.get()
            try:
                await self._publish(post)
            except Exception:  # one lost post must not stop the ones after it
                logger.exception("transcript not published")
            finally:
                self._posts.task_done()

    async def _publish(self, post: TranscriptPost) -> None:
        # "mic-" tells the page's own microphone apart from an interpreter's utterances.
        relayed = post.model_copy(update={"utteranceId": f"mic-{post.utteranceId}"})
        try:
            await anyio.to_thread.run_sync(
                lambda: runtime.run(wiring.transcript_relay().publish(self._user_id, relayed))
            )
        except (ApiError, ServiceUnavailable) as exc:
            logger.warning("transcript not published: %s", exc)
            await self.error("not_published", str(exc))
            return
        if post.final:
            await self.send(MicUtteranceEvent(utteranceId=relayed.utteranceId, final=True))


def _is_end(text: str) -> bool:
    try:
        MicEnd.model_validate_json(text)
    except ValidationError:
        return False
    return True
