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
often part of a noun or of a verb phrase are left to a following comma: "…도록/…려고/…거나 하다"
(확인해 드리도록 하겠습니다, 가려고 해요), and the ones the phrase rule below admits only with its
guards.

When the first sentence has no clause mark early, the first segment may end sooner still, at a
Korean phrase boundary where a speaker pauses (``first_phrase_min_chars``, counted like the
clause's minimum; 0 turns it off, and ``first_clause_min_chars`` = 0 turns off both). Only at a
space after a word of Hangul syllables (digits may lead it: "3시까지는"), in a segment of Hangul,
digits, spaces and commas only (no quotation, parenthesis, markdown, Latin letters, periods or
symbols so far), and only when the next word starts with a Hangul syllable, digit or letter. The
word must end in one of:

- a particle followed by the topic/contrast particle 은/는 — 까지는, 에서는, 에게는, 한테는,
  께서는, 부터는, 보다는, (으)로는, 에는 (때에는, 경우에는, 중에는), and the nouns 때는, 경우는,
  동안은, 것은: a topic phrase is the commonest intonation-phrase boundary of spoken Korean
  ("강남역까지는 | 지하철 이호선으로 …", "감기에 걸렸을 때는 | 따뜻한 물을 …"). A bare noun + 은/는
  is not admitted: it cannot be told from the adnominal -은/-는 of a verb ("맑은 하늘", "가는 길"),
  where a pause splits a noun phrase. Not before 아니다/않다 ("그 정도까지는 아니에요");
- the connective -고 ("대체로 맑고 | 낮 기온은 …"), except after a noun in 고 that often stands
  bare before another noun (최고 기온, 참고 자료, 광고, 사고, 재고, …), a quotative (…다고, …라고,
  …냐고, …자고, …려고) and before an auxiliary or a second verb of one phrase (-고 있다/싶다/
  계시다/말다/나서/보니, 가지고 가다/오다/다니다, 하다/되다; 친구하고 같이/함께);
- the connective -서 in its contracted forms (…워서, …와서, …봐서, …줘서, …돼서, …져서, …셔서,
  …라서, …여서, …러서, …빠서, …파서, …내서, …려서, …겨서), besides …어서/아서/해서 above;
- the conditional -면 after 으, 시, 하, 다, 되, 려, 르, 우, 오, 보, 나 (…으면, …시면, …하면, …다면,
  …려면: 라면, 가면, 화면, 정면 are nouns), not before 되다/좋다/안/괜찮다/충분하다/편하다/어떻다,
  where the -면 clause is the whole sentence's subject ("가시면 | 돼요" would split one predicate);
- the connective -며 (…으며, …하며: a word of two syllables at least);
- the clause rule's connectives (…지만, …는데, …면서, …니까, …어서) without a comma, at this
  minimum rather than the clause's.

English keeps to commas and the clause words above: no phrase rule is safe without a parser.
The default minimum (6 characters, about five syllables: ~0.75 s of speech, longer than the next
segment takes to stream and synthesize) and the rules' effect on first audio, on real answers and
on playback gaps are measured in docs/BENCHMARKS.md ("The first segment at a Korean phrase").
The first segment then reaches the synthesizer as the phrase itself, with no period added
(``speakable`` adds none), so it is read with a continuing, not a final, intonation.

What LLM answers add (each rule is measured by ``python -m bench.segmentation`` on the set in
``tests/data/segmentation``):

- nouns ending in 요 (필요, 중요, 주요, 개요, …) are not polite endings: "예약할 필요 없어요" is one
  sentence; a final ending followed by "(" waits for the parenthesis ("가능해요 (단, …).");
- a tilde or closing markdown after an ending still ends it: "좋네요~ ", "…입니다.** ",
  "**주의하세요** "; an emoji glued to the punctuation stays with its sentence ("잘했어요!👏 ");
- a quotation followed by 라고/하고/라는 (or, in English, a lowercase word) goes on:
  “감사합니다.” 라고 말하면 …;
- spaced dates ("2025. 5. 3.") and inline list numbers ("간단해요: 1. …, 2. …") do not end a
  sentence at their dots;
- dotted abbreviations (U.S., Ph.D., a.m., also glued to a parenthesis: "(e.g.") go on, unless the
  next word starts an English sentence ("…to the U.S. The next year"); "No." and "Fig." go on only
  before a number ("The answer is no. The …" ends); a single capital letter ends a sentence after a
  label ("Plan B. It …", "vitamin C. 하루…") but not as an initial ("J. R. R. Tolkien").

Every decision looks only at a bounded stretch of text around the candidate cut, and waits when
that stretch has not arrived yet, so the cut never depends on how the text was chunked. The boundary
after punctuation needs look-ahead, so the last sentence of an answer is returned by
:meth:`SentenceSegmenter.flush`, which decides the pending cuts as the end of text.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TERMINALS = ".!?…。！？"
_CLOSERS = "\"'”’)]」』》〉"
_QUOTE_CLOSERS = "\"'”’」』"
# Markdown emphasis after the punctuation ("…입니다.**") closes the sentence too.
_MARKUP = "*_`"
_OPENERS = "(\"'“‘[「『<*_`"
_AFTER_OPENER = re.compile(r"[(\"“‘\[「『<*_`]")
# Abbreviations that never end a sentence: a name, a number or an example follows.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "mt", "rev", "gen", "sen", "gov", "capt", "lt", "col",
     "sgt", "vs", "e.g", "i.e", "cf", "approx", "ca", "viz"}
)  # fmt: skip
# …that go on only before a number ("No. 5", "Fig. 3"); "the answer is no." ends.
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "fig", "vol", "p", "pp", "ch", "sec", "art"})
# …that end a sentence only when the next word starts one ("…, etc. The next step").
_FINAL_ABBREVIATIONS = frozenset(
    {"etc", "inc", "ltd", "co", "corp", "jr", "sr", "al", "jan", "feb", "mar", "apr", "jun",
     "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri", "sat",
     "sun"}
)  # fmt: skip
# Dotted abbreviations: U.S, Ph.D, a.m, e.g, b.i.d (pieces of one to three letters).
_DOTTED = re.compile(r"^(?:[A-Za-z]{1,3}\.)+[A-Za-z]{1,3}$")
# Capitalised words that begin English sentences: after an abbreviation that can end one, they
# say that it did ("…moved to the U.S. The next year…"); names ("U.S. Army") do not.
_SENTENCE_STARTERS = _words(
    "the this that these those it its i i'm i'd i'll i've we you you'll you're he she they there "
    "here if in on at for so but and or then also a an our my your his her their next after before "
    "when while please most some many all each every no not yes as by to from with what why how "
    "who where which one let let's try make just now today tomorrow still however meanwhile "
    "otherwise because since although though once both other another even only maybe perhaps note "
    "keep don't do does did is are was were can could will would should"
)
# Words before a single capital letter that make it a label (which may end a sentence), not an
# initial: "Plan B.", "vitamin C.", "option A.".
_LETTER_LABELS = _words(
    "plan option vitamin grade type class group section part step level size model version row "
    "column room gate terminal zone block building exit line platform category appendix figure "
    "table team point answer choice letter hepatitis"
)
# Polite (…요, …죠) and formal (…니다, …습니까) sentence-final endings. They end a sentence only
# when followed by whitespace, i.e. when the model omitted the punctuation; "…요, " keeps going
# because a comma follows. Connective endings such as "-니까" (because) are deliberately absent.
_KOREAN_FINAL = re.compile(r"(?:[가-힣]요|니다|습니까|[가-힣]죠)$")
# Nouns that end in 요 and are often followed by a space inside a sentence (필요 없어요,
# 주요 관광지, 소요 시간): never a polite ending. A prefix (불필요, 최중요) keeps them nouns.
_YO_NOUNS = _words("필요 중요 주요 개요 수요 소요 강요 동요 요요 적요 긴요")
_YO_NOUN_PREFIXES = ("", "불", "최", "비", "초")
# What a quotation is followed by when it goes on: “감사합니다.” 라고 / 하고 / 라는 / 이라고 ….
_QUOTATIVE = re.compile(
    r"^(?:이?라(?:고|는|며|면서|니|던|구)|이?란|하(?:고|며|면서|는|니|자)|고\s)"
)
# Spaced dates: "2025. 5. 3." (full) and its beginnings "2025." / "2025. 5." before a number.
_FULL_DATE = re.compile(r"(?:^|[\s(])\d{4}\.\s?\d{1,2}\.\s?\d{1,2}$")
_PARTIAL_DATE = re.compile(r"(?:^|[\s(])\d{4}(?:\.\s?\d{1,2})?$")
_TRAILING_PAREN = re.compile(r"\s*\([^()]*\)$")
# Clause marks and Korean connective endings: where the first segment may end early.
_CLAUSE_MARKS = ",，、;；"
_KOREAN_CONNECTIVE = re.compile(r"[가-힣](?:지만|는데|은데|면서|니까|어서|아서|해서)$")
# First syllables of 하다/되다 forms: after a connective they make one verb phrase, not a clause.
_AUXILIARY_STARTS = frozenset("하해했합할한함되돼됐됩될된")
# Phrase boundaries of the first segment (see the module docstring): topic phrases …
_TOPIC_PHRASE = re.compile(
    r"(?:[가-힣0-9](?:까지는|에서는|에게는|한테는|께서는|부터는|보다는|로는|에는)|때는|경우는|동안은|것은)$"
)
# … and connectives: -고 (with its guards), contracted -서, -면 after these syllables, -며.
_GO_CONNECTIVE = re.compile(r"[가-힣]고$")
_GO_QUOTATIVE = re.compile(r"(?:다|라|냐|자|려)고$")
# Nouns in 고 that often stand bare before another noun (최고 기온, 보고 내용, 시카고 여행): a word
# ending in one is not cut, even where it is a verb (영화를 보고, 빵을 사고: recall given up).
_GO_NOUNS = ("최고", "참고", "광고", "사고", "재고", "창고", "경고", "신고", "원고", "금고", "공고",
             "잔고", "출고", "입고", "수고", "보고", "선고", "투고", "기고", "연고", "제고", "망고",
             "로고", "탱고", "레고", "카고", "아고")  # fmt: skip
