"""AWS WAF: a CloudFront web ACL in the us-east-1 companion stack and a REGIONAL one on the REST
stage, each with the managed rule groups and a per-address rate rule; the CloudFront one also
limits session creation per address. ``-c cloudFrontWebAclArn`` reuses an existing ACL and
``-c webAcl=false`` leaves WAF out (cdk-nag's CFR2 is then acknowledged, and only then)."""

from __future__ import annotations

from typing import Any

import pytest

from cdk.waf import MANAGED_RULE_GROUPS, RATE_RULE, SESSIONS_RULE
from voicebot.contract import routes

from .conftest import LIMITS_CONTEXT, Synth, flatten, ref_id, synthesize


@pytest.fixture(scope="module")
def no_waf() -> Synth:
    return synthesize(webAcl="false", chatReservedConcurrency="0")


def _acls(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::WAFv2::WebACL"
    ]


def _rules(acl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["Name"]: rule for rule in acl["Rules"]}


def _distribution(synth: Synth) -> dict[str, Any]:
    (resource,) = synth.of_type("AWS::CloudFront::Distribution").values()
    return resource["Properties"]["DistributionConfig"]


def test_cloudfront_web_acl_lives_in_the_us_east_1_companion_stack(synth: Synth) -> None:
    assert synth.edge_template is not None
    (acl,) = _acls(synth.edge_template)
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["DefaultAction"] == {"Allow": {}}
    # The main stack holds only the REGIONAL one: CloudFront ACLs cannot live elsewhere.
    assert [a["Scope"] for a in _acls(synth.template)] == ["REGIONAL"]


def test_distribution_uses_the_companion_stacks_web_acl(synth: Synth) -> None:
    assert synth.edge_template is not None
    web_acl_id = _distribution(synth)["WebACLId"]
    (export,) = synth.edge_template["Outputs"].values()
    assert export["Value"]["Fn::GetAtt"][1] == "Arn"
    assert web_acl_id == {"Fn::ImportValue": export["Export"]["Name"]}


@pytest.mark.parametrize("scope", ["CLOUDFRONT", "REGIONAL"])
def test_each_web_acl_has_the_managed_groups_and_a_per_address_rate_rule(
    synth: Synth, scope: str
) -> None:
    assert synth.edge_template is not None
    (acl,) = [a for a in _acls(synth.edge_template) + _acls(synth.template) if a["Scope"] == scope]
    rules = _rules(acl)
    for group in MANAGED_RULE_GROUPS:
        statement = rules[group]["Statement"]["ManagedRuleGroupStatement"]
        assert statement == {"VendorName": "AWS", "Name": group}
        assert rules[group]["OverrideAction"] == {"None": {}}
    rate = rules[RATE_RULE]
    assert rate["Action"] == {"Block": {}}
    statement = rate["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "IP"
    assert statement["Limit"] == (1000 if scope == "CLOUDFRONT" else 3000)
    assert "ScopeDownStatement" not in statement
    assert all(rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] for rule in acl["Rules"])


def test_cloudfront_acl_limits_session_creation_per_address(synth: Synth) -> None:
    assert synth.edge_template is not None
    (acl,) = _acls(synth.edge_template)
    rule = _rules(acl)[SESSIONS_RULE]
    assert rule["Action"] == {"Block": {}}
    statement = rule["Statement"]["RateBasedStatement"]
    assert (statement["Limit"], statement["EvaluationWindowSec"]) == (20, 600)
    match = statement["ScopeDownStatement"]["ByteMatchStatement"]
    assert match["SearchString"] == routes.CREATE_SESSION.path
    assert match["PositionalConstraint"] == "EXACTLY"


def test_regional_acl_is_associated_with_the_rest_stage(synth: Synth) -> None:
    (association,) = synth.of_type("AWS::WAFv2::WebACLAssociation").values()
    props = association["Properties"]
    assert synth.resources[ref_id(props["WebACLArn"]) or ""]["Type"] == "AWS::WAFv2::WebACL"
    (rest_api,) = synth.of_type("AWS::ApiGateway::RestApi")
    assert flatten(props["ResourceArn"]).endswith(f"::/restapis/<{rest_api}>/stages/prod")
    assert any(
        synth.resources[d]["Type"] == "AWS::ApiGateway::Stage"
        for d in association.get("DependsOn", [])
    )


def test_no_web_acl_is_associated_with_the_websocket_api(synth: Synth) -> None:
    # WAF cannot protect API Gateway WebSocket APIs; quotas and stage throttling do (README).
    (association,) = synth.of_type("AWS::WAFv2::WebACLAssociation").values()
    (websocket_api,) = synth.of_type("AWS::ApiGatewayV2::Api")
    assert websocket_api not in flatten(association["Properties"]["ResourceArn"])


def test_an_existing_cloudfront_acl_is_used_as_given_with_no_companion_stack(
    limits: Synth,
) -> None:
    assert limits.edge_template is None
    assert _distribution(limits)["WebACLId"] == LIMITS_CONTEXT["cloudFrontWebAclArn"]
    assert [a["Scope"] for a in _acls(limits.template)] == ["REGIONAL"]


def test_without_waf_there_is_no_acl_and_cdk_nag_stays_clean(no_waf: Synth) -> None:
    assert no_waf.edge_template is None
    assert _acls(no_waf.template) == []
    assert "WebACLId" not in _distribution(no_waf)
    (report,) = [r for r in no_waf.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert report["violations"] == []
    assert "AwsSolutions-CFR2" in {f["ruleName"] for f in report["suppressedViolations"]}


def test_with_waf_cdk_nag_needs_no_cfr2_acknowledgment(synth: Synth) -> None:
    (report,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert "AwsSolutions-CFR2" not in {f["ruleName"] for f in report["suppressedViolations"]}
