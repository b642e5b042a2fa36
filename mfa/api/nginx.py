"""nginx as the cluster's load balancer (``mfalab cluster --lb nginx --policy ...``).

The configuration is rendered from the readable template ``nginx.conf.tmpl`` beside this
module into a private prefix directory, and nginx runs in the foreground as a child process
with its own pid file, logs and temp paths there — never the system service. The three
policies (round_robin, random, sticky, auth_id) are explained at the top of the template and in
docs/api.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
import jinja2

from mfa.api.children import ChildProcess

__all__ = [
    "INSTALL_HINT",
    "POLICIES",
    "Backend",
    "NginxBalancer",
    "NginxMissing",
    "find_nginx",
    "render_config",
]

#: The same names as the simulator's ``servers.lb_policy`` and ``mfalab loadtest --lb``.
POLICIES = ("round_robin", "random", "sticky", "auth_id")
INSTALL_HINT = (
    "nginx is not installed; install the Debian package with "
    "`sudo apt-get install -y nginx` (or `apt-get install -y nginx` as root) and retry"
)


class NginxMissing(RuntimeError):
    """The nginx binary is not on this machine."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


@dataclass(frozen=True, slots=True)
class Backend:
    name: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def render_config(
    backends: Sequence[Backend], *, policy: str, listen: str, prefix: Path | str
) -> str:
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
    if not backends:
        raise ValueError("a load balancer needs at least one server")
    source = resources.files("mfa.api").joinpath("nginx.conf.tmpl").read_text()
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    template = environment.from_string(source)
    return template.render(backends=list(backends), policy=policy, listen=listen, prefix=prefix)


class NginxBalancer:
    """One nginx in front of ``backends``, listening on ``host:port``."""

    def __init__(self, backends: Sequence[Backend], *, policy: str, host: str, port: int) -> None:
        self.backends = list(backends)
        self.policy = policy
        self.host = host
        self.port = port
        self.prefix: Path | None = None
        self._child: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        binary = find_nginx()
        if binary is None:
            raise NginxMissing()
        prefix = Path(tempfile.mkdtemp(prefix="mfalab-nginx-"))
        # nginx workers run as an unprivileged user when nginx starts as root: let them in
        prefix.chmod(0o755)
        self.prefix = prefix
        config = prefix / "nginx.conf"
        config.write_text(
            render_config(
                self.backends, policy=self.policy, listen=f"{self.host}:{self.port}", prefix=prefix
            )
        )
        self._child = ChildProcess(
            "nginx",
            [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")],
            env=dict(os.environ),
            log_path=prefix / "stdout.log",
            stop_signal=signal.SIGQUIT,  # graceful: finish the requests in flight
        )
        self._child.start()
        deadline = time.monotonic() + timeout
        while True:
            if not self._child.running():
                log = (
                    (prefix / "error.log").read_text(errors="replace")
                    if (prefix / "error.log").exists()
                    else self._child.log_tail()
                )
                raise RuntimeError(f"nginx exited at start-up:\n{log[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not answer on {self.url} within {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> None:
        if self._child is not None:
            self._child.stop(grace)
            self._child = None
        if self.prefix is not None:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self.prefix = None
