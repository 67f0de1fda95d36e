"""cdk-nag (AwsSolutions) runs on the app: no unacknowledged finding, and every acknowledgment
says why. cdk-nag 3 is a CDK validation plugin, so a finding would already have stopped the
synth in the fixture; these tests read its report to say so plainly."""

from __future__ import annotations

from .conftest import Synth


def _aws_solutions(synth: Synth) -> dict:
    (report,) = [r for r in synth.report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    return report


def test_aws_solutions_reports_no_unacknowledged_finding(synth: Synth) -> None:
    report = _aws_solutions(synth)
    assert report["violations"] == []
    assert report["conclusion"] == "success"


def test_every_acknowledged_finding_has_a_written_reason(synth: Synth) -> None:
    acknowledged = _aws_solutions(synth)["suppressedViolations"]
    assert acknowledged, "the report should list what was acknowledged"
    for finding in acknowledged:
        assert len(finding.get("reason", "")) >= 40, finding["ruleName"]
