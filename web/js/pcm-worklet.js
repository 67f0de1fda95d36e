// AudioWorklet processor: runs on the audio thread and posts 100 ms PCM16 chunks to the page.
import { Pcm16Encoder } from "./pcm.js";

class PcmCaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.encoder = new Pcm16Encoder(sampleRate); // sampleRate is the worklet scope's global
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (channel) {
      for (const chunk of this.encoder.push(channel)) {
        this.port.postMessage(chunk, [chunk.pcm]);
      }
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCaptureProcessor);
