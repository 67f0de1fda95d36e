"""Start the local stack (``python -m local``) as a subprocess for a benchmark, and stop it.

The stack gets a free port, a temporary data dir, scripted providers and no microphone, so a
run measures the handlers and the API Gateway twin, never a real model. The client talks to it
over real HTTP and WebSocket on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from ._stats import REPO, percentile


@dataclass(frozen=True)
class RunningStack:
    base_url: str
    ws_url: str
    pid: int
    log_path: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (hundreds of sockets on both ends)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextlib.contextmanager
def local_stack(
    env: dict[str, str],
    keep_log: Path | None = None,
    start_timeout: float = 90.0,
    connections: str = "in-process",
    args: Sequence[str] = (),
) -> Iterator[RunningStack]:
    """Run ``python -m local`` with ``env`` added to the environment; yield once it is healthy.

    ``connections`` is the stack's ``--connections``: ``in-process`` (its default) hands the
    handlers' posts straight to the page; ``http`` takes the AWS path (boto3 → the twin's
    ``@connections`` endpoint). ``args`` are more options for ``python -m local`` (a benchmark's
    switch of a behaviour, e.g. ``--no-preemptive-answers``).

    The stack's own log (warnings, handler tracebacks) is copied to ``keep_log`` when it stops.
    """
    raise_fd_limit()  # the child inherits it
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="voicebot-bench-") as tmp:
        data_dir = Path(tmp)
        log_path = data_dir / "stack.log"
        cmd = [
            sys.executable, "-m", "local",
            "--port", str(port),
            "--data-dir", str(data_dir),
            "--chat", "scripted",
            "--tts", "scripted",
            "--asr", "none",
            "--log-level", "WARNING",
            "--connections", connections,
            *args,
        ]  # fmt: skip
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=REPO,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so one signal stops its children (DynamoDB twin) too
            )
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_healthy(base, proc, log_path, start_timeout)
                yield RunningStack(base, f"ws://127.0.0.1:{port}/ws", proc.pid, log_path)
            finally:
                _stop(proc)
                if keep_log is not None:
                    keep_log.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(log_path, keep_log)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the local stack exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the local stack did not become healthy:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    # SIGINT is Ctrl-C: the stack drains its handlers and stops Redis and DynamoDB itself.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its direct children (Redis, DynamoDB twin)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        # After the command name: state, ppid, …; utime and stime are fields 14 and 15 of stat.
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process alone (all its threads), without its children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idle and I/O wait since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(x) for x in fields]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class CpuWindows:
    """Samples the stack process's and the whole machine's CPU in short windows, in a thread.

    A level's mean CPU hides bursts: 50 turns that start within a second can saturate the
    stack's one interpreter lock for a few hundred ms while the mean stays far below a core.
    """

    def __init__(self, pid: int, window: float = 0.1) -> None:
        self._pid = pid
        self._window = window
        self._stop = threading.Event()
        self.stack: list[float] = []
        self.machine: list[float] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuWindows:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last = (time.monotonic(), process_cpu_seconds(self._pid), machine_busy_seconds())
        while not self._stop.wait(self._window):
            now = (time.monotonic(), process_cpu_seconds(self._pid), machine_busy_seconds())
            took = now[0] - last[0]
            self.stack.append((now[1] - last[1]) / took)
            self.machine.append((now[2] - last[2]) / took)
            last = now

    def summary(self) -> dict[str, float]:
        def share(values: list[float], at_least: float) -> float:
            return sum(v >= at_least for v in values) / len(values) if values else float("nan")

        ncpu = os.cpu_count() or 1
        return {
            "window_ms": self._window * 1000,
            "stack_cores_p50": percentile(self.stack, 50),
            "stack_cores_p95": percentile(self.stack, 95),
            "stack_share_windows_at_least_0_9": share(self.stack, 0.9),
            "machine_busy_cores_p50": percentile(self.machine, 50),
            "machine_busy_cores_p95": percentile(self.machine, 95),
            "machine_share_windows_at_least_90pct": share(self.machine, 0.9 * ncpu),
        }
