// The page's microphone on AWS: each utterance the voice gate hears streams to Amazon Transcribe's
// WebSocket API with a pre-signed URL from POST /api/transcribe/stream, and its results go to the
// page's own WebSocket as `transcript` actions, numbered exactly as the interpreter numbers them
// (interpreter/pipeline.py UtteranceNumbering, interpreter/recognizers/transcribe.py), so a device
// and a page give the same transcript events for the same audio (docs/PROTOCOL.md).
//
// One stream per utterance, opened at speech start, ended after the pause: silence is never sent.
// A stream that is refused or breaks is opened again with a fresh URL, and the utterance's audio
// not yet covered by a final is sent again; after MAX_RECONNECTS failures in a row the last
// partial becomes the final and the page is told.

import { EventStreamDecoder, audioEvent, readTranscribeMessage } from "./eventstream.js";

const MAX_TEXT_CHARS = 2000;
const BYTES_PER_SECOND = 16_000 * 2;
export const MAX_RECONNECTS = 3;
const RECONNECT_DELAY_MS = 250;
// The last results follow the end of audio within a second or two; a silent stream must not hold
// the utterances after it forever.
const LAST_RESULT_TIMEOUT_MS = 10_000;
const END_OF_AUDIO = new Uint8Array(0);

/**
 * How many leading characters of `transcript` its leading `Stable` items cover (null without
 * items or flags): an item's stability only counts while every item before it is stable too.
 */
export function stableCharsOf(transcript, items) {
  if (!items?.length || items.some((item) => typeof item.Stable !== "boolean")) return null;
  let cursor = 0;
  let covered = 0;
  for (const item of items) {
    const content = item.Content ?? "";
    const at = transcript.indexOf(content, cursor);
    if (at < 0 || !item.Stable) break;
    cursor = covered = at + content.length;
  }
  return covered;
}

function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Every recognizer segment is its own utterance (`utteranceId`, `seq` 0, 1, …). */
export class UtteranceNumbering {
  constructor(lang, prefix = "mic-", runId = randomHex(6)) {
    Object.assign(this, { lang, prefix, runId, count: 0 });
  }

  /** @returns {(event: {segment: string, text: string, final: boolean,
   *   stableChars?: number | null}) => object | null} one stream's numbering */
  forStream() {
    const segments = new Map();
    return (event) => {
      let segment = segments.get(event.segment);
      if (!segment) {
        this.count += 1;
        segment = { id: `${this.prefix}${this.runId}-${this.count}`, seq: 0, text: "", stable: null };
        segments.set(event.segment, segment);
      }
      const text = event.text.trim().slice(0, MAX_TEXT_CHARS);
      const stable = postedStable(event, text);
      const unchanged = text === segment.text && (stable ?? 0) <= (segment.stable ?? 0);
      if (!text || (!event.final && unchanged) || segment.seq < 0) return null;
      const post = { utteranceId: segment.id, seq: segment.seq, text, final: event.final };
      if (this.lang) post.lang = this.lang;
      if (stable !== null) post.stableChars = stable;
      Object.assign(segment, { text, stable, seq: event.final ? -1 : segment.seq + 1 });
      return post;
    };
  }
}

function postedStable(event, text) {
  if (event.final || typeof event.stableChars !== "number") return null;
  const lead = event.text.length - event.text.trimStart().length;
  return Math.max(0, Math.min(text.length, event.stableChars - lead));
}

/** Keeps consecutive utterances' results in speech order (UtteranceOrder in the interpreter). */
class UtteranceOrder {
  constructor() {
    this.slots = [];
  }

  next() {
    const slot = { held: [], closed: false };
    this.slots.push(slot);
    return slot;
  }

  emit(slot, release) {
    if (this.slots[0] === slot) release();
    else slot.held.push(release);
  }

  close(slot) {
    slot.closed = true;
    while (this.slots.length && this.slots[0].closed) {
      this.slots.shift();
      for (const release of this.slots[0]?.held.splice(0) ?? []) release();
    }
  }
}

