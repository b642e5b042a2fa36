"""The clocks the engine can run on."""

from __future__ import annotations

import time

import pytest

from mfa import Clock, ManualClock, SystemClock


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(100)
    assert clock.now() == 100.0
    assert clock.advance(2.5) == 102.5
    clock.set(50)
    assert clock.now() == 50.0
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_system_clock_reads_the_wall_clock() -> None:
    before = time.time()
    now = SystemClock().now()
    assert before <= now <= time.time()


def test_both_satisfy_the_port() -> None:
    assert isinstance(ManualClock(), Clock)
    assert isinstance(SystemClock(), Clock)
