"""The page: a private bucket behind CloudFront (HTTPS, security headers), /api/* to the REST
API uncached, config.json written at deploy, and the outputs the README's deploy section names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from voicebot.contract.endpointing import EndOfTurnConfig
from voicebot.contract.interruptions import InterruptionConfig
from voicebot.contract.settings import TurnTakingSettings

from .conftest import REPO_ROOT, Synth, flatten, ref_id, references

# AWS managed CloudFront policies (fixed ids, the same in every account).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
OUTPUTS = {
    "PageUrl",
    "ApiUrl",
    "WebSocketUrl",
    "InterpreterEndpoint",
    "AlarmTopicArn",
    "DashboardName",
}


@pytest.fixture(scope="module")
def distribution(synth: Synth) -> dict[str, Any]:
    (resource,) = synth.of_type("AWS::CloudFront::Distribution").values()
    return resource["Properties"]["DistributionConfig"]


def test_bucket_is_private_encrypted_and_tls_only(synth: Synth) -> None:
    ((bucket_id, bucket),) = synth.of_type("AWS::S3::Bucket").items()
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "WebsiteConfiguration" not in props
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    (policy,) = synth.of_type("AWS::S3::BucketPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool") == {"aws:SecureTransport": "false"}
        for s in statements
    )
    readers = [s for s in statements if s["Effect"] == "Allow" and "s3:GetObject" in s["Action"]]
    assert [r["Principal"] for r in readers] == [{"Service": "cloudfront.amazonaws.com"}]
    assert ref_id(policy["Properties"]["Bucket"]) == bucket_id


def test_page_is_read_through_origin_access_control(synth: Synth, distribution: dict) -> None:
    (oac,) = synth.of_type("AWS::CloudFront::OriginAccessControl")
    s3_origins = [o for o in distribution["Origins"] if "S3OriginConfig" in o]
    assert len(s3_origins) == 1
    assert ref_id(s3_origins[0]["OriginAccessControlId"]) == oac


def test_viewers_only_ever_use_https(distribution: dict) -> None:
    behaviours = [distribution["DefaultCacheBehavior"], *distribution["CacheBehaviors"]]
    for behaviour in behaviours:
        assert behaviour["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only")


def test_api_paths_go_to_the_rest_api_uncached_with_every_method_and_header(
    synth: Synth, distribution: dict
) -> None:
    (api,) = synth.of_type("AWS::ApiGateway::RestApi")
    (behaviour,) = [b for b in distribution["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    # All viewer headers but Host, so Authorization and Accept (binary audio) reach the API.
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert set(behaviour["AllowedMethods"]) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "PUT",
        "PATCH",
        "POST",
        "DELETE",
    }
    origin = next(o for o in distribution["Origins"] if o["Id"] == behaviour["TargetOriginId"])
    assert api in references(origin["DomainName"])
    assert "DeploymentStageprod" in json.dumps(origin["OriginPath"])  # the /prod stage
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_page_responses_carry_security_headers(synth: Synth, distribution: dict) -> None:
    policy_id = ref_id(distribution["DefaultCacheBehavior"]["ResponseHeadersPolicyId"])
    config = synth.props(str(policy_id))["ResponseHeadersPolicyConfig"]
    headers = config["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    csp = flatten(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    (websocket_api,) = synth.of_type("AWS::ApiGatewayV2::Api")
    assert "script-src 'self'" in csp
    assert f"wss://<{websocket_api}>.execute-api." in csp


def _deployment(synth: Synth) -> dict[str, Any]:
    (deployment,) = synth.of_type("Custom::CDKBucketDeployment").values()
    return deployment["Properties"]


def _config_json(synth: Synth) -> dict[str, Any]:
    """config.json as deployed: the asset's text with its deploy-time markers filled in."""
    deployment = _deployment(synth)
    for key, markers in zip(
        deployment["SourceObjectKeys"], deployment.get("SourceMarkers", []), strict=False
    ):
        directory = synth.outdir / f"asset.{key.removesuffix('.zip')}"
        config = directory / "config.json"
        if config.exists() and not (directory / "index.html").exists():
            text = config.read_text()
            for marker, value in markers.items():
                text = text.replace(marker, flatten(value))
            return json.loads(text)
    raise AssertionError("no config.json asset found")


def test_config_json_tells_the_page_where_the_apis_are(synth: Synth) -> None:
    config = _config_json(synth)
    (websocket_api,) = synth.of_type("AWS::ApiGatewayV2::Api")
    assert set(config) == {
        "apiBase",
        "wsUrl",
        "language",
        "voice",
        "accessCodeRequired",
        "interruption",
        "endOfTurn",
        "preemptiveAnswers",
        "transcribeUrl",
    }
    # The page's interruption policy, from the deployment's turn-taking settings (default on).
    assert (
        config["interruption"]
        == InterruptionConfig.from_settings(TurnTakingSettings()).model_dump()
    )
    # The page microphone's end-of-turn rule, likewise (contract/endpointing.py).
    assert config["endOfTurn"] == EndOfTurnConfig().model_dump()
    assert config["preemptiveAnswers"] is True  # the page may ask on a settled partial
    assert config["apiBase"] == ""
    assert re.fullmatch(
        rf"wss://<{websocket_api}>\.execute-api\.us-east-1\..+/prod", config["wsUrl"]
    )
    assert config["language"] == "ko-KR"
    assert config["voice"] == "Seoyeon"
    assert config["accessCodeRequired"] is False


def test_deployment_uploads_what_web_holds_and_invalidates_the_cache(synth: Synth) -> None:
    deployment = _deployment(synth)
    web = REPO_ROOT / "web"
    has_page = web.is_dir() and any(web.iterdir())
    assert len(deployment["SourceObjectKeys"]) == (2 if has_page else 1)
    assert deployment["DistributionPaths"] == ["/*"]


def test_stack_prints_exactly_the_documented_outputs(synth: Synth) -> None:
    outputs = synth.template["Outputs"]
    assert set(outputs) == OUTPUTS
    assert flatten(outputs["PageUrl"]["Value"]).startswith("https://<")
    api_url = flatten(outputs["ApiUrl"]["Value"])
    assert api_url.endswith("/prod")  # no trailing slash: clients append /api/...
    assert flatten(outputs["InterpreterEndpoint"]["Value"]) == f"{api_url}/api/transcripts"
    assert flatten(outputs["WebSocketUrl"]["Value"]).startswith("wss://<")


def test_deploy_guide_names_the_outputs_the_stack_prints(synth: Synth) -> None:
    guide = (REPO_ROOT / "README.md").read_text()
    printed = set(re.findall(rf"{synth.stack_name}\.(\w+) =", guide))
    assert printed == OUTPUTS | {"AccessCodeSecretArn", "ChatApiKeySecretArn"}
    for name in OUTPUTS:
        assert name in guide


def test_cli_is_pinned_to_a_v2_release_and_notices_are_off() -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    version = package["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"2\.\d+\.\d+", version), "pin an exact 2.x CLI; 3.x rejects aws-cdk-lib 2"
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert cdk_json["notices"] is False


def test_cdk_json_context_lists_every_setting_with_its_default() -> None:
    from cdk.settings import DEFAULTS

    context = json.loads(Path(REPO_ROOT / "cdk.json").read_text())["context"]
    assert context == DEFAULTS
