"""botocore's service models, loaded once per process."""

from __future__ import annotations

import functools
import gzip
import json
import os
import threading

import botocore.session
from botocore.model import OperationModel, ServiceModel

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def service_model(name: str) -> ServiceModel:
    """The model botocore ships for ``name`` (``AWS_DATA_PATH`` adds more)."""
    with _lock:
        return _session().get_service_model(name)


@functools.lru_cache(maxsize=None)
def operations(name: str) -> dict[str, OperationModel]:
    """Operation models of a service by operation name."""
    model = service_model(name)
    return {op: model.operation_model(op) for op in model.operation_names}


def metadata(name: str) -> dict:
    """A service model's metadata, read without parsing the whole model.

    Registering a provider needs only its routing facts (protocol, target prefix, signing
    name); the full model is parsed when the first request for the service arrives. The
    metadata object is decoded straight out of the model file (``AWS_DATA_PATH`` first).
    """
    loader = _session().get_component("data_loader")
    version = loader.list_api_versions(name, "service-2")[-1]
    for root in loader.search_paths:
        for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
            path = os.path.join(root, name, version, "service-2" + suffix)
            if os.path.exists(path):
                with opener(path, "rt", encoding="utf-8") as handle:
                    text = handle.read()
                start = text.index("{", text.index('"metadata"'))
                return json.JSONDecoder().raw_decode(text, start)[0]
    raise LookupError(f"no service model for {name}")


def resolved_protocol(meta: dict) -> str:
    """The protocol botocore clients speak to this service (botocore's order of preference)."""
    from botocore.utils import PRIORITY_ORDERED_SUPPORTED_PROTOCOLS

    offered = meta.get("protocols") or [meta.get("protocol")]
    return next((p for p in PRIORITY_ORDERED_SUPPORTED_PROTOCOLS if p in offered), meta.get("protocol", ""))


def error_status(model: ServiceModel, code: str) -> int | None:
    """The HTTP status the model documents for an error code, if any."""
    for shape in _error_shapes(model):
        if shape.name == code or shape.metadata.get("error", {}).get("code") == code:
            return shape.metadata.get("error", {}).get("httpStatusCode")
    return None


@functools.lru_cache(maxsize=None)
def _error_shapes(model: ServiceModel) -> tuple:
    return tuple(model.error_shapes)
