"""Randomness sources: strong for deployments, seeded for reproducible simulations."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from mfa import SecretsEntropy, SeededEntropy
from mfa.clock import ManualClock
from mfa.delivery.sink import SinkGateway
from mfa.engine import Engine, ServerIdentity, parse_auth_id
from mfa.pending import MemoryPendingStore
from mfa.repository import InMemoryRepository


@pytest.mark.parametrize(
    "entropy",
    [SecretsEntropy(), SeededEntropy(np.random.default_rng(1))],
    ids=["secrets", "seeded"],
)
def test_codes_and_tokens_have_the_promised_shape(entropy: SecretsEntropy) -> None:
    codes = [entropy.code(6) for _ in range(2000)]
    assert all(re.fullmatch(r"[0-9]{6}", c) for c in codes)
    assert any(c.startswith("0") for c in codes)  # zero-padded, not shortened
    assert len(set(codes)) > 1990
    assert all(len(entropy.code(8)) == 8 for _ in range(10))
    tokens = [entropy.token(22) for _ in range(500)]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", t) for t in tokens)
    assert len(set(tokens)) == 500
    assert all(parse_auth_id(f"mfa1.{t}") == ("mfa1", t) for t in tokens)
    assert {entropy.choice("ab") for _ in range(100)} == {"a", "b"}


def test_digits_of_codes_are_uniform() -> None:
    entropy = SeededEntropy(np.random.default_rng(5))
    digits = "".join(entropy.code(6) for _ in range(5000))
    counts = np.bincount([int(d) for d in digits], minlength=10)
    expected = len(digits) / 10
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 27.9  # 9 degrees of freedom, p = 0.001


@pytest.mark.parametrize(
    "entropy",
    [SecretsEntropy(), SeededEntropy(np.random.default_rng(7))],
    ids=["secrets", "seeded"],
)
def test_token_characters_are_uniform_across_many_tokens(entropy: SecretsEntropy) -> None:
    # 3,000 tokens of mixed lengths: the seeded source hands out slices of blocks of
    # characters, so this crosses several block boundaries
    tokens = [entropy.token(length) for _ in range(1000) for length in (22, 12, 5)]
    assert [len(t) for t in tokens[:3]] == [22, 12, 5]
    assert len({t for t in tokens if len(t) == 22}) == 1000
    chars = "".join(tokens)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    counts = np.array([chars.count(c) for c in alphabet])
    assert counts.sum() == len(chars)  # nothing outside the alphabet
    expected = len(chars) / 64
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 103.4  # 63 degrees of freedom, p = 0.001


def test_seeded_entropy_repeats_with_the_seed() -> None:
    def draw(seed: int) -> list[str]:
        e = SeededEntropy(np.random.default_rng(seed))
        return [e.code(6), e.token(22), e.choice(["x", "y", "z"]), e.code(6)]

    assert draw(9) == draw(9)
    assert draw(9) != draw(10)


@pytest.mark.parametrize(
    "entropy",
    [SecretsEntropy(), SeededEntropy(np.random.default_rng(3))],
    ids=["secrets", "seeded"],
)
def test_base32_secrets_are_160_bit_and_uniform(entropy: SecretsEntropy) -> None:
    secrets = [entropy.base32(32) for _ in range(2000)]
    assert all(re.fullmatch(r"[A-Z2-7]{32}", s) for s in secrets)
    assert all(len(base64.b32decode(s)) == 20 for s in secrets[:50])  # 160 bits, no padding
    assert len(set(secrets)) == 2000
    chars = "".join(secrets)
    counts = np.array([chars.count(c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"])
    expected = len(chars) / 32
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 61.1  # 31 degrees of freedom, p = 0.001


def test_engines_with_one_seed_issue_the_same_totp_secret() -> None:
    def secret(seed: int) -> str:
        engine = Engine(
            server=ServerIdentity("mfa1"),
            clock=ManualClock(0.0),
            repository=InMemoryRepository(),
            pending=MemoryPendingStore(),
            gateway=SinkGateway(),
            secret_key=b"k" * 32,
            entropy=SeededEntropy(np.random.default_rng(seed)),
        )
        engine.create_user("u1")
        method = engine.register_method("u1", "totp")
        assert method.secret is not None
        return method.secret

    assert secret(4) == secret(4)
    assert secret(4) != secret(5)
