"""An independent AWS event-stream codec for the fake Transcribe server.

Written from the wire format (prelude, CRC32s, typed headers) rather than borrowed from
``amazon_transcribe`` so that the tests check the client against the format, not against itself.
"""

from __future__ import annotations

import binascii
import datetime
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Any

_PRELUDE = struct.Struct("!III")  # total length, headers length, prelude CRC


@dataclass(frozen=True)
class Message:
    headers: dict[str, Any]
    payload: bytes
    raw_headers: bytes


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """Encode a message whose headers are all strings (type 7), as Transcribe sends them."""
    raw_headers = b""
    for name, value in headers.items():
        key = name.encode()
        val = value.encode()
        raw_headers += (
            struct.pack("!B", len(key)) + key + b"\x07" + struct.pack("!H", len(val)) + val
        )
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude_crc = struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + prelude_crc + raw_headers + payload
    return body + struct.pack("!I", binascii.crc32(body) & 0xFFFFFFFF)


def _decode_headers(raw: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    i = 0
    while i < len(raw):
        name_len = raw[i]
        name = raw[i + 1 : i + 1 + name_len].decode()
        i += 1 + name_len
        kind = raw[i]
        i += 1
        value: Any
        if kind in (0, 1):
            value = kind == 0
        elif kind == 8:  # timestamp, epoch milliseconds
            (value,) = struct.unpack("!q", raw[i : i + 8])
            i += 8
        elif kind in (6, 7):
            (length,) = struct.unpack("!H", raw[i : i + 2])
            value = raw[i + 2 : i + 2 + length]
            if kind == 7:
                value = value.decode()
            i += 2 + length
        elif kind == 4:
            (value,) = struct.unpack("!i", raw[i : i + 4])
            i += 4
        else:
            raise ValueError(f"header type {kind} not expected from the Transcribe client")
        headers[name] = value
    return headers


class MessageDecoder:
    """Incremental decoder that validates both CRCs of every message."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= 12:
            total, headers_len, prelude_crc = _PRELUDE.unpack(self._buffer[:12])
            if binascii.crc32(self._buffer[:8]) & 0xFFFFFFFF != prelude_crc:
                raise ValueError("prelude CRC mismatch")
            if len(self._buffer) < total:
                break
            frame, self._buffer = self._buffer[:total], self._buffer[total:]
            (message_crc,) = struct.unpack("!I", frame[-4:])
            if binascii.crc32(frame[:-4]) & 0xFFFFFFFF != message_crc:
                raise ValueError("message CRC mismatch")
            raw_headers = frame[12 : 12 + headers_len]
            messages.append(
                Message(_decode_headers(raw_headers), frame[12 + headers_len : -4], raw_headers)
            )
        return messages


def expected_chunk_signature(
    *, secret_key: str, region: str, date_ms: int, prior_signature: bytes, payload: bytes
) -> bytes:
    """SigV4 event signature (AWS4-HMAC-SHA256-PAYLOAD), chained from the prior signature."""
    when = datetime.datetime.fromtimestamp(date_ms / 1000, tz=datetime.UTC)
    timestamp = when.strftime("%Y%m%dT%H%M%SZ")
    day = timestamp[:8]
    scope = f"{day}/{region}/transcribe/aws4_request"
    date_header = b"\x05:date\x08" + struct.pack("!q", date_ms)
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            timestamp,
            scope,
            prior_signature.hex(),
            hashlib.sha256(date_header).hexdigest(),
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    key = b"AWS4" + secret_key.encode()
    for part in (day, region, "transcribe", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()
