"""Sentence cutting on realistic LLM answers: boundary precision, recall and F1, streamed.

The evaluation set is ``tests/data/segmentation/{ko,en}.jsonl``: answers written the way a chat
model writes them for a voice bot (polite speech, numbers and dates, markdown, English mixed in,
missing punctuation, quotations followed by 라고, tildes, abbreviations), each with its gold cut
(the list of sentences) and the hazard classes it exercises (``tags``). Each answer is streamed
into ``SentenceSegmenter`` in random chunks of 1-4 characters, for several seeds, as a model's
tokens arrive; a boundary is scored where it falls in the text, counted in characters that are
neither whitespace nor emoji (an emoji is not spoken, so which side of a cut it lands on does not
change what is heard). The end of an answer is not a boundary (every cutter finds it).

    python -m bench.segmentation                   # our segmenter, 5 seeds
    python -m bench.segmentation --kss /tmp/kssenv/bin/python   # and kss beside it
    python -m bench.segmentation --label before --copy-to-docs

kss is only ever a benchmark comparison, run in its own interpreter (``--kss``): it is never a
dependency of the project. Results: ``bench/results/segmentation[-LABEL].json``.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicebot.segmenter import SentenceSegmenter, is_emoji

from ._cli import add_copy_to_docs, bench_parser
from ._stats import REPO, fields_as_json, machine, publish, table

DATA = REPO / "tests" / "data" / "segmentation"
# The tuning sets, then held-out sets written after the segmenter's rules (never tuned on).
SETS = ("ko", "en", "ko_holdout", "en_holdout")
SEEDS = (0, 1, 2, 3, 4)
MAX_CHUNK = 4
# The product's longest sentence (TurnOptions.max_sentence_chars); the first segment is a whole
# sentence here (first_clause_min_chars=0): the gold cut is sentences, not clauses.
MAX_SENTENCE_CHARS = 160


@dataclass(frozen=True)
class Answer:
    id: str
    lang: str
    tags: tuple[str, ...]
    text: str
    sentences: tuple[str, ...]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: set[int], found: set[int]) -> None:
        self.tp += len(gold & found)
        self.fp += len(found - gold)
        self.fn += len(gold - found)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return fields_as_json(self, "tp fp fn precision recall f1")


@dataclass
class Score:
    """Counts per language and per hazard class, and the answers each cutter got wrong."""

    overall: Counts = field(default_factory=Counts)
    by_tag: dict[str, Counts] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, answer: Answer, found: Sequence[str], run: str = "") -> None:
        gold, got = boundaries(answer.sentences), boundaries(found)
        if _weight(answer.text) != _weight("".join(found)):
            raise ValueError(f"{answer.id}: the cutter changed the text ({run})")
        self.overall.add(gold, got)
        for tag in answer.tags:
            self.by_tag.setdefault(tag, Counts()).add(gold, got)
        if gold != got:
            self.errors.append(
                {
                    "id": answer.id,
                    "run": run,
                    "tags": list(answer.tags),
                    "gold": list(answer.sentences),
                    "found": list(found),
                }
            )


def load(name: str, data: Path = DATA) -> list[Answer]:
    answers = []
    for line in (data / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            answers.append(
                Answer(
                    row["id"], row["lang"], tuple(row["tags"]), row["text"], tuple(row["sentences"])
                )
            )
    for a in answers:  # the gold cut must be a cut of the text, nothing added or lost
        if _weight(a.text) != _weight("".join(a.sentences)):
            raise ValueError(f"{a.id}: its sentences do not spell its text")
    return answers


def _weight(text: str) -> str:
    """The characters a boundary position counts: no whitespace, no emoji."""
    return "".join(ch for ch in text if not ch.isspace() and not is_emoji(ch))


def boundaries(sentences: Iterable[str]) -> set[int]:
    """Where each sentence but the last ends, in counted characters from the start."""
    ends, at = [], 0
    for sentence in sentences:
        n = len(_weight(sentence))
        if n:
            at += n
            ends.append(at)
    return set(ends[:-1])


def chunks(text: str, seed: int, max_chunk: int = MAX_CHUNK) -> list[str]:
    """``text`` in random pieces of 1..max_chunk characters, as a model's tokens arrive."""
    rng = random.Random(f"{seed}:{text}")
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, max_chunk)
        out.append(text[i : i + n])
        i += n
    return out


def stream(pieces: Iterable[str], **options: int) -> list[str]:
    """What ``SentenceSegmenter`` cuts from ``pieces`` fed in order, flushed at the end."""

    options.setdefault("max_chars", MAX_SENTENCE_CHARS)
    segmenter = SentenceSegmenter(**options)
    out: list[str] = []
    for piece in pieces:
        out += segmenter.feed(piece)
    return out + segmenter.flush()


def score_streamed(answers: Sequence[Answer], seeds: Sequence[int] = SEEDS) -> Score:
    score = Score()
    for answer in answers:
        for seed in seeds:
            score.add(answer, stream(chunks(answer.text, seed)), run=f"seed {seed}")
    return score


def chunking_variants(
    answers: Sequence[Answer], seeds: Sequence[int] = SEEDS, **options: int
) -> list[str]:
    """The ids of answers whose cut depends on how the text was chunked (should be none)."""
    varying = []
    for answer in answers:
        cuts = {tuple(stream(chunks(answer.text, seed), **options)) for seed in seeds}
        cuts.add(tuple(stream([answer.text], **options)))
        cuts.add(tuple(stream(list(answer.text), **options)))
        if len(cuts) > 1:
            varying.append(answer.id)
    return varying


