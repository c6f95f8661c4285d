"""Which function, which version: read from moto's Lambda store, aliases' weights applied."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from labstack.errors import AwsError
from labstack import motobridge


@dataclass(frozen=True)
class FunctionSpec:
    """Everything needed to run one version of a function."""

    account: str
    region: str
    name: str
    arn: str
    version: str
    handler: str
    runtime: str
    timeout: float
    memory: int
    env: tuple[tuple[str, str], ...]
    code_sha: str
    role: str  # the execution role whose session the worker's code runs with
    code: bytes = field(repr=False, compare=False)

    @property
    def key(self) -> tuple[Any, ...]:
        """Workers are reused only for exactly this code and configuration (its role included)."""
        return (self.arn, self.version, self.code_sha, self.handler, self.runtime, self.timeout, self.memory, self.env,
                self.role)


def _moto_error(exc: Exception) -> AwsError:
    """moto's two kinds of service error as labstack's: (code, message, status)."""
    if isinstance(getattr(exc, "code", None), int):  # werkzeug-based: error_type names the code
        return AwsError(exc.error_type.split("#")[-1], exc.message, exc.code)  # type: ignore[attr-defined]
    return AwsError(str(getattr(exc, "code", "ResourceNotFoundException")), getattr(exc, "message", str(exc)))


def _split(name_or_arn: str, qualifier: str | None) -> tuple[str, str | None]:
    """Function name and qualifier from a name, partial ARN (``name:alias``) or full ARN."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6], (parts[7] if len(parts) > 7 else None) or qualifier
    name, _, inline = name_or_arn.partition(":")
    return name, inline or qualifier


def resolve(account: str, region: str, name_or_arn: str, qualifier: str | None) -> FunctionSpec:
    """The version an invoke runs: an alias picks by its routing weights, as Lambda does."""
    from werkzeug.exceptions import HTTPException

    name, qualifier = _split(name_or_arn, qualifier)
    try:
        if qualifier and qualifier != "$LATEST" and not qualifier.isdigit():
            alias = motobridge.lambda_alias(account, region, name, qualifier)
            qualifier = str(alias.function_version)
            weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
            draw = random.random()
            for version, weight in weights.items():
                if draw < float(weight):
                    qualifier = str(version)
                    break
                draw -= float(weight)
        fn = motobridge.lambda_function(account, region, name, qualifier)
    except (*motobridge.service_errors(), HTTPException) as exc:
        raise _moto_error(exc) from None
    version = str(fn.version)
    return FunctionSpec(
        account=account, region=region, name=fn.function_name,
        arn=f"arn:aws:lambda:{region}:{account}:function:{fn.function_name}",
        version="$LATEST" if qualifier in (None, "$LATEST") or version == "$LATEST" else version,
        handler=fn.handler or "", runtime=fn.run_time or "", timeout=float(fn.timeout or 3), memory=int(fn.memory_size or 128),
        env=tuple(sorted((fn.environment_vars or {}).items())), code_sha=fn.code_sha_256 or "", role=fn.role or "", code=fn.code_bytes or b"",
    )
