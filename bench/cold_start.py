"""Cold start of each Lambda handler: import time in a fresh interpreter, and the asset's size.

For every handler module, starts a new Python several times and times ``import handlers.<name>``
(median) the way Lambda runs it: the runtime's Python version (3.13, found as the CDK app finds it
to compile the asset's bytecode), only the asset's packages on the path, and Lambda's environment
(``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME`` ...: the X-Ray SDK and Powertools choose
their Lambda code paths from these). What is imported is a twin of the deployed asset built by
``cdk/bundling.py`` for this machine's architecture: the same requirements and code, the same
bytecode, only the compiled extensions differ. Two cases: with the asset's bytecode, and from
source (the same tree without its ``.pyc``; the standard library keeps its own, as on Lambda:
what every cold start paid before the asset shipped bytecode). One more run with ``-X
importtime`` says which imports dominate. Without a Python 3.13 it falls back to this
interpreter and its environment (and skips the from-source case), and says so. The asset size
is the deployed (arm64) asset's, built by the same code.

    python -m bench.cold_start              # ~1-2 minutes
    python -m bench.cold_start --runs 3 --handlers health,chat
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._cli import add_copy_to_docs, bench_parser
from ._stats import REPO, machine, publish, table

HANDLERS = ("health", "sessions", "transcripts", "speech", "history", "ws_connect",
            "ws_disconnect", "ws_messages", "ws_chat", "chat")  # fmt: skip
# What each row imports. The chat function imports LangChain only in its first invocation
# (``wiring.turn_runner``); "chat_first_turn" adds those imports (the deployed provider is
# Bedrock), so the chat function's real cold path is measured too.
IMPORTS = {name: f"handlers.{name}" for name in HANDLERS} | {
    "chat_first_turn": "handlers.chat, voicebot.services.chat, voicebot.adapters.chat_models, "
    "langchain_aws",
}
LAMBDAS = REPO / "lambdas"
TIMER = "import time, sys; t = time.perf_counter(); import {0}; " \
        "print(time.perf_counter() - t)"  # fmt: skip


@dataclass(frozen=True)
class Target:
    """The interpreter and code path a measurement imports with."""

    python: str
    path: Path
    lambda_like: bool  # the runtime's Python over a twin of the asset, not this dev interpreter
    description: str
    # The same tree without its bytecode (the standard library keeps its own, as on Lambda);
    # None in the fallback, where the no-bytecode case is not measured.
    source_path: Path | None = None

    def command(self, *args: str) -> list[str]:
        # -S -s: no site-packages of the measuring interpreter, only the asset (Lambda's own
        # site holds nothing the asset does not bring).
        return [self.python, "-S", "-s", *args] if self.lambda_like else [self.python, *args]


@contextlib.contextmanager
def target() -> Iterator[Target]:
    """A twin of the deployed asset and the runtime's Python, or this interpreter as fallback."""
    from cdk import bundling  # the CDK app's own builder

    python = bundling.lambda_python()
    if python is None:
        yield Target(sys.executable, LAMBDAS, False,
                     f"fallback: this interpreter (Python {sys.version.split()[0]}) and its "
                     "site-packages; no Python 3.13 for a twin of the asset")  # fmt: skip
        return
    if not sys.platform.startswith("linux"):
        raise SystemExit("the cold-start benchmark builds a Linux twin of the asset: use Linux")
    with tempfile.TemporaryDirectory(prefix="voicebot-asset-twin-") as tmp:
        twin = Path(tmp) / "task"
        print(f"building a {bundling.host_pip_platform()} twin of the asset "
              "(the first run downloads the wheels)...", flush=True)  # fmt: skip
        bundling.build_asset(twin, bundling.host_pip_platform())
        source = Path(tmp) / "source"
        shutil.copytree(twin, source, copy_function=os.link,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        described = (
            f"Python {bundling.LAMBDA_PYTHON_VERSION} ({python}) over a "
            f"{bundling.host_pip_platform()} twin of the asset, with its bytecode"
        )
        yield Target(python, twin, True, described, source)


def _environment(
    name: str, where: Target, extra: dict[str, str], path: Path | None = None
) -> dict[str, str]:
    # What the function has at init on AWS that changes what gets imported. No secrets or
    # endpoints are needed: every client is built lazily at the first call.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "PYTHON"))}
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=f"voicebot-{name}",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.13",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        # The X-Ray SDK takes its Lambda path (no sampling-rules client) when this is set.
        LAMBDA_TASK_ROOT=str(path or where.path),
        POWERTOOLS_SERVICE_NAME="voicebot",
        POWERTOOLS_METRICS_NAMESPACE="Voicebot",
        PYTHONPATH=str(path or where.path),
        **extra,
    )
    return env


