"""Korean-aware sentence cutting for text that arrives token by token.

A sentence ends at terminal punctuation (ASCII or full-width) followed by whitespace, at a
line break, or at a Korean sentence-final ending (합니다, 해요, 할까요, …) followed by whitespace
when the model left out the punctuation. Decimals ("3.14"), list numbers ("1. ") and common English
abbreviations ("e.g. ", "Dr. ") do not end a sentence. Sentences longer than ``max_chars`` are cut
at the last comma or space so speech can start without waiting for a run-on sentence to end.

The boundary after punctuation needs one character of look-ahead, so the last sentence of an
answer is returned by :meth:`SentenceSegmenter.flush`.
"""

from __future__ import annotations

import re

_TERMINALS = ".!?…。！？"
_CLOSERS = "\"'”’)]」』》〉"
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "fig"}
)
# Polite (…요, …죠) and formal (…니다, …습니까) sentence-final endings. They end a sentence only
# when followed by whitespace, i.e. when the model omitted the punctuation; "…요, " keeps going
# because a comma follows. Connective endings such as "-니까" (because) are deliberately absent.
_KOREAN_FINAL = re.compile(r"(?:[가-힣]요|니다|습니까|[가-힣]죠)$")


class SentenceSegmenter:
    def __init__(self, max_chars: int = 160, min_chars: int = 2) -> None:
        self._buffer = ""
        self._max = max_chars
        self._min = min_chars

    def feed(self, text: str) -> list[str]:
        """Add streamed text; return the sentences it completed, in order."""
        self._buffer += text
        out: list[str] = []
        while True:
            cut = self._find_boundary()
            if cut is None:
                break
            sentence, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:].lstrip()
            if sentence:
                out.append(sentence)
        return out

    def flush(self) -> list[str]:
        """End of stream: whatever is left is the last sentence."""
        rest, self._buffer = self._buffer.strip(), ""
        return [rest] if rest else []

    def _find_boundary(self) -> int | None:
        buf = self._buffer
        start = len(buf) - len(buf.lstrip())
        for i in range(start, len(buf)):
            ch = buf[i]
            if ch == "\n" and buf[start:i].strip():
                return i + 1
            if ch in _TERMINALS:
                end = i + 1
                while end < len(buf) and (buf[end] in _TERMINALS or buf[end] in _CLOSERS):
                    end += 1
                if end >= len(buf):
                    return None  # need the next character to know
                if buf[end].isspace() and self._is_sentence_end(buf, start, i, end):
                    return end
            elif ch.isspace() and i > start and _KOREAN_FINAL.search(buf[start:i]):
                nxt = buf[i - 1]
                if nxt not in ",、，" and i - start >= self._min:
                    return i
        if len(buf) - start > self._max:
            return self._overflow_cut(buf, start)
        return None

    def _is_sentence_end(self, buf: str, start: int, punct: int, end: int) -> bool:
        if end - start < self._min:
            return False
        if buf[punct] == ".":
            word = buf[start:punct].split()[-1] if buf[start:punct].split() else ""
            if word.isdigit() and len(word) <= 3 and buf[start:punct].strip() == word:
                return False  # "1. " at the start of a line is a list number
            if word.lower().rstrip(".") in _ABBREVIATIONS or word.lower() in _ABBREVIATIONS:
                return False
            if len(word) == 1 and word.isalpha() and word.isupper():
                return False  # an initial, as in "J. Smith"
        return True

    def _overflow_cut(self, buf: str, start: int) -> int:
        window = buf[start : start + self._max]
        for marks in (",，、;:", " "):
            pos = max(window.rfind(m) for m in marks)
            if pos > self._max // 3:
                return start + pos + 1
        return start + self._max
