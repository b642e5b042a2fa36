"""Pre-enrolled accounts, the pool that leases them and the plan that sizes it.

Accounts are derived from the pool id (phone, device token, push key), so the master enrols
them and every worker uses its share without exchanging anything; the pool is sized from the
planned rate and the engine's send limit, so a test measures the servers, not
``rate_limited``, unless ``--allow-rate-limit`` asks for exactly that."""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha256

import gevent
import pyotp
from gevent.event import Event

from loadtests.options import ENGINE_DEFAULTS, LoadOptions
from loadtests.shapes import LoadPlan
from mfa.push_proof import PushDevice
from mfa.security_state import SecurityState, record_send
from mfa.users import parse_phone

log = logging.getLogger("mfalab.loadtest")


_PHONE_SPACE = 8_000_000
#: The largest pool sized automatically (5 sync batches of the API's 10,000 users).
_MAX_AUTO_POOL = 50_000
#: The shortest sms login a closed workload is assumed to repeat at (begin, one read of the
#: sink, verify on a fast local server): at ``--think 0`` the planned rate is users / this.
_MIN_LOGIN_S = 0.05
#: How far past its run time a run may go on starting logins (seconds).
_RUN_OVERSHOOT_S = 2.0
#: The most users one ``POST /v1/users/sync`` takes (``mfa.api.schemas.SYNC_MAX_USERS``; not
#: imported, so the load generator does not load the web app).
SYNC_BATCH_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Account:
    """A pre-enrolled account: an sms account (its default method, to ``phone``) or a push
    account (an activated push method with ``device_token`` and the public key of
    ``device_seed``).

    ``device_seed`` is the private key of the account's authenticator app (Ed25519, 32
    bytes), derived from the pool id like everything else here so that the master registers
    the public key and every worker signs with the same key, without exchanging anything.
    Anyone who knows the run id can derive it: load-test accounts only."""

    user_id: str
    phone: str
    device_token: str
    device_seed: bytes

    @property
    def device(self) -> PushDevice:
        return _device(self.device_seed)


@lru_cache(maxsize=_MAX_AUTO_POOL)
def _device(seed: bytes) -> PushDevice:
    return PushDevice.from_seed(seed)


def account_for(run_id: str, index: int) -> Account:
    """The ``index``-th account of a pool: the same on the master and on every worker, so
    the master can enrol them and the workers use them without exchanging anything."""
    offset = int.from_bytes(sha256(run_id.encode()).digest()[:8], "big") % _PHONE_SPACE
    n = (offset + index) % _PHONE_SPACE
    phone = parse_phone(f"+1646{200 + n // 10_000:03d}{n % 10_000:04d}").e164
    seed = sha256(f"mfalab-loadtest-device:{run_id}:{index}".encode()).digest()
    return Account(f"lt-{run_id}-{index:06d}", phone, f"device-{run_id}-{index:06d}", seed)


def push_account_for(pool_id: str, index: int) -> Account:
    """The ``index``-th push account of a pool (apart from the sms accounts: each has one
    method, the one a sync enrols; push notifications count toward the same send limit)."""
    return account_for(f"{pool_id}-push", index)


class AccountPool:
    """Accounts leased one login at a time, least recently used first, so two concurrent
    logins never read each other's texts and sends spread over the accounts.

    With a ``limit`` (texts per ``window`` seconds, the engine's send limit) the pool also
    keeps the texts it asked for per account and never leases an account without room for
    a login and one resend: when the least recently used account has none, the lease waits
    until it has, so the client slows down rather than measuring ``rate_limited``."""

    def __init__(
        self,
        accounts: Iterable[Account],
        *,
        limit: int | None = None,
        window: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free: deque[Account] = deque(accounts)
        self._returned = Event()
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sends: dict[str, deque[float]] = {}
        #: leases that waited for an account's send quota (the pool is too small)
        self.quota_waits = 0
        #: per account, the newest ``sent_at`` of a text already used
        self.read_up_to: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._free)

    def sent(self, account: Account) -> None:
        """The server accepted a send to ``account`` (one text of its quota)."""
        if self._limit is not None:
            now = self._clock()
            sends = self._sends.setdefault(account.user_id, deque())
            while sends and sends[0] <= now - self._window:  # out of the window: forgotten
                sends.popleft()
            sends.append(now)

    def room_in(self, account: Account) -> float:
        """Seconds until ``account`` may start a login without reaching the send limit:
        the engine's own sliding-window rule (``record_send``), with one send kept back
        for a resend."""
        sends = self._sends.get(account.user_id)
        if self._limit is None or not sends:
            return 0.0
        state = SecurityState(user_id=account.user_id, send_times=tuple(sends))
        _, wait = record_send(state, self._clock(), self._window, max(1, self._limit - 1))
        return wait or 0.0

    def lease(self, timeout: float = 30.0) -> Account | None:
        deadline = time.monotonic() + timeout
        while not self._free:
            self._returned.clear()
            if not self._returned.wait(max(0.0, deadline - time.monotonic())):
                return None
        account = self._free.popleft()
        wait = self.room_in(account)
        if wait > 0:
            self.quota_waits += 1
            if self.quota_waits == 1:
                log.warning(
                    "mfalab: the account pool is too small for this rate: a login waits "
                    "%.1f s for an account's send quota (raise --user-pool)",
                    wait,
                )
            if wait > deadline - time.monotonic():
                self.release(account)
                return None
            gevent.sleep(wait)
        return account

    def release(self, account: Account) -> None:
        self._free.append(account)
        self._returned.set()


