"""Small facts about local ports: is one free, and who holds it."""

from __future__ import annotations

import socket


def port_is_free(host: str, port: int) -> bool:
    """True if ``host:port`` can be bound right now (as a server binds: TIME_WAIT is no obstacle)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def describe_holder(port: int) -> str:
    """``", held by pid N (command)"`` for the process listening on ``port``, or ``""``."""
    import psutil  # only on this error path: the server itself does without it

    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return ""
    for conn in connections:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            try:
                command = " ".join(psutil.Process(conn.pid).cmdline())[:120]
            except psutil.Error:
                command = "?"
            return f", held by pid {conn.pid} ({command})"
    return ""
