"""What the device hears, on its terminal: the partial line is rewritten in place, finals stay."""

from __future__ import annotations

import shutil
import sys
import unicodedata
from typing import TextIO

from .events import FinalTranscript, TranscriptEvent

_CLEAR_LINE = "\r\x1b[2K"


def _cells(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _tail_that_fits(text: str, width: int) -> str:
    """The end of ``text`` that fits on one line: Hangul takes two cells, and a wrapped line
    could not be rewritten with a carriage return."""
    used = 0
    for start in range(len(text) - 1, -1, -1):
        used += _cells(text[start])
        if used > width:
            return "…" + text[start + 2 :]
    return text


class TerminalView:
    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        # Rewriting a line only works on a terminal; a log file or pipe gets the finals alone.
        self._live = self._out.isatty()
        self._partial_shown = False

    def show(self, event: TranscriptEvent) -> None:
        if isinstance(event, FinalTranscript):
            if not event.text:
                self._clear_partial()
                return
            prefix = _CLEAR_LINE if self._partial_shown else ""
            self._out.write(f"{prefix}{event.text}\n")
            self._partial_shown = False
        elif self._live and event.text:
            width = max(10, shutil.get_terminal_size().columns - 1)
            self._out.write(_CLEAR_LINE + _tail_that_fits(event.text, width))
            self._partial_shown = True
        self._out.flush()

    def close(self) -> None:
        self._clear_partial()
        self._out.flush()

    def _clear_partial(self) -> None:
        if self._partial_shown:
            self._out.write(_CLEAR_LINE)
            self._partial_shown = False
