"""Encoder for the AWS event-stream binary framing (``application/vnd.amazon.eventstream``).

Layout of one message (all integers big-endian)::

    total_length:u32 | headers_length:u32 | prelude_crc:u32   (prelude, CRC32 of the first 8 bytes)
    headers (headers_length bytes)
    payload
    message_crc:u32                                           (CRC32 of everything before it)

Each header is ``name_len:u8 | name | type:u8 | value``; we only need type 7 (string):
``value_len:u16 | utf-8 bytes``. botocore's ``EventStreamBuffer`` validates both CRCs.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

_STRING_HEADER = 7


def _crc32(data: bytes, crc: int = 0) -> int:
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def encode_headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING_HEADER, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    raw_headers = encode_headers(headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", _crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", _crc32(body))


def event_message(event_type: str, payload: dict[str, Any]) -> bytes:
    """A normal event (``:message-type`` = event), e.g. ``contentBlockDelta``."""
    return encode_message(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        json.dumps(payload, ensure_ascii=False).encode("utf-8"),
    )


def exception_message(exception_type: str, message: str) -> bytes:
    """A modeled in-stream exception (``:message-type`` = exception).

    botocore raises ``EventStreamError`` with ``Code`` = ``exception_type`` when it
    reads this while iterating the stream.
    """
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode("utf-8"),
    )
