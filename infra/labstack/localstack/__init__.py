"""LocalStack on the host, without Docker: its own venv (``venv``), a Python that can run it
(``python``), and the background process (``process``), for ``labstack localstack up|down|status``
(``commands``)."""

from __future__ import annotations


class LocalStackError(Exception):
    """A one-line problem with LocalStack, phrased as what to do about it."""
