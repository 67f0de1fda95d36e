// The browser microphone for the local stack: capture → 16 kHz PCM16 → binary frames on the
// /mic WebSocket. The transcripts come back as ordinary `transcript` events on the page's socket.
//
// A simple energy detector gates what is sent: audio goes out from just before speech starts
// until a pause, then `{"type":"end"}` closes the utterance so the recognizer gives its final.

const PREROLL_CHUNKS = 3; // 300 ms kept from before the speech so its first syllable is not cut
const END_SILENCE_MS = 800; // a pause this long ends the utterance
const MAX_UTTERANCE_MS = 20_000; // steady noise must not hold an utterance open forever
const CHUNK_MS = 100;
const MIN_SPEECH_RMS = 0.015;

export class Microphone {
  /**
   * @param {object} options
   * @param {string} options.url the /mic WebSocket URL without the token.
   * @param {() => Promise<string>} options.token a client token.
   * @param {(state: string) => void} options.onState "off" | "starting" | "loading" (the
   *   recognizer model) | "listening" | "speech".
   * @param {(error: Error) => void} options.onError
   */
  constructor({ url, token, onState, onError }) {
    Object.assign(this, { url, tokenFor: token, onState, onError });
    this.parts = null;
    this.loading = false;
  }

  get active() {
    return this.parts !== null;
  }

  async start() {
    if (this.parts) return;
    this.onState("starting");
    const parts = { socket: null, stream: null, context: null };
    this.parts = parts;
    try {
      parts.socket = await this.#openSocket();
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
    if (this.inSpeech) this.#send(parts.socket, JSON.stringify({ type: "end" }));
    parts.stream?.getTracks().forEach((track) => track.stop());
    parts.context?.close().catch(() => {});
    if (parts.socket) {
      parts.socket.onclose = null;
      parts.socket.close();
    }
    this.onState("off");
  }

  async #openSocket() {
    const token = await this.tokenFor();
    const socket = new WebSocket(`${this.url}?token=${encodeURIComponent(token)}`);
    socket.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onclose = () => reject(new Error("the microphone connection was refused"));
    });
    socket.onclose = () => {
      this.stop();
      this.onError(new Error("the microphone connection closed"));
    };
    // The stack reports on the recognizer here; the transcripts themselves arrive on /ws.
    socket.onmessage = ({ data }) => {
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      if (message.type === "status") {
        this.loading = message.state === "loading";
        if (!this.inSpeech && this.parts?.context)
          this.onState(this.loading ? "loading" : "listening");
      }
      if (message.type === "error") this.onError(new Error(message.message));
    };
    return socket;
  }

  #send(socket, data) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(data);
  }

  #onChunk({ pcm, rms }) {
    const socket = this.parts?.socket;
    if (!socket) return;
    const threshold = Math.max(MIN_SPEECH_RMS, this.noise * 3);
    const loud = rms > threshold;
    if (!this.inSpeech) {
      // Track the room's noise level so a fan or a hum does not count as speech.
      this.noise = 0.95 * this.noise + 0.05 * rms;
      this.preroll.push(pcm);
      if (this.preroll.length > PREROLL_CHUNKS) this.preroll.shift();
      if (!loud) return;
      this.inSpeech = true;
      this.silentMs = 0;
      this.speechMs = 0;
      this.onState("speech");
      for (const chunk of this.preroll.splice(0)) this.#send(socket, chunk);
      return;
    }
    this.#send(socket, pcm);
    this.speechMs += CHUNK_MS;
    this.silentMs = loud ? 0 : this.silentMs + CHUNK_MS;
    if (this.silentMs >= END_SILENCE_MS || this.speechMs >= MAX_UTTERANCE_MS) {
      this.#send(socket, JSON.stringify({ type: "end" }));
      this.inSpeech = false;
      this.onState("listening");
    }
  }
}
