"""The page's microphone on AWS in the template: the function that signs Transcribe streaming
URLs, its route, its least-privilege role, the WebSocket route of the page's transcripts, and the
config.json and content security policy that let the page use them."""

from __future__ import annotations

from .conftest import Synth, flatten, function_ids, ref_id
from .test_apis import _rest_methods
from .test_iam import _as_list, _granted, _role_of, _statements
from .test_web_and_outputs import _config_json

TRANSCRIBE_ACTION = "transcribe:StartStreamTranscriptionWebSocket"


def test_the_transcribe_function_serves_the_presign_route(synth: Synth) -> None:
    functions = function_ids(synth)
    props = synth.props(functions["transcribe"])
    assert props["Handler"] == "handlers.transcribe.handler"
    # Redis holds the stream quota: the function runs in the VPC, with the quota's settings.
    assert "VpcConfig" in props
    variables = props["Environment"]["Variables"]
    assert {"QUOTA_TRANSCRIBE_STREAMS", "QUOTA_TRANSCRIBE_WINDOW_SECONDS"} <= set(variables)
    assert variables["QUOTA_TRANSCRIBE_STREAMS"] == "120"
    assert "TOKEN_SECRET_ARN" in variables and "TRANSCRIBE_ENDPOINT" not in variables
    integration = _rest_methods(synth)[("/api/transcribe/stream", "POST")]["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert f"<{functions['transcribe']}.Arn>" in flatten(integration["Uri"])


def test_only_the_transcribe_function_may_start_a_stream_and_nothing_else_of_transcribe(
    synth: Synth,
) -> None:
    assert _granted(synth, TRANSCRIBE_ACTION) == {"transcribe": {"*"}}
    transcribe_actions = {
        action
        for _, statement in _statements(synth)
        for action in _as_list(statement["Action"])
        if action.startswith("transcribe:")
    }
    assert transcribe_actions == {TRANSCRIBE_ACTION}


def test_the_transcribe_role_holds_only_what_signing_and_its_quota_need(synth: Synth) -> None:
    role = _role_of(synth)["transcribe"]
    actions = {
        action
        for role_id, statement in _statements(synth)
        if role_id == role and statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
    }
    service_actions = {a for a in actions if not a.startswith(("logs:", "xray:", "ec2:"))}
    assert service_actions == {
        TRANSCRIBE_ACTION,
        # The token signing key and the Redis auth token (the quota), read from Secrets Manager.
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }


def test_the_pages_transcripts_reach_the_transcripts_function_on_the_websocket(
    synth: Synth,
) -> None:
    functions = function_ids(synth)
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in synth.of_type("AWS::ApiGatewayV2::Route").values()
    }
    integration_id = str(routes["transcript"]["Target"]).split("/")[-1]
    target = flatten(routes["transcript"]["Target"])
    integrations = synth.of_type("AWS::ApiGatewayV2::Integration")
    (integration,) = (
        props["Properties"]
        for logical_id, props in integrations.items()
        if f"<{logical_id}>" in target or logical_id == integration_id
    )
    assert f"<{functions['transcripts']}.Arn>" in flatten(integration["IntegrationUri"])
    assert ref_id(integration["ApiId"]) is not None


def test_config_json_names_the_transcribe_presign_route(synth: Synth) -> None:
    assert _config_json(synth)["transcribeUrl"] == "/api/transcribe/stream"


def test_the_page_may_connect_to_transcribe_in_the_stacks_region_only(
    synth: Synth,
) -> None:
    csp = " ".join(
        flatten(
            p["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"][
                "ContentSecurityPolicy"
            ]
        )
        for p in (
            r["Properties"]
            for r in synth.of_type("AWS::CloudFront::ResponseHeadersPolicy").values()
        )
        if "ContentSecurityPolicy"
        in p["ResponseHeadersPolicyConfig"].get("SecurityHeadersConfig", {})
    )
    connect = next(part for part in csp.split(";") if part.strip().startswith("connect-src"))
    assert "wss://transcribestreaming.us-east-1.<AWS::URLSuffix>:8443" in connect.split()
    assert not [s for s in connect.split() if "transcribestreaming" in s and "us-east-1" not in s]
