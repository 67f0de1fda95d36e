"""Ours and Pipecat's text aggregation on the same scripted token stream; prints JSON.

Run by ``bench.voice_to_voice --pipecat`` under a Python that has ``pipecat-ai`` (the project's
virtual environment cannot take it: see requirements/bench.txt), with ``PYTHONPATH=lambdas``::

    PYTHONPATH=lambdas /tmp/pipecatenv/bin/python -m bench._v2v_pipecat < request.json

What is compared, exactly: the scripted model's tokens of each answer (``split_tokens`` at the
benchmark's characters per token, the first after ``first_token_ms``, then one every
1/``tokens_per_second`` s, paced against the clock as ``ScriptedChatModel`` does) are fed, as
they arrive, to

- ours: ``voicebot.segmenter.SentenceSegmenter`` built as the chat service builds it
  (``max_chars`` from ``ChatSettings``' defaults, ``first_clause_min_chars`` and
  ``first_phrase_min_chars`` as the request says: the benchmark's providers, i.e. the defaults);
  ``ours-no-phrase`` is the same with the phrase cut off (``first_phrase_min_chars`` = 0);
- Pipecat: ``pipecat.utils.text.simple_text_aggregator.SimpleTextAggregator`` built as
  ``TTSService.__init__`` builds it (``TextAggregationMode.SENTENCE``, the default, with the
  language ``resolve_sentence_tokenizer_language("ko-KR")`` = ``ko``), fed through ``aggregate``
  token by token as ``TTSService`` does with each ``LLMTextFrame``.

The first piece either emits is handed to the same scripted synthesizer (``tts_delay_ms`` +
``tts_ms_per_char`` × its characters, the stack's ``ScriptedSynthesizer``): first audio = the
moment the piece is cut + that delay. No network, page or frame pipeline on either side: it is the
text aggregation alone, which is where the two differ.

Gaps: the whole answer's pieces are also scheduled as the page plays them (unpaced: token *i*
arrives at ``first_token_ms`` + (*i* − 1) × the interval; a piece's audio is ready at its cut +
its synthesis, synthesized in parallel; it plays at max(ready, the previous piece's end)), with
each piece lasting as long as the scripted synthesizer's tone (``ogg_tone``: 60 ms a character,
100 ms to 3 s, in 100 ms steps) and, separately, as long as Korean speech of it would
(``SPEECH_MS_PER_SYLLABLE`` per Hangul syllable or digit, the voice-to-voice recognizer's pace).
The silence before each later piece is a gap the cut added.
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
# Korean conversational speech, ~6.5 syllables a second (bench/_v2v_recognizer.py's pace).
SPEECH_MS_PER_SYLLABLE = 150.0
CUTTERS = ("ours", "ours-no-phrase", "pipecat")


def ours(clause: int, phrase: int) -> tuple[Feed, Callable[[], Awaitable[list[str]]]]:
    segmenter = SentenceSegmenter(
        max_chars=ChatSettings().max_sentence_chars,
        first_clause_min_chars=clause,
        first_phrase_min_chars=phrase,
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


def cutter_for(
    cutter: str, request: dict[str, Any]
) -> tuple[Feed, Callable[[], Awaitable[list[str]]]]:
    clause = request.get("first_clause_min_chars", ChatSettings().first_clause_min_chars)
    phrase = request.get("first_phrase_min_chars", ChatSettings().first_phrase_min_chars)
    if cutter == "ours":
        return ours(clause, phrase)
    if cutter == "ours-no-phrase":
        return ours(clause, 0)
    return pipecats()


def tone_ms(piece: str) -> float:
    """How long the scripted synthesizer's audio of ``piece`` lasts (``ogg_tone``'s length)."""
    return float(min(3000, max(100, 60 * len(piece))) // 100 * 100)


def speech_ms(piece: str) -> float:
    return SPEECH_MS_PER_SYLLABLE * sum(1 for c in piece if "가" <= c <= "힣" or c.isdigit())


async def schedule(
    tokens: list[str], p: dict[str, Any], feed: Feed, flush: Callable[[], Awaitable[list[str]]]
) -> dict[str, Any]:
    """Every piece's cut, readiness and playback, unpaced; the silences before later pieces."""
    interval = 1000 / p["tokens_per_second"]
    cuts: list[tuple[str, float]] = []
    for i, token in enumerate(tokens, start=1):
        at = p["first_token_ms"] + (i - 1) * interval
        cuts += [(piece, at) for piece in await feed(token)]
    end_at = p["first_token_ms"] + (len(tokens) - 1) * interval
    cuts += [(piece, end_at) for piece in await flush()]
    out: dict[str, Any] = {"pieces": [c[0] for c in cuts], "cutsMs": [c[1] for c in cuts]}
    for name, length in (("tone", tone_ms), ("speech", speech_ms)):
        gaps, previous_end = [], None
        for piece, cut in cuts:
            ready = cut + p["tts_delay_ms"] + p["tts_ms_per_char"] * len(piece)
            start = ready if previous_end is None else max(ready, previous_end)
            if previous_end is not None:
                gaps.append(start - previous_end)
            previous_end = start + length(piece)
        out[f"gapsMs_{name}"] = gaps
    return out


