"""App passwords for legacy clients: shown once, stored as argon2 hashes, deleted together."""

from __future__ import annotations

import re

import pytest

from mfa import DenialReason, Engine, NotFound
from mfa.app_passwords import AppPasswordHasher, new_app_password


def test_new_passwords_are_random_and_typeable() -> None:
    passwords = {new_app_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert re.fullmatch(r"[a-km-z]{4}(-[a-km-z]{4}){3}", password)


def test_default_hasher_is_argon2id() -> None:
    hasher = AppPasswordHasher()
    stored = hasher.hash("abcd-efgh-ijkm-nopq")
    assert stored.startswith("$argon2id$")
    assert "abcd" not in stored
    assert hasher.matches_any("abcd-efgh-ijkm-nopq", ["$argon2id$garbage", stored])
    assert not hasher.matches_any("abcd-efgh-ijkm-nopx", [stored])
    assert not hasher.matches_any("anything", [])


def test_create_verify_and_delete_all(engine: Engine) -> None:
    engine.create_user("alice")
    first = engine.create_app_password("alice")
    second = engine.create_app_password("alice")
    assert first != second
    stored = engine.repository.app_password_hashes("alice")
    assert len(stored) == 2
    for value in stored:
        assert value.startswith("$argon2id$")
        assert first not in value and second not in value
    # each stored hash verifies exactly one of the two passwords
    matches = sorted(
        [AppPasswordHasher().matches_any(p, [h]) for p in (first, second)] for h in stored
    )
    assert matches == [[False, True], [True, False]]
    assert engine.verify_app_password("alice", first).ok
    assert engine.verify_app_password("alice", second).ok
    assert engine.verify_app_password("alice", "wrong-pass-word-xxxx").reason is (
        DenialReason.WRONG_CODE
    )
    # lost phone: delete them all
    assert engine.delete_app_passwords("alice") == 2
    assert engine.repository.app_password_hashes("alice") == []
    assert not engine.verify_app_password("alice", first).ok
    assert engine.delete_app_passwords("alice") == 0
    # after a replacement device, new ones can be created
    assert engine.verify_app_password("alice", engine.create_app_password("alice")).ok


def test_unknown_users(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.create_app_password("nobody")
    with pytest.raises(NotFound):
        engine.delete_app_passwords("nobody")
    assert engine.verify_app_password("nobody", "x").reason is DenialReason.WRONG_CODE


def test_repeated_wrong_app_passwords_lock_the_user(engine: Engine) -> None:
    engine.create_user("bob")
    password = engine.create_app_password("bob")
    for _ in range(10):
        assert engine.verify_app_password("bob", "guess").reason is DenialReason.WRONG_CODE
    verdict = engine.verify_app_password("bob", password)
    assert verdict.reason is DenialReason.LOCKED_OUT
    assert verdict.retry_after == 900
    engine.clock.advance(900)  # type: ignore[attr-defined]
    assert engine.verify_app_password("bob", password).ok
