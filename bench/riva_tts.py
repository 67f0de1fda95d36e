"""Riva TTS: when a sentence's first audio could leave the chat function, joined or streamed.

The Riva adapter (``lambdas/voicebot/adapters/riva_tts.py``) collects a sentence's streamed PCM
from ``synthesize_online`` and encodes it into one OGG Vorbis file, which the turn sends as that
sentence's ``audio`` parts; the page decodes a sentence once all its parts are in
(web/js/player.js: ``decodeAudioData`` of the joined parts when the ``last`` one has come), so one
complete file per sentence is what it can play. Measured against the Riva fake of the tests
(``tests/riva/riva_fake_server.py``, the real ``nvidia-riva-client`` over gRPC on loopback):

- **baseline** — the adapter as it is: request → the sentence's OGG in hand;
- **stream end** — request → the last streamed piece received (baseline less the encoding);
- **streamed** — request → the first streamed piece (100 ms of audio) encoded as its own OGG
  file: the earliest a page that played a sentence piece by piece could start (this one cannot);
- **floor** — request → the first PCM piece received (the server's own first audio);
- **adapter streamed** — request → the first piece that
  ``RivaStreamingSynthesizer.synthesize_pieces`` yields (what the turn now sends first,
  RIVA_TTS_STREAM's default), and **pieces** how many
  whole files the sentence became.

The fake generates 50 ms of audio per character and paces its stream by a real-time factor
(seconds of compute per second of audio, ``--rtf``): no real Riva server can run here, so the
factor is a parameter, not a measurement; the client, gRPC and the OGG encoding are real. A
server's start-up and network latency add the same to all four and are left out.

    python -m bench.riva_tts                       # RTF 0, 0.02, 0.1, 0.3; 4 sentence lengths
    python -m bench.riva_tts --repeats 10 --copy-to-docs

Results: ``bench/results/riva_tts.json``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from ._cli import add_copy_to_docs, bench_parser
from ._stats import REPO, fmt, machine, publish, summary, table

RIVA_TESTS = REPO / "tests" / "riva"
# Characters of a sentence (the fake speaks 50 ms per character): a short first clause
# (firstClauseMinChars is 10), a usual sentence, a long one, the longest the segmenter lets by.
LENGTHS = (10, 20, 40, 80)
RATES = (0.0, 0.02, 0.1, 0.3)
SAMPLE_RATE = 22050
LANGUAGE = "en-US"
VOICE = "English-US.Female-1"


def _text(chars: int) -> str:
    words = ("hello ", "there ", "voice ", "riva ")
    text = "".join(words[i % len(words)] for i in range(chars // 6 + 1))
    return text[: chars - 1].rstrip() + "."


def _ogg(pcm: bytes) -> bytes:
    """One OGG Vorbis file of 16-bit PCM, encoded in one go."""
    import io

    import numpy as np
    import soundfile

    out = io.BytesIO()
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    soundfile.write(out, samples, SAMPLE_RATE, format="OGG", subtype="VORBIS")
    return out.getvalue()


def _streamed_once(service: Any, text: str) -> tuple[float, float, float]:
    """(floor, streamed, last piece) seconds for one sentence, read piece by piece."""
    import riva.client

    started = time.perf_counter()
    floor = streamed = 0.0
    for n, response in enumerate(
        service.synthesize_online(
            text,
            voice_name=VOICE,
            language_code=LANGUAGE,
            sample_rate_hz=SAMPLE_RATE,
            encoding=riva.client.AudioEncoding.LINEAR_PCM,
        )
    ):
        if n == 0:
            floor = time.perf_counter() - started
            _ogg(response.audio)
            streamed = time.perf_counter() - started
    return floor, streamed, time.perf_counter() - started


async def _adapter_streamed(adapter: Any, text: str) -> tuple[float, int]:
    """(seconds to the first piece, pieces) of the adapter's streamed synthesis."""
    started = time.perf_counter()
    first = 0.0
    count = 0
    async for _ in adapter.synthesize_pieces(text, "Seoyeon", LANGUAGE):
        count += 1
        if count == 1:
            first = time.perf_counter() - started
    return first, count


