"""Reset empties every account without a restart, and wakes work that waits on the lab clock."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

from labstack import daemon

from tests.support.server import start_labstack


def status(endpoint: str) -> dict:
    with urllib.request.urlopen(endpoint + "/_labstack/status", timeout=10) as response:
        return json.loads(response.read())


def test_reset_empties_state_and_interrupts_waits(tmp_path: Path) -> None:
    server = start_labstack(tmp_path)
    try:
        labtest = server.client("labtest", account="121212121212")
        labtest.create_widget(name="doomed")
        server.client("s3").create_bucket(Bucket="doomed-bucket")
        waited: dict = {}
        client = server.client("labtest")
        baseline = status(server.endpoint)["clock_waits"]  # runtimes wait on the lab clock too
        waiter = threading.Thread(target=lambda: waited.update(client.wait_widget(labSeconds=3600)))
        waiter.start()
        deadline = time.monotonic() + 10
        while status(server.endpoint)["clock_waits"] <= baseline and time.monotonic() < deadline:
            time.sleep(0.02)
        assert daemon.get_json(server.endpoint + "/_labstack/reset", timeout=30, method="POST") == {"reset": True}
        waiter.join(timeout=10)
        assert not waiter.is_alive() and waited["waitedRealSeconds"] < 10  # an hour of lab time cut short
        assert labtest.list_widgets()["widgets"] == []
        assert server.client("s3").list_buckets()["Buckets"] == []
        labtest.create_widget(name="after-reset")  # labstack works on afterwards
    finally:
        server.stop()
