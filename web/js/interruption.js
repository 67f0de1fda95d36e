// The interruption policy: what the person says while the bot speaks, and whether it interrupts.
//
// Backchannels (네, 응, 맞아요, uh-huh …) never interrupt. Anything else interrupts once it holds
// `minChars` characters of non-backchannel content, or once the utterance has gone on for
// `minMs`. From the first partial until then the answer is ducked; with no confirmation
// `falseInterruptionMs` after the latest partial it goes back to full volume, nothing lost.
//
// The list and the thresholds come from config.json (`interruption`, built from
// lambdas/voicebot/contract/interruptions.py). `normalize` and `backchannelSpans` mirror the
// Python functions of the same names exactly; tests/unit/test_interruptions.py runs both.

const JOINERS = new Set(["-", "\u2010", "\u2011", "'", "\u2019"]);
const SEPARATOR = /^[\p{P}\p{S}\p{Z}\p{C}]$/u;
const HANGUL_RUNS = /([\uAC00-\uD7A3])\1+/gu;
const RUNS = /(.)\1{2,}/gu;

/** Lower case, NFKC, punctuation/symbols/separators as spaces, elongations cut (네에에 → 네에). */
export function normalize(text) {
  let out = "";
  for (const char of text.normalize("NFKC").toLowerCase()) {
    if (JOINERS.has(char)) continue;
    out += SEPARATOR.test(char) ? " " : char;
  }
  const collapsed = out.replace(HANGUL_RUNS, "$1").replace(RUNS, "$1$1");
  return collapsed
    .split(" ")
    .filter((word) => word)
    .join(" ");
}

function words(text) {
  const normalized = normalize(text);
  return normalized ? normalized.split(" ") : [];
}

const prepared = new WeakMap(); // backchannel list → {entries, singles}

function prepare(backchannels) {
  let found = prepared.get(backchannels);
  if (found) return found;
  const seen = new Map();
  for (const entry of backchannels) {
    const entryWords = words(entry);
    if (entryWords.length) seen.set(entryWords.join(" "), entryWords);
  }
  // Longest first (a stable sort keeps the rest in list order; only length matters here).
  const entries = [...seen.values()].sort((a, b) => b.length - a.length);
  const singles = entries.filter((entry) => entry.length === 1).map((entry) => entry[0]);
  found = { entries, singles };
  prepared.set(backchannels, found);
  return found;
}

function isRepeat(word, singles) {
  const length = [...word].length;
  return singles.some((unit) => {
    const n = [...unit].length;
    return length > n && length % n === 0 && unit.repeat(length / n) === word;
  });
}

/** For each normalized word of `text`: whether it belongs to a backchannel. */
export function backchannelSpans(text, backchannels) {
  const list = words(text);
  const { entries, singles } = prepare(backchannels);
  const marks = list.map(() => false);
  let i = 0;
  while (i < list.length) {
    const entry = entries.find((e) => e.every((word, k) => list[i + k] === word));
    if (entry) {
      for (let j = i; j < i + entry.length; j += 1) marks[j] = true;
      i += entry.length;
    } else {
      marks[i] = isRepeat(list[i], singles);
      i += 1;
    }
  }
  return marks;
}

/** Characters (code points) of `text` that are not backchannel, spaces not counted. */
export function contentChars(text, backchannels) {
  const list = words(text);
  const marks = backchannelSpans(text, backchannels);
  return list.reduce((n, word, i) => (marks[i] ? n : n + [...word].length), 0);
}

export function isBackchannel(text, backchannels) {
  const marks = backchannelSpans(text, backchannels);
  return marks.length > 0 && marks.every(Boolean);
}

export class InterruptionPolicy {
  /**
   * @param {object} hooks
   * @param {() => boolean} hooks.busy the bot is answering (writing or playing).
   * @param {(volume: number) => void} hooks.duck lower the answer's volume.
   * @param {() => void} hooks.restore back to full volume.
   * @param {() => void} hooks.interrupt stop the answer and tell the server (barge-in).
   * @param {(entry: object) => void} hooks.log what the policy decided, for tests.
   */
  constructor({ busy, duck, restore, interrupt, log }) {
    Object.assign(this, { busy, duck, restore, interrupt, log });
    this.config = null; // null or enabled=false: any partial interrupts (the old behaviour)
    this.current = null; // the utterance being judged: {utteranceId, firstAt, state, timer}
    this.duringAnswer = new Map(); // utteranceId → true when it began while the bot answered
  }

  configure(config) {
    this.config = config?.enabled ? config : null;
  }

  get enabled() {
    return this.config !== null;
  }

  /** A partial transcript of `utteranceId` reached the page. */
  partial({ utteranceId, text }) {
    if (!this.enabled) {
      this.interrupt();
      return;
    }
    let utterance = this.current;
    if (utterance?.utteranceId !== utteranceId) {
      if (!this.busy()) return; // nothing to interrupt
      this.#forget();
      utterance = { utteranceId, firstAt: performance.now(), state: "new", timer: 0 };
      this.current = utterance;
      this.#remember(utteranceId);
    }
    if (utterance.state === "confirmed") return;
    if (!this.busy()) {
      this.#settle(utterance, "ended"); // the answer ended on its own meanwhile
      return;
    }
    if (utterance.state !== "ducked") {
      utterance.state = "ducked";
      this.duck(this.config.duckVolume);
      this.#note(utterance, "duck", text);
    }
    const { backchannels, minChars, minMs } = this.config;
    const content = contentChars(text, backchannels);
    const lasted = performance.now() - utterance.firstAt;
    if (content > 0 && (content >= minChars || lasted >= minMs)) {
      clearTimeout(utterance.timer);
      utterance.state = "confirmed";
      this.#note(utterance, "interrupt", text);
      this.interrupt();
      return;
    }
    clearTimeout(utterance.timer);
    utterance.timer = setTimeout(
      () => this.#settle(utterance, "resume"),
      this.config.falseInterruptionMs,
    );
  }

  /**
   * A final transcript reached the page; returns whether it starts a turn. A backchannel said
   * while the bot answered does not: the answer goes on (at full volume at once).
   */
  final({ utteranceId, text }) {
    if (!this.enabled) return true;
    const during = this.duringAnswer.has(utteranceId) || this.busy();
    const utterance = this.current?.utteranceId === utteranceId ? this.current : null;
    if (during && isBackchannel(text, this.config.backchannels)) {
      if (utterance) this.#settle(utterance, "resume");
      this.#note({ utteranceId }, "backchannel", text);
      return false;
    }
    if (utterance) {
      clearTimeout(utterance.timer);
      this.current = null;
    }
    return true;
  }

  /** Forget the utterance being judged (a new turn began, or the Stop button stopped it). */
  reset() {
    this.#forget();
  }

  #forget() {
    if (this.current) clearTimeout(this.current.timer);
    this.current = null;
  }

  #settle(utterance, kind) {
    clearTimeout(utterance.timer);
    if (utterance.state === "ducked") {
      this.restore();
      this.#note(utterance, kind);
    }
    if (utterance.state !== "confirmed") utterance.state = "settled";
  }

  #remember(utteranceId) {
    this.duringAnswer.set(utteranceId, true);
    if (this.duringAnswer.size > 100) {
      this.duringAnswer.delete(this.duringAnswer.keys().next().value);
    }
  }

  #note(utterance, kind, text) {
    this.log({ utteranceId: utterance.utteranceId, kind, text, at: Date.now() });
  }
}
