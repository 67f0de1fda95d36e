"""The wire's edge: parse what arrives into the contract's models, serialize what leaves.

The models themselves live in :mod:`voicebot.contract.wire`; this module is where bytes become
models and models become bytes, and where every parse failure becomes a protocol error (never a
traceback).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from .contract.routes import ACTION_NAMES
from .contract.wire import (
    ID_PATTERN,
    MAX_WS_MESSAGE_BYTES,
    AnyClientAction,
    AudioEvent,
    CancelAction,
    ChatAction,
    ClientAction,
    PingAction,
    ResumeAction,
    ServerEvent,
    SessionRequest,
    SpeechRequest,
    TranscriptPost,
)
from .errors import ApiError, bad_request

__all__ = [
    "MAX_WS_MESSAGE_BYTES",
    "CancelAction",
    "ChatAction",
    "InvalidAction",
    "PingAction",
    "ResumeAction",
    "SessionRequest",
    "SpeechRequest",
    "TranscriptPost",
    "audio_events",
    "encode_event",
    "parse_client_action",
    "parse_json_object",
    "parse_model",
]

# A discriminated union is a type form, not a class: the cast only quiets mypy.
_client_action: TypeAdapter[Any] = TypeAdapter(cast("type[Any]", AnyClientAction))
_TURN_ID = re.compile(ID_PATTERN)


def parse_json_object(raw: str | bytes | None, *, max_bytes: int) -> dict[str, Any]:
    """Parse a request body; every failure is a protocol error, never a traceback."""
    if raw is None or raw == "" or raw == b"":
        raise bad_request("The request body must be a JSON object.", "invalid_json")
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise ApiError(413, "payload_too_large", f"The body must be at most {max_bytes} bytes.")
    try:
        # Bytes are UTF-8 or nothing: json.loads would also guess UTF-16 and UTF-32 from them.
        value = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except ValueError:
        # Not JSON, not UTF-8, or a number of more digits than Python converts (4300).
        raise bad_request("The request body is not valid JSON.", "invalid_json") from None
    except RecursionError:
        # The decoder recurses per nesting level; a body of a few thousand "[" exhausts it.
        raise bad_request("The request body is nested too deeply.", "invalid_json") from None
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


class InvalidAction(ApiError):
    """A page's message that failed validation, with the ``turnId`` it carried (when that is a
    valid id), so the ``error`` event names the turn it is about (docs/PROTOCOL.md)."""

    def __init__(self, message: str, turn_id: str | None) -> None:
        super().__init__(400, "bad_request", message)
        self.turn_id = turn_id


def _carried_turn_id(data: dict[str, Any]) -> str | None:
    turn_id = data.get("turnId")
    # Only a well-formed id is echoed: never a lone surrogate, markup or a 10 KB string.
    return turn_id if isinstance(turn_id, str) and _TURN_ID.fullmatch(turn_id) else None


def parse_client_action(raw: str | bytes | None, *, max_bytes: int) -> ClientAction:
    data = parse_json_object(raw, max_bytes=max_bytes)
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTION_NAMES:
        raise bad_request("Unknown or missing action.", "unknown_action")
    try:
        parsed: ClientAction = _client_action.validate_python(data)
    except ValidationError as exc:
        raise InvalidAction(validation_message(exc), _carried_turn_id(data)) from None
    return parsed


def encode_event(event: ServerEvent) -> bytes:
    """The one serialization of an outgoing event: compact UTF-8 JSON, unset options left out."""
    return event.model_dump_json(exclude_none=True).encode("utf-8")


def _audio_envelope_bytes(turn_id: str, index: int, part: int) -> int:
    skeleton = AudioEvent(
        turnId=turn_id, index=index, data="", part=part, last=False, piece=part, pieceLast=False
    )
    return len(encode_event(skeleton))


def _chunks(turn_id: str, index: int, audio: bytes) -> list[bytes]:
    # Leave room for the envelope and for part and piece numbers of several digits.
    room = MAX_WS_MESSAGE_BYTES - _audio_envelope_bytes(turn_id, index, 99_999)
    raw_per_part = max(3, (room // 4) * 3)
    return [audio[i : i + raw_per_part] for i in range(0, len(audio), raw_per_part)] or [b""]


def audio_events(turn_id: str, index: int, audio: bytes) -> list[AudioEvent]:
    """Split one sentence's audio into parts whose JSON stays under the WebSocket frame limit.

    Each part's ``data`` is complete, padded base64 of its own bytes, so a client can decode parts
    independently and concatenate the bytes.
    """
    return _parts(turn_id, index, audio, first_part=0, last=True, piece=None)


def piece_events(
    turn_id: str, index: int, audio: bytes, *, piece: int, first_part: int, last: bool
) -> list[AudioEvent]:
    """The parts of one whole OGG file of a streamed sentence (``piece`` 0, 1, …).

    Parts are numbered on through the sentence from ``first_part`` and only the sentence's last
    piece ends with ``last``, so a page that knows nothing of pieces still gets byte ranges of
    one file: the pieces one after another, a chained Ogg stream, which browsers decode whole.
    """
    return _parts(turn_id, index, audio, first_part=first_part, last=last, piece=piece)


def _parts(
    turn_id: str, index: int, audio: bytes, *, first_part: int, last: bool, piece: int | None
) -> list[AudioEvent]:
    chunks = _chunks(turn_id, index, audio)
    return [
        AudioEvent(
            turnId=turn_id,
            index=index,
            data=base64.b64encode(chunk).decode("ascii"),
            part=first_part + n,
            last=last and n == len(chunks) - 1,
            # A sentence spoken as one file says nothing of pieces (as before pieces existed).
            **({} if piece is None else {"piece": piece, "pieceLast": n == len(chunks) - 1}),
        )
        for n, chunk in enumerate(chunks)
    ]
