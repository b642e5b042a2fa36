"""Child processes a cluster starts (uvicorn servers, nginx), each with its own log file.

A child gets its own session, so a Ctrl-C in the terminal reaches only ``mfalab cluster``,
which then stops the children in order (load balancer first, then servers) instead of
every process racing to exit. Output goes to a log file whose tail is shown when a child
fails to start.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["ChildProcess", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free now (another process may still take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ChildProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self.stop_signal = stop_signal
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def signal(self) -> None:
        """Ask the child to stop (graceful for uvicorn: SIGTERM; for nginx: SIGQUIT)."""
        if self.running():
            assert self._proc is not None
            self._proc.send_signal(self.stop_signal)

    def wait(self, grace: float) -> int | None:
        """Wait up to ``grace`` seconds after ``signal``; then kill. Returns the exit code."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return self._proc.wait()

    def stop(self, grace: float = 10.0) -> int | None:
        self.signal()
        return self.wait(grace)

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
