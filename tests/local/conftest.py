"""Run the local stack as a real subprocess (``python -m local``) and talk to it over loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.local.local_ws import open_page

REPO = Path(__file__).resolve().parents[2]
# The Riva tests' gRPC server (riva_fake_server) is reused here, not copied; tests/riva is not a
# package, so its folder goes on the path as pytest puts this one there.
RIVA_TESTS = REPO / "tests" / "riva"
if str(RIVA_TESTS) not in sys.path:
    sys.path.append(str(RIVA_TESTS))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "offline_models: loads the real Vosk or Gemma model (slower, still run in CI)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningStack:
    """One ``python -m local`` process: started, waited for ``ready``, stopped with Ctrl-C."""

    def __init__(self, data_dir: Path, args: list[str], env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self._args = args
        self._env = env
        self._proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.startup_seconds = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> RunningStack:
        cmd = [sys.executable, "-m", "local", "--port", str(self.port)]
        cmd += ["--data-dir", str(self.data_dir), *self._args]
        began = time.monotonic()
        self._proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def read() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                self.output.append(line.rstrip("\n"))
                if line.strip() == "ready":
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        while not ready.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() - began > timeout:
                self.stop()
                raise AssertionError("the stack did not start:\n" + "\n".join(self.output[-40:]))
        self.startup_seconds = time.monotonic() - began
        return self

    def __enter__(self) -> RunningStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> int:
        """Ctrl-C, as a user would; return the exit status."""
        proc, self._proc = self._proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                return proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError("the stack did not stop on Ctrl-C") from None
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash or an impatient supervisor would."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()

    def child_pids(self) -> list[int]:
        """Processes the stack started (Redis, DynamoDB, the model server), from /proc."""
        if self._proc is None or not Path("/proc").is_dir():
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self._proc.pid:
                pids.append(int(stat.parent.name))
        return pids

    def restart(self) -> RunningStack:
        assert self.stop() == 0
        self.output.clear()
        return self.start()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def page_config(self) -> dict[str, Any]:
        """``/config.json``: what the page is told about the stack (URLs, engines, language)."""
        with self.client() as http:
            return dict(http.get("/config.json").json())

    def client_token(self) -> str:
        """The client token of a new session: what a page opens its sockets with."""
        with self.client() as http:
            return str(new_session(http)["token"])

    async def new_page(self) -> ClientConnection:
        """A page's WebSocket, for a new session."""
        return await open_page(self.ws_url, self.client_token())


StartStack = Callable[..., "RunningStack"]


def scripted_stack_on(redis_url: str, data_dir: Path, **env: str) -> RunningStack:
    """A scripted stack (no speech recognizer) on a Redis the test owns and may stop or restart;
    not started yet."""
    args = ["--chat", "scripted", "--tts", "scripted", "--asr", "none", "--redis-url", redis_url]
    return RunningStack(data_dir, args, stack_env(**env))


def stack_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHAT_", "TTS_"))}
    env.pop("REDIS_URL", None)
    # No real AWS in these tests, whatever the developer's shell holds.
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    env.update(extra)
    return env


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator[StartStack]:
    """Start stacks with the given options; every one is stopped at the end of the test."""
    started: list[RunningStack] = []

    def start(*args: str, data_dir: Path | None = None, **env: str) -> RunningStack:
        stack = RunningStack(
            data_dir or tmp_path / f"data{len(started)}", list(args), stack_env(**env)
        )
        started.append(stack)
        return stack.start()

    yield start
    for stack in started:
        stack.stop()


@pytest.fixture(scope="module")
def scripted_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack with the scripted chat model and espeak, shared by a module's tests."""
    with RunningStack(
        tmp_path_factory.mktemp("stack"),
        ["--chat", "scripted", "--tts", "espeak"],
        stack_env(SCRIPTED_ANSWER="안녕하세요. 오늘은 날씨가 좋네요. 무엇을 도와드릴까요?"),
    ) as stack:
        yield stack


def new_session(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/api/sessions", json={})
    assert response.status_code == 201, response.text
    return dict(response.json())
