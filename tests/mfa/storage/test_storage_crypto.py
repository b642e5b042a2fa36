"""Keys from MFALAB_SECRET_KEY and the sealing of secrets at rest."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet, InvalidToken

from mfa.errors import InvalidInput
from mfa.storage.crypto import SecretBox, UnreadableSecret, derive_key

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_generated_key_is_used_as_is() -> None:
    key = Fernet.generate_key()
    assert derive_key(key) == base64.urlsafe_b64decode(key)
    assert derive_key(key.decode()) == base64.urlsafe_b64decode(key)


def test_a_passphrase_gives_the_same_32_bytes_on_every_server() -> None:
    first = derive_key("correct horse battery staple")
    assert len(first) == 32
    assert derive_key("correct horse battery staple") == first
    assert derive_key(b"correct horse battery staple") == first
    assert derive_key("correct horse battery stapler") != first


def test_a_44_character_passphrase_that_is_not_a_key_is_stretched() -> None:
    phrase = "this passphrase is exactly forty-four chars!"
    assert len(phrase) == 44
    key = derive_key(phrase)
    assert len(key) == 32 and key != phrase.encode()[:32]


@pytest.mark.parametrize("short", ["", "secret", "fifteen chars!!"])
def test_a_short_passphrase_is_refused_naming_the_setting(short: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        derive_key(short)
    assert caught.value.field == "MFALAB_SECRET_KEY"
    assert "16" in caught.value.reason


def test_sealed_secrets_open_with_the_same_key_only() -> None:
    key = derive_key("a passphrase for the tests")
    box = SecretBox(key)
    sealed = box.seal(SECRET)
    assert SECRET not in sealed
    assert box.seal(SECRET) != sealed  # a fresh IV every time: equal secrets don't show
    assert SecretBox(key).open(sealed) == SECRET
    with pytest.raises(UnreadableSecret, match="MFALAB_SECRET_KEY"):
        SecretBox(derive_key("another passphrase, other key")).open(sealed)


def test_an_altered_secret_is_refused() -> None:
    box = SecretBox(derive_key("a passphrase for the tests"))
    sealed = box.seal(SECRET)
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(UnreadableSecret):
        box.open(altered)
    with pytest.raises(UnreadableSecret):
        box.open("not a sealed value")


def test_the_at_rest_key_is_not_the_master_key() -> None:
    """The master key also keys code digests; the sealing key is derived apart from it."""
    key = derive_key("a passphrase for the tests")
    sealed = SecretBox(key).seal(SECRET)
    with pytest.raises(InvalidToken):
        Fernet(base64.urlsafe_b64encode(key)).decrypt(sealed.encode())
