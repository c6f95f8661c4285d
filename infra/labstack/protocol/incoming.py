"""One HTTP request as the protocol codecs see it; the body is read only if asked for."""

from __future__ import annotations

import io
from urllib.parse import parse_qs


class Incoming:
    """Method, raw path, query, headers and (lazily) body of a WSGI request.

    Reading :attr:`body` puts an in-memory copy back into the environ, so a request
    that turns out to be moto's can still be forwarded untouched.
    """

    def __init__(self, environ: dict) -> None:
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        self.path: str = raw.split("?", 1)[0] or "/"
        self.query: dict[str, list[str]] = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        self.content_type: str = environ.get("CONTENT_TYPE", "")
        self._body: bytes | None = None

    def header(self, name: str) -> str | None:
        """A request header by its (case-insensitive) name."""
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            return self.environ.get(key)
        return self.environ.get(f"HTTP_{key}")

    def headers_with_prefix(self, prefix: str) -> dict[str, str]:
        """Headers whose names start with ``prefix`` (as ``x-amz-meta-``), prefix removed."""
        wanted = "HTTP_" + prefix.upper().replace("-", "_")
        return {k[len(wanted):].lower().replace("_", "-"): v for k, v in self.environ.items() if k.startswith(wanted)}

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = self.environ["wsgi.input"].read()
            self.environ["wsgi.input"] = io.BytesIO(self._body)
            self.environ["CONTENT_LENGTH"] = str(len(self._body))
        return self._body
