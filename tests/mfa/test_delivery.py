"""Sender choice per country, provider failover, and the sink outbox."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from mfa import (
    Challenge,
    DeliveryError,
    Engine,
    ManualClock,
    SecretsEntropy,
    SeededEntropy,
)
from mfa.delivery import (
    DEFAULT_SHORT_CODES,
    Channel,
    Message,
    ProviderChain,
    ProviderError,
    SenderDirectory,
    SenderKind,
    SinkGateway,
    extract_code,
)

US_SHORT = {"97671", "69829", "51789", "99399"}
CA_SHORT = {"759731", "673801"}
PHONES = {"US": "+14255550100", "CA": "+16135550123", "FR": "+33612345678", "GB": "+447400123456"}


def test_the_seeds_short_codes() -> None:
    assert set(DEFAULT_SHORT_CODES["US"]) == US_SHORT
    assert set(DEFAULT_SHORT_CODES["CA"]) == CA_SHORT
    assert set(DEFAULT_SHORT_CODES) == {"US", "CA"}  # no short codes anywhere else


def test_sender_pools() -> None:
    directory = SenderDirectory(long_codes={"FR": "+33700000001"})
    assert {s.address for s in directory.pool("US")} == US_SHORT
    assert {s.address for s in directory.pool("CA")} == CA_SHORT
    assert all(s.kind is SenderKind.SHORT_CODE for s in directory.pool("US"))
    (fr,) = directory.pool("FR")
    assert (fr.address, fr.kind) == ("+33700000001", SenderKind.LONG_CODE)
    (other,) = directory.pool("DE")
    assert (other.address, other.kind) == (directory.default_long_code, SenderKind.LONG_CODE)
    assert directory.pool(None)[0].kind is SenderKind.LONG_CODE


def test_choose_draws_from_the_pool() -> None:
    directory = SenderDirectory()
    entropy = SeededEntropy(np.random.default_rng(3))
    drawn = [directory.choose("US", entropy).address for _ in range(200)]
    assert set(drawn) == US_SHORT  # every short code gets used, no other number
    counts = [drawn.count(code) for code in US_SHORT]
    assert min(counts) > 20  # roughly even: 50 expected each
    assert {directory.choose("CA", SecretsEntropy()).address for _ in range(60)} == CA_SHORT


@pytest.mark.parametrize(
    ("country", "allowed", "kind"),
    [("US", US_SHORT, "short"), ("CA", CA_SHORT, "short"), ("FR", None, "long")],
)
def test_engine_picks_the_sender_by_destination_country(
    make_engine: Callable[..., Engine],
    sink: SinkGateway,
    country: str,
    allowed: set[str] | None,
    kind: str,
) -> None:
    engine = make_engine(entropy=SeededEntropy(np.random.default_rng(11)))
    senders = set()
    for i in range(12):  # different users: the send limit is per user
        engine.create_user(f"u{i}", phone=PHONES[country])
        engine.register_method(f"u{i}", "sms")
        c = engine.begin(f"u{i}")
        assert isinstance(c, Challenge)
        message = sink.messages_to(PHONES[country])[0]
        assert message.sender == c.sender
        assert message.country == country
        senders.add(c.sender)
    if kind == "short":
        assert allowed is not None
        assert senders <= allowed
        assert len(senders) > 1  # no guarantee of the same number from one send to the next
    else:
        assert senders == {engine.senders.default_long_code}


def test_a_phone_registered_on_the_method_decides_the_country(
    engine: Engine, sink: SinkGateway
) -> None:
    engine.create_user("alice", phone=PHONES["US"])
    engine.register_method("alice", "sms", phone=PHONES["GB"])
    c = engine.begin("alice")
    assert isinstance(c, Challenge)
    assert sink.messages_to(PHONES["GB"])[0].country == "GB"
    assert c.sender == engine.senders.default_long_code


class FlakyProvider:
    def __init__(self, name: str, *, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.calls = 0

    def submit(self, message: Message) -> str:
        self.calls += 1
        if self.fail:
            raise ProviderError(f"{self.name} is down")
        return f"{self.name}-{self.calls}"


def message(to: str = "+14255550100") -> Message:
    return Message(Channel.SMS, to, "code 123456", "mfa1.x", "u", 0.0, "US", "97671")


def test_failover_skips_a_failing_provider_for_its_cooldown() -> None:
    clock = ManualClock(0)
    a, b = FlakyProvider("a", fail=True), FlakyProvider("b")
    chain = ProviderChain([a, b], clock, cooldown=30)
    assert chain.send(message()).provider == "b"
    assert (a.calls, b.calls) == (1, 1)
    # during the cooldown the failed provider is not even tried
    clock.advance(29)
    assert chain.send(message()).provider == "b"
    assert (a.calls, b.calls) == (1, 2)
    # after it, it is tried first again — and used once it has recovered
    clock.advance(1)
    a.fail = False
    receipt = chain.send(message())
    assert (receipt.provider, receipt.message_id) == ("a", "a-2")
    assert chain.failures == {"a": 1, "b": 0}


def test_all_providers_failing_is_a_delivery_error_naming_each() -> None:
    clock = ManualClock(0)
    a, b = FlakyProvider("a", fail=True), FlakyProvider("b", fail=True)
    chain = ProviderChain([a, b], clock, cooldown=30)
    with pytest.raises(DeliveryError, match=r"a is down.*b is down"):
        chain.send(message())
    # all cooling down: still tried rather than failing without an attempt
    b.fail = False
    assert chain.send(message()).provider == "b"
    with pytest.raises(ValueError):
        ProviderChain([], clock)


def test_engine_sends_through_the_chain(
    make_engine: Callable[..., Engine], clock: ManualClock
) -> None:
    sink = SinkGateway("backup")
    primary = FlakyProvider("primary", fail=True)
    engine = make_engine(gateway=ProviderChain([primary, sink], clock))
    engine.create_user("alice", phone=PHONES["US"])
    engine.register_method("alice", "sms")
    c = engine.begin("alice")
    assert isinstance(c, Challenge)
    assert c.provider == "backup"
    record = next(r for r in engine.repository.logs() if r.auth_id == c.auth_id)
    assert record.provider == "backup"
    code = sink.messages_to(PHONES["US"])[0].code or ""
    assert engine.verify(c.auth_id, code).ok


def test_engine_raises_delivery_error_when_no_provider_takes_the_code(
    make_engine: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = make_engine(gateway=ProviderChain([FlakyProvider("a", fail=True)], clock))
    engine.create_user("alice", phone=PHONES["US"])
    engine.register_method("alice", "sms")
    with pytest.raises(DeliveryError):
        engine.begin("alice")


def test_sink_keeps_the_newest_messages_per_recipient() -> None:
    sink = SinkGateway(keep=3)
    for i in range(5):
        sink.send(
            Message(Channel.SMS, "+1", f"Your verification code is 00000{i}", f"a{i}", "u", i)
        )
    assert [m.auth_id for m in sink.messages_to("+1")] == ["a4", "a3", "a2"]
    assert sink.messages_to("+1")[0].code == "000004"
    assert sink.messages_to("+2") == []
    assert len(sink) == 5


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Your verification code is 012345", "012345"),
        ("12345678 is your code", "12345678"),
        ("call 555-0100", None),
        ("no code", None),
        # a run of digits is read whole: too long is not a code, and the next run is
        ("ticket 12345678901: your code is 654321", "654321"),
        ("room 42, code 7654321", "7654321"),
    ],
)
def test_extract_code(text: str, code: str | None) -> None:
    assert extract_code(text) == code
