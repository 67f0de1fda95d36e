"""The end-of-turn set: short Korean and English utterances whose end of speech is known.

``set.json`` lists each item: its language, its parts (spoken texts and pauses in seconds) and
what the end of turn should do (``complete``: one sentence, close soon after it; ``incomplete``:
a pause after a connective, then more speech, must not be cut; ``hazard``: a complete-looking
sentence, a short pause, then more speech). The WAVs (16 kHz mono PCM16, espeak-ng) are made
from it by this script, deterministically, into ``wav/`` (not committed: ~4 MB):

    python -m tests.data.end_of_turn.make_set        # needs espeak-ng and sox

Where speech is, is measured from the samples (not assumed from the script) by the benchmark.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile

from tests.fakes.audio import espeak_pcm16

HERE = Path(__file__).resolve().parent
RATE = 16_000
VOICES = {"ko": "ko", "en": "en-us"}
TAIL_S = 2.5  # silence after the last word: room for the longest hangover


def _speak(text: str, lang: str) -> np.ndarray:
    return espeak_pcm16(text, VOICES[lang], RATE, trim=True)


def items() -> list[dict]:
    return json.loads((HERE / "set.json").read_text(encoding="utf-8"))["items"]


def wav_path(item: dict) -> Path:
    return HERE / "wav" / f"{item['id']}.wav"


def make(item: dict) -> Path:
    chunks = [np.zeros(int(0.5 * RATE), dtype="<i2")]
    for part in item["parts"]:
        if isinstance(part, str):
            chunks.append(_speak(part, item["lang"]))
        else:
            chunks.append(np.zeros(int(part * RATE), dtype="<i2"))
    chunks.append(np.zeros(int(TAIL_S * RATE), dtype="<i2"))
    path = wav_path(item)
    path.parent.mkdir(exist_ok=True)
    soundfile.write(str(path), np.concatenate(chunks), RATE, subtype="PCM_16")
    return path


def ensure() -> list[Path]:
    """Every item's WAV, made if missing."""
    return [p if (p := wav_path(item)).is_file() else make(item) for item in items()]


if __name__ == "__main__":
    for item in items():
        print(make(item), file=sys.stderr)
