"""Which words interrupt the bot: the backchannel lists, their normalizer and the page's policy.

Korean conversation is full of backchannels (네, 응, 음, 그렇죠, 맞아요 …): a listener says them
to show they follow, not to take the turn. The page lets them pass while the bot speaks; anything
else interrupts once it holds ``minChars`` characters of non-backchannel content or the utterance
has gone on for ``minMs`` (docs/PROTOCOL.md, "Interruptions").

This module is the one definition: the page gets the (normalized) list and the thresholds in
``config.json`` (:class:`InterruptionConfig`), and ``web/js/interruption.js`` mirrors
:func:`normalize` and :func:`backchannel_spans` exactly (tests/unit/test_interruptions.py runs
both on the same inputs).
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from .settings import TurnTakingSettings

# What a listener says while someone else talks, and nothing else. Left out on purpose, because
# during the bot's answer they are usually the start of a real reply or a request:
# - 알겠어요/알겠습니다 ("understood") often ends the exchange or precedes a new request
#   ("알겠어요, 그럼 …"); 좋아요 ("good / I like it") answers a question; 아니/아니요 (no) objects;
#   잠깐/저기/근데/그런데 open an interruption; 왜/뭐 are questions.
# - "no", "wait", "stop", "what", "huh" (huh? = "say again"), "hold on", "actually".
# - Hesitation sounds that open a turn as often as they acknowledge (그…, 저…) are not here
#   either: they are one syllable, below the default minChars, so they wait for what follows.
# 아/어/음 (and "uh", "um", "hmm") are here: alone they are reactions or noise (a cough is often
# recognized as 어), and a real interruption that starts with them has more words within a few
# hundred milliseconds, which count as content.
KOREAN_BACKCHANNELS: tuple[str, ...] = (
    "네",
    "네네",
    "네에",
    "넹",
    "넵",
    "예",
    "응",
    "응응",
    "으응",
    "웅",
    "음",
    "음음",
    "흠",
    "아",
    "아아",
    "아하",
    "어",
    "어어",
    "오",
    "그래",
    "그래요",
    "그렇지",
    "그렇죠",
    "그렇구나",
    "그렇군요",
    "그쵸",
    "맞아",
    "맞아요",
    "맞습니다",
    "오케이",
)
ENGLISH_BACKCHANNELS: tuple[str, ...] = (
    "uh-huh",
    "uh huh",
    "mm-hm",
    "mm-hmm",
    "mhm",
    "mm",
    "hmm",
    "uh",
    "um",
    "ah",
    "oh",
    "yeah",
    "yep",
    "yes",
    "ok",
    "okay",
    "right",
    "i see",
    "sure",
    "got it",
    "cool",
)

# Joiners vanish (uh-huh → uhhuh, don't → dont) so a recognizer's "uh-huh" and "uh huh" meet.
_JOINERS = frozenset("-\u2010\u2011'\u2019")
# Hangul-aware elongation: a syllable said again at once is one syllable (네네네 → 네, 네에에에 →
# 네에, 응응 → 응; no backchannel changes meaning by it). Other letters: three or more of one are
# kept as two (mmm → mm, yesss → yess), so English double letters (see, all) stay as they are.
_HANGUL_RUNS = re.compile(r"([\uac00-\ud7a3])\1+")
_RUNS = re.compile(r"(.)\1{2,}")


def normalize(text: str) -> str:
    """Lower case, NFKC (composed Hangul), punctuation and symbols as spaces, elongations cut.

    Mirrored by ``normalize`` in web/js/interruption.js: change both together.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    out = []
    for char in text:
        if char in _JOINERS:
            continue
        category = unicodedata.category(char)
        # P*: punctuation, S*: symbols (~), Z*: separators, C*: controls (\n, \t).
        out.append(" " if category[0] in "PSZC" else char)
    collapsed = _RUNS.sub(r"\1\1", _HANGUL_RUNS.sub(r"\1", "".join(out)))
    return " ".join(word for word in collapsed.split(" ") if word)


def _words(text: str) -> list[str]:
    normalized = normalize(text)
    return normalized.split(" ") if normalized else []


def _entries(backchannels: tuple[str, ...] | list[str]) -> list[list[str]]:
    # Longest first, so "uh huh" wins over "uh" at the same place.
    found = {tuple(_words(entry)) for entry in backchannels if _words(entry)}
    return [list(words) for words in sorted(found, key=len, reverse=True)]


def _is_repeat(word: str, singles: set[str]) -> bool:
    """네네네, 그래그래, 맞아맞아: one backchannel said several times in one word."""
    for unit in singles:
        if (
            len(word) > len(unit)
            and len(word) % len(unit) == 0
            and word == unit * (len(word) // len(unit))
        ):
            return True
    return False


def backchannel_spans(text: str, backchannels: tuple[str, ...] | list[str]) -> list[bool]:
    """For each normalized word of ``text``: whether it belongs to a backchannel.

    Left to right, the longest entry that matches here wins; a single word may also be one
    single-word entry repeated (네네네).
    """
    words = _words(text)
    entries = _entries(backchannels)
    singles = {entry[0] for entry in entries if len(entry) == 1}
    marks = [False] * len(words)
    i = 0
    while i < len(words):
        for entry in entries:
            if words[i : i + len(entry)] == entry:
                for j in range(i, i + len(entry)):
                    marks[j] = True
                i += len(entry)
                break
        else:
            marks[i] = _is_repeat(words[i], singles)
            i += 1
    return marks


def content_chars(text: str, backchannels: tuple[str, ...] | list[str]) -> int:
    """How many characters of ``text`` are not backchannel (spaces and punctuation not counted)."""
    words = _words(text)
    marks = backchannel_spans(text, backchannels)
    return sum(len(word) for word, mark in zip(words, marks, strict=True) if not mark)


def is_backchannel(text: str, backchannels: tuple[str, ...] | list[str] | None = None) -> bool:
    """True when every word of ``text`` is backchannel (and there is at least one word)."""
    entries = BACKCHANNELS if backchannels is None else backchannels
    marks = backchannel_spans(text, entries)
    return bool(marks) and all(marks)


BACKCHANNELS: tuple[str, ...] = tuple(
    dict.fromkeys(normalize(entry) for entry in (*KOREAN_BACKCHANNELS, *ENGLISH_BACKCHANNELS))
)


class InterruptionConfig(BaseModel):
    """What the page's interruption policy reads from ``config.json`` (``interruption``).

    ``enabled: false`` is the old behaviour: any partial transcript stops the answer at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool
    # Normalized (see normalize); the page normalizes what it hears the same way.
    backchannels: list[str]
    # A partial confirms the interruption once its non-backchannel content has this many
    # characters (a Hangul syllable or a Latin letter each) …
    minChars: int = Field(ge=1, le=100)
    # … or once the utterance has gone on this long since its first partial (and is not only
    # backchannel).
    minMs: int = Field(ge=0, le=10_000)
    # No confirmation this long after the utterance's latest partial: it was not an interruption,
    # the answer goes back to full volume.
    falseInterruptionMs: int = Field(ge=100, le=10_000)
    # The answer's volume (0..1) from the first partial until the policy decides.
    duckVolume: float = Field(ge=0.0, le=1.0)

    @classmethod
    def from_settings(cls, settings: TurnTakingSettings) -> InterruptionConfig:
        return cls(
            enabled=settings.interruption_policy,
            backchannels=list(BACKCHANNELS),
            minChars=settings.interruption_min_chars,
            minMs=settings.interruption_min_ms,
            falseInterruptionMs=settings.false_interruption_ms,
            duckVolume=settings.duck_volume,
        )
