"""Synthesis shared by the infrastructure tests.

A synth costs seconds (jsii, cdk-nag, copying the Lambda asset), so each distinct context is
synthesized once per session and every module reads the result through a module-scoped fixture.
The first synth on a machine also installs the Lambda dependencies from the package index into
``build/lambda-deps`` (about 10 s); later synths copy that cache and need no network.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# jsii prints a banner for old Node releases on every start; the tests have nothing to say about it.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")


@dataclass
class Synth:
    outdir: Path
    stack_name: str
    template: dict[str, Any]
    report: dict[str, Any]
    # The us-east-1 companion stack's template (the CloudFront web ACL), when there is one.
    edge_template: dict[str, Any] | None = None

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties", {})


_SYNTHS: dict[str, Synth] = {}
# Context that makes CDK skip bundling the Lambda asset (its hash is still computed): for synths
# of another chat provider, whose asset would be a separate dependency build.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


def synthesize(**context: Any) -> Synth:
    """Synthesize the app as ``app.py`` does (cdk-nag included), once per distinct context."""
    key = json.dumps(context, sort_keys=True)
    if key not in _SYNTHS:
        from cdk.application import build_app

        outdir = Path(tempfile.mkdtemp(prefix="voicebot-cdk-test-"))
        app, stack = build_app(context=dict(context), outdir=str(outdir))
        app.synth()  # raises if cdk-nag reports an unacknowledged finding
        template = json.loads((outdir / stack.template_file).read_text())
        report = json.loads((outdir / "validation-report.json").read_text())
        edge = None
        if stack.edge is not None:
            edge = json.loads((outdir / stack.edge.template_file).read_text())
        _SYNTHS[key] = Synth(outdir, stack.stack_name, template, report, edge)
    return _SYNTHS[key]


@pytest.fixture(scope="session", autouse=True)
def _remove_cloud_assemblies() -> Iterator[None]:
    yield
    for synth in _SYNTHS.values():
        shutil.rmtree(synth.outdir, ignore_errors=True)


@pytest.fixture(scope="module")
def synth() -> Synth:
    """The stack with the defaults from cdk.json (no access code, the default model)."""
    return synthesize()


# The cost and abuse limits' options, all changed at once so their tests share one synth
# (test_waf.py, test_operations.py, test_limits.py).
LIMITS_CONTEXT: dict[str, Any] = {
    "region": "ap-northeast-2",
    "cloudFrontWebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/shared/0a1b2c3d",
    "alarmEmail": "ops@example.com",
    "monthlyBudgetUsd": "0",
    "chatReservedConcurrency": "5",
    "quotaTurns": "7",
    "quotaSpeechChars": "900",
}


@pytest.fixture(scope="module")
def limits() -> Synth:
    """The stack with every limit option changed (``LIMITS_CONTEXT``)."""
    return synthesize(**LIMITS_CONTEXT)


# The functions that use Redis: they, and only they, run in the VPC and read its AUTH token.
REDIS_FUNCTIONS = frozenset(
    {
        "health",
        "transcripts",
        "speech",
        "transcribe",
        "ws_connect",
        "ws_disconnect",
        "ws_messages",
        "ws_chat",
        "chat",
    }
)


def function_ids(synth: Synth) -> dict[str, str]:
    """Handler module key (``chat``) -> logical id of its Lambda function."""
    found: dict[str, str] = {}
    for logical_id, resource in synth.of_type("AWS::Lambda::Function").items():
        handler = resource["Properties"].get("Handler", "")
        if handler.startswith("handlers."):
            found[handler.split(".")[1]] = logical_id
    return found


def ref_id(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def flatten(value: Any) -> str:
    """A CloudFormation value as one string, references written as <LogicalId>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(flatten(part) for part in parts)
        if "Fn::Sub" in value:
            return str(value["Fn::Sub"])
    return json.dumps(value, sort_keys=True)


def references(value: Any) -> set[str]:
    """Every logical id that ``Ref`` or ``Fn::GetAtt`` names anywhere inside ``value``."""
    found: set[str] = set()
    if isinstance(value, dict):
        direct = ref_id(value)
        if direct is not None:
            found.add(direct)
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found
