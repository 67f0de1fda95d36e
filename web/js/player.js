// Plays one turn's sentence audio strictly in index order and back to back.
//
// Each sentence is decoded with decodeAudioData as soon as its last part arrives, and scheduled
// on the AudioContext clock to start exactly when the previous one ends. Scheduling ahead on one
// clock is what removes the gaps that "play the next <audio> on ended" leaves; a gap remains only
// when a sentence's audio has not arrived by the time the previous one ends.

// The first sentence starts this far ahead of "now" so its start is never in the past.
const START_LEAD_S = 0.02;

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
   */
  constructor({ onError, onScheduled }) {
    this.onError = onError;
    this.onScheduled = onScheduled;
    this.context = null;
    this.turn = null;
    // turnId → [{index, start, end (epoch ms), gapMs, ended}], for the latency view and tests.
    this.log = {};
  }

  /** Creates or resumes the AudioContext; browsers allow that only in a user gesture. */
  unlock() {
    this.context ??= new AudioContext();
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  }

  get locked() {
    return this.context?.state !== "running";
  }

  /** Starts a new turn; whatever the previous turn still had queued is dropped. */
  begin(turnId) {
    this.stop();
    this.log[turnId] = [];
    this.turn = {
      id: turnId,
      parts: new Map(), // index → base64 parts received so far
      ready: new Map(), // index → Promise<AudioBuffer|null>
      next: 0, // the next index to schedule
      highest: -1, // the highest index that has had any audio
      endAt: 0, // context time at which the last scheduled sentence ends
      sources: [],
      stopped: false,
      pumping: false,
      entries: this.log[turnId],
    };
  }

  /** Takes one `audio` event. */
  add(event) {
    const turn = this.turn;
    if (!turn || turn.stopped || event.turnId !== turn.id) return;
    const { index } = event;
    // Audio arrives in index order: an earlier index that never got audio failed on the server
    // (it sent an error event instead) and must not hold up the rest.
    for (let skipped = turn.highest + 1; skipped < index; skipped += 1) {
      if (!turn.ready.has(skipped)) turn.ready.set(skipped, Promise.resolve(null));
    }
    turn.highest = Math.max(turn.highest, index);
    const parts = turn.parts.get(index) ?? [];
    parts[event.part] = event.data;
    turn.parts.set(index, parts);
    if (!event.last) return;
    turn.parts.delete(index);
    turn.ready.set(index, this.#decode(parts));
    this.#pump(turn);
  }

  /** True while the current turn has audio playing or scheduled. */
  get speaking() {
    const turn = this.turn;
    if (!turn || turn.stopped || !this.context) return false;
    return this.context.currentTime < turn.endAt || turn.ready.size > 0;
  }

  /** Silences the current turn at once; returns the number of sentences fully played. */
  stop() {
    const turn = this.turn;
    if (!turn || turn.stopped) return this.heard();
    const heard = this.heard();
    turn.stopped = true;
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

  heard() {
    const turn = this.turn;
    if (!turn || !this.context) return 0;
    const now = this.context.currentTime;
    return turn.entries.filter((entry) => entry.ctxEnd <= now).length;
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
        const buffer = await turn.ready.get(turn.next);
        if (turn.stopped) return;
        if (buffer) this.#schedule(turn, turn.next, buffer);
        turn.ready.delete(turn.next);
        turn.next += 1;
      }
    } finally {
      turn.pumping = false;
    }
  }

  #schedule(turn, index, buffer) {
    const context = this.context;
    const previousEnd = turn.endAt;
    const start = Math.max(context.currentTime + START_LEAD_S, previousEnd);
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    source.start(start);
    turn.endAt = start + buffer.duration;
    turn.sources.push(source);
    const toEpochMs = (time) => Date.now() + (time - context.currentTime) * 1000;
    const entry = {
      index,
      start: toEpochMs(start),
      end: toEpochMs(turn.endAt),
      ctxStart: start,
      ctxEnd: turn.endAt,
      // The silence before this sentence that the page could not avoid (audio arrived late).
      gapMs: turn.entries.length ? Math.round((start - previousEnd) * 1000) : 0,
      ended: false,
    };
    turn.entries.push(entry);
    this.onScheduled(turn.id, entry);
    source.onended = () => {
      entry.ended = !turn.stopped;
      turn.sources = turn.sources.filter((s) => s !== source);
    };
  }
}
