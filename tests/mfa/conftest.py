"""Fixtures for the engine tests: a manual clock, an in-memory outbox and an engine factory.

Every engine built here shares the test's clock and outbox, so a test can start several
servers (server or cloud mode) and move time for all of them at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mfa import (
    Challenge,
    Denial,
    Engine,
    InMemoryRepository,
    ManualClock,
    MemoryPendingStore,
    Policy,
    ServerIdentity,
)
from mfa.app_passwords import AppPasswordHasher
from mfa.delivery import SinkGateway
from mfa.outcomes import Verdict
from mfa.push_proof import PushDevice

#: 1,700,000,000 s is 2023-11-14T22:13:20Z; far from a month boundary and a 30 s step start.
START = 1_700_000_010.0
SECRET_KEY = b"test-secret-key-for-code-digests"
US_PHONE = "+14255550100"
CA_PHONE = "+16135550123"
FR_PHONE = "+33612345678"

EngineFactory = Callable[..., Engine]

#: The tests' authenticator app: one fixed key, registered as ``PUSH_KEY``.
PHONE_APP = PushDevice.from_seed(bytes(range(32)))
PUSH_KEY = PHONE_APP.public_key


def answer_push(
    engine: Engine,
    challenge: Challenge | str,
    approve: bool = True,
    *,
    number: int | None = None,
    device: PushDevice = PHONE_APP,
) -> Verdict:
    """The app's signed answer to a push; by default the person types the number the
    challenge (the sign-in page) shows."""
    if isinstance(challenge, Challenge):
        auth_id = challenge.auth_id
        typed = challenge.number if number is None else number
    else:
        auth_id, typed = challenge, number
    signature = device.answer(auth_id, approve, typed if approve else None)
    return engine.respond_push(auth_id, approve, signature=signature, number=typed)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sink() -> SinkGateway:
    return SinkGateway()


@pytest.fixture
def fast_hasher() -> AppPasswordHasher:
    """argon2id with test-sized cost: the same code path, milliseconds instead of 50+ ms."""
    from argon2 import PasswordHasher

    return AppPasswordHasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def make_engine(
    clock: ManualClock, sink: SinkGateway, fast_hasher: AppPasswordHasher
) -> EngineFactory:
    """``make_engine(name="mfa1", repository=None, pending=None, policy=None, **kw)``."""

    def build(
        name: str = "mfa1",
        *,
        repository: Any = None,
        pending: Any = None,
        policy: Policy | None = None,
        ip: str | None = None,
        **kwargs: Any,
    ) -> Engine:
        kwargs.setdefault("gateway", sink)
        kwargs.setdefault("app_password_hasher", fast_hasher)
        return Engine(
            server=ServerIdentity(name, ip or f"10.0.0.{len(name)}"),
            clock=clock,
            repository=repository if repository is not None else InMemoryRepository(),
            pending=pending if pending is not None else MemoryPendingStore(),
            secret_key=SECRET_KEY,
            policy=policy,
            **kwargs,
        )

    return build


@pytest.fixture
def engine(make_engine: EngineFactory) -> Engine:
    return make_engine()


@pytest.fixture
def code_to(sink: SinkGateway) -> Callable[[str], str]:
    """``code_to(phone)``: the code in the newest message to ``phone``, read as a user would."""

    def read(phone: str = US_PHONE) -> str:
        message = sink.messages_to(phone)[0]
        assert message.code is not None
        return message.code

    return read


class Expect:
    """Assertions that narrow what ``begin`` answered (a challenge or a denial)."""

    @staticmethod
    def challenge(outcome: Challenge | Denial) -> Challenge:
        assert isinstance(outcome, Challenge), outcome
        return outcome

    @staticmethod
    def denial(outcome: Challenge | Denial) -> Denial:
        assert isinstance(outcome, Denial), outcome
        return outcome


@pytest.fixture
def expect() -> type[Expect]:
    return Expect