/** Why the microphone stopped hearing: shown to the person in their language. */
export class TranscribeError extends Error {
  /** @param {"refused" | "failed" | "quota" | "presign"} reason */
  constructor(reason, detail, retryAfter = null) {
    super(detail || reason);
    Object.assign(this, { reason, retryAfter });
  }
}

/** One gate utterance, across as many Transcribe streams as it takes. */
export class TranscribeUtterance {
  constructor({ presign, emit, onGiveUp, onDone }) {
    Object.assign(this, { presign, emit, onGiveUp, onDone });
    this.unfinalized = []; // chunks sent but not yet covered by a final
    this.unfinalizedStart = 0; // utterance offset (bytes) of their first byte
    this.sent = 0; // utterance offset just past the last chunk
    this.base = 0; // utterance offset of the current stream's first byte
    this.segment = 0;
    this.lastPartial = "";
    this.failures = 0;
    this.everOpened = false;
    this.finished = false;
    this.over = false;
    this.socket = null;
  }

  start() {
    this.#connect();
  }

  send(pcm) {
    const chunk = new Uint8Array(pcm);
    this.unfinalized.push(chunk);
    this.sent += chunk.length;
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(audioEvent(chunk));
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(audioEvent(END_OF_AUDIO));
    this.lastTimer = setTimeout(() => this.#end(), LAST_RESULT_TIMEOUT_MS);
  }

  async #connect() {
    let stream;
    try {
      stream = await this.presign();
    } catch (error) {
      if (error?.code === "quota_exceeded") {
        this.#giveUp(new TranscribeError("quota", error.message, error.retryAfter));
      } else this.#retry(new TranscribeError("presign", error?.message));
      return;
    }
    if (this.over) return;
    const socket = new WebSocket(stream.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    const decoder = new EventStreamDecoder();
    let opened = false;
    let problem = null;
    socket.onopen = () => {
      opened = this.everOpened = true;
      this.base = this.unfinalizedStart;
      for (const chunk of this.unfinalized) socket.send(audioEvent(chunk));
      if (this.finished) socket.send(audioEvent(END_OF_AUDIO));
    };
    socket.onmessage = ({ data }) => {
      try {
        for (const message of decoder.push(data)) {
          const read = readTranscribeMessage(message);
          if (read.kind === "transcript") read.results.forEach((result) => this.#result(result));
          else if (read.kind === "exception") {
            problem = new TranscribeError("failed", `${read.type}: ${read.message}`);
            socket.close();
          }
        }
      } catch (error) {
        problem = new TranscribeError("failed", error.message);
        socket.close();
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.over) return;
      if (!problem && opened && this.finished) this.#end(); // all was said
      else if (problem && this.finished && !this.unfinalized.length && !this.lastPartial) {
        this.#end(); // it broke after its last final: nothing is left to hear
      } else {
        const ended = opened ? "the stream ended before the audio did" : "";
        this.#retry(problem ?? new TranscribeError(opened ? "failed" : "refused", ended));
      }
    };
  }

  #result(result) {
    const alternative = result.Alternatives?.[0];
    if (!alternative) return;
    const text = alternative.Transcript ?? "";
    const segment = String(this.segment);
    if (result.IsPartial) {
      this.lastPartial = text.trim();
      const stableChars = stableCharsOf(text, alternative.Items);
      this.emit({ segment, text, final: false, stableChars });
      return;
    }
    this.segment += 1;
    this.lastPartial = "";
    this.failures = 0; // only a final is progress
    this.#finalizedUpTo(result.EndTime);
    this.emit({ segment, text, final: true });
  }

  #finalizedUpTo(endTime) {
    // EndTime counts from the start of the current stream; without it, all sent so far is covered.
    const covered = endTime
      ? this.base + Math.round(endTime * (BYTES_PER_SECOND / 2)) * 2
      : this.sent;
    while (
      this.unfinalized.length &&
      this.unfinalizedStart + this.unfinalized[0].length <= covered
    ) {
      this.unfinalizedStart += this.unfinalized.shift().length;
    }
  }

