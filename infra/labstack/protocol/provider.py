"""Providers: one class per service, one method per operation, driven by botocore's model.

A provider subclasses :class:`Provider`, sets ``service`` to botocore's service name
and defines a method per operation, named as boto3 names it (``create_project``)::

    def create_project(self, ctx: RequestContext, request: dict) -> dict: ...

The request arrives validated against the input shape, with timestamps as datetimes
and blobs as bytes; the returned dict is serialised through the output shape.
Errors are raised as :class:`labstack.errors.AwsError`.

An *overlay* provider (``overlay = True``) serves a service moto also serves: it answers
the operations it defines a method for, and moto answers the rest. Labstack's runtimes use
overlays to make moto's state real (a Lambda Invoke that runs the handler, say).

Where LocalStack is labstack's upstream (``--upstream``), requests for the services it serves
go there past every overlay, except an overlay with ``upstream_only = True``: registered only
in that mode, it answers its operations in front of the upstream.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, ClassVar

from botocore.model import ServiceModel

from labstack.errors import AwsError
from labstack.protocol import models

if TYPE_CHECKING:
    from labstack.instance import Labstack


class Provider:
    """Base class of labstack's own services and overlays."""

    service: ClassVar[str]
    overlay: ClassVar[bool] = False
    upstream_only: ClassVar[bool] = False

    def __init__(self, labstack: "Labstack") -> None:
        self.labstack = labstack

    @property
    def model(self) -> ServiceModel:
        return models.service_model(self.service)

    def invalid_input(self, operation: str, error: AwsError) -> AwsError:
        """The error to answer when a request cannot be parsed or breaks its input shape;
        a service whose AWS original names such errors itself (CodeCommit's
        ``InvalidRepositoryNameException``) overrides this."""
        return error

    def resource_counts(self) -> dict[str, int]:
        """Per account, how many resources this service holds (for ``labstack status``)."""
        return {}

    def activity_counts(self) -> dict[str, dict[str, int]]:
        """Per account, running work by kind (``builds``, ``deployments``…)."""
        return {}

    def endpoints(self) -> list[dict]:
        """Local URLs this provider serves besides the API (listeners…), for ``/_labstack/endpoints``."""
        return []


def load_provider(spec: str) -> type[Provider]:
    """Import ``module:Class`` (how ``LABSTACK_PROVIDERS`` names extra providers)."""
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise ValueError(f"provider {spec!r} must be written module:Class")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"{spec} is not a labstack Provider")
    return cls
