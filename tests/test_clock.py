"""The lab clock compresses AWS's waits and can be interrupted."""

from __future__ import annotations

import threading
import time

import pytest
from labstack.clock import LabClock


def test_lab_time_is_scaled() -> None:
    clock = LabClock(scale=60)
    assert clock.real_seconds(300) == 5
    assert clock.lab_seconds(2) == 120


def test_sleep_lasts_the_scaled_time() -> None:
    clock = LabClock(scale=600)
    started = time.monotonic()
    assert clock.sleep(60) is True  # one lab minute at 600x: 0.1 s
    elapsed = time.monotonic() - started
    assert 0.09 <= elapsed < 1.0


def test_deadline_expires_after_the_scaled_time() -> None:
    clock = LabClock(scale=1200)
    deadline = clock.deadline(60)
    assert not deadline.expired()
    time.sleep(0.08)
    assert deadline.expired() and deadline.remaining_real() == 0


def test_interrupt_wakes_sleepers_and_later_sleeps_still_work() -> None:
    clock = LabClock(scale=1)
    results: list[bool] = []
    sleeper = threading.Thread(target=lambda: results.append(clock.sleep(3600)))
    sleeper.start()
    while clock.sleepers == 0:
        time.sleep(0.01)
    clock.interrupt()
    sleeper.join(timeout=2)
    assert results == [False]
    assert clock.sleep(0.01) is True


def test_cancel_event_stops_one_sleeper() -> None:
    clock = LabClock(scale=1)
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    assert clock.sleep(60, cancel) is False


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LabClock(scale=0)