_SEO_CONNECTIVE = re.compile(r"(?:워|와|봐|줘|돼|져|셔|라|여|러|빠|파|내|려|겨)서$")
_MYEON_CONNECTIVE = re.compile(r"(?:으|시|하|다|되|려|르|우|오|보|나)면$")
_MYEO_CONNECTIVE = re.compile(r"[가-힣]며$")
# First syllables of the next word that make one phrase with the word before.
_NOT_AFTER_TOPIC = frozenset("아않")
_NOT_AFTER_GO = _AUXILIARY_STARTS | frozenset("있싶계말나보가와오갔왔갈올간온다같함")
_NOT_AFTER_MYEON = _AUXILIARY_STARTS | frozenset("좋안괜충편어")
# What the first segment may hold before a phrase cut: Hangul, digits, spaces and commas.
_PHRASE_TEXT = re.compile(r"^[가-힣0-9,\s]+$")
_PHRASE_NEXT = re.compile(r"^[가-힣0-9A-Za-z]")
# Quotes that may be open when a comma comes (the comma then belongs to the quotation).
_QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("「", "」"), ("『", "』"), ("‘", "’"))


class SentenceSegmenter:
    def __init__(
        self,
        max_chars: int = 160,
        min_chars: int = 2,
        first_clause_min_chars: int = 0,
        first_phrase_min_chars: int = 0,
    ) -> None:
        self._buffer = ""
        self._max = max_chars
        self._min = min_chars
        # 0: the first segment is a whole sentence like the others.
        self._first_clause_min = first_clause_min_chars
        self._first_pending = first_clause_min_chars > 0
        # 0: no phrase cut (the first segment still ends at a clause when that is on).
        self._first_phrase_min = first_phrase_min_chars
        # True once the stream has ended: look-ahead that has not come never will.
        self._final = False

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
        """End of stream: the cuts that waited for look-ahead, then whatever is left."""
        self._final = True
        try:
            out = self.feed("")
        finally:
            self._final = False
        rest, self._buffer = self._buffer.strip(), ""
        self._first_pending = False
        return out + ([rest] if rest else [])

    def _find_boundary(self) -> int | None:
        buf = self._buffer
        start = len(buf) - len(buf.lstrip())
        # A cut past the length cap is not looked for: the cap's cut comes first whatever the
        # chunking (a sentence that ends later is found, or not, the same way).
        for i in range(start, min(len(buf), start + self._max + 1)):
            ch = buf[i]
            if ch == "\n" and buf[start:i].strip():
                return i + 1
            if ch in _TERMINALS:
                end = i + 1
                while end < len(buf) and _closes(buf[end]):
                    end += 1
                if end >= len(buf) and not self._final:
                    return None  # need the next character to know
                if end >= len(buf) or buf[end].isspace():
                    verdict = self._is_sentence_end(buf, start, i, end)
                    if verdict is None:
                        return None
                    if verdict:
                        return end
            elif ch.isspace() and i > start:
                verdict = self._korean_final_at(buf, start, i)
                if verdict is None:
                    return None
                if verdict:
                    return i
            if self._first_pending and i - start >= self._first_clause_min:
                clause = self._clause_end(buf, start, i)
                if clause is not None:
                    return clause
            if (
                self._first_pending
                and self._first_phrase_min
                and i - start >= self._first_phrase_min
                and ch.isspace()
                and _phrase_end(buf, start, i)
            ):
                return i
        if len(buf) - start > self._max:
            return self._overflow_cut(buf, start)
        return None

    def _korean_final_at(self, buf: str, start: int, i: int) -> bool | None:
        """Whether the whitespace at ``i`` ends a sentence whose punctuation was left out."""
        text = buf[start:i].rstrip("~～" + _MARKUP)
        if text.endswith(")"):
            # "…가능해요 (단, 예약 필수) 주차는 …": the parenthesis belongs to the sentence.
            text = _TRAILING_PAREN.sub("", text)
        if not _KOREAN_FINAL.search(text) or i - start < self._min:
            return False
        if buf[i - 1] in ",、，" or _quote_open(buf[start:i]) or _paren_open(buf[start:i]):
            return False
        word = text.split()[-1].lstrip(_OPENERS)
        if any(word == p + noun for noun in _YO_NOUNS for p in _YO_NOUN_PREFIXES):
            return False  # 필요 없어요: a noun, not …요
        following = buf[i:].lstrip()
        if not following:
            return True if self._final else None
        # "…돼요 (주말 제외)." : the sentence goes on to the parenthesis' end.
        return following[0] != "("

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

    def _is_sentence_end(self, buf: str, start: int, punct: int, end: int) -> bool | None:
        """Whether the punctuation at ``punct`` (closed up to ``end``) ends the sentence.

        ``None`` when the words after it are needed and have not arrived yet.
        """
        if end - start < self._min:
            return False
        following = _Following(buf, end, self._final)
        if any(c in _QUOTE_CLOSERS for c in buf[punct + 1 : end]):
            # “감사합니다.” 라고 말하면 … / "Thank you!" is the simplest …: the quotation goes on.
            nxt = following.text(5)
            if nxt is None:
                return None
            if _QUOTATIVE.match(nxt) or (nxt[:1].isascii() and nxt[:1].islower()):
                return False
        if buf[punct] != ".":
            return True
        before = buf[start:punct]
        words = before.split()
        raw = words[-1] if words else ""
        # The word after any opener, glued or not: "간식(e.g." is "e.g", "(U.S." is "U.S".
        word = _AFTER_OPENER.split(raw)[-1]
        lower = word.lower()
        if word.isdigit():
            return self._number_dot_ends(before, raw, following)
        if "@" in word or lower.startswith("www.") or "/" in word:
            return True  # an address or a path: its dots are not an abbreviation's
        if lower in _ABBREVIATIONS:
            return False
        if lower in _NUMBER_ABBREVIATIONS:
            first = following.text(1)
            return None if first is None else not first.isdigit()
        if lower in _FINAL_ABBREVIATIONS or _DOTTED.match(word):
            return following.starts_sentence(hangul_ends=False)
        if len(word) == 1 and word.isalpha() and word.isupper():
            label = len(words) > 1 and words[-2].lower().strip(_OPENERS) in _LETTER_LABELS
            if label:
                return True  # "Plan B." / "vitamin C.": a label, not an initial
            return following.starts_sentence(hangul_ends=True)
        return True

    @staticmethod
    def _number_dot_ends(before: str, raw: str, following: _Following) -> bool | None:
        """A period right after a number: a list number, a spaced date, or a sentence's end."""
        if len(raw) <= 3 and before.strip() == raw:
            return False  # "1. " at the start of a line is a list number
        ahead = before[: len(before) - len(raw)].rstrip()
        if len(raw) <= 2 and ahead.endswith((":", ",", ";", "：", "，")):
            return False  # "간단해요: 1. 밥을 짓고, 2. 김을 깔고": inline list numbers
        if _FULL_DATE.search(before):
            return False  # "2025. 5. 3. 토요일": a spaced date
        if _PARTIAL_DATE.search(before):
            first = following.text(1)
            if first is None:
                return None
            return not first.isdigit()  # "2025. 5." goes on to its day
        return True

    def _overflow_cut(self, buf: str, start: int) -> int:
        window = buf[start : start + self._max]
        for marks in (",，、;:", " "):
            pos = max(window.rfind(m) for m in marks)
            if pos > self._max // 3:
                return start + pos + 1
        return start + self._max


