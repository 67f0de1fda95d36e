"""The wire contract of PROTOCOL.md (version 1) as pydantic models.

Incoming models are strict (``"seq": "3"`` or ``"final": 1`` is a 400, not a coercion) and ignore
unknown fields, because the protocol allows clients to add optional fields. Outgoing events are
plain dicts built by small functions so their field names read exactly like the protocol.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from .errors import ApiError, bad_request

MAX_SAFE_INTEGER = 9_007_199_254_740_991
# API Gateway refuses WebSocket frames over 128 KiB; the protocol promises at most 102,400 bytes.
MAX_WS_MESSAGE_BYTES = 102_400

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Lang = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]
Voice = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]


class _Incoming(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class SessionRequest(_Incoming):
    accessCode: Annotated[str, StringConstraints(max_length=256)] | None = None


class TranscriptPost(_Incoming):
    utteranceId: Id
    seq: Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    final: bool
    lang: Lang | None = None


class SpeechRequest(_Incoming):
    text: Annotated[str, StringConstraints(min_length=1, max_length=1500)]
    voice: Voice | None = None
    lang: Lang | None = None


class ChatAction(_Incoming):
    action: Literal["chat"]
    turnId: Id
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class CancelAction(_Incoming):
    action: Literal["cancel"]
    turnId: Id
    heard: Annotated[int, Field(ge=0, le=10_000)] | None = None


class ResumeAction(_Incoming):
    action: Literal["resume"]
    # Redis stream ids look like "1700000000000-0"; anything else simply replays everything.
    after: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PingAction(_Incoming):
    action: Literal["ping"]


ClientAction = Annotated[
    ChatAction | CancelAction | ResumeAction | PingAction, Field(discriminator="action")
]
_client_action = TypeAdapter(ClientAction)


def parse_json_object(raw: str | bytes | None, *, max_bytes: int) -> dict[str, Any]:
    """Parse a request body; every failure is a protocol error, never a traceback."""
    if raw is None or raw == "" or raw == b"":
        raise bad_request("The request body must be a JSON object.", "invalid_json")
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise ApiError(413, "payload_too_large", f"The body must be at most {max_bytes} bytes.")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.", "invalid_json") from None
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.", "invalid_json")
    return value


def validation_message(exc: ValidationError) -> str:
    """A short, human message naming the offending fields (no input echo, no internals)."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad_request(validation_message(exc)) from None


def parse_client_action(
    raw: str | bytes | None, *, max_bytes: int
) -> ChatAction | CancelAction | ResumeAction | PingAction:
    data = parse_json_object(raw, max_bytes=max_bytes)
    if data.get("action") not in ("chat", "cancel", "resume", "ping"):
        raise bad_request("Unknown or missing action.", "unknown_action")
    try:
        return _client_action.validate_python(data)
    except ValidationError as exc:
        raise bad_request(validation_message(exc)) from None


# ---- server → client events -------------------------------------------------------------------


def transcript_event(
    event_id: str, utterance_id: str, seq: int, text: str, final: bool, lang: str | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "transcript",
        "id": event_id,
        "utteranceId": utterance_id,
        "seq": seq,
        "text": text,
        "final": final,
    }
    if lang:
        event["lang"] = lang
    return event


def delta_event(turn_id: str, text: str) -> dict[str, Any]:
    return {"type": "delta", "turnId": turn_id, "text": text}


def sentence_event(turn_id: str, index: int, text: str) -> dict[str, Any]:
    return {"type": "sentence", "turnId": turn_id, "index": index, "text": text}


def done_event(
    turn_id: str, text: str, interrupted: bool, ledger: dict[str, int]
) -> dict[str, Any]:
    return {
        "type": "done",
        "turnId": turn_id,
        "text": text,
        "interrupted": interrupted,
        "ledger": ledger,
    }


def error_event(code: str, message: str, turn_id: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if turn_id is not None:
        event["turnId"] = turn_id
    return event


def pong_event() -> dict[str, Any]:
    return {"type": "pong"}


def _audio_envelope_bytes(turn_id: str, index: int, part: int) -> int:
    skeleton = {
        "type": "audio",
        "turnId": turn_id,
        "index": index,
        "format": "ogg_vorbis",
        "data": "",
        "part": part,
        "last": False,
    }
    return len(encode_event(skeleton))


def audio_events(turn_id: str, index: int, audio: bytes) -> list[dict[str, Any]]:
    """Split one sentence's audio into parts whose JSON stays under the WebSocket frame limit.

    Each part's ``data`` is complete, padded base64 of its own bytes, so a client can decode parts
    independently and concatenate the bytes.
    """
    # Leave room for the envelope and for a part number of several digits.
    room = MAX_WS_MESSAGE_BYTES - _audio_envelope_bytes(turn_id, index, 99_999)
    raw_per_part = max(3, (room // 4) * 3)
    chunks = [audio[i : i + raw_per_part] for i in range(0, len(audio), raw_per_part)] or [b""]
    return [
        {
            "type": "audio",
            "turnId": turn_id,
            "index": index,
            "format": "ogg_vorbis",
            "data": base64.b64encode(chunk).decode("ascii"),
            "part": part,
            "last": part == len(chunks) - 1,
        }
        for part, chunk in enumerate(chunks)
    ]


def encode_event(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
