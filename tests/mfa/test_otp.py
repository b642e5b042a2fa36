"""mfa.otp against the RFC test vectors, pyotp, oathtool, and the replay rule."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfa.otp import (
    hotp_at,
    match_totp,
    new_totp_secret,
    normalise_algorithm,
    normalise_base32,
    otpauth_uri,
    secret_bytes,
    totp_at,
)


def b32(ascii_secret: str) -> str:
    return base64.b32encode(ascii_secret.encode()).decode()


# RFC 4226 Appendix D: secret "12345678901234567890", 6 digits, HMAC-SHA1.
RFC4226_SECRET = b32("12345678901234567890")
RFC4226_HOTP = [
    (0, "755224"),
    (1, "287082"),
    (2, "359152"),
    (3, "969429"),
    (4, "338314"),
    (5, "254676"),
    (6, "287922"),
    (7, "162583"),
    (8, "399871"),
    (9, "520489"),
]

# RFC 6238 Appendix B: 8 digits, 30 s step; the seed is the ASCII string repeated to the
# hash's length (20, 32 and 64 bytes).
RFC6238_SEEDS = {
    "sha1": b32("12345678901234567890"),
    "sha256": b32("12345678901234567890123456789012"),
    "sha512": b32("1234567890123456789012345678901234567890123456789012345678901234"),
}
RFC6238_TOTP = [
    (59, "sha1", "94287082"),
    (59, "sha256", "46119246"),
    (59, "sha512", "90693936"),
    (1111111109, "sha1", "07081804"),
    (1111111109, "sha256", "68084774"),
    (1111111109, "sha512", "25091201"),
    (1111111111, "sha1", "14050471"),
    (1111111111, "sha256", "67062674"),
    (1111111111, "sha512", "99943326"),
    (1234567890, "sha1", "89005924"),
    (1234567890, "sha256", "91819424"),
    (1234567890, "sha512", "93441116"),
    (2000000000, "sha1", "69279037"),
    (2000000000, "sha256", "90698825"),
    (2000000000, "sha512", "38618901"),
    (20000000000, "sha1", "65353130"),
    (20000000000, "sha256", "77737706"),
    (20000000000, "sha512", "47863826"),
]


@pytest.mark.parametrize(("counter", "expected"), RFC4226_HOTP)
def test_rfc4226_appendix_d_hotp(counter: int, expected: str) -> None:
    assert hotp_at(RFC4226_SECRET, counter) == expected


@pytest.mark.parametrize(("when", "algorithm", "expected"), RFC6238_TOTP)
def test_rfc6238_appendix_b_totp(when: int, algorithm: str, expected: str) -> None:
    secret = RFC6238_SEEDS[algorithm]
    assert totp_at(secret, when, digits=8, algorithm=algorithm) == expected


@pytest.mark.parametrize(("when", "algorithm", "expected"), RFC6238_TOTP)
def test_rfc6238_vectors_are_matched_by_the_verifier(
    when: int, algorithm: str, expected: str
) -> None:
    secret = RFC6238_SEEDS[algorithm]
    step = match_totp(secret, expected, when, digits=8, algorithm=algorithm, window=0)
    assert step == when // 30
    assert match_totp(secret, expected, when + 30, digits=8, algorithm=algorithm, window=0) is None


@given(
    key=st.binary(min_size=16, max_size=64),
    when=st.integers(min_value=0, max_value=2**34),
    digits=st.integers(min_value=6, max_value=8),
    algorithm=st.sampled_from(["sha1", "sha256", "sha512"]),
)
def test_agrees_with_pyotp(key: bytes, when: int, digits: int, algorithm: str) -> None:
    import hashlib

    secret = base64.b32encode(key).decode().rstrip("=")
    reference = pyotp.TOTP(secret, digits=digits, digest=getattr(hashlib, algorithm))
    assert totp_at(secret, when, digits=digits, algorithm=algorithm) == reference.at(when)


def test_agrees_with_oathtool() -> None:
    """An independent implementation (oath-toolkit, installed by .ci/run)."""
    oathtool = shutil.which("oathtool")
    if oathtool is None:
        pytest.skip("oathtool is not installed (apt-get install oath-toolkit)")
    hex_key = b"12345678901234567890".hex()
    for when, algorithm, expected in RFC6238_TOTP[:15]:
        out = subprocess.run(
            [
                oathtool,
                f"--totp={algorithm}",
                "--digits=8",
                f"--now=@{when}",
                hex_key if algorithm == "sha1" else secret_bytes(RFC6238_SEEDS[algorithm]).hex(),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == expected


def test_window_accepts_one_step_either_side_only() -> None:
    secret = new_totp_secret()
    now = 1_700_000_015.0
    for offset, accepted in [(-60, False), (-30, True), (0, True), (30, True), (60, False)]:
        code = totp_at(secret, now + offset)
        step = match_totp(secret, code, now, window=1)
        assert (step is not None) is accepted, offset
        if accepted:
            assert step == int((now + offset) // 30)


def test_used_step_and_earlier_steps_are_refused() -> None:
    secret = new_totp_secret()
    now = 1_700_000_015.0
    current = int(now // 30)
    code = totp_at(secret, now)
    assert match_totp(secret, code, now) == current
    assert match_totp(secret, code, now, after_step=current) is None
    earlier = totp_at(secret, now - 30)
    assert match_totp(secret, earlier, now, after_step=current) is None
    later = totp_at(secret, now + 30)
    assert match_totp(secret, later, now, after_step=current) == current + 1


def test_wrong_codes_are_refused() -> None:
    secret = new_totp_secret()
    now = 1_700_000_015.0
    good = totp_at(secret, now)
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    for code in (wrong, "", "abcdef", good + "0", " " + good):
        assert match_totp(secret, code, now) is None


def test_secret_and_algorithm_normalisation() -> None:
    secret = new_totp_secret()
    assert len(secret_bytes(secret)) == 20
    assert normalise_base32(secret.lower()[:8] + " " + secret[8:] + "====") == secret
    with pytest.raises(ValueError, match="base32"):
        normalise_base32("not base32!")
    with pytest.raises(ValueError, match="empty"):
        normalise_base32("  ")
    assert normalise_algorithm("HMAC-SHA256") == "sha256"
    assert normalise_algorithm("SHA-512") == "sha512"
    with pytest.raises(ValueError, match="unsupported algorithm"):
        normalise_algorithm("md5")
    with pytest.raises(ValueError, match="digits"):
        totp_at(secret, 0, digits=4)


def test_provisioning_uri_round_trips_through_pyotp() -> None:
    secret = new_totp_secret()
    uri = otpauth_uri(secret, "alice@example.org", "mfalab")
    assert uri.startswith("otpauth://totp/mfalab:alice%40example.org?")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret
    assert parsed.issuer == "mfalab"
    assert parsed.at(1_700_000_000) == totp_at(secret, 1_700_000_000)


def test_a_value_repeated_in_the_next_step_is_accepted_for_that_step(monkeypatch) -> None:
    """About one login in a million sees the same 6 digits in two adjacent steps; the used
    step must be skipped, not end the search (a real user would be told 'replayed')."""
    import mfa.otp as otp

    now = 1_700_000_015.0
    current = int(now // 30)
    real = otp._hotp

    def repeating(generator, counter):  # steps current-1 and current share a value
        return real(generator, current - 1 if counter == current else counter)

    monkeypatch.setattr(otp, "_hotp", repeating)
    secret = new_totp_secret()
    code = repeating(otp._generator(secret, "sha1", 6), current - 1)
    assert match_totp(secret, code, now) == current - 1
    assert match_totp(secret, code, now, after_step=current - 1) == current
    assert match_totp(secret, code, now, after_step=current) is None


def test_a_verifier_decodes_a_known_secret_once(monkeypatch) -> None:
    """Checking a code compares three steps; decoding the base32 secret for each of them
    (pyotp's default) was a fifth of a TOTP verify. A warm secret is not decoded again."""
    secret = new_totp_secret()
    now = 1_700_000_015.0
    code = totp_at(secret, now)
    assert match_totp(secret, code, now) == int(now // 30)  # warms the caches
    decodes: list[str] = []
    real = base64.b32decode

    def counting(data, *args, **kwargs):
        decodes.append(data)
        return real(data, *args, **kwargs)

    monkeypatch.setattr(base64, "b32decode", counting)
    assert match_totp(secret, code, now) == int(now // 30)
    assert match_totp(secret, "000000" if code != "000000" else "111111", now) is None
    assert decodes == []
