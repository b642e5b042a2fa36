"""Durable storage behind the engine's ports, chosen by address.

``open_repository`` gives the repository for ``MFALAB_DB_URL`` ("memory", a SQLite file or
PostgreSQL); ``open_pending`` the pending-code store for ``MFALAB_PENDING`` ("memory" — one
server's memory, the seed's server mode; "shared" — in-process shared store; or a Redis URL,
shared by every server of a cluster). Keys come from ``mfa.storage.crypto``.
"""

from __future__ import annotations

from mfa.errors import InvalidInput
from mfa.pending import MemoryPendingStore, PendingStore, SharedPendingStore
from mfa.repository import InMemoryRepository, Repository
from mfa.storage.crypto import SecretBox, UnreadableSecret, derive_key
from mfa.storage.locations import StorageUnavailable

__all__ = [
    "SecretBox",
    "StorageUnavailable",
    "UnreadableSecret",
    "derive_key",
    "open_pending",
    "open_repository",
]


def open_repository(url: str, *, secret_key: bytes, timeout: float | None = None) -> Repository:
    """``"memory"`` → ``InMemoryRepository``; a database URL → ``SqlRepository``
    (``timeout``: seconds to connect and, on PostgreSQL, per statement; see there)."""
    if isinstance(url, str) and url.strip() == "memory":
        return InMemoryRepository()
    from mfa.storage.sql import SqlRepository  # SQLAlchemy only when a database is used

    return SqlRepository(url, secret_key=secret_key, timeout=timeout)


def open_pending(spec: str, *, namespace: str = "mfalab", timeout: float = 1.0) -> PendingStore:
    """``"memory"`` (server mode), ``"shared"`` (in-process) or ``redis://…``."""
    text = spec.strip() if isinstance(spec, str) else ""
    if text == "memory":
        return MemoryPendingStore()
    if text == "shared":
        return SharedPendingStore()
    if text.startswith(("redis://", "rediss://", "unix://")):
        from mfa.storage.redis_pending import RedisPendingStore

        return RedisPendingStore(text, namespace=namespace, timeout=timeout)
    raise InvalidInput("MFALAB_PENDING", f"{spec!r} is not 'memory', 'shared' or a redis:// URL")
