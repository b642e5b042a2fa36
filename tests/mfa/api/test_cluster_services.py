"""A cluster on the real services: PostgreSQL as the shared database, Redis as the shared
pending store. With Redis any server verifies any code, and a restarted issuer still does."""

from __future__ import annotations

import pytest
import redis

from mfa.api import Cluster
from tests.mfa.api.support import Api, phone, shared_cluster

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


def test_redis_store_and_postgres_database(
    postgres_url: str, redis_url: str, redis_namespace: str
) -> None:
    spec = shared_cluster(
        2, postgres_url=postgres_url, redis_url=redis_url, redis_namespace=redis_namespace
    )
    with Cluster(spec) as cluster:
        mfa1, mfa2 = (Api(url, cluster.api_key) for url in cluster.urls)
        mfa1.user("pg-user", phone(20))  # stored in PostgreSQL, seen by mfa2

        # a code sent by either server verifies on the other
        for issuer, checker in ((mfa1, mfa2), (mfa2, mfa1)):
            challenge = issuer.begin("pg-user").json()
            assert checker.verify(challenge["auth_id"], checker.code(phone(20))) == {
                "result": "success",
                "reason": None,
            }

        # the pending code is in Redis, never in clear
        auth_id = mfa1.begin("pg-user").json()["auth_id"]
        code = mfa1.code(phone(20))
        store = redis.Redis.from_url(redis_url)
        values = [store.get(key) for key in store.scan_iter(f"{redis_namespace}*")]
        store.close()
        assert values and not any(code.encode() in (v or b"") for v in values)

        # the issuer restarts: the code still verifies, on the issuer itself
        mfa1.close()
        cluster.restart(0)
        mfa1 = Api(cluster.urls[0], cluster.api_key)
        assert mfa1.verify(auth_id, code) == {"result": "success", "reason": None}

        logs = mfa2.logs_once(lambda rs: {r["server_name"] for r in rs} == {"mfa1", "mfa2"})
        servers = {r["server_name"] for r in logs}
        assert servers == {"mfa1", "mfa2"}
        mfa1.close()
        mfa2.close()
