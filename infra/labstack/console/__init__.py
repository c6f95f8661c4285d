"""labstack's web console: HTML, CSS and JS under ``/_labstack/`` and a small JSON API under
``/_labstack/api/`` that reads labstack back through its own public AWS API."""

from labstack.console.app import handle, serves

__all__ = ["handle", "serves"]
