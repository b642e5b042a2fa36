"""Pending authentications in Redis: the networked shared store (cloud behaviour).

Every server of a cluster sees every pending code, so a verify may reach any server and a
restarted server still finds the codes it issued. A record is one Redis string per auth id,
compact JSON, expiring at its ``keep_until`` (``SET … PXAT``), so Redis does the purging.

Redis expires keys on its own wall clock (``EXPIREAT``), which is right for the HTTP server
on the system clock. An engine on a manual or simulated clock in the past would see every
record expire at once, so such a ``keep_until`` becomes a lifetime counted from the issue.

The record holds the HMAC digest of the code (base64), never the code: a dump of Redis
reveals no live code (privacyIDEA #5736 stored SMS codes in clear in Redis).

``transition`` is a compare-and-set on the record's version, run as one Lua script: Redis
runs a script without interleaving any other command, so two servers verifying one code at
the same moment cannot both move the record on from the version they read.

Outages: every call goes through ``mfa.storage.redis_link.RedisLink``: a timeout (1 s by
default) and a circuit breaker, so a failed call is ``ServiceUnavailable("redis")`` (503).
"""

from __future__ import annotations

import base64
import json
import math
import time
from dataclasses import fields

import redis

from mfa.errors import InvalidInput
from mfa.methods import MethodType
from mfa.pending import PendingAuth
from mfa.reasons import AuthStatus, DenialReason
from mfa.storage.redis_link import RedisLink

__all__ = ["RedisPendingStore", "decode_pending", "encode_pending"]

#: Short JSON keys: a record is written on begin and every verify of every authentication.
#: A field not listed here (added to ``PendingAuth`` later) travels under its own name.
_SHORT = {
    "user_id": "u",
    "method": "m",
    "method_id": "mi",
    "server": "s",
    "issued_at": "i",
    "expires_at": "e",
    "code_digest": "d",
    "attempts": "n",
    "status": "st",
    "reason": "r",
    "device_token": "dt",
    "completed_at": "c",
    "sender": "sd",
    "client_ip": "ip",
    "server_ip": "sip",
    "version": "v",
}
_ENUMS: dict[str, type[MethodType | AuthStatus | DenialReason]] = {
    "method": MethodType,
    "status": AuthStatus,
    "reason": DenialReason,
}
_FIELDS = tuple(
    (f.name, _SHORT.get(f.name, f.name)) for f in fields(PendingAuth) if f.name != "auth_id"
)


def encode_pending(pending: PendingAuth) -> bytes:
    """Compact JSON; ``None`` fields are left out and the digest is base64."""
    out: dict[str, object] = {}
    for name, key in _FIELDS:
        value = getattr(pending, name)
        if value is None:
            continue
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        elif isinstance(value, MethodType | AuthStatus | DenialReason):
            value = value.value
        out[key] = value
    return json.dumps(out, separators=(",", ":")).encode()


def decode_pending(auth_id: str, raw: bytes) -> PendingAuth:
    data = json.loads(raw)
    values: dict[str, object] = {"auth_id": auth_id}
    for name, key in _FIELDS:
        if key not in data:
            continue  # None, or the field's default
        value = data[key]
        if name == "code_digest":
            value = base64.b64decode(value)
        elif name in _ENUMS:
            value = _ENUMS[name](value)
        values[name] = value
    return PendingAuth(**values)  # type: ignore[arg-type]


#: KEYS[1] the record; ARGV: the version expected, the new record, PXAT or PX, milliseconds.
#: A record from before versions existed has none, which reads as 0 (the field's default).
_TRANSITION = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local version = cjson.decode(current)['v'] or 0
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], ARGV[3], ARGV[4])
return 1
"""


class RedisPendingStore:
    """``mfa.pending.PendingStore`` on Redis, shared by every server that uses the same
    URL and namespace. Thread-safe (redis-py's connection pool)."""

    #: What ``mfa.errors.ServiceUnavailable`` calls this store when it fails.
    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "mfalab",
        timeout: float = 1.0,
        retry_after: float = 1.0,
    ) -> None:
        if not namespace or any(c.isspace() for c in namespace):
            raise InvalidInput("namespace", "a non-empty namespace without spaces is required")
        self._link = RedisLink(url, timeout=timeout, retry_after=retry_after)
        self._redis = self._link.client
        self._call = self._link.call
        self._prefix = f"{namespace}:pending:"
        self._transition = self._redis.register_script(_TRANSITION)

    def ping(self) -> None:
        """Ask Redis, even while the breaker is open (``RedisLink.ping``)."""
        self._link.ping()

    @property
    def client(self) -> redis.Redis:
        """The redis-py client, for instrumentation (``mfa.storage.roundtrips``)."""
        return self._redis

    @property
    def shared(self) -> bool:
        return True

    def put(self, pending: PendingAuth, *, keep_until: float) -> None:
        option, millis = _expiry(pending, keep_until)
        key, record = self._prefix + pending.auth_id, encode_pending(pending)
        self._call("SET", lambda: self._redis.execute_command("SET", key, record, option, millis))

    def get(self, auth_id: str) -> PendingAuth | None:
        raw = self._call("GET", lambda: self._redis.get(self._prefix + auth_id))
        return None if raw is None else decode_pending(auth_id, raw)  # type: ignore[arg-type]

    def transition(self, old: PendingAuth, new: PendingAuth, *, keep_until: float) -> bool:
        if new.version <= old.version:
            raise ValueError("a transition must raise the record's version")
        option, millis = _expiry(new, keep_until)
        keys = [self._prefix + old.auth_id]
        args = [old.version, encode_pending(new), option, millis]
        done = self._call("transition", lambda: self._transition(keys=keys, args=args))
        return bool(done)

    def purge(self, now: float) -> int:
        """Nothing to do: Redis expires each record at its ``keep_until``."""
        return 0

    def close(self) -> None:
        self._redis.close()

    def __repr__(self) -> str:
        return f"RedisPendingStore(prefix={self._prefix!r})"


def _expiry(pending: PendingAuth, keep_until: float) -> tuple[str, int]:
    """The ``SET`` option and milliseconds that keep a record until ``keep_until``."""
    if keep_until > time.time():
        return "PXAT", math.ceil(keep_until * 1000)
    # the engine runs on a clock of its own (manual or simulated): keep the record as long
    # as the engine meant, counted from its issue
    return "PX", math.ceil(max(keep_until - pending.issued_at, 1.0) * 1000)
