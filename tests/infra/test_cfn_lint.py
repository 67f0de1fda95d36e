"""cfn-lint on the synthesized templates (issue 14, acceptance 1): no error on either stack.

Warnings are allowed: the only ones are W3005 ("dependency already enforced"), which come from how
CDK writes DependsOn for roles and secrets, not from anything this app chooses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Synth


def _errors(template: dict[str, Any], region: str) -> list[str]:
    # Imported here, not at collection: cfn-lint takes ~5 s to import, and every xdist worker
    # collects this file while only the one running the synth tests uses it.
    cfnlint_api = pytest.importorskip("cfnlint.api", reason="pip install -r requirements/cdk.txt")
    matches = cfnlint_api.lint(
        json.dumps(template), config=cfnlint_api.ManualArgs(regions=[region])
    )
    # cfn-lint's rule ids say the level: E… errors, W… warnings, I… informational.
    return [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]


def test_the_main_stack_has_no_cfn_lint_error(synth: Synth) -> None:
    assert _errors(synth.template, "us-east-1") == []


def test_the_edge_stack_has_no_cfn_lint_error(synth: Synth) -> None:
    assert synth.edge_template is not None
    assert _errors(synth.edge_template, "us-east-1") == []
