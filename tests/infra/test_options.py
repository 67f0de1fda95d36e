"""Context options change what they say: an access code becomes a secret only sessions reads, an
inference-profile model id gets the grants a profile needs, and bad values stop the synth early."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App

from cdk.settings import Settings

from .conftest import Synth, flatten, function_ids, ref_id, synthesize

PROFILE_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.fixture(scope="module")
def custom() -> Synth:
    return synthesize(
        accessCode="let-me-in",
        modelId=PROFILE_MODEL,
        region="us-west-2",
        firstClauseMinChars=0,
        firstPhraseMinChars=0,
    )


def _env(synth: Synth, key: str) -> dict[str, Any]:
    return synth.props(function_ids(synth)[key])["Environment"]["Variables"]


def test_access_code_is_a_secret_only_the_sessions_function_is_told_about(custom: Synth) -> None:
    secret = ref_id(_env(custom, "sessions")["ACCESS_CODE_ARN"])
    assert secret is not None and "AccessCode" in secret
    for key in function_ids(custom):
        if key != "sessions":
            assert "ACCESS_CODE_ARN" not in _env(custom, key), key
    readers = [
        ref_id(role)
        for policy in custom.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if flatten(statement["Resource"]) == f"<{secret}>"
        for role in policy["Properties"]["Roles"]
    ]
    sessions_role = ref_id(custom.props(function_ids(custom)["sessions"])["Role"])
    assert readers == [sessions_role]
    assert "AccessCodeSecretArn" in custom.template["Outputs"]


def test_page_is_told_an_access_code_is_required(custom: Synth) -> None:
    (deployment,) = custom.of_type("Custom::CDKBucketDeployment").values()
    texts = [
        (custom.outdir / f"asset.{k.removesuffix('.zip')}" / "config.json")
        for k in deployment["Properties"]["SourceObjectKeys"]
    ]
    config = next(
        t.read_text() for t in texts if t.exists() and "accessCodeRequired" in t.read_text()
    )
    assert '"accessCodeRequired":true' in config.replace(" ", "")


def test_inference_profile_grants_the_profile_and_its_model_only(custom: Synth) -> None:
    chat_role = ref_id(custom.props(function_ids(custom)["chat"])["Role"])
    resources = {
        flatten(r)
        for policy in custom.of_type("AWS::IAM::Policy").values()
        if chat_role in [ref_id(x) for x in policy["Properties"]["Roles"]]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "bedrock:InvokeModelWithResponseStream" in statement["Action"]
        for r in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    }
    assert resources == {
        f"arn:<AWS::Partition>:bedrock:us-west-2:<AWS::AccountId>:inference-profile/{PROFILE_MODEL}",
        "arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
    }
    assert _env(custom, "chat")["CHAT_REGION"] == "us-west-2"


def test_the_first_clause_and_phrase_settings_reach_the_chat_function(custom: Synth) -> None:
    assert _env(custom, "chat")["FIRST_CLAUSE_MIN_CHARS"] == "0"
    assert _env(custom, "chat")["FIRST_PHRASE_MIN_CHARS"] == "0"
    default = _env(synthesize(), "chat")
    assert default["FIRST_CLAUSE_MIN_CHARS"] == "10"
    assert default["FIRST_PHRASE_MIN_CHARS"] == "6"


def test_the_local_stack_flag_sets_the_first_phrase_minimum() -> None:
    from local.engines import chat_environment
    from local.options import parse_options
    from voicebot.contract.settings import ChatSettings

    def chosen(argv: list[str]) -> int:
        env = chat_environment(parse_options(["--chat", "scripted", *argv]), None)
        return ChatSettings.from_env(env).first_phrase_min_chars

    assert chosen([]) == 6
    assert chosen(["--first-phrase-min-chars", "0"]) == 0


def test_options_keep_cdk_nag_clean(custom: Synth) -> None:
    (report,) = [r for r in custom.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert report["violations"] == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("region", "Seoul"),
        ("chatTemperature", "hot"),
        ("chatMaxTokens", 0),
        ("firstClauseMinChars", -1),
        ("firstPhraseMinChars", -1),
        ("cacheEngine", "memcached"),
        ("pollyEngine", "robot"),
        ("retainHistoryOnDestroy", "maybe"),
        ("natGateways", 0),
    ],
)
def test_bad_context_values_stop_the_synth_with_their_name(key: str, value: Any) -> None:
    app = App(context={key: value})
    with pytest.raises(ValueError, match=key):
        Settings.from_context(app.node, None)


def test_context_given_on_the_command_line_arrives_as_text_and_is_converted() -> None:
    app = App(
        context={
            "chatMaxTokens": "256",
            "retainHistoryOnDestroy": "false",
            "firstClauseMinChars": "0",
        }
    )
    settings = Settings.from_context(app.node, "ap-northeast-2")
    assert settings.chat_max_tokens == 256
    assert settings.first_clause_min_chars == 0
    assert settings.retain_history_on_destroy is False
    assert settings.region == settings.chat_region == "ap-northeast-2"
