"""Enrolment before the clock starts: the sms and push pools through
``POST /v1/users/sync`` (once, on the master), and each process's totp authenticators and
app passwords; these requests are reported apart (``SETUP`` rows), never as sign-ins."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyotp
from gevent.pool import Pool
from locust.contrib.fasthttp import FastHttpSession
from locust.stats import RequestStats

from loadtests.accounts import (
    SYNC_BATCH_LIMIT,
    Account,
    Authenticator,
    PoolPlan,
    account_for,
    push_account_for,
)
from loadtests.names import N_SETUP_APP_PASSWORDS, N_SETUP_APPS, SETUP
from loadtests.replies import json_body

if TYPE_CHECKING:  # the context holds what enrolment fills in; imported for the types only
    from loadtests.context import LoadContext

log = logging.getLogger("mfalab.loadtest")


def enrol_accounts(
    session: FastHttpSession,
    headers: Mapping[str, str],
    accounts: Sequence[Account],
    *,
    method: str,
    batches: int = 1,
) -> list[float]:
    """Enrol ``accounts`` with ``method`` (sms: their phone; push: their device token and
    the app's public key, active at once) through ``POST /v1/users/sync``, in ``batches``
    requests (one per worker; more when one would exceed the API's 10,000 users). Returns
    each request's seconds; any refusal is a ``SetupError`` naming the server's reason."""
    count = max(1, batches, math.ceil(len(accounts) / SYNC_BATCH_LIMIT))
    size = math.ceil(len(accounts) / count) if accounts else 0
    timings: list[float] = []
    for first in range(0, len(accounts), max(1, size)):
        chunk = accounts[first : first + size]
        users = [
            {"user_id": a.user_id, "method": method, "phone": a.phone}
            if method == "sms"
            else {
                "user_id": a.user_id,
                "method": method,
                "device_token": a.device_token,
                "public_key": a.device.public_key,
            }
            for a in chunk
        ]
        started = time.monotonic()
        response = session.request(
            "POST", "/v1/users/sync", json={"users": users}, headers=dict(headers)
        )
        timings.append(time.monotonic() - started)
        if response.status_code != 200:
            body = json_body(response)
            detail = body.get("detail") if isinstance(body, dict) else None
            raise SetupError(
                f"enrolling {len(chunk)} {method} accounts (POST /v1/users/sync) failed: "
                f"{response.status_code or response.error}: {detail}"
            )
    return timings


class SetupError(Exception):
    """The run cannot start (bad API key, unreachable server, ...)."""


def enrol_pool(
    session: FastHttpSession,
    headers: Mapping[str, str],
    pool_id: str,
    pools: PoolPlan,
    batches: int,
) -> list[float]:
    """Enrol the sms and push pools, one sync request per worker for each; the seconds of
    each request."""
    started = time.monotonic()
    timings: list[float] = []
    if pools.sms:
        accounts = [account_for(pool_id, i) for i in range(pools.sms)]
        timings += enrol_accounts(session, headers, accounts, method="sms", batches=batches)
    if pools.push:
        accounts = [push_account_for(pool_id, i) for i in range(pools.push)]
        timings += enrol_accounts(session, headers, accounts, method="push", batches=batches)
    log.info(
        "mfalab: %d sms and %d push accounts enrolled in %.1f s before the clock started "
        "(%d POST /v1/users/sync; pool %s; %s sms and push logins planned per %g s, %d accounts "
        "needed)",
        pools.sms,
        pools.push,
        time.monotonic() - started,
        len(timings),
        pool_id,
        f"{sum(pools.logins.values()):,.0f}",
        pools.window,
        sum(pools.needed.values()),
    )
    return timings


def enrol_apps(
    session: FastHttpSession,
    headers: Mapping[str, str],
    context: LoadContext,
    stats: RequestStats,
    prefix: str,
    users: int,
    weights: Mapping[str, float],
) -> None:
    """This process's totp authenticators (``--totp-accounts`` per user, one sync request)
    and app passwords (one user each, one sync request, then one request per password),
    before the clock, so users start logging in at once; reported apart (``SETUP`` rows)."""
    options = context.options
    if weights.get("totp", 0) > 0:
        ids = [f"lt-{prefix}-t{i:06d}" for i in range(users * options.totp_accounts)]
        for chunk in _chunks(ids):
            started = time.monotonic()
            entries = [{"user_id": user_id, "method": "totp"} for user_id in chunk]
            body = _sync(session, headers, entries)
            stats.log_request(SETUP, N_SETUP_APPS, (time.monotonic() - started) * 1000.0, 0)
            for method in body.get("methods", []):
                uri, secret = method.get("otpauth_uri"), method.get("secret")
                app = pyotp.parse_uri(uri) if uri else pyotp.TOTP(str(secret))
                assert isinstance(app, pyotp.TOTP)
                context.totp_apps.append(Authenticator(str(method["user_id"]), app))
    if weights.get("app_password", 0) > 0:
        ids = [f"lt-{prefix}-a{i:06d}" for i in range(users)]
        for chunk in _chunks(ids):
            started = time.monotonic()
            # a push method without a device: a user record that can never receive a text
            _sync(session, headers, [{"user_id": u, "method": "push"} for u in chunk])
            stats.log_request(SETUP, N_SETUP_APPS, (time.monotonic() - started) * 1000.0, 0)

        def create(user_id: str) -> None:
            started = time.monotonic()
            path = f"/v1/users/{quote(user_id)}/app-passwords"
            response = session.request("POST", path, headers=dict(headers))
            stats.log_request(
                SETUP, N_SETUP_APP_PASSWORDS, (time.monotonic() - started) * 1000.0, 0
            )
            body = json_body(response)
            if response.status_code == 201 and isinstance(body, dict):
                context.app_passwords.append((user_id, str(body.get("app_password"))))

        Pool(16).map(create, ids)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for first in range(0, len(items), SYNC_BATCH_LIMIT):
        yield items[first : first + SYNC_BATCH_LIMIT]


def _sync(
    session: FastHttpSession, headers: Mapping[str, str], users: list[dict[str, Any]]
) -> dict[str, Any]:
    response = session.request(
        "POST", "/v1/users/sync", json={"users": users}, headers=dict(headers)
    )
    body = json_body(response)
    if response.status_code != 200 or not isinstance(body, dict):
        detail = body.get("detail") if isinstance(body, dict) else None
        raise SetupError(
            f"enrolling {len(users)} users (POST /v1/users/sync) failed: "
            f"{response.status_code or response.error}: {detail}"
        )
    return body