class _Following:
    """The text after a candidate cut, as far as it has arrived."""

    def __init__(self, buf: str, end: int, final: bool) -> None:
        self._text = buf[end:].lstrip()
        self._final = final

    def text(self, n: int) -> str | None:
        """The next ``n`` characters, fewer at the end of the text; None until they arrive."""
        if len(self._text) >= n or self._final:
            return self._text[:n]
        return None

    def word(self) -> str | None:
        """The next word (letters and apostrophes), once something follows it."""
        n = 0
        while n < len(self._text) and (self._text[n].isalpha() or self._text[n] in "'’"):
            n += 1
        if n == len(self._text) and not self._final:
            return None
        return self._text[:n]

    def starts_sentence(self, *, hangul_ends: bool) -> bool | None:
        """Whether the next word starts a sentence after an abbreviation that may end one."""
        first = self.text(1)
        if first is None:
            return None
        if not first:
            return True  # the end of the text
        if "가" <= first <= "힣":
            return hangul_ends  # "U.S. 달러로" goes on; "비타민 C. 하루에" ends
        word = self.word()
        if word is None:
            return None
        return word[:1].isupper() and word.lower().replace("’", "'") in _SENTENCE_STARTERS


def _closes(ch: str) -> bool:
    """Characters that stay with the punctuation before them: closers, markup, glued emoji."""
    return ch in _TERMINALS or ch in _CLOSERS or ch in _MARKUP or is_emoji(ch)


