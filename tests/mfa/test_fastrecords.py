"""mfa.fastrecords builds the same frozen records as their ordinary constructors."""

from __future__ import annotations

import dataclasses

import pytest

from mfa import AuthLogRecord, AuthStatus, Challenge, MethodType, PendingAuth, Policy, Verdict
from mfa.delivery import Channel, Message
from mfa.fastrecords import builder
from mfa.security_state import SecurityState


@pytest.mark.parametrize(
    "record",
    [
        PendingAuth(
            "mfa1.x",
            "u",
            MethodType.SMS,
            "m-1",
            "mfa1",
            1.0,
            301.0,
            b"d",
            2,
            AuthStatus.DENIED,
            None,
            None,
            5.0,
            "97671",
            "sink",
            "10.0.0.1",
            "1.2.3.4",
        ),
        AuthLogRecord(
            "a",
            "u",
            MethodType.PUSH,
            AuthStatus.SUCCESS,
            "mfa1",
            "1.2.3.4",
            1.0,
            device_token="tok",
            attempts=1,
        ),
        SecurityState("u", 3, 10.0, (1.0, 2.0), {"m-1": 5}),
        Message(Channel.SMS, "+1", "text", "a", "u", 1.0, "US", "97671"),
        Challenge("a", "u", MethodType.TOTP, "mfa1", 300.0),
    ],
    ids=lambda r: type(r).__name__,
)
def test_builder_makes_equal_frozen_records(record: object) -> None:
    cls = type(record)
    values = [getattr(record, f.name) for f in dataclasses.fields(record)]  # type: ignore[arg-type]
    built = builder(cls)(*values)
    assert built == record and type(built) is cls
    if cls is not SecurityState:  # its dict field makes it unhashable
        assert hash(built) == hash(record)
    # frozen still (Python 3.11's slotted frozen classes raise TypeError rather than
    # FrozenInstanceError, for ordinary instances too)
    with pytest.raises((dataclasses.FrozenInstanceError, TypeError)):
        built.user_id = "other"  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        builder(cls)(*values[:-1])  # every field is required


def test_builder_refuses_what_it_cannot_build_faithfully() -> None:
    with pytest.raises(TypeError, match="__post_init__"):
        builder(Policy)
    with pytest.raises(TypeError, match="slotted dataclass"):
        builder(dict)


def test_verdicts_are_plain_records() -> None:
    assert Verdict.success("a") == Verdict(Verdict.success().result, None, "a", None)
