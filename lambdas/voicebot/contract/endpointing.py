"""Korean-aware end of turn: how long a pause must last before the speaker's turn is over.

A voice detector ends an utterance after a fixed silence (the hangover). The words heard so far
say more: a Korean sentence that ends in a sentence-final ending (…요, …니다, …습니까, …죠, …네요,
…었다, a question mark) is likely complete, so the hangover shortens; one that ends in a connective
ending (…는데, …고, …서, …면, …지만, …니까, …거나, …도록, …다가) or a case particle (…을/를, …에,
…의) is likely to go on, so it lengthens; anything else keeps the default. English has the same
two lists (and/but/so/because/um/uh … against a final period or question mark).

The rule is a pair of regular expressions per language, written in the subset of syntax that
Python's ``re`` and JavaScript's ``RegExp`` read alike (no flags, no lookbehind, no ``\\b``: the
text is lower-cased and trimmed first). The page's microphone gets them in ``config.json``
(``PageConfig.endOfTurn``), so ``web/js`` holds no second copy; the interpreter compiles the
same ones. A test runs both engines on the same cases.

A sentence-final ending shortens the wait only if the text is *fresh*: updated after the last
voiced audio, so that it covers the end of the speech. A partial from before the last words
(the recognizer lags the audio by a few hundred ms) may end in …요 while the speaker has gone on
with 그런데; such stale text keeps the default. Lengthening needs no such care.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Likely = Literal["complete", "incomplete", "unknown"]

# ---- the patterns (JS-compatible: tested against node in tests/unit/test_endpointing.py) -------

# Korean syllables with ㅂ as final consonant that take 니까 in the formal question (합니까,
# 입니까, 됩니까, …); any other …니까 is the connective "because" (하니까, 그러니까).
_KO_FORMAL_SYLLABLES = "습합입됩갑옵봅줍랍납십씁뵙"
_KO_FORMAL_Q = "[" + _KO_FORMAL_SYLLABLES + "]니까"
# …다 is a sentence end after a past/future marker or a few common stems (했다, 좋다, 있다,
# 한다); bare 하다/되다 stay unknown: "공부를 하다 보면" goes on.
_KO_DA = "(?:[었았였했겠됐왔갔봤줬샀났랐겼졌웠렸쳤셨는한간온된있없같좋싫싶많적맞크쁘렵롭]|니|이)다"
_KO_COMPLETE = (
    "(?:[.?!。？！]|요|니다|" + _KO_FORMAL_Q + "|[^니]까|^까|죠|" + _KO_DA + "|[거이]야|[군네]|"
    "^(?:네|예|응|그래|좋아|맞아|알았어|고마워|안녕))[.?!~]*$"
)
_KO_INCOMPLETE = (
    "(?:[,…]|\\.\\.\\.|데|고|서|면|며|지만|(?:^|[^"
    + _KO_FORMAL_SYLLABLES
    + "])니까|거나|도록|다가|든지|든가|는|을|를|에|의|한테|"
    "에게|부터|처럼|라서|려면|"
    # Nouns that end in 요 ("예약할 필요 [없어요]"): not the polite ending.
    "(?:^|\\s)(?:필요|중요|주요|개요|수요|소요)|"
    "(?:^|\\s)(?:음+|어+|그|저|뭐|막|이제|그냥|아니|그러니까|그래서|그리고|그런데|근데|그러면))$"
)
_EN_COMPLETE = "(?:[.?!]|(?:^|\\s)(?:please|thanks|thank you|bye|goodbye))$"
_EN_INCOMPLETE = (
    "(?:[,…]|\\.\\.\\.|(?:^|\\s)(?:and|but|so|because|cause|or|um+|uh+|uhm|er|erm|like|the|a|an|"
    "to|of|with|for|if|when|then|that|which|my|your|i|i'm|is|are|was|were|gonna|wanna|"
    "you know|i mean))$"
)


class EndOfTurnPatterns(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    complete: str
    incomplete: str


def default_patterns() -> dict[str, EndOfTurnPatterns]:
    return {
        "ko": EndOfTurnPatterns(complete=_KO_COMPLETE, incomplete=_KO_INCOMPLETE),
        "en": EndOfTurnPatterns(complete=_EN_COMPLETE, incomplete=_EN_INCOMPLETE),
    }


Ms = Annotated[int, Field(ge=0, le=10_000)]


class EndOfTurnConfig(BaseModel):
    """The end-of-turn rule as the page reads it (``config.json`` ``endOfTurn``) and the
    interpreter builds it. Milliseconds of silence: ``completeMs`` after a likely complete
    sentence, ``incompleteMs`` after a likely incomplete one, the caller's own default otherwise,
    always clamped to ``[minMs, maxMs]``. ``patterns`` maps a primary language subtag (``ko``,
    ``en``) to its two regular expressions, matched against the trimmed, lower-cased text."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool = True
    completeMs: Ms = 300
    incompleteMs: Ms = 1200
    minMs: Ms = 240
    maxMs: Ms = 2000
    patterns: dict[str, EndOfTurnPatterns] = Field(default_factory=default_patterns)


DEFAULT_CONFIG = EndOfTurnConfig()


def primary_language(language: str | None) -> str:
    return (language or "").split("-", 1)[0].lower()


def normalize(text: str) -> str:
    return " ".join(text.split()).lower()


@lru_cache(maxsize=32)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class EndOfTurnRule:
    """The rule bound to one language; cheap to call on every frame."""

    def __init__(
        self, config: EndOfTurnConfig = DEFAULT_CONFIG, language: str | None = "ko"
    ) -> None:
        self.config = config
        patterns = config.patterns.get(primary_language(language))
        self._complete = _compiled(patterns.complete) if patterns else None
        self._incomplete = _compiled(patterns.incomplete) if patterns else None

    def classify(self, text: str) -> Likely:
        text = normalize(text)
        if not text or self._complete is None or self._incomplete is None:
            return "unknown"
        # Incomplete first: "…데..." or "합니다, 그리고" must not read as complete.
        if self._incomplete.search(text):
            return "incomplete"
        if self._complete.search(text):
            return "complete"
        return "unknown"

    def hangover_ms(self, text: str, base_ms: int, *, fresh: bool = True) -> int:
        """The silence that ends the turn after ``text``; ``fresh``: the text was updated after
        the last voiced audio (a stale complete-looking text keeps ``base_ms``)."""
        config = self.config
        if not config.enabled:
            return base_ms
        likely = self.classify(text)
        if likely == "incomplete":
            wait = max(base_ms, config.incompleteMs)
        elif likely == "complete" and fresh:
            wait = min(base_ms, config.completeMs)
        else:
            wait = base_ms
        return max(config.minMs, min(config.maxMs, wait))


def hangover_ms(
    text: str,
    language: str | None,
    base_ms: int,
    *,
    fresh: bool = True,
    config: EndOfTurnConfig = DEFAULT_CONFIG,
) -> int:
    """How long a pause after ``text`` ends the turn (see the module's docstring)."""
    return EndOfTurnRule(config, language).hangover_ms(text, base_ms, fresh=fresh)