def run(lengths: tuple[int, ...], rates: tuple[float, ...], repeats: int) -> dict[str, Any]:
    if str(RIVA_TESTS) not in sys.path:
        sys.path.insert(0, str(RIVA_TESTS))
    import riva.client
    from riva_fake_server import FakeRiva, RivaServer

    from voicebot.adapters.riva_tts import RivaStreamingSynthesizer, RivaSynthesizer

    fake = FakeRiva()
    server = RivaServer(fake)
    rows: list[dict[str, Any]] = []
    try:
        adapter = RivaSynthesizer(
            url=server.url, voice=VOICE, language=LANGUAGE, sample_rate_hz=SAMPLE_RATE
        )
        streaming = RivaStreamingSynthesizer(
            url=server.url, voice=VOICE, language=LANGUAGE, sample_rate_hz=SAMPLE_RATE
        )
        service = riva.client.SpeechSynthesisService(riva.client.Auth(uri=server.url))
        for text in (_text(n) for n in (10, 10)):  # warm the channel and the encoder
            asyncio.run(adapter.synthesize(text, "Seoyeon", LANGUAGE))
            _streamed_once(service, text)
            asyncio.run(_adapter_streamed(streaming, text))
        for rate in rates:
            fake.tts_real_time_factor = rate
            for chars in lengths:
                text = _text(chars)
                baseline: list[float] = []
                floor: list[float] = []
                streamed: list[float] = []
                whole_stream: list[float] = []
                adapter_first: list[float] = []
                pieces = 0
                for _ in range(repeats):
                    first_piece, pieces = asyncio.run(_adapter_streamed(streaming, text))
                    adapter_first.append(first_piece)
                    started = time.perf_counter()
                    ogg = asyncio.run(adapter.synthesize(text, "Seoyeon", LANGUAGE))
                    baseline.append(time.perf_counter() - started)
                    first, first_ogg, last = _streamed_once(service, text)
                    floor.append(first)
                    streamed.append(first_ogg)
                    whole_stream.append(last)
                pcm_seconds = 0.05 * len(text)
                encode_started = time.perf_counter()
                _ogg(b"\0\0" * int(SAMPLE_RATE * pcm_seconds))
                rows.append(
                    {
                        "rtf": rate,
                        "chars": len(text),
                        "audio_s": round(pcm_seconds, 3),
                        "ogg_bytes": len(ogg),
                        "baseline_ms": summary([1000 * v for v in baseline]),
                        "streamed_ms": summary([1000 * v for v in streamed]),
                        "floor_ms": summary([1000 * v for v in floor]),
                        "adapter_streamed_ms": summary([1000 * v for v in adapter_first]),
                        "pieces": pieces,
                        "stream_end_ms": summary([1000 * v for v in whole_stream]),
                        "encode_whole_ms": round(1000 * (time.perf_counter() - encode_started), 2),
                    }
                )
    finally:
        server.stop()
    return {
        "what": "Riva TTS, request to a sentence's audio: the adapter's joined OGG (baseline), "
        "the last piece received (stream_end), the first piece as its own OGG (streamed), the "
        "first PCM piece (floor), the streaming adapter's first piece (adapter_streamed)",
        "server": "tests/riva/riva_fake_server.py FakeRiva (50 ms of audio per character, "
        "100 ms pieces, paced by rtf); real nvidia-riva-client, gRPC on 127.0.0.1",
        "sample_rate_hz": SAMPLE_RATE,
        "repeats": repeats,
        "machine": machine(),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = bench_parser("bench.riva_tts", __doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each sentence and rate")
    parser.add_argument("--rtf", type=float, nargs="+", default=list(RATES),
                        help="the fake server's real-time factors")  # fmt: skip
    parser.add_argument("--chars", type=int, nargs="+", default=list(LENGTHS),
                        help="sentence lengths in characters")  # fmt: skip
    add_copy_to_docs(parser)
    args = parser.parse_args(argv)
    result = run(tuple(args.chars), tuple(args.rtf), args.repeats)
    headers = ["rtf", "chars", "audio s", "baseline", "stream end", "streamed", "floor",
               "adapter streamed", "pieces", "gain"]  # fmt: skip
    print(
        table(
            headers,
            [
                [
                    f"{row['rtf']:g}",
                    row["chars"],
                    row["audio_s"],
                    *(
                        fmt(row[f"{way}_ms"]["p50"])
                        for way in (
                            "baseline",
                            "stream_end",
                            "streamed",
                            "floor",
                            "adapter_streamed",
                        )
                    ),
                    row["pieces"],
                    fmt(row["baseline_ms"]["p50"] - row["adapter_streamed_ms"]["p50"]),
                ]
                for row in result["rows"]
            ],
        )
    )
    print("p50 ms from the request to: the adapter's OGG (baseline), the last piece (stream end), "
          "the first piece as an OGG (streamed), the first piece (floor), the streaming "
          "adapter's first piece; gain: baseline - adapter streamed")  # fmt: skip
    publish("riva_tts.json", result, args.copy_to_docs)


if __name__ == "__main__":
    main()
