"""A scripted streaming recognizer: what a device posts for one spoken Korean question, and when.

Nothing here listens to audio. Each utterance is a timeline of ``POST /api/transcripts`` bodies
(partials, then one final) at offsets from the start of speech, drawn from a profile calibrated
to published figures. ``bench.voice_to_voice`` posts them to the real relay at those moments.

The Transcribe profile (``TRANSCRIBE``), and what each number rests on:

- **End of speech → final**: log-normal fitted to the public pipecat-ai/stt-benchmark figures for
  Amazon Transcribe streaming (median 1,136 ms, p99 1,897 ms; quoted in
  ``/work/shared/design/FACTS.md``): ``mu = ln 1136``, ``sigma = ln(1897/1136) / z(0.99)`` =
  0.2205 (``z(0.99)`` = 2.3263). That figure is Transcribe's own end-pointing, so it already
  contains the device's silence hangover: the interpreter closes the stream after 700 ms of
  silence (``--hangover-ms``), which ends the segment before Transcribe would on its own.
- **Partials while speaking**: one every 200–300 ms (uniform), each holding the words whose audio
  ended at least the recognizer's lag ago. Words are whole (spaces); a Korean syllable takes
  ~150 ms (ordinary conversational rate ~6.5 syllables/s, ±10% per utterance).
- **The complete utterance first appears in a partial** 200–400 ms (uniform; median 300 ms)
  after the end of speech: the same lag as the partials'. That moment is the preemptive
  strategy's floor. This is an assumption (no published figure), stated in docs/BENCHMARKS.md.
- **Stability** (partial-results stabilization, ``--partial-stability high``): a partial's
  ``stableChars`` covers every word but the last two while speaking; the complete partial has
  every word but the last one stable; one partial later (200–300 ms) the same text comes again
  with every character stable. Transcribe marks each item ``Stable``; the interpreter sums the
  stable items' characters into ``stableChars``.
- **Revisions**: in ``revise_share`` of the utterances (deterministic: every n-th) one partial
  just before the complete one shows the last word cut short by a syllable (unstable), as
  recognizers do at the edge ("the law" → "the largest" in AWS's own example); a preemptive
  answer started on it has to be discarded.
- **The device's times**: ``speechStartedAt`` on every post; ``speechEndedAt`` (= the last voiced
  audio) only on posts made once the voice detector has decided, ``hangover_ms`` after the end
  of speech; ``recognizedAt`` = the moment of the post.

The fast profile (``FAST``, Riva / Nemotron-like) keeps the same shape with a final 120–200 ms
after the end of speech (uniform; "≤ 200 ms" in issue 12), partials every 140–180 ms (Riva's
160 ms chunks), the complete partial 60–120 ms after the end of speech.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

# z of the 99th percentile of the standard normal.
Z99 = 2.326348


@dataclass(frozen=True)
class RecognizerProfile:
    name: str
    description: str
    final_median_ms: float
    final_p99_ms: float
    final_uniform: tuple[float, float] | None  # when set, uniform instead of log-normal
    final_max_ms: float | None
    partial_every_ms: tuple[float, float]
    complete_after_ms: tuple[float, float]
    syllable_ms: float = 150.0
    hangover_ms: float = 700.0  # the interpreter's default --hangover-ms
    revise_every: int = 10  # one utterance in this many has a revised last word (0: none)

    @property
    def sigma(self) -> float:
        return math.log(self.final_p99_ms / self.final_median_ms) / Z99

    def draw_final_ms(self, rng: random.Random) -> float:
        if self.final_uniform is not None:
            return rng.uniform(*self.final_uniform)
        value = rng.lognormvariate(math.log(self.final_median_ms), self.sigma)
        return min(value, self.final_max_ms) if self.final_max_ms else value

    def as_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["lognormal"] = (
            None
            if self.final_uniform
            else {"mu_ln_ms": math.log(self.final_median_ms), "sigma": self.sigma}
        )
        return data


TRANSCRIBE = RecognizerProfile(
    name="transcribe",
    description="Amazon Transcribe streaming, calibrated to pipecat-ai/stt-benchmark "
    "(end of speech → final median 1,136 ms, p99 1,897 ms)",
    final_median_ms=1136.0,
    final_p99_ms=1897.0,
    final_uniform=None,
    final_max_ms=None,
    partial_every_ms=(200.0, 300.0),
    complete_after_ms=(200.0, 400.0),
)
FAST = RecognizerProfile(
    name="fast",
    description="a fast-finalizing recognizer (Riva / Nemotron-like): final 120–200 ms after "
    "the end of speech",
    final_median_ms=160.0,
    final_p99_ms=200.0,
    final_uniform=(120.0, 200.0),
    final_max_ms=200.0,
    partial_every_ms=(140.0, 180.0),
    complete_after_ms=(60.0, 120.0),
)
PROFILES = {p.name: p for p in (TRANSCRIBE, FAST)}

# Twenty spoken Korean questions, the kind a voice assistant hears (sentence-final endings
# …요, …까, …니다, a few with a connective inside).
UTTERANCES = (
    "오늘 서울 날씨 어때요?",
    "내일 아침에 비가 올까요?",
    "지금 몇 시야?",
    "근처에 문 연 약국이 있나요?",
    "강남역까지 지하철로 얼마나 걸려요?",
    "이번 주말에 볼 만한 영화 추천해 주세요.",
    "김치찌개 맛있게 끓이는 법 알려 줘.",
    "환율이 요즘 많이 올랐나요?",
    "감기에 걸렸는데 뭘 먹으면 좋을까요?",
    "다음 주 화요일 오후 세 시에 회의 잡아 줘.",
    "부산 가는 기차표 아직 남아 있을까요?",
    "오늘 저녁 메뉴 뭐가 좋을까?",
    "제주도 여행 갈 때 꼭 가 봐야 할 곳이 어디예요?",
    "미세먼지 농도가 높으면 마스크를 써야 하나요?",
    "아이랑 같이 갈 만한 박물관이 있을까요?",
    "운동을 시작하려고 하는데 뭐부터 하면 돼요?",
    "이 노래 제목이 뭐예요?",
    "우리 집 근처에 맛있는 빵집 알아요?",
    "내일 일정 좀 읽어 줄래요?",
    "고맙습니다, 오늘 도움이 많이 됐어요.",
)


@dataclass(frozen=True)
class Post:
    at_ms: float  # after the start of speech
    text: str
    final: bool
    stable_chars: int
    speech_ended_known: bool  # the voice detector has heard the end (hangover passed)


@dataclass
class Timeline:
    text: str
    speech_ms: float  # end of speech, after its start
    complete_ms: float  # the complete utterance first in a partial, after the end of speech
    stable_ms: float  # ... with every character stable
    final_ms: float  # the final, after the end of speech
    revised: bool
    posts: list[Post] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "speechMs": self.speech_ms,
            "completeAfterEosMs": self.complete_ms,
            "stableAfterEosMs": self.stable_ms,
            "finalAfterEosMs": self.final_ms,
            "revised": self.revised,
            "posts": len(self.posts),
        }


def _syllables(word: str) -> int:
    return sum(1 for c in word if c.isalnum()) or 1


def timeline(text: str, profile: RecognizerProfile, rng: random.Random, index: int) -> Timeline:
    """The posts a device makes for ``text``: partials while and after speaking, then a final."""
    words = text.split(" ")
    per_syllable = profile.syllable_ms * rng.uniform(0.9, 1.1)
    ends: list[float] = []
    t = 0.0
    for word in words:
        t += _syllables(word) * per_syllable
        ends.append(t)
    speech = ends[-1]
    lag = rng.uniform(*profile.complete_after_ms)
    final_after = profile.draw_final_ms(rng)
    stable_after = lag + rng.uniform(*profile.partial_every_ms)
    final_after = max(final_after, lag + 20.0)  # a final never precedes its complete partial
    every = profile.revise_every
    revised = bool(every) and index % every == every - 1
    timeline = Timeline(text, speech, lag, min(stable_after, final_after), final_after, revised)

    def prefix(n: int) -> str:
        return " ".join(words[:n])

    def known(at: float) -> bool:
        return at >= speech + profile.hangover_ms

    # Partials at the recognizer's cadence until the complete one; never an unchanged text.
    shown = ""
    at = rng.uniform(*profile.partial_every_ms)
    while at < speech + lag:
        n = sum(1 for end in ends if end + lag <= at)
        if n and prefix(n) != shown:
            shown = prefix(n)
            stable = len(prefix(max(0, n - 2))) + (1 if n > 2 else 0)
            timeline.posts.append(Post(at, shown, False, min(stable, len(shown)), known(at)))
        at += rng.uniform(*profile.partial_every_ms)
    if revised and len(words[-1]) > 2:
        # The edge of the last word misheard just before the complete partial (unstable).
        wrong = " ".join([*words[:-1], words[-1][:-2]])
        wrong_at = max(speech + lag - rng.uniform(*profile.partial_every_ms) / 2, 0.0)
        if timeline.posts and wrong_at <= timeline.posts[-1].at_ms:
            wrong_at = timeline.posts[-1].at_ms + 1.0
        stable = len(prefix(len(words) - 1)) + 1 if len(words) > 1 else 0
        timeline.posts.append(Post(wrong_at, wrong, False, stable, known(wrong_at)))
    all_but_last = len(prefix(len(words) - 1)) + 1 if len(words) > 1 else 0
    timeline.posts.append(Post(speech + lag, text, False, all_but_last, known(speech + lag)))
    if stable_after < final_after:
        at = speech + stable_after
        timeline.posts.append(Post(at, text, False, len(text), known(at)))
    at = speech + final_after
    timeline.posts.append(Post(at, text, True, len(text), known(at)))
    return timeline


def timelines(
    profile: RecognizerProfile, turns: int, seed: int, utterances: tuple[str, ...] = UTTERANCES
) -> list[Timeline]:
    """``turns`` utterances (cycling the set), the same for every strategy with the same seed."""
    rng = random.Random(f"{seed}-{profile.name}")
    return [timeline(utterances[i % len(utterances)], profile, rng, i) for i in range(turns)]
