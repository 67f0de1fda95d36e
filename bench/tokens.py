"""Characters per token of an answer under a real tokenizer: the scripted model's calibration.

The turn-latency benchmark streams its scripted answer at a token rate, so how many characters
one token carries decides how long the answer takes to stream. This starts the packaged Gemma 3
GGUF (``python -m local.llm``, loopback only, no download) and asks llama.cpp's ``/tokenize`` how
many tokens each text takes. Gemma 3's 262k vocabulary is among the most economical for Korean,
so its figure is the fast end for Korean; tokenizers with English-centred vocabularies need
more tokens per character (the answer then streams more slowly).

    python -m bench.tokens                     # the benchmark's answers, Korean and English
    python -m bench.tokens --text "안녕하세요. 반갑습니다."
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from ._cli import add_copy_to_docs, bench_parser
from ._providers import DEFAULT_ANSWER, UNPUNCTUATED_ANSWER
from ._stats import machine, publish, table

ENGLISH_ANSWER = (
    "Seoul will be mostly clear today, with a high of eighteen degrees. In the afternoon a fairly "
    "strong wind may blow from the west. Clouds will gather in the evening, and light rain is "
    "expected late at night. When you go out, a light jacket and a small umbrella would be good. "
    "Tell me if you are curious about another area."
)


def count_tokens(texts: dict[str, str]) -> list[dict[str, object]]:
    from local.children import ChildProcess

    with tempfile.TemporaryDirectory(prefix="voicebot-tokens-") as tmp:
        # The model is assembled into ~/.voicebot once (as the local stack does), not per run.
        llm = ChildProcess(
            "llm",
            "local.llm",
            ["--data-dir", str(Path.home() / ".voicebot"), "--parallel", "1"],
            Path(tmp) / "llm.log",
        )
        url = llm.start(timeout=120).removesuffix("/v1")
        try:
            rows = []
            for name, text in texts.items():
                tokens = httpx.post(f"{url}/tokenize", json={"content": text}, timeout=30)
                tokens.raise_for_status()
                n = len(tokens.json()["tokens"])
                rows.append({"text": name, "characters": len(text), "tokens": n,
                             "chars_per_token": len(text) / n})  # fmt: skip
            return rows
        finally:
            llm.stop()


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("bench.tokens", __doc__, show_defaults=False)
    parser.add_argument("--text", action="append", default=[], help="a text to count (repeat)")
    add_copy_to_docs(parser)
    args = parser.parse_args(argv)
    texts = {f"text {i + 1}": t for i, t in enumerate(args.text)} or {
        "benchmark answer (ko)": DEFAULT_ANSWER,
        "unpunctuated answer (ko)": UNPUNCTUATED_ANSWER,
        "the same answer in English": ENGLISH_ANSWER,
    }
    rows = count_tokens(texts)
    print(table(["text", "characters", "tokens", "characters per token"],
                [[r["text"], r["characters"], r["tokens"], f"{r['chars_per_token']:.2f}"]
                 for r in rows]))  # fmt: skip
    print("(tokenizer: Gemma 3, the packaged gemma3-270m GGUF, via llama.cpp /tokenize)")
    tokenizer = "gemma-3 (gemma3-270m GGUF)"
    result = {"benchmark": "tokens", "machine": machine(), "tokenizer": tokenizer, "rows": rows}
    publish("tokens.json", result, args.copy_to_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
