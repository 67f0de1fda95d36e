"""Cost and abuse limits in the functions: the per-user quotas reach the functions that check
them (chat and speech), and the chat function has reserved concurrency, both set by context."""

from __future__ import annotations

from typing import Any

import pytest

from voicebot.contract.settings import QuotaSettings

from .conftest import Synth, function_ids

QUOTA_VARIABLES = {QuotaSettings.variable(name) for name in QuotaSettings.model_fields}


def _function(synth: Synth, key: str) -> dict[str, Any]:
    return synth.props(function_ids(synth)[key])


def _env(synth: Synth, key: str) -> dict[str, Any]:
    return dict(_function(synth, key)["Environment"]["Variables"])


@pytest.mark.parametrize("key", ["chat", "speech", "ws_chat"])
def test_functions_that_bill_read_the_quota_settings_with_their_defaults(
    synth: Synth, key: str
) -> None:
    env = _env(synth, key)
    assert set(env) >= QUOTA_VARIABLES
    defaults = QuotaSettings()
    for name in QuotaSettings.model_fields:
        assert env[QuotaSettings.variable(name)] == str(getattr(defaults, name))


def test_functions_that_bill_nothing_are_not_told_the_quotas(synth: Synth) -> None:
    for key in set(function_ids(synth)) - {"chat", "speech", "ws_chat"}:
        assert not QUOTA_VARIABLES & set(_env(synth, key)), key


def test_speech_reaches_redis_for_its_quota(synth: Synth) -> None:
    assert "REDIS_URL" in _env(synth, "speech")
    assert "VpcConfig" in _function(synth, "speech")


def test_quota_context_reaches_the_functions(limits: Synth) -> None:
    for key in ("chat", "speech", "ws_chat"):
        env = _env(limits, key)
        assert (env["QUOTA_TURNS"], env["QUOTA_SPEECH_CHARS"]) == ("7", "900")


def test_chat_has_reserved_concurrency_and_the_others_share_the_account(synth: Synth) -> None:
    assert _function(synth, "chat")["ReservedConcurrentExecutions"] == 10
    for key in set(function_ids(synth)) - {"chat"}:
        assert "ReservedConcurrentExecutions" not in _function(synth, key), key


def test_reserved_concurrency_follows_context(limits: Synth) -> None:
    assert _function(limits, "chat")["ReservedConcurrentExecutions"] == 5


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("quotaTurns", -1),
        ("quotaTurnsWindowSeconds", 0),
        ("quotaSpeechChars", "lots"),
        ("chatReservedConcurrency", -1),
        ("wafSessionsPerAddress", 5),
        ("alarmEmail", "not-an-address"),
        ("cloudFrontWebAclArn", "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/y"),
        ("webAcl", "maybe"),
    ],
)
def test_bad_limit_values_stop_the_synth_with_their_name(key: str, value: Any) -> None:
    from aws_cdk import App

    from cdk.settings import Settings

    app = App(context={key: value})
    with pytest.raises(ValueError, match=key):
        Settings.from_context(app.node, None)
