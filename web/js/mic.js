// The page's microphone: capture → 16 kHz PCM16 → a voice gate → a transport. Two transports:
// the local stack's /mic WebSocket (binary frames, `{"type":"end"}`; below), and, when config.json
// names `transcribeUrl`, Amazon Transcribe straight from the page (transcribe.js). Either way the
// transcripts come back as ordinary `transcript` events on the page's socket.
//
// A simple energy detector gates what is sent: audio goes out from just before speech starts
// until a pause, then the transport ends the utterance so the recognizer gives its final.
//
// How long that pause must be depends on the words heard so far (config.json `endOfTurn`, the
// rule of lambdas/voicebot/contract/endpointing.py): shorter after a sentence-final ending
// (…요, …니다, …까, "?"), longer after a connective (…는데, …고, …서, "and", "um"). The page's own
// partials arrive as `transcript` events on /ws, not on the transport: whoever receives them hands
// them to `hearTranscript(event)` below.

const PREROLL_CHUNKS = 3; // 300 ms kept from before the speech so its first syllable is not cut
const END_SILENCE_MS = 800; // a pause this long ends the utterance
const MAX_UTTERANCE_MS = 20_000; // steady noise must not hold an utterance open forever
const CHUNK_MS = 100;
const MIN_SPEECH_RMS = 0.015;
// The page's microphone's utterances: /mic and transcribe.js publish them under this prefix.
export const MIC_UTTERANCE_PREFIX = "mic-";

const live = new Set();

/**
 * Feeds a `transcript` event from /ws to every listening microphone (others' are ignored).
 * @param {{utteranceId: string, text: string, final: boolean, lang?: string}} event
 */
export function hearTranscript(event) {
  if (!event?.utteranceId?.startsWith(MIC_UTTERANCE_PREFIX)) return;
  for (const microphone of live) microphone.hear(event);
}

/**
 * The end-of-turn rule (contract/endpointing.py EndOfTurnRule.hangover_ms), from config.json.
 * @param {object | null | undefined} config `endOfTurn`
 * @param {string | null | undefined} language BCP 47
 * @param {string} text the latest partial of the utterance
 * @param {number} baseMs the fixed pause otherwise
 * @param {boolean} fresh the text was updated after the last voiced audio
 * @returns {number} ms of silence that end the utterance
 */
/**
 * Whether `text` likely ends the turn (EndOfTurnRule.classify(...) == "complete").
 * @param {object | null | undefined} config `endOfTurn`
 * @param {string | null | undefined} language BCP 47
 * @param {string} text
 * @returns {boolean}
 */
export function readsComplete(config, language, text) {
  const rules = config?.patterns?.[(language || "").split("-")[0].toLowerCase()];
  const words = (text || "").split(/\s+/).filter(Boolean).join(" ").toLowerCase();
  if (!config?.enabled || !rules || !words) return false;
  return !new RegExp(rules.incomplete).test(words) && new RegExp(rules.complete).test(words);
}

export function hangoverMs(config, language, text, baseMs, fresh = true) {
  if (!config?.enabled) return baseMs;
  const rules = config.patterns?.[(language || "").split("-")[0].toLowerCase()];
  const words = (text || "").split(/\s+/).filter(Boolean).join(" ").toLowerCase();
  let wait = baseMs;
  if (rules && words) {
    if (new RegExp(rules.incomplete).test(words)) wait = Math.max(baseMs, config.incompleteMs);
    else if (fresh && new RegExp(rules.complete).test(words))
      wait = Math.min(baseMs, config.completeMs);
  }
  return Math.max(config.minMs, Math.min(config.maxMs, wait));
}

