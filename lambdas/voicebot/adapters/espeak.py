"""Offline Synthesizer: espeak-ng to OGG Vorbis (robotic, but instant and free)."""

from __future__ import annotations

import asyncio
import io
import shutil

import soundfile

# espeak-ng voices by language; anything else falls back to the language's first subtag.
_VOICES = {"ko-KR": "ko", "en-US": "en-us", "en-GB": "en-gb", "ja-JP": "ja"}


class EspeakSynthesizer:
    def __init__(self, binary: str | None = None) -> None:
        found = binary or shutil.which("espeak-ng")
        if not found:
            raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng).")
        self._binary = found

    async def synthesize(self, text: str, voice: str, language: str) -> bytes:
        espeak_voice = _VOICES.get(language, language.split("-")[0].lower())
        # The text goes in on stdin, never on the command line: no option injection.
        proc = await asyncio.create_subprocess_exec(
            self._binary,
            "-v",
            espeak_voice,
            "--stdout",
            "--stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        wav, err = await proc.communicate(text.encode("utf-8"))
        if proc.returncode != 0:
            raise RuntimeError(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")
        return await asyncio.to_thread(_wav_to_ogg, wav)


def _wav_to_ogg(wav: bytes) -> bytes:
    # espeak's --stdout header has placeholder sizes; soundfile reads it regardless.
    data, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    out = io.BytesIO()
    soundfile.write(out, data, rate, format="OGG", subtype="VORBIS")
    return out.getvalue()
