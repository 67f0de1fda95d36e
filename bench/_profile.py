"""Sample the local stack's process with py-spy while a benchmark loads it, and say where it went.

``--profile`` on ``turn_latency`` and ``relay_load`` records the stack process (not its Redis or
DynamoDB children) with ``py-spy record --gil --nonblocking``: each sample is the Python stack of
the thread holding the interpreter lock, so the samples divide the one core that the process
can use for Python among the code that used it. ``--nonblocking`` does not pause the process to
read it (a few samples may be torn; the totals are not affected in any way that matters here).

The raw file (collapsed stacks, one ``frame;frame;… count`` a line; open it with any flamegraph
tool) is kept beside the JSON, and ``summarize`` turns it into shares of the samples: by
component (a sample counts for every component that appears in its stack, so shares overlap),
by the package of the innermost frame (self time, which adds up to 100%), and the hottest
functions.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Inclusive components: (name, substrings of a frame, any of which puts the sample in it).
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("boto3/botocore, all", ("botocore/", "boto3/")),
    ("  botocore request signing (SigV4)", ("botocore/auth.py", "botocore/signers.py")),
    ("  botocore serialization + validation", ("botocore/serialize.py", "botocore/validate.py")),
    ("  botocore response parsing", ("botocore/parsers.py",)),
    ("  botocore event hooks", ("botocore/hooks.py",)),
    ("  botocore HTTP send (urllib3)", ("botocore/httpsession.py", "urllib3/")),
    (
        "  botocore retries/endpoint rules",
        ("botocore/retries/", "botocore/regions.py", "botocore/endpoint_provider.py"),
    ),
    ("@connections post (lambdas adapter)", ("adapters/connections.py",)),
    ("DynamoDB history (lambdas adapter)", ("adapters/dynamo_history.py",)),
    ("Redis bus (lambdas adapter + redis-py)", ("adapters/redis_bus.py", "redis/")),
    ("handlers + services (lambdas)", ("handlers/", "voicebot/")),
    ("Powertools (logger, tracer, metrics)", ("aws_lambda_powertools/",)),
    ("the twin: @connections route (local/connections.py)", ("local/connections.py",)),
    (
        "the twin: API Gateway events + invoke (local/apigw.py, invoke.py)",
        ("local/apigw.py", "local/invoke.py"),
    ),
    (
        "HTTP server (uvicorn, h11/httptools, starlette)",
        ("uvicorn/", "h11/", "httptools/", "starlette/"),
    ),
    ("WebSocket frames (websockets, wsproto)", ("websockets/", "wsproto/")),
    ("JSON encode/decode", ("json/",)),
    ("asyncio event loop machinery", ("asyncio/",)),
    ("threads (to_thread, thread pools)", ("concurrent/futures/", "anyio/", "threading.py")),
)

# Exclusive layers: each sample goes to the first layer any frame of its stack matches, so the
# shares add up to 100% (the boto3 client comes first: its frames sit under the handlers').
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("boto3 client: build, sign, send, parse (@connections, DynamoDB)",
     ("botocore/", "boto3/", "awscrt/", "urllib3/", "http/client.py")),
    ("HTTP server + the twin's routes (uvicorn, h11, starlette, local/)",
     ("uvicorn/", "h11/", "httptools/", "starlette/", "local/")),
    ("WebSocket frames to pages (websockets)", ("websockets/", "wsproto/")),
    ("Redis (redis-py + bus adapter)", ("redis/", "adapters/redis_bus.py")),
    ("Powertools (logger, tracer, metrics)", ("aws_lambda_powertools/",)),
    ("handlers + services (lambdas), other", ("handlers/", "voicebot/")),
    ("event loops, threads, hand-offs (asyncio, selectors, futures, anyio)",
     ("asyncio/", "selectors.py", "concurrent/", "anyio/", "threading.py")),
)  # fmt: skip


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def record(pid: int, raw_path: Path, rate: int = 100) -> Iterator[None]:
    """Sample ``pid`` until the block ends (py-spy writes its file when interrupted)."""
    exe = py_spy()
    if exe is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--rate", str(rate), "--gil", "--nonblocking",
         "--format", "raw", "--output", str(raw_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if not raw_path.exists():
            raise RuntimeError(f"py-spy wrote nothing: {err.decode(errors='replace')[-2000:]}")


def _package(frame: str) -> str:
    # "func (path/to/file.py:12)" → the top-level package (or the file for a lone module).
    location = frame.rsplit(" (", 1)[-1].rstrip(")")
    path = location.rsplit(":", 1)[0]
    parts = path.split("/")
    if parts[0] in ("lambdas", "local", "bench"):
        return "/".join(parts[:2]) if len(parts) > 2 else parts[0]
    if len(parts) == 1:
        return parts[0].removesuffix(".py")
    return parts[0]


def summarize(raw_path: Path, top: int = 25) -> dict[str, Any]:
    stacks: list[tuple[list[str], int]] = []
    for line in raw_path.read_text(errors="replace").splitlines():
        head, _, count = line.rpartition(" ")
        if head and count.isdigit():
            stacks.append((head.split(";"), int(count)))
    total = sum(n for _, n in stacks)
    components: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for frames, n in stacks:
        for name, needles in COMPONENTS:
            if any(needle in frame for frame in frames for needle in needles):
                components[name] += n
        packages[_package(frames[-1])] += n
        layer = next(
            (name for name, needles in LAYERS
             if any(needle in frame for frame in frames for needle in needles)),
            "other",
        )  # fmt: skip
        layers[layer] += n
        functions[frames[-1]] += n

    def share(counter: Counter[str], keep: int | None = None) -> list[dict[str, Any]]:
        return [
            {"name": k, "samples": v, "percent": 100 * v / total if total else 0.0}
            for k, v in counter.most_common(keep)
        ]

    return {
        "raw_file": raw_path.name,
        "samples_with_gil": total,
        "method": "py-spy record --gil --nonblocking; a sample = the stack holding the GIL",
        "layers_exclusive": share(
            Counter({n: layers[n] for n, _ in LAYERS} | {"other": layers["other"]})
        ),
        "components_inclusive": share(Counter({n: components[n] for n, _ in COMPONENTS}), None),
        "self_by_package": share(packages, top),
        "self_top_functions": share(functions, top),
    }


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\nprofile of the stack process: {summary['samples_with_gil']} samples holding the GIL")
    print("  exclusive layers (add up to 100%):")
    for row in summary["layers_exclusive"]:
        print(f"  {row['percent']:5.1f}%  {row['name']}")
    print("  components (inclusive, overlapping):")
    for row in summary["components_inclusive"]:
        print(f"  {row['percent']:5.1f}%  {row['name']}")
    print("  self time by package:")
    for row in summary["self_by_package"][:12]:
        print(f"  {row['percent']:5.1f}%  {row['name']}")
