"""The REST API under /api: sessions, transcripts, speech, history, health.

Each route is a Lambda proxy integration of the function that owns it. The token check happens in
the handlers (HMAC-signed, scoped bearer tokens, see ``lambdas/voicebot/tokens.py``) because the
same handlers run unchanged in the local stack, which has no API Gateway authorizers.
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from voicebot.contract.routes import REST_ROUTES

from .constants import BINARY_MEDIA_TYPES, REST_STAGE
from .nag import acknowledge

# API Gateway's own errors (throttling, unknown routes, oversized bodies) in the protocol's error
# shape, so clients parse one format whoever answers.
_GATEWAY_ERRORS: tuple[tuple[apigw.ResponseType, str, str | None], ...] = (
    (apigw.ResponseType.THROTTLED, "throttled", "429"),
    (apigw.ResponseType.QUOTA_EXCEEDED, "throttled", "429"),
    (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "not_found", "404"),
    (apigw.ResponseType.REQUEST_TOO_LARGE, "payload_too_large", "413"),
    (apigw.ResponseType.INTEGRATION_TIMEOUT, "timeout", "504"),
    (apigw.ResponseType.DEFAULT_4_XX, "bad_request", None),
    (apigw.ResponseType.DEFAULT_5_XX, "service_unavailable", None),
)


class VoicebotRestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: dict[str, lambda_.IFunction],
        rate_limit: int,
        burst_limit: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{Stack.of(self).stack_name}-rest",
            description="Voicebot REST API (sessions, transcripts, speech, history, health)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # /api/speech answers OGG bytes: API Gateway decodes the handler's base64 body when the
            # client's Accept header names audio/ogg.
            binary_media_types=list(BINARY_MEDIA_TYPES),
            # API Gateway writes stage logs through one account-level role (per region).
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=REST_STAGE,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                # Errors only: execution logs at INFO would repeat every request body.
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
            # Pages on other origins (a local page against the cloud API) may call with bearer
            # tokens; no cookies are involved, so any origin is safe.
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=apigw.Cors.ALL_ORIGINS,
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Accept"],
            ),
        )
        # The stack prints its own ApiUrl (without the trailing slash the interpreter would double).
        self.api.node.try_remove_child("Endpoint")
        self._add_routes(functions)
        self._add_gateway_responses()
        acknowledge(
            self.api,
            "APIG2",
            "Every handler validates its body with the protocol's pydantic models and answers 400 "
            "in the protocol's error shape; a gateway validator would answer in another shape.",
        )
        acknowledge(
            self.api.deployment_stage,
            "APIG3",
            "No WAF web ACL by default (about 6 USD/month before requests): the stage is "
            "throttled, every route but health needs a signed token, bodies are capped at 64 KiB.",
        )
        acknowledge(
            self.api,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role uses the AWS policy made for it; API "
            "Gateway needs it to write this stack's access logs.",
        )

    def _add_routes(self, functions: dict[str, lambda_.IFunction]) -> None:
        integrations: dict[str, apigw.LambdaIntegration] = {}
        for route in REST_ROUTES:
            integration = integrations.setdefault(
                route.function,
                # allow_test_invoke=False: no extra invoke permission for the console's test button.
                apigw.LambdaIntegration(functions[route.function], allow_test_invoke=False),
            )
            resource = self.api.root.resource_for_path(route.path.lstrip("/"))
            api_method = resource.add_method(route.method, integration)
            if route.auth == "public":
                reason = (
                    "The health check is public by design: it answers {ok: true}, reads nothing."
                )
            else:
                reason = (
                    "The handler verifies an HMAC-signed, scoped bearer token on every call "
                    "(lambdas/voicebot/tokens.py); it runs unchanged in the local stack, which has "
                    "no API Gateway authorizers, and users need no Cognito account."
                )
            acknowledge(api_method, "APIG4", reason)
            acknowledge(api_method, "COG4", reason)

    def _add_gateway_responses(self) -> None:
        for response_type, code, status in _GATEWAY_ERRORS:
            body = {"error": {"code": code, "message": "$context.error.messageString"}}
            self.api.add_gateway_response(
                f"{code}-{response_type.response_type}",
                type=response_type,
                status_code=status,
                response_headers={"Access-Control-Allow-Origin": "'*'"},
                # messageString is already a quoted JSON string.
                templates={
                    "application/json": json.dumps(body).replace(
                        '"$context.error.messageString"', "$context.error.messageString"
                    )
                },
            )

    @property
    def base_url(self) -> str:
        """``https://{id}.execute-api.{region}.amazonaws.com/{stage}`` with no trailing slash."""
        stack = Stack.of(self)
        return (
            f"https://{self.api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"
            f"/{REST_STAGE}"
        )
