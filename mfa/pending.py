"""Pending authentications and where they live.

The seed: the MFA Server keeps a sent code in its own memory, and only the server that
processed the original request can validate it. ``MemoryPendingStore`` is that memory (one
per server, ``shared = False``). ``SharedPendingStore`` is the cloud behaviour: every server
sees every pending code (in-process here; ``mfa.storage.redis_pending`` is the networked one).

Codes are never stored in clear: a pending record holds an HMAC of the code keyed with the
server secret, so a dump of the store does not reveal live codes (privacyIDEA #5736).

A record changes only by ``transition``, a compare-and-set on its ``version``: when several
servers (or threads) verify one authentication at once, exactly one of them moves it from a
given version to the next, and the others must read it again and decide afresh. That keeps
one code from succeeding twice (RFC 6238 §5.2: never accept an OTP a second time) and the
attempt count from being outrun by parallel guesses on several servers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Protocol

from mfa.methods import MethodType
from mfa.reasons import AuthStatus, DenialReason

__all__ = ["MemoryPendingStore", "PendingAuth", "PendingStore", "SharedPendingStore"]


@dataclass(frozen=True, slots=True)
class PendingAuth:
    auth_id: str
    user_id: str
    method: MethodType
    method_id: str
    server: str
    issued_at: float
    expires_at: float
    code_digest: bytes | None = None
    attempts: int = 0
    status: AuthStatus = AuthStatus.PENDING
    reason: DenialReason | None = None
    device_token: str | None = None
    completed_at: float | None = None
    sender: str | None = None
    client_ip: str | None = None
    #: The issuing server's IP, for the log record when another server finishes the
    #: authentication (cloud mode).
    server_ip: str | None = None
    #: Bumped by every ``transition``; what a compare-and-set compares.
    version: int = 0

    def evolve(self, **changes: object) -> PendingAuth:
        return replace(self, **changes)  # type: ignore[arg-type]


class PendingStore(Protocol):
    """Port for the pending-code store.

    ``shared`` tells the engine whether other servers see this store; if not, a verify
    naming another server is denied as ``wrong_server`` without a lookup. ``put`` stores a
    new record; ``transition`` is the only way to change one.
    """

    @property
    def shared(self) -> bool: ...

    def put(self, pending: PendingAuth, *, keep_until: float) -> None: ...

    def get(self, auth_id: str) -> PendingAuth | None: ...

    def transition(self, old: PendingAuth, new: PendingAuth, *, keep_until: float) -> bool:
        """Replace the record with ``new`` only if the stored one still has ``old``'s version,
        atomically; ``False`` (nothing written) if it changed or is gone. ``new.version``
        must be greater than ``old.version``."""
        ...

    def purge(self, now: float) -> int: ...


class MemoryPendingStore:
    """One server's memory: lost on restart, invisible to other servers.

    Entries are kept in insertion order with their ``keep_until``; since every server
    issues with one timeout, purging from the front is amortised O(1), which keeps memory
    bounded in million-authentication simulations.
    """

    __slots__ = ("_items", "_lock")

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, PendingAuth]] = OrderedDict()
        # the HTTP server verifies on several threads: a transition's compare and set, and
        # a purge's scan, must not interleave with another transition
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        return False

    def put(self, pending: PendingAuth, *, keep_until: float) -> None:
        items = self._items
        entry = items.get(pending.auth_id)
        # an update keeps its place in the purge order and its original deadline; a put
        # is unconditional, so it needs no lock (one dict store is atomic)
        items[pending.auth_id] = (keep_until if entry is None else entry[0], pending)

    def get(self, auth_id: str) -> PendingAuth | None:
        entry = self._items.get(auth_id)
        return None if entry is None else entry[1]

    def transition(self, old: PendingAuth, new: PendingAuth, *, keep_until: float) -> bool:
        if new.version <= old.version:
            raise ValueError("a transition must raise the record's version")
        items = self._items
        with self._lock:
            entry = items.get(old.auth_id)
            if entry is None or entry[1].version != old.version:
                return False
            # like an update by ``put``: the place in the purge order and deadline stay
            items[old.auth_id] = (entry[0], new)
        return True

    def purge(self, now: float) -> int:
        items = self._items
        removed = 0
        with self._lock:
            while items:
                auth_id, (keep_until, _) = next(iter(items.items()))
                if keep_until > now:
                    break
                del items[auth_id]
                removed += 1
        return removed

    def __len__(self) -> int:
        return len(self._items)


class SharedPendingStore(MemoryPendingStore):
    """An in-process store that several engine instances share (cloud behaviour)."""

    __slots__ = ()

    @property
    def shared(self) -> bool:
        return True
