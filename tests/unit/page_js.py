"""What the unit tests of the page's rules share: running a module of web/js in node, and the
smallest config.json that carries one part."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from voicebot.contract.wire import PageConfig

REPO = Path(__file__).resolve().parents[2]


def run_node(script: str, payload: Any) -> Any:
    """Runs an ES module ``script`` (it reads ``process.argv[1]``) and parses what it prints."""
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps(payload, ensure_ascii=False)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def page_config(**parts: Any) -> PageConfig:
    """config.json with the deployment's basics and ``parts`` (interruption, endOfTurn …)."""
    return PageConfig(
        wsUrl="wss://x/ws", language="ko-KR", voice="Seoyeon", accessCodeRequired=False, **parts
    )
