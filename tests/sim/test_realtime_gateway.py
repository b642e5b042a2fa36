"""The simulated gateway on the wall clock: the scenario's network, in real time.

Short real-time tests with latencies of a tenth of a second: a code reaches the sink only
after its latency, a lost code never does, a sender's throughput spaces codes out, and an
outage makes ``send`` fail like a real provider.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from mfa.clock import SystemClock
from mfa.delivery import Channel, Message, SinkGateway
from mfa.errors import DeliveryError
from sim.realtime_gateway import RealtimeGateway
from sim.scenario_file import ScenarioError

PHONE = "+12015550123"


def _scenario(tmp_path: Path, **changes) -> Path:
    tree = {
        "population": {
            "security_app_share": 0.0,
            "connectivity": {"cellular": 1.0},
            "signal": {"good": 1.0},
        },
        "carriers": {
            "default": [
                {
                    "name": "fast",
                    "share": 1.0,
                    "delivery_probability": 1.0,
                    "latency": {"median_s": 0.15, "p95_s": 0.15},
                }
            ]
        },
        "providers": [{"name": "provider_a", "error_rate": 0.0}],
        **changes,
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def _sms(i: int, sender: str = "97671") -> Message:
    return Message(
        channel=Channel.SMS,
        to=PHONE,
        text=f"Your verification code is {100000 + i}",
        auth_id=f"mfa1.{i:022d}",
        user_id="alice",
        sent_at=time.time(),
        country="US",
        sender=sender,
    )


def _wait_for(predicate, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def gateway_for(tmp_path):
    made: list[RealtimeGateway] = []

    def make(**changes) -> tuple[RealtimeGateway, SinkGateway]:
        sink = SinkGateway()
        gateway = RealtimeGateway.from_scenario_file(
            _scenario(tmp_path, **changes), sink=sink, clock=SystemClock(), seed=1
        )
        made.append(gateway)
        return gateway, sink

    yield make
    for gateway in made:
        gateway.close()


def test_a_code_arrives_after_its_latency_not_before(gateway_for):
    gateway, sink = gateway_for()
    started = time.monotonic()
    receipt = gateway.send(_sms(1))
    assert receipt.provider == "provider_a"
    assert len(sink) == 0  # send returned at once; the code is on its way
    assert gateway.pending() == 1
    assert _wait_for(lambda: len(sink) == 1)
    assert time.monotonic() - started >= 0.14
    (message,) = sink.messages_to(PHONE)
    assert message.code == "100001"
    assert gateway.outcomes == {"delivered": 1}


def test_lost_codes_never_reach_the_sink(gateway_for):
    gateway, sink = gateway_for(
        carriers={"default": [{"name": "void", "share": 1.0, "delivery_probability": 0.0}]}
    )
    for i in range(5):
        gateway.send(_sms(i))
    time.sleep(0.4)
    assert len(sink) == 0
    assert gateway.outcomes == {"carrier_loss": 5}


def test_sender_throughput_spaces_the_codes_out(gateway_for):
    """One short code at 10 messages/s: five codes sent at once arrive over ~0.4 s."""
    gateway, sink = gateway_for(
        routing={
            "pools": {"US": {"kind": "short_code", "senders": ["97671"], "throughput_per_s": 10}}
        }
    )
    started = time.monotonic()
    for i in range(5):
        gateway.send(_sms(i))
    arrivals: list[float] = []
    seen = 0
    while len(arrivals) < 5 and time.monotonic() - started < 3:
        if len(sink) > seen:
            arrivals.extend([time.monotonic() - started] * (len(sink) - seen))
            seen = len(sink)
        time.sleep(0.005)
    assert len(arrivals) == 5
    assert arrivals[0] == pytest.approx(0.15, abs=0.08)
    assert arrivals[-1] - arrivals[0] == pytest.approx(0.4, abs=0.1)
    line = gateway.network.senders["97671"].queue
    assert line.admitted == 5 and line.waited == 4


def test_an_outage_with_no_failover_refuses_the_send(gateway_for):
    gateway, _ = gateway_for(
        providers=[{"name": "down", "error_rate": 0.0, "outages": [{"start_s": 0, "end_s": 60}]}]
    )
    with pytest.raises(DeliveryError):
        gateway.send(_sms(1))
    assert gateway.outcomes == {"provider_error": 1}


def test_failover_to_the_second_provider(gateway_for):
    gateway, sink = gateway_for(
        providers=[
            {"name": "down", "error_rate": 0.0, "outages": [{"start_s": 0, "end_s": 60}]},
            {"name": "up", "error_rate": 0.0},
        ]
    )
    assert gateway.send(_sms(1)).provider == "up"
    assert _wait_for(lambda: len(sink) == 1)


def test_push_notifications_go_through_the_push_model(gateway_for):
    gateway, sink = gateway_for(push={"latency": {"median_s": 0.1, "p95_s": 0.1}})
    receipt = gateway.send(
        Message(
            channel=Channel.PUSH,
            to="device-token-1",
            text="Approve sign-in for alice?",
            auth_id="mfa1." + "a" * 22,
            user_id="alice",
            sent_at=time.time(),
        )
    )
    assert receipt.provider == "push"
    assert _wait_for(lambda: len(sink.messages_to("device-token-1")) == 1)


def test_close_stops_the_scheduler(gateway_for):
    gateway, _ = gateway_for()
    gateway.send(_sms(1))
    gateway.close()
    assert not gateway._thread.is_alive()


def test_a_bad_scenario_file_is_a_scenario_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("servers: {count: 0}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad.yaml: servers.count"):
        RealtimeGateway.from_scenario_file(path, sink=SinkGateway(), clock=SystemClock())
