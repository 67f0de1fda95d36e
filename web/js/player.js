// Plays one turn's sentence audio strictly in index order and back to back.
//
// Each sentence is decoded with decodeAudioData as soon as its last part arrives, and scheduled
// on the AudioContext clock to start exactly when the previous one ends. Scheduling ahead on one
// clock is what removes the gaps that "play the next <audio> on ended" leaves; a gap remains only
// when a sentence's audio has not arrived by the time the previous one ends.
//
// A sentence whose audio never completes (a part lost on the way) must not hold up the rest:
// once a later sentence's audio is ready, or the turn is done, the player waits until the
// sentence would have started (the previous one has ended) and then MISSING_AUDIO_MS more, and
// skips it. Skips are logged (`skipped`), quietly: the text is shown, the answer plays on.
//
// A streamed sentence (its audio events carry `piece`) comes as several whole OGG files: each is
// decoded as soon as its parts are in and scheduled right after the one before, on the same
// clock, so the sentence starts with its first piece and plays on gapless while the rest
// arrives. It counts as heard only once its last piece has played.

// The first sentence starts this far ahead of "now" so its start is never in the past.
const START_LEAD_S = 0.02;
// Ducking is at once (a 10 ms time constant: below a tenth of the way in 25 ms); coming back to
// full volume is a 40 ms glide, so a resumed answer does not click.
const DUCK_TIME_CONSTANT_S = 0.01;
const RESTORE_TIME_CONSTANT_S = 0.04;
// How long past its start a sentence's missing audio may still come before it is skipped. The
// server sends a turn's audio in index order, so a part missing when the next sentence is there
// is almost surely lost; this only covers a part delivered late.
const MISSING_AUDIO_MS = 1000;

