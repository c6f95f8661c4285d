"""`labstack traffic`: steady requests, counted by the version that answered."""

from __future__ import annotations

import subprocess
import sys

from labstack.ports import free_port
from labstack.traffic import send, version_of

from tests.support.webapp import VersionApp


def test_answers_are_counted_by_version_and_status() -> None:
    app = VersionApp("v2", "127.0.0.5")
    try:
        report = send(f"http://{app.host}:{app.port}/orders", rps=100, duration=0.5)
    finally:
        app.stop()
    assert report.sent == 50 and report.versions == {"v2": 50} and report.statuses == {200: 50}
    assert report.shares() == {"v2": 100.0}
    assert report.seconds >= 0.45  # paced, not a burst


def test_what_does_not_answer_is_counted_as_an_error() -> None:
    report = send(f"http://127.0.0.1:{free_port()}/", rps=50, duration=0.2)
    assert report.sent == 10 and report.errors == {"ConnectionRefusedError": 10} and not report.versions


def test_a_version_header_wins_over_the_body() -> None:
    assert version_of({"x-app-version": "v3"}, b"v1 hello") == "v3"
    assert version_of({}, b"v1 hello") == "v1"
    assert version_of({}, b"") == "(empty)"


def test_the_command_prints_the_split() -> None:
    app = VersionApp("blue", "127.0.0.5")
    try:
        result = subprocess.run([sys.executable, "-m", "labstack", "traffic", f"http://{app.host}:{app.port}/",
                                 "--rps", "40", "--duration", "0.5"], capture_output=True, text=True, timeout=60)
    finally:
        app.stop()
    assert result.returncode == 0, result.stderr
    assert "20 requests in" in result.stdout and "blue" in result.stdout and "100.0%" in result.stdout
    assert "status 200: 20" in result.stdout