_KSS_SCRIPT = """
import json, sys, kss
rows = json.load(sys.stdin)
out = []
for text in rows:
    whole = [s for s in kss.split_sentences(text)]
    lines = [s for line in text.split("\\n") if line.strip() for s in kss.split_sentences(line)]
    out.append({"whole": whole, "lines": lines})
json.dump(out, sys.stdout, ensure_ascii=False)
"""


def run_kss(python: str, answers: Sequence[Answer]) -> tuple[Score, Score, str]:
    """kss's cut of each whole answer and of each answer line by line (in its own interpreter)."""
    texts = [a.text for a in answers]
    done = subprocess.run(
        [python, "-c", _KSS_SCRIPT],
        input=json.dumps(texts),
        text=True,
        capture_output=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"kss failed: {done.stderr.strip()[-2000:]}")
    version = subprocess.run(
        [python, "-c", "import kss; print(kss.__version__)"],
        text=True,
        capture_output=True,
        check=False,
    ).stdout.strip()
    whole, lines = Score(), Score()
    for answer, row in zip(answers, json.loads(done.stdout), strict=True):
        whole.add(answer, row["whole"], run="kss whole text")
        lines.add(answer, row["lines"], run="kss line by line")
    return whole, lines, version


def _rows(name: str, score: Score, tags: Sequence[str], runs: int) -> list[list[object]]:
    """One table row per class; counts are summed over ``runs`` chunkings of every answer."""
    rows: list[list[object]] = []
    for tag in ("all", *tags):
        c = score.overall if tag == "all" else score.by_tag.get(tag)
        if c is None:
            continue
        rows.append(
            [
                name,
                tag,
                runs,
                c.tp + c.fn,
                c.tp,
                c.fp,
                c.fn,
                f"{c.precision:.3f}",
                f"{c.recall:.3f}",
                f"{c.f1:.3f}",
            ]
        )
    return rows


def evaluate(
    sets: Sequence[str] = SETS,
    seeds: Sequence[int] = SEEDS,
    kss: str | None = None,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    result: dict[str, Any] = {"seeds": list(seeds), "max_chunk": MAX_CHUNK, "sets": {}}
    for name in sets:
        answers = load(name)
        tags = sorted({t for a in answers for t in a.tags})
        ours = score_streamed(answers, seeds)
        entry: dict[str, Any] = {
            "answers": len(answers),
            "gold_boundaries": sum(len(boundaries(a.sentences)) for a in answers),
            "ours": {
                "overall": ours.overall.as_dict(),
                "by_tag": {t: c.as_dict() for t, c in sorted(ours.by_tag.items())},
                "chunking_dependent": chunking_variants(answers, seeds),
                "errors": ours.errors,
            },
        }
        rows = _rows("ours (streamed)", ours, tags, len(seeds))
        if kss:
            whole, lines, version = run_kss(kss, answers)
            entry["kss_version"] = version
            for key, score in (("kss_whole", whole), ("kss_lines", lines)):
                entry[key] = {
                    "overall": score.overall.as_dict(),
                    "by_tag": {t: c.as_dict() for t, c in sorted(score.by_tag.items())},
                    "errors": score.errors,
                }
            rows += _rows(f"kss {version} whole", whole, tags, 1)
            rows += _rows(f"kss {version} lines", lines, tags, 1)
        result["sets"][name] = entry
        report(
            f"\n{name}: {len(answers)} answers, {entry['gold_boundaries']} gold boundaries, "
            f"seeds {list(seeds)} (chunks of 1-{MAX_CHUNK} characters)"
        )
        report(table(["cutter", "class", "runs", "gold", "tp", "fp", "fn", "P", "R", "F1"], rows))
        varying = entry["ours"]["chunking_dependent"]
        report(f"answers whose cut depends on the chunking: {len(varying)} {varying or ''}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("bench.segmentation", __doc__, show_defaults=False)
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="chunkings per answer")
    parser.add_argument("--set", choices=SETS, action="append", help="only this set (repeat)")
    parser.add_argument(
        "--kss", metavar="PYTHON", help="an interpreter that can import kss: score it beside ours"
    )
    parser.add_argument("--errors", action="store_true", help="print every wrong cut")
    parser.add_argument("--label", help="writes segmentation-LABEL.json")
    add_copy_to_docs(parser)
    args = parser.parse_args(argv)
    result = evaluate(args.set or SETS, tuple(range(args.seeds)), args.kss)
    if args.errors:
        seen = set()
        for lang, entry in result["sets"].items():
            for key in ("ours", "kss_whole", "kss_lines"):
                for e in entry.get(key, {}).get("errors", []):
                    if (key, e["id"]) in seen:
                        continue
                    seen.add((key, e["id"]))
                    print(f"\n[{lang} {key}] {e['id']} {e['tags']} ({e['run']})")
                    print("  gold: " + " | ".join(e["gold"]))
                    print("  got:  " + " | ".join(e["found"]))
    result = {"benchmark": "segmentation", "machine": machine(), **result}
    name = f"segmentation-{args.label}.json" if args.label else "segmentation.json"
    publish(name, result, args.copy_to_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