function base64ToBytes(parts) {
  const chunks = parts.map((data) => Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

export class SentencePlayer {
  /**
   * @param {object} handlers
   * @param {(error: Error) => void} handlers.onError a sentence could not be decoded.
   * @param {(turnId: string, entry: object) => void} handlers.onScheduled a sentence was queued
   *   to play; entry.start is when it starts (epoch ms).
   * @param {number} [handlers.missingAudioMs] see MISSING_AUDIO_MS.
   */
  constructor({ onError, onScheduled, missingAudioMs = MISSING_AUDIO_MS }) {
    this.onError = onError;
    this.onScheduled = onScheduled;
    this.missingAudioMs = missingAudioMs;
    this.context = null;
    this.gain = null; // every sentence plays through it: ducking changes its volume
    this.volume = 1; // the volume it is at or on its way to
    this.turn = null;
    // turnId → [{index, start, end (epoch ms), gapMs, ended}], for the latency view and tests.
    this.log = {};
    // Sentences skipped for want of audio: [{turnId, index, reason, parts, at (epoch ms)}], where
    // reason is "no_audio" (none came: its synthesis failed, or its only frame was lost) or
    // "incomplete" (some parts came, not the last; `parts` is how many).
    this.skipped = [];
  }

  /** Creates or resumes the AudioContext; browsers allow that only in a user gesture. */
  unlock() {
    if (!this.context) {
      this.context = new AudioContext();
      this.gain = this.context.createGain();
      this.gain.connect(this.context.destination);
    }
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  }

  get locked() {
    return this.context?.state !== "running";
  }

  /** Starts a new turn; whatever the previous turn still had queued is dropped. */
  begin(turnId) {
    this.stop();
    this.setVolume(1, 0);
    this.log[turnId] = [];
    this.turn = {
      id: turnId,
      parts: new Map(), // index → base64 parts received so far
      ready: new Map(), // index → Promise<AudioBuffer|null|stream>
      streams: new Map(), // index → a streamed sentence's pieces (see #addPiece)
      next: 0, // the next index to schedule
      highest: -1, // the highest index that has had any audio
      endAt: 0, // context time at which the last scheduled sentence ends
      sources: [],
      stopped: false,
      pumping: false,
      gaveUp: new Set(), // indices skipped: their late audio is ignored
      finished: false, // the turn is done: no more audio will come
      watchdog: null, // the timer that skips the sentence playback waits for, if it never comes
      entries: this.log[turnId],
    };
  }

  /** The turn's `done` came: whatever audio it still lacks will not come. */
  finish(turnId) {
    const turn = this.turn;
    if (!turn || turn.id !== turnId) return;
    turn.finished = true;
    this.#watch(turn);
  }

  /** Takes one `audio` event. */
  add(event) {
    const turn = this.turn;
    if (!turn || turn.stopped || event.turnId !== turn.id) return;
    const { index } = event;
    // Too late: this sentence was skipped (or played) already.
    if (index < turn.next || turn.gaveUp.has(index)) return;
    // Audio arrives in index order: an earlier index that never got audio failed on the server
    // (it sent an error event instead) and must not hold up the rest.
    for (let skipped = turn.highest + 1; skipped < index; skipped += 1) {
      if (!turn.ready.has(skipped)) this.#skip(turn, skipped, "no_audio");
    }
    turn.highest = Math.max(turn.highest, index);
    if (event.piece !== undefined && event.piece !== null) {
      this.#addPiece(turn, event);
      this.#pump(turn);
      return;
    }
    const parts = turn.parts.get(index) ?? [];
    parts[event.part] = event.data;
    turn.parts.set(index, parts);
    if (event.last && parts.filter(Boolean).length === parts.length) {
      turn.parts.delete(index);
      turn.ready.set(index, this.#decode(parts));
    }
    this.#pump(turn);
  }

  // One part of a streamed sentence: its pieces are decoded one by one, in order, as they come.
  #addPiece(turn, event) {
    let stream = turn.streams.get(event.index);
    if (!stream) {
      // pieces: piece → {parts: part → data, end: the part that ends it (pieceLast), decoded}
      stream = { pieces: new Map(), decoded: [], complete: false, entry: null, lastPiece: null };
      turn.streams.set(event.index, stream);
      turn.ready.set(event.index, Promise.resolve(stream));
    }
    const piece = stream.pieces.get(event.piece) ?? { parts: new Map(), end: null, queued: false };
    stream.pieces.set(event.piece, piece);
    piece.parts.set(event.part, event.data);
    if (event.pieceLast) piece.end = event.part;
    if (event.last) stream.lastPiece = event.piece;
    // Pieces are queued for decoding strictly in order, each once all its parts are in: parts
    // are numbered on through the sentence, so a piece runs from the part after the previous
    // piece's end to its own end.
    for (let n = stream.decoded.length; stream.pieces.has(n); n += 1) {
      const next = stream.pieces.get(n);
      const first = n === 0 ? 0 : stream.pieces.get(n - 1).end + 1;
      if (next.end === null || next.parts.size !== next.end - first + 1) break;
      const parts = [...next.parts.keys()].sort((a, b) => a - b).map((k) => next.parts.get(k));
      const empty = parts.every((data) => data === "");
      stream.decoded.push(empty ? Promise.resolve(null) : this.#decode(parts));
      stream.pieces.set(n, { end: next.end, parts: new Map() }); // its bytes are not needed now
    }
    if (stream.lastPiece !== null && stream.decoded.length === stream.lastPiece + 1) {
      stream.complete = true;
    }
  }

  /** True while the current turn has audio playing or scheduled. */
  get speaking() {
    const turn = this.turn;
    if (!turn || turn.stopped || !this.context) return false;
    return this.context.currentTime < turn.endAt || turn.ready.size > 0;
  }

  /** Lowers the answer's volume at once (a person started to speak over it). */
  duck(volume) {
    this.setVolume(volume, DUCK_TIME_CONSTANT_S);
  }

  /** Back to full volume (it was not an interruption). */
  restore() {
    this.setVolume(1, RESTORE_TIME_CONSTANT_S);
  }

  setVolume(volume, timeConstant) {
    this.volume = volume;
    if (!this.gain) return;
    const param = this.gain.gain;
    const now = this.context.currentTime;
    param.cancelScheduledValues(now);
    if (timeConstant > 0) param.setTargetAtTime(volume, now, timeConstant);
    else param.setValueAtTime(volume, now);
  }

  /** Silences the current turn at once; returns `heard` (see heard()). */
  stop() {
    const turn = this.turn;
    if (!turn) return 0;
    if (turn.stopped) return turn.heard;
    const heard = this.heard();
    turn.heard = heard;
    // The log says exactly what `heard` counted, even where a source's `ended` is still queued.
    const now = this.context?.currentTime ?? 0;
    for (const entry of turn.entries) entry.ended = entry.complete && entry.ctxEnd <= now;
    turn.stopped = true;
    clearTimeout(turn.watchdog);
    for (const source of turn.sources) {
      try {
        source.stop();
      } catch {
        // already stopped
      }
    }
    turn.sources = [];
    return heard;
  }

  /**
   * How many of the turn's segments, from index 0, the person heard: one more than the index of
   * the last segment that played to its end (0 if none did). A segment cut in the middle is not
   * heard. Segments play strictly in index order, so this is the count of segments played to
   * the end, unless a segment had no audio (its synthesis failed); the server keeps the first
   * `heard` segments of the answer, which then include the one that failed, as its text was shown.
   */
  heard() {
    const turn = this.turn;
    if (!turn || !this.context) return 0;
    const now = this.context.currentTime;
    const played = turn.entries.filter((entry) => entry.complete && entry.ctxEnd <= now);
    return played.length ? played.at(-1).index + 1 : 0;
  }

  async #decode(parts) {
    try {
      const bytes = base64ToBytes(parts);
      return await this.unlock().decodeAudioData(bytes.buffer);
    } catch (error) {
      this.onError(error);
      return null;
    }
  }

  // Schedules ready sentences in index order; one loop per turn at a time.
  async #pump(turn) {
    if (turn.pumping) return;
    turn.pumping = true;
    try {
      while (!turn.stopped && turn.ready.has(turn.next)) {
        const index = turn.next;
        const buffer = await turn.ready.get(index);
        if (turn.stopped) return;
        if (buffer?.pieces) {
          // A streamed sentence: schedule the pieces decoded so far; move on once all are.
          const stream = buffer;
          while ((stream.scheduled ?? 0) < stream.decoded.length) {
            const piece = await stream.decoded[stream.scheduled ?? 0];
            if (turn.stopped) return;
            stream.scheduled = (stream.scheduled ?? 0) + 1;
            if (piece) this.#schedule(turn, index, piece, stream);
          }
          if (!stream.complete) break; // more pieces to come: add() pumps again
          if (stream.entry) {
            stream.entry.complete = true;
            // Its last piece may have played before the sentence's end came.
            if (this.context.currentTime >= stream.entry.ctxEnd) stream.entry.ended = true;
          }
          turn.streams.delete(index);
        } else if (buffer) this.#schedule(turn, index, buffer);
        turn.ready.delete(index);
        turn.next += 1;
      }
    } finally {
      turn.pumping = false;
    }
    this.#watch(turn);
  }

  // Playback waits for sentence `turn.next`. If its audio is overdue (a later sentence's is
  // ready, or the turn is done while some of its parts came), skip it once it would have started
  // and MISSING_AUDIO_MS have passed; any audio it gets until then still plays.
  #watch(turn) {
    clearTimeout(turn.watchdog);
    turn.watchdog = null;
    const index = turn.next;
    const stalled = turn.streams.has(index) && !turn.streams.get(index).complete;
    if (turn.stopped || turn.pumping || (turn.ready.has(index) && !stalled)) return;
    const later = [...turn.ready.keys()].some((i) => i > index);
    if (!later && !(turn.finished && (turn.parts.has(index) || stalled))) return;
    const untilDue = this.context ? Math.max(0, turn.endAt - this.context.currentTime) : 0;
    turn.watchdog = setTimeout(() => {
      if (turn.stopped || turn.next !== index) return;
      const stream = turn.streams.get(index);
      if (stream && !stream.complete) {
        // Its last piece never came: what played of it stays, the sentence ends there.
        const pieces = stream.decoded.length;
        this.skipped.push({ turnId: turn.id, index, reason: "incomplete", pieces, at: Date.now() });
        stream.complete = true;
      } else if (turn.ready.has(index)) return;
      else this.#skip(turn, index, turn.parts.has(index) ? "incomplete" : "no_audio");
      this.#pump(turn);
    }, untilDue * 1000 + this.missingAudioMs);
  }

  #skip(turn, index, reason) {
    const parts = (turn.parts.get(index) ?? []).filter(Boolean).length;
    turn.parts.delete(index);
    turn.gaveUp.add(index);
    turn.ready.set(index, Promise.resolve(null));
    this.skipped.push({ turnId: turn.id, index, reason, parts, at: Date.now() });
  }

  #schedule(turn, index, buffer, stream = null) {
    const context = this.context;
    const previousEnd = turn.endAt;
    const scheduledAt = context.currentTime;
    const start = Math.max(scheduledAt + START_LEAD_S, previousEnd);
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.gain);
    source.start(start);
    turn.endAt = start + buffer.duration;
    turn.sources.push(source);
    const toEpochMs = (time) => Date.now() + (time - context.currentTime) * 1000;
    // The silence before this audio that the page could not avoid (it arrived late).
    const gapMs = turn.entries.length ? Math.round((start - previousEnd) * 1000) : 0;
    const piece = {
      ctxStart: start,
      ctxEnd: turn.endAt,
      ctxScheduled: scheduledAt,
      leadS: START_LEAD_S,
      gapMs,
      at: Date.now(),
    };
    let entry = stream?.entry;
    if (entry) {
      // The next piece of a sentence already playing: the sentence now ends later.
      entry.pieces.push(piece);
      entry.end = toEpochMs(turn.endAt);
      entry.ctxEnd = turn.endAt;
    } else {
      entry = {
        index,
        start: toEpochMs(start),
        end: toEpochMs(turn.endAt),
        ctxStart: start,
        ctxEnd: turn.endAt,
        // The audio clock when its audio was ready: later than ctxStart - START_LEAD_S means late.
        ctxScheduled: scheduledAt,
        leadS: START_LEAD_S,
        gapMs,
        ended: false,
        // A streamed sentence is complete once its last piece is scheduled; until then it is
        // not heard, however far it has played.
        complete: !stream,
        pieces: stream ? [piece] : undefined,
      };
      if (stream) stream.entry = entry;
      turn.entries.push(entry);
      this.onScheduled(turn.id, entry);
    }
    source.onended = () => {
      if (!turn.stopped && entry.complete && context.currentTime >= entry.ctxEnd - 1e-3) {
        entry.ended = true;
      }
      turn.sources = turn.sources.filter((s) => s !== source);
    };
  }
}
