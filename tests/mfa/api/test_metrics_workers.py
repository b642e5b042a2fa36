"""``--workers 2``: two processes behind one port still expose one set of metrics."""

from __future__ import annotations

import re

import httpx
import pytest

from mfa.api import Cluster, ClusterSpec
from mfalab.server import SERVER_ENTRY

pytestmark = pytest.mark.slow


def test_metrics_add_up_across_workers() -> None:
    with Cluster(ClusterSpec(server=SERVER_ENTRY, servers=1, base_port=0, workers=2)) as cluster:
        url = cluster.urls[0]
        before = _healthz_count(url)  # the cluster's start-up checks were counted too
        for _ in range(20):  # a new connection each time: the kernel spreads them
            assert httpx.get(url + "/healthz").status_code == 200
        assert {_healthz_count(url) for _ in range(6)} == {before + 20}


_COUNT = re.compile(
    r'mfalab_http_request_duration_seconds_count\{method="GET",'
    r'route="/healthz",status="200"\} ([0-9.]+)'
)


def _healthz_count(url: str) -> int:
    match = _COUNT.search(httpx.get(url + "/metrics").text)
    assert match is not None
    return int(float(match.group(1)))
