"""The push proof: the signed messages' exact bytes, key and signature encodings, and the
device token's fingerprint — the contract an authenticator app implements."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mfa.errors import InvalidInput
from mfa.push_proof import (
    PushDevice,
    b64url,
    checked_public_key,
    fingerprint,
    push_message,
    signature_ok,
)


def test_the_signed_messages_are_the_documented_bytes() -> None:
    assert push_message("mfa1.abc", True, 42) == b"mfa1.abc.approve.42"
    assert push_message("mfa1.abc", True) == b"mfa1.abc.approve"  # number matching off
    assert push_message("mfa1.abc", False) == b"mfa1.abc.deny"
    assert push_message("mfa1.abc", False, 42) == b"mfa1.abc.deny"


def test_a_signature_made_by_any_ed25519_library_verifies() -> None:
    """An app does not use mfalab: raw Ed25519 over the message, base64url unpadded."""
    key = Ed25519PrivateKey.generate()
    raw_public = key.public_key().public_bytes_raw()
    public = base64.urlsafe_b64encode(raw_public).decode().rstrip("=")
    assert len(public) == 43 and checked_public_key(public) == public
    signature = base64.urlsafe_b64encode(key.sign(b"mfa1.x.approve.17")).decode().rstrip("=")
    assert len(signature) == 86
    assert signature_ok(public, b"mfa1.x.approve.17", signature)
    assert not signature_ok(public, b"mfa1.x.approve.18", signature)
    assert not signature_ok(public, b"mfa1.x.approve.17", signature + "==")  # padded
    assert not signature_ok(None, b"mfa1.x.approve.17", signature)


def test_only_the_canonical_spelling_of_a_key_is_accepted() -> None:
    public = PushDevice.generate().public_key
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(public[-1])
    other = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1]
    for bad in (public + "=", public[:-1] + other, public.replace("-", "+"), " " + public[1:]):
        if bad == public:
            continue
        with pytest.raises(InvalidInput, match="public_key"):
            checked_public_key(bad)


def test_the_fingerprint_is_the_first_8_hex_characters_of_the_sha256() -> None:
    token = "apns-0123456789abcdef"
    assert fingerprint(token) == hashlib.sha256(token.encode()).hexdigest()[:8]
    assert fingerprint(None) is None
    assert b64url(b"\xfb\xff") == "-_8"
