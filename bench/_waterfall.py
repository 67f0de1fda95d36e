"""Draw the waterfall of one turn from its JSON, so the picture can only show what the JSON says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# (label, start mark, end mark); "c:" marks are the client's, "s:" the server ledger's.
STAGES = (
    ("chat reaches the handler", "c:send", "s:received"),
    ("history + model to first token", "s:received", "s:firstToken"),
    ("first spoken segment streams", "s:firstToken", "s:firstSentence"),
    ("first spoken segment synthesised", "s:firstSentence", "s:firstAudio"),
    ("audio posted to the page", "s:firstAudio", "c:firstAudio"),
    ("rest of the answer, stored", "c:firstAudio", "c:done"),
)
FLOOR_PARTS = (
    ("first token", "first_token_ms"),
    ("stream", "stream_first_segment_ms"),
    ("synth", "synthesize_first_segment_ms"),
)
COLOURS = {"delta": "#4c72b0", "sentence": "#dd8452", "audio": "#55a868", "done": "#c44e52"}


def _at(turn: dict[str, Any], mark: str) -> float:
    scope, name = mark.split(":", 1)
    if mark == "c:send":
        return 0.0
    return float((turn["ledger"] if scope == "s" else turn["marks"])[name])


def plot(json_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(json_path.read_text())
    turn, floor = data["turn"], data["floor"]
    fig, ax = plt.subplots(figsize=(11, 5.2))
    rows: list[str] = []

    left = 0.0
    for (label, key), colour in zip(FLOOR_PARTS, ("#bbbbbb", "#999999", "#777777"), strict=True):
        width = float(floor[key])
        ax.barh(0, width, left=left, color=colour, edgecolor="white")
        ax.text(left + width / 2, 0, label, ha="center", va="center", fontsize=8, color="white")
        left += width
    rows.append(f"provider floor ({floor['first_audio_ms']:.0f} ms)")

    for y, (label, start, end) in enumerate(STAGES, start=1):
        a, b = _at(turn, start), _at(turn, end)
        ax.barh(y, b - a, left=a, color="#8172b3")
        ax.text(b + 8, y, f"{b - a:.0f} ms", va="center", fontsize=8)
        rows.append(label)

    y_events = len(rows)
    for event in turn["events"]:
        colour = COLOURS.get(event["type"], "black")
        ax.plot(event["t"], y_events, marker="|", markersize=14, color=colour)
        if event["type"] in ("sentence", "audio"):
            ax.annotate(
                str(event["index"]),
                (event["t"], y_events),
                textcoords="offset points",
                xytext=(0, 8 if event["type"] == "audio" else -14),
                ha="center",
                fontsize=7,
                color=colour,
            )
    rows.append("page receives (delta / sentence / audio / done)")

    first_audio = _at(turn, "c:firstAudio")
    ax.axvline(floor["first_audio_ms"], color="#777777", linestyle="--", linewidth=1)
    ax.axvline(first_audio, color="#55a868", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms after the page sent chat")
    floor_ms = float(floor["first_audio_ms"])
    ax.set_title(
        f"One typical turn ({data['label']}): first audio at {first_audio:.0f} ms, "
        f"floor {floor_ms:.0f} ms, overhead {first_audio - floor_ms:.0f} ms",
        fontsize=10,
    )
    handles = [
        plt.Line2D([], [], color=c, marker="|", linestyle="", markersize=10)
        for c in COLOURS.values()
    ]
    ax.legend(handles, list(COLOURS), loc="upper right", fontsize=8)
    ax.set_xlim(0, _at(turn, "c:done") * 1.1)  # room for the last label
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