  #retry(error) {
    this.failures += 1;
    if (this.failures > MAX_RECONNECTS) {
      const refused = !this.everOpened && error.reason !== "presign";
      this.#giveUp(refused ? new TranscribeError("refused", error.message) : error);
      return;
    }
    setTimeout(() => this.over || this.#connect(), RECONNECT_DELAY_MS * 2 ** (this.failures - 1));
  }

  #giveUp(error) {
    this.onGiveUp(error);
    this.#end();
  }

  #end() {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.lastTimer);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
      this.socket = null;
    }
    if (this.lastPartial) {
      // Nothing more will be recognized: the partial the person saw becomes final.
      this.emit({ segment: String(this.segment), text: this.lastPartial, final: true });
      this.lastPartial = "";
    }
    this.onDone();
  }
}

/**
 * What the Microphone drives when config.json names `transcribeUrl`: begin, audio, end of each
 * utterance. `publish` sends a `transcript` action (the page's socket).
 */
export class TranscribeTransport {
  /**
   * @param {object} options
   * @param {() => Promise<{url: string}>} options.presign a fresh URL (POST transcribeUrl).
   * @param {(post: object) => void} options.publish
   * @param {(error: TranscribeError) => void} options.onError once an utterance gave up.
   * @param {string} [options.language] the posts' `lang`.
   */
  constructor({ presign, publish, onError, language }) {
    Object.assign(this, { presign, publish, onError });
    this.numbering = new UtteranceNumbering(language);
    this.order = new UtteranceOrder();
    this.current = null;
  }

  async open() {}

  /** @param {number} startedAt epoch ms of the utterance's first voiced audio */
  begin(startedAt) {
    const slot = this.order.next();
    const number = this.numbering.forStream();
    const times = { speechStartedAt: Math.round(startedAt) };
    const utterance = new TranscribeUtterance({
      presign: this.presign,
      emit: (event) => {
        // Stamped when recognized, not when released after an earlier utterance.
        const stamp = { ...times, recognizedAt: Date.now() };
        this.order.emit(slot, () => {
          const post = number(event);
          if (post) this.publish({ ...post, ...stamp });
        });
      },
      onGiveUp: (error) => this.onError(error),
      onDone: () => this.order.close(slot),
    });
    this.current = { utterance, times };
    utterance.start();
  }

  audio(pcm) {
    this.current?.utterance.send(pcm);
  }

  /** @param {number} endedAt epoch ms at the end of its last voiced audio */
  end(endedAt) {
    if (!this.current) return;
    this.current.times.speechEndedAt = Math.round(endedAt);
    this.current.utterance.finish();
    this.current = null;
  }

  close() {
    this.end(Date.now());
  }
}

/**
 * Sends the page's transcripts one at a time, in order, as the interpreter's publisher does: the
 * socket's messages are separate invocations that may overtake each other, and a partial that
 * lands after a later one of its utterance is stale (not relayed). The next post goes once the
 * one in flight came back as a `transcript` event (or after `releaseMs`); a queued partial is
 * dropped as soon as a newer post of its utterance is queued (the relay would replace it anyway).
 */
export class TranscriptSender {
  constructor(send, { releaseMs = 1500 } = {}) {
    Object.assign(this, { send, releaseMs });
    this.queue = [];
    this.inFlight = null;
    this.timer = null;
  }

  publish(post) {
    this.queue = this.queue.filter((q) => q.final || q.utteranceId !== post.utteranceId);
    this.queue.push(post);
    this.#next();
  }

  /** A `transcript` event arrived (any page's, any producer's). */
  heard(event) {
    const flying = this.inFlight;
    if (flying && event.utteranceId === flying.utteranceId && event.seq >= flying.seq) {
      this.#release();
    }
  }

  #next() {
    if (this.inFlight || !this.queue.length) return;
    this.inFlight = this.queue.shift();
    this.timer = setTimeout(() => this.#release(), this.releaseMs);
    this.send(this.inFlight);
  }

  #release() {
    clearTimeout(this.timer);
    this.inFlight = null;
    this.#next();
  }
}