def time_import(
    name: str, where: Target, runs: int, from_source: bool
) -> tuple[list[float], list[float]]:
    """Import seconds and whole-process seconds of ``runs`` fresh interpreters.

    ``from_source`` imports the twin without its bytecode; nothing is written back (as on
    Lambda, whose /var/task is read-only), so every run compiles again.
    """
    imports, processes = [], []
    path = where.source_path if from_source else where.path
    if path is None:
        return [], []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(
            where.command("-c", TIMER.format(IMPORTS[name])),
            env=_environment(name, where, {"PYTHONDONTWRITEBYTECODE": "1"}, path),
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            check=True,
        )
        processes.append(time.perf_counter() - started)
        imports.append(float(out.stdout.strip().splitlines()[-1]))
    return imports, processes


def dominant_imports(name: str, where: Target, top: int = 6) -> list[dict[str, Any]]:
    """Self time of ``-X importtime`` summed by top-level package: where the import time goes."""
    out = subprocess.run(
        where.command("-X", "importtime", "-c", f"import {IMPORTS[name]}"),
        env=_environment(name, where, {"PYTHONDONTWRITEBYTECODE": "1"}),
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
        if item.is_file():
            files += 1
            size += item.stat().st_size
    return files, size


def _zipped_size(tree: Path) -> int:
    # Lambda's limits are 50 MB zipped (direct upload) and 250 MB unzipped; CDK zips the asset.
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "asset.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for item in sorted(tree.rglob("*")):
                if item.is_file():
                    zf.write(item, item.relative_to(tree))
        return archive.stat().st_size


def asset_size() -> dict[str, Any]:
    """Size of the asset every function deploys (arm64), built as ``cdk synth`` builds it."""
    from cdk import bundling

    with tempfile.TemporaryDirectory(prefix="voicebot-asset-") as tmp:
        tree = Path(tmp) / "asset"
        bundling.build_asset(tree)
        files, size = _tree_size(tree)
        return {
            "source": f"cdk/bundling.build_asset ({bundling.LAMBDA_PIP_PLATFORM})",
            "shared_by_every_handler": True,
            "bytecode": any(tree.glob("handlers/__pycache__/*.pyc")),
            "files": files,
            "unzipped_mb": size / 1e6,
            "zipped_mb": _zipped_size(tree) / 1e6,
        }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def measure(name: str, where: Target, runs: int) -> dict[str, Any]:
    cached, process = time_import(name, where, runs, from_source=False)
    source, _ = time_import(name, where, max(3, runs // 2), from_source=True)
    return {
        "handler": name if name not in HANDLERS else f"handlers.{name}",
        "imports": IMPORTS[name],
        "import_ms_median": statistics.median(cached) * 1000,
        "import_ms_all": [v * 1000 for v in cached],
        "process_ms_median": statistics.median(process) * 1000,
        "import_from_source_ms_median": statistics.median(source) * 1000 if source else None,
        "dominant_imports": dominant_imports(name, where),
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("bench.cold_start", __doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per handler")
    parser.add_argument("--handlers", default=",".join(IMPORTS), help="handler modules")
    add_copy_to_docs(parser)
    args = parser.parse_args(argv)
    names = [n for n in args.handlers.split(",") if n]
    if not 1 <= args.runs <= 25 or set(names) - set(IMPORTS):
        parser.error(f"--runs in 1..25; handlers from {', '.join(IMPORTS)}")
    started = time.monotonic()
    rows, results = [], []
    with target() as where:
        print(f"importing with {where.description}", flush=True)
        for name in names:
            results.append(measure(name, where, args.runs))
            r = results[-1]
            rows.append([r["handler"], f"{r['import_ms_median']:.0f}",
                         _ms(r["import_from_source_ms_median"]),
                         f"{r['process_ms_median']:.0f}",
                         ", ".join(f"{t['package']} {t['ms']:.0f}"
                                   for t in r["dominant_imports"][:4])])  # fmt: skip
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
        "imported_with": where.description,
        "lambda_like": where.lambda_like,
        "handlers": results,
        "asset": asset,
    }
    publish("cold_start.json", result, args.copy_to_docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
