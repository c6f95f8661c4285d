"""Settings read from the environment, with the defaults the README documents."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PORT = 4566
DEFAULT_HOST = "127.0.0.1"
DEFAULT_REGION = "us-east-1"
MAX_BODY_BYTES = 20 * 1024 * 1024
S3_MAX_BODY_BYTES = 5 * 1024**3  # AWS's limit for a single PUT


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"labstack: {name}={raw!r} is not a number") from None
    if value <= 0:
        raise SystemExit(f"labstack: {name} must be greater than 0 (got {raw})")
    return value


def _url_env(name: str, given: str | None) -> str | None:
    """An http(s) URL from ``given`` or the environment, without a trailing slash; None when unset."""
    raw = given if given is not None else os.environ.get(name, "")
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        where = f"--upstream {raw}" if given is not None else f"{name}={raw}"
        raise SystemExit(f"labstack: {where} is not an http(s) URL like http://127.0.0.1:4566")
    return raw.rstrip("/")


def _int_env(name: str, default: int) -> int:
    return int(_float_env(name, default))


IAM_MODES = ("enforce", "report", "off")


def _iam_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in IAM_MODES:
        raise ValueError(f"LABSTACK_IAM is {value!r}: it must be one of {', '.join(IAM_MODES)}")
    return mode


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one labstack process."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    home: Path = field(default_factory=lambda: Path(".labstack"))
    time_scale: float = 60.0
    client_timeout: float = 60.0
    max_body_bytes: int = MAX_BODY_BYTES
    extra_providers: tuple[str, ...] = ()
    upstream: str | None = None  # LocalStack's URL: the services it serves are consumed from there
    learners: Path | None = None  # the class-mode learners file (labstack learners new): signatures verified
    allowed_hosts: tuple[str, ...] = ()  # Host names accepted besides the bound address, localhost and 127.0.0.1
    insecure_shared: bool = False  # serve a non-loopback address without --learners, accepting the risk
    trail_events: int = 20_000  # events kept per account for CloudTrail's LookupEvents (the oldest go first)
    iam_mode: str = "enforce"  # LABSTACK_IAM: enforce (deny as AWS does), report (log would-be denials), off
    check_shapes: bool = False  # LABSTACK_CHECK_SHAPES=1 (tests): every provider answer checked against its output shape

    @classmethod
    def from_env(cls, host: str | None = None, port: int | None = None, upstream: str | None = None,
                 learners: str | None = None, allowed_hosts: tuple[str, ...] = (),
                 insecure_shared: bool = False) -> "Settings":
        """Read settings from ``LABSTACK_*`` variables; explicit arguments win."""
        extra = tuple(p for p in os.environ.get("LABSTACK_PROVIDERS", "").split(",") if p.strip())
        learners_file = learners or os.environ.get("LABSTACK_LEARNERS") or None
        hosts = allowed_hosts or tuple(h for h in os.environ.get("LABSTACK_ALLOWED_HOSTS", "").split(","))
        return cls(
            host=host or os.environ.get("LABSTACK_HOST") or DEFAULT_HOST,
            port=port if port is not None else _int_env("LABSTACK_PORT", DEFAULT_PORT),
            home=Path(os.environ.get("LABSTACK_HOME") or ".labstack").resolve(),
            time_scale=_float_env("LABSTACK_TIME_SCALE", 60.0),
            client_timeout=_float_env("LABSTACK_CLIENT_TIMEOUT", 60.0),
            max_body_bytes=_int_env("LABSTACK_MAX_BODY", MAX_BODY_BYTES),
            extra_providers=tuple(p.strip() for p in extra),
            upstream=_url_env("LABSTACK_UPSTREAM", upstream),
            learners=Path(learners_file).resolve() if learners_file else None,
            allowed_hosts=tuple(h.strip().lower() for h in hosts if h.strip()),
            insecure_shared=insecure_shared or os.environ.get("LABSTACK_INSECURE_SHARED", "") in ("1", "true"),
            trail_events=_int_env("LABSTACK_TRAIL_EVENTS", 20_000),
            iam_mode=_iam_mode(os.environ.get("LABSTACK_IAM") or "enforce"),
            check_shapes=os.environ.get("LABSTACK_CHECK_SHAPES", "") in ("1", "true"),
        )

    @property
    def class_mode(self) -> bool:
        """True when a learners file is given: every AWS request must be signed by a listed key."""
        return self.learners is not None

    @property
    def endpoint(self) -> str:
        """The URL clients use (0.0.0.0 is reached through 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "labstack.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "labstack.log"
