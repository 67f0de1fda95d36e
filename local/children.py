"""Helper processes of the stack (Redis supervisor, DynamoDB twin, LLM server): start, wait for
ready, stop.

Each child is ``python -m local.<module>`` and prints one line ``ready <url>`` on stdout once it
serves; what it prints on stdout after that is news for the console (the Redis supervisor says
when it restarts the server) and is logged as a warning; anything it writes on stderr goes to a
log file in the data dir, so the console stays readable. Children run in their own process group
and die with the stack even on Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

logger = logging.getLogger("local")


def exit_with_parent(interval: float = 0.5) -> None:
    """Called in a child: exit when the stack that started it is gone (even killed by SIGKILL),
    so no orphan keeps a port or a model in memory."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ChildProcess:
    def __init__(self, name: str, module: str, args: list[str], log_path: Path) -> None:
        self.name = name
        self._cmd = [sys.executable, "-m", module, *args, "--exit-with-parent"]
        self._log_path = log_path
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> str:
        """Start the child and return the URL it announced; raise with its log tail on failure."""
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self._log_path.open("ab")
        repo = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
        }
        self._proc = subprocess.Popen(
            self._cmd,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            cwd=repo,
            # A group of its own: the terminal's Ctrl-C reaches only the stack, which then stops
            # the children in order instead of racing them.
            start_new_session=True,
        )
        log.close()
        ready = threading.Event()

        def read_stdout() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                if line.startswith("ready ") and not ready.is_set():
                    self.url = line.split(" ", 1)[1].strip()
                    ready.set()
                elif ready.is_set() and line.strip():
                    logger.warning("%s: %s", self.name, line.strip())

        threading.Thread(target=read_stdout, name=f"{self.name}-stdout", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.name} did not start; see {self._log_path}:\n{self.log_tail()}"
                )
        return self.url

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
