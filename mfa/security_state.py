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

__all__ = [
    "UNCOUNTED",
    "Guess",
    "SecurityState",
    "StateChange",
    "Success",
    "accept_totp_step",
    "empty_state",
    "judge_guess",
    "record_send",
    "release_send",
    "reserve_guess",
    "settle_right_code",
    "settle_success",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SecurityState:
    user_id: str
    consecutive_failures: int = 0
    locked_until: float = 0.0
    #: Times of recent sms, voice and push sends, oldest first (sliding window).
    send_times: tuple[float, ...] = ()
    #: Last accepted TOTP time step per method id (RFC 6238 §5.2: accept a value once).
    last_totp_step: dict[str, int] = field(default_factory=dict)

    def evolve(self, **changes: object) -> SecurityState:
        return replace(self, **changes)  # type: ignore[arg-type]


#: A rule ``Repository.update_state`` applies: returns the new state (the same object when
#: nothing changes, which saves the write) and the answer for the caller.
StateChange = Callable[[SecurityState], tuple[SecurityState, T]]


def _changed(
    state: SecurityState,
    *,
    consecutive_failures: int | None = None,
    locked_until: float | None = None,
    send_times: tuple[float, ...] | None = None,
    last_totp_step: dict[str, int] | None = None,
) -> SecurityState:
    """``state`` with the given counters changed. (``dataclasses.replace`` does the same
    at three times the cost, and a sign-in changes a state three times.)"""
    return SecurityState(
        user_id=state.user_id,
        consecutive_failures=(
            state.consecutive_failures if consecutive_failures is None else consecutive_failures
        ),
        locked_until=state.locked_until if locked_until is None else locked_until,
        send_times=state.send_times if send_times is None else send_times,
        last_totp_step=state.last_totp_step if last_totp_step is None else last_totp_step,
    )


def empty_state(user_id: str) -> SecurityState:
    """The state of a user with no failures, sends or TOTP steps yet."""
    return SecurityState(user_id=user_id)


def record_send(
    state: SecurityState, now: float, window: float, max_sends: int
) -> tuple[SecurityState, float | None]:
    """Count one sms, voice or push send in the sliding window ("five times in 5 minutes"),
    or refuse it: the answer is ``None`` when counted, else the seconds to wait."""
    horizon = now - window
    times = state.send_times
    recent = tuple(t for t in times if t > horizon) if times else times
    if len(recent) >= max_sends:
        return state, recent[-max_sends] + window - now
    return _changed(state, send_times=(*recent, now)), None


def release_send(state: SecurityState, at: float) -> tuple[SecurityState, None]:
    """Give back the send counted at ``at``: the begin that counted it stored nothing and
    sent nothing (all or nothing)."""
    times = list(state.send_times)
    if at not in times:
        return state, None
    times.remove(at)
    return _changed(state, send_times=tuple(times)), None


@dataclass(frozen=True, slots=True)
class Guess:
    """A guess let through by ``reserve_guess``, already counted as a failure.

    ``locked_until`` is the lock this guess's own reservation set (it was the
    ``lockout_threshold``-th), else 0.0: if the guess turns out right, that lock is lifted,
    and no other."""

    locked_until: float = 0.0


#: The guess of a caller that counts no failures (an unknown user: nothing to lock).
UNCOUNTED = Guess()

#: How a right guess settles: the state after it, and whether it succeeded
#: (``accept_totp_step`` refuses a replayed step).
Success = Callable[[SecurityState, Guess], tuple[SecurityState, bool]]


def reserve_guess(
    state: SecurityState, now: float, threshold: int, lockout_seconds: float
) -> tuple[SecurityState, Guess | float]:
    """Let one guess be evaluated, counting it as a failure now; or refuse it while the
    user is locked (the answer is then the seconds to wait).

    The ``threshold``-th reservation locks the user at once: later guesses, arriving
    while it is still being evaluated, are refused (RFC 4226 §7)."""
    if state.locked_until > now:
        return state, state.locked_until - now
    failures = state.consecutive_failures + 1
    locked_until = state.locked_until
    guess = UNCOUNTED
    if failures >= threshold:
        failures, locked_until = 0, now + lockout_seconds
        guess = Guess(locked_until)
    return _changed(state, consecutive_failures=failures, locked_until=locked_until), guess


def settle_success(state: SecurityState, guess: Guess) -> tuple[SecurityState, None]:
    """A reserved guess was right: the run of failures ends, and the lock the guess's own
    reservation set is lifted (a lock set by later guesses stays)."""
    locked_until = state.locked_until
    if guess.locked_until and locked_until == guess.locked_until:
        locked_until = 0.0
    if not state.consecutive_failures and locked_until == state.locked_until:
        return state, None
    return _changed(state, consecutive_failures=0, locked_until=locked_until), None


def accept_totp_step(
    state: SecurityState, key: str, step: int, guess: Guess
) -> tuple[SecurityState, bool]:
    """Accept a matched TOTP time step once (RFC 6238 §5.2): ``True`` and the guess settled
    as a success (``settle_success``) if it is newer than the last accepted one for
    ``key``; else ``False``, a replay, already counted as a failure by its reservation."""
    last = state.last_totp_step.get(key)
    if last is not None and step <= last:
        return state, False
    settled, _ = settle_success(state, guess)
    steps = {**state.last_totp_step, key: step}
    return _changed(settled, last_totp_step=steps), True


def judge_guess(
    state: SecurityState,
    now: float,
    threshold: int,
    lockout_seconds: float,
    success: Success | None,
) -> tuple[SecurityState, bool | float]:
    """``reserve_guess`` and, for a right guess (``success`` given), its settling, as one
    atomic step: the answer is whether the guess succeeded, or the seconds the user stays
    locked (then nothing changes, and the guess is not judged).

    The guess was evaluated before this step, but its result counts only if the
    reservation lets it through, so a locked user learns nothing — the guarantee of
    reserving before evaluating, in one write instead of two."""
    reserved, guess = reserve_guess(state, now, threshold, lockout_seconds)
    if not isinstance(guess, Guess):
        return state, guess
    if success is None:
        return reserved, False
    return success(reserved, guess)


def settle_right_code(state: SecurityState, guess: Guess) -> tuple[SecurityState, bool]:
    """The ``Success`` of a code sent by sms or voice: ``settle_success``."""
    settled, _ = settle_success(state, guess)
    return settled, True
