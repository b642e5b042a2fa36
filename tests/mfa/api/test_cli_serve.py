"""``mfalab serve`` and ``mfalab cluster`` as a person runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from mfa.api.children import free_port
from mfa.cli import main


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MFALAB_") and name != "MFALAB_REQUIRE_SERVICES":
            monkeypatch.delenv(name)


def test_serve_without_an_api_key_says_which_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clear_env(monkeypatch)
    assert main(["serve"]) == 2
    assert "MFALAB_API_KEY is required" in capsys.readouterr().err


def test_serve_names_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv("MFALAB_API_KEY", "k" * 20)
    monkeypatch.setenv("MFALAB_PENDING", "memcached://x")
    assert main(["serve"]) == 2
    assert "MFALAB_PENDING" in capsys.readouterr().err


def test_cluster_with_nginx_missing_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("mfa.api.nginx.find_nginx", lambda: None)
    assert main(["cluster", "--servers", "1", "--base-port", "0", "--lb", "nginx"]) == 2
    assert "apt-get install -y nginx" in capsys.readouterr().err


def test_a_cloud_cluster_on_a_memory_store_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In cloud mode any server validates any code: with codes in each server's memory the
    others would answer wrong_server, which the cloud never does."""
    _clear_env(monkeypatch)
    argv = ["cluster", "--servers", "3", "--base-port", "0", "--mode", "cloud"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cloud mode on 3 server processes needs a shared pending store" in err
    assert "redis://" in err
    monkeypatch.setenv("MFALAB_API_KEY", "k" * 20)
    monkeypatch.setenv("MFALAB_SECRET_KEY", "s" * 20)
    monkeypatch.setenv("MFALAB_MODE", "cloud")
    assert main(["serve", "--workers", "2"]) == 2  # two workers are two processes
    assert "shared pending store" in capsys.readouterr().err


def test_a_single_cloud_server_may_keep_codes_in_memory() -> None:
    from mfa.settings import shared_store_problem

    assert shared_store_problem(mode="cloud", pending="memory", processes=1) is None
    assert shared_store_problem(mode="server", pending="memory", processes=3) is None
    assert shared_store_problem(mode="cloud", pending="redis://r:6379/0", processes=3) is None


def _spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mfa", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 60.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    proc.kill()
    raise AssertionError(f"{marker!r} never printed:\n" + "\n".join(lines))


def _wait_healthy(url: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url + "/healthz").json()  # type: ignore[no-any-return]
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MFALAB_")}


@pytest.mark.slow
def test_serve_dev_prints_a_key_once_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = _spawn("serve", "--dev", "--port", str(port), env=_clean_env())
    try:
        lines = _read_until(proc, "API key (shown once):")
        key = lines[-1].rsplit(" ", 1)[1]
        url = f"http://127.0.0.1:{port}"
        assert _wait_healthy(url) == {"status": "ok", "server": "mfa1"}
        assert httpx.get(url + "/v1/logs", headers={"Authorization": f"Bearer {key}"}).json() == []
        assert httpx.get(url + "/v1/logs").status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert output.count(key) == 0  # printed once, before; never again


@pytest.mark.slow
def test_cluster_prints_urls_and_stops_everything_on_sigterm() -> None:
    base = _free_pair()
    proc = _spawn("cluster", "--servers", "2", "--base-port", str(base), env=_clean_env())
    try:
        lines = _read_until(proc, "Ctrl-C or SIGTERM stops the cluster.")
        urls = dict(line.split() for line in lines if line.startswith("mfa"))
        assert urls == {"mfa1": f"http://127.0.0.1:{base}", "mfa2": f"http://127.0.0.1:{base + 1}"}
        assert any(line.startswith("API key (shown once): ") for line in lines)
        for name, url in urls.items():
            assert httpx.get(url + "/healthz").json()["server"] == name
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    for url in urls.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz")


def _free_pair() -> int:
    """Two consecutive free ports."""
    for _ in range(50):
        base = free_port()
        if base < 65535:
            try:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + 1))
                return base
            except OSError:
                continue
    raise RuntimeError("no two consecutive free ports")
