"""Builds the CDK app; ``app.py`` and the infrastructure tests share it."""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from .settings import Settings
from .stack import VoicebotStack
from .waf import EdgeStack

EDGE_REGION = "us-east-1"
EDGE_SUFFIX = "Edge"


def build_app(
    context: dict[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, VoicebotStack]:
    app = App(context=context or {}, outdir=outdir)
    settings = Settings.from_context(app.node, os.environ.get("CDK_DEFAULT_REGION"))
    # The accounts stay unresolved (environment-agnostic) so synth needs no credentials and no
    # availability-zone lookup; the regions are fixed because Bedrock and Polly ARNs name them
    # and the CloudFront web ACL can only live in us-east-1.
    acl_arn, acl_name = settings.cloudfront_web_acl_arn or None, None
    edge: EdgeStack | None = None
    if settings.web_acl and acl_arn is None:
        edge = EdgeStack(
            app,
            f"{settings.stack_name}{EDGE_SUFFIX}",
            requests_per_address=settings.waf_requests_per_address,
            sessions_per_address=settings.waf_sessions_per_address,
            env=Environment(region=EDGE_REGION),
            cross_region_references=True,
            description="Voicebot: the CloudFront web ACL (CloudFront takes one from us-east-1)",
        )
        acl_arn, acl_name = edge.web_acl_arn, edge.web_acl.name
    stack = VoicebotStack(
        app,
        settings.stack_name,
        settings=settings,
        cloudfront_web_acl_arn=acl_arn if settings.web_acl else None,
        cloudfront_web_acl_name=acl_name,
        env=Environment(region=settings.region),
        cross_region_references=edge is not None,
        description="Voicebot: Korean-first voice-to-voice LLM chat (issue 3)",
    )
    # The web ACL's ARN, referenced across regions, also makes the edge stack deploy first.
    stack.edge = edge
    # cdk-nag 3 runs as a CDK policy-validation plugin: an unacknowledged finding stops synthesis.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack
