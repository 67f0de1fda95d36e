"""The REST API under /api and the WebSocket API: every route, wired to the right function,
throttled, logged, with audio served as binary."""

from __future__ import annotations

import json

import pytest

from voicebot.contract import routes

from .conftest import Synth, flatten, function_ids, ref_id

# The contract's tables (one definition); tests/unit/test_contract.py holds them to PROTOCOL.md.
REST_ROUTES = {(r.path, r.method): r.function for r in routes.REST_ROUTES}
WEBSOCKET_ROUTES = {r.route_key: r.function for r in routes.WEBSOCKET_ROUTES}


def _resource_paths(synth: Synth) -> dict[str, str]:
    resources = synth.of_type("AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        props = resources[logical_id]["Properties"]
        parent = ref_id(props["ParentId"])
        prefix = path(parent) if parent in resources else ""
        return f"{prefix}/{props['PathPart']}"

    return {logical_id: path(logical_id) for logical_id in resources}


def _rest_methods(synth: Synth) -> dict[tuple[str, str], dict]:
    paths = _resource_paths(synth)
    return {
        (
            paths.get(str(ref_id(m["Properties"]["ResourceId"])), "/"),
            m["Properties"]["HttpMethod"],
        ): m["Properties"]
        for m in synth.of_type("AWS::ApiGateway::Method").values()
    }


def test_every_rest_route_reaches_its_function_by_lambda_proxy(synth: Synth) -> None:
    methods = _rest_methods(synth)
    functions = function_ids(synth)
    for route, key in REST_ROUTES.items():
        integration = methods[route]["Integration"]
        assert integration["Type"] == "AWS_PROXY", route
        assert f"<{functions[key]}.Arn>" in flatten(integration["Uri"]), route


def test_rest_api_has_no_routes_beyond_the_protocol_and_cors_preflight(synth: Synth) -> None:
    extra = {route for route in _rest_methods(synth) if route[1] != "OPTIONS"} - set(REST_ROUTES)
    assert not extra


def test_cors_preflight_answers_on_every_route(synth: Synth) -> None:
    methods = _rest_methods(synth)
    for path, _ in REST_ROUTES:
        assert methods[(path, "OPTIONS")]["Integration"]["Type"] == "MOCK"


def test_rest_api_treats_ogg_audio_as_binary(synth: Synth) -> None:
    (api,) = synth.of_type("AWS::ApiGateway::RestApi").values()
    assert "audio/ogg" in api["Properties"]["BinaryMediaTypes"]


def test_rest_stage_is_throttled_traced_and_access_logged(synth: Synth) -> None:
    (stage,) = synth.of_type("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "prod"
    assert props["TracingEnabled"] is True
    settings = {s["HttpMethod"]: s for s in props["MethodSettings"]}["*"]
    assert settings["ThrottlingRateLimit"] == 50
    assert settings["ThrottlingBurstLimit"] == 100
    assert settings["DataTraceEnabled"] is False
    assert ref_id(props["AccessLogSetting"]["DestinationArn"]) in synth.of_type(
        "AWS::Logs::LogGroup"
    )


def test_gateway_errors_use_the_protocol_error_shape(synth: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    throttled = responses["THROTTLED"]
    assert throttled["StatusCode"] == "429"
    body = throttled["ResponseTemplates"]["application/json"]
    assert json.loads(body.replace("$context.error.messageString", '"x"'))["error"]["code"] == (
        "throttled"
    )
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN"} <= set(responses)


def test_websocket_api_routes_on_the_action_field(synth: Synth) -> None:
    (api,) = synth.of_type("AWS::ApiGatewayV2::Api").values()
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"


@pytest.mark.parametrize("route_key", sorted(WEBSOCKET_ROUTES))
def test_every_websocket_route_reaches_its_function(synth: Synth, route_key: str) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in synth.of_type("AWS::ApiGatewayV2::Route").values()
    }
    assert set(routes) == set(WEBSOCKET_ROUTES)
    target = flatten(routes[route_key]["Target"])
    integration = synth.props(target.split("<")[1].split(">")[0])
    assert integration["IntegrationType"] == "AWS_PROXY"
    function = function_ids(synth)[WEBSOCKET_ROUTES[route_key]]
    assert f"<{function}.Arn>" in flatten(integration["IntegrationUri"])


def test_the_chat_route_only_starts_the_turn_so_no_answer_outlives_the_integration(
    synth: Synth,
) -> None:
    """A long answer used to run in the route's integration: after 29 s API Gateway sent the page
    an untyped timeout frame and logged a gateway error. The chat route's function now answers at
    once and starts the turn in the chat function, which no route reaches."""
    functions = function_ids(synth)
    routed = {
        flatten(synth.props(integration)["IntegrationUri"])
        for integration in synth.of_type("AWS::ApiGatewayV2::Integration")
    }
    assert not [uri for uri in routed if f"<{functions['chat']}.Arn>" in uri]
    chat_route = synth.props(functions[WEBSOCKET_ROUTES["chat"]])
    assert chat_route["Timeout"] < routes.INTEGRATION_TIMEOUT_SECONDS
    starts_in = chat_route["Environment"]["Variables"]["PREEMPTIVE_TURN_FUNCTION"]
    assert ref_id(starts_in) == functions["chat"]


def test_websocket_stage_is_deployed_throttled_and_access_logged(synth: Synth) -> None:
    (stage,) = synth.of_type("AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "prod"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == 50
    assert ref_id(props["AccessLogSettings"]["DestinationArn"]) in synth.of_type(
        "AWS::Logs::LogGroup"
    )
    # Access logging needs API Gateway's account-level CloudWatch role to exist first.
    (account,) = synth.of_type("AWS::ApiGateway::Account")
    assert account in stage.get("DependsOn", [])


def test_each_route_may_invoke_only_its_own_function(synth: Synth) -> None:
    permissions = synth.of_type("AWS::Lambda::Permission").values()
    invoked = {ref_id(p["Properties"]["FunctionName"]) for p in permissions}
    assert invoked <= set(function_ids(synth).values())
    for permission in permissions:
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
        assert "SourceArn" in permission["Properties"]
