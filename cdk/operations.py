"""Operations: the alarms, their SNS topic, a monthly budget and the dashboard.

Every alarm notifies one topic (``-c alarmEmail=...`` subscribes an address to it); the README's
*Operations* section says what each one means and what to do when it fires. The thresholds are
for a small deployment: a handful of errors in five minutes is already unusual for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from . import constants as c
from .history_table import HistoryTable
from .nag import acknowledge

FIVE_MINUTES = Duration.minutes(5)
# A chat turn this close to the function's timeout is about to be cut off mid-answer.
NEAR_TIMEOUT = 0.9
NEAR_RESERVATION = 0.8
FIRST_AUDIO_P95_MS = 3000
# What the functions emit (handlers/chat.py, handlers/sessions.py), under Powertools' dimension.
_SERVICE_DIMENSION = {"service": c.SERVICE_NAME}


@dataclass(frozen=True)
class Watched:
    """What the alarms and the dashboard look at."""

    functions: dict[str, lambda_.Function]
    chat_timeout_seconds: int
    chat_reserved_concurrency: int
    rest_api: apigw.RestApi
    websocket_api: apigwv2.WebSocketApi
    websocket_stage: str
    history: HistoryTable
    cache: elasticache.CfnReplicationGroup
    model_id: str
    regional_web_acl: str | None  # the REST API's web ACL name, when there is one
    cloudfront_web_acl: str | None


def voicebot_metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=c.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=_SERVICE_DIMENSION,
        statistic=statistic,
        period=FIVE_MINUTES,
    )


def concurrent_executions(function: lambda_.IFunction) -> cloudwatch.Metric:
    """The most invocations of one function at once, per five minutes (CDK has no method)."""
    return cloudwatch.Metric(
        namespace="AWS/Lambda",
        metric_name="ConcurrentExecutions",
        dimensions_map={"FunctionName": function.function_name},
        statistic="Maximum",
        period=FIVE_MINUTES,
    )


class Operations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        watched: Watched,
        alarm_email: str,
        monthly_budget_usd: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self._watched = watched
        self.topic = sns.Topic(self, "Alarms", display_name="Voicebot alarms", enforce_ssl=True)
        acknowledge(
            self.topic,
            "SNS2",
            "The topic carries alarm and budget notices only (no user data), and CloudWatch "
            "alarms cannot publish to a topic encrypted with the AWS-managed SNS key.",
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []
        self._build_function_alarms()
        self._build_api_alarms()
        self._build_data_alarms()
        for alarm in self.alarms:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
        if monthly_budget_usd:
            self._build_budget(monthly_budget_usd)
        self.dashboard = self._build_dashboard()

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> None:
        self.alarms.append(
            cloudwatch.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
        )

    def _build_function_alarms(self) -> None:
        w = self._watched
        for key, function in w.functions.items():
            name = "".join(part.capitalize() for part in key.split("_"))
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=FIVE_MINUTES),
                5,
                f"The {key} function failed 5 or more times in 5 minutes.",
            )
        chat = w.functions["chat"]
        self._alarm(
            "ChatThrottles",
            chat.metric_throttles(period=FIVE_MINUTES),
            1,
            "Chat turns were refused for lack of concurrency (its reservation or the account's).",
        )
        self._alarm(
            "ChatDurationNearTimeout",
            chat.metric_duration(period=FIVE_MINUTES, statistic="Maximum"),
            NEAR_TIMEOUT * w.chat_timeout_seconds * 1000,
            "A chat turn ran to 90% of the function's timeout: answers are being cut off.",
        )
        if w.chat_reserved_concurrency:
            self._alarm(
                "ChatConcurrencyNearReservation",
                concurrent_executions(chat),
                max(1, int(NEAR_RESERVATION * w.chat_reserved_concurrency)),
                "Chat turns in flight reached 80% of the reserved concurrency.",
            )
        self._alarm(
            "FirstAudioP95",
            voicebot_metric("FirstAudioMs", "p95"),
            FIRST_AUDIO_P95_MS,
            "For 15 minutes, 5% of turns waited more than 3 s for their first audio.",
            evaluation_periods=3,
        )
        self._alarm(
            "QuotaRefusals",
            voicebot_metric("QuotaExceeded"),
            50,
            "50 or more chat turns were refused by the per-user quotas in 5 minutes.",
        )

    def _build_api_alarms(self) -> None:
        w = self._watched
        self._alarm(
            "RestApi5xx",
            w.rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            5,
            "The REST API answered 5 or more 5xx in 5 minutes.",
        )
        self._alarm(
            "RestApi4xxBurst",
            w.rest_api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
            200,
            "The REST API answered 200 or more 4xx in 5 minutes (probing, or a broken client).",
        )
        websocket_errors = self._sum_of(
            "AWS/ApiGateway",
            {"ApiId": w.websocket_api.api_id, "Stage": w.websocket_stage},
            {"execution": "ExecutionError", "integration": "IntegrationError"},
            "WebSocket execution and integration errors",
        )
        self._alarm(
            "WebSocketErrors",
            websocket_errors,
            5,
            "The WebSocket API failed to reach its functions 5 or more times in 5 minutes.",
        )
        if w.regional_web_acl:
            self._alarm(
                "WafBlocks",
                self._waf_metric(w.regional_web_acl, Stack.of(self).region),
                500,
                "The REST API's web ACL blocked 500 or more requests in 5 minutes.",
            )

    def _build_data_alarms(self) -> None:
        w = self._watched
        table = w.history.table.table_name
        throttles = self._sum_of(
            "AWS/DynamoDB",
            {"TableName": table},
            {"reads": "ReadThrottleEvents", "writes": "WriteThrottleEvents"},
            "History table throttle events",
        )
        self._alarm("HistoryThrottles", throttles, 1, "The history table throttled requests.")
        self._alarm(
            "CacheMemory",
            self._cache_metric("DatabaseMemoryUsagePercentage", "Maximum"),
            80,
            "The cache node's memory is 80% used: evictions (lost transcripts) come next.",
        )
        self._alarm(
            "CacheEvictions",
            self._cache_metric("Evictions", "Sum"),
            1,
            "The cache evicted keys for lack of memory.",
        )
        self._alarm(
            "CacheCpu",
            self._cache_metric("EngineCPUUtilization", "Average"),
            80,
            "For 15 minutes the cache engine's CPU averaged 80% or more.",
            evaluation_periods=3,
        )

    def _cache_metric(self, name: str, statistic: str) -> cloudwatch.Metric:
        # The replication group has one cluster; ElastiCache names it after the group.
        cluster_id = Fn.join("", [self._watched.cache.ref, "-001"])
        return cloudwatch.Metric(
            namespace="AWS/ElastiCache",
            metric_name=name,
            dimensions_map={"CacheClusterId": cluster_id},
            statistic=statistic,
            period=FIVE_MINUTES,
        )

    @staticmethod
    def _sum_of(
        namespace: str, dimensions: dict[str, str], metrics: dict[str, str], label: str
    ) -> cloudwatch.MathExpression:
        """The sum of a few metrics of one resource (each a 5-minute Sum), as one alarmable line."""
        return cloudwatch.MathExpression(
            expression=" + ".join(metrics),
            using_metrics={
                name: cloudwatch.Metric(
                    namespace=namespace,
                    metric_name=metric,
                    dimensions_map=dimensions,
                    statistic="Sum",
                    period=FIVE_MINUTES,
                )
                for name, metric in metrics.items()
            },
            label=label,
            period=FIVE_MINUTES,
        )

    @staticmethod
    def _waf_metric(acl_name: str, region: str | None) -> cloudwatch.Metric:
        """Blocked requests of a web ACL: a REGIONAL one reports in its region, with a Region
        dimension; a CloudFront one reports in us-east-1, without it."""
        dimensions = {"WebACL": acl_name, "Rule": "ALL"}
        if region is not None:
            dimensions["Region"] = region
        return cloudwatch.Metric(
            namespace="AWS/WAFV2",
            metric_name="BlockedRequests",
            dimensions_map=dimensions,
            statistic="Sum",
            period=FIVE_MINUTES,
            region=region or "us-east-1",
        )

    def _build_budget(self, monthly_usd: int) -> None:
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(
                subscription_type="SNS", address=self.topic.topic_arn
            )
        ]
        notifications = [
            budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=percent,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=subscribers,
            )
            for kind, percent in (("ACTUAL", 80), ("FORECASTED", 100))
        ]
        budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_usd, unit="USD"),
            ),
            notifications_with_subscribers=notifications,
        )

    def _build_dashboard(self) -> cloudwatch.Dashboard:
        w = self._watched
        chat = w.functions["chat"]
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        ledger = [
            voicebot_metric(name, statistic)
            for name in ("FirstTokenMs", "FirstSentenceMs", "FirstAudioMs")
            for statistic in ("p50", "p95")
        ]
        turns = voicebot_metric("TurnsInterrupted", "SampleCount").with_(label="Turns")
        interrupted = voicebot_metric("TurnsInterrupted").with_(label="Interrupted")
        errors = [
            function.metric_errors(period=FIVE_MINUTES, label=key)
            for key, function in w.functions.items()
        ]
        bedrock_tokens = [
            cloudwatch.Metric(
                namespace="AWS/Bedrock",
                metric_name=name,
                dimensions_map={"ModelId": w.model_id},
                statistic="Sum",
                period=Duration.hours(1),
            )
            for name in ("InputTokenCount", "OutputTokenCount")
        ]
        polly_characters = cloudwatch.Metric(
            namespace="AWS/Polly",
            metric_name="RequestCharacters",
            dimensions_map={"Operation": "SynthesizeSpeech"},
            statistic="Sum",
            period=Duration.hours(1),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Turn latency ledger (ms from the question)", left=ledger, width=12
            ),
            cloudwatch.GraphWidget(title="Turns", left=[turns, interrupted], width=12),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Function errors", left=errors, width=12),
            cloudwatch.GraphWidget(
                title="Chat concurrency and throttles",
                left=[concurrent_executions(chat)],
                right=[chat.metric_throttles(period=FIVE_MINUTES)],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Cost drivers: Bedrock tokens, Polly characters (per hour)",
                left=bedrock_tokens,
                right=[polly_characters],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Sessions and quota refusals",
                left=[voicebot_metric("SessionsCreated"), voicebot_metric("QuotaExceeded")],
                width=12,
            ),
        )
        waf = []
        if w.regional_web_acl:
            waf.append(self._waf_metric(w.regional_web_acl, Stack.of(self).region))
        if w.cloudfront_web_acl:
            waf.append(self._waf_metric(w.cloudfront_web_acl, None))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="APIs: REST 4xx/5xx",
                left=[
                    w.rest_api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
                    w.rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Cache memory % and CPU %",
                left=[
                    self._cache_metric("DatabaseMemoryUsagePercentage", "Maximum"),
                    self._cache_metric("EngineCPUUtilization", "Average"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(title="WAF blocked requests", left=waf, width=8),
        )
        return dashboard
