"""Ours and Pipecat's text aggregation on the same scripted token stream; prints JSON.

Run by ``bench.voice_to_voice --pipecat`` under a Python that has ``pipecat-ai`` (the project's
virtual environment cannot take it: see requirements/bench.txt), with ``PYTHONPATH=lambdas``::

    PYTHONPATH=lambdas /tmp/pipecatenv/bin/python -m bench._v2v_pipecat < request.json

What is compared, exactly: the scripted model's tokens of each answer (``split_tokens`` at the
benchmark's characters per token, the first after ``first_token_ms``, then one every
1/``tokens_per_second`` s, paced against the clock as ``ScriptedChatModel`` does) are fed, as
they arrive, to

- ours: ``voicebot.segmenter.SentenceSegmenter`` built as the chat service builds it
  (``max_chars`` and ``first_clause_min_chars`` from ``ChatSettings``' defaults);
- Pipecat: ``pipecat.utils.text.simple_text_aggregator.SimpleTextAggregator`` built as
  ``TTSService.__init__`` builds it (``TextAggregationMode.SENTENCE``, the default, with the
  language ``resolve_sentence_tokenizer_language("ko-KR")`` = ``ko``), fed through ``aggregate``
  token by token as ``TTSService`` does with each ``LLMTextFrame``.

The first piece either emits is handed to the same scripted synthesizer (``tts_delay_ms`` +
``tts_ms_per_char`` × its characters, the stack's ``ScriptedSynthesizer``): first audio = the
moment the piece is cut + that delay. No network, page or frame pipeline on either side: it is the
text aggregation alone, which is where the two differ.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from voicebot.adapters.scripted import split_tokens
from voicebot.contract.settings import ChatSettings
from voicebot.segmenter import SentenceSegmenter

Feed = Callable[[str], Awaitable[list[str]]]


def ours() -> tuple[Feed, Callable[[], Awaitable[list[str]]]]:
    settings = ChatSettings()
    segmenter = SentenceSegmenter(
        max_chars=settings.max_sentence_chars,
        first_clause_min_chars=settings.first_clause_min_chars,
    )

    async def feed(token: str) -> list[str]:
        return segmenter.feed(token)

    async def flush() -> list[str]:
        return segmenter.flush()

    return feed, flush


def pipecats() -> tuple[Feed, Callable[[], Awaitable[list[str]]]]:
    from pipecat.services.tts_service import TextAggregationMode
    from pipecat.utils.string import resolve_sentence_tokenizer_language
    from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

    aggregator = SimpleTextAggregator(
        aggregation_type=TextAggregationMode.SENTENCE,
        language=resolve_sentence_tokenizer_language("ko-KR"),
    )

    async def feed(token: str) -> list[str]:
        return [a.text async for a in aggregator.aggregate(token)]

    async def flush() -> list[str]:
        last = await aggregator.flush()
        return [last.text] if last is not None and last.text else []

    return feed, flush


async def first_piece(
    tokens: list[str], first_token_ms: float, interval_ms: float, cutter: str
) -> tuple[float, str, int]:
    """(ms from the request to the first piece cut, the piece, tokens it took)."""
    feed, flush = ours() if cutter == "ours" else pipecats()
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, token in enumerate(tokens, start=1):
        due = start + (first_token_ms + (i - 1) * interval_ms) / 1000
        await asyncio.sleep(max(0.0, due - loop.time()))
        pieces = await feed(token)
        if pieces:
            return (loop.time() - start) * 1000, pieces[0], i
    pieces = await flush()
    return (loop.time() - start) * 1000, pieces[0] if pieces else "", len(tokens)


async def compare(request: dict[str, Any]) -> dict[str, Any]:
    p = request["providers"]
    interval = 1000 / p["tokens_per_second"]
    answers: list[dict[str, Any]] = []
    for answer in request["answers"]:
        tokens = split_tokens(answer, p["chars_per_token"])
        row: dict[str, Any] = {"answer": answer, "tokens": len(tokens)}
        for cutter in ("ours", "pipecat"):
            cut_ms: list[float] = []
            piece, used = "", 0
            for _ in range(request["repeats"]):
                ms, piece, used = await first_piece(tokens, p["first_token_ms"], interval, cutter)
                cut_ms.append(ms)
            synth = p["tts_delay_ms"] + p["tts_ms_per_char"] * len(piece)
            cut = statistics.median(cut_ms)
            row[cutter] = {
                "firstPiece": piece,
                "firstPieceChars": len(piece),
                "tokensToFirstPiece": used,
                "cutMs": cut,
                "cutMsMax": max(cut_ms),
                "synthesisMs": synth,
                "firstAudioMs": cut + synth,
            }
        row["ratio"] = row["ours"]["firstAudioMs"] / row["pipecat"]["firstAudioMs"]
        answers.append(row)
    from importlib.metadata import version

    return {
        "pipecat_version": version("pipecat-ai"),
        "python": sys.version.split()[0],
        "first_clause_min_chars": ChatSettings().first_clause_min_chars,
        "answers": answers,
        "ratio_mean": statistics.fmean(a["ratio"] for a in answers),
        "ratio_of_medians": statistics.median(a["ours"]["firstAudioMs"] for a in answers)
        / statistics.median(a["pipecat"]["firstAudioMs"] for a in answers),
        "measured_at": time.time(),
    }


def main() -> int:
    request = json.load(sys.stdin)
    print(json.dumps(asyncio.run(compare(request)), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
