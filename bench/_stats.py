"""Percentiles, plain-text tables and result files, shared by every benchmark."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
# Where --copy-to-docs puts the files docs/BENCHMARKS.md cites.
DOCS = REPO / "docs" / "bench"


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default method), NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable in a terminal, pasteable into docs)."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join([line, rule, *body])


def machine() -> dict[str, Any]:
    """What the figures were measured on; a benchmark without its machine means little."""
    cpu = ""
    try:
        for text_line in Path("/proc/cpuinfo").read_text().splitlines():
            if text_line.startswith("model name"):
                cpu = text_line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem_kb = 0
    try:
        for text_line in Path("/proc/meminfo").read_text().splitlines():
            if text_line.startswith("MemTotal"):
                mem_kb = int(text_line.split()[1])
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        # Others' work on the same cores shows up in every figure under load: how busy the
        # machine was (1, 5, 15 min load averages, read when the result is written, so the
        # 5-minute figure spans the run itself).
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def fields_as_json(obj: object, names: str) -> dict[str, Any]:
    """``obj``'s attributes ``names`` (separated by spaces), in that order, keyed by their
    camelCase names as the result files spell them (``final_text`` → ``finalText``)."""
    return {_camel(name): getattr(obj, name) for name in names.split()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def write_json(name: str, data: dict[str, Any], out_dir: Path = RESULTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_text(json.dumps(_clean(data), indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def copy_to_docs(*paths: Path) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copy2(path, DOCS / path.name)


def publish(name: str, result: dict[str, Any], copy: bool) -> Path:
    """Write a benchmark's result file, say where, and copy it to the docs when asked."""
    path = write_json(name, result)
    print(f"wrote {path}")
    if copy:
        copy_to_docs(path)
    return path


def _clean(value: Any) -> Any:
    # json writes NaN, which is not JSON; a missing figure is null.
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
