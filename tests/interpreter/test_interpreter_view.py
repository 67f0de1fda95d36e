"""The terminal view: partials rewrite one line, finals stay; pipes and logs get finals only."""

from __future__ import annotations

import io
import os

import pytest

from interpreter.events import FinalTranscript, PartialTranscript
from interpreter.view import TerminalView


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_partial_line_is_rewritten_and_the_final_kept() -> None:
    out = Terminal()
    view = TerminalView(out)
    view.show(PartialTranscript("안녕", "1"))
    view.show(PartialTranscript("안녕하세요", "1"))
    view.show(FinalTranscript("안녕하세요.", "1"))
    assert out.getvalue() == "\r\x1b[2K안녕\r\x1b[2K안녕하세요\r\x1b[2K안녕하세요.\n"


def test_a_pipe_gets_only_the_finals_one_per_line() -> None:
    out = io.StringIO()
    view = TerminalView(out)
    view.show(PartialTranscript("안녕", "1"))
    view.show(FinalTranscript("안녕하세요.", "1"))
    view.show(FinalTranscript("", "2"))
    assert out.getvalue() == "안녕하세요.\n"


def test_a_long_partial_shows_its_end_within_one_terminal_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shutil.get_terminal_size", lambda: os.terminal_size((21, 24)))
    out = Terminal()
    TerminalView(out).show(PartialTranscript("가나다라마바사아자차카타파하", "1"))
    shown = out.getvalue().removeprefix("\r\x1b[2K")
    assert shown.endswith("파하")
    assert 1 + 2 * (len(shown) - 1) <= 20  # "…" is one cell, each Hangul syllable two
