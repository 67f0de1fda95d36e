"""The voicebot stack: composes one construct per concern and prints the URLs a user needs."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from voicebot.contract.routes import FUNCTIONS
from voicebot.contract.wire import PageTurn

from . import constants as c
from .bundling import lambda_code
from .cache import TranscriptCache
from .functions import VoicebotFunctions
from .history_table import HistoryTable
from .network import Network
from .operations import Operations, Watched
from .rest_api import VoicebotRestApi
from .secrets import ChatApiKey, TokenSecrets
from .settings import Settings
from .waf import VoicebotWebAcl, associate_rest_stage
from .web import WebHosting, page_config
from .websocket_api import VoicebotWebSocketApi

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    # CloudWatch Logs accepts only these periods.
    if days not in _RETENTION:
        raise ValueError(
            f"Context 'logRetentionDays' must be one of {sorted(_RETENTION)}, not {days}."
        )
    return _RETENTION[days]


class VoicebotStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        cloudfront_web_acl_arn: str | None = None,
        cloudfront_web_acl_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._settings = settings
        # The us-east-1 companion stack holding the CloudFront web ACL, when build_app made one.
        self.edge: Stack | None = None
        retention = _retention(settings.log_retention_days)

        network = Network(
            self, "Network", nat_gateways=settings.nat_gateways, log_retention=retention
        )
        cache = TranscriptCache(
            self,
            "Cache",
            vpc=network.vpc,
            subnets=network.cache_subnets,
            client_security_group=network.function_security_group,
            engine=settings.cache_engine,
            engine_version=settings.cache_engine_version,
            node_type=settings.redis_node_type,
        )
        history = HistoryTable(
            self, "History", retain_on_destroy=settings.retain_history_on_destroy
        )
        secrets = TokenSecrets(self, "Secrets", access_code=settings.access_code)
        # An OpenAI-compatible or NIM endpoint's API key (Bedrock is authorized by the role).
        chat_api_key = (
            None
            if settings.invokes_bedrock
            else ChatApiKey(self, "ChatApiKey", existing_arn=settings.chat_api_key_secret_arn)
        )
        websocket = VoicebotWebSocketApi(
            self,
            "WebSocket",
            rate_limit=settings.api_rate_limit,
            burst_limit=settings.api_burst_limit,
            log_retention=retention,
        )
        functions = VoicebotFunctions(
            self,
            "Functions",
            settings=settings,
            code=lambda_code(settings.chat_provider),
            network=network,
            cache=cache,
            history=history,
            secrets=secrets,
            chat_api_key=chat_api_key,
            websocket=websocket.target,
            log_retention=retention,
        )
        websocket.add_routes(dict(functions.by_key))
        rest = VoicebotRestApi(
            self,
            "Rest",
            functions=dict(functions.by_key),
            rate_limit=settings.api_rate_limit,
            burst_limit=settings.api_burst_limit,
            log_retention=retention,
        )
        # The WebSocket stage's access logs need API Gateway's account-level CloudWatch role,
        # which the REST API sets up.
        account = rest.api.node.try_find_child("Account")
        if account is not None:
            websocket.stage.node.add_dependency(account)
        regional_acl = self._protect_rest_api(rest)
        web = WebHosting(
            self,
            "Web",
            rest_api=rest.api,
            web_acl_arn=cloudfront_web_acl_arn,
            websocket_api_id=websocket.api.api_id,
            config=page_config(
                websocket.url,
                settings.language,
                settings.voice,
                settings.access_code_required,
                settings.function_settings,
            ),
        )

        functions_by_key = dict(functions.by_key)
        operations = Operations(
            self,
            "Operations",
            watched=Watched(
                functions=functions_by_key,
                chat_timeout_seconds=next(
                    spec.timeout_seconds for spec in FUNCTIONS if spec.key == PageTurn.function
                ),
                chat_reserved_concurrency=settings.chat_reserved_concurrency,
                rest_api=rest.api,
                websocket_api=websocket.api,
                websocket_stage=c.WEBSOCKET_STAGE,
                history=history,
                cache=cache.replication_group,
                model_id=settings.model_id,
                regional_web_acl=regional_acl.name if regional_acl is not None else None,
                cloudfront_web_acl=cloudfront_web_acl_name,
            ),
            alarm_email=settings.alarm_email,
            monthly_budget_usd=settings.monthly_budget_usd,
        )

        CfnOutput(
            self,
            c.OUTPUT_ALARM_TOPIC,
            value=operations.topic.topic_arn,
            description="SNS topic every alarm notifies (subscribe with -c alarmEmail=...)",
        )
        CfnOutput(
            self,
            c.OUTPUT_DASHBOARD,
            value=operations.dashboard.dashboard_name,
            description="CloudWatch dashboard: turn latency, errors, cost drivers",
        )
        CfnOutput(self, c.OUTPUT_PAGE_URL, value=web.url, description="The chat page")
        CfnOutput(
            self,
            c.OUTPUT_API_URL,
            value=rest.base_url,
            description="REST API base URL (routes under /api); pass it to the interpreter's --api",
        )
        CfnOutput(self, c.OUTPUT_WEBSOCKET_URL, value=websocket.url, description="WebSocket URL")
        CfnOutput(
            self,
            c.OUTPUT_INTERPRETER_ENDPOINT,
            value=f"{rest.base_url}/api/transcripts",
            description="Where the interpreter POSTs transcripts (with a device token)",
        )
        if chat_api_key is not None and chat_api_key.created:
            CfnOutput(
                self,
                c.OUTPUT_CHAT_API_KEY_SECRET,
                value=chat_api_key.secret.secret_arn,
                description="Secret to put the chat endpoint's API key in (put-secret-value)",
            )
        if secrets.access_code is not None:
            CfnOutput(
                self,
                c.OUTPUT_ACCESS_CODE_SECRET,
                value=secrets.access_code.secret_arn,
                description="Secret holding the access code the page asks for",
            )

    def _protect_rest_api(self, rest: VoicebotRestApi) -> VoicebotWebAcl | None:
        """The REST stage's REGIONAL web ACL (WebSocket APIs cannot have one, see cdk/waf.py)."""
        if not self._settings.web_acl:
            return None
        acl = VoicebotWebAcl(
            self,
            "RestAcl",
            acl_scope="REGIONAL",
            name=f"{self.stack_name}-rest",
            requests_per_address=self._settings.waf_api_requests_per_address,
        )
        association = associate_rest_stage(
            self,
            "RestAclAssociation",
            acl=acl,
            rest_api_id=rest.api.rest_api_id,
            stage=c.REST_STAGE,
        )
        association.node.add_dependency(rest.api.deployment_stage)
        return acl