export class Microphone {
  /**
   * @param {object} options
   * @param {string} [options.url] the /mic WebSocket URL without the token.
   * @param {() => Promise<string>} [options.token] a client token (for /mic).
   * @param {() => object} [options.transport] makes the transport instead of /mic (e.g. a
   *   TranscribeTransport): `open()`, `begin(epochMs)`, `audio(pcm)`, `end(epochMs)`, `close()`.
   * @param {(state: string) => void} options.onState "off" | "starting" | "loading" (the
   *   recognizer model) | "listening" | "speech".
   * @param {(error: Error) => void} options.onError
   * @param {object | null} [options.endOfTurn] config.json `endOfTurn`; when not given, it is
   *   read from config.json at start (null: the fixed pause).
   * @param {string} [options.language] for the rule when a transcript carries no `lang`.
   */
  constructor({ url, token, transport, onState, onError, endOfTurn, language }) {
    Object.assign(this, { url, tokenFor: token, onState, onError, endOfTurn, language });
    this.makeTransport = transport ?? (() => this.#micSocket());
    this.parts = null;
    this.loading = false;
    this.resetHeard();
  }

  /** A partial or final of this microphone's speech (see `hearTranscript`). */
  hear({ utteranceId, text, lang }) {
    if (this.closedIds.has(utteranceId)) return;
    this.heardIds.add(utteranceId);
    Object.assign(this, { heardText: text, heardLang: lang, heardAt: performance.now() });
  }

  resetHeard() {
    // Transcripts of an utterance already ended must not steer the next one.
    this.closedIds = new Set([...(this.closedIds ?? []), ...(this.heardIds ?? [])]);
    if (this.closedIds.size > 64) this.closedIds = new Set([...this.closedIds].slice(-32));
    Object.assign(this, { heardIds: new Set(), heardText: "", heardLang: null, heardAt: 0 });
    this.loudAt = 0;
  }

  endSilenceMs() {
    const fresh = this.heardAt > this.loudAt;
    const language = this.heardLang || this.language;
    return hangoverMs(this.endOfTurn, language, this.heardText, END_SILENCE_MS, fresh);
  }

  get active() {
    return this.parts !== null;
  }

  async start() {
    if (this.parts) return;
    this.onState("starting");
    const parts = { transport: null, stream: null, context: null };
    this.parts = parts;
    try {
      if (this.endOfTurn === undefined) {
        const config = await readConfig();
        this.endOfTurn = config.endOfTurn ?? null;
        this.language ??= config.language;
      }
      parts.transport = this.makeTransport();
      await parts.transport.open();
      parts.stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          channelCount: 1,
          echoCancellation: true,
          noiseSuppression: true,
          autoGainControl: true,
        },
      });
      parts.context = new AudioContext();
      await parts.context.audioWorklet.addModule(new URL("./pcm-worklet.js", import.meta.url));
      const source = parts.context.createMediaStreamSource(parts.stream);
      // No outputs: the node is a sink, so the audio thread runs it without a path to the speakers.
      const capture = new AudioWorkletNode(parts.context, "pcm-capture", { numberOfOutputs: 0 });
      capture.port.onmessage = ({ data }) => this.#onChunk(data);
      Object.assign(this, { preroll: [], inSpeech: false, silentMs: 0, speechMs: 0 });
      this.noise = MIN_SPEECH_RMS / 3;
      source.connect(capture);
      live.add(this);
      this.onState(this.loading ? "loading" : "listening");
    } catch (error) {
      this.stop();
      this.onError(error);
    }
  }

  stop() {
    const parts = this.parts;
    if (!parts) return;
    this.parts = null;
    live.delete(this);
    if (this.inSpeech) parts.transport?.end(Date.now() - this.silentMs);
    parts.stream?.getTracks().forEach((track) => track.stop());
    parts.context?.close().catch(() => {});
    parts.transport?.close();
    this.onState("off");
  }

  #micSocket() {
    return new MicSocket({
      url: this.url,
      token: this.tokenFor,
      onStatus: (loading) => {
        this.loading = loading;
        if (!this.inSpeech && this.parts?.context) this.onState(loading ? "loading" : "listening");
      },
      onError: (error) => this.onError(error),
      onClosed: () => {
        this.stop();
        this.onError(new Error("the microphone connection closed"));
      },
    });
  }

  #onChunk({ pcm, rms }) {
    const transport = this.parts?.transport;
    if (!transport) return;
    const threshold = Math.max(MIN_SPEECH_RMS, this.noise * 3);
    const loud = rms > threshold;
    if (!this.inSpeech) {
      // Track the room's noise level so a fan or a hum does not count as speech.
      this.noise = 0.95 * this.noise + 0.05 * rms;
      this.preroll.push(pcm);
      if (this.preroll.length > PREROLL_CHUNKS) this.preroll.shift();
      if (!loud) return;
      this.inSpeech = true;
      this.resetHeard();
      this.loudAt = performance.now();
      this.silentMs = 0;
      this.speechMs = 0;
      this.onState("speech");
      // The loud chunk's start, on the page's clock (the preroll before it is not speech).
      transport.begin(Date.now() - CHUNK_MS);
      for (const chunk of this.preroll.splice(0)) transport.audio(chunk);
      return;
    }
    transport.audio(pcm);
    this.speechMs += CHUNK_MS;
    this.silentMs = loud ? 0 : this.silentMs + CHUNK_MS;
    if (loud) this.loudAt = performance.now();
    if (this.silentMs >= this.endSilenceMs() || this.speechMs >= MAX_UTTERANCE_MS) {
      transport.end(Date.now() - this.silentMs); // the end of its last voiced audio
      this.inSpeech = false;
      this.onState("listening");
    }
  }
}

/** The local stack's /mic: binary PCM16 frames and `{"type":"end"}` (docs/PROTOCOL.md). */
class MicSocket {
  constructor({ url, token, onStatus, onError, onClosed }) {
    Object.assign(this, { url, tokenFor: token, onStatus, onError, onClosed });
    this.socket = null;
  }

  async open() {
    const token = await this.tokenFor();
    const socket = new WebSocket(`${this.url}?token=${encodeURIComponent(token)}`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onclose = () => reject(new Error("the microphone connection was refused"));
    });
    socket.onclose = () => this.onClosed();
    // The stack reports on the recognizer here; the transcripts themselves arrive on /ws.
    socket.onmessage = ({ data }) => {
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      if (message.type === "status") this.onStatus(message.state === "loading");
      if (message.type === "error") this.onError(new Error(message.message));
    };
  }

  #send(data) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(data);
  }

  begin() {}

  audio(pcm) {
    this.#send(pcm);
  }

  end() {
    this.#send(JSON.stringify({ type: "end" }));
  }

  close() {
    if (!this.socket) return;
    this.socket.onclose = null;
    this.socket.close();
    this.socket = null;
  }
}

async function readConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}
