"""Pending-code stores: one server's memory versus the shared (cloud) store."""

from __future__ import annotations

from mfa import AuthStatus, MemoryPendingStore, MethodType, PendingAuth, SharedPendingStore


def pending(auth_id: str, issued: float = 0.0) -> PendingAuth:
    return PendingAuth(auth_id, "u", MethodType.SMS, "m-1", "mfa1", issued, issued + 300)


def test_memory_store_is_private_and_the_shared_one_is_not() -> None:
    assert MemoryPendingStore().shared is False
    assert SharedPendingStore().shared is True


def test_put_get_update_keeps_the_original_deadline() -> None:
    store = MemoryPendingStore()
    store.put(pending("a"), keep_until=100)
    store.put(pending("b", 10), keep_until=110)
    assert store.get("a") == pending("a")
    assert store.get("zzz") is None
    done = pending("a").evolve(status=AuthStatus.SUCCESS, attempts=1)
    store.put(done, keep_until=10_000)  # an update does not extend the retention
    assert store.get("a") == done
    assert store.purge(99.9) == 0
    assert store.purge(100) == 1
    assert store.get("a") is None and store.get("b") is not None
    assert len(store) == 1
    assert store.purge(1e9) == 1
    assert len(store) == 0


def test_purge_stops_at_the_first_live_entry() -> None:
    store = MemoryPendingStore()
    for i in range(1000):
        store.put(pending(f"a{i}", i), keep_until=i + 300)
    assert store.purge(800) == 501
    assert len(store) == 499
    assert store.get("a500") is None and store.get("a501") is not None
