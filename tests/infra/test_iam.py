"""Least privilege: no wildcard actions, "*" resources only where AWS offers nothing narrower,
and each function can touch only what its handler uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import REDIS_FUNCTIONS, Synth, flatten, function_ids, ref_id

# Actions that may be granted on Resource "*", and why AWS leaves no narrower choice.
ALLOWED_ON_ANY_RESOURCE = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions",
    "ec2:CreateNetworkInterface": "Lambda attaches VPC functions; the ENI does not exist yet",
    "ec2:DescribeNetworkInterfaces": "EC2 Describe calls take no resource",
    "ec2:DescribeSubnets": "EC2 Describe calls take no resource",
    "ec2:DeleteNetworkInterface": "the ENIs are Lambda-managed and unnamed at deploy time",
    "ec2:AssignPrivateIpAddresses": "the ENIs are Lambda-managed and unnamed at deploy time",
    "ec2:UnassignPrivateIpAddresses": "the ENIs are Lambda-managed and unnamed at deploy time",
    "polly:SynthesizeSpeech": "authorised on lexicons only; no lexicon is used",
    "transcribe:StartStreamTranscriptionWebSocket": "Transcribe streaming has no resource types",
    # CDK's BucketDeployment handler invalidates the distribution after copying the page.
    "cloudfront:CreateInvalidation": "CDK BucketDeployment (aws-cdk-lib's own handler)",
    "cloudfront:GetInvalidation": "CDK BucketDeployment (aws-cdk-lib's own handler)",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(synth: Synth) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role logical id, statement) for every inline and attached policy in the template."""
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for role in policy["Properties"].get("Roles", []):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                yield str(ref_id(role)), statement
    for logical_id, role in synth.of_type("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def _role_of(synth: Synth) -> dict[str, str]:
    return {
        key: str(ref_id(synth.props(logical_id)["Role"]))
        for key, logical_id in function_ids(synth).items()
    }


def _granted(synth: Synth, action: str) -> dict[str, set[str]]:
    """Function key -> flattened resources on which it is allowed ``action``."""
    roles = {role: key for key, role in _role_of(synth).items()}
    granted: dict[str, set[str]] = {}
    for role, statement in _statements(synth):
        if statement["Effect"] == "Allow" and action in _as_list(statement["Action"]):
            key = roles.get(role, role)
            granted.setdefault(key, set()).update(
                flatten(r) for r in _as_list(statement["Resource"])
            )
    return granted


def test_no_statement_allows_wildcard_actions(synth: Synth) -> None:
    for role, statement in _statements(synth):
        for action in _as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), (role, action)
            assert not action.startswith(("bedrock:*", "polly:*", "elasticache:")), (role, action)


def test_resource_star_only_for_actions_aws_cannot_scope(synth: Synth) -> None:
    for role, statement in _statements(synth):
        if "*" in _as_list(statement.get("Resource", [])):
            for action in _as_list(statement["Action"]):
                assert action in ALLOWED_ON_ANY_RESOURCE, (role, action)


def test_function_roles_use_no_aws_managed_policies(synth: Synth) -> None:
    for key, role in _role_of(synth).items():
        assert not synth.props(role).get("ManagedPolicyArns"), key


def _secret_readers(synth: Synth, secret: str) -> set[str]:
    """The functions allowed to read a secret whose ARN names ``secret``."""
    return {
        key
        for key, resources in _granted(synth, "secretsmanager:GetSecretValue").items()
        if any(secret in r for r in resources)
    }


def test_signing_key_is_readable_only_by_functions_that_sign_or_verify(synth: Synth) -> None:
    readers = _secret_readers(synth, "SigningKey")
    assert readers == {"sessions", "transcripts", "speech", "transcribe", "history", "ws_connect"}


def test_cache_token_is_readable_only_by_the_redis_functions(synth: Synth) -> None:
    readers = _secret_readers(synth, "CacheAuthToken")
    assert readers == REDIS_FUNCTIONS


def test_only_chat_invokes_bedrock_and_only_the_configured_model(synth: Synth) -> None:
    model_arn = (
        "arn:<AWS::Partition>:bedrock:us-east-1::foundation-model/"
        "anthropic.claude-3-haiku-20240307-v1:0"
    )
    for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"):
        assert _granted(synth, action) == {"chat": {model_arn}}
    bedrock_actions = {
        action
        for _, statement in _statements(synth)
        for action in _as_list(statement["Action"])
        if action.startswith("bedrock:")
    }
    assert bedrock_actions == {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}


def test_only_speech_and_chat_synthesize_speech(synth: Synth) -> None:
    assert set(_granted(synth, "polly:SynthesizeSpeech")) == {"speech", "chat"}
    polly_actions = {
        action
        for _, statement in _statements(synth)
        for action in _as_list(statement["Action"])
        if action.startswith("polly:")
    }
    assert polly_actions == {"polly:SynthesizeSpeech"}


def test_table_access_is_exactly_what_each_function_does(synth: Synth) -> None:
    (table,) = synth.of_type("AWS::DynamoDB::Table")
    roles = {role: key for key, role in _role_of(synth).items()}
    actions: dict[str, set[str]] = {}
    for role, statement in _statements(synth):
        for action in _as_list(statement["Action"]):
            if action.startswith("dynamodb:"):
                assert [flatten(r) for r in _as_list(statement["Resource"])] == [f"<{table}.Arn>"]
                actions.setdefault(roles.get(role, role), set()).add(action)
    assert actions == {
        "history": {"dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"},
        "chat": {"dynamodb:Query", "dynamodb:PutItem"},
        "ws_messages": {"dynamodb:Query", "dynamodb:UpdateItem"},
    }


def test_connections_are_managed_only_on_this_websocket_api(synth: Synth) -> None:
    (api,) = synth.of_type("AWS::ApiGatewayV2::Api")
    granted = _granted(synth, "execute-api:ManageConnections")
    assert set(granted) == {"transcripts", "ws_messages", "ws_chat", "chat"}
    for resources in granted.values():
        assert resources == {
            f"arn:<AWS::Partition>:execute-api:us-east-1:<AWS::AccountId>:<{api}>"
            "/prod/POST/@connections/*"
        }


@pytest.mark.parametrize("key", ["health", "sessions", "speech", "history", "ws_disconnect"])
def test_functions_that_do_not_post_cannot_manage_connections(synth: Synth, key: str) -> None:
    assert key not in _granted(synth, "execute-api:ManageConnections")


def test_each_function_writes_only_its_own_log_group(synth: Synth) -> None:
    for key, logical_id in function_ids(synth).items():
        own = ref_id(synth.props(logical_id)["LoggingConfig"]["LogGroup"])
        assert _granted(synth, "logs:PutLogEvents")[key] == {f"<{own}.Arn>"}
