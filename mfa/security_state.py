"""Per-user counters behind the lockout, the send limit and TOTP replay protection.

They live in the repository (shared by every server) so that limits hold across sessions
and servers, as RFC 4226 §7 asks for lockout.

Every change to them is read-modify-write, and servers sharing a database would lose
updates if each read, decided and saved on its own: two failures counted as one, two sends
let through the last free slot, one TOTP value accepted on two servers. So the rules that
change a state are the pure functions below, each ``(state, …) -> (new state, answer)``, and
a repository applies one atomically (``Repository.update_state``) with the row locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from mfa.fastrecords import builder

__all__ = [
    "SecurityState",
    "StateChange",
    "accept_totp_step",
    "clear_failures",
    "empty_state",
    "record_failure",
    "record_send",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SecurityState:
    user_id: str
    consecutive_failures: int = 0
    locked_until: float = 0.0
    #: Times of recent sms/voice sends, oldest first (sliding window).
    send_times: tuple[float, ...] = ()
    #: Last accepted TOTP time step per method id (RFC 6238 §5.2: accept a value once).
    last_totp_step: dict[str, int] = field(default_factory=dict)

    def evolve(self, **changes: object) -> SecurityState:
        return replace(self, **changes)  # type: ignore[arg-type]


#: A rule ``Repository.update_state`` applies: returns the new state (the same object when
#: nothing changes, which saves the write) and the answer for the caller.
StateChange = Callable[[SecurityState], tuple[SecurityState, T]]

_new_state = builder(SecurityState)


def empty_state(user_id: str) -> SecurityState:
    """The state of a user with no failures, sends or TOTP steps yet (every user's first
    sign-in reads it, so it is built without the frozen ``__init__``)."""
    return _new_state(user_id, 0, 0.0, (), {})


def record_send(
    state: SecurityState, now: float, window: float, max_sends: int
) -> tuple[SecurityState, float | None]:
    """Count one sms/voice send in the sliding window ("five times in 5 minutes"), or
    refuse it: the answer is ``None`` when counted, else the seconds to wait."""
    horizon = now - window
    times = state.send_times
    recent = tuple(t for t in times if t > horizon) if times else times
    if len(recent) >= max_sends:
        return state, recent[-max_sends] + window - now
    return _new_state(
        state.user_id,
        state.consecutive_failures,
        state.locked_until,
        (*recent, now),
        state.last_totp_step,
    ), None


def record_failure(
    state: SecurityState, now: float, threshold: int, lockout_seconds: float
) -> tuple[SecurityState, None]:
    """One more consecutive failure; the threshold-th locks the user (RFC 4226 §7).

    A failure that arrives while the user is locked is not counted: it was checked before a
    concurrent failure (maybe on another server) reached the threshold, and counting it
    would shorten the user's next allowance."""
    if state.locked_until > now:
        return state, None
    failures = state.consecutive_failures + 1
    locked_until = state.locked_until
    if failures >= threshold:
        failures, locked_until = 0, now + lockout_seconds
    return _new_state(
        state.user_id, failures, locked_until, state.send_times, state.last_totp_step
    ), None


def clear_failures(state: SecurityState) -> tuple[SecurityState, None]:
    """A success ends the run of consecutive failures."""
    if not state.consecutive_failures:
        return state, None
    return _new_state(
        state.user_id, 0, state.locked_until, state.send_times, state.last_totp_step
    ), None


def accept_totp_step(
    state: SecurityState,
    key: str,
    step: int,
    now: float,
    threshold: int,
    lockout_seconds: float,
) -> tuple[SecurityState, bool]:
    """Accept a matched TOTP time step once (RFC 6238 §5.2): ``True`` and the failures
    cleared if it is newer than the last accepted one for ``key``; else ``False`` and the
    replay counted as a failure."""
    last = state.last_totp_step.get(key)
    if last is not None and step <= last:
        failed, _ = record_failure(state, now, threshold, lockout_seconds)
        return failed, False
    steps = {**state.last_totp_step, key: step}
    return _new_state(state.user_id, 0, state.locked_until, state.send_times, steps), True
