// Turns microphone samples (Float32 at the device rate) into 16 kHz mono PCM16 chunks.
// Shared by the AudioWorklet (which imports it) so the conversion lives in one place.

export const TARGET_RATE = 16_000;
const CHUNK_SAMPLES = 1_600; // 100 ms at 16 kHz: small enough for live partials, few messages

export class Pcm16Encoder {
  constructor(inputRate) {
    this.ratio = inputRate / TARGET_RATE;
    this.position = 0;
    this.sum = 0;
    this.count = 0;
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
    this.energy = 0;
  }

  /**
   * Averages each window of input samples into one output sample (a box filter: crude, but it
   * keeps the aliasing that plain sample-dropping would add out of the recognizer's band).
   * @returns {{pcm: ArrayBuffer, rms: number}[]} the 100 ms chunks completed by this input.
   */
  push(samples) {
    const done = [];
    for (let i = 0; i < samples.length; i += 1) {
      this.sum += samples[i];
      this.count += 1;
      this.position += 1;
      if (this.position < this.ratio) continue;
      this.position -= this.ratio;
      const value = Math.max(-1, Math.min(1, this.sum / this.count));
      this.sum = 0;
      this.count = 0;
      this.chunk[this.filled] = value < 0 ? value * 0x8000 : value * 0x7fff;
      this.energy += value * value;
      this.filled += 1;
      if (this.filled === CHUNK_SAMPLES) {
        done.push({ pcm: this.chunk.slice().buffer, rms: Math.sqrt(this.energy / CHUNK_SAMPLES) });
        this.filled = 0;
        this.energy = 0;
      }
    }
    return done;
  }
}
