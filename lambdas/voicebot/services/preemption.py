"""Preemptive answers: the answer starts on a partial transcript, before the final.

Amazon Transcribe takes about 1.1 s after the end of speech to send its final (median; 1.9 s at
p99), and the page sends ``chat`` only once it has it. But a partial whose text already ends the
sentence (a Korean final ending, or the device's voice detector heard speech end) is usually the
final's text too. So the transcripts function starts the turn then, in the chat function, and
that turn is *held*: it streams the model and synthesizes the first segments, but sends nothing.
When the page's ``chat`` arrives with the same text (punctuation and spacing aside), the chat
handler adopts the held turn instead of starting one: it flushes what it holds to that page under
the page's turn id and goes on as an ordinary turn. If the text differs, or a newer partial
replaces it, or nobody adopts it in time, it stops without a word and is never stored.

This runs on the server, after the relay, rather than in the page: the relay already holds every
transcript, so starting there saves the page's round trip (relay -> page -> chat), and the
decision and its counting live in one place whatever client a user has.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass, field

from ..contract.endpointing import EndOfTurnRule
from ..contract.interruptions import is_backchannel
from ..contract.wire import PreemptiveTurn, TranscriptPost
from ..ports import Adoption, HeldAnswer, HeldAnswers, TurnStarter

logger = logging.getLogger(__name__)

_NOT_WORDS = re.compile(r"[\W_]+")


def same_text(a: str, b: str) -> bool:
    """Whether two transcripts say the same (case, punctuation and spacing do not matter)."""
    return _comparable(a) == _comparable(b)


def _comparable(text: str) -> str:
    return _NOT_WORDS.sub("", unicodedata.normalize("NFC", text).casefold())


@dataclass(frozen=True)
class PreemptionRule:
    """When a partial is worth answering before its final."""

    min_chars: int = 2

    def worth_answering(self, post: TranscriptPost) -> bool:
        if post.final:
            return False
        text = post.text.strip()
        if len(_comparable(text)) < self.min_chars or is_backchannel(text):
            return False  # "네", "uh-huh": the page lets it pass; there is nothing to answer
        if post.stableChars is not None:
            # The recognizer may still change the last word; everything before it must be fixed.
            settled = len(text.rsplit(maxsplit=1)[0]) if " " in text else 0
            if post.stableChars < settled:
                return False
        # The sentence reads as finished (the end-of-turn rule's "likely complete", the one the
        # device's and the page's voice detectors wait less after), or the device already heard
        # the speech end.
        complete = EndOfTurnRule(language=post.lang or "ko").classify(text) == "complete"
        return complete or post.speechEndedAt is not None


@dataclass(eq=False)  # a service, compared and hashed by identity as before
class PreemptiveAnswers:
    """Answers started on a partial transcript, held until a page's ``chat`` adopts one."""

    held: HeldAnswers
    # Adopting needs only the held answers (the chat function); starting needs a starter
    # (the transcripts function, or a process that runs the chat handler itself).
    starter: TurnStarter | None
    enabled: bool = field(kw_only=True)
    rule: PreemptionRule = field(default_factory=PreemptionRule, kw_only=True)

    async def observe(self, user_id: str, post: TranscriptPost) -> str | None:
        """A transcript was relayed: start, keep or drop this user's held answer.

        Returns the id of an answer it started, if any.
        """
        if not self.enabled or self.starter is None:
            return None
        current = await self.held.current(user_id)
        unadopted = current is not None and current.turn_id is None
        if current is not None and unadopted and current.utterance_id == post.utteranceId:
            if same_text(current.text, post.text):
                return None  # already answering exactly this
            # The person said more, or the recognizer changed its mind: that answer is stale.
            await self.held.discard(user_id, current.answer_id)
            logger.info("preemptive answer discarded", extra={"reason": "text_changed"})
        if not self.rule.worth_answering(post):
            return None
        answer = HeldAnswer(
            answer_id="p-" + secrets.token_urlsafe(9),
            utterance_id=post.utteranceId,
            text=post.text,
        )
        # Replaces any other held answer of this user: at most one is in flight.
        await self.held.offer(user_id, answer)
        await self.starter.start(
            PreemptiveTurn(userId=user_id, answerId=answer.answer_id, text=post.text)
        )
        return answer.answer_id

    async def adopt(self, user_id: str, adoption: Adoption) -> bool:
        """A page asked ``chat``: hand it the held answer if that answered the same text."""
        if not self.enabled:
            return False
        current = await self.held.current(user_id)
        if current is None or current.turn_id is not None:
            return False
        if not same_text(current.text, adoption.text):
            await self.held.discard(user_id, current.answer_id)
            logger.info("preemptive answer discarded", extra={"reason": "final_differs"})
            return False
        return await self.held.adopt(user_id, current.answer_id, adoption)