def is_emoji(ch: str) -> bool:
    """Emoji and their joiners (the segmenter keeps them with the sentence they end)."""
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2B00 <= cp <= 0x2BFF
        or cp in (0xFE0F, 0x200D, 0x20E3)
    )


def _phrase_end(buf: str, start: int, i: int) -> bool:
    """Whether the space at ``i`` ends a Korean phrase the first segment may stop at.

    False until the next word's first character has arrived (it decides), so the cut is the same
    for every chunking.
    """
    text = buf[start:i]
    if not _PHRASE_TEXT.match(text) or buf[i - 1].isspace():
        return False
    word = text.split()[-1]
    following = buf[i:].lstrip()
    if not following or not _PHRASE_NEXT.match(following):
        return False
    nxt = following[0]
    if _TOPIC_PHRASE.search(word):
        return nxt not in _NOT_AFTER_TOPIC
    if _GO_CONNECTIVE.search(word):
        if _GO_QUOTATIVE.search(word) or word.endswith(_GO_NOUNS):
            return False
        return nxt not in _NOT_AFTER_GO
    if _KOREAN_CONNECTIVE.search(word):
        return nxt not in _AUXILIARY_STARTS  # the clause rule's endings, at this minimum
    if _SEO_CONNECTIVE.search(word) or _MYEO_CONNECTIVE.search(word):
        return len(word) >= 2 and word not in ("파서", "커서") and nxt not in _AUXILIARY_STARTS
    if _MYEON_CONNECTIVE.search(word):
        return len(word) >= 2 and nxt not in _NOT_AFTER_MYEON
    return False


def _paren_open(text: str) -> bool:
    return text.count("(") > text.count(")")


def _quote_open(text: str) -> bool:
    for opening, closing in _QUOTE_PAIRS:
        if opening == closing:
            if text.count(opening) % 2:
                return True
        elif text.count(opening) > text.count(closing):
            return True
    return False
