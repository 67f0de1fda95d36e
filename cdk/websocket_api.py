"""The WebSocket API: live transcripts, streamed answers and sentence audio to the page.

Built in two steps because the API and the functions need each other: the functions are told the
API's management endpoint (and may post only to it), and the routes then point at the functions.
Every route's handler checks the connection: ``$connect`` verifies the client token from the
``token`` query string (a refused token refuses the handshake), and the message routes act only for
a connection that ``$connect`` registered.
"""

from __future__ import annotations

from typing import cast

import jsii
from aws_cdk import CfnElement, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from voicebot.contract.routes import ROUTE_SELECTION_EXPRESSION, WEBSOCKET_ROUTES

from .constants import WEBSOCKET_STAGE
from .functions import WebSocketTarget
from .nag import acknowledge

# One JSON line per connect, message and disconnect; no message bodies, no tokens.
_ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"routeKey":"$context.routeKey","eventType":"$context.eventType",'
    '"connectionId":"$context.connectionId","status":"$context.status",'
    '"integrationStatus":"$context.integrationStatus",'
    '"error":"$context.error.message","latency":"$context.integrationLatency"}'
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """IAccessLogSettings is a jsii interface, not a struct, so it needs a small class."""

    def __init__(
        self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat
    ) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat | None:
        return self._format


class VoicebotWebSocketApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rate_limit: int,
        burst_limit: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=f"{Stack.of(self).stack_name}-websocket",
            description="Voicebot: transcripts, answers and audio for the chat page",
            route_selection_expression=ROUTE_SELECTION_EXPRESSION,
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=WEBSOCKET_STAGE,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(access_logs), _ACCESS_LOG_FORMAT
            ),
        )
        self.target = WebSocketTarget(
            api_id=self.api.api_id,
            stage_name=WEBSOCKET_STAGE,
            api_resource=cast(CfnElement, self.api.node.default_child),
        )

    @property
    def url(self) -> str:
        return self.stage.url

    def add_routes(self, functions: dict[str, lambda_.IFunction]) -> None:
        for spec in WEBSOCKET_ROUTES:
            route = self.api.add_route(
                spec.route_key,
                integration=integrations.WebSocketLambdaIntegration(
                    f"{_route_id(spec.route_key)}Integration", functions[spec.function]
                ),
            )
            acknowledge(
                route,
                "APIG4",
                "$connect verifies the signed client token from the query string in its handler "
                "(the same code runs in the local stack, which has no authorizers); the other "
                "routes act only for connections that $connect registered.",
            )


def _route_id(route_key: str) -> str:
    return route_key.lstrip("$").capitalize()
