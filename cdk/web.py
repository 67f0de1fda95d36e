"""The chat page: a private S3 bucket behind CloudFront, with /api/* routed to the REST API.

The bucket has no public access and no website endpoint; CloudFront reads it through origin access
control. ``config.json`` is written at deploy time from the stack's real URLs (``apiBase`` is empty
because the page calls ``/api/*`` on its own origin). ``web/`` may not exist yet on a branch where
the page is still being written: then only ``config.json`` is deployed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from voicebot.contract.endpointing import EndOfTurnConfig
from voicebot.contract.interruptions import InterruptionConfig
from voicebot.contract.routes import TRANSCRIBE_STREAM
from voicebot.contract.settings import PreemptionSettings, TurnTakingSettings
from voicebot.contract.wire import PageConfig

from .nag import acknowledge

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
CONFIG_FILE = "config.json"


def page_config(
    ws_url: str,
    language: str,
    voice: str,
    access_code_required: bool,
    function_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the page reads from /config.json (the contract's PageConfig).

    ``function_settings`` (``Settings.function_settings``) chooses the turn-taking parts; the
    contract's defaults fill in what it does not name.
    """
    chosen = function_settings or {}
    turn_taking = TurnTakingSettings.model_validate(
        {name: chosen[name] for name in TurnTakingSettings.model_fields if name in chosen}
    )
    return PageConfig(
        wsUrl=ws_url,
        language=language,
        voice=voice,
        accessCodeRequired=access_code_required,
        # The page's microphone: Amazon Transcribe through a URL this route signs.
        transcribeUrl=TRANSCRIBE_STREAM.path,
        interruption=InterruptionConfig.from_settings(turn_taking),
        endOfTurn=EndOfTurnConfig(enabled=turn_taking.adaptive_end_of_turn),
        preemptiveAnswers=bool(
            chosen.get(
                "preemptive_answers", PreemptionSettings.model_fields["preemptive_answers"].default
            )
        ),
    ).body()


_DISTRIBUTION_FINDINGS = (
    (
        "CFR1",
        "The voicebot serves whoever the deployer shares the URL with; no geography is excluded.",
    ),
    (
        "CFR2",
        "Only with -c webAcl=false: the deployer chose no web ACL (a fixed monthly cost); the "
        "APIs behind /api/* are still throttled, check tokens and enforce per-user quotas.",
    ),
    (
        "CFR3",
        "Static-page requests are not worth a log bucket; the REST and WebSocket APIs keep "
        "access logs.",
    ),
    (
        "CFR4",
        "The default *.cloudfront.net certificate cannot pin a minimum TLS version (CDK ignores "
        "one without a custom certificate); add a domain and certificate to require TLS 1.2.",
    ),
)


class WebHosting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigw.RestApi,
        websocket_api_id: str,
        config: dict[str, Any],
        web_acl_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # The bucket holds only what the deployment writes; it is rebuilt on every deploy.
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Voicebot chat page and /api/*",
            default_root_object="index.html",
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            web_acl_id=web_acl_arn,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self._security_headers(websocket_api_id),
                compress=True,
            ),
            additional_behaviors={
                "/api/*": cloudfront.BehaviorOptions(
                    origin=origins.RestApiOrigin(rest_api),
                    # Never redirect an API call: a redirected POST loses its body.
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # Every viewer header (Authorization and Accept included) but Host, which
                    # API Gateway would reject.
                    origin_request_policy=(
                        cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER
                    ),
                    response_headers_policy=(cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS),
                ),
            },
        )
        sources = [s3deploy.Source.json_data(CONFIG_FILE, config)]
        if WEB_DIR.is_dir() and any(WEB_DIR.iterdir()):
            sources.insert(0, s3deploy.Source.asset(str(WEB_DIR), exclude=[CONFIG_FILE]))
        s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=sources,
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
        )
        self._acknowledge(web_acl=web_acl_arn is not None)

    def _acknowledge(self, *, web_acl: bool) -> None:
        acknowledge(
            self.bucket,
            "S1",
            "The bucket holds only the public page and is read only by CloudFront through origin "
            "access control; the APIs keep access logs where user actions happen.",
        )
        for rule, reason in _DISTRIBUTION_FINDINGS:
            if not (web_acl and rule == "CFR2"):
                acknowledge(self.distribution, rule, reason)
        # BucketDeployment's handler is one CDK-provided singleton function at stack level.
        stack = Stack.of(self)
        bucket_id = stack.resolve(
            stack.get_logical_id(cast(s3.CfnBucket, self.bucket.node.default_child))
        )
        qualifier = stack.node.try_get_context("@aws-cdk/core:bootstrapQualifier") or "hnb659fds"
        assets = f"arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-<AWS::AccountId>-{stack.region}"
        assets += "/*"
        handler_reason = (
            "CDK's own BucketDeployment handler: its role, wildcards (s3 object actions on this "
            "bucket and the CDK asset bucket) and runtime are chosen by aws-cdk-lib, not here."
        )
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                for rule in (
                    "L1",
                    "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "IAM5[Resource::*]",
                    f"IAM5[Resource::{assets}]",
                    f"IAM5[Resource::<{bucket_id}.Arn>/*]",
                    "IAM5[Action::s3:GetObject*]",
                    "IAM5[Action::s3:GetBucket*]",
                    "IAM5[Action::s3:List*]",
                    "IAM5[Action::s3:DeleteObject*]",
                    "IAM5[Action::s3:Abort*]",
                ):
                    acknowledge(child, rule, handler_reason)

    def _security_headers(self, websocket_api_id: str) -> cloudfront.ResponseHeadersPolicy:
        stack = Stack.of(self)
        websocket_origin = f"wss://{websocket_api_id}.execute-api.{stack.region}.{stack.url_suffix}"
        # The page's microphone streams to Transcribe in the stack's region (the function's).
        transcribe_origin = f"wss://transcribestreaming.{stack.region}.{stack.url_suffix}:8443"
        # The page is plain files: scripts and styles from its own origin, the WebSockets to this
        # stack's API and to Transcribe, audio from blob:/data: URLs it builds from the audio
        # events.
        policy = "; ".join(
            (
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self' 'unsafe-inline'",
                "img-src 'self' data:",
                "media-src 'self' blob: data:",
                f"connect-src 'self' {websocket_origin} {transcribe_origin}",
                "object-src 'none'",
                "base-uri 'self'",
                "frame-ancestors 'none'",
                "form-action 'self'",
            )
        )
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Voicebot page security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=policy, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365),
                    include_subdomains=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
            ),
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"
