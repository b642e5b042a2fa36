"""Randomness sources: strong for deployments, seeded for reproducible simulations."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mfa import SecretsEntropy, SeededEntropy
from mfa.engine import parse_auth_id


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


def test_seeded_entropy_repeats_with_the_seed() -> None:
    def draw(seed: int) -> list[str]:
        e = SeededEntropy(np.random.default_rng(seed))
        return [e.code(6), e.token(22), e.choice(["x", "y", "z"]), e.code(6)]

    assert draw(9) == draw(9)
    assert draw(9) != draw(10)
