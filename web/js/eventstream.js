// The AWS event-stream framing (application/vnd.amazon.eventstream) that Amazon Transcribe's
// WebSocket API speaks, both ways. One message, integers big-endian:
//
//   total length u32 | headers length u32 | prelude CRC32 u32 (of the first 8 bytes)
//   headers: name length u8, name, value type u8, value (string: u16 length + UTF-8)
//   payload
//   message CRC32 u32 (of everything before it)

const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;
const STRING = 7;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib's crc32) of `bytes`. */
export function crc32(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i += 1) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * One message with string headers.
 * @param {Record<string, string>} headers
 * @param {Uint8Array} payload
 * @returns {Uint8Array}
 */
export function encodeMessage(headers, payload) {
  const parts = [];
  for (const [name, value] of Object.entries(headers)) {
    const rawName = encoder.encode(name);
    const rawValue = encoder.encode(value);
    const header = new Uint8Array(1 + rawName.length + 3 + rawValue.length);
    header[0] = rawName.length;
    header.set(rawName, 1);
    const at = 1 + rawName.length;
    header[at] = STRING;
    new DataView(header.buffer).setUint16(at + 1, rawValue.length);
    header.set(rawValue, at + 3);
    parts.push(header);
  }
  const headersLength = parts.reduce((sum, part) => sum + part.length, 0);
  const total = PRELUDE_BYTES + headersLength + payload.length + CRC_BYTES;
  const message = new Uint8Array(total);
  const view = new DataView(message.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headersLength);
  view.setUint32(8, crc32(message.subarray(0, 8)));
  let offset = PRELUDE_BYTES;
  for (const part of parts) {
    message.set(part, offset);
    offset += part.length;
  }
  message.set(payload, offset);
  view.setUint32(total - CRC_BYTES, crc32(message.subarray(0, total - CRC_BYTES)));
  return message;
}

/**
 * An `AudioEvent` of PCM16 (an empty one ends the stream's audio).
 * @param {ArrayBuffer | Uint8Array} pcm
 */
export function audioEvent(pcm) {
  return encodeMessage(
    {
      ":message-type": "event",
      ":event-type": "AudioEvent",
      ":content-type": "application/octet-stream",
    },
    pcm instanceof Uint8Array ? pcm : new Uint8Array(pcm),
  );
}

function readHeaders(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headers = {};
  let i = 0;
  while (i < bytes.length) {
    const nameLength = bytes[i];
    const name = decoder.decode(bytes.subarray(i + 1, i + 1 + nameLength));
    i += 1 + nameLength;
    const type = bytes[i];
    i += 1;
    let value;
    if (type === 0 || type === 1) value = type === 0;
    else if (type === 2) [value, i] = [view.getInt8(i), i + 1];
    else if (type === 3) [value, i] = [view.getInt16(i), i + 2];
    else if (type === 4) [value, i] = [view.getInt32(i), i + 4];
    else if (type === 5 || type === 8) [value, i] = [Number(view.getBigInt64(i)), i + 8];
    else if (type === 6 || type === 7) {
      const length = view.getUint16(i);
      const raw = bytes.subarray(i + 2, i + 2 + length);
      value = type === STRING ? decoder.decode(raw) : raw.slice();
      i += 2 + length;
    } else if (type === 9) [value, i] = [bytes.slice(i, i + 16), i + 16];
    else throw new Error(`event stream: unknown header type ${type}`);
    headers[name] = value;
  }
  return headers;
}

/** Reads messages out of frames (a WebSocket frame holds whole messages, but need not). */
export class EventStreamDecoder {
  constructor() {
    this.buffer = new Uint8Array(0);
  }

  /**
   * @param {ArrayBuffer | Uint8Array} chunk
   * @returns {{headers: Record<string, any>, payload: Uint8Array}[]}
   * @throws {Error} on a CRC mismatch or a malformed message
   */
  push(chunk) {
    const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    const joined = new Uint8Array(this.buffer.length + bytes.length);
    joined.set(this.buffer);
    joined.set(bytes, this.buffer.length);
    const messages = [];
    let offset = 0;
    while (joined.length - offset >= PRELUDE_BYTES) {
      const view = new DataView(joined.buffer, offset);
      const total = view.getUint32(0);
      const headersLength = view.getUint32(4);
      if (crc32(joined.subarray(offset, offset + 8)) !== view.getUint32(8)) {
        throw new Error("event stream: prelude CRC mismatch");
      }
      if (total < PRELUDE_BYTES + headersLength + CRC_BYTES) {
        throw new Error("event stream: bad message length");
      }
      if (joined.length - offset < total) break;
      const message = joined.subarray(offset, offset + total);
      const crc = new DataView(message.buffer, message.byteOffset).getUint32(total - CRC_BYTES);
      if (crc32(message.subarray(0, total - CRC_BYTES)) !== crc) {
        throw new Error("event stream: message CRC mismatch");
      }
      const headersEnd = PRELUDE_BYTES + headersLength;
      messages.push({
        headers: readHeaders(message.subarray(PRELUDE_BYTES, headersEnd)),
        payload: message.slice(headersEnd, total - CRC_BYTES),
      });
      offset += total;
    }
    this.buffer = joined.slice(offset);
    return messages;
  }
}

/**
 * What a Transcribe message says: its results, an exception, or something else to ignore.
 * @returns {{kind: "transcript", results: object[]} | {kind: "exception", type: string,
 *   message: string} | {kind: "other"}}
 */
export function readTranscribeMessage({ headers, payload }) {
  const type = headers[":message-type"];
  if (type === "event" && headers[":event-type"] === "TranscriptEvent") {
    const body = JSON.parse(decoder.decode(payload));
    return { kind: "transcript", results: body?.Transcript?.Results ?? [] };
  }
  if (type === "exception" || type === "error") {
    let message = "";
    try {
      const body = JSON.parse(decoder.decode(payload));
      message = body.Message ?? body.message ?? "";
    } catch {
      message = headers[":error-message"] ?? "";
    }
    const name = headers[":exception-type"] ?? headers[":error-code"] ?? "UnknownException";
    return { kind: "exception", type: name, message };
  }
  return { kind: "other" };
}
