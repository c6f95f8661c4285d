"""Console sign-in in class mode: a learner's key id and secret buy a session cookie.

The cookie is HttpOnly (page scripts never see it) and SameSite=Strict (no other site's request
carries it), scoped to ``/_labstack``; a session lasts 12 hours or until sign-out.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from http.cookies import CookieError, SimpleCookie

from labstack.keyring import Identity, KeyRing

COOKIE = "labstack_session"
SESSION_SECONDS = 12 * 3600


class Sessions:
    """Signed-in console sessions: token -> identity, safe to use from any thread."""

    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[Identity, float]] = {}

    def sign_in(self, access_key: str, secret_key: str) -> tuple[Identity, str] | None:
        """A new session for a learner's (or the instructor's) own key and secret; None if they do not match."""
        identity = self._keyring.learner(access_key)
        if identity is None or not hmac.compare_digest(identity.secret_key.encode(), secret_key.encode()):
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._sessions = {t: s for t, s in self._sessions.items() if s[1] > now}
            self._sessions[token] = (identity, now + SESSION_SECONDS)
        return identity, token

    def sign_out(self, environ: dict) -> None:
        token = _token(environ)
        with self._lock:
            self._sessions.pop(token or "", None)

    def identity(self, environ: dict) -> Identity | None:
        """Who the request's session cookie belongs to, if it is a live session."""
        token = _token(environ)
        if token is None:
            return None
        with self._lock:
            found = self._sessions.get(token)
        return found[0] if found is not None and found[1] > time.time() else None


def set_cookie(token: str, seconds: int = SESSION_SECONDS) -> tuple[str, str]:
    """The Set-Cookie header of a session (an empty token and 0 seconds end it)."""
    return ("Set-Cookie", f"{COOKIE}={token}; Path=/_labstack; HttpOnly; SameSite=Strict; Max-Age={seconds}")


def _token(environ: dict) -> str | None:
    try:
        morsel = SimpleCookie(environ.get("HTTP_COOKIE", "")).get(COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel is not None and morsel.value else None
