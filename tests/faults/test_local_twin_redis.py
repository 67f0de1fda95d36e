"""The local stack's embedded Redis killed outright: health says so, the stack restarts it on the
same port, health recovers, and a new turn works."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.local.conftest import RunningStack, stack_env
from tests.local.local_ws import collect, send, turn_done

# Long enough to see the outage through /api/health on a busy machine, short enough for a test.
RESTART_DELAY_S = 3


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningStack]:
    args = ["--chat", "scripted", "--tts", "scripted", "--asr", "none"]
    with RunningStack(
        tmp_path / "data", [*args, "--redis-restart-delay", str(RESTART_DELAY_S)], stack_env()
    ) as running:
        yield running


def redis_server_pid(stack: RunningStack) -> int:
    """The redis-server the stack's supervisor child runs (a grandchild of the stack)."""
    supervisors = set(stack.child_pids())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "comm").read_bytes().strip()
        except (OSError, IndexError, ValueError):
            continue
        if parent in supervisors and command == b"redis-server":
            return int(stat.parent.name)
    raise AssertionError("no redis-server under the stack")


def wait_for_health(http: httpx.Client, status: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        response = http.get("/api/health")
        seen = (response.status_code, response.json())
        if response.status_code == status:
            return dict(response.json())
        time.sleep(0.05)
    raise AssertionError(f"health never answered {status}; last {seen}")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the server through /proc")
async def test_a_killed_redis_is_reported_down_restarted_and_serves_again(stack) -> None:
    with stack.client() as http:
        healthy = wait_for_health(http, 200, timeout=5)
        assert healthy == {"ok": True, "services": {"redis": "up", "dynamodb": "up"}}

        first = redis_server_pid(stack)
        os.kill(first, signal.SIGKILL)
        down = wait_for_health(http, 503, timeout=RESTART_DELAY_S)
        assert down["ok"] is False
        assert down["services"] == {"redis": "down", "dynamodb": "up"}
        assert down["error"]["code"] == "service_unavailable"

        assert wait_for_health(http, 200, timeout=30)["ok"] is True
        assert redis_server_pid(stack) != first  # restarted, on the port the handlers know
    # The supervisor says so on the console; its line may reach the reader after health is back.
    deadline = time.monotonic() + 5
    while not any("redis-server restarted" in line for line in stack.output):
        assert time.monotonic() < deadline, stack.output[-20:]
        time.sleep(0.05)

    # The restarted server knows no session of before; a new page works end to end.
    page = await stack.new_page()
    await send(page, {"action": "chat", "turnId": "after-restart", "text": "안녕?"})
    events = await collect(page, turn_done("after-restart"))
    await page.close()
    assert [e for e in events if e["type"] == "error"] == []
    assert events[-1]["type"] == "done"
