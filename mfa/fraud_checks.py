"""The fraud defences as steps of a begin and a verify (the rules: ``mfa.fraud``).

``screen_send`` runs after the user's own send limit has counted the send and before
anything is stored or sent; a refusal gives that send back (``mfa.begin``), so a refused
send is not sent, not billed and not counted toward the user's limit. ``note_verified``
tells the conversion guard that a sent code was verified. These are steps of
``mfa.engine.Engine``, written as functions of it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from mfa.fraud import FraudRefusal, conversion_keys, geo_refusal, phone_range, send_limits
from mfa.methods import DELIVERED_METHODS, RegisteredMethod
from mfa.reasons import DenialReason

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = ["note_verified", "screen_send"]


def screen_send(
    engine: Engine, chosen: RegisteredMethod, send_id: str, now: float, client_ip: str | None
) -> FraudRefusal | None:
    """Geo permissions for sms/voice, then the counted limits (client IP, range velocity,
    conversion), all checked and counted in one step of the counters; ``None`` if the send
    may go. Raises what the counters raise (``ServiceUnavailable`` when Redis is down)."""
    policy = engine.policy.fraud
    if not policy.active:
        return None
    to = None
    if chosen.type in DELIVERED_METHODS and chosen.phone:
        to = phone_range(chosen.phone, policy.range_prefix_digits)
        blocked = geo_refusal(policy, to.country)
        if blocked is not None:
            return blocked
    limits = send_limits(policy, to, client_ip)
    if not limits:
        return None
    refused = engine.fraud_counters.admit(send_id, now, limits)
    if refused is None:
        return None
    return FraudRefusal(DenialReason.FRAUD_SUSPECTED, refused.rule)


def note_verified(engine: Engine, send_id: str, method: RegisteredMethod) -> None:
    """A code sent to ``method``'s phone was verified: count it for the conversion guard.
    The verify has succeeded already, so a counters' failure is not the user's; the send
    then stays unconverted (the guard errs toward refusing, and only with enough volume)."""
    policy = engine.policy.fraud
    if policy.conversion_min_rate is None or not method.phone:
        return
    keys = conversion_keys(phone_range(method.phone, policy.range_prefix_digits))
    with contextlib.suppress(Exception):
        engine.fraud_counters.converted(send_id, keys)
