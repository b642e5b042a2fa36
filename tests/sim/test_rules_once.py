"""The simulator takes the engine's rules from the engine, not from copies of its own."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

import sim.population
from mfa.delivery.senders import SenderDirectory
from mfa.policy import Policy
from mfa.tokens.model import HardwareToken
from sim.scenario import Routing, UserBehaviour
from tests.sim.helpers import QUIET, merged

SIM = Path(sim.population.__file__).parent


def test_a_person_types_the_code_of_the_step_their_hardware_token_was_imported_with(
    simulate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 60-second token shows a new code every 60 s: the person reads the token itself,
    so every sign-in succeeds (typos off; a user back within one step waits for the next
    code, as the engine refuses a replay)."""
    monkeypatch.setattr(
        sim.population, "HardwareToken", functools.partial(HardwareToken, period=60)
    )
    run = simulate(
        merged(
            QUIET,
            {
                "population": {"users": 50, "methods": {"hardware_token": 1.0}},
                "arrivals": {"duration_s": 300, "profile": [{"start_s": 0, "rate_per_s": 0.2}]},
            },
        )
    )
    auths = run.auths
    assert len(auths) > 30
    assert (auths["outcome"] == "success").all(), auths["reason"].value_counts()


def test_the_users_resend_limits_default_to_the_engine_policy() -> None:
    behaviour, policy = UserBehaviour(), Policy()
    assert behaviour.max_attempts == policy.max_sends
    assert behaviour.window_s == policy.send_window_seconds


def test_one_default_long_code() -> None:
    assert Routing().long_code == SenderDirectory().default_long_code


def test_the_simulator_reads_simpy_only_through_its_public_api() -> None:
    """No ``env._queue``, ``env._eid``, ``env._now``: a SimPy release may change them."""
    private = re.compile(r"\benv\._[a-z]")
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(SIM.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert offenders == []
