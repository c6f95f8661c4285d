"""A tiny HTTP app standing in for a deployed version: answers its name, health on /health."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from labstack.ports import free_port


def fetch(url: str, timeout: float = 10) -> tuple[int, str]:
    """GET ``url``: its status and body, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class VersionApp(ThreadingHTTPServer):
    """Serves ``name`` on every path; ``/health`` answers ``health_status`` after ``health_delay`` seconds."""

    daemon_threads = True

    def __init__(self, name: str, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.name = name
        self.health_status = 200
        self.health_delay = 0.0
        self.requests = 0
        super().__init__((host, port or free_port(host)), _Handler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    @property
    def host(self) -> str:
        return self.server_address[0]

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: VersionApp

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/health":
            time.sleep(self.server.health_delay)
            status, body = self.server.health_status, b"ok"
        else:
            self.server.requests += 1
            status, body = 200, f"{self.server.name} {self.path} via {self.headers.get('X-Forwarded-Port')}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
