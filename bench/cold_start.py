"""Cold start of each Lambda handler: import time in a fresh interpreter, and the asset's size.

For every handler module, starts a new Python several times and times ``import handlers.<name>``
(median), in a Lambda-like environment (``AWS_LAMBDA_FUNCTION_NAME`` set, so Powertools' Tracer
is active as it is with X-Ray tracing on). Two cases: with bytecode cached (``.pyc`` present, as
after a first import on this machine) and from source only (no ``.pyc``, which is what the
deployed asset holds: it is built with ``--no-compile`` and ``__pycache__`` pruned). One more run
with ``-X importtime`` says which imports dominate. The asset size is the CDK app's built asset
(``build/lambda-deps/<hash>`` + the handler code) when it exists, else a ``pip install
--target`` of ``lambdas/requirements.txt`` into a temporary folder.

    python -m bench.cold_start              # ~1-2 minutes
    python -m bench.cold_start --runs 3 --handlers health,chat
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from ._stats import REPO, machine, table, write_json

HANDLERS = ("health", "sessions", "transcripts", "speech", "history", "ws_connect",
            "ws_disconnect", "ws_messages", "chat")  # fmt: skip
# What each row imports. The chat function imports LangChain only in its first invocation
# (``wiring.turn_runner``); "chat_first_turn" adds those imports (the deployed provider is
# Bedrock), so the chat function's real cold path is measured too.
IMPORTS = {name: f"handlers.{name}" for name in HANDLERS} | {
    "chat_first_turn": "handlers.chat, voicebot.services.chat, voicebot.adapters.chat_models, "
    "langchain_aws",
}
LAMBDAS = REPO / "lambdas"
DOCS = REPO / "docs" / "bench"
TIMER = "import time, sys; t = time.perf_counter(); import {0}; " \
        "print(time.perf_counter() - t)"  # fmt: skip


def _environment(name: str, extra: dict[str, str]) -> dict[str, str]:
    # What the function has at init on AWS that changes what gets imported. No secrets or
    # endpoints are needed: every client is built lazily at the first call.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "PYTHON"))}
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=f"voicebot-{name}",
        AWS_REGION="us-east-1",
        POWERTOOLS_SERVICE_NAME="voicebot",
        POWERTOOLS_METRICS_NAMESPACE="Voicebot",
        PYTHONPATH=str(LAMBDAS),
        **extra,
    )
    return env


def time_import(name: str, runs: int, from_source: bool) -> tuple[list[float], list[float]]:
    """Import seconds and whole-process seconds of ``runs`` fresh interpreters."""
    imports, processes = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as empty:
            extra = {"PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"} if from_source \
                else {}  # fmt: skip
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", TIMER.format(IMPORTS[name])],
                env=_environment(name, extra),
                cwd=tempfile.gettempdir(),
                capture_output=True,
                text=True,
                check=True,
            )
            processes.append(time.perf_counter() - started)
            imports.append(float(out.stdout.strip().splitlines()[-1]))
    return imports, processes


def dominant_imports(name: str, top: int = 6) -> list[dict[str, Any]]:
    """Self time of ``-X importtime`` summed by top-level package: where the import time goes."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {IMPORTS[name]}"],
        env=_environment(name, {}),
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=True,
    )
    by_package: dict[str, int] = defaultdict(int)
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, module = (part.strip() for part in line[12:].split("|"))
        by_package[module.split(".")[0]] += int(self_us)
    total = sum(by_package.values())
    ranked = sorted(by_package.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": p, "ms": us / 1000, "share": us / total} for p, us in ranked]


def _tree_size(path: Path) -> tuple[int, int]:
    files, size = 0, 0
    for item in path.rglob("*"):
        if item.is_file() and "__pycache__" not in item.parts:
            files += 1
            size += item.stat().st_size
    return files, size


def _zipped_size(deps: Path, code: list[Path]) -> int:
    # Lambda's limits are 50 MB zipped (direct upload) and 250 MB unzipped; CDK zips the asset.
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "asset.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for root, base in [(deps, deps), *((c, c.parent) for c in code)]:
                for item in sorted(root.rglob("*")):
                    if item.is_file() and "__pycache__" not in item.parts:
                        zf.write(item, item.relative_to(base))
        return archive.stat().st_size


def asset_size() -> dict[str, Any]:
    built = sorted((REPO / "build" / "lambda-deps").glob("*/.complete"))
    code = [LAMBDAS / "handlers", LAMBDAS / "voicebot"]
    if built:
        deps = built[-1].parent
        source = f"the CDK app's built dependencies {deps.relative_to(REPO)} + handler code"
    else:
        tmp = Path(tempfile.mkdtemp(prefix="voicebot-asset-"))
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target",
             str(tmp), "-r", str(LAMBDAS / "requirements.txt")],
            check=True,
        )  # fmt: skip
        deps, source = tmp, "pip install --target of lambdas/requirements.txt (this platform)"
    try:
        files, size = _tree_size(deps)
        for root in code:
            f, s = _tree_size(root)
            files, size = files + f, size + s
        return {
            "source": source,
            "shared_by_every_handler": True,
            "files": files,
            "unzipped_mb": size / 1e6,
            "zipped_mb": _zipped_size(deps, code) / 1e6,
        }
    finally:
        if not built:
            shutil.rmtree(deps, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cold_start",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per handler")
    parser.add_argument("--handlers", default=",".join(IMPORTS), help="handler modules")
    parser.add_argument("--copy-to-docs", action="store_true",
                        help="also copy the JSON into docs/bench/")  # fmt: skip
    args = parser.parse_args(argv)
    names = [n for n in args.handlers.split(",") if n]
    if not 1 <= args.runs <= 25 or set(names) - set(IMPORTS):
        parser.error(f"--runs in 1..25; handlers from {', '.join(IMPORTS)}")
    started = time.monotonic()
    rows, results = [], []
    for name in names:
        cached, process = time_import(name, args.runs, from_source=False)
        source, _ = time_import(name, max(3, args.runs // 2), from_source=True)
        top = dominant_imports(name)
        results.append({
            "handler": name if name not in HANDLERS else f"handlers.{name}",
            "imports": IMPORTS[name],
            "import_ms_median": statistics.median(cached) * 1000,
            "import_ms_all": [v * 1000 for v in cached],
            "process_ms_median": statistics.median(process) * 1000,
            "import_from_source_ms_median": statistics.median(source) * 1000,
            "dominant_imports": top,
        })  # fmt: skip
        r = results[-1]
        rows.append([r["handler"], f"{r['import_ms_median']:.0f}",
                     f"{r['import_from_source_ms_median']:.0f}", f"{r['process_ms_median']:.0f}",
                     ", ".join(f"{t['package']} {t['ms']:.0f}" for t in top[:4])])  # fmt: skip
        print(f"  {name}: {r['import_ms_median']:.0f} ms", flush=True)
    asset = asset_size()
    print(table(["handler", "import ms (pyc)", "import ms (no pyc)", "process ms",
                 "dominant imports (self ms, -X importtime)"], rows))  # fmt: skip
    print(f"asset: {asset['unzipped_mb']:.1f} MB unzipped, {asset['zipped_mb']:.1f} MB zipped, "
          f"{asset['files']} files — {asset['source']}")  # fmt: skip
    result = {
        "benchmark": "cold_start",
        "machine": machine(),
        "seconds": round(time.monotonic() - started, 1),
        "runs": args.runs,
        "note": "local interpreter (the functions run Python 3.13 on arm64); Lambda-like env",
        "handlers": results,
        "asset": asset,
    }
    path = write_json("cold_start.json", result)
    print(f"wrote {path}")
    if args.copy_to_docs:
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, DOCS / path.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
