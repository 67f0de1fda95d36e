"""Builds the CDK app; ``app.py`` and the infrastructure tests share it."""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from .settings import Settings
from .stack import VoicebotStack


def build_app(
    context: dict[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, VoicebotStack]:
    app = App(context=context or {}, outdir=outdir)
    settings = Settings.from_context(app.node, os.environ.get("CDK_DEFAULT_REGION"))
    # The account stays unresolved (environment-agnostic) so synth needs no credentials and no
    # availability-zone lookup; the region is fixed because Bedrock and Polly ARNs name it.
    stack = VoicebotStack(
        app,
        settings.stack_name,
        settings=settings,
        env=Environment(region=settings.region),
        description="Voicebot: Korean-first voice-to-voice LLM chat (issue 3)",
    )
    # cdk-nag 3 runs as a CDK policy-validation plugin: an unacknowledged finding stops synthesis.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack
