"""The backchannel lists and their normalizer, in Python and (the same cases) in the page's JS."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.unit.page_js import page_config, run_node
from voicebot.contract.interruptions import (
    BACKCHANNELS,
    ENGLISH_BACKCHANNELS,
    KOREAN_BACKCHANNELS,
    InterruptionConfig,
    backchannel_spans,
    content_chars,
    is_backchannel,
    normalize,
)
from voicebot.contract.settings import TurnTakingSettings

MODULE = Path(__file__).parents[2] / "web" / "js" / "interruption.js"

# How people and recognizers write backchannels: punctuation, elongation, repeats, case.
BACKCHANNEL_CASES = [
    *KOREAN_BACKCHANNELS,
    *ENGLISH_BACKCHANNELS,
    "네.",
    "네네네",
    "네, 네",
    "네에에에",
    "응~",
    "응응응",
    "음...",
    "어어어",
    "아, 그렇구나",
    "그래그래",
    "맞아맞아",
    "네 맞아요",
    "오케이!",
    "Uh-huh.",
    "uh huh",
    "Mm-hmm",
    "mmmm",
    "Hmmm?",
    "Yeah, yeah.",
    "Okay!",
    "Oh, I see.",
    "Right, got it",
    "ＯＫ",  # full-width, as some keyboards and recognizers write it
]
# Real replies or requests, said over the bot: these interrupt.
CONTENT_CASES = {
    "잠깐만요": 4,
    "네, 그런데 잠깐만요": 7,
    "아니요": 3,
    "알겠어요": 4,
    "좋아요": 3,
    "그": 1,
    "왜?": 1,
    "근데": 2,
    "어 잠깐": 2,
    "Wait.": 4,
    "no": 2,
    "stop stop": 8,
    "yeah but what about tomorrow": 20,
    "huh?": 3,
    "hold on": 6,
    "I": 1,
}
NORMALIZE_CASES = [
    "네.",
    "네에에에!",
    "Uh-huh",
    "  hello   WORLD  ",
    "don’t",
    "잠깐만요…",
    "응응응",
    "mmmm",
    "see all",
    "ＯＫ",
    "a\tb\nc",
    "음~~~ 네",
    "",
    "…",
    "그래그래",
]


@pytest.mark.parametrize("text", BACKCHANNEL_CASES)
def test_backchannels_are_recognized_however_they_are_written(text: str) -> None:
    assert is_backchannel(text)
    assert content_chars(text, BACKCHANNELS) == 0


@pytest.mark.parametrize(("text", "chars"), CONTENT_CASES.items())
def test_real_replies_are_not_backchannels_and_count_their_content(text: str, chars: int) -> None:
    assert not is_backchannel(text)
    assert content_chars(text, BACKCHANNELS) == chars


def test_normalize_folds_case_punctuation_and_elongation_but_keeps_double_letters() -> None:
    assert normalize("네에에에!") == "네에"
    assert normalize("응응응") == "응"
    assert normalize("Uh-huh.") == "uhhuh"
    assert normalize("mmmm") == "mm"
    assert normalize("see all") == "see all"
    assert normalize("  hello   WORLD  ") == "hello world"
    assert normalize("…") == ""
    assert not is_backchannel("")
    assert not is_backchannel("...")
    assert normalize(normalize("네에에에, Uh-huh!")) == normalize("네에에에, Uh-huh!")


def test_the_page_gets_the_normalized_list_and_the_settings() -> None:
    config = InterruptionConfig.from_settings(TurnTakingSettings())
    assert config.enabled
    assert config.backchannels == list(BACKCHANNELS)
    assert all(normalize(entry) == entry for entry in config.backchannels)
    assert len(set(config.backchannels)) == len(config.backchannels)
    off = InterruptionConfig.from_settings(TurnTakingSettings(interruption_policy=False))
    assert not off.enabled
    body = page_config(interruption=config).body()
    assert body["interruption"]["minChars"] == TurnTakingSettings().interruption_min_chars


def test_the_defaults_fit_the_acceptance() -> None:
    settings = TurnTakingSettings()
    # A false interruption resumes within 1 s of its partial: the timer plus the 40 ms glide
    # back (three time constants to 95 %) and a timer's lateness on a busy page.
    assert settings.false_interruption_ms + 3 * 40 + 100 <= 1000
    # A one-syllable noise (그, 어) does not interrupt on its own; a two-syllable word does.
    assert settings.interruption_min_chars == 2
    assert settings.interruption_min_ms < settings.false_interruption_ms


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_page_normalizes_and_matches_exactly_like_python() -> None:
    texts = [*BACKCHANNEL_CASES, *CONTENT_CASES, *NORMALIZE_CASES]
    names = "normalize, backchannelSpans, contentChars, isBackchannel"
    script = f"""
      import {{ {names} }} from {json.dumps(MODULE.as_uri())};
      const [texts, list] = JSON.parse(process.argv[1]);
      const out = texts.map((t) => [normalize(t), backchannelSpans(t, list),
                                     contentChars(t, list), isBackchannel(t, list)]);
      process.stdout.write(JSON.stringify(out));
    """
    from_js = run_node(script, [texts, list(BACKCHANNELS)])
    from_python = [
        [
            normalize(t),
            backchannel_spans(t, BACKCHANNELS),
            content_chars(t, BACKCHANNELS),
            is_backchannel(t),
        ]
        for t in texts
    ]
    assert from_js == from_python


def test_one_setting_turns_the_policy_off_in_the_cdk_app_and_the_local_stack() -> None:
    pytest.importorskip("aws_cdk")
    from cdk.web import page_config
    from local.engines import turn_taking_environment
    from local.options import parse_options

    on = page_config("wss://x/ws", "ko-KR", "Seoyeon", False, {})
    off = page_config("wss://x/ws", "ko-KR", "Seoyeon", False, {"interruption_policy": False})
    assert on["interruption"]["enabled"] is True
    assert off["interruption"]["enabled"] is False
    assert parse_options([]).interruption_policy is True
    stack_off = parse_options(["--no-interruption-policy"])
    assert (
        TurnTakingSettings.from_env(turn_taking_environment(stack_off)).interruption_policy is False
    )
