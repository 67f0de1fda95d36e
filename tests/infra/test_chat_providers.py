"""-c chatProvider=bedrock|openai|nvidia: each synthesizes with its environment, its secret and
its grants, and its Lambda asset takes only its own LangChain package.

Two synths besides the default (Bedrock) one: openai with a secret the stack creates empty, and
nvidia with the deployer's existing secret. Both skip building their asset (``NO_BUNDLING``): a
build of another provider's dependencies would download them; which requirements go into each
provider's asset is tested on the bundler's own selection below, and the default synth builds one
asset for real (test_lambda_asset.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App

from cdk import bundling
from cdk.settings import Settings
from voicebot.contract.settings import DEPLOYABLE_CHAT_PROVIDERS

from .conftest import NO_BUNDLING, Synth, flatten, function_ids, ref_id, synthesize
from .test_cfn_lint import _errors as cfn_lint_errors
from .test_iam import _granted, _statements

OPENAI = {
    "chatProvider": "openai",
    "chatEndpoint": "https://llm.example.com/v1",
    "chatModel": "gpt-4o-mini",
}
NIM_KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:voicebot/nim-key-AbCdEf"
NVIDIA = {
    "chatProvider": "nvidia",
    "chatModel": "meta/llama-3.1-8b-instruct",
    "chatApiKeySecretArn": NIM_KEY_ARN,
}
# Each provider's LangChain package, as pip names it in the requirements files.
PACKAGES = {
    "bedrock": "langchain-aws",
    "openai": "langchain-openai",
    "nvidia": "langchain-nvidia-ai-endpoints",
}


@pytest.fixture(scope="module")
def openai() -> Synth:
    return synthesize(**OPENAI, **NO_BUNDLING)


@pytest.fixture(scope="module")
def nvidia() -> Synth:
    return synthesize(**NVIDIA, **NO_BUNDLING)


def _env(synth: Synth, key: str) -> dict[str, Any]:
    return dict(synth.props(function_ids(synth)[key])["Environment"]["Variables"])


def _aws_solutions(synth: Synth) -> dict[str, Any]:
    (report,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    return dict(report)


# ---- environment ---------------------------------------------------------------------------------


def test_openai_chat_function_is_told_its_endpoint_model_and_key_secret(openai: Synth) -> None:
    env = _env(openai, "chat")
    assert env["CHAT_PROVIDER"] == "openai"
    assert env["CHAT_MODEL_ID"] == "gpt-4o-mini"
    assert env["CHAT_ENDPOINT"] == "https://llm.example.com/v1"
    secret = ref_id(env["CHAT_API_KEY_ARN"])
    assert secret is not None and "ChatApiKey" in secret
    assert "CHAT_REGION" not in env  # a Bedrock setting
    assert "CHAT_API_KEY" not in env  # never the key itself
    for key in function_ids(openai):
        if key != "chat":
            assert "CHAT_API_KEY_ARN" not in _env(openai, key), key


def test_nvidia_chat_function_reads_the_deployers_secret_and_the_hosted_default(
    nvidia: Synth,
) -> None:
    env = _env(nvidia, "chat")
    assert env["CHAT_PROVIDER"] == "nvidia"
    assert env["CHAT_MODEL_ID"] == "meta/llama-3.1-8b-instruct"
    assert env["CHAT_API_KEY_ARN"] == NIM_KEY_ARN
    assert "CHAT_ENDPOINT" not in env  # the adapter's default: NVIDIA's hosted API
    assert "CHAT_REGION" not in env


def test_bedrock_stays_the_default_with_no_key_and_no_endpoint(synth: Synth) -> None:
    env = _env(synth, "chat")
    assert env["CHAT_PROVIDER"] == "bedrock"
    assert env["CHAT_REGION"] == "us-east-1"
    assert "CHAT_ENDPOINT" not in env and "CHAT_API_KEY_ARN" not in env
    assert not [k for k in synth.resources if k.startswith("ChatApiKey")]
    assert "ChatApiKeySecretArn" not in synth.template["Outputs"]


# ---- the key's secret and the grants -------------------------------------------------------------


def test_the_created_secret_is_empty_and_its_arn_is_printed(openai: Synth) -> None:
    (secret,) = [k for k in openai.of_type("AWS::SecretsManager::Secret") if "ChatApiKey" in k]
    props = openai.props(secret)
    assert "SecretString" not in props and "GenerateSecretString" not in props
    output = openai.template["Outputs"]["ChatApiKeySecretArn"]
    assert ref_id(output["Value"]) == secret


def test_an_existing_secret_is_used_and_none_is_created(nvidia: Synth) -> None:
    assert not [k for k in nvidia.resources if k.startswith("ChatApiKey")]
    assert "ChatApiKeySecretArn" not in nvidia.template["Outputs"]


@pytest.mark.parametrize("provider", ["openai", "nvidia"])
def test_only_chat_reads_the_key_and_only_that_secret(
    provider: str, openai: Synth, nvidia: Synth
) -> None:
    synth = openai if provider == "openai" else nvidia
    key_arn = flatten(_env(synth, "chat")["CHAT_API_KEY_ARN"])
    readers = {
        key
        for key, resources in _granted(synth, "secretsmanager:GetSecretValue").items()
        if key_arn in resources
    }
    assert readers == {"chat"}
    token_arns = {flatten(_env(synth, "chat")["REDIS_AUTH_SECRET_ARN"])}
    assert _granted(synth, "secretsmanager:GetSecretValue")["chat"] == token_arns | {key_arn}


@pytest.mark.parametrize("provider", ["openai", "nvidia"])
def test_no_bedrock_grant_without_bedrock(provider: str, openai: Synth, nvidia: Synth) -> None:
    synth = openai if provider == "openai" else nvidia
    bedrock = [
        (role, action)
        for role, statement in _statements(synth)
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action.startswith("bedrock:")
    ]
    assert bedrock == []


@pytest.mark.parametrize("provider", ["openai", "nvidia"])
def test_no_key_is_in_the_template(provider: str, openai: Synth, nvidia: Synth) -> None:
    synth = openai if provider == "openai" else nvidia
    assert '"CHAT_API_KEY"' not in json.dumps(synth.template)
    # No secret of the stack is given a value in the template (the others are generated).
    for logical_id, secret in synth.of_type("AWS::SecretsManager::Secret").items():
        assert "SecretString" not in secret.get("Properties", {}), logical_id


@pytest.mark.parametrize("provider", ["openai", "nvidia"])
def test_cdk_nag_reports_no_unacknowledged_finding(
    provider: str, openai: Synth, nvidia: Synth
) -> None:
    report = _aws_solutions(openai if provider == "openai" else nvidia)
    assert report["violations"] == [] and report["conclusion"] == "success"


def test_cfn_lint_finds_no_error_in_the_openai_stack(openai: Synth) -> None:
    # The one with the new resource (the empty secret) and its output; nvidia's template differs
    # from it only in values (the imported ARN in an environment and a policy). ~10 s a lint.
    assert cfn_lint_errors(openai.template, "us-east-1") == []


# ---- the asset: the provider's package only ------------------------------------------------------


def test_each_provider_has_its_own_asset(synth: Synth, openai: Synth, nvidia: Synth) -> None:
    def key(s: Synth) -> str:
        (found,) = {s.props(i)["Code"]["S3Key"] for i in function_ids(s).values()}
        return str(found)

    assert len({key(synth), key(openai), key(nvidia)}) == 3


@pytest.mark.parametrize("provider", DEPLOYABLE_CHAT_PROVIDERS)
def test_the_asset_installs_the_common_runtime_and_its_providers_package_only(
    provider: str,
) -> None:
    files = bundling.requirement_files(provider)
    assert files == (bundling.REQUIREMENTS, bundling.LAMBDAS_DIR / f"requirements-{provider}.txt")
    command = bundling.pip_command(bundling.build_root() / "x", provider=provider)
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "-r"] == [
        str(f) for f in files
    ]
    named = {
        line.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip()
        for path in files
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert PACKAGES[provider] in named
    assert not (set(PACKAGES.values()) - {PACKAGES[provider]}) & named
    assert {"boto3", "redis", "langchain-core"} <= named  # what every function needs


def test_each_provider_caches_its_dependencies_apart() -> None:
    hashes = {bundling.dependencies_hash(provider=p) for p in DEPLOYABLE_CHAT_PROVIDERS}
    assert len(hashes) == len(DEPLOYABLE_CHAT_PROVIDERS)
    with pytest.raises(ValueError, match="local"):
        bundling.requirement_files("local")


# ---- bad combinations stop the synth, with the setting's name ------------------------------------


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"chatProvider": "openai", "chatModel": "m"}, "'chatEndpoint'"),
        ({"chatProvider": "openai", "chatEndpoint": "https://x.example/v1"}, "'chatModel'"),
        ({"chatProvider": "nvidia"}, "'chatModel'"),
        ({"chatProvider": "local"}, "'chatProvider'"),
        ({"chatProvider": "vertex"}, "'chatProvider'"),
        ({"chatApiKeySecretArn": NIM_KEY_ARN}, "'chatApiKeySecretArn'"),
        ({**NVIDIA, "chatApiKeySecretArn": "nim-key"}, "'chatApiKeySecretArn'"),
        ({**OPENAI, "chatEndpoint": "http://llm.example.com/v1"}, "'chatEndpoint'"),
        ({**OPENAI, "chatApiKey": "sk-live-123"}, "'chatApiKey'"),
    ],
)
def test_a_bad_provider_combination_stops_the_synth(context: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        Settings.from_context(App(context=context).node, None)
    assert "sk-live-123" not in str(raised.value)


def test_chat_model_replaces_model_id_for_bedrock_too() -> None:
    settings = Settings.from_context(App(context={"chatModel": "amazon.nova-lite-v1:0"}).node, None)
    assert settings.model_id == "amazon.nova-lite-v1:0" and settings.invokes_bedrock