async def first_piece(
    tokens: list[str],
    first_token_ms: float,
    interval_ms: float,
    cutter: str,
    request: dict[str, Any],
) -> tuple[float, str, int]:
    """(ms from the request to the first piece cut, the piece, tokens it took)."""
    feed, flush = cutter_for(cutter, request)
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


async def sweep(request: dict[str, Any]) -> list[dict[str, Any]]:
    """For each ``first_phrase_min_chars`` asked: ours ÷ Pipecat unpaced (token arrival times as
    scripted, so no clock noise), mean per answer set, and the gaps before the second piece."""
    p = request["providers"]

    async def first_audio(
        tokens: list[str], feed: Feed, flush: Any
    ) -> tuple[float, dict[str, Any]]:
        plan = await schedule(tokens, p, feed, flush)
        first = plan["pieces"][0]
        return plan["cutsMs"][0] + p["tts_delay_ms"] + p["tts_ms_per_char"] * len(first), plan

    rows = []
    texts = [(a["text"], a["set"]) for a in request["answers"]]
    theirs = {}
    for text, _ in texts:
        tokens = split_tokens(text, p["chars_per_token"])
        theirs[text] = (await first_audio(tokens, *pipecats()))[0]
    for n in request["sweep"]:
        ratios: dict[str, list[float]] = {}
        gapped = {"tone": 0, "speech": 0}
        firsts = []
        for text, answer_set in texts:
            tokens = split_tokens(text, p["chars_per_token"])
            clause = request.get("first_clause_min_chars", 10)
            ms, plan = await first_audio(tokens, *ours(clause, n))
            ratios.setdefault(answer_set, []).append(ms / theirs[text])
            ratios.setdefault("all", []).append(ms / theirs[text])
            for k in gapped:
                gaps = plan[f"gapsMs_{k}"]
                gapped[k] += bool(gaps and gaps[0] > 0)
            firsts.append(plan["pieces"][0])
        rows.append(
            {
                "first_phrase_min_chars": n,
                "ratio_mean": {k: statistics.fmean(v) for k, v in ratios.items()},
                "answers_with_a_gap_before_the_second_piece": gapped,
                "first_pieces": firsts,
            }
        )
    return rows


async def compare(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("sweep"):
        return {"sweep": await sweep(request), "measured_at": time.time()}
    p = request["providers"]
    interval = 1000 / p["tokens_per_second"]
    answers: list[dict[str, Any]] = []
    for item in request["answers"]:
        answer, answer_set = (item, "") if isinstance(item, str) else (item["text"], item["set"])
        tokens = split_tokens(answer, p["chars_per_token"])
        row: dict[str, Any] = {"answer": answer, "set": answer_set, "tokens": len(tokens)}
        for cutter in CUTTERS:
            cut_ms: list[float] = []
            piece, used = "", 0
            for _ in range(request["repeats"]):
                ms, piece, used = await first_piece(
                    tokens, p["first_token_ms"], interval, cutter, request
                )
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
                **await schedule(tokens, p, *cutter_for(cutter, request)),
            }
        pipecat_ms = row["pipecat"]["firstAudioMs"]
        row["ratio"] = row["ours"]["firstAudioMs"] / pipecat_ms
        row["ratioNoPhrase"] = row["ours-no-phrase"]["firstAudioMs"] / pipecat_ms
        answers.append(row)
    from importlib.metadata import version

    sets: dict[str, dict[str, float]] = {}
    for name in ["all", *dict.fromkeys(a["set"] for a in answers if a["set"])]:
        chosen = [a for a in answers if name == "all" or a["set"] == name]
        sets[name] = {
            "answers": len(chosen),
            "ratio_mean": statistics.fmean(a["ratio"] for a in chosen),
            "ratio_mean_no_phrase": statistics.fmean(a["ratioNoPhrase"] for a in chosen),
            "ratio_of_medians": statistics.median(a["ours"]["firstAudioMs"] for a in chosen)
            / statistics.median(a["pipecat"]["firstAudioMs"] for a in chosen),
        }
    return {
        "pipecat_version": version("pipecat-ai"),
        "python": sys.version.split()[0],
        "first_clause_min_chars": request.get("first_clause_min_chars"),
        "first_phrase_min_chars": request.get("first_phrase_min_chars"),
        "speech_ms_per_syllable": SPEECH_MS_PER_SYLLABLE,
        "answers": answers,
        "sets": sets,
        "ratio_mean": sets["all"]["ratio_mean"],
        "ratio_of_medians": sets["all"]["ratio_of_medians"],
        "measured_at": time.time(),
    }


def main() -> int:
    request = json.load(sys.stdin)
    print(json.dumps(asyncio.run(compare(request)), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
