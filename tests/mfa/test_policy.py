"""The engine's tunable rules and their defaults from the seed."""

from __future__ import annotations

import pytest

from mfa import CLOUD_TIMEOUT_SECONDS, SERVER_TIMEOUT_SECONDS, MethodType, Mode, Policy


def test_defaults_follow_the_seed() -> None:
    policy = Policy()
    assert (SERVER_TIMEOUT_SECONDS, CLOUD_TIMEOUT_SECONDS) == (300, 180)
    assert policy.timeout_seconds == 300
    assert (policy.max_sends, policy.send_window_seconds) == (5, 300)
    assert (policy.lockout_threshold, policy.lockout_seconds) == (10, 900)
    assert (policy.max_verify_attempts, policy.code_digits, policy.totp_window_steps) == (5, 6, 1)
    assert policy.allowed_methods == frozenset(MethodType)


def test_cloud_timeout_cannot_be_configured() -> None:
    assert Policy(mode=Mode.CLOUD, pending_timeout_seconds=30).timeout_seconds == 180
    assert Policy(pending_timeout_seconds=30).timeout_seconds == 30
    assert Policy().with_(mode=Mode.CLOUD).timeout_seconds == 180


@pytest.mark.parametrize(
    "changes",
    [
        {"pending_timeout_seconds": 0},
        {"code_digits": 5},
        {"code_digits": 11},
        {"max_verify_attempts": 0},
        {"lockout_threshold": 0},
        {"max_sends": 0},
    ],
)
def test_nonsense_values_are_refused(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Policy(**changes)  # type: ignore[arg-type]
