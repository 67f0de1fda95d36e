"""Korean-aware sentence cutting for text that arrives token by token.

A sentence ends at terminal punctuation (ASCII or full-width) followed by whitespace, at a
line break, or at a Korean sentence-final ending (합니다, 해요, 할까요, …) followed by whitespace
when the model left out the punctuation. Decimals ("3.14"), list numbers ("1. ") and common English
abbreviations ("e.g. ", "Dr. ") do not end a sentence. Sentences longer than ``max_chars`` are cut
at the last comma or space so speech can start without waiting for a run-on sentence to end.

The first segment of an answer may be shorter than a sentence (``first_clause_min_chars``): it
also ends at a clause boundary once it holds that many characters — a comma-like mark followed by
whitespace (not inside an open quote), or one of the Korean connective endings …지만, …는데/은데,
…면서, …니까, …어서/아서/해서 followed by a word that does not start an auxiliary verb (하다,
되다: "…해서 해요" stays whole). The first sound of an answer then waits for a clause instead of a
whole sentence, while the rest is cut into whole sentences (better prosody). Endings that are as
often part of a noun or of a verb phrase are left to a following comma: "…고" (최고 기온, 먹고
싶다), "…면" (라면), "…도록/…려고/…거나 하다" (확인해 드리도록 하겠습니다, 가려고 해요).

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
# Clause marks and Korean connective endings: where the first segment may end early.
_CLAUSE_MARKS = ",，、;；"
_KOREAN_CONNECTIVE = re.compile(r"[가-힣](?:지만|는데|은데|면서|니까|어서|아서|해서)$")
# First syllables of 하다/되다 forms: after a connective they make one verb phrase, not a clause.
_AUXILIARY_STARTS = frozenset("하해했합할한함되돼됐됩될된")
# Quotes that may be open when a comma comes (the comma then belongs to the quotation).
_QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("「", "」"), ("『", "』"), ("‘", "’"))


class SentenceSegmenter:
    def __init__(
        self, max_chars: int = 160, min_chars: int = 2, first_clause_min_chars: int = 0
    ) -> None:
        self._buffer = ""
        self._max = max_chars
        self._min = min_chars
        # 0: the first segment is a whole sentence like the others.
        self._first_clause_min = first_clause_min_chars
        self._first_pending = first_clause_min_chars > 0

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
                self._first_pending = False
        return out

    def flush(self) -> list[str]:
        """End of stream: whatever is left is the last sentence."""
        rest, self._buffer = self._buffer.strip(), ""
        self._first_pending = False
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
                # Not inside a quotation: '“네, 알겠습니다 선생님”이라고' is one sentence.
                if nxt not in ",、，" and i - start >= self._min and not _quote_open(buf[start:i]):
                    return i
            if self._first_pending and i - start >= self._first_clause_min:
                clause = self._clause_end(buf, start, i)
                if clause is not None:
                    return clause
        if len(buf) - start > self._max:
            return self._overflow_cut(buf, start)
        return None

    @staticmethod
    def _clause_end(buf: str, start: int, i: int) -> int | None:
        """Whether whitespace or a mark at ``i`` ends a clause (the first segment's early cut)."""
        ch = buf[i]
        if ch in _CLAUSE_MARKS and i + 1 < len(buf) and buf[i + 1].isspace():
            return None if _quote_open(buf[start:i]) else i + 1
        if ch.isspace() and _KOREAN_CONNECTIVE.search(buf[start:i]):
            # The next word decides (…해서 해요 is one phrase): wait for its first character.
            following = buf[i:].lstrip()
            if following and following[0] not in _AUXILIARY_STARTS:
                return i
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


def _quote_open(text: str) -> bool:
    for opening, closing in _QUOTE_PAIRS:
        if opening == closing:
            if text.count(opening) % 2:
                return True
        elif text.count(opening) > text.count(closing):
            return True
    return False
