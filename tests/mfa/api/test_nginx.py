"""nginx in front of the cluster: round robin, sticky by client, and routing by auth id.

One pair of servers (memory store, so a verify on the wrong server is visible as
``wrong_server``) serves the module; each policy gets its own nginx in front of it. nginx is
a Debian package: the tests skip without it, unless MFALAB_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from mfa.api import Cluster, ClusterSpec
from mfa.api.children import free_port
from mfa.api.nginx import INSTALL_HINT, Backend, NginxBalancer, find_nginx, render_config
from mfalab.server import SERVER_ENTRY
from tests.mfa.api.support import API_KEY, Api, phone, services_required

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if find_nginx() is None:
        if services_required():
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    spec = ClusterSpec(
        server=SERVER_ENTRY, servers=2, base_port=0, api_key=API_KEY, lb="nginx", lb_port=0
    )
    with Cluster(spec) as running:
        yield running


@contextmanager
def nginx(cluster: Cluster, policy: str) -> Iterator[NginxBalancer]:
    backends = [
        Backend(name, cluster.spec.host, port)
        for name, port in zip(cluster.names, cluster.ports, strict=True)
    ]
    balancer = NginxBalancer(backends, policy=policy, host="127.0.0.1", port=free_port())
    balancer.start()
    try:
        yield balancer
    finally:
        balancer.stop()


def _names(url: str, n: int, **headers: str) -> list[str]:
    with httpx.Client(base_url=url, headers=headers) as client:
        return [client.get("/healthz").json()["server"] for _ in range(n)]


def test_cluster_round_robin_alternates_and_ignores_the_auth_id(cluster: Cluster) -> None:
    assert cluster.lb_url is not None
    names = _names(cluster.lb_url, 6)
    assert set(names) == {"mfa1", "mfa2"}
    assert all(a != b for a, b in itertools.pairwise(names))
    api = Api(cluster.lb_url, cluster.api_key)
    api.user("rr-user", phone(40))
    auth_id = api.begin("rr-user").json()["auth_id"]
    # two consecutive status reads reach both servers: only the issuer knows the code
    seen = {tuple(api.http.get(f"/v1/auth/{auth_id}").json().values()) for _ in range(2)}
    assert seen == {("pending", None), ("denied", "wrong_server")}
    api.close()


def test_sticky_keeps_a_client_on_one_server(cluster: Cluster) -> None:
    with nginx(cluster, "sticky") as lb:
        for client_id in ("alice", "bob", "carol"):
            assert len(set(_names(lb.url, 6, **{"X-Client-Id": client_id}))) == 1
        spread = {_names(lb.url, 1, **{"X-Client-Id": f"user-{i}"})[0] for i in range(24)}
        assert spread == {"mfa1", "mfa2"}
        assert len(set(_names(lb.url, 6))) == 1  # no header: the client's address
        api = Api(lb.url, cluster.api_key, **{"X-Client-Id": "sticky-user"})
        api.user("sticky-user", phone(41))
        results = []
        for _ in range(3):
            auth_id = api.begin("sticky-user").json()["auth_id"]
            results.append(api.verify(auth_id, api.code(phone(41)))["result"])
        assert results == ["success"] * 3
        api.close()


def test_auth_id_routes_each_verify_to_its_issuer(cluster: Cluster) -> None:
    with nginx(cluster, "auth_id") as lb:
        api = Api(lb.url, cluster.api_key)
        phones = [phone(42 + i) for i in range(4)]
        for i, number in enumerate(phones):
            api.user(f"routed-{i}", number)
        challenges = [api.begin(f"routed-{i}").json() for i in range(4)]
        assert {c["server"] for c in challenges} == {"mfa1", "mfa2"}  # begins round robin
        results = []
        for challenge, number in zip(challenges, phones, strict=True):
            code = api.code(number)
            for _ in range(2):  # status reads go to the issuer too
                status = api.http.get(f"/v1/auth/{challenge['auth_id']}").json()
                assert status == {"status": "pending", "reason": None}
            results.append(api.verify(challenge["auth_id"], code)["result"])
        assert results == ["success"] * 4
        api.close()


def test_the_rendered_config_is_readable_and_checked() -> None:
    backends = [Backend("mfa1", "127.0.0.1", 8001), Backend("mfa2", "127.0.0.1", 8002)]
    text = render_config(backends, policy="auth_id", listen="127.0.0.1:8000", prefix="/tmp/x")
    assert '"~^/v1/(auth|push)/mfa2\\.[^/]+"  mfa2;' in text
    assert "proxy_pass http://$mfa_upstream;" in text
    sticky = render_config(backends, policy="sticky", listen="127.0.0.1:8000", prefix="/tmp/x")
    assert "hash $mfa_client consistent;" in sticky and "$mfa_upstream" not in sticky
    with pytest.raises(ValueError, match="policy"):
        render_config(backends, policy="least_conn", listen="127.0.0.1:8000", prefix="/tmp/x")


def test_random_is_nginx_random_directive_and_round_robin_its_default() -> None:
    """The same policy names as the simulator and the load tests: ``random`` lands each
    request independently (nginx's ``random`` upstream directive), ``round_robin`` is nginx's
    default strict rotation (no directive)."""
    backends = [Backend("mfa1", "127.0.0.1", 8001), Backend("mfa2", "127.0.0.1", 8002)]
    shuffled = render_config(backends, policy="random", listen="127.0.0.1:8000", prefix="/x")
    upstream = shuffled.split("upstream mfa_pool {", 1)[1].split("}", 1)[0]
    assert [line.strip() for line in upstream.splitlines()][1] == "random;"
    rotation = render_config(backends, policy="round_robin", listen="127.0.0.1:8000", prefix="/x")
    assert "random;" not in rotation and "hash " not in rotation


def test_cluster_random_lands_each_request_independently(cluster: Cluster) -> None:
    with nginx(cluster, "random") as lb:
        names = _names(lb.url, 400)
    # strict rotation would never repeat; independent landing repeats 1 time in 2
    # (±5 binomial standard deviations over 399 pairs: ±0.125)
    repeats = sum(a == b for a, b in itertools.pairwise(names)) / 399
    assert abs(repeats - 0.5) <= 0.125
    assert set(names) == {"mfa1", "mfa2"}
