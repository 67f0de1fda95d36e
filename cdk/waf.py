"""AWS WAF web ACLs: one for CloudFront (the page and /api/*), one for the REST API's stage.

Both carry AWS's managed rule groups (IP reputation, common exploits, known bad inputs) and a
rate-based rule per client address. The CloudFront ACL also limits session creation per address:
a new session is a new user id, so without that limit the per-user quotas (services/quotas.py)
would bound nothing.

CloudFront only accepts a web ACL of scope CLOUDFRONT, which must be created in us-east-1, so
that one lives in a small companion stack (:class:`EdgeStack`) whatever the main stack's region.
API Gateway WebSocket APIs cannot be associated with a web ACL at all: the socket is protected by
its stage throttling, its token check at ``$connect`` and the per-user quotas.

Behind CloudFront, the REST API sees CloudFront's addresses, not the viewers': its per-address
rule therefore only bounds callers that use the execute-api URL directly (the interpreter), and
its limit is a separate, higher setting.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_cdk import Stack
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from voicebot.contract import routes

Scope = Literal["CLOUDFRONT", "REGIONAL"]

# AWS managed rule groups, in evaluation order (cheapest, most certain first). Each costs 1 USD a
# month per web ACL plus its WCUs; these three use 25 + 700 + 200 of the ACL's 1,500 WCUs.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
RATE_RULE = "RequestsPerAddress"
SESSIONS_RULE = "SessionsPerAddress"
# WAF counts requests per address over this window (it allows 60, 120, 300 or 600 seconds).
RATE_WINDOW_SECONDS = 300
SESSIONS_WINDOW_SECONDS = 600


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


class VoicebotWebAcl(Construct):
    """One web ACL: the managed groups, a per-address rate rule, optionally the sessions rule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        acl_scope: Scope,
        name: str,
        requests_per_address: int,
        sessions_per_address: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        rules: list[Any] = [
            wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=priority,
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group
                    )
                ),
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                visibility_config=_visibility(f"{name}-{group}"),
            )
            for priority, group in enumerate(MANAGED_RULE_GROUPS)
        ]
        rules.append(
            self._rate_rule(
                RATE_RULE, len(rules), requests_per_address, RATE_WINDOW_SECONDS, name, None
            )
        )
        if sessions_per_address is not None:
            rules.append(
                self._rate_rule(
                    SESSIONS_RULE,
                    len(rules),
                    sessions_per_address,
                    SESSIONS_WINDOW_SECONDS,
                    name,
                    routes.CREATE_SESSION.path,
                )
            )
        self.acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            scope=acl_scope,
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            description=f"Voicebot {acl_scope.lower()} web ACL",
            rules=rules,
            visibility_config=_visibility(name),
        )
        self.name = name

    @staticmethod
    def _rate_rule(
        rule: str, priority: int, limit: int, window: int, acl: str, path: str | None
    ) -> wafv2.CfnWebACL.RuleProperty:
        scope_down = None
        if path is not None:
            # Only POSTs to this path count (a session refresh has its own path and a token).
            scope_down = wafv2.CfnWebACL.StatementProperty(
                byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                    positional_constraint="EXACTLY",
                    search_string=path,
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                    ],
                )
            )
        return wafv2.CfnWebACL.RuleProperty(
            name=rule,
            priority=priority,
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=limit,
                    evaluation_window_sec=window,
                    scope_down_statement=scope_down,
                )
            ),
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            visibility_config=_visibility(f"{acl}-{rule}"),
        )


class EdgeStack(Stack):
    """The us-east-1 companion stack: the CloudFront web ACL, referenced by the main stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        requests_per_address: int,
        sessions_per_address: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.web_acl = VoicebotWebAcl(
            self,
            "CloudFrontAcl",
            acl_scope="CLOUDFRONT",
            name=f"{construct_id}-cloudfront",
            requests_per_address=requests_per_address,
            sessions_per_address=sessions_per_address,
        )

    @property
    def web_acl_arn(self) -> str:
        return self.web_acl.acl.attr_arn


def associate_rest_stage(
    scope: Construct, construct_id: str, *, acl: VoicebotWebAcl, rest_api_id: str, stage: str
) -> wafv2.CfnWebACLAssociation:
    """Attach a REGIONAL web ACL to a REST API stage."""
    stack = Stack.of(scope)
    return wafv2.CfnWebACLAssociation(
        scope,
        construct_id,
        resource_arn=f"arn:{stack.partition}:apigateway:{stack.region}::/restapis/{rest_api_id}"
        f"/stages/{stage}",
        web_acl_arn=acl.acl.attr_arn,
    )
