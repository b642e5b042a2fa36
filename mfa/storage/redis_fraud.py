"""The fraud defences' counters in Redis, shared by every server of a cluster.

Each counter is a sorted set of the send ids admitted under its key, scored by the time of
the send, and for the conversion guard a second sorted set of those that were verified
(scored by the same send time, so both leave the window together). ``admit`` is one Lua
script: Redis runs it without interleaving any other command, so the check of every limit
and the count of the send under all of them are one atomic step across the cluster, like
the pending store's compare-and-set. The script applies ``mfa.fraud.refuses``; the
counters' contract tests hold it and ``MemoryFraudCounters`` to the same answers.

Keys expire a window after their last send, so an idle range or IP leaves nothing behind.
Times are the engine's clock (scores), so a simulated or manual clock works as well as the
wall clock. Outages: ``mfa.storage.redis_link.RedisLink`` (timeout, circuit breaker, 503).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mfa.errors import InvalidInput
from mfa.fraud import Limit
from mfa.storage.redis_link import RedisLink

__all__ = ["RedisFraudCounters"]

#: KEYS: per limit, its sends and its verified sends. ARGV[1] now, ARGV[2] the send id,
#: then per limit: window seconds, max sends (or ''), min rate (or ''), min sends, grace
#: seconds (a conversion floor judges only the sends at or before now - grace).
#: Answers 0 (admitted and counted under every key) or the 1-based index of the refusing
#: limit (nothing counted). The test is ``mfa.fraud.refuses``.
_ADMIT = """
local now, member = tonumber(ARGV[1]), ARGV[2]
local n = #KEYS / 2
for i = 1, n do
  local sent, ok = KEYS[2 * i - 1], KEYS[2 * i]
  local at = 2 + (i - 1) * 5
  local horizon = now - tonumber(ARGV[at + 1])
  redis.call('ZREMRANGEBYSCORE', sent, '-inf', horizon)
  if ARGV[at + 3] == '' then
    local count = redis.call('ZCARD', sent)
    if ARGV[at + 2] ~= '' and count >= tonumber(ARGV[at + 2]) then return i end
  else
    redis.call('ZREMRANGEBYSCORE', ok, '-inf', horizon)
    local mature = now - tonumber(ARGV[at + 5])
    local count = redis.call('ZCOUNT', sent, '-inf', mature)
    local verified = redis.call('ZCOUNT', ok, '-inf', mature)
    if count >= tonumber(ARGV[at + 4]) and verified < tonumber(ARGV[at + 3]) * count then
      return i
    end
  end
end
for i = 1, n do
  local ttl = math.ceil(tonumber(ARGV[2 + (i - 1) * 5 + 1]) * 1000)
  redis.call('ZADD', KEYS[2 * i - 1], now, member)
  redis.call('PEXPIRE', KEYS[2 * i - 1], ttl)
end
return 0
"""

#: KEYS: pairs of (sends, verified sends); ARGV[1] the send id, ARGV[2] milliseconds to
#: keep the verified set. A send not (or no longer) counted under a key is ignored there.
_CONVERTED = """
for i = 1, #KEYS, 2 do
  local at = redis.call('ZSCORE', KEYS[i], ARGV[1])
  if at then
    redis.call('ZADD', KEYS[i + 1], at, ARGV[1])
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[2])
  end
end
return 0
"""


class RedisFraudCounters:
    """``mfa.fraud_counters.FraudCounters`` in Redis, shared by every server using the same
    URL and namespace. Thread-safe (redis-py's connection pool)."""

    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "mfalab",
        timeout: float = 1.0,
        retry_after: float = 1.0,
        keep_verified_seconds: float = 86_400.0,
    ) -> None:
        if not namespace or any(c.isspace() for c in namespace):
            raise InvalidInput("namespace", "a non-empty namespace without spaces is required")
        self._link = RedisLink(
            url, timeout=timeout, retry_after=retry_after, setting="MFALAB_FRAUD_COUNTERS"
        )
        client = self._link.client
        self._prefix = f"{namespace}:fraud:"
        self._admit = client.register_script(_ADMIT)
        self._converted = client.register_script(_CONVERTED)
        #: the verified sets expire this long after their last verification at the latest
        #: (each is also trimmed to its window whenever a send is admitted)
        self._keep_verified_ms = math.ceil(keep_verified_seconds * 1000)

    def admit(self, send_id: str, now: float, limits: Sequence[Limit]) -> Limit | None:
        if not limits:
            return None
        keys: list[str] = []
        args: list[object] = [repr(now), send_id]
        for limit in limits:
            keys += [self._prefix + limit.key, self._prefix + limit.key + ":ok"]
            args += [
                repr(limit.window),
                "" if limit.max_sends is None else limit.max_sends,
                "" if limit.min_rate is None else repr(limit.min_rate),
                limit.min_sends,
                repr(limit.grace),
            ]
        index = int(self._link.call("admit", lambda: self._admit(keys=keys, args=args)))
        return None if index == 0 else limits[index - 1]

    def converted(self, send_id: str, keys: Sequence[str]) -> None:
        pairs = [k for key in keys for k in (self._prefix + key, self._prefix + key + ":ok")]
        args = [send_id, self._keep_verified_ms]
        self._link.call("converted", lambda: self._converted(keys=pairs, args=args))

    def ping(self) -> None:
        self._link.ping()

    def close(self) -> None:
        self._link.close()

    def __repr__(self) -> str:
        return f"RedisFraudCounters(prefix={self._prefix!r})"
