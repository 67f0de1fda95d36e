"""Acknowledging cdk-nag findings: every one names the rule, the finding and why it stands."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

MIN_REASON_CHARS = 40


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (e.g. ``IAM5[Resource::*]``) on ``scope`` and everything under it."""
    if len(reason) < MIN_REASON_CHARS:
        raise ValueError(f"Say why {rule} is acceptable here, in a sentence: {reason!r}")
    Validations.of(scope).acknowledge(
        Acknowledgment(id=f"AwsSolutions::AwsSolutions-{rule}", reason=reason)
    )