@dataclass(frozen=True, slots=True)
class PoolPlan:
    """How many accounts a run enrols before its clock starts, and why.

    ``logins[flow]`` is the most logins of that flow (sms, push: both count toward the
    engine's send limit) the plan starts within one send window (or the run, when shorter);
    an account may take ``max_sends - 1`` of them per window (room for a resend), so
    ``needed[flow]`` accounts keep every returning account under the limit."""

    sizes: Mapping[str, int]
    logins: Mapping[str, float]
    needed: Mapping[str, int]
    window: float
    limit: int
    period: float

    @property
    def sms(self) -> int:
        return self.sizes.get("sms", 0)

    @property
    def push(self) -> int:
        return self.sizes.get("push", 0)

    @property
    def short(self) -> list[str]:
        """The flows whose pool is smaller than their logins need."""
        return [f for f, n in self.needed.items() if self.sizes.get(f, 0) < n]

    @property
    def too_small(self) -> bool:
        return bool(self.short)

    def problem(self, options: LoadOptions, plan: LoadPlan) -> str:
        how = (
            f"--rate {plan.rate:g}"
            if plan.rate is not None
            else f"{plan.users} users at --think {options.think[0]:g}-{options.think[1]:g} s "
            f"(a login takes at least {_MIN_LOGIN_S:g} s)"
        )
        given = (
            f"--user-pool {options.user_pool}"
            if options.user_pool
            else f"the largest automatic pool ({_MAX_AUTO_POOL})"
        )
        flows = "; ".join(
            f"up to {self.logins[f]:,.0f} {f} logins in {self.window:g} s, which need "
            f"{self.needed[f]:,} accounts, but the pool has {self.sizes.get(f, 0):,}"
            for f in self.short
        )
        return (
            f"this test would run into the send limit ({self.limit} texts per "
            f"{self.period:g} s per account): {how} starts {flows} ({given}). Raise "
            "--user-pool, lower the load, or add --allow-rate-limit to measure the limit itself"
        )


#: The flows whose logins send (a text or a push notification) and so use pooled accounts.
POOLED_FLOWS = ("sms", "push")


def plan_pool(plan: LoadPlan, options: LoadOptions, weights: Mapping[str, float]) -> PoolPlan:
    """Size the sms and push pools from the planned rate and the engine's send limit."""
    limit, period = ENGINE_DEFAULTS.max_sends, float(ENGINE_DEFAULTS.send_window_seconds)
    # a run lasts up to _RUN_OVERSHOOT_S past its run time (the shape stops at its next
    # one-second tick; the logins in progress finish)
    window = min((plan.duration or period) + _RUN_OVERSHOOT_S, period)
    total = sum(weights.values()) or 1.0
    # the peak of the shape; a closed user starts a login at most every shortest think
    # time and login
    closed = plan.users / (options.think[0] + _MIN_LOGIN_S)
    rate = plan.rate if plan.rate is not None else closed
    per_account = max(1, limit - 1)
    concurrent = max(100, 2 * plan.users)  # every user holds one account during a login
    sizes: dict[str, int] = {}
    logins: dict[str, float] = {}
    needed: dict[str, int] = {}
    for flow in POOLED_FLOWS:
        share = weights.get(flow, 0.0) / total
        if share <= 0:
            continue
        logins[flow] = _most_of_share(rate * window, share)
        needed[flow] = math.ceil(logins[flow] / per_account)
        sizes[flow] = options.user_pool or min(_MAX_AUTO_POOL, max(concurrent, needed[flow]))
    return PoolPlan(sizes, logins, needed, window, limit, period)


def _most_of_share(logins: float, share: float) -> float:
    """How many of ``logins`` can go to a flow drawn with probability ``share`` per login:
    the mean plus three binomial standard deviations (exceeded in about 1 run of 700)."""
    return logins * share + 3.0 * math.sqrt(logins * share * (1.0 - share))


def _auto_pool_size(plan: LoadPlan, options: LoadOptions) -> int:
    """The sms pool of an sms-only test (kept for the callers that size one flow)."""
    return plan_pool(plan, options, {"sms": 1.0}).sms


@dataclass(slots=True)
class Authenticator:
    """An enrolled account and the authenticator app holding its secret."""

    user_id: str
    totp: pyotp.TOTP
    last_step: int | None = None

    def step(self, now: float) -> int:
        return int(now // self.totp.interval)

    def fresh(self, now: float) -> bool:
        """Whether the app shows a code not used yet (one login per time step)."""
        return self.last_step is None or self.step(now) > self.last_step
